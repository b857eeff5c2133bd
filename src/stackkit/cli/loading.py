"""Importing a project's app as `stackkit run` does, for every command that needs it.

A module of its own so that `check`, `run`, `generate` and the app commands can all
import it at module level: none of them imports another command's module for it.
"""

from __future__ import annotations

import importlib
import traceback
from pathlib import Path

import click
from starlette.applications import Starlette

from stackkit.cli.errors import one_line
from stackkit.cli.project import Project
from stackkit.settings import SettingsError

__all__ = ["load_app"]


def load_app(project: Project) -> Starlette:
    """The project's app, imported as `stackkit run` imports it; call it inside
    `project.activated()`.

    Raises:
        click.ClickException: the settings are invalid, the module does not import,
            or it does not define an app made by `stackkit.create_app`.
    """
    module_name, _, attribute = project.app.partition(":")
    try:
        module = importlib.import_module(module_name)
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    except Exception as error:  # the project's own code: whatever it raises stops here
        raise click.ClickException(
            f"cannot import {module_name}: {one_line(error, kind=True)}{_where(error, project)}"
        ) from None
    app = getattr(module, attribute, None)
    if app is None:
        raise click.ClickException(f"{module_name} defines no `{attribute}`")
    if not isinstance(app, Starlette) or not hasattr(app.state, "route_specs"):
        raise click.ClickException(f"{project.app} is not an app made by stackkit.create_app")
    return app


def _where(error: BaseException, project: Project) -> str:
    """` (demo/models.py:12)`: the innermost frame of the project's code, if any."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        path = Path(frame.filename)
        if path.is_relative_to(project.root):
            return f" ({path.relative_to(project.root)}:{frame.lineno})"
    return ""
