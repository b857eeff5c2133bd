from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from stackkit import Settings, create_app
from stackkit.cache import MemoryStore, RedisClusterStore, RedisStore, Store
from stackkit.db import Database, Model
from stackkit.settings import ENV_FILE_VARIABLE
from stackkit.testing import RedisClusterProcess, temporary_database, unique_key_prefix
from stackkit.testing.settings import clear_settings_environment
from tests.db.models import TABLES
from tests.helpers import StartServer, opened, running, smtp_servers


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


STORE_TIMEOUT = 5.0
"""Seconds the test stores wait to connect and for a reply. The tests that count or
compare run dozens of commands at once, which open as many connections; on a loaded
machine (four test workers on two cores) that can pass the stores' production default
of 0.5 s. The tests of timeouts and outages build stores of their own."""

clear_settings_environment()  # a developer's REDIS_URL is not the tests'
del os.environ[ENV_FILE_VARIABLE]  # the tests of `.env` files write their own
os.environ["STACKKIT_REDIS_TIMEOUT"] = str(STORE_TIMEOUT)
"""The same for the stores of every app a test builds on Redis (`Settings.redis_timeout`),
and of the apps and commands it starts in a process of their own. No other setting
comes from the shell."""


@pytest.fixture(params=["memory", "redis", "cluster"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A store of each kind, under a key prefix of this test's own, emptied afterwards."""
    prefix = unique_key_prefix()
    if request.param == "memory":
        yield MemoryStore(prefix=prefix)
        return
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        redis_store: RedisStore = RedisStore(url, prefix=prefix, timeout=STORE_TIMEOUT)
    else:
        url = request.getfixturevalue("redis_cluster_url")
        redis_store = RedisClusterStore(url, prefix=prefix, timeout=STORE_TIMEOUT)
    async with opened(redis_store):
        yield redis_store


@pytest.fixture
async def redis_store(redis_url: str) -> AsyncIterator[RedisStore]:
    """A store on Redis under a key prefix of this test's own, emptied afterwards."""
    store = RedisStore(redis_url, prefix=unique_key_prefix(), timeout=STORE_TIMEOUT)
    async with opened(store):
        yield store


@pytest.fixture(params=["memory", "redis"])
async def cache_store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A response cache's store: in memory, or on Redis under a prefix of its own."""
    if request.param == "memory":
        yield MemoryStore()
        return
    url = request.getfixturevalue("redis_url")
    store = RedisStore(url, prefix=unique_key_prefix(), timeout=STORE_TIMEOUT)
    async with opened(store):
        yield store


@pytest.fixture
def cluster_process() -> Iterator[RedisClusterProcess]:
    """A throwaway cluster of the test's own, which it may stop."""
    with running(RedisClusterProcess()) as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A plain URL of an empty database: a SQLite file, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.db'}"
        return
    with temporary_database(request.getfixturevalue("postgres_server_url")) as url:
        yield url


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """Start a real SMTP server on 127.0.0.1 (`Inbox`, `port`, SMTP options); stopped
    afterwards."""
    with smtp_servers() as start:
        yield start
