from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from stackkit.db import Database, Repository, StaleVersion
from stackkit.http.problems import ValidationProblem
from tests.db.models import Gadget, GadgetRepository, Memo

ROWS = [
    {"name": "anvil", "price": 300, "status": "live", "rating": 4.5},
    {"name": "Bellows", "price": 120, "status": "draft", "rating": None},
    {"name": "crowbar", "price": 120, "status": "live", "rating": 3.0},
    {"name": "100% drill", "price": 900, "status": "retired", "rating": 4.5},
    {"name": "easel_x", "price": 50, "status": "live", "rating": None},
    {"name": "funnel", "price": 300, "status": "draft", "rating": 2.0},
    {"name": "gauge", "price": 75, "status": "live", "rating": 3.0},
]


async def seed(db: Database) -> list[Gadget]:
    async with db.session() as session:
        return await GadgetRepository(session).create_many(ROWS)


async def names(db: Database, **options: Any) -> list[str]:
    async with db.session(read_only=True) as session:
        return [g.name for g in await GadgetRepository(session).list(limit=100, **options)]


async def test_create_and_read_back(db: Database) -> None:
    async with db.session() as session:
        created = await GadgetRepository(session).create({"name": "anvil", "price": 300})
    assert created.id is not None
    assert created.version == 1
    assert created.status == "draft"
    async with db.session(read_only=True) as session:
        repository = GadgetRepository(session)
        fetched = await repository.get(created.id)
        assert fetched is not None
        assert fetched.name == "anvil"
        assert fetched.created_at.tzinfo is not None
        assert abs(fetched.created_at - datetime.now(UTC)) < timedelta(minutes=1)
        assert await repository.get(created.id + 1000) is None


async def test_get_many_exists_and_count(db: Database) -> None:
    rows = await seed(db)
    async with db.session(read_only=True) as session:
        repository = GadgetRepository(session)
        found = await repository.get_many([rows[2].id, rows[0].id, 99999])
        assert [g.name for g in found] == ["anvil", "crowbar"]
        assert await repository.get_many([]) == []
        assert await repository.exists({"status": "retired"})
        assert not await repository.exists({"status": "missing"})
        assert await repository.count() == 7
        assert await repository.count({"status": "live"}) == 4


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"status": "draft"}, {"Bellows", "funnel"}),
        ({"status__ne": "live"}, {"Bellows", "100% drill", "funnel"}),
        ({"status__in": "draft,retired"}, {"Bellows", "100% drill", "funnel"}),
        ({"status__in": ["draft", "retired"]}, {"Bellows", "100% drill", "funnel"}),
        ({"price__gte": "120", "price__lt": 300}, {"Bellows", "crowbar"}),
        ({"price__gt": 300}, {"100% drill"}),
        ({"price__lte": 75}, {"easel_x", "gauge"}),
        ({"name__contains": "EL"}, {"Bellows", "easel_x", "funnel"}),
        ({"name__contains": "%"}, {"100% drill"}),
        ({"name__contains": "_"}, {"easel_x"}),
        ({"rating__isnull": "true"}, {"Bellows", "easel_x"}),
        ({"rating__isnull": False, "rating__gte": 4}, {"anvil", "100% drill"}),
        ({"created_at__gte": "2000-01-01"}, {r["name"] for r in ROWS}),
        ({"created_at__lt": "2000-01-01T00:00:00+02:00"}, set()),
    ],
    ids=[
        "eq",
        "ne",
        "in-comma",
        "in-list",
        "range",
        "gt",
        "lte",
        "contains-case-insensitive",
        "contains-percent-literal",
        "contains-underscore-literal",
        "isnull",
        "not-null-and-range",
        "naive-date-means-utc",
        "aware-datetime",
    ],
)
async def test_filters(db: Database, filters: dict[str, Any], expected: set[str]) -> None:
    await seed(db)
    assert set(await names(db, filters=filters)) == expected


@pytest.mark.parametrize(
    ("filters", "field", "kind"),
    [
        ({"secret": "x"}, "secret", "unknown_field"),
        ({"version": 1}, "version", "unknown_field"),  # a column, but not filterable
        ({"price__regex": ".*"}, "price__regex", "unknown_operator"),
        ({"price": "cheap"}, "price", "invalid_value"),
        ({"created_at__gte": "yesterday"}, "created_at__gte", "invalid_value"),
        ({"status__in": ""}, "status__in", "invalid_value"),
    ],
    ids=[
        "unknown-field",
        "not-allowlisted",
        "unknown-operator",
        "bad-int",
        "bad-datetime",
        "empty-in",
    ],
)
async def test_bad_filters_are_422_before_any_sql(
    db: Database, filters: dict[str, Any], field: str, kind: str
) -> None:
    with pytest.raises(ValidationProblem) as raised:
        await names(db, filters=filters)
    [error] = raised.value.extensions["errors"]
    assert (error["in"], error["field"], error["type"]) == ("query", field, kind)


