"""Database against a real streaming replica: which server answers each unit of work.

Each test gets a throwaway primary and replica of its own (``postgres_replication``),
so it may stop the replica. Checks that must not see an earlier write's
read-your-writes flag run as a new request would: in a task with a fresh context.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any, NamedTuple, TypeVar

import pytest
from sqlalchemy import insert, select, text, update
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.testclient import TestClient

from stackkit import Controller, Settings
from stackkit.db import Database, Model, ReadOnlyUnitError
from stackkit.testing import PostgresReplication, wait_until
from tests.db.models import TABLES, Gadget
from tests.helpers import UserFromHeader

T = TypeVar("T")

CONNECT_TIMEOUT = 1.0
RETRY_AFTER = 0.5


class Server(NamedTuple):
    """Who answered a query: a replica (in recovery) or the primary, and on which port."""

    in_recovery: bool
    port: int


@asynccontextmanager
async def replicated_database(
    replication: PostgresReplication, replica_urls: Sequence[str]
) -> AsyncIterator[Database]:
    """An open Database on the primary and `replica_urls`, with the test tables on both."""
    database = Database(
        replication.primary.url,
        replica_urls=replica_urls,
        connect_timeout=CONNECT_TIMEOUT,
        replica_retry_after=RETRY_AFTER,
    )
    async with database as db:
        async with db.engine.begin() as connection:
            await connection.run_sync(Model.metadata.create_all, tables=TABLES)
        await asyncio.to_thread(replication.replica.wait_for_replay)
        yield db


@pytest.fixture
async def db(postgres_replication: PostgresReplication) -> AsyncIterator[Database]:
    """Here, instead of the shared `db`: a Database on a primary and its replica."""
    async with replicated_database(postgres_replication, [postgres_replication.replica.url]) as db:
        yield db


def primary_of(replication: PostgresReplication) -> Server:
    return Server(in_recovery=False, port=replication.primary.port)


def replica_of(replication: PostgresReplication) -> Server:
    return Server(in_recovery=True, port=replication.replica.port)


async def as_new_request(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` in a task with a context of its own, as the server runs each request."""
    return await asyncio.create_task(work, context=contextvars.Context())


async def answering_server(db: Database, *, read_only: bool) -> Server:
    async with db.session(read_only=read_only) as session:
        query = text("SELECT pg_is_in_recovery(), inet_server_port()")
        in_recovery, port = (await session.execute(query)).one()
    return Server(bool(in_recovery), int(port))


async def add_gadget(db: Database, name: str) -> None:
    async with db.session() as session:
        session.add(Gadget(name=name, price=10))


async def eventually(condition: Callable[[], Awaitable[bool]], *, within: float) -> None:
    """Await `condition` until it is true; fail if `within` seconds pass first."""
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, f"condition not met within {within:g} s"
        await asyncio.sleep(0.02)


async def test_row_written_on_the_primary_is_read_on_the_replica_once_replicated(
    db: Database, postgres_replication: PostgresReplication
) -> None:
    await as_new_request(add_gadget(db, "lamp"))

    async def read_on_replica() -> tuple[Server, list[str]]:
        async with db.session(read_only=True) as session:
            names = list((await session.scalars(select(Gadget.name))).all())
        return await answering_server(db, read_only=True), names

    async def replicated() -> bool:
        server, names = await as_new_request(read_on_replica())
        assert server == replica_of(postgres_replication)
        return names == ["lamp"]

    await eventually(replicated, within=10)


async def test_read_unit_answers_from_the_replica_and_write_unit_from_the_primary(
    db: Database, postgres_replication: PostgresReplication
) -> None:
    on_read = await as_new_request(answering_server(db, read_only=True))
    on_write = await as_new_request(answering_server(db, read_only=False))

    assert on_read == replica_of(postgres_replication)
    assert on_write == primary_of(postgres_replication)


async def test_read_unit_after_a_committed_write_in_the_same_task_goes_to_the_primary(
    db: Database, postgres_replication: PostgresReplication
) -> None:
    async def request() -> tuple[Server, Server]:
        before = await answering_server(db, read_only=True)
        await add_gadget(db, "kettle")
        after = await answering_server(db, read_only=True)
        return before, after

    before, after = await as_new_request(request())
    next_request = await as_new_request(answering_server(db, read_only=True))

    assert before == replica_of(postgres_replication)
    assert after == primary_of(postgres_replication)
    assert next_request == replica_of(postgres_replication)


