"""Which tables a unit of work changed, so that what caches them can be told.

Every write unit (`Database.session()`) records the tables it changed: rows the
ORM flushed (added, changed, deleted) and `insert()`, `update()` and `delete()`
statements run through the session. When a unit deletes rows, the tables whose
foreign keys follow those rows (`ON DELETE CASCADE` or `SET NULL`) count as
changed too: the database changed them without a statement of ours. Once the
unit has committed, `Database` hands the names to its change listeners (the
response cache's invalidation, in an app).

SQL that SQLAlchemy cannot see into (`text("UPDATE ...")`, a stored procedure)
must say what it changed:

    async with db.session() as session:
        await session.execute(text("UPDATE notes SET title = upper(title)"))
        mark_changed(session, Note)
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.sql.schema import ForeignKey

__all__ = ["follows_deletes", "mark_changed", "tables_changed"]

_CHANGED = "stackkit_changed_tables"
_DELETED = "stackkit_deleted_tables"
_FOLLOWING = frozenset({"CASCADE", "SET NULL", "SET DEFAULT"})


def mark_changed(session: Session | AsyncSession, *changed: Table | type[Any] | str) -> None:
    """Record that this unit changed these tables (a `Table`, a model class, or a table's
    name), for writes the session cannot see: raw SQL, triggers, procedures."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    names = sync.info.setdefault(_CHANGED, set())
    for item in changed:
        if isinstance(item, str):
            names.add(item)
        elif isinstance(item, Table):
            names.add(item.name)
        else:
            names.add(item.__table__.name)


def tables_changed(session: Session) -> frozenset[str]:
    """The tables this unit changed, those its deletions cascade to included."""
    changed: set[str] = session.info.get(_CHANGED, set())
    deleted: set[Table] = session.info.get(_DELETED, set())
    following = {name for table in deleted for name in follows_deletes(table)}
    return frozenset(changed | following)


def follows_deletes(table: Table) -> frozenset[str]:
    """Names of the tables whose rows the database changes when rows of `table` are
    deleted (foreign keys with `ON DELETE CASCADE`, `SET NULL` or `SET DEFAULT`, followed
    as far as they go), in the metadata of `table`."""
    # Keyed on the number of tables too: a table defined later may follow this one.
    return _follows_deletes(table, len(table.metadata.tables))


@functools.cache
def _follows_deletes(table: Table, table_count: int) -> frozenset[str]:
    found: set[str] = set()
    pending = [table]
    while pending:
        current = pending.pop()
        for other in current.metadata.tables.values():
            if other.name in found:
                continue
            if any(_follows(fk, current) for fk in other.foreign_keys):
                found.add(other.name)
                pending.append(other)
    return frozenset(found)


def _follows(fk: ForeignKey, table: Table) -> bool:
    return (fk.ondelete or "").upper() in _FOLLOWING and fk.references(table)


def _record(session: Session, tables: Iterable[Table], *, deleted: bool) -> None:
    changed = session.info.setdefault(_CHANGED, set())
    for table in tables:
        changed.add(table.name)
        if deleted:
            session.info.setdefault(_DELETED, set()).add(table)


@event.listens_for(Session, "before_flush")
def _flushing(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    for rows, deleted in ((session.new, False), (session.dirty, False), (session.deleted, True)):
        _record(session, _tables_of(rows), deleted=deleted)


@event.listens_for(Session, "do_orm_execute")
def _executing(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if isinstance(table, Table):
        _record(state.session, [table], deleted=state.is_delete)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the whole transaction: nothing changed
        session.info.pop(_CHANGED, None)
        session.info.pop(_DELETED, None)


def _tables_of(rows: Iterable[Any]) -> set[Table]:
    tables: set[Table] = set()
    for row in rows:
        for table in type(row).__mapper__.tables:
            if isinstance(table, Table):
                tables.add(table)
    return tables
