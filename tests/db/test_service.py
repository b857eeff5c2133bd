from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json

import pytest
from sqlalchemy import TextClause, event, text

from stackkit import Settings, create_app
from stackkit.db import (
    ConflictError,
    Database,
    InvalidValueError,
    NotFoundError,
    PreconditionFailedError,
    ReadOnlyUnitError,
)
from stackkit.db.cursor import CursorCodec
from stackkit.http.problems import ValidationProblem
from tests.db.models import Gadget, GadgetService, MemoService


def first_message(problem: ValidationProblem) -> str:
    message: str = problem.extensions["errors"][0]["message"]
    return message


async def make(service: GadgetService, name: str = "anvil", price: int = 300) -> Gadget:
    return await service.create({"name": name, "price": price})


async def test_missing_row_is_404(db: Database) -> None:
    service = GadgetService(db)
    with pytest.raises(NotFoundError) as raised:
        await service.get(12345)
    assert raised.value.status == 404
    assert raised.value.detail == "There is no gadget 12345."
    with pytest.raises(NotFoundError):
        await service.update(12345, {"price": 1})
    with pytest.raises(NotFoundError):
        await service.delete(12345)


async def test_duplicate_unique_value_is_409_naming_the_field(db: Database) -> None:
    service = GadgetService(db)
    await make(service, "anvil")
    with pytest.raises(ConflictError) as raised:
        await make(service, "anvil")
    assert raised.value.status == 409
    assert raised.value.extensions == {"field": "name"}
    assert "name" in (raised.value.detail or "")
    other = await make(service, "bellows")
    with pytest.raises(ConflictError):
        await service.update(other.id, {"name": "anvil"})
    assert (await service.get(other.id)).name == "bellows"  # the failed unit rolled back


async def test_reference_to_a_missing_row_is_409(db: Database) -> None:
    with pytest.raises(ConflictError, match="refers to a row that does not exist"):
        await MemoService(db).create({"text": "orphan", "gadget_id": 4242})


async def test_stale_version_is_412_with_the_current_version(db: Database) -> None:
    service = GadgetService(db)
    gadget = await make(service)
    await service.update(gadget.id, {"price": 1}, expected_version=1)
    with pytest.raises(PreconditionFailedError) as raised:
        await service.update(gadget.id, {"price": 2}, expected_version=1)
    assert raised.value.status == 412
    assert raised.value.extensions == {"current_version": 2}
    with pytest.raises(PreconditionFailedError):
        await service.delete(gadget.id, expected_version=1)
    await service.delete(gadget.id, expected_version=2)


async def test_concurrent_updates_of_one_version_let_exactly_one_through(db: Database) -> None:
    service = GadgetService(db)
    gadget = await make(service, price=0)

    async def update(price: int) -> int | str:
        try:
            updated = await GadgetService(db).update(
                gadget.id, {"price": price}, expected_version=1
            )
        except PreconditionFailedError:
            return "conflict"
        return updated.price

    outcomes = await asyncio.gather(*(update(price) for price in range(1, 21)))
    winners = [o for o in outcomes if o != "conflict"]
    assert len(winners) == 1
    assert outcomes.count("conflict") == 19
    final = await service.get(gadget.id)
    assert final.version == 2
    assert final.price == winners[0]  # the winner's write is the one that stayed


async def test_concurrent_unconditional_increments_lose_nothing(db: Database) -> None:
    """Without If-Match each update still applies atomically: 20 version bumps, 20 versions."""
    service = GadgetService(db)
    gadget = await make(service)
    await asyncio.gather(*(GadgetService(db).update(gadget.id, {"price": n}) for n in range(20)))
    assert (await service.get(gadget.id)).version == 21


INJECTIONS = [
    "' OR '1'='1",
    "1; DROP TABLE gadgets; --",
    "anvil' --",
    '"; DELETE FROM gadgets; --',
    "%' OR 1=1 --",
    "\\'; SELECT pg_sleep(5); --",
]


@pytest.mark.parametrize("payload", INJECTIONS)
async def test_injection_in_filter_values_is_inert(db: Database, payload: str) -> None:
    service = GadgetService(db)
    await make(service, "anvil")
    for filters in ({"name": payload}, {"name__contains": payload}, {"status__in": payload}):
        page = await service.page(filters)
        assert page.items == []
    with pytest.raises(ValidationProblem) as raised:
        await service.page({"price": payload})
    assert "valid integer" in first_message(raised.value)
    assert await service.count() == 1


