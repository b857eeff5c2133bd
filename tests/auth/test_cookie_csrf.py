"""What a cross-site request can do with the refresh cookie: nothing but what the auth
routes check it for. (The Origin checks of refresh and logout: tests/auth/test_api.py.)"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.auth.conftest import PASSWORD, login, register

SAME_ORIGIN = {"Origin": "https://testserver"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/auth/me"), ("GET", "/api/auth/sessions"), ("DELETE", "/api/auth/sessions")],
)
def test_the_refresh_cookie_authenticates_no_api_route(
    client: TestClient, method: str, path: str
) -> None:
    register(client)
    tokens = login(client)
    assert client.cookies["stackkit_refresh"] == tokens["refresh_token"]
    # The cookie goes along (the path is under /api/auth), but it is no credential:
    # without an Authorization header, the caller is nobody.
    response = client.request(method, path, headers=SAME_ORIGIN)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert client.post("/api/auth/refresh", headers=SAME_ORIGIN).status_code == 200  # still live


@pytest.mark.parametrize(
    "path",
    [
        "/api/auth/login",
        "/api/auth/register",
        "/api/auth/refresh",
        "/api/auth/logout",
        "/api/auth/password-reset",
    ],
)
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"email=ada%40example.com&password=x"),
        ("text/plain", b'{"email": "ada@example.com", "password": "x"}'),
        ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="a"'
         b"\r\n\r\nb\r\n--x--\r\n"),
    ],
    ids=["form", "text-plain", "multipart"],
)  # fmt: skip
def test_a_body_a_form_can_send_is_415_on_the_auth_routes(
    client: TestClient, path: str, content_type: str, body: bytes
) -> None:
    register(client)
    login(client)  # the cookie is there, as in the victim's browser
    response = client.post(
        path, content=body, headers={"Content-Type": content_type, **SAME_ORIGIN}
    )
    assert response.status_code == 415, response.text
    assert response.headers["content-type"] == "application/problem+json"
    # Nothing was done: the session still refreshes, the password still signs in.
    assert client.post("/api/auth/refresh", headers=SAME_ORIGIN).status_code == 200
    assert login(client, password=PASSWORD)
