from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from stackkit import Settings, create_app


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
