"""`Repository[Model]`: the queries of one model, and nothing else.

    class NoteRepository(Repository[Note]):
        model = Note
        filterable = ("title", "status", "created_at")
        sortable = ("title", "created_at")

    async with db.session(read_only=True) as session:
        page = await NoteRepository(session).page(filters={"status": "draft"}, sort="-created_at")

Every query is a SQLAlchemy expression with bound parameters. Field names in
filters and sorts are checked against `filterable` / `sortable` (all columns
when left as None) before any SQL is built. A repository never commits, and
leaves to the service above it what a missing row (None) or an outdated one
(`StaleVersion`) means. The one HTTP error it raises is for a request's own
mistake in a list query (an unknown filter field or operator, a bad cursor or
limit): `ValidationProblem` (422), naming the query parameter.
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import (
    Column,
    ColumnElement,
    Delete,
    Select,
    String,
    Table,
    UniqueConstraint,
    Update,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from stackkit.db.cursor import CursorCodec
from stackkit.db.errors import StaleVersion
from stackkit.db.model import Model, marks_deleted, not_deleted, utcnow
from stackkit.db.query import (
    Field,
    SortKey,
    build_filters,
    keyset_after,
    model_fields,
    parse_sort,
    query_problem,
)
from stackkit.db.search import search_columns, searched_rows

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "Page", "Repository", "link_columns"]

M = TypeVar("M", bound=Model)

PROTECTED_COLUMNS = frozenset({"id", "version", "created_at", "updated_at", "deleted_at"})
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass
class Page(Generic[M]):
    """One page of a keyset-paginated list; `next_cursor` is None on the last page."""

    items: list[M]
    next_cursor: str | None = None
    sort: list[str] = field(default_factory=list)


class Repository(Generic[M]):
    """Queries of `model`, within the session (unit of work) it is given.

    Args:
        session: the unit of work, from `Database.session()`.
        scope: conditions every query of this repository adds (for example, rows
            of one owner); rows outside it are invisible, as if missing.
        cursors: signs and checks page cursors; give the app's (`Database.cursors`).
    """

    model: type[M]
    filterable: ClassVar[Sequence[str] | None] = None
    """Columns that may be filtered on; None: every column."""
    sortable: ClassVar[Sequence[str] | None] = None
    """Columns that may be sorted on; None: every column."""
    default_sort: ClassVar[str] = "-created_at"
    links: ClassVar[Mapping[str, Table]] = {}
    """Many-to-many links, by the field that lists the linked ids (`{"tag_ids":
    note_tags}`): each table has two foreign keys, one to this model's table and one to
    the linked model's. Rows read carry the field (sorted ids, one query per link for
    a page); `create` and `update` take it and replace the links."""

    _filter_fields: ClassVar[dict[str, Field]]
    _sort_fields: ClassVar[dict[str, Field]]
    _id_field: ClassVar[Field]

    def __init__(
        self,
        session: AsyncSession,
        *,
        scope: Sequence[ColumnElement[bool]] = (),
        cursors: CursorCodec | None = None,
    ) -> None:
        self.session = session
        self.scope = list(scope)
        self.cursors = cursors
        type(self)._prepare_once()

    @classmethod
    def for_model(cls, model: type[M], **options: Any) -> type[Repository[M]]:
        """A repository class for `model`; `options` set `filterable`, `sortable`, ..."""
        return type(f"{model.__name__}Repository", (cls,), {"model": model, **options})

    @classmethod
    def _prepare(cls) -> None:
        cls._filter_fields = model_fields(cls.model, cls.filterable)
        cls._sort_fields = model_fields(cls.model, cls.sortable)
        cls._id_field = model_fields(cls.model, ["id"])["id"]

    @classmethod
    def filter_fields(cls) -> builtins.list[str]:
        """The fields a list may be filtered on (`filterable`, or every column)."""
        cls._prepare_once()
        return sorted(cls._filter_fields)

    @classmethod
    def filter_operators(cls) -> dict[str, tuple[str, ...]]:
        """The operators each filterable field takes (`contains` on text only)."""
        cls._prepare_once()
        return {name: cls._filter_fields[name].operators for name in sorted(cls._filter_fields)}

    @classmethod
    def sort_fields(cls) -> builtins.list[str]:
        """The fields a list may be sorted by (`sortable`, or every column)."""
        cls._prepare_once()
        return sorted(cls._sort_fields)

    @classmethod
    def _prepare_once(cls) -> None:
        if "_filter_fields" not in cls.__dict__:
            cls._prepare()

    @classmethod
    def unindexed_fields(cls) -> builtins.list[str]:
        """Filterable or sortable columns that no index starts with: each makes a list
        query scan the table. An app's tests can assert that the list is empty."""
        cls._prepare_once()
        table = cls.model.__table__
        assert isinstance(table, Table)
        leading = {index.columns[0].name for index in table.indexes if index.columns}
        leading.update(column.name for column in table.primary_key.columns)
        for constraint in table.constraints:
            if isinstance(constraint, UniqueConstraint) and constraint.columns:
                leading.add(next(iter(constraint.columns)).name)
        wanted = set(cls._filter_fields) | set(cls._sort_fields)
        return sorted(wanted - leading)

    @property
    def soft_deletes(self) -> bool:
        return marks_deleted(self.model.__table__)

    def _visible(self) -> list[ColumnElement[bool]]:
        return self.visible(self.scope)

    @classmethod
    def visible(cls, scope: Sequence[ColumnElement[bool]] = ()) -> list[ColumnElement[bool]]:
        """The conditions of the rows a repository with `scope` sees (and not deleted
        ones, for `SoftDelete` models)."""
        return [*scope, *not_deleted(cls.model.__table__)]

    @classmethod
    def matching_ids(
        cls, filters: Mapping[str, Any], scope: Sequence[ColumnElement[bool]] = ()
    ) -> Select[int]:
        """The ids of the rows within `scope` that `filters` select, as a subquery: how
        another model's list filters across a relation (`category.name__contains=`).

        Raises:
            ValidationProblem: as for `page()`'s filters.
        """
        cls._prepare_once()
        fields = {**cls._filter_fields, "id": cls._id_field}  # `category.id=3`, `tags.id=5`
        conditions = cls.visible(scope) + build_filters(filters, fields)
        return select(cls.model.id).where(*conditions)

    def _select(self, filters: Mapping[str, Any] | None = None) -> Select[M]:
        conditions = self._visible() + build_filters(filters or {}, self._filter_fields)
        return select(self.model).where(*conditions)

    # Reading

    async def get(self, id: int) -> M | None:
        row: M | None = await self.session.scalar(self._select().where(self.model.id == id))
        if row is not None:
            await self._read_links([row])
        return row

    async def get_many(self, ids: Iterable[int]) -> builtins.list[M]:
        """The rows with these ids that exist, in id order."""
        wanted = list(ids)
        if not wanted:
            return []
        query = self._select().where(self.model.id.in_(wanted)).order_by(self.model.id)
        return await self._read_links(list((await self.session.scalars(query)).all()))

    async def choices(
        self,
        display: str,
        *,
        search: str | None = None,
        ids: Sequence[int] = (),
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> builtins.list[tuple[int, Any]]:
        """`(id, display value)` of the visible rows whose display value contains
        `search` (any case) and, when `ids` are given, whose id is one of them, in
        display order: what a picker offers for a reference to this model."""
        _check_limit(limit)
        column = self.model.__table__.c[display]
        query = select(self.model.id, column).where(*self._visible())
        if search:
            text = column if isinstance(column.type, String) else sql_cast(column, String)
            query = query.where(text.icontains(search, autoescape=True))
        if ids:
            query = query.where(self.model.id.in_(list(ids)))
        query = query.order_by(column, self.model.id).limit(limit)
        return [(id, value) for id, value in (await self.session.execute(query)).all()]

    async def exists(self, filters: Mapping[str, Any] | None = None) -> bool:
        return bool(await self.session.scalar(select(exists(self._select(filters)))))

    async def count(self, filters: Mapping[str, Any] | None = None) -> int:
        query = select(func.count()).select_from(self._select(filters).subquery())
        return int(await self.session.scalar(query) or 0)

    async def list(
        self,
        filters: Mapping[str, Any] | None = None,
        *,
        sort: str | Sequence[str] | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        offset: int = 0,
    ) -> builtins.list[M]:
        """Rows matching `filters` in `sort` order, with offset pagination."""
        keys = self._sort_keys(sort)
        _check_limit(limit)
        if offset < 0:
            raise query_problem("offset", "must be 0 or more")
        query = self._select(filters).order_by(*(k.order_by() for k in keys))
        rows = list((await self.session.scalars(query.limit(limit).offset(offset))).all())
        return await self._read_links(rows)

    async def page(
        self,
        filters: Mapping[str, Any] | None = None,
        *,
        sort: str | Sequence[str] | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        search: str | None = None,
    ) -> Page[M]:
        """Rows matching `filters` in `sort` order, with keyset (cursor) pagination:
        stable under inserts and deletes, and as fast on page 1000 as on page 1.

        `search` keeps the rows whose searched columns (`Model.__search__`) match its
        words; without a `sort`, the best matches come first.
        """
        _check_limit(limit)
        if search is not None and sort is None:
            return await self._ranked_page(filters, search, limit, cursor)
        keys = self._sort_keys(sort)
        spec = ",".join(k.spec for k in keys)
        cursors = self.cursors or _MISSING_CODEC
        query = self._select(filters)
        if search is not None:
            query = self._searched(query, search)[0]
        if cursor:
            raw = cursors.decode(cursor, spec)
            if len(raw) != len(keys):
                raise query_problem("cursor", "not a cursor this list gave out", "invalid_cursor")
            values = [
                None if value is None else _cursor_value(key, value)
                for key, value in zip(keys, raw, strict=True)
            ]
            query = query.where(keyset_after(keys, values))
        query = query.order_by(*(k.order_by() for k in keys)).limit(limit + 1)
        rows = list((await self.session.scalars(query)).all())
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_cursor = cursors.encode(spec, [getattr(last, k.field.name) for k in keys])
        await self._read_links(rows)
        return Page(items=rows, next_cursor=next_cursor, sort=[k.spec for k in keys])

    def _searched(self, query: Select[Any], search: str) -> tuple[Select[Any], Any]:
        table = self.model.__table__
        assert isinstance(table, Table)
        if not search_columns(table):
            raise query_problem("q", f"{self.model.__name__} rows are not searchable", "extra")
        try:
            return searched_rows(query, table, self.session.get_bind().dialect.name, search)
        except ValueError as error:
            raise query_problem("q", str(error)) from None

    async def _ranked_page(
        self, filters: Mapping[str, Any] | None, search: str, limit: int, cursor: str | None
    ) -> Page[M]:
        """A page of search results, best first (then newest), by keyset on the rank."""
        query, rank = self._searched(self._select(filters), search)
        # The cursor names its search: one made for other words is refused.
        spec = "rank:" + hashlib.sha256(search.encode()).hexdigest()[:16]
        cursors = self.cursors or _MISSING_CODEC
        if cursor:
            raw = cursors.decode(cursor, spec)
            try:
                after_rank, after_id = float(raw[0]), int(raw[1])
            except (IndexError, TypeError, ValueError):
                raise query_problem(
                    "cursor", "not a cursor this list gave out", "invalid_cursor"
                ) from None
            query = query.where(
                or_(rank < after_rank, and_(rank == after_rank, self.model.id < after_id))
            )
        query = query.add_columns(rank).order_by(rank.desc(), self.model.id.desc())
        found = (await self.session.execute(query.limit(limit + 1))).all()
        next_cursor = None
        if len(found) > limit:
            found = found[:limit]
            last, last_rank = found[-1]
            next_cursor = cursors.encode(spec, [last_rank, last.id])
        rows = [row for row, _ in found]
        await self._read_links(rows)
        return Page(items=rows, next_cursor=next_cursor, sort=["-rank", "-id"])

    def _sort_keys(self, sort: str | Sequence[str] | None) -> builtins.list[SortKey]:
        names = sort.split(",") if isinstance(sort, str) else (sort or ())
        if not any(name.strip() for name in names):  # `?sort=` or `?sort=,,`: none given
            sort = self.default_sort
        return parse_sort(sort, self._sort_fields, self._id_field)

    # Writing

    async def create(self, values: Mapping[str, Any]) -> M:
        columns, linked = self._split_links(values)
        row = self.model(**columns)
        self.session.add(row)
        await self.session.flush()
        for link, ids in linked.items():
            await self._write_links(row.id, link, ids)
        for link in self.links:
            setattr(row, link, sorted(set(linked.get(link, ()))))
        return row

    async def create_many(self, rows: Iterable[Mapping[str, Any]]) -> builtins.list[M]:
        """Insert many rows in batches (one statement per batch on PostgreSQL)."""
        created = [self.model(**values) for values in rows]
        self.session.add_all(created)
        await self.session.flush()
        return created

    async def update(
        self, id: int, changes: Mapping[str, Any], *, expected_version: int | None = None
    ) -> M | None:
        """Apply `changes` in one atomic UPDATE and bump the version.

        Changes that change nothing (none, or every value the row's own) write
        nothing: the row comes back at its version, so a client's ETag stays valid.

        Returns the updated row, or None if there is no such (visible) row.

        Raises:
            StaleVersion: `expected_version` is given and the row is at another one.
            ValueError: `changes` names a column the repository maintains itself.
        """
        protected = sorted(PROTECTED_COLUMNS.intersection(changes))
        if protected:
            raise ValueError(f"{protected} are maintained by the repository, not changed directly")
        current = await self.get(id)
        if current is None:
            return None
        if expected_version is not None and current.version != expected_version:
            raise StaleVersion(current.version)
        changes, linked = self._split_links(changes)
        linked = {
            link: ids for link, ids in linked.items() if sorted(set(ids)) != getattr(current, link)
        }
        if not linked and all(getattr(current, name) == value for name, value in changes.items()):
            return current
        conditions = [self.model.id == id, *self._visible()]
        if expected_version is not None:
            conditions.append(self.model.version == expected_version)
        statement = (
            update(self.model)
            .where(*conditions)
            .values(**changes, version=self.model.version + 1, updated_at=utcnow())
            .returning(self.model)
            # populate_existing: a copy of the row already in the session takes the new values.
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        row = (await self.session.scalars(statement)).one_or_none()
        if row is None:
            await self._raise_if_stale(id, expected_version)
            return None
        for link, ids in linked.items():
            own = self._link_columns(link)[0]
            await self.session.execute(delete(self.links[link]).where(own == id))
            await self._write_links(id, link, ids)
        return (await self._read_links([row]))[0]

    async def delete(self, id: int, *, expected_version: int | None = None) -> bool:
        """Delete the row (or mark it deleted, for `SoftDelete` models).

        Returns whether a row was deleted.

        Raises:
            StaleVersion: `expected_version` is given and the row is at another one.
        """
        conditions = [self.model.id == id, *self._visible()]
        if expected_version is not None:
            conditions.append(self.model.version == expected_version)
        statement: Update | Delete
        if self.soft_deletes:
            now = utcnow()
            statement = (
                update(self.model)
                .where(*conditions)
                .values(deleted_at=now, updated_at=now, version=self.model.version + 1)
            )
        else:
            statement = delete(self.model).where(*conditions)
        result = await self.session.execute(
            statement.returning(self.model.id).execution_options(synchronize_session=False)
        )
        if result.first() is None:
            await self._raise_if_stale(id, expected_version)
            return False
        return True

    # Many-to-many links

    @classmethod
    def _link_columns(cls, link: str) -> tuple[Column[Any], Column[Any]]:
        """The link table's column holding this model's id, and the linked model's."""
        return link_columns(cls.links[link], cls.model.__tablename__)

    def _split_links(
        self, values: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Sequence[int]]]:
        """The column values, and the linked ids by link field."""
        columns = {k: v for k, v in values.items() if k not in self.links}
        linked = {k: v for k, v in values.items() if k in self.links and v is not None}
        return columns, linked

    async def _write_links(self, id: int, link: str, ids: Iterable[int]) -> None:
        own, other = self._link_columns(link)
        wanted = sorted(set(ids))
        if wanted:
            rows = [{own.name: id, other.name: linked} for linked in wanted]
            await self.session.execute(insert(self.links[link]), rows)

    async def _read_links(self, rows: builtins.list[M]) -> builtins.list[M]:
        """Set each link field on `rows`: the linked ids, sorted."""
        if not self.links or not rows:
            return rows
        ids = [row.id for row in rows]
        for link in self.links:
            own, other = self._link_columns(link)
            found: dict[int, builtins.list[int]] = {id: [] for id in ids}
            query = select(own, other).where(own.in_(ids)).order_by(own, other)
            for row_id, linked in (await self.session.execute(query)).all():
                found[row_id].append(linked)
            for row in rows:
                setattr(row, link, found[row.id])
        return rows

    async def _raise_if_stale(self, id: int, expected_version: int | None) -> None:
        if expected_version is None:
            return
        query = select(self.model.version).where(self.model.id == id, *self._visible())
        current = await self.session.scalar(query)
        if current is not None:
            raise StaleVersion(current)


def link_columns(table: Table, owner_table: str) -> tuple[Column[Any], Column[Any]]:
    """The columns of a many-to-many link `table`: the one whose foreign key names
    `owner_table`, and the other one.

    Raises:
        TypeError: the table does not have exactly two foreign-key columns, one of
            them to `owner_table`.
    """
    keyed = [column for column in table.columns if column.foreign_keys]
    own = [c for c in keyed if any(k.column.table.name == owner_table for k in c.foreign_keys)]
    if len(keyed) != 2 or len(own) != 1:
        raise TypeError(
            f"link table {table.name!r} needs two foreign-key columns, one of them to "
            f"{owner_table!r}"
        )
    other = keyed[1] if keyed[0] is own[0] else keyed[0]
    return own[0], other


class _MissingCodec(CursorCodec):
    def encode(self, sort: str, values: Sequence[Any]) -> str:
        raise RuntimeError("Repository.page() needs cursors=CursorCodec(...) to paginate")

    def decode(self, cursor: str, sort: str) -> list[Any]:
        raise RuntimeError("Repository.page() needs cursors=CursorCodec(...) to paginate")


_MISSING_CODEC = _MissingCodec(b"unused")


def _cursor_value(key: SortKey, raw: Any) -> Any:
    try:
        return key.field.adapter.validate_python(raw, strict=False)
    except ValueError:
        raise query_problem("cursor", "not a cursor this list gave out", "invalid_cursor") from None


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise query_problem("limit", f"must be between 1 and {MAX_PAGE_SIZE}")
