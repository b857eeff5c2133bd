"""The `stackkit` command line."""

from __future__ import annotations

from stackkit.cli.main import cli, main
from stackkit.lazy import lazy_attributes

__all__ = ["cli", "main"]


__getattr__ = lazy_attributes(__name__)  # a submodule, imported on first use
