"""`stackkit db`: migrate, seed, back up and restore the project's database.

Every command runs in the project (the folder of its `pyproject.toml`, whose
`.env` gives `DATABASE_URL`) and reports what stops it in one line with a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import click
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from stackkit.app import default_cache_store
from stackkit.cache import RedisStore, StoreUnavailable
from stackkit.cli import backup as backups
from stackkit.cli.errors import one_line
from stackkit.cli.project import Project, find_project
from stackkit.cli.settings import hide_password
from stackkit.db import Database, DatabaseUnavailable, migrations
from stackkit.settings import Settings, SettingsError, load_settings

__all__ = ["db_group"]

_CREATE_DATE = re.compile(r"^Create Date: (?P<date>\S+ \d\d:\d\d)", re.MULTILINE)


@click.group("db")
def db_group() -> None:
    """Migrate, seed, back up and restore the project's database (DATABASE_URL)."""


# `downgrade -1` names a revision, as with Alembic: not an option.
_RELATIVE_REVISIONS = {"ignore_unknown_options": True}


@db_group.command("upgrade", context_settings=_RELATIVE_REVISIONS)
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> None:
    """Apply the migrations up to REVISION: `head` (the latest, the default), an id, or `+1`."""
    with _in_project() as (project, settings):
        config = _migrations(project, settings)
        migrations.upgrade(config, revision)
        click.echo(f"Database at {_revisions(config, migrations.current(config))}")


@db_group.command("downgrade", context_settings=_RELATIVE_REVISIONS)
@click.argument("revision", default="-1")
def downgrade_command(revision: str) -> None:
    """Undo migrations down to REVISION: `-1` (one step, the default), an id, or `base`."""
    with _in_project() as (project, settings):
        config = _migrations(project, settings)
        if revision.startswith("-") and not migrations.current(config):
            raise click.ClickException("nothing to downgrade: no revision is applied")
        migrations.downgrade(config, revision)
        click.echo(f"Database at {_revisions(config, migrations.current(config))}")


@db_group.command("revision")
@click.option("-m", "--message", required=True, help="What the revision does, in a few words.")
@click.option(
    "--autogenerate/--empty",
    default=True,
    show_default=True,
    help="Write the difference between the models and the database, or an empty script.",
)
def revision_command(message: str, autogenerate: bool) -> None:
    """Write a new revision script and print its path.

    With --autogenerate (the default) the database must be at the latest
    revision; when the models match it, no script is written. Read the script
    before applying it.
    """
    with _in_project() as (project, settings):
        config = _migrations(project, settings)
        path = migrations.revision(config, message, autogenerate=autogenerate)
        if path is None:
            click.echo("No changes: the models match the database; no revision written.")
        else:
            click.echo(_shown_path(path, project.root))


@db_group.command("current")
def current_command() -> None:
    """Print the revision the database is at."""
    with _in_project() as (project, settings):
        config = _migrations(project, settings)
        click.echo(_revisions(config, migrations.current(config)))


@db_group.command("history")
def history_command() -> None:
    """List the revisions, newest first, marking the one the database is at."""
    with _in_project() as (project, settings):
        config = _migrations(project, settings)
        applied = set(migrations.current(config))
        table = Table(box=box.SIMPLE_HEAD, show_edge=False)
        for column in ("Revision", "Parent", "Created", "Message", ""):
            table.add_column(column, no_wrap=column != "Message")
        for script in ScriptDirectory.from_config(config).walk_revisions():
            parent = script.down_revision
            parents = [parent] if isinstance(parent, str) else list(parent or ["base"])
            created = _CREATE_DATE.search(script.longdoc or "")
            is_current = script.revision in applied
            marks = ["head"] * script.is_head + ["current"] * is_current
            table.add_row(
                script.revision,
                ", ".join(parents),
                created["date"] if created else "",
                script.doc,
                ", ".join(marks),
                style="bold green" if is_current else None,
            )
        if not table.rows:
            click.echo("No revisions yet: write one with `stackkit db revision -m MESSAGE`.")
            return
        Console(highlight=False).print(table)


@db_group.command("seed")
def seed_command() -> None:
    """Add the data a new install needs, by running the project's `<package>/seed.py`.

    The module defines `async def seed(db: Database) -> None`, called with the
    app's database opened; or else `def main() -> None`, called as is.
    """
    with _in_project() as (project, settings):
        module = _seed_module(project.package)
        function = getattr(module, "seed", None)
        if callable(function):
            asyncio.run(_seed(function, settings))
        elif callable(main := getattr(module, "main", None)):
            asyncio.run(_awaited(main()))
        else:
            raise click.ClickException(
                f"{module.__name__} defines neither `async def seed(db)` nor `def main()`"
            )
        click.echo(f"Seeded the database with {module.__name__}")


@db_group.command("backup")
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of the backups  [default: backups, in the project]",
)
@click.option("--keep", type=click.IntRange(min=1), help="Delete the oldest backups beyond N.")
def backup_command(output_dir: Path | None, keep: int | None) -> None:
    """Back up the database to a file, and print its path.

    PostgreSQL: `pg_dump --format=custom` to `<dbname>-YYYYmmdd-HHMMSS.dump`.
    SQLite: a consistent copy, taken while the app runs, to `<name>-YYYYmmdd-HHMMSS.sqlite3`.
    """
    folder = output_dir.resolve() if output_dir else None  # from where the user is
    with _in_project() as (project, settings):
        written = backups.backup(
            settings.database_url,
            folder or project.root / "backups",
            connect_timeout=settings.database_connect_timeout,
        )
        click.echo(_shown_path(written, project.root))
        for old in backups.prune(written, keep) if keep else []:
            click.echo(f"Deleted {_shown_path(old, project.root)}")