async def test_any_committed_write_unit_sends_later_reads_to_the_primary(
    db: Database, postgres_replication: PostgresReplication
) -> None:
    """Whatever a write unit did (ORM, raw SQL, or only reads), the task's later reads
    go to the primary: telling them apart would cost a round trip per unit."""

    async def request() -> Server:
        await answering_server(db, read_only=False)  # a write unit that only reads
        return await answering_server(db, read_only=True)

    assert await as_new_request(request()) == primary_of(postgres_replication)


async def test_read_unit_after_a_raw_sql_write_in_the_same_task_goes_to_the_primary(
    db: Database, postgres_replication: PostgresReplication
) -> None:
    raw_insert = text(
        "INSERT INTO gadgets (name, price, status, created_at, updated_at, version)"
        " VALUES ('raw', 1, 'draft', now(), now(), 1)"
    )

    async def request() -> Server:
        async with db.session() as session:
            await session.execute(raw_insert)
        return await answering_server(db, read_only=True)

    assert await as_new_request(request()) == primary_of(postgres_replication)


async def test_read_units_take_the_replicas_in_turn(
    postgres_replication: PostgresReplication,
) -> None:
    # Two URLs for the one replica, told apart by the application name they connect with.
    urls = [f"{postgres_replication.replica.url}?application_name=replica-{n}" for n in (0, 1)]

    async def application_name(db: Database) -> str:
        async with db.session(read_only=True) as session:
            return str((await session.execute(text("SHOW application_name"))).scalar_one())

    async with replicated_database(postgres_replication, urls) as db:
        names = [await as_new_request(application_name(db)) for _ in range(4)]

    assert names == ["replica-0", "replica-1", "replica-0", "replica-1"]


async def test_reads_fall_back_to_the_primary_while_the_replica_is_down_then_return(
    db: Database, postgres_replication: PostgresReplication, caplog: pytest.LogCaptureFixture
) -> None:
    primary, replica = primary_of(postgres_replication), replica_of(postgres_replication)
    assert await as_new_request(answering_server(db, read_only=True)) == replica
    caplog.set_level(logging.WARNING, logger="stackkit.db")

    postgres_replication.replica.stop(keep_data=True)
    first = await as_new_request(answering_server(db, read_only=True))
    skipped = [r for r in caplog.records if r.getMessage().startswith("Read replica 0 unavailable")]
    caplog.clear()
    started = time.monotonic()
    later = await as_new_request(answering_server(db, read_only=True))
    later_took = time.monotonic() - started

    assert first == primary
    assert len(skipped) == 1
    assert later == primary
    assert later_took < CONNECT_TIMEOUT / 2
    assert caplog.records == []  # marked down: not even tried

    postgres_replication.replica.start()

    async def back_on_replica() -> bool:
        return await as_new_request(answering_server(db, read_only=True)) == replica

    await eventually(back_on_replica, within=10)


async def test_write_in_a_read_only_unit_raises_and_writes_nothing(db: Database) -> None:
    async def count_gadgets() -> int:
        async with db.session() as session:  # on the primary: nothing to wait for
            return len((await session.scalars(select(Gadget.id))).all())

    with pytest.raises(ReadOnlyUnitError, match="read-only"):
        async with db.session(read_only=True) as session:
            session.add(Gadget(name="added", price=1))
    with pytest.raises(ReadOnlyUnitError, match="read-only"):
        async with db.session(read_only=True) as session:
            await session.execute(insert(Gadget).values(name="inserted", price=1))
    with pytest.raises(ReadOnlyUnitError, match="read-only"):
        async with db.session(read_only=True) as session:
            await session.execute(update(Gadget).values(price=2))
    raw_insert = text(
        "INSERT INTO gadgets (name, price, status, created_at, updated_at, version)"
        " VALUES ('raw', 1, 'draft', now(), now(), 1)"
    )
    with pytest.raises(ReadOnlyUnitError, match="read-only"):  # refused by the server
        async with db.session(read_only=True) as session:
            await session.execute(raw_insert)

    assert await count_gadgets() == 0


