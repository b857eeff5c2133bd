"""`run_migrations()`: the whole of an app's `migrations/env.py`.

    # migrations/env.py
    from stackkit.db.migrations import run_migrations

    from demo.models import Model

    run_migrations(Model.metadata)

Alembic runs `env.py` for every command; `run_migrations` then does what the
long env.py of Alembic's async template does, with stackkit's choices: the
async drivers, batch mode on SQLite, type comparison, custom types rendered so
that revision scripts import nothing from the app, and no empty revisions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from logging.config import fileConfig
from typing import TYPE_CHECKING, Any, Literal

from alembic import context
from alembic.autogenerate.render import _repr_type
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator, TypeEngine

from stackkit.db.search import is_search_table

# Also for autogenerate: it compares each model's `__search__` with the database.
from stackkit.db.search_migrations import restore_search_triggers, search_ops_last
from stackkit.settings import load_settings, normalize_database_url

if TYPE_CHECKING:
    from alembic.autogenerate.api import AutogenContext
    from alembic.config import Config
    from alembic.operations.ops import MigrationScript
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.engine import Connection

__all__ = [
    "TABLES_MANAGED_ELSEWHERE",
    "MigrationError",
    "database_url_for",
    "include_name",
    "render_item",
    "run_migrations",
    "script_is_empty",
]


class MigrationError(RuntimeError):
    """A migration command cannot run as asked; the message says why and what to do."""


def run_migrations(
    metadata: MetaData | Sequence[MetaData],
    *,
    url: str | None = None,
    render_as_batch: bool | None = None,
    compare_server_default: bool = True,
    **options: Any,
) -> None:
    """Run the current Alembic command against the database; call it from `env.py`.

    Offline (`--sql`), the SQL is written out with literal values and no
    connection. Online, an async engine (psycopg 3 or aiosqlite) runs the
    migrations in one transaction where the database allows it.

    Args:
        metadata: the app's tables (`Model.metadata`), compared by autogenerate.
        url: the database; else the Alembic config's `sqlalchemy.url`, else
            `DATABASE_URL` (`load_settings().database_url`). Plain `postgresql://`
            and `sqlite:///` URLs are mapped to the async drivers.
        render_as_batch: emit `batch_alter_table` blocks, which SQLite needs to
            alter or drop a column; by default on for SQLite only.
        compare_server_default: let autogenerate detect changed server defaults.
        **options: passed on to `alembic.context.configure`, overriding the above
            (`include_object`, `transaction_per_migration`, ...).

    Raises:
        MigrationError: the URL is not a supported database, or an online command
            was started from a running event loop.
    """
    config = context.config
    if config.config_file_name is not None and config.file_config.has_section("loggers"):
        # Keep the app's loggers alive: fileConfig() disables existing ones by default.
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    database_url = database_url_for(config, url)
    settings: dict[str, Any] = {
        "target_metadata": metadata,
        "render_as_batch": (
            database_url.startswith("sqlite") if render_as_batch is None else render_as_batch
        ),
        "compare_type": True,
        "compare_server_default": compare_server_default,
        "render_item": render_item,
        "process_revision_directives": _skip_empty_autogenerate,
        "include_name": include_name,
        **options,
    }
    if context.is_offline_mode():
        context.configure(
            url=database_url,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            **settings,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_run_online(database_url, settings))
    else:
        raise MigrationError(
            "migration commands run their own event loop: call them from synchronous code, "
            "or from async code through `await asyncio.to_thread(upgrade, config)`"
        )


def database_url_for(config: Config, url: str | None = None) -> str:
    """The async SQLAlchemy URL migrations use: `url`, else the config's
    `sqlalchemy.url`, else the app's `DATABASE_URL` setting.

    Raises:
        MigrationError: the URL is not a PostgreSQL or SQLite URL.
        SettingsError: no URL was given and the app's settings are invalid.
    """
    chosen = url or config.get_main_option("sqlalchemy.url") or load_settings().database_url
    try:
        return normalize_database_url(chosen)
    except ValueError as error:
        raise MigrationError(f"database URL for migrations {error}") from None


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render custom column types in revision scripts without the app's imports.

    A `TypeDecorator` that has the same DDL on every database (such as
    `UTCDateTime`) is written as its `impl` (`sa.DateTime(timezone=True)`): it
    changes only what Python sends and receives, which a revision script never
    needs, and a script that imports nothing from the app keeps working when the
    app's code moves on. Any other type from outside SQLAlchemy is written with
    its module's import added to the script.
    """
    if type_ != "type" or not isinstance(obj, TypeEngine):
        return False
    module = type(obj).__module__
    if module == "sqlalchemy" or module.startswith("sqlalchemy."):
        return False
    if isinstance(obj, TypeDecorator) and _same_ddl_everywhere(obj):
        # Alembic's own renderer, so that impls needing imports (dialect types,
        # ARRAY, Enum) come out right.
        return _repr_type(obj.impl_instance, autogen_context)
    if autogen_context.imports is not None:
        autogen_context.imports.add(f"import {module}")
    return False  # Alembic then writes `module.Type(...)`


def _same_ddl_everywhere(decorator: TypeDecorator[Any]) -> bool:
    return type(decorator).load_dialect_impl is TypeDecorator.load_dialect_impl


TABLES_MANAGED_ELSEWHERE = ("procrastinate_", "stackkit_")
"""Prefixes of tables the app's models do not declare: the job queue's
(`stackkit.jobs.schema`) and the auth building block's (`stackkit.auth.tables`),
created by revisions of their own."""


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Autogenerate's filter: leave the tables managed elsewhere alone (it would
    otherwise offer to drop them, as tables no model declares), and SQLite's full-text
    search tables (`stackkit.db.search`)."""
    if name is None:
        return True
    if type_ == "index":
        return not is_search_table(name)
    if type_ != "table":
        return True
    return not (name.startswith(TABLES_MANAGED_ELSEWHERE) or is_search_table(name))


def _skip_empty_autogenerate(
    migration_context: MigrationContext,
    revision: Any,
    directives: list[MigrationScript],
) -> None:
    """`alembic revision --autogenerate` writes no file when nothing changed.

    (`stackkit.db.migrations.revision` does the same on its own, whatever env.py does.)
    """
    config = migration_context.config
    autogenerate = config is not None and getattr(config.cmd_opts, "autogenerate", False)
    if autogenerate and all(script_is_empty(script) for script in directives):
        directives[:] = []
    for script in directives:
        search_ops_last(script)


def script_is_empty(script: MigrationScript) -> bool:
    """True when an autogenerated script has no operation to run."""
    return all(ops.is_empty() for ops in script.upgrade_ops_list)


async def _run_online(url: str, settings: dict[str, Any]) -> None:
    # NullPool: a migration command uses one connection and then exits.
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_on_connection, settings)
    finally:
        await engine.dispose()


def _run_on_connection(connection: Connection, settings: dict[str, Any]) -> None:
    context.configure(connection=connection, **settings)
    with context.begin_transaction():
        context.run_migrations()
    # SQLite's migrations commit step by step: the mend is a unit of its own.
    if restore_search_triggers(connection) and connection.in_transaction():
        connection.commit()
