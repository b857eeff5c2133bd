"""What the auth API answers when it refuses: the status, the problem's `detail` and the
`WWW-Authenticate` challenge, exactly, since clients show and act on them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.auth.conftest import PASSWORD, login, register

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


REFUSALS = {
    "no-token": (no_token, 401, NEEDS_AUTHENTICATION, "Bearer"),
    "wrong-password": (wrong_password, 401, INVALID_CREDENTIALS, "Bearer"),
    "unknown-email": (unknown_email, 401, INVALID_CREDENTIALS, "Bearer"),
    "cookie-without-origin": (
        cookie_without_origin, 403,
        "A request with the refresh cookie needs an Origin or X-Requested-With header.", None,
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