async def test_every_bad_filter_is_reported_at_once(db: Database) -> None:
    with pytest.raises(ValidationProblem) as raised:
        await names(db, filters={"nope": 1, "price": "x"})
    assert {e["field"] for e in raised.value.extensions["errors"]} == {"nope", "price"}


async def test_multi_field_sort(db: Database) -> None:
    await seed(db)
    assert await names(db, sort="-price,name") == [
        "100% drill", "anvil", "funnel", "Bellows", "crowbar", "gauge", "easel_x",
    ]  # fmt: skip
    # NULL ratings last, in both directions.
    assert (await names(db, sort=["rating", "name"]))[-2:] == ["Bellows", "easel_x"]
    assert (await names(db, sort=["-rating", "name"]))[-2:] == ["Bellows", "easel_x"]


SORTABLE = "created_at, name, price, rating, status"


@pytest.mark.parametrize(
    ("sort", "kind", "message"),
    [
        ("secret", "unknown_field",
         f"cannot sort by 'secret'; the sortable fields are: {SORTABLE}. A field becomes "
         "sortable when the resource's repository lists it in `sortable`"),
        ("name,name", "duplicate_field", "'name' is named twice"),
        ("price,-name,+name", "duplicate_field", "'name' is named twice"),
        ("version", "unknown_field",
         f"cannot sort by 'version'; the sortable fields are: {SORTABLE}. A field becomes "
         "sortable when the resource's repository lists it in `sortable`"),
    ],
    ids=["unknown", "twice", "twice-with-signs", "not-allowlisted"],
)  # fmt: skip
async def test_bad_sort_is_422(db: Database, sort: str, kind: str, message: str) -> None:
    with pytest.raises(ValidationProblem) as raised:
        await names(db, sort=sort)
    assert raised.value.extensions["errors"] == [
        {"in": "query", "field": "sort", "message": message, "type": kind}
    ]


async def test_a_sort_takes_plus_signs_spaces_and_empty_items(db: Database) -> None:
    await seed(db)
    expected = await names(db, sort="price,name")
    assert await names(db, sort="+price, +name") == expected
    assert await names(db, sort=",price,,name,") == expected
    default = await names(db)  # newest first
    assert default != sorted(default)
    for nothing in ("", ",,,", " , ", []):
        assert await names(db, sort=nothing) == default, nothing


async def test_offset_pagination(db: Database) -> None:
    await seed(db)
    first = await names(db, sort="name", offset=0)
    async with db.session(read_only=True) as session:
        repository = GadgetRepository(session)
        page = await repository.list(sort="name", limit=3, offset=3)
        for limit in (0, 101):
            with pytest.raises(ValidationProblem) as refused:
                await repository.list(limit=limit)
            assert refused.value.extensions["errors"] == [
                {"in": "query", "field": "limit", "message": "must be between 1 and 100",
                 "type": "out_of_range"}
            ]  # fmt: skip
        with pytest.raises(ValidationProblem) as raised:
            await repository.list(offset=-1)
    assert [g.name for g in page] == first[3:6]
    assert raised.value.extensions["errors"] == [
        {"in": "query", "field": "offset", "message": "must be 0 or more", "type": "out_of_range"}
    ]


async def walk(db: Database, sort: str, limit: int, **filters: Any) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(50):
        async with db.session(read_only=True) as session:
            repository = GadgetRepository(session, cursors=db.cursors)
            page = await repository.page(filters, sort=sort, limit=limit, cursor=cursor)
        seen.extend(g.name for g in page.items)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize(
    "sort",
    ["name", "-name", "price", "-price", "price,-name", "-price,name", "rating", "-rating,price",
     "status,rating,-price", "-created_at"],
)  # fmt: skip
@pytest.mark.parametrize("limit", [1, 2, 3, 7])
async def test_keyset_pages_walk_the_whole_order_exactly_once(
    db: Database, sort: str, limit: int
) -> None:
    await seed(db)
    assert await walk(db, sort, limit) == await names(db, sort=sort)


class IdOrderRepository(GadgetRepository):
    default_sort = ()  # the primary key alone: the tie-breaker is the whole order


