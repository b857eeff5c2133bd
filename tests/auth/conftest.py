"""Apps with authentication on, on the embedded defaults or on PostgreSQL and Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from stackkit import Settings, create_app
from stackkit.auth import AuthConfig, MemoryMailBackend, PasswordHasher
from stackkit.auth.tables import create_account_tables
from stackkit.auth.user import User
from stackkit.db import Model
from stackkit.testing import create_database, delete_keys, drop_database, unique_key_prefix

PASSWORD = "correct horse battery staple"
# Cheap parameters: these tests are about the protocol, not the cost of a guess.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=64)


async def create_user_table(app: Starlette) -> None:
    """The user table and the auth building block's own (the audit log)."""
    async with app.state.database.engine.begin() as connection:
        await connection.run_sync(Model.metadata.create_all, tables=[User.__table__])
    await create_account_tables(app.state.database.engine)


@pytest.fixture
def mail() -> MemoryMailBackend:
    return MemoryMailBackend()


@pytest.fixture(params=["embedded", "postgresql+redis"])
def service_settings(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Settings naming the embedded defaults (SQLite, memory), or a PostgreSQL database
    and a Redis key prefix of this test's own, removed afterwards."""
    if request.param == "embedded":
        yield {"database_url": "sqlite:///:memory:"}
        return
    server_url = request.getfixturevalue("postgres_server_url")
    redis_url = request.getfixturevalue("redis_url")
    database_url = create_database(server_url)
    prefix = unique_key_prefix()
    try:
        yield {"database_url": database_url, "redis_url": redis_url, "cache_prefix": prefix}
    finally:
        drop_database(server_url, database_url.rsplit("/", 1)[1])
        delete_keys(redis_url, prefix)


@pytest.fixture
def make_auth_client(mail: MemoryMailBackend) -> Iterator[Callable[..., TestClient]]:
    """Build an app with `user_model=User` and return a started client for it, over
    https (the refresh cookie is `Secure`). Mail goes to the `mail` fixture's outbox,
    unless `mail_from_settings` (then `STACKKIT_SMTP_URL` decides)."""
    clients: list[TestClient] = []

    def make(
        settings: Settings | None = None,
        *,
        config: AuthConfig | None = None,
        address: str = "testclient",
        mail_from_settings: bool = False,
        **app_options: Any,
    ) -> TestClient:
        settings = settings or Settings(env="test", database_url="sqlite:///:memory:")
        config = config or AuthConfig(User)
        if not mail_from_settings:
            config = replace(config, mail=config.mail or mail)
        config = replace(config, hasher=FAST_HASHER)
        app = create_app(
            settings,
            auth=config,
            startup=[create_user_table, *app_options.pop("startup", [])],
            **app_options,
        )
        client = TestClient(
            app,
            base_url="https://testserver",
            raise_server_exceptions=False,
            client=(address, 50000),
        )
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_auth_client: Callable[..., TestClient]) -> TestClient:
    """An app on the embedded defaults."""
    return make_auth_client()


def register(client: TestClient, email: str = "ada@example.com", password: str = PASSWORD) -> Any:
    response = client.post("/api/auth/register", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    return response.json()


def login(client: TestClient, email: str = "ada@example.com", password: str = PASSWORD) -> Any:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(tokens: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def sign_in_users(
    client: TestClient, app: Starlette, names: Sequence[str] = ("ada", "bob", "root")
) -> dict[str, tuple[int, dict[str, str]]]:
    """Register `<name>@example.com` for each name, make `root` an admin, and sign them
    in: each name's user id and bearer headers."""
    users = app.state.auth.users(app.state.database)
    signed_in = {}
    for name in names:
        email = f"{name}@example.com"
        user = register(client, email)
        if name == "root":
            assert client.portal is not None
            client.portal.call(users.set_roles, user["id"], ["admin"])
        signed_in[name] = (user["id"], bearer(login(client, email)))
    return signed_in
