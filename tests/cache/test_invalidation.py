"""No cached answer outlives the identity or the data it shows (DESIGN.md, invariants).

An app with owned categories and notes (a note's category cascades its deletion),
on the embedded defaults (SQLite, memory), on PostgreSQL + Redis and on
PostgreSQL + Redis Cluster: every path that changes rows invalidates what the
response cache kept of them, and a cached answer never reaches an account that
is not the one it was made for.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ForeignKey, String, Table, select, text, update
from sqlalchemy.orm import Mapped, mapped_column
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.testclient import TestClient

from stackkit import Controller, Settings, create_app
from stackkit.auth import AuthConfig
from stackkit.auth.user import User
from stackkit.cache import MemoryStore, RedisStore, Store
from stackkit.db import Model, Repository, Service, mark_changed, owner_column
from stackkit.db.changes import follows_deletes
from stackkit.resources.resource import Resource
from stackkit.testing import create_database, delete_keys, drop_database, unique_key_prefix
from tests.auth.conftest import FAST_HASHER, PASSWORD, bearer, login, register
from tests.conftest import STORE_TIMEOUT
from tests.helpers import opened


class CachedCategory(Model):
    __tablename__ = "cache_categories"
    name: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[int] = owner_column()


class CachedNote(Model):
    __tablename__ = "cache_notes"
    title: Mapped[str] = mapped_column(String(100))
    category_id: Mapped[int] = mapped_column(
        ForeignKey("cache_categories.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[int] = owner_column()


TABLES = [User.__table__, CachedCategory.__table__, CachedNote.__table__]


class CategoryService(Service[CachedCategory]):
    repository = Repository.for_model(CachedCategory)


class NoteService(Service[CachedNote]):
    repository = Repository.for_model(CachedNote)


class CategoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100)


class CategoryPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=100)


class CategoryOut(BaseModel):
    id: int
    name: str
    version: int


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(max_length=100)
    category_id: int


class NotePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, max_length=100)


class NoteOut(BaseModel):
    id: int
    title: str
    category_id: int
    owner_id: int
    version: int


async def create_tables(app: Starlette) -> None:
    async with app.state.database.engine.begin() as connection:
        await connection.run_sync(Model.metadata.drop_all, tables=TABLES)
        await connection.run_sync(Model.metadata.create_all, tables=TABLES)


@pytest.fixture(params=["embedded", "postgresql+redis", "postgresql+cluster"])
def settings(request: pytest.FixtureRequest) -> Iterator[Settings]:
    if request.param == "embedded":
        yield Settings(env="test", database_url="sqlite:///:memory:")
        return
    server_url = request.getfixturevalue("postgres_server_url")
    cluster = request.param.endswith("cluster")
    redis_url = request.getfixturevalue("redis_cluster_url" if cluster else "redis_url")
    database_url = create_database(server_url)
    prefix = unique_key_prefix()
    try:
        yield Settings(
            env="test",
            database_url=database_url,
            redis_url=redis_url,
            redis_cluster=cluster,
            cache_prefix=prefix,
        )
    finally:
        drop_database(server_url, database_url.rsplit("/", 1)[1])
        if not cluster:
            delete_keys(redis_url, prefix)


@dataclass
class Account:
    id: int
    email: str
    headers: dict[str, str]


@dataclass
class World:
    client: TestClient
    app: Starlette
    admin: Account
    accounts: list[Account] = field(default_factory=list)
    emails: int = 0

    def call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        assert self.client.portal is not None
        return self.client.portal.call(lambda: function(*args, **kwargs))

    def sign_up(self) -> Account:
        self.emails += 1
        email = f"user{self.emails}@example.com"
        user = register(self.client, email)
        account = Account(user["id"], email, bearer(login(self.client, email)))
        self.accounts.append(account)
        return account

    def get(self, account: Account, path: str) -> Any:
        return self.client.get(path, headers=account.headers)

    def post(self, account: Account, path: str, body: dict[str, Any]) -> Any:
        response = self.client.post(path, json=body, headers=account.headers)
        assert response.status_code == 201, response.text
        return response.json()

    def delete_user(self, account: Account) -> None:
        response = self.client.delete(f"/api/auth/users/{account.id}", headers=self.admin.headers)
        assert response.status_code == 204, response.text
        self.accounts.remove(account)

    async def rows(self, model: type[Model], owner: Account | None) -> dict[int, dict[str, Any]]:
        """What the database holds, as the API would show it to `owner` (None: an admin)."""
        query = select(model)
        if owner is not None:
            query = query.where(model.owner_id == owner.id)  # type: ignore[attr-defined]
        async with self.app.state.database.session(read_only=True) as session:
            found = (await session.scalars(query)).all()
        out = NoteOut if model is CachedNote else CategoryOut
        return {row.id: out.model_validate(row, from_attributes=True).model_dump() for row in found}


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    roomy = "10000/minute"
    config = AuthConfig(
        User,
        hasher=FAST_HASHER,
        register_limit=roomy,
        login_limit_per_address=roomy,
        login_limit_per_account=roomy,
    )
    resources = [
        Resource(
            "categories",
            service=CategoryService,
            create=CategoryIn,
            update=CategoryPatch,
            read=CategoryOut,
        ),
        Resource("notes", service=NoteService, create=NoteIn, update=NotePatch, read=NoteOut),
    ]
    app = create_app(
        settings.model_copy(update={"rate_limit": roomy}),
        resources=resources,
        auth=config,
        startup=[create_tables],
        configure_logs=False,
    )
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        email = "root@example.com"
        root = register(client, email)
        assert client.portal is not None
        users = app.state.auth.users(app.state.database)
        client.portal.call(users.set_roles, root["id"], ["admin"])
        admin = Account(root["id"], email, bearer(login(client, email)))
        yield World(client, app, admin)


def cache_status(response: Any) -> str:
    return str(response.headers.get("cache-status", ""))


def cached_list(world: World, account: Account, path: str = "/api/notes") -> Any:
    """List twice: the second answer comes from the cache."""
    assert "stored" in cache_status(world.get(account, path))
    response = world.get(account, path)
    assert "hit" in cache_status(response)
    return response


# Identity


def test_a_reused_user_id_never_meets_the_cache_of_the_deleted_user(world: World) -> None:
    victim = world.sign_up()
    category = world.post(victim, "/api/categories", {"name": "private"})
    world.post(victim, "/api/notes", {"title": "diary", "category_id": category["id"]})
    assert [n["title"] for n in cached_list(world, victim).json()["items"]] == ["diary"]
    world.delete_user(victim)

    # A database that hands the id out again (a restore, a table made before ids were
    # never reused): the newcomer has the victim's id, and must still miss.
    async def take_the_id() -> None:
        async with world.app.state.database.session() as session:
            session.add(
                User(id=victim.id, email="newcomer@example.com", password_hash="x", roles=[])
            )

    world.call(take_the_id)
    users = world.app.state.auth.users(world.app.state.database)
    world.call(users.set_password, victim.id, PASSWORD)
    newcomer = Account(
        victim.id, "newcomer@example.com", bearer(login(world.client, "newcomer@example.com"))
    )
    response = world.get(newcomer, "/api/notes")
    assert response.status_code == 200
    assert "hit" not in cache_status(response)
    assert response.json()["items"] == []


def test_sqlite_never_hands_out_a_deleted_users_id(world: World) -> None:
    victim = world.sign_up()
    world.delete_user(victim)
    assert world.sign_up().id > victim.id


@pytest.mark.parametrize("change", ["delete", "disable", "roles", "sign-out"])
def test_a_change_to_a_user_drops_what_was_cached_for_them(world: World, change: str) -> None:
    user = world.sign_up()
    category = world.post(user, "/api/categories", {"name": "work"})
    world.post(user, "/api/notes", {"title": "plan", "category_id": category["id"]})
    cached_list(world, user)
    cached_list(world, world.admin)
    url = f"/api/auth/users/{user.id}"
    if change == "delete":
        world.delete_user(user)
    elif change == "sign-out":
        origin = {"Origin": "https://testserver"}
        response = world.client.post("/api/auth/logout", headers={**user.headers, **origin})
        assert response.status_code == 204, response.text
    else:
        body = {"is_active": False} if change == "disable" else {"roles": ["auditor"]}
        response = world.client.patch(url, json=body, headers=world.admin.headers)
        assert response.status_code == 200, response.text
    # The user's old token reaches nothing, cached or not.
    assert world.get(user, "/api/notes").status_code == 401
    if change in ("roles", "sign-out"):
        user.headers = bearer(login(world.client, user.email))
        response = world.get(user, "/api/notes")
        assert "hit" not in cache_status(response)
        assert [n["title"] for n in response.json()["items"]] == ["plan"]
    admins = world.get(world.admin, "/api/notes")
    expected = [] if change == "delete" else ["plan"]
    assert [n["title"] for n in admins.json()["items"]] == expected


# Data changed by other paths than the resource's own handler


def test_a_cascade_drops_the_cached_rows_it_deleted(world: World) -> None:
    user = world.sign_up()
    category = world.post(user, "/api/categories", {"name": "work"})
    note = world.post(user, "/api/notes", {"title": "plan", "category_id": category["id"]})
    cached_list(world, user)
    cached_list(world, user, f"/api/notes/{note['id']}")
    response = world.client.delete(f"/api/categories/{category['id']}", headers=user.headers)
    assert response.status_code == 204
    assert world.get(user, f"/api/notes/{note['id']}").status_code == 404
    assert world.get(user, "/api/notes").json()["items"] == []


def test_a_hand_written_service_write_invalidates(world: World) -> None:
    user = world.sign_up()
    category = world.post(user, "/api/categories", {"name": "work"})
    note = world.post(user, "/api/notes", {"title": "plan", "category_id": category["id"]})
    cached_list(world, user, f"/api/notes/{note['id']}")
    service = NoteService(world.app.state.database)
    world.call(service.update, note["id"], {"title": "revised"})
    response = world.get(user, f"/api/notes/{note['id']}")
    assert response.json()["title"] == "revised"


@pytest.mark.parametrize("marked", [True, False], ids=["marked", "unmarked"])
def test_raw_sql_invalidates_when_marked(world: World, marked: bool) -> None:
    user = world.sign_up()
    category = world.post(user, "/api/categories", {"name": "work"})
    note = world.post(user, "/api/notes", {"title": "plan", "category_id": category["id"]})
    cached_list(world, user, f"/api/notes/{note['id']}")

    async def rename() -> None:
        async with world.app.state.database.session() as session:
            await session.execute(text("UPDATE cache_notes SET title = 'raw'"))
            if marked:
                mark_changed(session, CachedNote)

    world.call(rename)
    title = world.get(user, f"/api/notes/{note['id']}").json()["title"]
    # Unmarked raw SQL is the one path the cache cannot see: documented, and shown here.
    assert title == ("raw" if marked else "plan")


def test_an_orm_statement_invalidates(world: World) -> None:
    user = world.sign_up()
    category = world.post(user, "/api/categories", {"name": "work"})
    world.post(user, "/api/notes", {"title": "plan", "category_id": category["id"]})
    cached_list(world, user)

    async def rename() -> None:
        async with world.app.state.database.session() as session:
            await session.execute(update(CachedNote).values(title="bulk"))

    world.call(rename)
    assert [n["title"] for n in world.get(user, "/api/notes").json()["items"]] == ["bulk"]


def test_cascades_are_followed_as_far_as_they_go() -> None:
    users = User.__table__
    assert isinstance(users, Table)
    followers = follows_deletes(users)
    assert {"cache_categories", "cache_notes"} <= followers
    categories = CachedCategory.__table__
    assert isinstance(categories, Table)
    assert "cache_notes" in follows_deletes(categories)
    assert "users" not in follows_deletes(categories)


# Random sequences: every cached answer equals a fresh read


@pytest.mark.parametrize("seed", [1, 2])
def test_every_cached_answer_equals_a_fresh_read(world: World, seed: int) -> None:
    rng = random.Random(seed)
    owners: dict[int, Account] = {}

    def pick(items: list[Any]) -> Any:
        return rng.choice(items) if items else None

    def action() -> None:
        choice = rng.choice(["register", "category", "note", "update", "delete", "cascade",
                             "user", "service"])  # fmt: skip
        if choice == "register" or not world.accounts:
            world.sign_up()
            return
        account = pick(world.accounts)
        categories = world.call(world.rows, CachedCategory, account)
        notes = world.call(world.rows, CachedNote, account)
        if choice == "category" or not categories:
            row = world.post(account, "/api/categories", {"name": f"c{rng.randrange(99)}"})
            owners[row["id"]] = account
        elif choice == "note":
            body = {"title": f"n{rng.randrange(99)}", "category_id": pick(list(categories))}
            world.post(account, "/api/notes", body)
        elif choice == "update" and notes:
            path = f"/api/notes/{pick(list(notes))}"
            world.client.patch(path, json={"title": "u"}, headers=account.headers)
        elif choice == "delete" and notes:
            world.client.delete(f"/api/notes/{pick(list(notes))}", headers=account.headers)
        elif choice == "cascade":
            world.client.delete(
                f"/api/categories/{pick(list(categories))}", headers=account.headers
            )
        elif choice == "user":
            world.delete_user(account)
        elif choice == "service" and notes:
            world.call(NoteService(world.app.state.database).update, pick(list(notes)),
                       {"title": "s"})  # fmt: skip

    def check() -> None:
        for account in [*world.accounts, world.admin]:
            owner = None if account is world.admin else account
            for path, model in (("/api/notes", CachedNote), ("/api/categories", CachedCategory)):
                fresh = world.call(world.rows, model, owner)
                response = world.get(account, f"{path}?limit=100")
                assert response.status_code == 200
                answered = {item["id"]: item for item in response.json()["items"]}
                assert answered == fresh, (path, cache_status(response))
                for id, row in list(fresh.items())[:3]:
                    one = world.get(account, f"{path}/{id}")
                    assert one.json() == row, (path, id, cache_status(one))

    for _ in range(40):
        action()
        check()


# Writes through the cache: a successful POST, PUT, PATCH or DELETE bumps its namespace


def items_controller() -> Controller:
    """`/api/items` and `/api/other`; a write answers 409 when asked `?refuse=1`."""
    api = Controller("/api", public=True)
    counter = iter(range(1, 1_000_000))

    @api.get("/items")
    async def items() -> dict[str, int]:
        return {"read": next(counter)}

    @api.get("/items/{id}")
    async def item(request: Request) -> dict[str, int]:
        return {"read": next(counter)}

    @api.get("/other")
    async def other() -> dict[str, int]:
        return {"read": next(counter)}

    async def write(request: Request) -> JSONResponse:
        refused = request.query_params.get("refuse") == "1"
        return JSONResponse({"refused": refused}, status_code=409 if refused else 200)

    api.post("/items")(write)
    for method in ("put", "patch", "delete"):
        getattr(api, method)("/items/{id}")(write)
    return api


def app_on(store: Store, settings: Settings) -> Starlette:
    return create_app(
        settings, controllers=[items_controller()], backends=[], cache_store=store,
        configure_logs=False,
    )  # fmt: skip


def asgi_client(app: Any) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://test")


READS = ["/api/items", "/api/items/1?view=full", "/api/other"]


@pytest.mark.parametrize("refused", [False, True], ids=["succeeds", "refused"])
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/items"), ("PUT", "/api/items/1"), ("PATCH", "/api/items/2"),
     ("DELETE", "/api/items/3")],
    ids=["post", "put", "patch", "delete"],
)  # fmt: skip
async def test_a_successful_write_makes_its_namespace_miss(
    make_settings: Callable[..., Settings], method: str, path: str, refused: bool
) -> None:
    async with asgi_client(app_on(MemoryStore(), make_settings())) as client:
        for read in READS:
            await client.get(read)
        written = await client.request(method, path + ("?refuse=1" if refused else ""))
        assert written.status_code == (409 if refused else 200)
        statuses = [(await client.get(read)).headers["cache-status"] for read in READS]
    under_items = "stackkit; hit" if refused else "stackkit; fwd=miss; stored"
    assert statuses == [under_items, under_items, "stackkit; hit"]


async def test_a_write_through_one_worker_makes_every_worker_miss(
    redis_url: str, make_settings: Callable[..., Settings]
) -> None:
    prefix = unique_key_prefix()
    stores = [
        RedisStore(redis_url, prefix=prefix, timeout=STORE_TIMEOUT) for _ in range(2)
    ]  # one per worker
    async with (
        opened(*stores),
        asgi_client(app_on(stores[0], make_settings())) as first,
        asgi_client(app_on(stores[1], make_settings())) as second,
    ):
        cached = await first.get("/api/items")
        assert (await second.get("/api/items")).json() == cached.json()  # one entry
        assert (await second.post("/api/items")).status_code == 200
        fresh = await first.get("/api/items")
        assert fresh.headers["cache-status"] == "stackkit; fwd=miss; stored"
        assert fresh.json() != cached.json()
