"""`Model`: times in UTC from the moment they are set, ids never reused on SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Table
from sqlalchemy.orm import Mapped, mapped_column

from stackkit.db import Database, Model, Repository


class Meeting(Model):
    __tablename__ = "model_test_meetings"
    starts_at: Mapped[datetime] = mapped_column()


TABLE = Meeting.__table__
assert isinstance(TABLE, Table)


@pytest.fixture
async def meetings(db: Database) -> AsyncIterator[Database]:
    async with db.engine.begin() as connection:
        await connection.run_sync(TABLE.create)
    yield db
    async with db.engine.begin() as connection:
        await connection.run_sync(TABLE.drop)


@pytest.mark.parametrize("offset", [2, -5, 0], ids=["east", "west", "utc"])
async def test_a_created_row_shows_its_times_as_a_later_read_does(
    meetings: Database, offset: int
) -> None:
    given = datetime(2026, 12, 4, 12, 30, tzinfo=timezone(timedelta(hours=offset)))
    async with meetings.session() as session:
        created = await Repository.for_model(Meeting)(session).create({"starts_at": given})
    async with meetings.session(read_only=True) as session:
        read = await Repository.for_model(Meeting)(session).get(created.id)
    assert read is not None
    assert created.starts_at == read.starts_at == given
    assert created.starts_at.isoformat() == read.starts_at.isoformat()
    assert created.starts_at.utcoffset() == timedelta(0)


def test_a_naive_time_is_kept_for_the_database_to_refuse() -> None:
    naive = datetime(2026, 12, 4, 12, 30)
    assert Meeting(starts_at=naive).starts_at == naive
    assert Meeting(starts_at=naive.replace(tzinfo=UTC)).starts_at.tzinfo is UTC
