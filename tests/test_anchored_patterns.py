"""Patterns that validate a whole value end in `\\Z`, not `$`: `$` also matches
before a final line break, so `"name\\n"` would pass for `"name"` (a request id, a
CORS origin, a field name written into generated code).

Two scans: the compiled patterns every module holds, and the constant patterns
written into `re.*(...)` calls anywhere in the source, inside functions too. Pydantic's
`pattern=` is left out: it runs on the Rust regex engine, where `$` is the very end.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

import stackkit
from stackkit.auth.schemas import Role
from stackkit.middleware.request_id import _ACCEPTABLE_ID


def _module_patterns() -> list[tuple[str, re.Pattern[str] | re.Pattern[bytes]]]:
    found = []
    for info in pkgutil.walk_packages(stackkit.__path__, "stackkit."):
        if ".templates." in info.name or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, re.Pattern):
                found.append((f"{info.name}.{name}", value))
    return found


def _ends_with_dollar(pattern: str | bytes) -> bool:
    text = pattern.decode("latin-1") if isinstance(pattern, bytes) else pattern
    return text.endswith("$") and not text.endswith(r"\$") and not text.endswith(r"\s*$")


_RE_CALLS = {"compile", "match", "fullmatch", "search"}


def _source_patterns() -> list[tuple[str, str | bytes]]:
    found = []
    for path in sorted(Path(stackkit.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "re"
                and node.func.attr in _RE_CALLS
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str | bytes)
            ):
                found.append((f"{path.name}:{node.lineno}", node.args[0].value))
    return found


def test_whole_value_patterns_end_in_backslash_z() -> None:
    offenders = [name for name, p in _module_patterns() if _ends_with_dollar(p.pattern)]
    assert offenders == []


def test_patterns_written_in_the_source_end_in_backslash_z() -> None:
    patterns = _source_patterns()
    assert len(patterns) > 10  # the scan finds them: there are a dozen and more
    assert [name for name, pattern in patterns if _ends_with_dollar(pattern)] == []


def test_a_role_with_a_line_break_is_refused() -> None:
    roles = TypeAdapter(Role)
    assert roles.validate_python("admin") == "admin"
    with pytest.raises(ValidationError):
        roles.validate_python("admin\n")


@pytest.mark.parametrize("value", [b"abc\n", b"abc\r\n", b"\nabc"])
def test_a_request_id_with_a_line_break_is_not_kept(value: bytes) -> None:
    assert _ACCEPTABLE_ID.match(b"abc")
    assert not _ACCEPTABLE_ID.match(value)
