from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

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
