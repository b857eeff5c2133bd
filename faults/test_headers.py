"""Security headers on every kind of response, CORS, and secrets kept out of the log.

The served app runs in development (the `.env` of `stackkit new`); what only production
changes (HSTS) and what needs other settings (a CORS origin) is checked on an app
built in this process by `create_app`, as the unit tests do.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from e2e.server import Account
from faults.client import Answer, Client
from faults.conftest import ServerLog, log_in
from stackkit import Settings, create_app

MAX_BODY_SIZE = 1_048_576
STRONG_KEY = "q8Vw2-LmZr7xKp4TnYb9HcJd6FgUe3Ns5AoWi1Rt"
UNKNOWN_ORIGIN = "https://evil.example"

Fetch = Callable[[Client, Client], Answer]
"""Gets one kind of response, given an anonymous client and a signed-in user's."""


def first_asset(anonymous: Client, _: Client) -> Answer:
    index = anonymous.send("GET", "/")
    found = re.search(rb'src="(/assets/[^"]+\.js)"', index.body)
    assert found is not None, index.body[:500]
    return anonymous.send("GET", found.group(1).decode())


def too_many_sign_ins(anonymous: Client, _: Client) -> Answer:
    # The per-account limit (5/minute) of an account that does not exist: the admin's
    # own sign-ins stay free.
    email = f"nobody-{secrets.token_hex(4)}@example.com"
    for _attempt in range(10):
        answer = anonymous.send(
            "POST", "/api/auth/login", json={"email": email, "password": "not-the-password"}
        )
        if answer.status == 429:
            return answer
        assert answer.status == 401, answer.body
    raise AssertionError("10 failed sign-ins, and no 429")


def too_large(_: Client, user: Client) -> Answer:
    # Declared over the limit: refused before the body is read.
    headers = {"Content-Type": "application/json", "Content-Length": str(MAX_BODY_SIZE + 1)}
    return user.send("POST", "/api/notes", body=b"{}", headers=headers)


RESPONSES: dict[str, tuple[int, Fetch]] = {
    "json-200": (200, lambda _, user: user.send("GET", "/api/notes")),
    "unauthorized-401": (401, lambda anonymous, _: anonymous.send("GET", "/api/notes")),
    "problem-404": (404, lambda anonymous, _: anonymous.send("GET", "/api/nowhere")),
    "validation-422": (422, lambda _, user: user.send("POST", "/api/notes", json={"x": 1})),
    "too-large-413": (413, too_large),
    "rate-limited-429": (429, too_many_sign_ins),
    "spa-index": (200, lambda anonymous, _: anonymous.send("GET", "/")),
    "spa-route": (200, lambda anonymous, _: anonymous.send("GET", "/notes/12")),
    "static-asset": (200, first_asset),
    "health": (200, lambda anonymous, _: anonymous.send("GET", "/healthz")),
}


@pytest.mark.parametrize("kind", list(RESPONSES))
def test_every_response_carries_the_security_headers(
    client: Client, user_client: Client, kind: str
) -> None:
    status, fetch = RESPONSES[kind]
    answer = fetch(client, user_client)
    assert answer.status == status, (answer.status, answer.body[:300])
    assert answer.header("x-content-type-options") == "nosniff"
    policy = answer.header("content-security-policy")
    assert policy, "no Content-Security-Policy"
    assert "default-src" in policy
    assert answer.header("x-frame-options") == "DENY"
    assert "frame-ancestors 'none'" in policy
    assert answer.header("referrer-policy") in ("no-referrer", "strict-origin-when-cross-origin")
    # No banner naming the server: `stackkit run` turns off uvicorn's `Server: uvicorn`.
    assert answer.header("server") is None, answer.header("server")
    # Development over plain HTTP: no HSTS, which would stick in browsers.
    assert answer.header("strict-transport-security") is None


def test_a_preflight_from_an_unconfigured_origin_is_not_allowed(client: Client) -> None:
    answer = client.send(
        "OPTIONS",
        "/api/notes",
        headers={
            "Origin": UNKNOWN_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert answer.status < 500
    assert answer.header("access-control-allow-origin") is None
    assert answer.header("access-control-allow-credentials") is None


def test_a_request_from_an_unconfigured_origin_gets_no_cors_grant(user_client: Client) -> None:
    answer = user_client.send("GET", "/api/notes", headers={"Origin": UNKNOWN_ORIGIN})
    assert answer.header("access-control-allow-origin") is None


@pytest.fixture
def in_process() -> Iterator[Callable[..., TestClient]]:
    """`in_process(**settings)`: a started TestClient of `create_app` on those settings."""
    clients: list[TestClient] = []

    def make(**overrides: object) -> TestClient:
        values: dict[str, object] = {"env": "test", "database_url": "sqlite:///:memory:"}
        values.update(overrides)
        client = TestClient(create_app(Settings(**values)), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.mark.parametrize("path", ["/healthz", "/nowhere"])
def test_hsts_is_sent_in_production_only(in_process: Callable[..., TestClient], path: str) -> None:
    production = in_process(env="production", secret_key=STRONG_KEY)
    hsts = production.get(path).headers.get("strict-transport-security", "")
    assert re.fullmatch(r"max-age=(\d+); includeSubDomains", hsts), hsts
    assert int(hsts.split("=")[1].split(";")[0]) >= 31_536_000  # a year at least
    for env in ("development", "test"):
        assert "strict-transport-security" not in in_process(env=env).get(path).headers


def test_a_configured_origin_is_allowed_and_no_other(
    in_process: Callable[..., TestClient],
) -> None:
    app = in_process(cors_origins=["https://app.example"])
    preflight = {"Access-Control-Request-Method": "POST"}
    allowed = app.options("/api/auth/me", headers={"Origin": "https://app.example", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    refused = app.options("/api/auth/me", headers={"Origin": UNKNOWN_ORIGIN, **preflight})
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


def test_secrets_never_reach_the_log(
    base_url: str,
    admin: Account,
    addresses: Iterator[str],
    server_log: ServerLog,
    secret_key: str,
) -> None:
    first = log_in(base_url, admin, next(addresses))
    refreshed = Client(base_url, next(addresses)).send(
        "POST", "/api/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert refreshed.status == 200, refreshed.body
    second = refreshed.json()
    wrong_password = f"wrong-{secrets.token_urlsafe(12)}"
    refused = Client(base_url, next(addresses)).send(
        "POST", "/api/auth/login", json={"email": admin.email, "password": wrong_password}
    )
    assert refused.status == 401, refused.body
    reset = Client(base_url, next(addresses)).send(
        "POST", "/api/auth/password-reset", json={"email": admin.email}
    )
    assert reset.status == 202, reset.body
    # The development mail backend logs the email (its reset link is meant to be seen).
    server_log.wait_for(f"Mail to {admin.email}")
    log = server_log.text()
    for line in (
        "POST /api/auth/login 200",
        "POST /api/auth/refresh 200",
        "POST /api/auth/login 401",
        "POST /api/auth/password-reset 202",
    ):
        assert line in log, f"the log lacks {line!r}: is it captured?"
    leaks = {
        "the password": admin.password,
        "the wrong password": wrong_password,
        "an access token": first["access_token"],
        "the next access token": second["access_token"],
        "a refresh token": first["refresh_token"],
        "the next refresh token": second["refresh_token"],
        "a token's signature": first["access_token"].rsplit(".", 1)[1],
        "a refresh token's secret part": first["refresh_token"].rsplit(".", 1)[1],
    }
    assert not [name for name, value in leaks.items() if value in log]
    assert secret_key not in server_log.whole(), "SECRET_KEY is in the log"
