"""The auth API, route by route, on the embedded defaults."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any

import pytest
from openapi_spec_validator import validate
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from stackkit import Controller, Settings, create_app
from stackkit.auth import (
    AuthConfig,
    ConsoleMailBackend,
    PasswordHasher,
    PasswordPolicy,
    RefreshSessions,
    UnconfiguredMailBackend,
    UserService,
    requires,
)
from stackkit.auth.config import token_keys_for
from stackkit.auth.middleware import AuthenticationMiddleware
from stackkit.auth.tokens import AccessTokens
from stackkit.auth.user import User
from stackkit.cache import MemoryStore, SessionStore, StoreUnavailable
from tests.auth.conftest import PASSWORD, bearer, login, register
from tests.helpers import documented_operations

NEW_PASSWORD = "a different long passphrase"


def _settings(**overrides: Any) -> Settings:
    return Settings(env="test", database_url="sqlite:///:memory:", **overrides)


# Registration


def test_register_refuses_a_taken_email_whatever_its_case(client: TestClient) -> None:
    register(client, "ada@example.com")
    response = client.post(
        "/api/auth/register", json={"email": "ADA@example.com", "password": PASSWORD}
    )
    assert response.status_code == 409
    assert response.json()["field"] == "email"


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "at least 8"), ("password123", "too common"), ("ada@example.com", "email")],
    ids=["too-short", "common", "the-email"],
)
def test_register_applies_the_password_policy(
    client: TestClient, password: str, message: str
) -> None:
    response = client.post(
        "/api/auth/register", json={"email": "ada@example.com", "password": password}
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "password"
    assert message in error["message"]


def test_register_refuses_what_is_not_an_email(client: TestClient) -> None:
    response = client.post("/api/auth/register", json={"email": "ada", "password": PASSWORD})
    assert response.status_code == 422


def test_registration_can_be_closed(make_auth_client: Callable[..., TestClient]) -> None:
    client = make_auth_client(_settings(registration_open=False))
    response = client.post(
        "/api/auth/register", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert response.status_code == 403


# Signing in


def test_login_failures_do_not_say_whether_the_email_exists(client: TestClient) -> None:
    register(client)
    unknown = client.post(
        "/api/auth/login", json={"email": "bob@example.com", "password": PASSWORD}
    )
    wrong = client.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": "not the password"}
    )
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["detail"] == wrong.json()["detail"] == "Invalid email or password."


def test_login_is_throttled_per_account(make_auth_client: Callable[..., TestClient]) -> None:
    client = make_auth_client(config=AuthConfig(User, login_limit_per_account="3/minute"))
    register(client)
    statuses = [
        client.post(
            "/api/auth/login", json={"email": "ada@example.com", "password": "wrong guess!"}
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    # The right password is refused as well until the window passes.
    blocked = client.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


def test_login_is_throttled_per_address(make_auth_client: Callable[..., TestClient]) -> None:
    client = make_auth_client(config=AuthConfig(User, login_limit_per_address="3/minute"))
    statuses = [
        client.post(
            "/api/auth/login", json={"email": f"user{n}@example.com", "password": PASSWORD}
        ).status_code
        for n in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


def test_login_fails_closed_when_the_limits_cannot_be_checked(
    make_auth_client: Callable[..., TestClient],
) -> None:
    # Nothing listens on port 1: every Redis command fails at once.
    client = make_auth_client(_settings(redis_url="redis://127.0.0.1:1/0"))
    response = client.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert response.status_code == 503


# Refreshing with the cookie


# Which requests may use the refresh cookie: (headers, allowed), for an app whose
# CORS origins are https://app.example.com.
COOKIE_ORIGINS = pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"Origin": "https://testserver"}, True),
        ({"Origin": "https://testserver/"}, True),
        ({"Origin": "HTTPS://TestServer"}, True),
        ({"X-Requested-With": "fetch"}, True),
        ({"Origin": "https://app.example.com"}, True),
        ({"Origin": "https://evil.example"}, False),
        ({"Origin": "null"}, False),
        ({"Origin": "https://evil.example", "X-Requested-With": "fetch"}, False),
        ({}, False),
        # Origins that only begin (or end) like an allowed one are other sites.
        ({"Origin": "https://testserver.evil.example"}, False),
        ({"Origin": "https://testserver:8443"}, False),
        ({"Origin": "https://app.example.com.evil.example"}, False),
        ({"Origin": "https://evil.app.example.com"}, False),
        ({"Origin": "http://app.example.com"}, False),
    ],
    ids=[
        "same-origin",
        "same-origin-slash",
        "same-origin-upper-case",
        "custom-header",
        "cors-origin",
        "cross-site",
        "null-origin",
        "cross-site-with-header",
        "no-origin-no-header",
        "prefix-of-own",
        "own-host-other-port",
        "prefix-of-cors",
        "suffix-of-cors",
        "cors-other-scheme",
    ],
)


@COOKIE_ORIGINS
def test_cookie_refresh_is_refused_across_sites(
    make_auth_client: Callable[..., TestClient], headers: dict[str, str], allowed: bool
) -> None:
    client = make_auth_client(_settings(cors_origins="https://app.example.com"))
    register(client)
    login(client)
    response = client.post("/api/auth/refresh", headers=headers)
    assert response.status_code == (200 if allowed else 403)


@pytest.mark.parametrize("path", ["/api/auth/refresh", "/api/auth/logout"])
@pytest.mark.parametrize(
    "origin",
    ["https://testserver.evil.example", "https://testserverevil.example", "https://testserver.",
     "https://app.example.com.evil.example", "https://app.example.comx",
     "https://app.example.comX/", "https://app.example.comX"],
)  # fmt: skip
def test_an_origin_that_only_starts_like_an_allowed_one_is_refused(
    make_auth_client: Callable[..., TestClient], path: str, origin: str
) -> None:
    client = make_auth_client(_settings(cors_origins="https://app.example.com"))
    register(client)
    tokens = login(client)
    assert client.post(path, headers={"Origin": origin}).status_code == 403
    assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 200


def test_cors_for_every_origin_lets_no_other_site_use_the_cookie(
    make_auth_client: Callable[..., TestClient],
) -> None:
    """`STACKKIT_CORS_ORIGINS=*` answers every site's reads; it is no origin the refresh
    cookie trusts, not even one that says `*`."""
    client = make_auth_client(_settings(cors_origins="*"))
    register(client)
    login(client)
    for origin in ("https://evil.example", "*"):
        assert client.post("/api/auth/refresh", headers={"Origin": origin}).status_code == 403
    assert client.post("/api/auth/refresh", headers={"Origin": "https://testserver"}).is_success


@COOKIE_ORIGINS
def test_logout_with_the_cookie_needs_an_allowed_origin(
    make_auth_client: Callable[..., TestClient], headers: dict[str, str], allowed: bool
) -> None:
    """A cross-site page must not end its visitor's session (logout CSRF)."""
    client = make_auth_client(_settings(cors_origins="https://app.example.com"))
    register(client)
    tokens = login(client)
    response = client.post("/api/auth/logout", headers=headers)
    assert response.status_code == (204 if allowed else 403)
    me = client.get("/api/auth/me", headers=bearer(tokens))
    assert me.status_code == (401 if allowed else 200)


