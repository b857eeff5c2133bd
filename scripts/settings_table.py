"""The settings table of docs/app-core.md, written from `Settings`' field docstrings.

Each field gives a row: its environment variable, its default and its docstring,
so that the table cannot drift from the code (tests/test_docs_settings.py checks
that the page holds what this writes):

    python scripts/settings_table.py           # print the table
    python scripts/settings_table.py --write   # replace it in docs/app-core.md
"""

from __future__ import annotations

import argparse
import ast
import inspect
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from stackkit.settings import Settings, env_name

PAGE = Path(__file__).resolve().parents[1] / "docs" / "app-core.md"
START, END = "<!-- settings table: start -->", "<!-- settings table: end -->"


def docstrings() -> dict[str, str]:
    """Each field's docstring (the string right under it in the class body)."""
    body = ast.parse(inspect.getsource(Settings)).body[0]
    assert isinstance(body, ast.ClassDef)
    found = {}
    for node, after in zip(body.body, body.body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            found[node.target.id] = " ".join(after.value.value.split())
    return found


SHOWN_DEFAULTS = {"secret_key": "generated"}
"""Defaults the field's value does not tell (an empty key is replaced at load time)."""


def _default(field: str) -> str:
    if field in SHOWN_DEFAULTS:
        return SHOWN_DEFAULTS[field]
    info = Settings.model_fields[field]
    value: Any = info.get_default(call_default_factory=True)
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value in ("", None, []):
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def table() -> str:
    """The markdown table, one row per setting, in the class's order."""
    docs = docstrings()
    missing = sorted(set(Settings.model_fields) - set(docs))
    if missing:
        raise SystemExit(f"settings without a docstring: {missing}")
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for field in Settings.model_fields:
        meaning = docs[field].replace("|", "\\|")
        rows.append(f"| `{env_name(field)}` | {_default(field)} | {meaning} |")
    return "\n".join(rows)


def page_with_table(page: str) -> str:
    """`page` with the text between the markers replaced by the current table."""
    before, start, rest = page.partition(START)
    _, end, after = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"{PAGE} lacks the markers {START} ... {END}")
    return f"{before}{START}\n{table()}\n{END}{after}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the table in the page")
    if parser.parse_args().write:
        PAGE.write_text(page_with_table(PAGE.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(table())


if __name__ == "__main__":
    main()
