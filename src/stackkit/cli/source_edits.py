"""Editing a project's source files: adding imports (sorted by ruff, as the project's
own `ruff check` would), and writing a set of files all or none."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import click
from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]

from stackkit.cli.codegen import MAX_LINE, Imports

__all__ = ["add_imports", "format_source", "read_source", "restore", "sort_imports", "write_all"]


def add_imports(source: str, imports: Imports, *, first_party: str = "") -> str:
    """`source` with `from module import name` for each name it does not import yet.

    The new lines go after the module's leading block of imports, then ruff's import
    sorting (isort's rules: `__future__`, the standard library, third-party packages,
    then `first_party`, the project's package) merges and orders the block, as the
    project's own `ruff check` would.

    Raises:
        click.ClickException: the module has no imports, is not valid Python, or ruff
            cannot run.
    """
    try:
        block = _leading_imports(ast.parse(source))
    except SyntaxError as error:
        raise click.ClickException(f"line {error.lineno}: {error.msg}; fix it first") from None
    if not block:
        raise click.ClickException("the module has no imports to add to")
    appended = _append_imports(source, block, imports)
    # Only the leading block goes through ruff: the rest of the module (imports inside
    # functions included) stays exactly as the project wrote it.
    lines = appended.splitlines()
    grown = _leading_imports(ast.parse(appended))
    first, last = grown[0].lineno - 1, grown[-1].end_lineno or grown[-1].lineno
    ordered = sort_imports("\n".join(lines[first:last]) + "\n", first_party=first_party)
    return "\n".join([*lines[:first], *ordered.splitlines(), *lines[last:]]) + "\n"


def sort_imports(source: str, *, first_party: str = "") -> str:
    """`source` with its imports grouped, merged and sorted by ruff (isort's rules, the
    generated project's line length), whatever ruff configuration is around."""
    known = f"lint.isort.known-first-party = [{first_party!r}]" if first_party else ""
    return _ruff_on(
        source,
        "check", "--select", "I", "--fix", "--exit-zero", "--quiet",
        "--config", "src = []", *(["--config", known] if known else []),
        doing="sort the imports",
    )  # fmt: skip


def format_source(source: str) -> str:
    """`source` formatted by ruff, as the generated project's `ruff format` would (its
    line length), whatever ruff configuration is around.

    Raises:
        click.ClickException: ruff cannot run, or the source is not Python.
    """
    return _ruff_on(source, "format", doing="format the code")


def _ruff_on(source: str, command: str, *options: str, doing: str) -> str:
    """ruff's `command` run on `source` with the generated project's line length and
    none of the configuration around; its output.

    Raises:
        click.ClickException: ruff cannot run, or fails; the message says what it was
            `doing`.
    """
    arguments = [
        _ruff(), command, "--isolated", *options, "--line-length", str(MAX_LINE),
        "--target-version", "py311", "--stdin-filename", "generated.py", "-",
    ]  # fmt: skip
    # ruff, as installed with stackkit, on text stackkit wrote: no outside input runs.
    try:
        done = subprocess.run(  # noqa: S603
            arguments, input=source, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise click.ClickException(f"cannot {doing} with ruff: {error}") from None
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise click.ClickException(f"cannot {doing} with ruff: {why}")
    return done.stdout


def _ruff() -> str:
    try:
        return str(find_ruff_bin())
    except FileNotFoundError:
        raise click.ClickException(
            "ruff is not installed (stackkit needs it to sort imports): pip install ruff"
        ) from None


def _append_imports(source: str, block: list[ast.stmt], imports: Imports) -> str:
    """Add only the missing names, as lines after the import block."""
    present = {
        (node.module, alias.name)
        for node in block
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    additions = []
    for module in sorted(imports):
        missing = sorted(name for name in imports[module] if (module, name) not in present)
        if missing:
            additions.append(_from_import(module, missing))
    lines = source.splitlines()
    end = block[-1].end_lineno or block[-1].lineno
    return "\n".join([*lines[:end], *additions, *lines[end:]]) + "\n"


def _leading_imports(tree: ast.Module) -> list[ast.stmt]:
    body = list(tree.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    block: list[ast.stmt] = []
    for node in body:
        if not isinstance(node, ast.Import | ast.ImportFrom):
            break
        block.append(node)
    return block


def _from_import(module: str, names: list[str]) -> str:
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= MAX_LINE:
        return line
    return f"from {module} import (\n" + "".join(f"    {name},\n" for name in names) + ")"


def read_source(path: Path) -> str:
    """The text of a project's file; `click.ClickException` when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise click.ClickException(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise click.ClickException(f"{path} is not UTF-8 text") from None


def write_all(changed: dict[Path, str]) -> dict[Path, str | None]:
    """Write every file; return what each held before (None: did not exist)."""
    before: dict[Path, str | None] = {}
    try:
        for path, text in changed.items():
            before[path] = path.read_text(encoding="utf-8") if path.exists() else None
            path.parent.mkdir(parents=True, exist_ok=True)  # e2e/ in a project from before it
            path.write_text(text, encoding="utf-8")
    except OSError as error:
        restore(before)
        raise click.ClickException(f"cannot write {path}: {error.strerror}") from None
    return before


def restore(before: dict[Path, str | None]) -> None:
    for path, text in before.items():
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text, encoding="utf-8")
