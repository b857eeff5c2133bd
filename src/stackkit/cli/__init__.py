"""The `stackkit` command line."""

from __future__ import annotations

from typing import Any

from stackkit.cli.main import cli, main
from stackkit.lazy import submodule

__all__ = ["cli", "main"]


def __getattr__(name: str) -> Any:
    """A submodule not imported yet (`stackkit.cli.<module>`), on first use."""
    return submodule(__name__, name)
