"""`Service[Model]`: the transaction boundary and the home of business rules.

    class NoteService(Service[Note]):
        repository = Repository.for_model(Note)

        async def create(self, values):
            if "urgent" in values["title"].lower():
                values = {**values, "priority": 1}
            return await super().create(values)

Each public method runs in one unit of work (reads in a read-only unit, which
may go to a replica) and turns data errors into the domain errors the HTTP
layer renders: a missing row is `NotFoundError` (404), a duplicate value of a
unique column is `ConflictError` (409) naming the field, an outdated
`expected_version` is `PreconditionFailedError` (412), a value the database
refuses as out of range or too long for its column is `InvalidValueError` (422).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import ColumnElement, Index, Table, UniqueConstraint
from sqlalchemy.exc import DataError, IntegrityError

from stackkit.db.database import Database
from stackkit.db.errors import (
    ConflictError,
    InvalidValueError,
    NotFoundError,
    PreconditionFailedError,
    StaleVersion,
)
from stackkit.db.model import Model
from stackkit.db.repository import DEFAULT_PAGE_SIZE, Page, Repository

__all__ = ["Service", "unique_violation_field"]

M = TypeVar("M", bound=Model)

_UNIQUE_VIOLATION = "23505"
_FOREIGN_KEY_VIOLATION = "23503"
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)")


class Service(Generic[M]):
    """Business operations on one model.

    Args:
        db: the database.
        scope: conditions that limit which rows this service sees and changes
            (for example `[Note.owner_id == user.id]`); others are "not found".
    """

    repository: ClassVar[type[Repository[Any]]]
    resource_name: ClassVar[str | None] = None
    """How errors name a row of this model ("note 7"); default: the model's name."""

    def __init__(self, db: Database, *, scope: Sequence[ColumnElement[bool]] = ()) -> None:
        self.db = db
        self.scope = list(scope)

    @property
    def name(self) -> str:
        return self.resource_name or self.repository.model.__name__.lower()

    @contextlib.asynccontextmanager
    async def unit(self, *, read_only: bool = False) -> AsyncIterator[Repository[M]]:
        """A unit of work and this service's repository in it; data errors are mapped."""
        try:
            async with self.db.session(read_only=read_only) as session:
                yield self.repository(session, scope=self.scope, cursors=self.db.cursors)
        except IntegrityError as error:
            conflict = self._conflict(error)
            if conflict is None:
                raise
            raise conflict from error
        except (DataError, OverflowError) as error:
            # PostgreSQL's "out of range" and "value too long" (SQLSTATE class 22), and
            # SQLite's driver with an integer past 64 bits: a client's value, not a bug.
            raise InvalidValueError() from error

    async def get(self, id: int) -> M:
        async with self.unit(read_only=True) as repository:
            row = await repository.get(id)
        if row is None:
            raise NotFoundError(self.name, id)
        return row

    async def get_many(self, ids: Iterable[int]) -> list[M]:
        """The rows with these ids that exist (and are in scope), in id order."""
        async with self.unit(read_only=True) as repository:
            return await repository.get_many(ids)

    async def page(
        self,
        filters: Mapping[str, Any] | None = None,
        *,
        sort: str | Sequence[str] | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        search: str | None = None,
    ) -> Page[M]:
        async with self.unit(read_only=True) as repository:
            return await repository.page(
                filters, sort=sort, limit=limit, cursor=cursor, search=search
            )

    async def count(self, filters: Mapping[str, Any] | None = None) -> int:
        async with self.unit(read_only=True) as repository:
            return await repository.count(filters)

    async def create(self, values: Mapping[str, Any]) -> M:
        async with self.unit() as repository:
            return await repository.create(values)

    async def update(
        self, id: int, changes: Mapping[str, Any], *, expected_version: int | None = None
    ) -> M:
        try:
            async with self.unit() as repository:
                row = await repository.update(id, changes, expected_version=expected_version)
        except StaleVersion as stale:
            raise PreconditionFailedError(self.name, id, stale.current_version) from None
        if row is None:
            raise NotFoundError(self.name, id)
        return row

    async def delete(self, id: int, *, expected_version: int | None = None) -> None:
        try:
            async with self.unit() as repository:
                deleted = await repository.delete(id, expected_version=expected_version)
        except StaleVersion as stale:
            raise PreconditionFailedError(self.name, id, stale.current_version) from None
        if not deleted:
            raise NotFoundError(self.name, id)

    def _conflict(self, error: IntegrityError) -> ConflictError | None:
        sqlstate = getattr(error.orig, "sqlstate", None)
        field = unique_violation_field(error, self.repository.model)
        if field is not None and "," in field:
            # Unique per owner (`UniqueConstraint("name", "owner_id")`): the caller's
            # field is the one that collided; the owner is always theirs.
            field = ",".join(name for name in field.split(",") if name != "owner_id")
        if field is not None:
            return ConflictError(f"A {self.name} with this {field} already exists.", field=field)
        if sqlstate == _FOREIGN_KEY_VIOLATION or "FOREIGN KEY" in str(error.orig):
            return ConflictError(f"The {self.name} refers to a row that does not exist.")
        return None


def unique_violation_field(error: IntegrityError, model: type[Model]) -> str | None:
    """The column (or comma-joined columns) whose unique constraint `error` violated,
    or None if `error` is not a unique violation."""
    orig = error.orig
    if getattr(orig, "sqlstate", None) == _UNIQUE_VIOLATION:
        constraint = getattr(getattr(orig, "diag", None), "constraint_name", None)
        table = model.__table__
        assert isinstance(table, Table)
        candidates: list[Index | UniqueConstraint] = [
            *table.indexes,
            *(c for c in table.constraints if isinstance(c, UniqueConstraint)),
        ]
        for item in candidates:
            if item.name == constraint:
                return ",".join(column.name for column in item.columns)
        return constraint or "value"
    match = _SQLITE_UNIQUE.search(str(orig))
    if match:
        return ",".join(part.split(".")[-1].strip() for part in match.group(1).split(","))
    return None
