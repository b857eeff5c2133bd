"""API keys: made with a name, roles and an expiry, shown once, stored as digests,
accepted as bearer tokens, limited per key, revocable at once, and refused by every
route that changes an account."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.requests import Request
from starlette.testclient import TestClient

from stackkit import Settings
from stackkit.auth import AuthConfig
from stackkit.auth.api_keys import ApiKeys
from stackkit.auth.tables import api_keys
from stackkit.auth.user import User
from stackkit.db.model import utcnow
from stackkit.http.routing import Controller
from tests.auth.conftest import PASSWORD, bearer, login, register
from tests.auth.test_admin_users import add_user, admin_headers

EMAIL = "ada@example.com"
KEYS = "/api/auth/api-keys"

probe = Controller("/api/probe", cache_ttl=0)


@probe.get("/whoami")
async def whoami(request: Request) -> dict[str, Any]:
    """Who the caller is, as the routes see them."""
    user = request.user
    return {"id": user.id, "roles": sorted(user.roles), "identity": user.identity}


@probe.get("/admin", roles=["admin"])
async def admin_only(request: Request) -> dict[str, Any]:
    """Needs the admin role."""
    return {"ok": True}


cached = Controller("/api/cached", cache_ttl=60)


@cached.get("/roles")
async def cached_roles(request: Request) -> dict[str, Any]:
    """The caller's roles, kept by the response cache."""
    return {"roles": sorted(request.user.roles)}


def _client(make: Callable[..., TestClient], settings: dict[str, Any]) -> TestClient:
    return make(Settings(env="test", **settings), controllers=[probe, cached])


