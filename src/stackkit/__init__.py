"""stackkit: building blocks of a production web API, and a CLI that generates apps from them.

The names below load on first use (PEP 562), so that importing one layer
(`stackkit.db`, `stackkit.errors`) or the CLI does not load every other.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from stackkit.__about__ import __version__
from stackkit.lazy import submodule

if TYPE_CHECKING:
    from stackkit.app import create_app
    from stackkit.backends import Backend
    from stackkit.errors import ProblemError, ValidationProblem
    from stackkit.http import Controller
    from stackkit.resources import Resource
    from stackkit.settings import Settings, SettingsError, load_settings

__all__ = [
    "Backend",
    "Controller",
    "ProblemError",
    "Resource",
    "Settings",
    "SettingsError",
    "ValidationProblem",
    "__version__",
    "create_app",
    "load_settings",
]

_HOMES = {
    "Backend": "stackkit.backends",
    "Controller": "stackkit.http",
    "ProblemError": "stackkit.errors",
    "Resource": "stackkit.resources",
    "Settings": "stackkit.settings",
    "SettingsError": "stackkit.settings",
    "ValidationProblem": "stackkit.errors",
    "create_app": "stackkit.app",
    "load_settings": "stackkit.settings",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
        globals()[name] = value  # the next look-up is a plain attribute
        return value
    return submodule(__name__, name)
