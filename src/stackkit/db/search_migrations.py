"""Migrations of full-text search (`stackkit.db.search`): `op.create_search_index` and
`op.drop_search_index`, and autogenerate's comparison of each model's `__search__` with
the database, which writes them into revisions.

Revision scripts import this module for the two operations; `run_migrations` imports it
for autogenerate.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from alembic.autogenerate import comparators, renderers
from alembic.operations import MigrateOperation, Operations
from sqlalchemy import text
from sqlalchemy.engine import Connection

from stackkit.db.search import (
    checked_name,
    fts_table,
    index_name,
    search_columns,
    vector_sql,
)

__all__ = [
    "CreateSearchIndexOp",
    "DropSearchIndexOp",
    "create_statements",
    "drop_statements",
    "indexed_columns",
    "restore_search_triggers",
    "search_ops_last",
]

_EVENTS = ("insert", "delete", "update")
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@Operations.register_operation("create_search_index")
class CreateSearchIndexOp(MigrateOperation):
    """Make the search index of `table_name` over `columns` (and fill it)."""

    def __init__(self, table_name: str, columns: Sequence[str]) -> None:
        self.table_name = table_name
        self.columns = list(columns)

    @classmethod
    def create_search_index(
        cls, operations: Operations, table_name: str, columns: Sequence[str]
    ) -> Any:
        return operations.invoke(cls(table_name, columns))

    def reverse(self) -> DropSearchIndexOp:
        return DropSearchIndexOp(self.table_name, self.columns)

    def to_diff_tuple(self) -> tuple[str, str, list[str]]:
        """How `compare_metadata` reports it."""
        return ("add_search_index", self.table_name, self.columns)


@Operations.register_operation("drop_search_index")
class DropSearchIndexOp(MigrateOperation):
    """Drop the search index of `table_name` (`columns`: what it was over, to undo)."""

    def __init__(self, table_name: str, columns: Sequence[str]) -> None:
        self.table_name = table_name
        self.columns = list(columns)

    @classmethod
    def drop_search_index(
        cls, operations: Operations, table_name: str, columns: Sequence[str]
    ) -> Any:
        return operations.invoke(cls(table_name, columns))

    def reverse(self) -> CreateSearchIndexOp:
        return CreateSearchIndexOp(self.table_name, self.columns)

    def to_diff_tuple(self) -> tuple[str, str, list[str]]:
        return ("remove_search_index", self.table_name, self.columns)


@Operations.implementation_for(CreateSearchIndexOp)
def _create(operations: Operations, operation: CreateSearchIndexOp) -> None:
    for statement in create_statements(
        operations.get_bind().dialect.name, operation.table_name, operation.columns
    ):
        operations.execute(statement)


@Operations.implementation_for(DropSearchIndexOp)
def _drop(operations: Operations, operation: DropSearchIndexOp) -> None:
    for statement in drop_statements(operations.get_bind().dialect.name, operation.table_name):
        operations.execute(statement)


def create_statements(dialect: str, searched: str, columns: Sequence[str]) -> list[str]:
    """The DDL that makes a table's search index and fills it from the rows there are."""
    name, quoted = checked_name(searched), [checked_name(column) for column in columns]
    if dialect == "postgresql":
        listed = ",".join(columns)
        return [
            f"CREATE INDEX {checked_name(index_name(searched))} ON {name} "
            f"USING gin ({vector_sql(quoted)})",
            # What the index is over, for autogenerate to compare with the model.
            f"COMMENT ON INDEX {checked_name(index_name(searched))} IS 'stackkit search: {listed}'",
        ]
    # Every name went through _checked: plain identifiers, as the model declares them.
    fts = checked_name(fts_table(searched))
    names = ", ".join(quoted)
    fill = f"INSERT INTO {fts} (rowid, {names}) SELECT id, {names} FROM {name}"  # noqa: S608
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, content={name}, content_rowid=id)",
        fill,
        *_trigger_statements(searched, quoted),
    ]


def _trigger_statements(searched: str, quoted: Sequence[str]) -> list[str]:
    """SQLite's triggers that keep a table's FTS5 index in step with its rows."""
    name, fts = checked_name(searched), checked_name(fts_table(searched))
    names = ", ".join(quoted)
    new, old = _prefixed("new", quoted), _prefixed("old", quoted)
    add = f"INSERT INTO {fts} (rowid, {names}) VALUES (new.id, {new});"  # noqa: S608
    remove = f"INSERT INTO {fts} ({fts}, rowid, {names}) VALUES ('delete', old.id, {old});"  # noqa: S608
    return [
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {name} BEGIN {add} END",
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {name} BEGIN {remove} END",
        f"CREATE TRIGGER {fts}_update AFTER UPDATE ON {name} BEGIN {remove} {add} END",
    ]


