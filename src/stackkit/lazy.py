"""Attributes that load on first use, so that importing one layer loads no other."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["submodule"]


def submodule(package: str, name: str) -> Any:
    """`package.name` imported, for a package's `__getattr__`: `stackkit.db` or
    `stackkit.http.resource` work as attributes once `stackkit` is imported, as they
    did when importing it loaded every layer.

    Raises:
        AttributeError: there is no such submodule.
    """
    if not name.startswith("__"):
        try:
            return importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{package}.{name}":
                raise  # the submodule exists, but something it imports does not
    raise AttributeError(f"module {package!r} has no attribute {name!r}")
