"""`Model`: the base of an app's tables, with the columns every stackkit row has.

    class Note(Model):                      # table "notes"
        title: Mapped[str] = mapped_column(String(200), index=True)
        body: Mapped[str] = mapped_column(Text, default="")

`id`, `created_at`, `updated_at` (timezone-aware, UTC) and `version` (for
optimistic locking) come from `Model`. Mix in `SoftDelete` to keep deleted rows
with a `deleted_at` time instead of removing them. `owner_column()` gives a
table the `owner_id` that makes its `Resource` owner-scoped.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Dialect,
    ForeignKey,
    FromClause,
    Integer,
    MetaData,
    Table,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

from stackkit.db.search import make_searchable

__all__ = [
    "MAX_ID",
    "MAX_INT",
    "MIN_INT",
    "NAMING_CONVENTION",
    "Model",
    "SoftDelete",
    "UTCDateTime",
    "marks_deleted",
    "not_deleted",
    "owner_column",
    "table_name_for",
    "utcnow",
]

# Stable constraint names, so that migrations can alter them and a unique violation
# can be traced back to its column (see `stackkit.db.service`).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored in UTC on every database.

    SQLite has no time zones: values are stored as naive UTC there and come back
    aware. A naive datetime given to the database is refused, since its zone
    would be a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give it a time zone (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in_utc(target: Any, value: Any, old: Any, initiator: Any) -> Any:
    """A row holds its times in UTC from the moment they are set, so that the answer to
    a create shows them as every later read does (`Z`, not the offset they came with)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return value


def table_name_for(class_name: str) -> str:
    """`Note` -> `notes`, `BlogPost` -> `blog_posts`, `Category` -> `categories`."""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", class_name).lower()
    if re.search(r"[^aeiou]y\Z", snake):
        return snake[:-1] + "ies"
    if snake.endswith(("s", "x", "z", "ch", "sh")):
        return snake + "es"
    return snake + "s"


MIN_INT, MAX_INT = -(2**31), 2**31 - 1
"""What an `Integer` column holds on every database (PostgreSQL's `integer`)."""

MAX_ID = MAX_INT
"""The largest `Model.id`, the top of an `Integer` column. Ids in a
path are checked against it: beyond it the database driver raises (PostgreSQL's
"integer out of range", SQLite's overflow past 64 bits), which would be a 500
rather than a 422."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Model(Base):
    """Abstract base of an app's tables. `Model.metadata` holds them all (for migrations)."""

    __abstract__ = True

    @declared_attr.directive
    def __tablename__(cls) -> str:
        return table_name_for(cls.__name__)

    # sort_order: `id` first and the bookkeeping columns last in CREATE TABLE.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-100)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True, sort_order=100)
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, index=True, sort_order=100
    )
    version: Mapped[int] = mapped_column(Integer, default=1, sort_order=100)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = cls.__dict__.get("__table__")
        if isinstance(table, Table) and "__search__" in cls.__dict__:
            # Read by the repository's searches and by autogenerate (stackkit.db.search).
            make_searchable(table, cls.__dict__["__search__"])
        if isinstance(table, Table):
            # SQLite otherwise hands out the highest deleted id again: a new row (a new
            # account) would take over what was cached or granted for the deleted one.
            table.dialect_kwargs["sqlite_autoincrement"] = True
            for column in table.columns:
                if isinstance(column.type, UTCDateTime) and column.key in cls.__dict__:
                    event.listen(getattr(cls, column.key), "set", _in_utc, retval=True)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # The ORM checks and bumps `version` on every flushed UPDATE, so even an
        # attribute change outside a repository cannot overwrite a newer row.
        return {"version_id_col": cls.__table__.c.version}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.id!r} version={self.version!r}>"


class SoftDelete:
    """Mix-in: repositories mark rows deleted (`deleted_at`) instead of removing them,
    and leave marked rows out of every query."""

    deleted_at: Mapped[datetime | None] = mapped_column(default=None, index=True, sort_order=100)


def marks_deleted(table: FromClause) -> bool:
    """Whether `table`'s rows are marked deleted rather than removed (a `SoftDelete` model)."""
    return "deleted_at" in table.c


def not_deleted(table: FromClause) -> list[ColumnElement[bool]]:
    """The condition of `table`'s rows that are not marked deleted: none for a table
    whose rows are removed."""
    return [table.c.deleted_at.is_(None)] if marks_deleted(table) else []


def owner_column(users_table: str = "users") -> Mapped[int]:
    """The `owner_id` column of a table whose rows belong to a user:

        class Note(Model):
            owner_id: Mapped[int] = owner_column()

    An integer that is never NULL, with a foreign key to `<users_table>.id` and an
    index. A `Resource` of a model with an `owner_id` column is owner-scoped: it
    sets the column to the signed-in user on create and shows each user only
    their own rows.

    The index is there because every query of an owned resource filters on this
    column. `ON DELETE CASCADE`: deleting a user deletes their rows, rather than
    leaving rows no one may see or failing the deletion (SQLite honours it too:
    `Database` turns foreign keys on). The foreign key is named by the naming
    convention (`fk_notes_owner_id_users`), so migrations can alter it.

    Args:
        users_table: the name of the user table, which must be in the same
            metadata (`Model.metadata`: import the user model before creating
            tables or running autogenerate).
    """
    return mapped_column(
        Integer, ForeignKey(f"{users_table}.id", ondelete="CASCADE"), index=True, nullable=False
    )