@pytest.mark.parametrize("limit", [1, 3])
async def test_keyset_pages_walk_the_primary_key_alone(db: Database, limit: int) -> None:
    rows = await seed(db)
    seen, cursor = [], None
    async with db.session(read_only=True) as session:
        repository = IdOrderRepository(session, cursors=db.cursors)
        for _ in range(len(rows)):
            page = await repository.page(limit=limit, cursor=cursor)
            seen += [g.id for g in page.items]
            if (cursor := page.next_cursor) is None:
                break
    assert page.sort == ["id"]
    assert seen == sorted(r.id for r in rows)


async def test_keyset_pages_respect_filters(db: Database) -> None:
    await seed(db)
    assert await walk(db, "-price", 2, status="live") == ["anvil", "crowbar", "gauge", "easel_x"]


async def test_keyset_page_is_stable_when_rows_arrive(db: Database) -> None:
    await seed(db)
    async with db.session(read_only=True) as session:
        first = await GadgetRepository(session, cursors=db.cursors).page(sort="name", limit=3)
    async with db.session() as session:
        await GadgetRepository(session).create({"name": "aardvark", "price": 1})  # sorts first
    async with db.session(read_only=True) as session:
        repository = GadgetRepository(session, cursors=db.cursors)
        second = await repository.page(sort="name", limit=3, cursor=first.next_cursor)
    assert [g.name for g in first.items] == ["100% drill", "Bellows", "anvil"]
    assert [g.name for g in second.items] == ["crowbar", "easel_x", "funnel"]


async def test_last_page_has_no_cursor(db: Database) -> None:
    await seed(db)
    async with db.session(read_only=True) as session:
        page = await GadgetRepository(session, cursors=db.cursors).page(limit=7)
    assert len(page.items) == 7
    assert page.next_cursor is None
    assert page.sort == ["-created_at", "-id"]


async def test_update_bumps_version_and_checks_it(db: Database) -> None:
    [anvil, *_] = await seed(db)
    async with db.session() as session:
        repository = GadgetRepository(session)
        updated = await repository.update(anvil.id, {"price": 310}, expected_version=1)
        assert updated is not None
        assert (updated.price, updated.version) == (310, 2)
        assert updated.updated_at >= anvil.updated_at
        with pytest.raises(StaleVersion) as stale:
            await repository.update(anvil.id, {"price": 320}, expected_version=1)
        assert stale.value.current_version == 2
        unconditional = await repository.update(anvil.id, {"price": 330})
        assert unconditional is not None
        assert unconditional.version == 3
        assert await repository.update(99999, {"price": 1}, expected_version=1) is None
        with pytest.raises(ValueError, match="maintained by the repository"):
            await repository.update(anvil.id, {"version": 10})


@pytest.mark.parametrize(
    "changes", [{}, {"price": 300}, {"price": 300, "status": "live"}], ids=["none", "one", "all"]
)
async def test_an_update_that_changes_nothing_keeps_the_version(
    db: Database, changes: dict[str, object]
) -> None:
    [anvil, *_] = await seed(db)
    assert (anvil.price, anvil.status) == (300, "live")
    async with db.session() as session:
        repository = GadgetRepository(session)
        same = await repository.update(anvil.id, changes, expected_version=1)
        assert same is not None
        assert (same.version, same.updated_at) == (1, anvil.updated_at)
        with pytest.raises(StaleVersion):
            await repository.update(anvil.id, changes, expected_version=2)
        assert await repository.update(99999, changes) is None
        changed = await repository.update(anvil.id, {**changes, "price": 301})
        assert changed is not None
        assert changed.version == 2


async def test_orm_attribute_changes_are_versioned_too(db: Database) -> None:
    [anvil, *_] = await seed(db)
    async with db.session() as session:
        row = await session.get(Gadget, anvil.id)
        assert row is not None
        row.price = 999
    assert row.version == 2


async def test_delete(db: Database) -> None:
    [anvil, bellows, *_] = await seed(db)
    async with db.session() as session:
        repository = GadgetRepository(session)
        with pytest.raises(StaleVersion):
            await repository.delete(anvil.id, expected_version=5)
        assert await repository.delete(anvil.id, expected_version=1)
        assert not await repository.delete(anvil.id)
        assert await repository.delete(bellows.id)
    assert "anvil" not in await names(db)


