"""`find_project()`: the stackkit project a command runs in.

A project is a folder whose `pyproject.toml` has a `[tool.stackkit]` table:

    [tool.stackkit]
    package = "demo"                 # the app's Python package, under the root
    app = "demo.main:app"            # the ASGI app (default: "<package>.main:app")
    migrations = "migrations"        # Alembic's folder (default)

Commands look for it from the working directory upwards, and read the
project's `.env` for its settings (the environment wins over the file).
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import click

__all__ = ["Project", "ProjectError", "find_project"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_APP_REFERENCE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*\Z")


class ProjectError(click.ClickException):
    """Not in a project, or its `[tool.stackkit]` table is wrong: one line, exit 1."""


@dataclass(frozen=True)
class Project:
    root: Path
    package: str
    app: str
    """`module:attribute` of the ASGI app."""
    migrations: Path

    @property
    def env_file(self) -> Path:
        return self.root / ".env"

    @contextmanager
    def activated(self) -> Iterator[None]:
        """Run inside the project: its root importable and current, its `.env` read by
        the settings. Restores both afterwards (tests call commands in one process)."""
        previous = Path.cwd()
        sys.path.insert(0, str(self.root))
        os.chdir(self.root)
        try:
            yield
        finally:
            os.chdir(previous)
            with suppress(ValueError):
                sys.path.remove(str(self.root))


def find_project(start: Path | None = None) -> Project:
    """The project containing `start` (default: the working directory).

    Raises:
        ProjectError: no `pyproject.toml` with `[tool.stackkit]` here or above, or
            one whose values are not valid.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            table = _stackkit_table(candidate)
            if table is not None:
                return _project(folder, table, candidate)
    raise ProjectError(
        "not inside a stackkit project (no pyproject.toml with [tool.stackkit] here or "
        "above); create one with `stackkit new NAME`"
    )


def _stackkit_table(path: Path) -> dict[str, object] | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ProjectError(f"cannot read {path}: {error}") from None
    table = data.get("tool", {}).get("stackkit")
    return table if isinstance(table, dict) else None


def _project(root: Path, table: dict[str, object], path: Path) -> Project:
    package = table.get("package")
    if not isinstance(package, str) or not _IDENTIFIER.match(package):
        raise ProjectError(f"{path}: [tool.stackkit] package must name the app's package")
    app = table.get("app", f"{package}.main:app")
    if not isinstance(app, str) or not _APP_REFERENCE.match(app):
        raise ProjectError(f"{path}: [tool.stackkit] app must look like 'demo.main:app'")
    migrations = table.get("migrations", "migrations")
    if not isinstance(migrations, str):
        raise ProjectError(f"{path}: [tool.stackkit] migrations must be a folder name")
    return Project(root=root, package=package, app=app, migrations=root / migrations)