def test_cookie_refresh_rotates_the_cookie(client: TestClient) -> None:
    register(client)
    tokens = login(client)
    response = client.post("/api/auth/refresh", headers={"Origin": "https://testserver"})
    assert response.status_code == 200
    assert client.cookies["stackkit_refresh"] == response.json()["refresh_token"]
    assert client.cookies["stackkit_refresh"] != tokens["refresh_token"]
    cookie = response.headers["set-cookie"].lower()
    for attribute in ("httponly", "secure", "samesite=strict", "path=/api/auth"):
        assert attribute in cookie


def test_a_token_pair_is_json_never_stored_and_its_cookie_lasts_as_its_session(
    client: TestClient,
) -> None:
    """RFC 6749 5.1: no-store, and no-cache for HTTP/1.0 caches. The refresh cookie
    lives as long as its session (`STACKKIT_SESSION_TTL`, a day by default)."""
    register(client)
    for response in (
        client.post("/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}),
        client.post("/api/auth/refresh", headers={"Origin": "https://testserver"}),
    ):
        assert response.status_code == 200, response.text
        headers = response.headers
        assert (headers["content-type"], headers["cache-control"], headers["pragma"]) == (
            "application/json", "no-store", "no-cache",
        )  # fmt: skip
        [refresh] = [c for c in headers.get_list("set-cookie") if c.startswith("stackkit_refresh=")]
        cookie = SimpleCookie(refresh)["stackkit_refresh"]
        assert 86_400 - 5 <= int(cookie["max-age"]) <= 86_400


def test_a_session_records_the_address_a_trusted_proxy_gives(
    make_auth_client: Callable[..., TestClient],
) -> None:
    # Written with host bits, as operators do: the network is 10.0.0.0/8.
    settings = Settings(
        env="test", database_url="sqlite:///:memory:", trusted_proxies=["10.9.9.9/8"]
    )
    client = make_auth_client(settings, address="10.1.2.3")
    register(client)
    tokens = client.post(
        "/api/auth/login",
        json={"email": "ada@example.com", "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.9"},
    ).json()
    [session] = client.get("/api/auth/sessions", headers=bearer(tokens)).json()
    assert session["address"] == "203.0.113.9"


def test_refresh_without_a_token_is_refused(client: TestClient) -> None:
    assert client.post("/api/auth/refresh").status_code == 401


# Logging out and sessions


def test_logout_clears_the_cookie_and_ends_the_session(client: TestClient) -> None:
    register(client)
    tokens = login(client)
    response = client.post("/api/auth/logout", headers={"Origin": "https://testserver"})
    assert response.status_code == 204
    assert "stackkit_refresh" not in client.cookies
    assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 401
    # Logging out again is no error.
    assert client.post("/api/auth/logout").status_code == 204


def test_sessions_are_listed_and_revoked_one_by_one(client: TestClient) -> None:
    register(client)
    laptop = login(client)
    phone = login(client)
    listed = client.get("/api/auth/sessions", headers=bearer(laptop))
    assert listed.status_code == 200
    sessions = listed.json()
    assert len(sessions) == 2
    current = [s for s in sessions if s["current"]]
    assert len(current) == 1
    other = next(s for s in sessions if not s["current"])
    assert (
        client.delete(f"/api/auth/sessions/{other['id']}", headers=bearer(laptop)).status_code
        == 204
    )
    assert client.get("/api/auth/me", headers=bearer(phone)).status_code == 401
    assert client.get("/api/auth/me", headers=bearer(laptop)).status_code == 200
    missing = client.delete(f"/api/auth/sessions/{other['id']}", headers=bearer(laptop))
    assert missing.status_code == 404


def test_one_cannot_revoke_another_users_session(client: TestClient) -> None:
    register(client, "ada@example.com")
    register(client, "bob@example.com")
    ada = login(client, "ada@example.com")
    bob = login(client, "bob@example.com")
    [bobs_session] = client.get("/api/auth/sessions", headers=bearer(bob)).json()
    response = client.delete(f"/api/auth/sessions/{bobs_session['id']}", headers=bearer(ada))
    assert response.status_code == 404
    assert client.get("/api/auth/me", headers=bearer(bob)).status_code == 200


def test_log_out_everywhere(client: TestClient) -> None:
    register(client)
    first, second = login(client), login(client)
    assert client.delete("/api/auth/sessions", headers=bearer(first)).status_code == 204
    for tokens in (first, second):
        assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 401


# Passwords


def test_password_change_ends_the_other_sessions(client: TestClient) -> None:
    register(client)
    here, elsewhere = login(client), login(client)
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert client.post("/api/auth/password", json=body, headers=bearer(here)).status_code == 204
    assert client.get("/api/auth/me", headers=bearer(here)).status_code == 200
    assert client.get("/api/auth/me", headers=bearer(elsewhere)).status_code == 401
    old = client.post("/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert old.status_code == 401
    login(client, password=NEW_PASSWORD)


def test_password_change_needs_the_current_password(client: TestClient) -> None:
    register(client)
    tokens = login(client)
    body = {"current_password": "a wrong guess!", "new_password": NEW_PASSWORD}
    response = client.post("/api/auth/password", json=body, headers=bearer(tokens))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "current_password"
    weak = {"current_password": PASSWORD, "new_password": "short"}
    response = client.post("/api/auth/password", json=weak, headers=bearer(tokens))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "new_password"


# Roles


def test_requires_gives_403_without_the_role(make_auth_client: Callable[..., TestClient]) -> None:
    admin = Controller("/api/admin")

    @admin.get("/stats")
    @requires("admin")
    async def stats() -> dict[str, int]:
        return {"users": 1}

    client = make_auth_client(controllers=[admin])
    user = register(client)
    tokens = login(client)
    forbidden = client.get("/api/admin/stats", headers=bearer(tokens))
    assert forbidden.status_code == 403
    assert "admin" in forbidden.json()["detail"]
    assert client.get("/api/admin/stats").status_code == 401

    users = client.app.state.auth.users(client.app.state.database)  # type: ignore[attr-defined]
    assert client.portal is not None
    client.portal.call(users.set_roles, user["id"], ["admin"])
    # New roles end the sessions, whose tokens carry the old ones.
    assert client.get("/api/admin/stats", headers=bearer(tokens)).status_code == 401
    assert client.get("/api/admin/stats", headers=bearer(login(client))).json() == {"users": 1}


def test_a_public_route_cannot_require_roles() -> None:
    api = Controller("/api")

    async def handler() -> None:
        return None

    with pytest.raises(TypeError, match="public"):
        api.get("/x", public=True)(requires("admin")(handler))


# Documentation and caching


def test_auth_routes_are_documented(client: TestClient) -> None:
    document = client.get("/api/openapi.json").json()
    validate(document)
    for path in ("/api/auth/login", "/api/auth/refresh", "/api/auth/me", "/api/auth/sessions"):
        assert path in document["paths"]
    assert document["paths"]["/api/auth/login"]["post"]["security"] == []


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


SIGNED_IN = [{"bearerAuth": []}]
AUTH_ROUTES = {
    ("/api/auth/register", "post"): ("register", [], "201", _ref("UserOut")),
    ("/api/auth/login", "post"): (
        "login", [], "200", {"anyOf": [_ref("TokenPair"), _ref("TwoFactorChallenge")]},
    ),
    ("/api/auth/refresh", "post"): ("refresh", [], "200", _ref("TokenPair")),
    ("/api/auth/logout", "post"): ("logout", [], "204", None),
    ("/api/auth/me", "get"): ("me", SIGNED_IN, "200", _ref("UserOut")),
    ("/api/auth/sessions", "get"): (
        "list_sessions", SIGNED_IN, "200", {"type": "array", "items": _ref("SessionOut")},
    ),
    ("/api/auth/sessions", "delete"): ("revoke_all_sessions", SIGNED_IN, "204", None),
    ("/api/auth/sessions/{id}", "delete"): ("revoke_session", SIGNED_IN, "204", None),
    ("/api/auth/password", "post"): ("change_password", SIGNED_IN, "204", None),
    ("/api/auth/password-reset", "post"): ("request_password_reset", [], "202", None),
    ("/api/auth/password-reset/confirm", "post"): ("confirm_password_reset", [], "204", None),
    ("/api/auth/audit", "get"): ("own_audit_events", SIGNED_IN, "200", _ref("AuditPage")),
    ("/api/auth/verify-email", "post"): ("verify_email", [], "204", None),
    ("/api/auth/email", "get"): ("email_status", SIGNED_IN, "200", _ref("EmailOut")),
    ("/api/auth/email", "post"): ("change_email", SIGNED_IN, "202", None),
    ("/api/auth/email/confirm", "post"): ("confirm_email_change", [], "204", None),
    ("/api/auth/verify-email/resend", "post"): ("resend_verification", [], "202", None),
    ("/api/auth/api-keys", "get"): (
        "list_api_keys", SIGNED_IN, "200",
        {"items": _ref("ApiKeyOut"), "type": "array"},
    ),
    ("/api/auth/api-keys", "post"): ("create_api_key", SIGNED_IN, "201", _ref("ApiKeyCreated")),
    ("/api/auth/api-keys/{id}", "delete"): ("revoke_api_key", SIGNED_IN, "204", None),
    ("/api/auth/login/two-factor", "post"): ("second_step", [], "200", _ref("TokenPair")),
    ("/api/auth/two-factor", "get"): ("two_factor_status", SIGNED_IN, "200", _ref("TwoFactorOut")),
    ("/api/auth/two-factor/setup", "post"): (
        "two_factor_setup", SIGNED_IN, "200", _ref("EnrolmentOut"),
    ),
    ("/api/auth/two-factor/enable", "post"): (
        "two_factor_enable", SIGNED_IN, "200", _ref("RecoveryCodesOut"),
    ),
    ("/api/auth/two-factor/disable", "post"): ("two_factor_disable", SIGNED_IN, "204", None),
    ("/api/auth/two-factor/recovery-codes", "post"): (
        "two_factor_recovery_codes", SIGNED_IN, "200", _ref("RecoveryCodesOut"),
    ),
    ("/api/auth/two-factor/devices", "get"): (
        "trusted_devices", SIGNED_IN, "200",
        {"items": _ref("TrustedDeviceOut"), "type": "array"},
    ),
    ("/api/auth/two-factor/devices/{id}", "delete"): (
        "forget_trusted_device", SIGNED_IN, "204", None,
    ),
    ("/api/auth/two-factor/devices", "delete"): ("forget_trusted_devices", SIGNED_IN, "204", None),
}  # fmt: skip


def test_each_auth_route_is_documented_with_who_may_call_it_and_its_answer(
    client: TestClient,
) -> None:
    document = client.get("/api/openapi.json").json()
    operations = documented_operations(document, lambda _, op: op["tags"] == ["auth"])
    documented = {
        route: (operation["operationId"], operation["security"], status, schema)
        for route, (operation, status, schema) in operations.items()
    }
    assert all(operation["summary"] for operation, _, _ in operations.values())
    assert documented == AUTH_ROUTES


def test_me_is_never_served_from_the_response_cache(client: TestClient) -> None:
    register(client)
    tokens = login(client)
    for _ in range(2):
        response = client.get("/api/auth/me", headers=bearer(tokens))
        assert response.status_code == 200
        assert "cache-status" not in response.headers


# Found in review


def test_login_limit_counts_per_address_even_with_a_token(
    make_auth_client: Callable[..., TestClient],
) -> None:
    client = make_auth_client(config=AuthConfig(User, login_limit_per_address="4/minute"))
    register(client)
    tokens = login(client)  # the address's first attempt
    statuses = [
        client.post(
            "/api/auth/login",
            json={"email": f"user{n}@example.com", "password": PASSWORD},
            headers=bearer(tokens),
        ).status_code
        for n in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


def test_login_that_overlaps_a_password_reset_keeps_no_session(
    make_auth_client: Callable[..., TestClient],
) -> None:
    class ResetDuringLogin(UserService[Any]):
        """A reset lands between the password check and the session's start."""

        async def authenticate(self, email: str, password: str) -> Any:
            user = await super().authenticate(email, password)
            if user is not None:
                await self.set_password(user.id, NEW_PASSWORD)
            return user

    config = AuthConfig(User, user_service=ResetDuringLogin.for_model(User))
    client = make_auth_client(config=config)
    register(client)
    response = client.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert response.status_code == 401
    sessions = client.app.state.auth.sessions  # type: ignore[attr-defined]
    assert client.portal is not None
    assert client.portal.call(sessions.list, "1") == []


@pytest.mark.parametrize("email", ["a\u0000b@example.com", "ada@exam\u007fple.com", "a\nb@x.io"])
def test_control_characters_in_an_email_are_refused(client: TestClient, email: str) -> None:
    for path in ("/api/auth/register", "/api/auth/login"):
        response = client.post(path, json={"email": email, "password": PASSWORD})
        assert response.status_code == 422


def test_password_change_guesses_count_as_sign_in_attempts(
    make_auth_client: Callable[..., TestClient],
) -> None:
    client = make_auth_client(config=AuthConfig(User, login_limit_per_account="3/minute"))
    register(client)
    tokens = login(client)  # one attempt on the account
    wrong = {"current_password": "a wrong guess!", "new_password": NEW_PASSWORD}
    statuses = [
        client.post("/api/auth/password", json=wrong, headers=bearer(tokens)).status_code
        for _ in range(3)
    ]
    assert statuses == [422, 422, 429]
    # Sign-ins are refused too, but for a browser with a device cookie of the account
    # (tests/auth/test_devices.py): this one comes without.
    client.cookies.clear()
    blocked = client.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert blocked.status_code == 429


def test_auth_routes_answer_503_when_the_session_store_is_away(
    make_auth_client: Callable[..., TestClient],
) -> None:
    client = make_auth_client(_settings(redis_url="redis://127.0.0.1:1/0"))
    refresh = client.post("/api/auth/refresh", json={"refresh_token": "a.1.b"})
    assert refresh.status_code == 503
    assert refresh.headers["retry-after"] == "5"
    logout = client.post("/api/auth/logout", json={"refresh_token": "a.1.b"})
    assert logout.status_code == 503


@pytest.mark.parametrize(("fail_open", "status"), [(True, 200), (False, 503)])
def test_a_token_is_taken_on_its_signature_while_the_session_store_is_away(
    make_auth_client: Callable[..., TestClient], fail_open: bool, status: int
) -> None:
    settings = _settings(
        redis_url="redis://127.0.0.1:1/0",  # nothing listens: every command fails at once
        secret_key="k" * 40,
        session_check_fail_open=fail_open,
    )
    client = make_auth_client(settings)
    user_id = register(client)["id"]  # its rate limit fails open
    token = AccessTokens(token_keys_for(settings), ttl=60).issue(str(user_id), "no-such-session")
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token.token}"})
    assert me.status_code == status, me.text
    if fail_open:
        assert me.json()["id"] == user_id
    else:
        assert me.headers["retry-after"] == "5"
    forged = client.get("/api/auth/me", headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401  # the signature is still checked


def test_a_slow_session_store_is_a_503_even_when_failing_open() -> None:
    # Slow (timeouts, every connection busy) is not away: a flood that exhausts the
    # connections must not be a way past the session check.
    class SlowSessions:
        async def is_alive(self, session_id: str, user_id: str) -> bool:
            raise StoreUnavailable("Timeout reading from socket", slow=True)

    tokens = AccessTokens(token_keys_for(_settings(secret_key="k" * 40)), ttl=60)

    async def who(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.user.display_name)

    app = Starlette(
        routes=[Route("/who", who)],
        middleware=[
            Middleware(
                AuthenticationMiddleware, tokens=tokens, sessions=SlowSessions(), fail_open=True
            )
        ],
    )
    token = tokens.issue("7", "a-session").token
    answer = TestClient(app).get("/who", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"


def test_cookie_refresh_compares_the_whole_origin(
    make_auth_client: Callable[..., TestClient],
) -> None:
    client = make_auth_client(_settings(public_url="https://notes.example.com"))
    register(client)
    login(client)
    other_scheme = client.post("/api/auth/refresh", headers={"Origin": "http://testserver"})
    assert other_scheme.status_code == 403
    public = client.post("/api/auth/refresh", headers={"Origin": "https://notes.example.com"})
    assert public.status_code == 200


def test_requires_above_the_route_decorator_is_refused() -> None:
    api = Controller("/api")

    async def handler() -> None:
        return None

    registered = api.get("/x")(handler)
    with pytest.raises(TypeError, match="under the route decorator"):
        requires("admin")(registered)


def test_the_dummy_hash_is_made_at_start_up() -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost=64)
    app = create_app(_settings(), auth=AuthConfig(User, hasher=hasher))
    assert hasher._dummy_hash is None
    with TestClient(app):
        assert hasher._dummy_hash is not None


def test_the_apps_auth_follows_its_settings_and_config(
    make_auth_client: Callable[..., TestClient],
) -> None:
    policy = PasswordPolicy(min_length=12)
    client = make_auth_client(
        _settings(session_ttl=600, session_max_lifetime=7200, jwt_issuer="notes",
                  jwt_audience="notes-api"),
        config=AuthConfig(User, policy=policy, refresh_grace=3, password_reset_ttl=900,
                          device_cookie_ttl=86_400),
    )  # fmt: skip
    auth = client.app.state.auth  # type: ignore[attr-defined]
    assert (auth.sessions.ttl, auth.sessions.max_lifetime) == (600, 7200)
    assert (auth.tokens.issuer, auth.tokens.audience) == ("notes", "notes-api")
    assert (auth.refresh.grace, auth.resets.ttl, auth.devices.ttl) == (3, 900, 86_400)
    users = auth.users(client.app.state.database)  # type: ignore[attr-defined]
    assert (users.hasher, users.policy, users.sessions) == (
        auth.config.hasher,
        policy,
        auth.refresh,
    )
    register(client)
    [session] = client.get("/api/auth/sessions", headers=bearer(login(client))).json()
    created = datetime.fromisoformat(session["created_at"])
    assert datetime.fromisoformat(session["expires_at"]) - created == timedelta(seconds=600)


@pytest.mark.parametrize(
    ("env", "kind"), [("production", UnconfiguredMailBackend), ("test", ConsoleMailBackend)]
)
def test_without_an_smtp_url_mail_fails_in_production_and_is_logged_elsewhere(
    env: str, kind: type
) -> None:
    settings = Settings(
        env=env, database_url="sqlite:///:memory:",
        secret_key="q8Vw2-LmZr7xKp4TnYb9HcJd6FgUe3Ns5AoWi1Rt",
    )  # fmt: skip
    app = create_app(settings, auth=AuthConfig(User), configure_logs=False)
    assert type(app.state.auth.mail) is kind


def test_refresh_tokens_stay_good_10_seconds_after_their_rotation_by_default() -> None:
    assert RefreshSessions(SessionStore(MemoryStore()), secret_keys=["k" * 32]).grace == 10