def restore_search_triggers(connection: Connection) -> list[str]:
    """Make again the triggers of each SQLite search index whose table a migration
    rebuilt, and refill the index from the rows; return the tables mended.

    SQLite's batch mode changes a table by copying it and dropping the old one, and its
    triggers go with it: the index would stop following the rows. `run_migrations`
    calls this after every migration command on SQLite."""
    if connection.dialect.name != "sqlite":
        return []
    found = connection.execute(text("SELECT type, name, sql FROM sqlite_master")).all()
    tables = {name for kind, name, _ in found if kind == "table"}
    triggers = {name for kind, name, _ in found if kind == "trigger"}
    mended: list[str] = []
    for kind, name, sql in found:
        searched = name.removesuffix("_search")
        # Only stackkit's own index: an FTS5 table over `searched`'s rows, by id.
        ours = f"content={searched}, content_rowid=id)"
        if kind != "table" or name == searched or searched not in tables or ours not in (sql or ""):
            continue
        if not _PLAIN_NAME.fullmatch(name):
            continue
        wanted = [f"{name}_{event}" for event in _EVENTS]
        if set(wanted) <= triggers:
            continue
        columns = connection.execute(text(f"PRAGMA table_info({checked_name(name)})"))
        names = [str(row[1]) for row in columns]
        if not all(_PLAIN_NAME.fullmatch(column) for column in names):
            continue  # not a table stackkit made: its columns are plain identifiers
        quoted = [checked_name(column) for column in names]
        for trigger in wanted:
            connection.execute(text(f"DROP TRIGGER IF EXISTS {checked_name(trigger)}"))
        for statement in _trigger_statements(searched, quoted):
            connection.execute(text(statement))
        fts = checked_name(name)
        connection.execute(text(f"INSERT INTO {fts} ({fts}) VALUES ('rebuild')"))  # noqa: S608
        mended.append(searched)
    return mended


def _prefixed(row: str, columns: Sequence[str]) -> str:
    return ", ".join(f"{row}.{column}" for column in columns)


def drop_statements(dialect: str, searched: str) -> list[str]:
    if dialect == "postgresql":
        return [f"DROP INDEX IF EXISTS {checked_name(index_name(searched))}"]
    triggers = [f"{fts_table(searched)}_{event}" for event in _EVENTS]
    return [
        *(f"DROP TRIGGER IF EXISTS {checked_name(trigger)}" for trigger in triggers),
        f"DROP TABLE IF EXISTS {checked_name(fts_table(searched))}",
    ]


def indexed_columns(connection: Connection, searched: str) -> tuple[str, ...] | None:
    """The columns a table's search index is over in the database; None without one."""
    if connection.dialect.name == "postgresql":
        comment = connection.execute(
            text("SELECT obj_description(to_regclass(:name), 'pg_class')"),
            {"name": index_name(searched)},
        ).scalar()
        if not comment or not str(comment).startswith("stackkit search: "):
            return None
        return tuple(str(comment).removeprefix("stackkit search: ").split(","))
    names = set(
        connection.execute(
            text("SELECT name FROM sqlite_master WHERE name LIKE :prefix"),
            {"prefix": fts_table(searched) + "%"},
        ).scalars()
    )
    if fts_table(searched) not in names:
        return None
    triggers = {f"{fts_table(searched)}_{event}" for event in _EVENTS}
    if not triggers <= names:
        # A migration rebuilt the table (SQLite's batch mode) and its triggers went with
        # it: the index no longer follows the rows, so it is made again.
        return ("(stale)",)
    rows = connection.execute(text(f"PRAGMA table_info({checked_name(fts_table(searched))})"))
    return tuple(row[1] for row in rows)


@comparators.dispatch_for("schema")
def _compare(autogen_context: Any, upgrade_ops: Any, schemas: Any) -> None:
    """Autogenerate: make, remake or drop the search index of each table whose
    `__search__` differs from the database's index."""
    metadata = autogen_context.metadata
    connection = autogen_context.connection
    if metadata is None or connection is None:
        return
    tables = metadata if isinstance(metadata, Sequence) else [metadata]
    for meta in tables:
        for searched in meta.tables.values():
            wanted = search_columns(searched) or None
            existing = indexed_columns(connection, searched.name)
            if wanted == existing:
                continue
            if existing is not None:
                upgrade_ops.ops.append(DropSearchIndexOp(searched.name, existing))
            if wanted is not None:
                upgrade_ops.ops.append(CreateSearchIndexOp(searched.name, wanted))


_IMPORT = "import stackkit.db.search_migrations  # noqa: F401 (registers op.*_search_index)"


def search_ops_last(script: Any) -> None:
    """Put the search index operations of an autogenerated `script` after the tables'
    (the index needs its table) on the way up, and before them on the way down."""
    searching = (CreateSearchIndexOp, DropSearchIndexOp)
    for ops in script.upgrade_ops_list:
        ops.ops.sort(key=lambda op: isinstance(op, searching))
    for ops in script.downgrade_ops_list:
        ops.ops.sort(key=lambda op: not isinstance(op, searching))


@renderers.dispatch_for(CreateSearchIndexOp)
def _render_create(autogen_context: Any, operation: CreateSearchIndexOp) -> str:
    autogen_context.imports.add(_IMPORT)
    return f"op.create_search_index({operation.table_name!r}, {operation.columns!r})"


@renderers.dispatch_for(DropSearchIndexOp)
def _render_drop(autogen_context: Any, operation: DropSearchIndexOp) -> str:
    autogen_context.imports.add(_IMPORT)
    return f"op.drop_search_index({operation.table_name!r}, {operation.columns!r})"
