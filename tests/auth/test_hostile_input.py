"""No input a client controls makes an auth route answer 500: every route of the auth
API and the admins' (found in the OpenAPI document, so that a new route is covered
the day it is added), with bodies, queries, paths and headers of every odd shape,
signed in and not, with email verification on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from stackkit import Settings
from stackkit.auth import AuthConfig
from stackkit.auth.user import User
from tests.auth.conftest import PASSWORD, bearer, login
from tests.auth.test_admin_users import ADMIN, admin_headers

BODIES: dict[str, Any] = {
    "empty": b"",
    "not-json": b"{not json",
    "array": [1, 2],
    "null": None,
    "number": 7,
    "nested": {"email": {"$ne": None}, "password": ["x"], "token": {"a": 1}},
    "wrong-types": {"email": 5, "password": 5, "token": 5, "new_email": 5, "refresh_token": 5},
    "huge-strings": {
        "email": "a" * 100_000 + "@example.com", "password": "p" * 100_000,
        "token": "t" * 100_000, "new_email": "n" * 100_000, "current_password": "c" * 100_000,
        "new_password": "n" * 100_000, "refresh_token": "r" * 100_000,
    },
    "control-characters": {
        "email": "a\x00b@example.com", "password": "\x00" * 20, "token": "\x00\u202e",
        "new_email": "\u202eada@example.com",
    },
}  # fmt: skip
QUERIES = ["", "?limit=-1", "?cursor=%00", "?cursor=" + "9" * 40, "?event=%ff", "?since=yesterday"]
PATH_VALUES = ["0", "-1", "9" * 40, "%00", "x" * 300, "1.5"]
HEADERS = [
    {},
    {"Authorization": "Bearer " + "x" * 10_000},
    {"Authorization": "Bearer sk_" + "a" * 40},
    {"Origin": "null", "Cookie": "stackkit_refresh=" + "x" * 4000},
    {"Content-Type": "text/plain"},
    {"X-Forwarded-For": "not an address"},
]


# Limits out of the way: a refusal before the handler would hide what it does.
UNLIMITED = "1000000/minute"
CONFIG = AuthConfig(
    User, login_limit_per_address=UNLIMITED, login_limit_per_account=UNLIMITED,
    register_limit=UNLIMITED, reset_limit=UNLIMITED, verification_limit=UNLIMITED,
    device_cookie_attempts=0,
)  # fmt: skip


def _operations(client: TestClient) -> list[tuple[str, str]]:
    document = client.get("/api/openapi.json").json()
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if set(operation.get("tags", [])) & {"auth", "users", "audit"}:
                found.append((method.upper(), path))
    return sorted(found)


def _paths(path: str) -> list[str]:
    if "{" not in path:
        return [path]
    prefix, _, rest = path.partition("{")
    suffix = rest.partition("}")[2]
    return [f"{prefix}{value}{suffix}" for value in PATH_VALUES]


@pytest.mark.parametrize("signed_in", ["anonymous", "user", "admin"])
def test_no_input_makes_an_auth_route_answer_500(
    make_auth_client: Callable[..., TestClient],
    service_settings: dict[str, Any],
    signed_in: str,
) -> None:
    settings = Settings(
        env="test", email_verification=True, rate_limit=UNLIMITED, **service_settings
    )
    client = make_auth_client(settings, config=CONFIG)
    new = {"email": "ada@example.com", "password": PASSWORD}
    assert client.post("/api/auth/register", json=new).status_code == 202
    if signed_in == "admin":
        admin_headers(client)

    def caller() -> dict[str, str]:
        """Signed in afresh: a route that ended the session must not hide the next."""
        if signed_in == "anonymous":
            return {}
        return bearer(login(client, ADMIN if signed_in == "admin" else "ada@example.com"))

    operations = _operations(client)
    assert ("POST", "/api/auth/email/confirm") in operations  # the document was read
    failures = []
    statuses: set[int] = set()
    for method, template in operations:
        headers_of_caller = caller()
        for path in _paths(template):
            for query in QUERIES if method == "GET" else [""]:
                for name, body in BODIES.items() if method != "GET" else [("none", None)]:
                    for extra in HEADERS:
                        headers = {**headers_of_caller, **extra}
                        if isinstance(body, bytes):
                            response = client.request(
                                method, path + query, content=body, headers=headers
                            )
                        elif method in ("GET", "DELETE"):
                            response = client.request(method, path + query, headers=headers)
                        else:
                            response = client.request(
                                method, path + query, json=body, headers=headers
                            )
                        statuses.add(response.status_code)
                        if response.status_code >= 500:
                            failures.append(
                                (method, path + query, name, extra, response.text[:200])
                            )
    assert failures == []
    assert 429 not in statuses  # the handlers were reached, not the limits
    assert {401, 422} <= statuses
