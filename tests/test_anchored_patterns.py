"""Patterns that validate a whole value end in `\\Z`, not `$`: `$` also matches
before a final line break, so `"name\\n"` would pass for `"name"` (a request id, a
CORS origin, a field name written into generated code)."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import stackkit
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


def test_whole_value_patterns_end_in_backslash_z() -> None:
    offenders = [name for name, p in _module_patterns() if _ends_with_dollar(p.pattern)]
    assert offenders == []


@pytest.mark.parametrize("value", [b"abc\n", b"abc\r\n", b"\nabc"])
def test_a_request_id_with_a_line_break_is_not_kept(value: bytes) -> None:
    assert _ACCEPTABLE_ID.match(b"abc")
    assert not _ACCEPTABLE_ID.match(value)
