"""Attributes that load on first use, so that importing one layer loads no other."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, homes: Mapping[str, str] | None = None) -> Callable[[str], Any]:
    """A module `__getattr__` (PEP 562) for `package`: a name of `homes` is taken from
    the module it names, imported then; any other name is a submodule, imported then
    (`stackkit.db` or `stackkit.http.resource` work as attributes once `stackkit` is
    imported, as they did when importing it loaded every layer).

    The function raises AttributeError for a name that is neither.
    """

    homes = dict(homes or {})

    def __getattr__(name: str) -> Any:
        if name in homes:
            return getattr(importlib.import_module(homes[name]), name)
        if not name.startswith("__"):
            try:
                return importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as error:
                if error.name != f"{package}.{name}":
                    raise  # the submodule exists, but something it imports does not
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
