"""The rate limits of the auth routes, as docs/security.md's table gives them: the
default limit of each, what it counts per, and what happens while the store that
keeps the counts does not answer.

Addresses come from `X-Forwarded-For`, sent by the test client standing as a trusted
proxy: a test picks the client address of every request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from stackkit import Settings
from stackkit.auth import AuthConfig, DeviceCookies, MemoryMailBackend
from stackkit.auth.config import token_keys_for
from stackkit.auth.tokens import AccessTokens
from stackkit.auth.user import User
from stackkit.cache import MemoryStore
from stackkit.ratelimit import MemoryRateLimitBackend
from tests.auth.conftest import PASSWORD, bearer, login, register

PROXY = "10.0.0.1"
SECRET = "auth-limit-tests-secret-0123456789-abcdefghij"
AWAY = "redis://127.0.0.1:1/0"  # nothing listens: every command fails at once
WRONG = "not the password at all"


def _client(make_auth_client: Callable[..., TestClient], **settings: Any) -> TestClient:
    """A client of an app whose in-process limits count on a stopped clock: a budget
    refills with time (100/minute: one request every 0.6 s), and a slow machine must
    not see a refill in the middle of a test."""
    options = {"env": "test", "database_url": "sqlite:///:memory:", **settings}
    client = make_auth_client(
        Settings(secret_key=SECRET, trusted_proxies=[PROXY], **options), address=PROXY
    )
    backend = client.app.state.auth.limiter.backend  # type: ignore[attr-defined]
    if isinstance(backend, MemoryRateLimitBackend):
        stopped = backend.clock()
        backend.clock = lambda: stopped
    return client


def _from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def _login(client: TestClient, email: str, password: str, address: str, **headers: str) -> int:
    body = {"email": email, "password": password}
    response = client.post("/api/auth/login", json=body, headers={**_from(address), **headers})
    return response.status_code


def test_the_default_limits_are_the_documented_ones() -> None:
    config = AuthConfig(User)
    assert {
        "login per address": config.login_limit_per_address,
        "login and password change per account": config.login_limit_per_account,
        "device cookie sign-ins": config.device_cookie_attempts,
        "register per address": config.register_limit,
        "password reset per address, reset emails per account": config.reset_limit,
        "every other route": Settings(env="test").rate_limit,
    } == {
        "login per address": "10/minute;100/hour",
        "login and password change per account": "5/minute;30/hour",
        "device cookie sign-ins": 10,
        "register per address": "5/minute;50/hour",
        "password reset per address, reset emails per account": "5/hour",
        "every other route": "100/minute",
    }


# Each limit at its default, counted per what the table says


def test_sign_ins_from_one_address_stop_after_10(
    make_auth_client: Callable[..., TestClient],
) -> None:
    client = _client(make_auth_client)
    # Ten accounts (none exists), one address: only the address's limit can refuse.
    statuses = [_login(client, f"u{n}@example.com", WRONG, "192.0.2.1") for n in range(11)]
    assert statuses == [401] * 10 + [429]
    assert _login(client, "u0@example.com", WRONG, "192.0.2.2") == 401  # another address


def test_sign_ins_and_password_changes_for_one_account_stop_after_5(
    make_auth_client: Callable[..., TestClient],
) -> None:
    client = _client(make_auth_client)
    register(client, "ada@example.com")
    tokens = login(client)  # the account's first attempt
    client.cookies.clear()  # no device cookie: the account's limit applies
    wrong_change = {"current_password": WRONG, "new_password": "a new long passphrase"}
    changes = [
        client.post(
            "/api/auth/password", json=wrong_change, headers={**bearer(tokens), **_from(a)}
        ).status_code
        for a in ("192.0.2.1", "192.0.2.2")
    ]
    # From addresses of their own, each under its own limit: the account counts them all.
    sign_ins = [_login(client, "ada@example.com", WRONG, f"198.51.100.{n}") for n in range(3)]
    assert changes + sign_ins == [422, 422, 401, 401, 429]
    assert _login(client, "ada@example.com", PASSWORD, "198.51.100.9") == 429
    assert _login(client, "bob@example.com", WRONG, "198.51.100.9") == 401  # another account


def test_a_device_cookie_vouches_for_10_sign_ins_of_its_own(
    make_auth_client: Callable[..., TestClient],
) -> None:
    client = _client(make_auth_client)
    register(client, "ada@example.com")
    device = DeviceCookies(MemoryStore(), secret_keys=[SECRET]).issue("ada@example.com").value
    client.cookies.clear()
    locked = [_login(client, "ada@example.com", WRONG, f"203.0.113.{n}") for n in range(6)]
    assert locked[-1] == 429
    cookie = {"Cookie": f"stackkit_device={device}"}
    with_cookie = [
        _login(client, "ada@example.com", WRONG, f"198.51.100.{n}", **cookie) for n in range(11)
    ]
    assert with_cookie == [401] * 10 + [429]


def test_registrations_from_one_address_stop_after_5(
    make_auth_client: Callable[..., TestClient],
) -> None:
    client = _client(make_auth_client)

    def sign_up(n: int, address: str) -> int:
        body = {"email": f"u{n}@example.com", "password": PASSWORD}
        return client.post("/api/auth/register", json=body, headers=_from(address)).status_code

    assert [sign_up(n, "192.0.2.1") for n in range(6)] == [201] * 5 + [429]
    assert sign_up(6, "192.0.2.2") == 201


def test_reset_asks_stop_after_5_per_address_and_emails_after_5_per_account(
    make_auth_client: Callable[..., TestClient], mail: MemoryMailBackend
) -> None:
    client = _client(make_auth_client)
    register(client, "ada@example.com")

    def ask(email: str, address: str) -> int:
        body = {"email": email}
        return client.post(
            "/api/auth/password-reset", json=body, headers=_from(address)
        ).status_code

    assert [ask(f"u{n}@example.com", "192.0.2.1") for n in range(6)] == [202] * 5 + [429]
    assert mail.outbox == []  # none of these has an account
    asks = [ask("ada@example.com", f"198.51.100.{n}") for n in range(7)]
    assert asks == [202] * 7  # each from an address of its own: each answered alike...
    assert len(mail.outbox) == 5  # ...but the account gets 5 emails, no more


def test_other_routes_allow_100_a_minute_per_user_else_per_address(
    make_auth_client: Callable[..., TestClient],
) -> None:
    client = _client(make_auth_client)
    register(client)
    tokens = login(client)
    me = [client.get("/api/auth/me", headers=bearer(tokens)).status_code for _ in range(101)]
    assert me == [200] * 100 + [429]
    # The user's budget is spent, not the address's: without a token, it has its own.
    documents = [client.get("/api/openapi.json").status_code for _ in range(101)]
    assert documents == [200] * 100 + [429]
    assert client.get("/api/openapi.json", headers=_from("192.0.2.7")).status_code == 200


# While the store that keeps the counts does not answer


@pytest.fixture
def away(make_auth_client: Callable[..., TestClient]) -> TestClient:
    return _client(make_auth_client, redis_url=AWAY)


def test_without_the_store_sign_ins_are_refused_even_with_a_device_cookie(
    away: TestClient,
) -> None:
    device = DeviceCookies(MemoryStore(), secret_keys=[SECRET]).issue("ada@example.com").value
    assert _login(away, "ada@example.com", PASSWORD, "192.0.2.1") == 503
    cookie = {"Cookie": f"stackkit_device={device}"}
    assert _login(away, "ada@example.com", PASSWORD, "192.0.2.1", **cookie) == 503


def test_without_the_store_password_changes_are_refused(away: TestClient) -> None:
    user = register(away)  # registration is not held up: it fails open
    settings = away.app.state.auth.settings  # type: ignore[attr-defined]
    token = AccessTokens(token_keys_for(settings)).issue(str(user["id"]), "any-session").token
    body = {"current_password": PASSWORD, "new_password": "a new long passphrase"}
    headers = {"Authorization": f"Bearer {token}"}
    assert away.post("/api/auth/password", json=body, headers=headers).status_code == 503


def test_without_the_store_registrations_and_other_routes_go_on(away: TestClient) -> None:
    registered = away.post(
        "/api/auth/register", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert registered.status_code == 201
    assert away.get("/api/openapi.json").status_code == 200


def test_without_the_store_reset_asks_are_refused_and_no_email_goes(
    away: TestClient, mail: MemoryMailBackend
) -> None:
    register(away)
    answer = away.post("/api/auth/password-reset", json={"email": "ada@example.com"})
    assert answer.status_code == 503
    assert mail.outbox == []
