"""stackkit: building blocks of a production web API, and a CLI that generates apps from them.

The names below load on first use (PEP 562), so that importing one layer
(`stackkit.db`, `stackkit.errors`) or the CLI does not load every other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackkit.__about__ import __version__
from stackkit.lazy import lazy_attributes

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

__getattr__ = lazy_attributes(__name__, _HOMES)