def make_key(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    response = client.post(KEYS, json={"name": "deploy script", **body}, headers=headers)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()


def key_headers(made: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {made['key']}"}


def _stored(client: TestClient) -> list[Any]:
    async def rows() -> list[Any]:
        async with client.app.state.database.session(read_only=True) as session:  # type: ignore[attr-defined]
            return list((await session.execute(select(api_keys))).mappings().all())

    assert client.portal is not None
    return client.portal.call(rows)


def test_a_key_is_shown_once_stored_as_a_digest_and_works_as_a_bearer_token(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = _client(make_auth_client, service_settings)
    user = register(client)
    session = bearer(login(client))
    made = make_key(client, session)
    text = made["key"]
    assert made["prefix"] == f"sk_{made['id']}_"
    assert text.startswith(made["prefix"])
    assert len(text) == len("sk_") + 16 + 1 + 43

    (row,) = _stored(client)
    secret = text[len(made["prefix"]) :]
    assert row["secret_digest"] == hashlib.sha256(secret.encode()).hexdigest()
    assert text not in repr(dict(row))

    who = client.get("/api/probe/whoami", headers=key_headers(made))
    assert who.status_code == 200, who.text
    assert who.json() == {
        "id": str(user["id"]),
        "roles": [],
        "identity": f"{user['id']}.key.{made['id']}",
    }
    listed = client.get(KEYS, headers=session).json()
    assert [key["id"] for key in listed] == [made["id"]]
    assert "key" not in listed[0]
    assert listed[0]["last_used_at"] is not None
    assert listed[0]["name"] == "deploy script"

    events = client.get("/api/auth/audit", headers=session).json()["items"]
    assert [e["event"] for e in events[:2]] == ["api_key.first_used", "api_key.created"]
    assert {e["details"]["key_id"] for e in events[:2]} == {made["id"]}
    # A second use is no first use.
    assert client.get("/api/probe/whoami", headers=key_headers(made)).status_code == 200
    again = client.get("/api/auth/audit", headers=session).json()["items"]
    assert [e["event"] for e in again].count("api_key.first_used") == 1


def test_a_revoked_key_stops_at_once_and_only_its_owner_revokes_it(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = _client(make_auth_client, service_settings)
    register(client)
    session = bearer(login(client))
    made = make_key(client, session)
    assert client.get("/api/probe/whoami", headers=key_headers(made)).status_code == 200

    add_user(client, "eve@example.com")
    eve = bearer(login(client, "eve@example.com"))
    assert client.delete(f"{KEYS}/{made['id']}", headers=eve).status_code == 404
    assert client.get("/api/probe/whoami", headers=key_headers(made)).status_code == 200

    assert client.delete(f"{KEYS}/{made['id']}", headers=session).status_code == 204
    refused = client.get("/api/probe/whoami", headers=key_headers(made))
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert client.delete(f"{KEYS}/{made['id']}", headers=session).status_code == 404
    assert client.get(KEYS, headers=session).json() == []
    events = client.get("/api/auth/audit", headers=session).json()["items"]
    assert events[0]["event"] == "api_key.revoked"


@pytest.mark.parametrize(
    "text",
    [
        "sk_",
        "sk_0123456789abcdef_",
        "sk_0123456789abcdef_" + "A" * 43,  # well formed, unknown
        "sk_0123456789ABCDEF_" + "A" * 43,
        "sk_0123456789abcdef_" + "A" * 44,
        "sk_" + "é" * 60,
    ],
)
def test_a_key_that_is_not_one_of_ours_is_refused_with_a_reason(
    client: TestClient, text: str
) -> None:
    client.app.router.routes.extend(probe.routes)  # type: ignore[attr-defined]
    response = client.get("/api/probe/whoami", headers={"Authorization": f"Bearer {text}".encode()})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_a_key_carries_only_roles_its_owner_holds_and_loses_them_with_the_owner(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = _client(make_auth_client, service_settings)
    register(client)
    user = bearer(login(client))
    refused = client.post(KEYS, json={"name": "x", "roles": ["admin"]}, headers=user)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "roles"

    root = admin_headers(client, "root@example.com")
    admin_id = client.get("/api/auth/me", headers=root).json()["id"]
    plain = make_key(client, root)
    strong = make_key(client, root, roles=["admin"])
    assert client.get("/api/probe/admin", headers=key_headers(plain)).status_code == 403
    assert client.get("/api/probe/admin", headers=key_headers(strong)).status_code == 200

    # Another admin takes the role away: the key loses it at once.
    other = admin_headers(client, "other@example.com")
    changed = client.patch(f"/api/auth/users/{admin_id}", json={"roles": []}, headers=other)
    assert changed.status_code == 200, changed.text
    assert client.get("/api/probe/admin", headers=key_headers(strong)).status_code == 403
    assert client.get("/api/probe/whoami", headers=key_headers(strong)).json()["roles"] == []

    # Disabled: no key works; enabled again: they do.
    off = client.patch(f"/api/auth/users/{admin_id}", json={"is_active": False}, headers=other)
    assert off.status_code == 200
    assert client.get("/api/probe/whoami", headers=key_headers(plain)).status_code == 401
    on = client.patch(f"/api/auth/users/{admin_id}", json={"is_active": True}, headers=other)
    assert on.status_code == 200
    assert client.get("/api/probe/whoami", headers=key_headers(plain)).status_code == 200

    # Deleted: the keys go with the account.
    assert client.delete(f"/api/auth/users/{admin_id}", headers=other).status_code == 204
    assert client.get("/api/probe/whoami", headers=key_headers(plain)).status_code == 401
    assert [row["id"] for row in _stored(client)] == []


def test_an_expired_key_is_refused(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = _client(make_auth_client, service_settings)
    register(client)
    session = bearer(login(client))
    made = make_key(client, session, expires_in_days=30)
    listed = client.get(KEYS, headers=session).json()[0]
    expires_at = datetime.fromisoformat(listed["expires_at"])
    assert timedelta(days=29) < expires_at - utcnow() <= timedelta(days=30)
    keys: ApiKeys = client.app.state.auth.api_keys  # type: ignore[attr-defined]
    assert client.get("/api/probe/whoami", headers=key_headers(made)).status_code == 200

    # Its record is still kept, as accepted: the expiry is checked all the same.
    keys.clock = lambda: time.time() + 31 * 86400
    late = client.get("/api/probe/whoami", headers=key_headers(made))
    assert late.status_code == 401
    assert "expired" in late.json()["detail"]
    keys.clock = time.time

    async def expire() -> None:
        async with keys.database.session() as db:
            past = utcnow() - timedelta(seconds=1)
            await db.execute(update(api_keys).values(expires_at=past))
        await keys.store.delete(keys.key(made["id"]))

    assert client.portal is not None
    client.portal.call(expire)
    refused = client.get("/api/probe/whoami", headers=key_headers(made))
    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]


def test_each_key_has_a_rate_limit_of_its_own(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = _client(make_auth_client, {**service_settings, "rate_limit": "3/minute"})
    register(client)
    session = bearer(login(client))
    first, second = make_key(client, session), make_key(client, session)
    statuses = [
        client.get("/api/probe/whoami", headers=key_headers(first)).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    assert client.get("/api/probe/whoami", headers=key_headers(second)).status_code == 200


def test_an_app_may_turn_keys_off(make_auth_client: Callable[..., TestClient]) -> None:
    client = make_auth_client(config=AuthConfig(User, api_keys=False))
    register(client)
    session = bearer(login(client))
    assert client.get("/api/meta", headers=session).json()["api_keys"] is False
    assert client.post(KEYS, json={"name": "x"}, headers=session).status_code == 404
    forged = {"Authorization": "Bearer sk_0123456789abcdef_" + "A" * 43}
    assert client.get("/api/auth/api-keys", headers=forged).status_code == 401


def test_a_user_holds_a_bounded_number_of_keys(
    make_auth_client: Callable[..., TestClient],
) -> None:
    client = make_auth_client(config=AuthConfig(User, api_keys_per_user=2))
    register(client)
    session = bearer(login(client))
    make_key(client, session)
    make_key(client, session)
    third = client.post(KEYS, json={"name": "third"}, headers=session)
    assert third.status_code == 409
    assert "revoke one" in third.json()["detail"]


# What a script with an admin's key may read under the auth prefixes; every other route
# there asks for a session.
READ_BY_KEYS = {("GET", "/api/auth/users"), ("GET", "/api/admin/audit")}
# Bodies a session would be served with: a key's refusal must not be a 422.
VALID_BODIES = {
    ("POST", "/api/auth/password"): {
        "current_password": PASSWORD,
        "new_password": "another long passphrase",
    },
    ("POST", "/api/auth/email"): {"new_email": "new@example.com", "password": PASSWORD},
    ("POST", "/api/auth/api-keys"): {"name": "one more"},
    ("POST", "/api/auth/two-factor/setup"): {"password": PASSWORD},
    ("POST", "/api/auth/two-factor/enable"): {"code": "123456"},
    ("POST", "/api/auth/two-factor/disable"): {"password": PASSWORD, "code": "123456"},
    ("POST", "/api/auth/two-factor/recovery-codes"): {"password": PASSWORD, "code": "123456"},
    ("PATCH", "/api/auth/users/{id}"): {"roles": [], "is_active": False},
}


def test_no_route_that_reads_or_changes_an_account_takes_a_key(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = _client(make_auth_client, service_settings)
    root = admin_headers(client, EMAIL)
    tokens = login(client, EMAIL)
    made = make_key(client, root, roles=["admin"])
    other = add_user(client, "eve@example.com")
    (session,) = client.get("/api/auth/sessions", headers=root).json()[:1]
    ids = {
        "/api/auth/sessions/{id}": session["id"],
        "/api/auth/api-keys/{id}": made["id"],
        "/api/auth/users/{id}": str(other),
    }
    specs = [
        spec
        for spec in client.app.state.route_specs  # type: ignore[attr-defined]
        if spec.path.startswith(("/api/auth/", "/api/admin/")) and not spec.public
    ]
    assert len(specs) >= 14, [spec.path for spec in specs]
    answers = {}
    for spec in specs:
        path = spec.path.replace("{id}", ids.get(spec.path, "1")).replace("{key_id}", made["id"])
        body = VALID_BODIES.get((spec.method, spec.path))
        if spec.body_model is not None:
            assert body is not None, f"add a valid body for {spec.method} {spec.path}"
        response = client.request(spec.method, path, json=body, headers=key_headers(made))
        answers[(spec.method, spec.path)] = response.status_code
    expected = {route: 200 if route in READ_BY_KEYS else 401 for route in answers}
    assert answers == expected
    me = client.get("/api/auth/me", headers=key_headers(made))
    assert "API keys" in me.json()["detail"]

    # Nothing changed: the password, the sessions, the keys, the other account.
    assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 200
    assert len(client.get(KEYS, headers=root).json()) == 1
    listed = client.get("/api/auth/users", headers=root).json()["items"]
    assert {user["id"]: user["is_active"] for user in listed}[other] is True
    login(client, EMAIL)


def test_a_cached_answer_is_served_to_a_key_only_with_the_roles_it_was_made_for(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = _client(make_auth_client, service_settings)
    root = admin_headers(client, EMAIL)
    admin_id = client.get("/api/auth/me", headers=root).json()["id"]
    made = make_key(client, root, roles=["admin"])
    first = client.get("/api/cached/roles", headers=key_headers(made))
    assert first.json() == {"roles": ["admin"]}
    hit = client.get("/api/cached/roles", headers=key_headers(made))
    assert hit.headers["cache-status"] == "stackkit; hit"
    assert hit.json() == {"roles": ["admin"]}

    other = admin_headers(client, "other@example.com")
    changed = client.patch(f"/api/auth/users/{admin_id}", json={"roles": []}, headers=other)
    assert changed.status_code == 200
    after = client.get("/api/cached/roles", headers=key_headers(made))
    assert after.json() == {"roles": []}
    assert client.get("/api/probe/admin", headers=key_headers(made)).status_code == 403
    again = client.get("/api/cached/roles", headers=key_headers(made))
    assert again.headers["cache-status"] == "stackkit; hit"
    assert again.json() == {"roles": []}

    # Revoked between two hits: the next is refused, not served.
    tokens = login(client, EMAIL)
    assert client.delete(f"{KEYS}/{made['id']}", headers=bearer(tokens)).status_code == 204
    assert client.get("/api/cached/roles", headers=key_headers(made)).status_code == 401


def test_an_app_whose_key_table_is_missing_refuses_keys_and_still_manages_users(
    make_auth_client: Callable[..., TestClient],
) -> None:
    """Migrations not run yet (a stackkit upgrade before `db upgrade`): no 500."""
    client = _client(make_auth_client, {"database_url": "sqlite:///:memory:"})

    async def drop() -> None:
        async with client.app.state.database.engine.begin() as connection:  # type: ignore[attr-defined]
            await connection.run_sync(api_keys.drop)

    assert client.portal is not None
    client.portal.call(drop)
    forged = {"Authorization": "Bearer sk_0123456789abcdef_" + "A" * 43}
    assert client.get("/api/probe/whoami", headers=forged).status_code == 401
    root = admin_headers(client, EMAIL)
    other = add_user(client, "eve@example.com")
    changed = client.patch(f"/api/auth/users/{other}", json={"roles": ["admin"]}, headers=root)
    assert changed.status_code == 200
    assert (
        client.patch(
            f"/api/auth/users/{other}", json={"is_active": False}, headers=root
        ).status_code
        == 200
    )
    assert client.delete(f"/api/auth/users/{other}", headers=root).status_code == 204


def test_an_admin_lists_and_revokes_another_users_keys(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = _client(make_auth_client, service_settings)
    ada = register(client)
    session = bearer(login(client))
    made = make_key(client, session)
    root = admin_headers(client, "root@example.com")
    path = f"/api/auth/users/{ada['id']}/api-keys"

    listed = client.get(path, headers=root)
    assert listed.status_code == 200, listed.text
    assert [key["id"] for key in listed.json()] == [made["id"]]
    assert "key" not in listed.json()[0]
    assert client.get(path, headers=session).status_code == 403  # not an admin
    assert client.delete(f"{path}/0123456789abcdef", headers=root).status_code == 404

    assert client.delete(f"{path}/{made['id']}", headers=root).status_code == 204
    assert client.get("/api/probe/whoami", headers=key_headers(made)).status_code == 401
    (event,) = [
        e
        for e in client.get("/api/admin/audit", headers=root).json()["items"]
        if e["event"] == "api_key.revoked"
    ]
    assert event["subject_id"] == ada["id"]
    assert event["actor_id"] != ada["id"]
    assert event["details"]["by"] == "an admin"
