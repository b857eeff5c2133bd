"""`stackkit check`: can the project start? One line per check, exit 1 when one failed.

The checks, in order: the settings, `SECRET_KEY`, the app (it imports and is
made by `create_app`, as `stackkit run` needs), the database, Redis (when
`REDIS_URL` is set) and the migrations. A check that needs an earlier one is
skipped when that one failed: the migrations need the database, every check
needs valid settings. Nothing is written: a SQLite file that does not exist yet
is reported, not created. Up-to-date migrations warn when SQLite tables of the
app's models lack AUTOINCREMENT (made before ids were never reused).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import click
from alembic.util import CommandError
from pydantic_settings import DotEnvSettingsSource, EnvSettingsSource
from redis.exceptions import RedisError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from stackkit.cache.redis_store import RedisClusterStore, RedisStore
from stackkit.cache.store import StoreUnavailable
from stackkit.cli.errors import one_line
from stackkit.cli.loading import load_app
from stackkit.cli.project import Project, find_project
from stackkit.cli.settings import hide_password
from stackkit.db import Database, DatabaseUnavailable, Model
from stackkit.db.migrations import MigrationError, alembic_config, current, heads
from stackkit.settings import (
    Settings,
    SettingsError,
    env_file,
    load_settings,
    secret_key_weakness,
)

__all__ = ["CheckResult", "check_command", "run_checks"]

Status = Literal["ok", "warn", "FAIL", "skip"]
_STYLES: dict[Status, str] = {"ok": "green", "warn": "yellow", "FAIL": "bold red", "skip": "dim"}
_REDIS_TIMEOUT = 2.0
"""Seconds Redis has to connect and answer: longer than the app's, this is no request."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: `FAIL` makes `stackkit check` exit with status 1."""

    name: str
    status: Status
    detail: str


@click.command("check")
def check_command() -> None:
    """Check that the project can start: settings, SECRET_KEY, app, database, Redis, migrations.

    Prints one line per check and exits with status 1 when any failed. A warning
    (no SECRET_KEY in development, a SQLite file not created yet) does not fail.
    The settings refuse what `stackkit run` would refuse, so the two agree.
    Nothing is written (a missing SQLite file stays missing).
    """
    project = find_project()
    console = Console(highlight=False)
    failed = False
    with project.activated():
        for result in run_checks(project):
            style = _STYLES[result.status]
            console.print(
                f"[{style}]{result.status:<4}[/]  {result.name:<10}  {escape(result.detail)}",
                soft_wrap=True,  # one line per check, however long
            )
            failed = failed or result.status == "FAIL"
    if failed:
        click.get_current_context().exit(1)


def run_checks(project: Project) -> Iterator[CheckResult]:
    """Run the checks inside the (activated) project, yielding each result as it comes."""
    settings, problems = _load_settings()
    if settings is None:
        secret = [message for name, message in problems if name == "SECRET_KEY"]
        others = [f"{name}: {message}" for name, message in problems if name != "SECRET_KEY"]
        yield CheckResult("settings", "FAIL", "; ".join(others) or "SECRET_KEY is not valid")
        if secret:
            yield CheckResult("SECRET_KEY", "FAIL", "; ".join(secret))
        else:
            yield CheckResult("SECRET_KEY", "skip", "the settings are not valid")
        for name in ("app", "database", "redis", "migrations"):
            yield CheckResult(name, "skip", "the settings are not valid")
        return
    yield CheckResult("settings", "ok", f"valid ({settings.env})")
    yield _secret_key(settings)
    yield _app(project)
    database = _database(settings)
    yield database
    yield _redis(settings)
    if database.status == "FAIL":
        yield CheckResult("migrations", "skip", "the database is not reachable")
    elif database.status == "warn":  # no SQLite file yet: every migration is pending
        yield CheckResult(
            "migrations",
            "FAIL",
            "pending: the database does not exist yet; run `stackkit db upgrade`",
        )
    else:
        yield _ids_never_reused(_migrations(project, settings), settings)


def _load_settings() -> tuple[Settings | None, list[tuple[str, str]]]:
    """The settings, or None and each problem as (setting, message)."""
    # The SECRET_KEY check says it itself when the key is missing, and says why.
    logger = logging.getLogger("stackkit.settings")
    disabled, logger.disabled = logger.disabled, True
    try:
        return load_settings(), []
    except SettingsError as error:
        return None, error.problems
    finally:
        logger.disabled = disabled


def _secret_key(settings: Settings) -> CheckResult:
    # The settings loaded: `secret_key_refusal` (theirs) found nothing to refuse.
    if settings.is_production:
        return CheckResult("SECRET_KEY", "ok", "set and strong")
    key = _given_secret_key()
    if not key:
        return CheckResult(
            "SECRET_KEY",
            "warn",
            "not set: a random key per process, so tokens do not survive a restart "
            "(required in production)",
        )
    weakness = secret_key_weakness(key)
    if weakness:
        return CheckResult("SECRET_KEY", "warn", f"too weak for production: {weakness}")
    return CheckResult("SECRET_KEY", "ok", "set and strong")


