"""The authentication seam: backends asked in turn after the bearer token, and the app's
admin role, defined once (`AuthConfig.admin_role`) and published at `/api/meta`."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

import pytest
from starlette.requests import Request
from starlette.testclient import TestClient
from starlette.types import Scope

from stackkit import Controller, Settings, create_app
from stackkit.auth import AuthConfig, AuthenticationBackend, AuthenticationFailed, Principal
from stackkit.auth.user import User
from stackkit.errors import ProblemError
from tests.auth.conftest import FAST_HASHER, PASSWORD, bearer, login, register
from tests.http.test_owned_resources import create_tables, notes


@dataclass(frozen=True)
class Caller:
    id: str
    roles: Collection[str] = ()
    is_authenticated: bool = True
    display_name: str = "caller"


class HeaderBackend(AuthenticationBackend):
    """`x-test-key: <id>:<role>,<role>` names a caller; `bad` is refused; `down` is a
    store that does not answer. Counts the requests it is asked about."""

    def __init__(self) -> None:
        self.asked = 0

    async def authenticate(self, scope: Scope) -> Principal | None:
        self.asked += 1
        value = dict(scope["headers"]).get(b"x-test-key")
        if value is None:
            return None
        if value == b"bad":
            raise AuthenticationFailed("That key is wrong.")
        if value == b"down":
            raise ProblemError(503, "Keys cannot be checked now.", headers={"Retry-After": "5"})
        id, _, roles = value.decode().partition(":")
        return Caller(id, frozenset(filter(None, roles.split(","))))


api = Controller("/api/probe")


@api.get("/who")
async def who(request: Request) -> dict[str, object]:
    return {"id": request.user.id, "scopes": sorted(request.auth.scopes)}


@dataclass
class World:
    client: TestClient
    first: HeaderBackend
    second: HeaderBackend


@pytest.fixture
def world() -> Iterator[World]:
    first, second = HeaderBackend(), HeaderBackend()
    app = create_app(
        Settings(env="test", database_url="sqlite:///:memory:"),
        auth=AuthConfig(User, hasher=FAST_HASHER, backends=[first, second], admin_role="boss"),
        controllers=[api],
        resources=[notes()],
        startup=[create_tables],
    )
    with TestClient(app) as client:
        for email in ("ada@example.com", "bob@example.com"):  # users 1 and 2
            register(client, email)
        first.asked = second.asked = 0
        yield World(client, first, second)


def test_the_first_backend_that_knows_the_caller_decides(world: World) -> None:
    response = world.client.get("/api/probe/who", headers={"x-test-key": "7:editor,boss"})
    assert response.json() == {"id": "7", "scopes": ["authenticated", "boss", "editor"]}
    assert (world.first.asked, world.second.asked) == (1, 0)


@pytest.mark.parametrize(
    ("key", "status", "detail"),
    [
        ("bad", 401, "That key is wrong."),
        ("down", 503, "Keys cannot be checked now."),
    ],
)
def test_a_refusal_stops_the_walk(world: World, key: str, status: int, detail: str) -> None:
    response = world.client.get("/api/probe/who", headers={"x-test-key": key})
    assert (response.status_code, response.json()["detail"]) == (status, detail)
    assert (world.first.asked, world.second.asked) == (1, 0)


def test_with_no_credentials_every_backend_is_asked_and_the_caller_is_anonymous(
    world: World,
) -> None:
    response = world.client.get("/api/probe/who")
    assert response.status_code == 401
    assert (world.first.asked, world.second.asked) == (1, 1)


def test_a_bearer_token_is_checked_before_any_other_backend(world: World) -> None:
    response = world.client.get(
        "/api/probe/who", headers={"Authorization": "Bearer forged", "x-test-key": "7:"}
    )
    assert response.status_code == 401
    assert (world.first.asked, world.second.asked) == (0, 0)


def test_the_apps_admin_role_is_published_and_rules_owned_resources(world: World) -> None:
    """Holders of the app's admin role (`boss` here) see every row of an owned resource
    that names none of its own; holders of `admin` are ordinary users."""
    boss, admin = {"x-test-key": "1:boss"}, {"x-test-key": "2:admin"}
    assert world.client.get("/api/meta", headers=admin).json()["admin_role"] == "boss"
    for caller, title in ((boss, "the boss's"), (admin, "not an admin's")):
        assert world.client.post("/api/notes", json={"title": title}, headers=caller).is_success
    titles = {
        name: [
            note["title"]
            for note in world.client.get("/api/notes?sort=title", headers=h).json()["items"]
        ]
        for name, h in (("boss", boss), ("admin", admin))
    }
    assert titles == {"boss": ["not an admin's", "the boss's"], "admin": ["not an admin's"]}


def test_the_admin_role_is_admin_by_default() -> None:
    app = create_app(
        Settings(env="test", database_url="sqlite:///:memory:"),
        auth=AuthConfig(User, backends=[HeaderBackend()]),
    )
    with TestClient(app) as client:
        response = client.get("/api/meta", headers={"x-test-key": "1:"})
        assert response.json() == {
            "admin_role": "admin",
            "jobs": False,
            "email_verification": False,
            "verified_email_required": False,
            "api_keys": True,
        }


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/auth/me", None),
        ("GET", "/api/auth/sessions", None),
        ("DELETE", "/api/auth/sessions", None),
        ("DELETE", "/api/auth/sessions/some-id", None),
        ("POST", "/api/auth/password", {"current_password": PASSWORD, "new_password": "x" * 20}),
    ],
)
def test_another_backends_caller_never_acts_on_a_users_account(
    world: World, method: str, path: str, body: dict[str, str] | None
) -> None:
    """A principal of another backend whose id equals user 1's is not user 1: the routes
    about one's own account and sessions answer 401, and user 1 stays signed in."""
    ada = bearer(login(world.client, "ada@example.com"))
    impostor = {"x-test-key": "1:"}
    answer = world.client.request(method, path, json=body, headers=impostor)
    assert answer.status_code == 401
    assert world.client.get("/api/auth/me", headers=ada).status_code == 200
    assert len(world.client.get("/api/auth/sessions", headers=ada).json()) == 1