@pytest.mark.parametrize(
    "sort",
    ["name; DROP TABLE gadgets", "(SELECT 1)", "name DESC, (SELECT pg_sleep(5))", "-id--", "1"],
)
async def test_injection_in_sort_is_refused(db: Database, sort: str) -> None:
    service = GadgetService(db)
    await make(service)
    with pytest.raises(ValidationProblem) as raised:
        await service.page(sort=sort)
    assert "cannot sort by" in first_message(raised.value)
    assert await service.count() == 1


@pytest.mark.parametrize(
    "cursor",
    [
        "' OR 1=1 --",
        "eyJzIjoiLWNyZWF0ZWRfYXQsLWlkIiwidiI6WyInIE9SIDE9MSAtLSIsMV19.AAAAAAAAAAAAAAAAAAAAAA",
        "a.b.c",
        "é.é",
        "x" * 5000,
    ],
    ids=["sql", "forged-payload", "three-parts", "non-ascii", "huge"],
)
async def test_forged_or_altered_cursors_are_refused(db: Database, cursor: str) -> None:
    service = GadgetService(db)
    await make(service)
    with pytest.raises(ValidationProblem) as raised:
        await service.page(cursor=cursor)
    assert "not a cursor this list gave out" in first_message(raised.value)


async def test_cursor_from_another_sort_or_altered_is_refused(db: Database) -> None:
    service = GadgetService(db)
    for n in range(3):
        await make(service, f"g{n}", n)
    cursor = (await service.page(sort="price", limit=1)).next_cursor
    assert cursor is not None
    assert [g.name for g in (await service.page(sort="price", limit=1, cursor=cursor)).items] == [
        "g1"
    ]
    with pytest.raises(ValidationProblem) as raised:
        await service.page(sort="name", limit=1, cursor=cursor)
    assert "made for another sort" in first_message(raised.value)
    body, tag = cursor.split(".")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    with pytest.raises(ValidationProblem) as raised:
        await service.page(sort="price", limit=1, cursor=f"{flipped}.{tag}")
    assert "bad signature" in first_message(raised.value)


async def test_read_only_unit_refuses_writes(db: Database) -> None:
    with pytest.raises(ReadOnlyUnitError):
        async with db.session(read_only=True) as session:
            session.add(Gadget(name="sneaky", price=1))
    with pytest.raises(ReadOnlyUnitError):  # raw SQL: refused by the database itself
        async with db.session(read_only=True) as session:
            await session.execute(
                text("INSERT INTO gadgets (name, price, status, version) VALUES ('raw', 1, 'x', 1)")
            )
    assert await GadgetService(db).count() == 0
    await GadgetService(db).create({"name": "allowed", "price": 1})  # write units still write
    assert await GadgetService(db).count() == 1


async def test_unit_rolls_back_when_its_block_raises(db: Database) -> None:
    async def add_then_fail() -> None:
        async with db.session() as session:
            session.add(Gadget(name="temporary", price=1))
            await session.flush()
            raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError, match="changed my mind"):
        await add_then_fail()
    assert await GadgetService(db).count() == 0


async def test_tables_survive_the_whole_suite_of_payloads(db: Database) -> None:
    async with db.session(read_only=True) as session:
        assert (await session.execute(text("SELECT COUNT(*) FROM gadgets"))).scalar() == 0


@pytest.mark.parametrize(
    ("values", "refused_by"),
    [
        ({"name": "big", "price": 2**31}, {"postgresql"}),
        ({"name": "huge", "price": 2**64}, {"postgresql", "sqlite"}),
        ({"name": "x" * 101, "price": 1}, {"postgresql"}),
    ],
    ids=["past-integer", "past-64-bits", "too-long"],
)
async def test_a_value_that_does_not_fit_its_column_is_422(
    db: Database, values: dict[str, object], refused_by: set[str]
) -> None:
    """What a hand-written model lets through the database refuses: a 422, never a 500."""
    service = GadgetService(db)
    kind = "sqlite" if db.is_sqlite else "postgresql"
    if kind not in refused_by:
        await service.create(values)  # SQLite keeps what it is given
        return
    with pytest.raises(InvalidValueError) as refused:
        await service.create(values)
    assert refused.value.status == 422
    assert await service.count() == 0


