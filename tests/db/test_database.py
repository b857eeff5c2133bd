from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from stackkit.db import Database, DatabaseUnavailable
from stackkit.testing import PostgresProcess, skip_or_fail


@pytest.fixture
def postgres_process() -> Iterator[PostgresProcess]:
    """A throwaway PostgreSQL of this test's own, which it may stop and start."""
    reason = PostgresProcess.unavailable_reason()
    if reason:
        skip_or_fail(reason)
    with PostgresProcess() as server:
        yield server


async def select_one(db: Database) -> int:
    async with db.session(read_only=True) as session:
        return int((await session.execute(text("SELECT 1"))).scalar_one())


async def test_unreachable_database_is_a_prompt_503() -> None:
    async with Database("postgresql://postgres@127.0.0.1:1/none", connect_timeout=1) as db:
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable) as raised:
            await select_one(db)
        assert time.monotonic() - started < 5
    assert raised.value.status == 503
    assert raised.value.headers["Retry-After"] == "5"


async def test_pool_recovers_when_the_database_returns(postgres_process: PostgresProcess) -> None:
    async with Database(postgres_process.url, connect_timeout=1) as db:
        assert await select_one(db) == 1  # the pool now holds a connection to the server
        postgres_process.stop(keep_data=True)
        with pytest.raises(DatabaseUnavailable):
            await select_one(db)
        postgres_process.start()

        async def answers() -> bool:
            try:
                return await select_one(db) == 1
            except DatabaseUnavailable:
                return False

        await eventually(answers, within=15)


async def eventually(condition: Callable[[], Awaitable[bool]], *, within: float) -> None:
    """Await `condition` until it is true; fail if `within` seconds pass first."""
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_statement_timeout_cancels_a_long_query(postgres_url: str) -> None:
    async with Database(postgres_url, statement_timeout=0.2) as db:
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable):
            async with db.session(read_only=True) as session:
                await session.execute(text("SELECT pg_sleep(5)"))
        assert time.monotonic() - started < 3
        assert await select_one(db) == 1  # the connection is usable again


async def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'app.db'}")
    async with database as db, db.session(read_only=True) as session:
        assert (await session.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1


class Statements:
    """The statements SQLite ran on the database's connections, as SQLite saw them, and
    the calls handed to the driver's thread (aiosqlite runs each one there)."""

    def __init__(self, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[str] = []
        self.hand_overs = 0

        def on_connect(dbapi_connection: Any, record: Any) -> None:
            dbapi_connection.run_async(lambda sqlite: sqlite.set_trace_callback(self.seen.append))

        event.listen(db.engine.sync_engine, "connect", on_connect)
        hand_over: Any = aiosqlite.Connection._execute

        async def counted(connection: Any, function: Any, *args: Any, **kwargs: Any) -> Any:
            self.hand_overs += 1
            return await hand_over(connection, function, *args, **kwargs)

        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)

    def taken(self) -> tuple[list[str], int]:
        """The statements since the last call, by their first two words, and the
        hand-overs."""
        taken = [" ".join(statement.split()[:2]).rstrip(";") for statement in self.seen]
        hand_overs, self.hand_overs = self.hand_overs, 0
        self.seen.clear()
        return taken, hand_overs


async def _read(session: AsyncSession) -> None:
    await session.execute(text("SELECT 1"))


async def _write(session: AsyncSession) -> None:
    await session.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))


async def _fail(session: AsyncSession) -> None:
    await session.execute(text("SELECT 1"))
    raise LookupError("the unit's block fails")


READ_BEGIN = ["PRAGMA query_only=1", "BEGIN"]
WRITE_BEGIN = ["PRAGMA query_only=0", "BEGIN IMMEDIATE"]


