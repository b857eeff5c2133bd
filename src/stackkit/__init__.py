"""stackkit: building blocks of a production web API, and a CLI that generates apps from them."""

from stackkit.__about__ import __version__
from stackkit.app import create_app
from stackkit.backends import Backend
from stackkit.http import Controller, ProblemError, ValidationProblem
from stackkit.settings import Settings, SettingsError, load_settings

__all__ = [
    "Backend",
    "Controller",
    "ProblemError",
    "Settings",
    "SettingsError",
    "ValidationProblem",
    "__version__",
    "create_app",
    "load_settings",
]
