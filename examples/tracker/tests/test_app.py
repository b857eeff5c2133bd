"""The app answers: health, the API description, and the auth flow."""

from __future__ import annotations

from starlette.testclient import TestClient

ACCOUNT = {"email": "ada@example.com", "password": "correct horse battery staple"}


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_openapi_describes_the_api(client: TestClient) -> None:
    document = client.get("/api/openapi.json").json()
    assert "/api/auth/login" in document["paths"]


def test_register_login_refresh_logout(client: TestClient) -> None:
    assert client.post("/api/auth/register", json=ACCOUNT).status_code == 201
    tokens = client.post("/api/auth/login", json=ACCOUNT).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/api/auth/me", headers=headers).json()["email"] == ACCOUNT["email"]
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/auth/me", headers=headers).status_code == 401


def test_routes_need_a_signed_in_user(client: TestClient) -> None:
    assert client.get("/api/meta/resources").status_code == 401
