from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from stackkit import Settings, create_app
from stackkit.db import Database, Model
from tests.db.models import TABLES


def _settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"env": "test", "database_url": "sqlite:///:memory:"}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def make_settings() -> Callable[..., Settings]:
    """Settings for tests: the `test` environment and an in-memory SQLite database."""
    return _settings


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """Build an app (test settings unless given) and return a started TestClient for it."""
    clients: list[TestClient] = []

    def make(settings: Settings | None = None, **app_options: Any) -> TestClient:
        app = create_app(settings or _settings(), **app_options)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """An open Database on SQLite or on a real PostgreSQL, with the test tables
    (tests/db/models.py), dropped afterwards."""
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
