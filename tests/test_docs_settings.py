"""The settings table of docs/app-core.md is the one `Settings`' docstrings give."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "settings_table.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("settings_table", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_settings_table_is_written_from_the_docstrings() -> None:
    script = _script()
    page = script.PAGE.read_text(encoding="utf-8")
    assert page == script.page_with_table(page), (
        "docs/app-core.md's settings table is stale: python scripts/settings_table.py --write"
    )


def test_every_setting_has_a_row() -> None:
    from stackkit.settings import Settings, env_name

    table = _script().table()
    for field in Settings.model_fields:
        assert f"| `{env_name(field)}` |" in table
