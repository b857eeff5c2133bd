"""What the auth API answers when it refuses: the status, the problem's `detail` and the
`WWW-Authenticate` challenge, exactly, since clients show and act on them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, update
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from stackkit import Controller
from stackkit.auth.api import current_user
from stackkit.auth.user import User
from tests.auth.conftest import PASSWORD, bearer, login, register

NEEDS_AUTHENTICATION = "This route needs authentication."
INVALID_CREDENTIALS = "Invalid email or password."


def no_token(client: TestClient) -> Any:
    return client.get("/api/auth/me")


def wrong_password(client: TestClient) -> Any:
    return client.post("/api/auth/login", json={"email": "ada@example.com", "password": "x" * 12})


def unknown_email(client: TestClient) -> Any:
    return client.post("/api/auth/login", json={"email": "bob@example.com", "password": PASSWORD})


def cookie_without_origin(client: TestClient) -> Any:
    login(client)  # sets the refresh cookie
    return client.post("/api/auth/refresh")


def cookie_from_another_site(client: TestClient) -> Any:
    login(client)
    return client.post("/api/auth/refresh", headers={"Origin": "https://evil.example"})


def cookie_without_host(client: TestClient) -> Any:
    # No Host: the request's own origin is unknown, and "https://" names no site.
    login(client)
    return client.post("/api/auth/refresh", headers={"Host": "", "Origin": "https://"})


REFUSALS = {
    "no-token": (no_token, 401, NEEDS_AUTHENTICATION, "Bearer"),
    "wrong-password": (wrong_password, 401, INVALID_CREDENTIALS, "Bearer"),
    "unknown-email": (unknown_email, 401, INVALID_CREDENTIALS, "Bearer"),
    "cookie-without-origin": (
        cookie_without_origin, 403,
        "A request with the refresh cookie needs an Origin or X-Requested-With header.", None,
    ),
    "cookie-without-host": (
        cookie_without_host, 403, "The refresh cookie cannot be used from another site.", None,
    ),
    "cookie-from-another-site": (
        cookie_from_another_site, 403, "The refresh cookie cannot be used from another site.",
        None,
    ),
}  # fmt: skip


@pytest.mark.parametrize(("send", "status", "detail", "challenge"), REFUSALS.values(), ids=REFUSALS)
def test_each_refusal_says_what_went_wrong(
    client: TestClient,
    send: Callable[[TestClient], Any],
    status: int,
    detail: str,
    challenge: str | None,
) -> None:
    register(client)
    response = send(client)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert (response.json()["status"], response.json()["detail"]) == (status, detail)
    assert response.headers.get("www-authenticate") == challenge


def _change_users(client: TestClient, statement: Any) -> None:
    """Change the user table behind the service's back, as another process would."""

    async def run() -> None:
        async with client.app.state.database.engine.begin() as connection:  # type: ignore[attr-defined]
            await connection.execute(statement)

    assert client.portal is not None
    client.portal.call(run)


@pytest.mark.parametrize(
    "change",
    [update(User).values(is_active=False), delete(User)],
    ids=["disabled", "deleted"],
)
def test_a_token_of_an_account_disabled_or_deleted_meanwhile_is_refused_and_its_session_ends(
    client: TestClient, change: Any
) -> None:
    register(client)
    tokens = login(client)
    _change_users(client, change)
    response = client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "This account no longer exists or is disabled."
    sessions = client.app.state.auth.sessions  # type: ignore[attr-defined]
    assert client.portal is not None
    assert client.portal.call(sessions.list, "1") == []
    refresh = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401


def test_a_token_whose_subject_is_no_user_id_is_refused(client: TestClient) -> None:
    # Only a server that holds the signing key can make one (a user store keyed otherwise).
    auth = client.app.state.auth  # type: ignore[attr-defined]
    assert client.portal is not None
    session = client.portal.call(auth.sessions.create, "not-a-number")
    forged = auth.tokens.issue("not-a-number", session.id, [])
    response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged.token}"})
    assert response.status_code == 401
    assert response.json()["detail"] == "This account no longer exists or is disabled."
    assert client.portal.call(auth.sessions.list, "not-a-number") == []


class WithoutHost:
    """Drops the Host header, which HTTP/1.0 clients may leave out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "headers": [h for h in scope["headers"] if h[0] != b"host"]}
        await self.app(scope, receive, send)


@pytest.mark.parametrize("origin", ["https://evil.example", "https://", "https://xxxx"])
def test_a_cookie_request_without_host_from_another_site_is_refused(
    make_auth_client: Callable[..., TestClient], origin: str
) -> None:
    client = make_auth_client(middleware=[Middleware(WithoutHost)])
    register(client)
    login(client)
    response = client.post("/api/auth/refresh", headers={"Origin": origin})
    assert response.status_code == 403
    assert response.json()["detail"] == "The refresh cookie cannot be used from another site."


def test_current_user_on_a_public_route_is_401_for_nobody(
    make_auth_client: Callable[..., TestClient],
) -> None:
    api = Controller("/api")

    @api.get("/whoami", public=True)
    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"email": (await current_user(request)).email})

    client = make_auth_client(controllers=[api])
    register(client)
    response = client.get("/api/whoami")
    assert response.status_code == 401
    assert response.json()["detail"] == NEEDS_AUTHENTICATION
    assert client.get("/api/whoami", headers=bearer(login(client))).json() == {
        "email": "ada@example.com"
    }


def test_session_times_are_in_utc(client: TestClient) -> None:
    register(client)
    [session] = client.get("/api/auth/sessions", headers=bearer(login(client))).json()
    for name in ("created_at", "expires_at", "last_refreshed_at"):
        assert session[name].endswith(("Z", "+00:00")), session[name]
