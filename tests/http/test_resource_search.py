"""`?q=` on a resource whose model is searched (`Model.__search__`): full-text search
within the caller's rows, best first, in lists and exports. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from pydantic import BaseModel, Field
from sqlalchemy import Connection, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from starlette.applications import Starlette
from starlette.testclient import TestClient
from tests.auth.conftest import FAST_HASHER, sign_in_users

import stackkit.db.search_migrations  # noqa: F401 (op.create_search_index)
from stackkit import Settings, create_app
from stackkit.auth import AuthConfig
from stackkit.auth.user import User
from stackkit.db import Model, Repository, Service, owner_column
from stackkit.resources.resource import Resource


class Recipe(Model):
    __tablename__ = "searched_recipes"
    __search__ = ("title", "steps")
    title: Mapped[str] = mapped_column(String(200))
    steps: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[int] = owner_column()


class RecipeService(Service[Recipe]):
    repository = Repository.for_model(Recipe)


class RecipeIn(BaseModel):
    title: str = Field(max_length=200)
    steps: str | None = None


class RecipeOut(RecipeIn):
    id: int
    owner_id: int


def _search_index(connection: Connection) -> None:
    operations = Operations(MigrationContext.configure(connection))
    operations.create_search_index("searched_recipes", ["title", "steps"])


async def create_tables(app: Starlette) -> None:
    async with app.state.database.engine.begin() as connection:
        tables = [User.__table__, Recipe.__table__]
        await connection.run_sync(Model.metadata.create_all, tables=tables)
        await connection.run_sync(_search_index)


@pytest.fixture
def client(database_url: str) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    recipes = Resource(
        "recipes", service=RecipeService, create=RecipeIn, update=RecipeIn, read=RecipeOut
    )
    app = create_app(
        Settings(env="test", database_url=database_url),
        resources=[recipes],
        auth=AuthConfig(User, hasher=FAST_HASHER),
        startup=[create_tables],
    )
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        callers = {name: user[1] for name, user in sign_in_users(client, app).items()}
        yield client, callers


def titles(client: TestClient, headers: dict[str, str], query: str) -> list[str]:
    response = client.get(f"/api/recipes?{query}", headers=headers)
    assert response.status_code == 200, response.text
    return [item["title"] for item in response.json()["items"]]


def test_q_searches_the_callers_rows_best_first(client: Any) -> None:
    http, callers = client
    ada, bob = callers["ada"], callers["bob"]
    for title, steps in [
        ("Tomato soup", "Boil the tomato, then blend the tomato"),
        ("Pesto", "Basil, garlic and a tomato on the side"),
        ("Bread", "Flour and water"),
    ]:
        http.post("/api/recipes", json={"title": title, "steps": steps}, headers=ada)
    http.post("/api/recipes", json={"title": "Bob's tomato"}, headers=bob)

    assert titles(http, ada, "q=tomato")[0] == "Tomato soup"
    assert sorted(titles(http, ada, "q=tomato")) == ["Pesto", "Tomato soup"]
    assert titles(http, ada, "q=tomato&sort=title") == ["Pesto", "Tomato soup"]
    assert titles(http, ada, "q=garlic basil") == ["Pesto"]
    assert titles(http, bob, "q=tomato") == ["Bob's tomato"]
    assert len(titles(http, callers["root"], "q=tomato")) == 3
    pages = http.get("/api/recipes?q=tomato&limit=1", headers=ada).json()
    following = http.get(
        f"/api/recipes?q=tomato&limit=1&cursor={pages['next_cursor']}", headers=ada
    )
    assert [item["title"] for item in following.json()["items"]] == ["Pesto"]
    exported = http.get("/api/recipes/export.csv?q=soup", headers=ada)
    assert exported.status_code == 200
    assert exported.text.splitlines()[1].split(",")[0] == "Tomato soup"


@pytest.mark.parametrize("query", ["q=", "q=%21%21", "q=" + "x" * 201, "q=tomato&cursor=nonsense"])
def test_a_bad_search_is_a_422(client: Any, query: str) -> None:
    http, callers = client
    response = http.get(f"/api/recipes?{query}", headers=callers["ada"])
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] in ("q", "cursor")


def test_meta_names_the_searched_fields(client: Any) -> None:
    http, callers = client
    (info,) = http.get("/api/meta/resources", headers=callers["ada"]).json()
    assert info["searchable"] == ["title", "steps"]
