from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stackkit.db import Database, Model
from tests.db.models import TABLES


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """An open Database on SQLite or on a real PostgreSQL, with the test tables, dropped after."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    async with Database(url, cursor_secret="test-cursor-secret") as database:
        async with database.engine.begin() as connection:
            await connection.run_sync(Model.metadata.drop_all, tables=TABLES)
            await connection.run_sync(Model.metadata.create_all, tables=TABLES)
        yield database
        async with database.engine.begin() as connection:
            await connection.run_sync(Model.metadata.drop_all, tables=TABLES)
