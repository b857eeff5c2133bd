"""Fixtures: the app on a database of its own per test, migrated to the latest revision.

On SQLite by default. With `STACKKIT_TEST_DATABASE_URL` (a PostgreSQL server) and
`STACKKIT_TEST_REDIS_URL` set, on a fresh PostgreSQL database and a Redis key
prefix of the test's own instead; stackkit's pytest plugin provides both.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from stackkit import Settings
from stackkit.db.migrations import alembic_config, upgrade
from stackkit.testing import (
    clear_settings_environment,
    create_database,
    delete_keys,
    drop_database,
    isolated_settings,
    unique_key_prefix,
)
from starlette.testclient import TestClient

# The app module builds an app when imported: from no setting of the shell or `.env`.
clear_settings_environment()

from tracker.main import build_app  # noqa: E402
from tracker.models import ADMIN  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery staple"


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Settings]:
    if not os.environ.get("STACKKIT_TEST_DATABASE_URL"):
        yield isolated_settings(env="test", database_url=f"sqlite:///{tmp_path / 'test.db'}")
        return
    server_url = request.getfixturevalue("postgres_server_url")
    redis_url = request.getfixturevalue("redis_url")
    database_url = create_database(server_url)
    prefix = unique_key_prefix()
    try:
        yield isolated_settings(
            env="test", database_url=database_url, redis_url=redis_url, cache_prefix=prefix
        )
    finally:
        drop_database(server_url, database_url.rsplit("/", 1)[1])
        delete_keys(redis_url, prefix)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A client of the app, over https (the refresh cookie is Secure)."""
    upgrade(alembic_config(ROOT / "migrations", settings.database_url))
    with TestClient(build_app(settings), base_url="https://testserver") as client:
        yield client


@pytest.fixture
def sign_in(client: TestClient) -> Callable[..., dict[str, str]]:
    """Register a user (once), give them `roles` if any, and sign them in: their
    `Authorization` header."""

    def sign_in(email: str, roles: Sequence[str] = ()) -> dict[str, str]:
        account = {"email": email, "password": PASSWORD}
        registered = client.post("/api/auth/register", json=account)
        if roles:
            assert registered.status_code == 201, registered.text
            app: Any = client.app
            users = app.state.auth.users(app.state.database)
            assert client.portal is not None
            client.portal.call(users.set_roles, registered.json()["id"], list(roles))
        response = client.post("/api/auth/login", json=account)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return sign_in


@pytest.fixture
def admin(sign_in: Callable[..., dict[str, str]]) -> dict[str, str]:
    """The headers of a signed-in admin, who manages projects."""
    return sign_in("root@example.com", roles=[ADMIN])


@pytest.fixture
def member(sign_in: Callable[..., dict[str, str]]) -> dict[str, str]:
    """The headers of a signed-in member (no role)."""
    return sign_in("ada@example.com")