async def test_a_delete_that_finds_no_row_is_false_whatever_version_it_names(
    db: Database,
) -> None:
    """Only a row the repository sees can be stale: a missing, deleted or out-of-scope
    row is not found, and its version is never told."""
    [anvil, bellows, *_] = await seed(db)
    async with db.session() as session:
        repository = GadgetRepository(session)
        assert await repository.delete(bellows.id)
        assert not await repository.delete(bellows.id, expected_version=1)  # deleted
        assert not await repository.delete(10_000, expected_version=1)  # never was
        live_only = GadgetRepository(session, scope=[Gadget.status == "draft"])
        assert not await live_only.delete(anvil.id, expected_version=5)  # out of scope
        with pytest.raises(StaleVersion) as stale:
            await repository.delete(anvil.id, expected_version=5)
        assert stale.value.current_version == 1


async def test_a_soft_deleted_row_is_stale_to_an_old_version_and_gone_after(
    db: Database,
) -> None:
    memos = Repository.for_model(Memo)
    async with db.session() as session:
        [memo] = await memos(session).create_many([{"text": "drop"}])
    async with db.session() as session:
        assert await memos(session).delete(memo.id, expected_version=1)
    async with db.session() as session:
        assert not await memos(session).delete(memo.id, expected_version=2)
    async with db.session(read_only=True) as session:
        raw = await session.get(Memo, memo.id)
        assert raw is not None
        # The deletion is a change like any other: a new version, its own time.
        assert raw.version == 2
        assert raw.deleted_at is not None
        assert raw.updated_at == raw.deleted_at


async def test_get_many_answers_in_id_order_however_the_rows_are_stored(db: Database) -> None:
    rows = await seed(db)
    async with db.session() as session:
        # An update writes a new row version at the table's end on PostgreSQL.
        await GadgetRepository(session).update(rows[0].id, {"price": 301})
    async with db.session(read_only=True) as session:
        found = await GadgetRepository(session).get_many([r.id for r in reversed(rows)])
    assert [g.id for g in found] == sorted(r.id for r in rows)


async def test_a_page_reads_one_row_past_its_limit_and_no_more(db: Database) -> None:
    """One more row than the page tells whether there is a next page: a query without
    the limit would read the whole table for every page."""
    await seed(db)
    limits: list[Any] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "LIMIT" in statement:
            values = parameters.values() if isinstance(parameters, dict) else parameters
            limits.append(tuple(values))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with db.session(read_only=True) as session:
            page = await GadgetRepository(session, cursors=db.cursors).page(limit=3)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    assert len(page.items) == 3
    assert page.next_cursor is not None
    # LIMIT 4 (and OFFSET 0 on SQLite): the page's 3 rows and one more.
    assert [values[0] for values in limits] == [4], limits


async def test_page_without_a_cursor_codec_says_what_it_needs(db: Database) -> None:
    await seed(db)
    error = "Repository.page() needs cursors=CursorCodec(...) to paginate"
    async with db.session(read_only=True) as session:
        repository = GadgetRepository(session)
        assert len((await repository.page(limit=7)).items) == 7  # one page needs none
        with pytest.raises(RuntimeError, match=f"^{re.escape(error)}$"):
            await repository.page(limit=2)
        with pytest.raises(RuntimeError, match=f"^{re.escape(error)}$"):
            await repository.page(limit=2, cursor="anything")


@pytest.mark.parametrize(
    "values",
    [["not a price", 1], [300], [300, 1, 2]],
    ids=["wrong-type", "too-few", "too-many"],
)
async def test_a_signed_cursor_of_another_shape_is_422(db: Database, values: list[Any]) -> None:
    await seed(db)
    cursor = db.cursors.encode("price,id", values)
    async with db.session(read_only=True) as session:
        repository = GadgetRepository(session, cursors=db.cursors)
        with pytest.raises(ValidationProblem) as raised:
            await repository.page(sort="price", limit=2, cursor=cursor)
    assert raised.value.extensions["errors"] == [
        {"in": "query", "field": "cursor", "message": "not a cursor this list gave out",
         "type": "invalid_cursor"}
    ]  # fmt: skip


async def test_soft_delete_hides_rows_but_keeps_them(db: Database) -> None:
    memos = Repository.for_model(Memo)
    async with db.session() as session:
        _kept, dropped = await memos(session).create_many([{"text": "keep"}, {"text": "drop"}])
    async with db.session() as session:
        assert await memos(session).delete(dropped.id)
    async with db.session(read_only=True) as session:
        repository = memos(session)
        assert [m.text for m in await repository.list()] == ["keep"]
        assert await repository.get(dropped.id) is None
        assert await repository.count() == 1
        raw = await session.get(Memo, dropped.id)
        assert raw is not None
        assert raw.deleted_at is not None
    async with db.session() as session:
        assert await memos(session).update(dropped.id, {"text": "back?"}) is None


