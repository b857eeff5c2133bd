"""The admins' user management under `/api/auth/users`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from stackkit import Settings
from stackkit.auth import AuthConfig, UserService
from stackkit.auth.user import User
from stackkit.db.model import MAX_ID
from tests.auth.conftest import PASSWORD, bearer, login

ADMIN = "admin@example.com"


def _users(client: TestClient) -> UserService[Any]:
    app: Any = client.app
    return app.state.auth.users(app.state.database)


def add_user(client: TestClient, email: str, roles: tuple[str, ...] = ()) -> int:
    """A user made through the service, past the registration rate limit."""
    assert client.portal is not None
    user = client.portal.call(lambda: _users(client).register(email, PASSWORD, roles=roles))
    return int(user.id)


def admin_headers(client: TestClient, email: str = ADMIN, role: str = "admin") -> dict[str, str]:
    add_user(client, email, (role,))
    return bearer(login(client, email))


def list_all(client: TestClient, headers: dict[str, str], **query: Any) -> list[Any]:
    """Every page of the list, following `next_cursor`."""
    items: list[Any] = []
    cursor = None
    while True:
        params = {**query, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/auth/users", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def refresh(client: TestClient, tokens: Any) -> int:
    body = {"refresh_token": tokens["refresh_token"]}
    return client.post("/api/auth/refresh", json=body).status_code


# Listing


def test_the_list_comes_page_by_page_in_id_order(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = make_auth_client(Settings(env="test", **service_settings))
    headers = admin_headers(client)
    admin_id = client.get("/api/auth/me", headers=headers).json()["id"]
    ids = [add_user(client, f"user{n}@example.com") for n in range(4)]

    first = client.get("/api/auth/users", params={"limit": 2}, headers=headers)
    assert first.status_code == 200
    assert len(first.json()["items"]) == 2
    assert first.json()["next_cursor"] is not None

    items = list_all(client, headers, limit=2)
    assert [item["id"] for item in items] == sorted([admin_id, *ids])
    assert items[0]["email"] == ADMIN
    assert items[0]["roles"] == ["admin"]
    assert all("password_hash" not in item for item in items)


def test_the_email_filter_matches_part_of_the_email_whatever_its_case(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = make_auth_client(Settings(env="test", **service_settings))
    headers = admin_headers(client)
    for email in ("ada@example.com", "adam@example.org", "bob@example.com", "a_b@example.com"):
        add_user(client, email)

    def emails(query: str) -> list[str]:
        return [item["email"] for item in list_all(client, headers, email=query, limit=1)]

    assert emails("ADA") == ["ada@example.com", "adam@example.org"]
    assert emails(" example.COM ") == [
        ADMIN, "ada@example.com", "bob@example.com", "a_b@example.com",
    ]  # fmt: skip
    # `_` and `%` are letters here, not wildcards.
    assert emails("a_b") == ["a_b@example.com"]
    assert emails("%") == []


def test_an_unknown_query_parameter_is_refused(client: TestClient) -> None:
    headers = admin_headers(client)
    response = client.get("/api/auth/users", params={"emial": "ada"}, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "emial"


def test_the_list_is_never_served_from_the_response_cache(client: TestClient) -> None:
    headers = admin_headers(client)
    bob = add_user(client, "bob@example.com")
    before = client.get("/api/auth/users", headers=headers)
    assert "cache-status" not in before.headers
    client.patch(f"/api/auth/users/{bob}", json={"is_active": False}, headers=headers)
    after = client.get("/api/auth/users", headers=headers)
    assert "cache-status" not in after.headers
    [row] = [item for item in after.json()["items"] if item["id"] == bob]
    assert row["is_active"] is False


# Changing users


def test_new_roles_end_that_users_sessions(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = make_auth_client(Settings(env="test", **service_settings))
    headers = admin_headers(client)
    bob = add_user(client, "bob@example.com")
    tokens = login(client, "bob@example.com")

    response = client.patch(
        f"/api/auth/users/{bob}", json={"roles": ["editor", "editor", "billing"]}, headers=headers
    )
    assert response.status_code == 200
    assert response.json()["roles"] == ["billing", "editor"]
    assert refresh(client, tokens) == 401
    assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 401
    # The admin's own session is untouched.
    assert client.get("/api/auth/users", headers=headers).status_code == 200
    again = login(client, "bob@example.com")
    assert client.get("/api/auth/me", headers=bearer(again)).json()["roles"] == [
        "billing", "editor",
    ]  # fmt: skip


def test_disabling_ends_sessions_and_login_then_fails(client: TestClient) -> None:
    headers = admin_headers(client)
    bob = add_user(client, "bob@example.com")
    tokens = login(client, "bob@example.com")

    response = client.patch(f"/api/auth/users/{bob}", json={"is_active": False}, headers=headers)
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert refresh(client, tokens) == 401
    assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 401
    body = {"email": "bob@example.com", "password": PASSWORD}
    assert client.post("/api/auth/login", json=body).status_code == 401

    enabled = client.patch(f"/api/auth/users/{bob}", json={"is_active": True}, headers=headers)
    assert enabled.json()["is_active"] is True
    login(client, "bob@example.com")


def test_an_empty_change_answers_the_user_unchanged(client: TestClient) -> None:
    headers = admin_headers(client)
    bob = add_user(client, "bob@example.com", ("editor",))
    tokens = login(client, "bob@example.com")
    response = client.patch(f"/api/auth/users/{bob}", json={}, headers=headers)
    assert response.status_code == 200
    assert response.json()["roles"] == ["editor"]
    assert response.json()["is_active"] is True
    assert refresh(client, tokens) == 200


def test_roles_and_state_the_user_has_already_change_nothing(client: TestClient) -> None:
    headers = admin_headers(client)
    bob = add_user(client, "bob@example.com", ("editor",))
    tokens = login(client, "bob@example.com")
    same = {"roles": ["editor", "editor"], "is_active": True}
    response = client.patch(f"/api/auth/users/{bob}", json=same, headers=headers)
    assert response.status_code == 200
    assert response.json()["roles"] == ["editor"]
    assert refresh(client, tokens) == 200


def test_delete_removes_the_user_and_ends_their_sessions(client: TestClient) -> None:
    headers = admin_headers(client)
    bob = add_user(client, "bob@example.com")
    tokens = login(client, "bob@example.com")

    response = client.delete(f"/api/auth/users/{bob}", headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    assert refresh(client, tokens) == 401
    assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 401
    assert bob not in [item["id"] for item in list_all(client, headers)]
    assert client.delete(f"/api/auth/users/{bob}", headers=headers).status_code == 404


# Guards


@pytest.mark.parametrize(
    ("method", "body", "detail"),
    [
        ("PATCH", {"roles": ["editor"]}, "your own admin role"),
        ("PATCH", {"roles": ["editor"], "is_active": True}, "your own admin role"),
        ("PATCH", {"is_active": False}, "disable your own account"),
        ("DELETE", None, "delete your own account"),
    ],
    ids=["drop-admin-role", "drop-admin-role-with-more", "disable", "delete"],
)
def test_an_admin_cannot_lock_themselves_out(
    client: TestClient, method: str, body: Any, detail: str
) -> None:
    headers = admin_headers(client)
    me = client.get("/api/auth/me", headers=headers).json()
    response = client.request(method, f"/api/auth/users/{me['id']}", json=body, headers=headers)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.json()["detail"]
    # Nothing changed: the admin is still signed in, active and an admin.
    assert client.get("/api/auth/me", headers=headers).json() == me


def test_an_admin_may_give_themselves_more_roles(client: TestClient) -> None:
    headers = admin_headers(client)
    me = client.get("/api/auth/me", headers=headers).json()
    body = {"roles": ["admin", "editor"], "is_active": True}
    response = client.patch(f"/api/auth/users/{me['id']}", json=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["roles"] == ["admin", "editor"]


def test_another_admin_may_be_demoted(client: TestClient) -> None:
    headers = admin_headers(client)
    other = add_user(client, "second@example.com", ("admin",))
    response = client.patch(f"/api/auth/users/{other}", json={"roles": []}, headers=headers)
    assert response.status_code == 200
    assert response.json()["roles"] == []


@pytest.mark.parametrize(
    ("method", "body"),
    [("PATCH", {"is_active": False}), ("DELETE", None)],
    ids=["disable", "delete"],
)
def test_another_admin_may_disable_or_delete_an_admin(
    client: TestClient, method: str, body: Any
) -> None:
    headers = admin_headers(client)
    other = add_user(client, "second@example.com", ("admin",))
    tokens = login(client, "second@example.com")
    response = client.request(method, f"/api/auth/users/{other}", json=body, headers=headers)
    assert response.status_code in (200, 204), response.text
    assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 401


ROUTES = [
    ("GET", "/api/auth/users", None),
    ("PATCH", "/api/auth/users/1", {"is_active": False}),
    ("DELETE", "/api/auth/users/1", None),
]
ROUTE_IDS = ["list", "update", "delete"]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=ROUTE_IDS)
def test_users_without_the_admin_role_get_403(
    client: TestClient, method: str, path: str, body: Any
) -> None:
    add_user(client, "ada@example.com")  # id 1, the target of the changes
    add_user(client, "bob@example.com", ("editor",))
    headers = bearer(login(client, "bob@example.com"))
    response = client.request(method, path, json=body, headers=headers)
    assert response.status_code == 403
    assert "admin" in response.json()["detail"]
    assert client.get("/api/auth/me", headers=bearer(login(client, "ada@example.com"))).json()[
        "is_active"
    ]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=ROUTE_IDS)
def test_anonymous_callers_get_401(client: TestClient, method: str, path: str, body: Any) -> None:
    add_user(client, "ada@example.com")
    response = client.request(method, path, json=body)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_the_admin_role_is_the_configs(make_auth_client: Callable[..., TestClient]) -> None:
    client = make_auth_client(config=AuthConfig(User, admin_role="staff"))
    admin = admin_headers(client, "admin@example.com", role="admin")
    staff = admin_headers(client, "staff@example.com", role="staff")
    assert client.get("/api/auth/users", headers=admin).status_code == 403
    assert client.get("/api/auth/users", headers=staff).status_code == 200
    me = client.get("/api/auth/me", headers=staff).json()
    dropped = client.patch(f"/api/auth/users/{me['id']}", json={"roles": []}, headers=staff)
    assert dropped.status_code == 409
    assert "your own staff role" in dropped.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"roles": ["Admin"]}, "roles.0"),
        ({"roles": [""]}, "roles.0"),
        ({"roles": ["a" * 65]}, "roles.0"),
        ({"roles": ["ok", "has space"]}, "roles.1"),
        ({"roles": ["x\n"]}, "roles.0"),
        ({"roles": [f"r{n}" for n in range(21)]}, "roles"),
        ({"roles": "admin"}, "roles"),
        ({"is_active": "maybe"}, "is_active"),
        ({"email": "eve@example.com"}, "email"),
    ],
    ids=[
        "upper-case",
        "empty",
        "too-long",
        "space",
        "newline",
        "too-many",
        "not-a-list",
        "not-a-bool",
        "unknown-field",
    ],
)
def test_bad_changes_get_422(client: TestClient, body: Any, field: str) -> None:
    headers = admin_headers(client)
    bob = add_user(client, "bob@example.com", ("editor",))
    response = client.patch(f"/api/auth/users/{bob}", json=body, headers=headers)
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]
    [row] = [item for item in list_all(client, headers) if item["id"] == bob]
    assert (row["roles"], row["is_active"]) == (["editor"], True)


@pytest.mark.parametrize(
    ("method", "body"),
    [("PATCH", {"is_active": False}), ("PATCH", {}), ("DELETE", None)],
    ids=["update", "empty-update", "delete"],
)
def test_an_unknown_user_gets_404(client: TestClient, method: str, body: Any) -> None:
    headers = admin_headers(client)
    response = client.request(method, "/api/auth/users/9999", json=body, headers=headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "There is no user 9999."


@pytest.mark.parametrize(
    ("method", "body"),
    [("PATCH", {"is_active": False}), ("DELETE", None)],
    ids=["update", "delete"],
)
def test_an_id_beyond_the_id_column_is_422(client: TestClient, method: str, body: Any) -> None:
    headers = admin_headers(client)
    response = client.request(method, f"/api/auth/users/{MAX_ID + 1}", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["id"]


# Documentation


def test_the_admin_routes_are_documented(client: TestClient) -> None:
    document = client.get("/api/openapi.json").json()
    validate(document)
    listing = document["paths"]["/api/auth/users"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"limit", "cursor", "email"}
    assert listing["security"] == [{"bearerAuth": []}]
    item = document["paths"]["/api/auth/users/{id}"]
    assert set(item) == {"patch", "delete"}
    body = item["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/UserAdminUpdate")
    assert "204" in item["delete"]["responses"]
    operations = [listing, item["patch"], item["delete"]]
    assert [operation["tags"] for operation in operations] == [["users"]] * 3
