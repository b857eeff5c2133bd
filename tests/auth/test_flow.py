"""The whole register -> login -> me -> refresh -> logout flow over HTTP, on the embedded
defaults and on PostgreSQL with Redis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from stackkit import Settings
from tests.auth.conftest import PASSWORD, bearer


def test_register_login_me_refresh_logout(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = make_auth_client(Settings(env="test", **service_settings))

    registered = client.post(
        "/api/auth/register", json={"email": " Ada@Example.COM ", "password": PASSWORD}
    )
    assert registered.status_code == 201
    assert registered.json()["email"] == "ada@example.com"
    assert "password_hash" not in registered.json()

    login = client.post("/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert login.status_code == 200
    tokens = login.json()
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    assert login.headers["cache-control"] == "no-store"
    assert client.cookies.get("stackkit_refresh") == tokens["refresh_token"]

    me = client.get("/api/auth/me", headers=bearer(tokens))
    assert me.status_code == 200
    assert me.json()["id"] == registered.json()["id"]

    refreshed = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    assert refreshed.headers["cache-control"] == "no-store"
    pair = refreshed.json()
    assert pair["refresh_token"] != tokens["refresh_token"]
    assert client.get("/api/auth/me", headers=bearer(pair)).status_code == 200

    assert client.post("/api/auth/logout", headers=bearer(pair)).status_code == 204
    assert client.get("/api/auth/me", headers=bearer(pair)).status_code == 401
    again = client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert again.status_code == 401
