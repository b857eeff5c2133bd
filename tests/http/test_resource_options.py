"""A resource's route options: `roles` guard every route and `write_roles` the writes
(`GET /api/meta/resources` tells each caller what they may do); `cache_ttl` and
`rate_limit` reach its routes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, Field
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column
from starlette.applications import Starlette
from starlette.testclient import TestClient
from tests.auth.conftest import FAST_HASHER, bearer, login, register

from stackkit import Settings, create_app
from stackkit.auth import AuthConfig
from stackkit.auth.user import User
from stackkit.db import Model, Repository, Service
from stackkit.http.routing import route_spec
from stackkit.resources.resource import ACTIONS, Resource


class Board(Model):
    """Shared by every signed-in user: no owner column."""

    __tablename__ = "resource_roles_boards"
    name: Mapped[str] = mapped_column(String(200))


class BoardService(Service[Board]):
    repository = Repository.for_model(Board)


class BoardIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class BoardPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)


class BoardOut(BoardIn):
    id: int
    version: int


def boards(name: str = "boards", **options: Any) -> Resource:
    return Resource(
        name, service=BoardService, create=BoardIn, update=BoardPatch, read=BoardOut, **options
    )


async def create_tables(app: Starlette) -> None:
    async with app.state.database.engine.begin() as connection:
        await connection.run_sync(
            Model.metadata.create_all, tables=[User.__table__, Board.__table__]
        )


@pytest.fixture
def client() -> Iterator[TestClient]:
    """Boards anyone signed in reads and only admins write; audits only auditors see."""
    app = create_app(
        Settings(env="test", database_url="sqlite:///:memory:"),
        resources=[boards(write_roles=["admin"]), boards("audits", roles=["auditor"])],
        auth=AuthConfig(User, hasher=FAST_HASHER),
        startup=[create_tables],
    )
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        yield client


def signed_in(client: TestClient, name: str, roles: list[str]) -> dict[str, str]:
    app: Any = client.app
    user = register(client, f"{name}@example.com")
    assert client.portal is not None
    client.portal.call(app.state.auth.users(app.state.database).set_roles, user["id"], roles)
    return bearer(login(client, f"{name}@example.com"))


def test_write_roles_guard_create_update_and_delete_only(client: TestClient) -> None:
    member = signed_in(client, "ada", [])
    admin = signed_in(client, "root", ["admin"])
    created = client.post("/api/boards", json={"name": "roadmap"}, headers=admin)
    assert created.status_code == 201, created.text
    url = f"/api/boards/{created.json()['id']}"

    refused = [
        client.post("/api/boards", json={"name": "mine"}, headers=member),
        client.patch(url, json={"name": "renamed"}, headers=member),
        client.delete(url, headers=member),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert refused[0].json()["detail"] == "This route needs the role admin."

    assert client.get("/api/boards", headers=member).json()["items"] == [created.json()]
    assert client.get(url, headers=member).json() == created.json()
    assert client.patch(url, json={"name": "renamed"}, headers=admin).status_code == 200
    assert client.delete(url, headers=admin).status_code == 204


def test_roles_guard_every_route(client: TestClient) -> None:
    member = signed_in(client, "ada", [])
    auditor = signed_in(client, "eve", ["auditor"])
    assert client.get("/api/audits", headers=member).status_code == 403
    assert client.get("/api/audits/1", headers=member).status_code == 403
    created = client.post("/api/audits", json={"name": "q3"}, headers=auditor)
    assert created.status_code == 201, created.text
    assert client.get("/api/audits", headers=auditor).json()["items"] == [created.json()]


@pytest.mark.parametrize(
    ("roles", "boards_may", "audits_may"),
    [
        ([], {"list", "read"}, set()),
        (["admin"], {"list", "create", "read", "update", "delete"}, set()),
        (["auditor"], {"list", "read"}, {"list", "create", "read", "update", "delete"}),
    ],
    ids=["member", "admin", "auditor"],
)
def test_meta_says_what_the_caller_may_do(
    client: TestClient, roles: list[str], boards_may: set[str], audits_may: set[str]
) -> None:
    headers = signed_in(client, "ada", roles)
    infos = client.get("/api/meta/resources", headers=headers).json()
    allowed = {
        info["name"]: {action for action, may in info["permissions"].items() if may}
        for info in infos
    }
    assert allowed == {"boards": boards_may, "audits": audits_may}


def test_routes_carry_their_roles() -> None:
    specs = [
        route_spec(route)
        for route in boards(roles=["staff"], write_roles=["admin"]).controller.routes
    ]
    roles = {(spec.method, spec.path): spec.roles for spec in specs if spec is not None}
    assert roles == {
        ("GET", "/api/boards"): ("staff",),
        ("GET", "/api/boards/export.csv"): ("staff",),
        ("GET", "/api/boards/choices"): ("staff",),
        ("POST", "/api/boards"): ("staff", "admin"),
        ("GET", "/api/boards/{id}"): ("staff",),
        ("PATCH", "/api/boards/{id}"): ("staff", "admin"),
        ("DELETE", "/api/boards/{id}"): ("staff", "admin"),
    }


@pytest.mark.parametrize("option", ["roles", "write_roles"])
def test_a_public_resource_cannot_require_roles(option: str) -> None:
    with pytest.raises(TypeError, match="is public: it cannot require roles"):
        boards(public=True, **{option: ["admin"]})


def test_cache_ttl_reaches_the_read_routes() -> None:
    specs = [route_spec(route) for route in boards(cache_ttl=30).controller.routes]
    ttls = {spec.name: spec.cache_ttl for spec in specs if spec is not None}
    assert ttls == {
        "list_boards": 30,
        "export_boards": 0,  # streamed: never cached
        "choose_boards": 30,
        "create_boards": None,
        "get_boards": 30,
        "update_boards": None,
        "delete_boards": None,
    }


@pytest.mark.parametrize(
    ("rate_limit", "expected"),
    [
        (None, [None] * 7),
        ("100/minute", ["100/minute"] * 7),
        (False, [False] * 7),
        (
            {"create": "3/minute", "list": False},
            [False, False, False, "3/minute", None, None, None],
        ),
        (
            {action: f"{n}/minute" for n, action in enumerate(ACTIONS, 1)},
            ["1/minute", "1/minute", "1/minute", "2/minute", "3/minute", "4/minute", "5/minute"],
        ),
    ],
    ids=["default", "every-route", "none", "per-action", "each-action"],
)
def test_rate_limit_reaches_the_routes(rate_limit: Any, expected: list[Any]) -> None:
    specs = [route_spec(route) for route in boards(rate_limit=rate_limit).controller.routes]
    # The routes in the order of ACTIONS (list, create, read, update, delete), with the
    # export and the choices after the list, whose limit they take.
    assert [spec.rate_limit for spec in specs if spec is not None] == expected


def test_a_rate_limit_per_action_is_enforced_on_that_route_only() -> None:
    app = create_app(
        Settings(env="test", database_url="sqlite:///:memory:"),
        resources=[boards(rate_limit={"create": "2/minute"})],
        auth=AuthConfig(User, hasher=FAST_HASHER),
        startup=[create_tables],
    )
    with TestClient(app, base_url="https://testserver") as client:
        headers = signed_in(client, "ada", [])
        statuses = [
            client.post("/api/boards", json={"name": f"b{n}"}, headers=headers).status_code
            for n in range(3)
        ]
        assert statuses == [201, 201, 429]
        assert client.get("/api/boards", headers=headers).status_code == 200


def test_a_rate_limit_naming_an_unknown_action_is_refused() -> None:
    message = (
        "resource 'boards': rate_limit names ['craete'], not actions of a resource "
        "(list, create, read, update, delete)"
    )
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        boards(rate_limit={"craete": "3/minute"})


class Ranking(Model):
    """Columns named like the list's own parameters: `sort` and `limit`."""

    __tablename__ = "resource_options_rankings"
    sort: Mapped[int] = mapped_column(default=0)
    limit: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(String(200))


class RankingService(Service[Ranking]):
    repository = Repository.for_model(Ranking)


def test_a_column_named_like_a_list_parameter_leaves_the_other_filters_alone() -> None:
    """`sort` and `limit` stay the page's own; the columns after them are filters."""
    rankings = Resource(
        "rankings", service=RankingService, create=BoardIn, update=BoardPatch, read=BoardOut
    )
    query = rankings.list_query.model_fields
    assert query["limit"].description == "Page size."
    assert query["sort"].description is not None
    assert query["sort"].description.startswith("Comma-separated fields")
    assert {"title", "updated_at", "version"} <= set(query)