def _given_secret_key() -> str:
    """SECRET_KEY as given (the environment, else `.env` or `STACKKIT_ENV_FILE`'s file):
    outside production, the settings replace an empty one with a random key."""
    for source in (EnvSettingsSource(Settings), DotEnvSettingsSource(Settings, env_file())):
        value = source().get("SECRET_KEY")
        if value is not None:
            return str(value)
    return ""


def _database(settings: Settings) -> CheckResult:
    where = hide_password(settings.database_url)
    missing = _missing_sqlite_file(settings.database_url)
    if missing is not None:
        return CheckResult(
            "database",
            "warn",
            f"{where}: {missing} does not exist yet (`stackkit db upgrade` or `stackkit run` "
            "creates it)",
        )
    try:
        asyncio.run(_ping_database(settings))
    except (SQLAlchemyError, DatabaseUnavailable, OSError, ValueError) as error:
        return CheckResult("database", "FAIL", f"{where}: {one_line(error)}")
    return CheckResult("database", "ok", where)


def _missing_sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names when it does not exist (connecting would create it)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None  # the connection attempt says what is wrong with it
    name = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or name in ("", ":memory:"):
        return None
    if name.startswith("file:") or parsed.query.get("uri") == "true":
        return None  # a URI filename: its mode says whether it may create
    path = Path(name)
    return None if path.exists() else path


async def _ping_database(settings: Settings) -> None:
    database = Database(
        settings.database_url,
        connect_timeout=settings.database_connect_timeout,
        statement_timeout=settings.database_statement_timeout,
        pool_size=1,
    )
    async with database:
        await database.check()


def _redis(settings: Settings) -> CheckResult:
    if not settings.redis_url:
        return CheckResult("redis", "skip", "REDIS_URL is not set")
    where = hide_password(settings.redis_url)
    try:
        asyncio.run(_ping_redis(settings))
    except (StoreUnavailable, RedisError, OSError, ValueError) as error:
        return CheckResult("redis", "FAIL", f"{where}: {one_line(error)}")
    return CheckResult("redis", "ok", where)


async def _ping_redis(settings: Settings) -> None:
    kind = RedisClusterStore if settings.redis_cluster else RedisStore
    store = kind(settings.redis_url, timeout=max(_REDIS_TIMEOUT, settings.redis_timeout))
    await store.open()
    try:
        await store.check()
    finally:
        await store.close()


def _app(project: Project) -> CheckResult:
    """The app imports, and is one `create_app` made (as `stackkit run` needs)."""
    try:
        load_app(project)
    except click.ClickException as error:
        return CheckResult("app", "FAIL", error.message)
    return CheckResult("app", "ok", project.app)


def _ids_never_reused(migrations: CheckResult, settings: Settings) -> CheckResult:
    """A warning on up-to-date migrations when SQLite tables of the app's models were made
    without AUTOINCREMENT (projects generated before): they hand out a deleted row's id
    again, to a new account for one."""
    if migrations.status != "ok":
        return migrations
    tables = _tables_that_reuse_ids(settings.database_url)
    if not tables:
        return migrations
    listed = ", ".join(tables)
    return CheckResult(
        "migrations",
        "warn",
        f"{migrations.detail}; {listed} hand out the id of a deleted row again: add a "
        f'migration calling never_reuse_ids("{tables[0]}", ...) (docs: data-layer, '
        '"Ids are never reused")',
    )


def _tables_that_reuse_ids(url: str) -> list[str]:
    """The app's `Model` tables in a SQLite database that lack AUTOINCREMENT."""
    parsed = make_url(url)
    path = parsed.database or ""
    if (
        parsed.get_backend_name() != "sqlite"
        or path in ("", ":memory:")
        or path.startswith("file:")
    ):
        return []
    # The "app" check imported the app: its models are in Model.metadata.
    try:
        with closing(sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.Error:
        return []
    return sorted(
        name
        for name, sql in rows
        if name in Model.metadata.tables and "AUTOINCREMENT" not in (sql or "").upper()
    )


def _migrations(project: Project, settings: Settings) -> CheckResult:
    folder = project.migrations
    if not (folder / "env.py").is_file():
        shown = folder.relative_to(project.root) if folder.is_relative_to(project.root) else folder
        return CheckResult("migrations", "FAIL", f"no migrations folder at {shown}")
    config = alembic_config(folder, settings.database_url)
    try:
        applied, latest = current(config), heads(config)
    except (MigrationError, CommandError, SQLAlchemyError, OSError, ImportError) as error:
        return CheckResult("migrations", "FAIL", one_line(error))
    except Exception as error:  # the project's models raised
        return CheckResult("migrations", "FAIL", f"{type(error).__name__}: {error}")
    if set(applied) == set(latest):
        return CheckResult("migrations", "ok", f"at {', '.join(latest) or 'base (no revisions)'}")
    at = ", ".join(applied) or "base (no revision applied)"
    return CheckResult(
        "migrations",
        "FAIL",
        f"pending: the database is at {at}, the latest is {', '.join(latest) or 'base'}; "
        "run `stackkit db upgrade`",
    )