@pytest.mark.parametrize(
    ("read_only", "body", "expected", "hand_overs"),
    [
        (True, _read, [*READ_BEGIN, "SELECT 1", "COMMIT"], 1 + 4 + 1),
        (False, _write, [*WRITE_BEGIN, "CREATE TABLE", "COMMIT"], 1 + 3 + 1),
        (True, _fail, [*READ_BEGIN, "SELECT 1", "ROLLBACK"], 1 + 4 + 1),
        (False, _fail, [*WRITE_BEGIN, "SELECT 1", "ROLLBACK"], 1 + 4 + 1),
    ],
    ids=["read", "write", "read-fails", "write-fails"],
)
async def test_a_sqlite_unit_runs_its_statements_and_nothing_else(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    read_only: bool,
    body: Callable[[AsyncSession], Awaitable[None]],
    expected: list[str],
    hand_overs: int,
) -> None:
    """Both pragma and BEGIN in one hand-over, no ping, no second rollback on the way
    back to the pool: each hand-over to SQLite's thread costs about as much as the rest
    of a small query (SQLAlchemy's cursor makes 3 or 4 for a statement)."""
    async with Database(f"sqlite:///{tmp_path / 'app.db'}") as db:
        statements = Statements(db, monkeypatch)
        async with db.session(read_only=read_only) as session:
            await _read(session)  # connected: the pool holds one connection
        statements.taken()
        for _ in range(2):
            with contextlib.suppress(LookupError):
                async with db.session(read_only=read_only) as session:
                    await body(session)
            assert statements.taken() == (expected, hand_overs)


async def test_a_sqlite_writer_waits_for_the_lock_then_gets_a_503(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    async with Database(f"sqlite:///{path}", connect_timeout=0.3) as db:
        async with db.session() as session:
            await _write(session)
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process's writer, holding the lock
        try:
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable):
                async with db.session() as session:
                    await _write(session)
            assert 0.25 <= time.monotonic() - started < 3
            assert await select_one(db) == 1  # readers are not held up (WAL)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        async with db.session() as session:  # the connection went back usable
            await session.execute(text("INSERT INTO t (x) VALUES (1)"))


async def test_units_on_an_in_memory_database_take_its_connection_in_turn() -> None:
    """One connection holds the whole database: a unit that fails while another is
    open must not roll back the other's writes, and a reader waits for the writer."""
    async with Database("sqlite:///:memory:", pool_timeout=5) as db:
        async with db.session() as session:
            await session.execute(text("CREATE TABLE t (x INTEGER)"))
        writing = asyncio.Event()

        async def writer() -> None:
            async with db.session() as session:
                await session.execute(text("INSERT INTO t (x) VALUES (1)"))
                writing.set()
                for _ in range(20):  # give the failing unit every chance to run meanwhile
                    await asyncio.sleep(0)
                await session.execute(text("INSERT INTO t (x) VALUES (2)"))

        async def failing() -> None:
            await writing.wait()
            with contextlib.suppress(LookupError):
                async with db.session() as session:
                    await session.execute(text("INSERT INTO t (x) VALUES (3)"))
                    raise LookupError

        async def reader() -> list[int]:
            await writing.wait()
            async with db.session(read_only=True) as session:
                return list((await session.execute(text("SELECT x FROM t ORDER BY x"))).scalars())

        _, _, seen = await asyncio.gather(writer(), failing(), reader())
        assert seen == [1, 2]
        async with db.session(read_only=True) as session:
            rows = (await session.execute(text("SELECT x FROM t ORDER BY x"))).scalars()
            assert list(rows) == [1, 2]


class Pings:
    """Counts the pings of the primary's connections as they leave the pool."""

    def __init__(self, db: Database) -> None:
        self.count = 0
        dialect = db.engine.sync_engine.dialect
        ping = dialect.do_ping

        def counted(dbapi_connection: Any) -> bool:
            self.count += 1
            return ping(dbapi_connection)

        dialect.do_ping = counted  # type: ignore[method-assign]


@pytest.mark.parametrize(("idle_after", "pings"), [(60.0, 0), (0.0, 4)])
async def test_a_postgres_connection_is_pinged_only_after_sitting_idle(
    postgres_url: str, idle_after: float, pings: int
) -> None:
    async with Database(postgres_url, ping_idle_after=idle_after) as db:
        counted = Pings(db)
        for _ in range(5):  # the first unit's connection is new: nothing to ping
            assert await select_one(db) == 1
        assert counted.count == pings


async def test_an_idle_connection_to_a_restarted_server_is_replaced_unseen(
    postgres_process: PostgresProcess,
) -> None:
    async with Database(postgres_process.url, connect_timeout=1, ping_idle_after=0) as db:
        assert await select_one(db) == 1  # the pool now holds a connection to the server
        postgres_process.restart()  # which ends it
        assert await select_one(db) == 1  # pinged, found dead, replaced: no 503