FIXED_SQL = {"SELECT 1", "BEGIN", "BEGIN IMMEDIATE", "PRAGMA query_only=0", "PRAGMA query_only=1"}


async def test_values_reach_the_database_only_as_bound_parameters(db: Database) -> None:
    """Every value a client can send is a bound parameter, never SQL text; and the only
    SQL text not built by SQLAlchemy is a fixed statement."""
    marker = "zq9marker"
    statements: list[tuple[str, bool]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        compiled = getattr(context, "compiled", None)
        written = compiled is None or isinstance(compiled.statement, TextClause)
        statements.append((statement, written))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        service = GadgetService(db)
        first = await service.create({"name": f"{marker}-a", "price": 123456789})
        await service.create({"name": f"{marker}-b", "price": 123456790, "rating": 4.25})
        filters: list[dict[str, object]] = [
            {"name": f"{marker}-a"},
            {"name__contains": marker},
            {"name__ne": f"{marker}-b", "price__gte": 987654321},
            {"status__in": f"{marker}-x,{marker}-y"},
            {"rating__lt": 7.625, "created_at__gte": "2001-02-03T04:05:06Z"},
        ]
        for query in filters:
            await service.page(query)
        page = await service.page({"name__contains": marker}, sort="name", limit=1)
        assert page.next_cursor is not None
        await service.page({"name__contains": marker}, sort="name", cursor=page.next_cursor)
        await service.update(first.id, {"name": f"{marker}-c"}, expected_version=1)
        await service.delete(first.id)
        await db.check()
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)

    assert len(statements) > 10
    for statement, _ in statements:
        for value in (marker, "123456789", "987654321", "4.25", "7.625", "2001"):
            assert value not in statement, statement
    assert {statement for statement, written in statements if written} <= FIXED_SQL


async def test_cursors_are_signed_under_a_key_derived_from_the_secret_key() -> None:
    def codec(secret: str) -> CursorCodec:
        settings = Settings(env="test", database_url="sqlite:///:memory:", secret_key=secret)
        return create_app(settings).state.database.cursors  # type: ignore[no-any-return]

    cursor = codec("k" * 40).encode("name,id", ["anvil", 1])
    assert codec("k" * 40).decode(cursor, "name,id") == ["anvil", 1]
    with pytest.raises(ValidationProblem) as raised:
        codec("another key, as long as the first").decode(cursor, "name,id")
    assert "bad signature" in first_message(raised.value)
    # The key is derived: an HMAC-SHA256 under SECRET_KEY itself is no cursor tag, so a
    # signature made with SECRET_KEY for another purpose never doubles as one.
    body = cursor.split(".")[0]
    payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    naive = hmac.new(b"k" * 40, payload, hashlib.sha256).digest()[:16]
    forged = f"{body}.{base64.urlsafe_b64encode(naive).rstrip(b'=').decode()}"
    with pytest.raises(ValidationProblem):
        codec("k" * 40).decode(forged, "name,id")


@pytest.mark.parametrize(
    ("sort", "values"),
    [
        ("price", [2**31, 1]),
        ("price", [2**64, 1]),
        ("price", ["many", 1]),
        ("rating", [float("inf"), 1]),
        ("created_at", ["9999-12-31T23:59:59-14:00", 1]),
        ("name", ["anvil", 2**63]),
    ],
    ids=["past-integer", "past-64-bits", "word", "infinity", "past-9999-in-utc", "id-past-64-bits"],
)
async def test_a_signed_cursor_value_out_of_its_columns_range_is_422(
    db: Database, sort: str, values: list[object]
) -> None:
    """Cursor values are typed by the adapters of their columns, as filter values are:
    even a cursor signed with the app's key cannot carry a value the database refuses."""
    service = GadgetService(db)
    for n in range(2):
        await make(service, f"g{n}", n)
    real = (await service.page(sort=sort, limit=1)).next_cursor
    assert real is not None
    body = real.split(".")[0]
    spec = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["s"]
    forged = db.cursors.encode(spec, values)
    with pytest.raises(ValidationProblem) as raised:
        await service.page(sort=sort, limit=1, cursor=forged)
    assert raised.value.extensions["errors"][0]["field"] == "cursor"
