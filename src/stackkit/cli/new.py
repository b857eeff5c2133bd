"""`stackkit new NAME`: write a new project from the template in `stackkit/templates/project`.

The project is a Python package in layers (models, repositories, services,
schemas, controllers), `main.py` calling `create_app`, Alembic migrations with
the users table, tests that pass as written, a `.env` with a fresh `SECRET_KEY`,
and `deploy/` files. What it does lives in stackkit, so that upgrading stackkit
upgrades the app.
"""

from __future__ import annotations

import keyword
import os
import re
import secrets
import shlex
import shutil
import sys
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import click
from jinja2 import TemplateError
from rich.console import Console
from rich.markup import escape

from stackkit.__about__ import __version__
from stackkit.cli.record import ProjectRecord, snapshot, write_base
from stackkit.cli.render import render_tree
from stackkit.db.migrations import MigrationError, init_migrations

__all__ = ["TEMPLATE", "check_name", "create_project", "new_command"]

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*\Z")
_MAX_NAME_LENGTH = 40
# Packages a project imports, or that its layout already uses: a project of that name
# would shadow them.
_TAKEN = frozenset(
    {"stackkit", "starlette", "sqlalchemy", "alembic", "pydantic", "redis", "jwt", "uvicorn",
     "click", "jinja2", "rich", "argon2", "psycopg", "aiosqlite", "pytest", "httpx",
     "tests", "migrations", "deploy", "frontend", "app"}
)  # fmt: skip
TEMPLATE = files("stackkit") / "templates" / "project"
"""The project template of the installed stackkit."""
_DATABASES = {
    "sqlite": ("sqlite:///./{package}.db", "a SQLite file"),
    "postgres": ("postgresql://postgres@127.0.0.1:5432/{package}", "PostgreSQL"),
}


def check_name(name: str) -> str:
    """The Python package name for project `name`.

    Raises:
        click.BadParameter: a name that is not a lower-case identifier (dashes
            allowed), or that would shadow a module the project needs.
    """
    if len(name) > _MAX_NAME_LENGTH or not _NAME.match(name):
        raise click.BadParameter(
            f"{name!r}: use lower-case letters, digits, '-' or '_', starting with a letter "
            f"(at most {_MAX_NAME_LENGTH} characters)",
            param_hint="NAME",
        )
    package = name.replace("-", "_")
    if keyword.iskeyword(package) or package in sys.stdlib_module_names or package in _TAKEN:
        raise click.BadParameter(
            f"{name!r} would shadow the Python module {package!r}; choose another name",
            param_hint="NAME",
        )
    return package


def create_project(
    target: Path, name: str, *, database: str = "sqlite", template: Traversable | None = None
) -> list[Path]:
    """Write the project `name` into `target` (which must not exist, or be empty);
    return the files written. Nothing is left behind when it fails. `template` is the
    template folder (default: the installed stackkit's); tests pass an older one.

    Raises:
        click.ClickException: the target is not empty, or writing failed.
    """
    package = check_name(name)
    if database not in _DATABASES:
        raise click.ClickException(
            f"unknown database {database!r}: use one of {sorted(_DATABASES)}"
        )
    try:
        # A folder that holds only a fresh `git init` counts as empty.
        occupied = target.exists() and (
            not target.is_dir() or any(item.name != ".git" for item in target.iterdir())
        )
    except OSError as error:
        raise click.ClickException(f"cannot use {target}: {error.strerror}") from None
    if occupied:
        raise click.ClickException(f"{target} already exists and is not empty")
    url, label = _DATABASES[database]
    context = {
        "name": name,
        "package": package,
        "title": name.replace("-", " ").replace("_", " ").title(),
        "secret_key": secrets.token_urlsafe(48),
        "database_url": url.format(package=package),
        "db_label": label,
        "stackkit_version": __version__,
    }
    created = not target.exists()
    written: list[Path] = []
    try:
        target.mkdir(parents=True, exist_ok=True)
        init_migrations(target / "migrations", metadata=f"{package}.models:Model.metadata")
        for relative, content in render_tree(template or TEMPLATE, context):
            path = target.joinpath(*relative.parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            # .env holds the secret key: readable by its owner only, from the start.
            mode = 0o600 if relative.name == ".env" else 0o644
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(descriptor, "wb") as file:
                file.write(content)
            written.append(path)
        # What `stackkit upgrade` needs: the answers, and the files as written.
        ProjectRecord(stackkit_version=__version__, name=name, database=database).save(target)
        write_base(target, snapshot(target))
    except (OSError, TemplateError, MigrationError) as error:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        else:
            for item in target.iterdir():
                shutil.rmtree(item) if item.is_dir() else item.unlink()
        raise click.ClickException(f"could not write the project: {error}") from None
    return written


@click.command("new")
@click.argument("name")
@click.option(
    "--db",
    "database",
    type=click.Choice(sorted(_DATABASES)),
    default="sqlite",
    show_default=True,
    help="The database the project's .env names.",
)
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the project (default: ./NAME).",
)
def new_command(name: str, database: str, directory: Path | None) -> None:
    """Create a new project NAME: API, database, migrations, tests, deployment files."""
    target = (directory or Path.cwd() / name).resolve()
    written = create_project(target, name, database=database)
    console = Console(highlight=False)
    console.print(f"[green]Created[/green] {target} ({len(written)} files).")
    next_step = f"cd {shlex.quote(_shown(target))} && {stackkit_command(target)} run"
    console.print(f"Next: [bold]{escape(next_step)}[/bold]", soft_wrap=True)


def stackkit_command(where: Path) -> str:
    """How a shell in the folder `where` runs the stackkit that is running now:
    `stackkit` when the shell finds this one on its PATH, else its path (relative
    when that is short: `../.venv/bin/stackkit`), so that a `Next:` line can be
    pasted as it is, in an environment that was not activated."""
    script = Path(sys.argv[0])
    if script.name == "__main__.py" and script.parent.name == "stackkit":  # python -m stackkit
        return f"{_path_from(Path(sys.executable).absolute(), where)} -m stackkit"
    if script.name != "stackkit" or not script.is_file():
        return "stackkit"  # called from Python (a test, a script): no command line to repeat
    found = shutil.which("stackkit")
    if found and Path(found).resolve() == script.resolve():
        return "stackkit"
    return _path_from(script.absolute(), where)


def _path_from(path: Path, where: Path) -> str:
    relative = os.path.relpath(path, where)
    short = relative.split(os.sep).count("..") <= 2
    return shlex.quote(relative if short else str(path))


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