async def test_replica_that_does_not_answer_is_skipped_until_retry_after(
    postgres_url: str,
) -> None:
    with socket.socket() as silent:  # accepts connections, never answers them
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        replica_url = f"postgresql://postgres@127.0.0.1:{silent.getsockname()[1]}/postgres"
        database = Database(
            postgres_url,
            replica_urls=[replica_url],
            connect_timeout=CONNECT_TIMEOUT,
            replica_retry_after=RETRY_AFTER,
        )
        async with database as db:
            first = await as_new_request(answering_server(db, read_only=True))
            started = time.monotonic()
            later = await as_new_request(answering_server(db, read_only=True))
            later_took = time.monotonic() - started

    assert not first.in_recovery
    assert not later.in_recovery
    assert later_took < CONNECT_TIMEOUT / 2


def replicated_settings(replication: PostgresReplication, **overrides: Any) -> Settings:
    return Settings(
        env="test",
        database_url=replication.primary.url,
        database_replica_urls=[replication.replica.url],
        **overrides,
    )


def server_controller() -> Controller:
    """`GET /api/{namespace}/server`: whether a read unit ran on a replica;
    `POST /api/gadgets`: a write unit, 201."""
    api = Controller(public=True)

    @api.get("/api/{namespace}/server", cache_ttl=0)
    async def server(request: Request) -> dict[str, bool]:
        answered = await answering_server(request.app.state.database, read_only=True)
        return {"replica": answered.in_recovery}

    @api.post("/api/gadgets", status_code=201)
    async def write(request: Request) -> dict[str, bool]:
        await answering_server(request.app.state.database, read_only=False)  # a write unit
        return {"written": True}

    @api.post("/api/gadgets/checks")
    async def check_then_write(request: Request) -> dict[str, bool]:
        answered = await answering_server(request.app.state.database, read_only=True)
        return {"replica": answered.in_recovery}

    return api


def test_after_a_write_its_writer_and_its_namespace_read_from_the_primary(
    postgres_replication: PostgresReplication, make_client: Callable[..., TestClient]
) -> None:
    settings = replicated_settings(postgres_replication, database_replica_lag_window=1.0)
    client = make_client(
        settings, controllers=[server_controller()], middleware=[Middleware(UserFromHeader)]
    )
    ada, bob = {"X-Test-User": "ada"}, {"X-Test-User": "bob"}

    def on_replica(namespace: str, headers: dict[str, str]) -> bool:
        answer = client.get(f"/api/{namespace}/server", headers=headers)
        assert answer.status_code == 200, answer.text
        return bool(answer.json()["replica"])

    assert on_replica("gadgets", ada)
    assert on_replica("widgets", ada)
    # A write request checks what it must against the primary, before it writes.
    cy = {"X-Test-User": "cy"}
    assert client.post("/api/gadgets/checks", headers=cy).json() == {"replica": False}
    assert client.post("/api/gadgets", headers=ada).status_code == 201

    assert not on_replica("gadgets", ada)  # the writer, in the namespace written
    assert not on_replica("widgets", ada)  # the writer, anywhere
    assert not on_replica("gadgets", bob)  # anyone, in the namespace written
    assert on_replica("widgets", bob)  # others elsewhere: the replica
    wait_until(
        lambda: on_replica("gadgets", ada) and on_replica("widgets", ada),
        timeout=10,
        description="the marks did not expire",
    )


def test_reads_go_to_the_primary_while_the_marks_cannot_be_read(
    postgres_replication: PostgresReplication, make_client: Callable[..., TestClient]
) -> None:
    # Nothing listens on port 1: every command fails at once.
    settings = replicated_settings(postgres_replication, redis_url="redis://127.0.0.1:1/0")
    client = make_client(settings, controllers=[server_controller()])
    answer = client.get("/api/gadgets/server")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"replica": False}


def test_without_a_window_writes_still_check_against_the_primary(
    postgres_replication: PostgresReplication, make_client: Callable[..., TestClient]
) -> None:
    settings = replicated_settings(postgres_replication, database_replica_lag_window=0)
    client = make_client(settings, controllers=[server_controller()])
    assert client.post("/api/gadgets/checks").json() == {"replica": False}
    assert client.post("/api/gadgets").status_code == 201
    assert client.get("/api/gadgets/server").json() == {"replica": True}  # no marks