# Every way a repository reads or writes a row, asked about the rows outside its scope:
# (what it answers for them, as a function of the repository and those rows).
SCOPED_CALLS: dict[str, Any] = {
    "get": lambda repo, out: _all_none([repo.get(row.id) for row in out]),
    "get_many": lambda repo, out: repo.get_many([row.id for row in out]),
    "exists": lambda repo, out: repo.exists({"status": "retired"}),
    "count": lambda repo, out: repo.count({"status__in": "draft,retired"}),
    "list": lambda repo, out: repo.list({"status__in": "draft,retired"}),
    "page": lambda repo, out: _page_items(repo.page({"status__in": "draft,retired"})),
    "update": lambda repo, out: _all_none([repo.update(row.id, {"price": 1}) for row in out]),
    "delete": lambda repo, out: _all_none([_true_or_none(repo.delete(row.id)) for row in out]),
}


async def _all_none(calls: list[Any]) -> Any:
    found = [await call for call in calls]
    return [] if all(item is None for item in found) else found


async def _true_or_none(call: Any) -> Any:
    return True if await call else None


async def _page_items(call: Any) -> Any:
    return (await call).items


@pytest.mark.parametrize("call", SCOPED_CALLS)
async def test_scope_limits_what_a_repository_sees(db: Database, call: str) -> None:
    """A scope (an owner's rows, say) hides the other rows from every method, as if
    they did not exist: nothing read, counted, changed or deleted."""
    rows = await seed(db)
    outside = [row for row in rows if row.status != "live"]
    async with db.session() as session:
        live_only = GadgetRepository(session, scope=[Gadget.status == "live"])
        answer = await SCOPED_CALLS[call](live_only, outside)
        assert answer in ([], 0, False), answer
    async with db.session(read_only=True) as session:
        everything = await GadgetRepository(session).list(limit=100)
    assert sorted((g.name, g.price, g.version) for g in everything) == sorted(
        (row.name, row.price, row.version) for row in rows
    )


def test_unindexed_fields_are_reported() -> None:
    # Gadget indexes price and status, name is unique, created_at comes indexed from Model;
    # rating is filterable and sortable without an index.
    assert GadgetRepository.unindexed_fields() == ["rating"]
    memos = Repository.for_model(Memo, filterable=("text",), sortable=("created_at",))
    assert memos.unindexed_fields() == ["text"]
    # A foreign key is a constraint, not an index: it makes no lookup by its column fast.
    by_gadget = Repository.for_model(Memo, filterable=("gadget_id",), sortable=("id",))
    assert by_gadget.unindexed_fields() == ["gadget_id"]


def test_a_repository_names_its_filter_and_sort_fields_in_order() -> None:
    """What the list routes and `/api/meta` publish; every column when none is named."""
    memos = Repository.for_model(Memo, filterable=("text", "gadget_id"), sortable=("text",))
    assert memos.filter_fields() == ["gadget_id", "text"]
    assert memos.sort_fields() == ["text"]
    assert memos.filter_operators()["gadget_id"] == (
        "eq", "ne", "lt", "lte", "gt", "gte", "in", "isnull",
    )  # fmt: skip
    every = Repository.for_model(Memo)
    columns = ["created_at", "deleted_at", "gadget_id", "id", "text", "updated_at", "version"]
    assert every.filter_fields() == every.sort_fields() == columns


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # SQLite has no row locks
async def test_an_update_that_loses_a_race_is_stale_not_missing(db: Database) -> None:
    """Both read version 1; the second UPDATE waits for the first's row lock, then finds
    the row at version 2: a 412 for its client, not a 404."""
    [anvil, *_] = await seed(db)

    async def second() -> Gadget | None:
        async with db.session() as session:
            return await GadgetRepository(session).update(
                anvil.id, {"price": 2}, expected_version=1
            )

    async with db.session() as first:
        await GadgetRepository(first).update(anvil.id, {"price": 1}, expected_version=1)
        waiting = asyncio.create_task(second())
        deadline = time.monotonic() + 10
        waits = (
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        while not await _scalar(db, waits):
            assert time.monotonic() < deadline, "the second update never waited"
            await asyncio.sleep(0.01)
    with pytest.raises(StaleVersion) as stale:
        await waiting
    assert stale.value.current_version == 2


async def _scalar(db: Database, sql: str) -> Any:
    async with db.session(read_only=True) as session:
        return await session.scalar(text(sql))