@db_group.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--keep-store",
    is_flag=True,
    help="Leave Redis alone: cached answers from before stay until they expire, "
    "and sessions stay signed in.",
)
def restore_command(file: Path, yes: bool, keep_store: bool) -> None:
    """Replace the database's data with the backup FILE (asks first unless --yes).

    Then everything the app keeps in Redis (REDIS_URL) is deleted: cached answers,
    which show the data from before, and sessions, so everyone signs in again.
    Without Redis, the running app keeps them in its own memory: restart it.

    The revision the backup was at comes back with it: run `stackkit db upgrade`
    after restoring an older backup.
    """
    file = file.resolve()  # from where the user is
    with _in_project() as (project, settings):
        target = backups.database_label(settings.database_url)
        if not file.is_file():
            raise backups.BackupError(f"no backup file at {file}")
        if not yes:
            click.confirm(f"Replace all the data of {target} with {file.name}?", abort=True)
        backups.restore(
            settings.database_url, file, connect_timeout=settings.database_connect_timeout
        )
        click.echo(f"Restored {target} from {_shown_path(file, project.root)}")
        _forget_the_data_before(settings, keep_store=keep_store)


def _forget_the_data_before(settings: Settings, *, keep_store: bool) -> None:
    """Drop what the app remembers of the data before a restore, or say loudly what
    still shows it."""
    if not settings.redis_url:
        click.secho(
            "Restart the running app now: it keeps cached answers and sessions in its own "
            "memory, and they show the data from before the restore.",
            fg="yellow",
            err=True,
        )
        return
    if keep_store:
        click.secho(
            "Redis left as it was (--keep-store): cached answers from before the restore "
            "are served until they expire (STACKKIT_CACHE_TTL), and sessions stay signed in.",
            fg="yellow",
            err=True,
        )
        return
    store = default_cache_store(settings)
    assert isinstance(store, RedisStore)

    async def clear() -> int:
        await store.open()
        try:
            return await store.clear()
        finally:
            await store.close()

    try:
        deleted = asyncio.run(clear())
    except (StoreUnavailable, ValueError) as error:
        raise click.ClickException(
            f"restored, but the app's keys in Redis were not deleted ({one_line(error)}): "
            "cached answers and sessions from before the restore remain; run the restore "
            "again once Redis answers"
        ) from None
    click.echo(
        f"Deleted the app's {deleted} keys in Redis: no cached answer from before the "
        "restore is served, and everyone signs in again."
    )


@contextmanager
def _in_project() -> Iterator[tuple[Project, Settings]]:
    """Run inside the project with its settings, turning what stops a command into
    a one-line `click.ClickException`."""
    project = find_project()
    with project.activated():
        settings = _load_settings()
        try:
            yield project, settings
        except (migrations.MigrationError, CommandError, OSError, sqlite3.Error) as error:
            raise click.ClickException(one_line(error)) from None
        except DatabaseUnavailable as error:
            raise click.ClickException(
                _database_error(settings, error.__cause__ or error)
            ) from None
        except SQLAlchemyError as error:
            raise click.ClickException(_database_error(settings, error)) from None
        except (click.ClickException, click.Abort):
            raise
        except Exception as error:  # the project's models or migrations raised
            raise click.ClickException(
                f"the project's code failed: {one_line(error, kind=True)}"
            ) from None


def _load_settings() -> Settings:
    # The db commands sign nothing: the warning about a missing SECRET_KEY is noise here.
    logger = logging.getLogger("stackkit.settings")
    disabled, logger.disabled = logger.disabled, True
    try:
        return load_settings()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    finally:
        logger.disabled = disabled


def _migrations(project: Project, settings: Settings) -> Config:
    if not (project.migrations / "env.py").is_file():
        raise click.ClickException(
            f"no migrations folder at {_shown_path(project.migrations, project.root)} "
            "(create it with stackkit.db.migrations.init_migrations)"
        )
    config = migrations.alembic_config(project.migrations, url=settings.database_url)
    # Alembic's "Generating ... done" would come before the path `revision` prints.
    config.cmd_opts = argparse.Namespace(quiet=True, x=[])
    return config


def _revisions(config: Config, revisions: tuple[str, ...]) -> str:
    if not revisions:
        return "base (no revision applied)"
    latest = set(migrations.heads(config))
    return ", ".join(f"{rev} (head)" if rev in latest else rev for rev in revisions)


def _seed_module(package: str) -> ModuleType:
    name = f"{package}.seed"
    try:
        return importlib.import_module(name)
    except ImportError as error:
        if isinstance(error, ModuleNotFoundError) and error.name in (package, name):
            raise click.ClickException(
                f"no seed module: create {package}/seed.py with "
                "`async def seed(db: Database) -> None`"
            ) from None
        raise click.ClickException(f"cannot import {name}: {error}") from None


async def _seed(function: Any, settings: Settings) -> None:
    database = Database(
        settings.database_url,
        connect_timeout=settings.database_connect_timeout,
        statement_timeout=settings.database_statement_timeout,
        pool_size=settings.database_pool_size,
        cursor_secret=settings.secret_key.get_secret_value(),
    )
    async with database:
        await _awaited(function(database))


async def _awaited(result: Any) -> None:
    if inspect.isawaitable(result):
        await result


def _database_error(settings: Settings, error: BaseException) -> str:
    return f"database error on {hide_password(settings.database_url)}: {one_line(error)}"


def _shown_path(path: Path, root: Path) -> str:
    """`path` relative to the project when it is inside it (the working directory there)."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
