"""Owner-scoped resources: each user sees and changes only the rows they created,
admins see all (DESIGN.md, "HTTP contract"). On SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ForeignKey, String, Table
from sqlalchemy.orm import Mapped, MappedColumn, mapped_column
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, BaseUser, SimpleUser
from starlette.requests import Request
from starlette.testclient import TestClient
from tests.auth.conftest import FAST_HASHER, bearer, login, register, sign_in_users
from tests.db.models import GadgetService
from tests.helpers import documented_operations

from stackkit import Settings, create_app
from stackkit.auth import AuthConfig
from stackkit.auth.user import User
from stackkit.db import ConflictError, Model, Repository, Service, owner_column
from stackkit.db.model import MAX_ID
from stackkit.resources.export import EXPORT_PAGE_SIZE
from stackkit.resources.resource import Resource, _BodyFields
from stackkit.testing import create_database, drop_database

# Tables of this module's own, so that other tests' tables never meet them.


class OwnedNote(Model):
    __tablename__ = "owned_resource_notes"
    title: Mapped[str] = mapped_column(String(200), index=True)
    owner_id: Mapped[int] = owner_column()


class OwnedTask(Model):
    __tablename__ = "owned_resource_tasks"
    title: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int] = owner_column()


class OwnedComment(Model):
    """Points at a note: a row of another owned table, which must be the caller's own."""

    __tablename__ = "owned_resource_comments"
    text: Mapped[str] = mapped_column(String(200))
    note_id: Mapped[int] = mapped_column(ForeignKey(OwnedNote.id, ondelete="CASCADE"))
    owner_id: Mapped[int] = owner_column()


TABLES = [User.__table__, OwnedNote.__table__, OwnedTask.__table__, OwnedComment.__table__]


class NoteService(Service[OwnedNote]):
    repository = Repository.for_model(OwnedNote)


class TaskService(Service[OwnedTask]):
    repository = Repository.for_model(OwnedTask)


class CommentService(Service[OwnedComment]):
    repository = Repository.for_model(OwnedComment)


class CommentIn(BaseModel):
    text: str
    note_id: int


class CommentPatch(BaseModel):
    text: str | None = None
    note_id: int | None = None


class OpenCommentIn(BaseModel):
    """A create model that lets the table's other columns (`note_id`) through."""

    model_config = ConfigDict(extra="allow")
    text: str


class CommentPatchWithOwner(CommentPatch):
    """An update model that declares owner_id, on a resource that is not owned."""

    owner_id: int | None = None


class CommentOut(BaseModel):
    id: int
    text: str
    note_id: int
    owner_id: int


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)


class NotePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=200)


class NoteOut(BaseModel):
    id: int
    title: str
    owner_id: int
    version: int


class TaskIn(BaseModel):
    """A create model that declares owner_id: the resource overwrites it."""

    title: str
    owner_id: int | None = None


class TaskPatch(BaseModel):
    """An update model that lets unknown fields through: owner_id must still be refused."""

    model_config = ConfigDict(extra="allow")
    title: str | None = None


def notes(**options: Any) -> Resource:
    return Resource(
        "notes", service=NoteService, create=NoteIn, update=NotePatch, read=NoteOut, **options
    )


def tasks() -> Resource:
    return Resource("tasks", service=TaskService, create=TaskIn, update=TaskPatch, read=NoteOut)


def comments() -> Resource:
    return Resource(
        "comments", service=CommentService, create=CommentIn, update=CommentPatch, read=CommentOut
    )


def open_comments() -> Resource:
    return Resource(
        "open-comments", service=CommentService, create=OpenCommentIn, update=CommentPatch,
        read=CommentOut,
    )  # fmt: skip


def shared_comments() -> Resource:
    """Every user's comments, to everyone: not owned."""
    return Resource(
        "shared-comments", service=CommentService, create=CommentIn,
        update=CommentPatchWithOwner, read=CommentOut, owned=False,
    )  # fmt: skip


async def create_tables(app: Starlette) -> None:
    async with app.state.database.engine.begin() as connection:
        await connection.run_sync(Model.metadata.create_all, tables=TABLES)


@dataclass
class Caller:
    id: int
    headers: dict[str, str]


@dataclass
class World:
    """An app with the `notes` and `tasks` resources, two users and an admin."""

    client: TestClient
    ada: Caller
    bob: Caller
    admin: Caller

    def create(self, caller: Caller, title: str, path: str = "/api/notes") -> dict[str, Any]:
        response = self.client.post(path, json={"title": title}, headers=caller.headers)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def titles(self, caller: Caller, query: str = "") -> list[str]:
        response = self.client.get(f"/api/notes?sort=title{query}", headers=caller.headers)
        assert response.status_code == 200, response.text
        return [item["title"] for item in response.json()["items"]]


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Settings naming SQLite in memory, or a PostgreSQL database of this test's own."""
    if request.param == "sqlite":
        yield Settings(env="test", database_url="sqlite:///:memory:")
        return
    server_url = request.getfixturevalue("postgres_server_url")
    database_url = create_database(server_url)
    try:
        yield Settings(env="test", database_url=database_url)
    finally:
        drop_database(server_url, database_url.rsplit("/", 1)[1])


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    app = create_app(
        settings,
        resources=[notes(), tasks(), comments(), open_comments(), shared_comments()],
        auth=AuthConfig(User, hasher=FAST_HASHER),
        startup=[create_tables],
    )
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        callers = {name: Caller(*user) for name, user in sign_in_users(client, app).items()}
        yield World(client, callers["ada"], callers["bob"], callers["root"])


# Creating


def test_create_makes_the_caller_the_owner(world: World) -> None:
    note = world.create(world.ada, "groceries")
    assert note["owner_id"] == world.ada.id
    admin_note = world.create(world.admin, "audit")
    assert admin_note["owner_id"] == world.admin.id


def test_create_refuses_an_owner_id_the_create_model_does_not_declare(world: World) -> None:
    response = world.client.post(
        "/api/notes",
        json={"title": "planted", "owner_id": world.bob.id},
        headers=world.ada.headers,
    )
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["owner_id"]
    assert world.titles(world.bob) == []


def test_create_overwrites_an_owner_id_the_create_model_declares(world: World) -> None:
    response = world.client.post(
        "/api/tasks",
        json={"title": "planted", "owner_id": world.bob.id},
        headers=world.ada.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["owner_id"] == world.ada.id
    bobs = world.client.get("/api/tasks", headers=world.bob.headers).json()
    assert bobs["items"] == []


# Another user's rows


@pytest.mark.parametrize("if_match", [None, '"1"', '"7"'], ids=["plain", "current", "stale"])
def test_another_users_row_is_not_found(world: World, if_match: str | None) -> None:
    note = world.create(world.ada, "diary")
    url = f"/api/notes/{note['id']}"
    headers = dict(world.bob.headers)
    if if_match is not None:
        headers["If-Match"] = if_match
    client = world.client
    missing = client.get("/api/notes/999999", headers=world.bob.headers).json()

    responses = [
        client.get(url, headers=headers),
        client.patch(url, json={"title": "hacked"}, headers=headers),
        client.delete(url, headers=headers),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404]
    # Worded like a row that does not exist: nothing tells the two apart.
    assert responses[0].json()["detail"] == missing["detail"].replace("999999", str(note["id"]))
    assert client.get(url, headers=world.ada.headers).json() == note


def test_lists_show_only_the_callers_rows(world: World) -> None:
    for title in ("a1", "a2", "a3"):
        world.create(world.ada, title)
    for title in ("b1", "b2"):
        world.create(world.bob, title)

    assert world.titles(world.ada) == ["a1", "a2", "a3"]
    assert world.titles(world.bob) == ["b1", "b2"]


@pytest.mark.parametrize(
    "query",
    ["&owner_id={ada}", "&owner_id__in={ada},{bob}", "&owner_id__ne={bob}", "&title__contains=a"],
    ids=["eq", "in", "ne", "other-field"],
)
def test_filters_never_reach_another_users_rows(world: World, query: str) -> None:
    world.create(world.ada, "ada's")
    world.create(world.bob, "bob's")
    query = query.format(ada=world.ada.id, bob=world.bob.id)

    if query.startswith("&owner_id"):  # naming an owner is for admins (docs/data-layer.md)
        response = world.client.get(f"/api/notes?{query[1:]}", headers=world.bob.headers)
        assert response.status_code == 422
        assert response.json()["errors"] == [
            {"in": "query", "field": query[1:].partition("=")[0], "type": "forbidden",
             "message": "only holders of the 'admin' role filter on owner_id"}
        ]  # fmt: skip
    else:
        assert "ada's" not in world.titles(world.bob, query)
    assert world.titles(world.admin, query) != []


@pytest.mark.parametrize(
    "value", ["0", "x", "99999999999", ""], ids=["zero", "word", "huge", "empty"]
)
def test_an_admins_owner_filter_must_name_a_user_id(world: World, value: str) -> None:
    response = world.client.get(f"/api/notes?owner_id={value}", headers=world.admin.headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"in": "query", "field": "owner_id", "type": "invalid_value",
         "message": f"must be a user id, 1 to {MAX_ID}"}
    ]  # fmt: skip


@pytest.mark.parametrize("value", ["1", str(MAX_ID)], ids=["one", "max-id"])
def test_an_admins_owner_filter_takes_any_user_id(world: World, value: str) -> None:
    response = world.client.get(f"/api/notes?owner_id={value}", headers=world.admin.headers)
    assert response.status_code == 200, response.text


def test_cursors_page_through_the_callers_rows_only(world: World) -> None:
    for n in range(5):
        world.create(world.ada, f"a{n}")
        world.create(world.bob, f"b{n}")
    client = world.client
    seen: list[str] = []
    cursor = ""
    while True:
        page = client.get(f"/api/notes?sort=title&limit=2{cursor}", headers=world.ada.headers)
        body = page.json()
        seen += [item["title"] for item in body["items"]]
        if body["next_cursor"] is None:
            break
        cursor = f"&cursor={body['next_cursor']}"
    assert seen == ["a0", "a1", "a2", "a3", "a4"]

    # Ada's cursor names a place in the order, not rows: Bob gets his own rows after it.
    first = client.get("/api/notes?sort=title&limit=1", headers=world.ada.headers).json()
    after = client.get(
        f"/api/notes?sort=title&cursor={first['next_cursor']}", headers=world.bob.headers
    )
    assert [item["title"] for item in after.json()["items"]] == ["b0", "b1", "b2", "b3", "b4"]


def test_an_open_create_model_takes_the_tables_other_columns(world: World) -> None:
    note = world.create(world.ada, "read later")
    client, headers = world.client, world.ada.headers
    body = {"text": "see", "note_id": note["id"]}
    created = client.post("/api/open-comments", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json() | body == created.json()
    assert created.json()["owner_id"] == world.ada.id
    refused = client.post("/api/open-comments", json={**body, "nope": 1}, headers=headers)
    assert [(e["field"], e["type"]) for e in refused.json()["errors"]] == [
        ("nope", "unknown_field")
    ]


def test_a_resource_that_is_not_owned_still_sets_the_owner_itself(world: World) -> None:
    """Its update model may declare owner_id: a PATCH still cannot move a row."""
    note = world.create(world.ada, "shared")
    comment = world.client.post(
        "/api/comments", json={"text": "hi", "note_id": note["id"]}, headers=world.ada.headers
    ).json()
    url = f"/api/shared-comments/{comment['id']}"
    for caller in (world.ada, world.bob):
        response = world.client.patch(url, json={"owner_id": world.bob.id}, headers=caller.headers)
        assert response.status_code == 422
        assert [(e["field"], e["type"]) for e in response.json()["errors"]] == [
            ("owner_id", "read_only")
        ]
    changed = world.client.patch(url, json={"text": "hello"}, headers=world.bob.headers)
    assert changed.json() == {**comment, "text": "hello"}


def test_patch_cannot_change_the_owner(world: World) -> None:
    task = world.create(world.ada, "mine", path="/api/tasks")
    url = f"/api/tasks/{task['id']}"
    for caller in (world.ada, world.admin):
        response = world.client.patch(url, json={"owner_id": world.bob.id}, headers=caller.headers)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "owner_id"
    assert world.client.get(url, headers=world.ada.headers).json() == task


# The owner and the admin


def test_the_owner_reads_changes_and_deletes_their_rows(world: World) -> None:
    note = world.create(world.ada, "draft")
    url = f"/api/notes/{note['id']}"
    client, headers = world.client, world.ada.headers

    assert client.get(url, headers=headers).json() == note
    changed = client.patch(url, json={"title": "final"}, headers={**headers, "If-Match": '"1"'})
    assert changed.status_code == 200
    assert (changed.json()["title"], changed.json()["owner_id"]) == ("final", world.ada.id)
    assert client.delete(url, headers={**headers, "If-Match": '"2"'}).status_code == 204
    assert client.get(url, headers=headers).status_code == 404


def test_an_admin_sees_and_changes_every_row(world: World) -> None:
    adas = world.create(world.ada, "ada's")
    bobs = world.create(world.bob, "bob's")
    client, headers = world.client, world.admin.headers

    assert world.titles(world.admin) == ["ada's", "bob's"]
    assert world.titles(world.admin, f"&owner_id={world.bob.id}") == ["bob's"]
    assert client.get(f"/api/notes/{adas['id']}", headers=headers).json() == adas
    changed = client.patch(f"/api/notes/{adas['id']}", json={"title": "edited"}, headers=headers)
    assert changed.status_code == 200
    # The row keeps its owner: Ada still sees it, changed.
    assert changed.json()["owner_id"] == world.ada.id
    assert world.titles(world.ada) == ["edited"]
    assert client.delete(f"/api/notes/{bobs['id']}", headers=headers).status_code == 204
    assert world.titles(world.bob) == []


def test_without_a_token_every_route_is_401(world: World) -> None:
    note = world.create(world.ada, "secret")
    client, url = world.client, f"/api/notes/{note['id']}"
    responses = [
        client.get("/api/notes"),
        client.post("/api/notes", json={"title": "anonymous"}),
        client.get(url),
        client.patch(url, json={"title": "anonymous"}),
        client.delete(url),
    ]
    assert [r.status_code for r in responses] == [401] * 5
    assert world.titles(world.ada) == ["secret"]


def test_each_route_is_documented_with_its_name_summary_and_answer(world: World) -> None:
    """OpenAPI names each route after the resource and sums it up with the model's name
    (OwnedNote's rows are "an owned note"); its answer is the read model, or a page of
    them."""
    document = world.client.get("/api/openapi.json").json()
    notes = ("/api/notes", "/api/notes/{id}")
    operations = {
        route: (operation["operationId"], operation["summary"], status, schema)
        for route, (operation, status, schema) in documented_operations(
            document, lambda path, _: path in notes
        ).items()
    }
    page, row = {"$ref": "#/components/schemas/NotesPage"}, {"$ref": "#/components/schemas/NoteOut"}
    change = "Change an owned note (If-Match: its ETag, to refuse stale changes)"
    assert operations == {
        ("/api/notes", "get"): ("list_notes", "List notes", "200", page),
        ("/api/notes", "post"): ("create_notes", "Create an owned note", "201", row),
        ("/api/notes/{id}", "get"): ("get_notes", "Read an owned note", "200", row),
        ("/api/notes/{id}", "patch"): ("update_notes", change, "200", row),
        ("/api/notes/{id}", "delete"): ("delete_notes", "Delete an owned note", "204", None),
    }


def test_the_list_routes_parameters_say_what_each_takes(world: World) -> None:
    """A page of 1 to 100 rows, 20 by default; each filter with the operators its field
    takes (`contains` on text only)."""
    document = world.client.get("/api/openapi.json").json()
    parameters = {p["name"]: p for p in document["paths"]["/api/notes"]["get"]["parameters"]}
    limit = parameters["limit"]["schema"]
    assert (limit["type"], limit["minimum"], limit["maximum"], limit["default"]) == (
        "integer", 1, 100, 20,
    )  # fmt: skip
    described = {name: parameter["description"] for name, parameter in parameters.items()}
    assert described == {
        "limit": "Page size.",
        "cursor": "next_cursor of the previous page.",
        "sort": "Comma-separated fields, '-' for descending: "
        "created_at, id, owner_id, title, updated_at, version.",
        "title": "Equal to this value; also title__ne, __lt, __lte, __gt, __gte, __in, "
        "__contains, __isnull.",
        **{
            name: f"Equal to this value; also {name}__ne, __lt, __lte, __gt, __gte, __in, __isnull."
            for name in ("created_at", "id", "owner_id", "updated_at", "version")
        },
    }


def test_meta_says_the_resource_is_owned(world: World) -> None:
    infos = world.client.get("/api/meta/resources", headers=world.ada.headers).json()
    owned = {info["name"]: info["owned"] for info in infos}
    assert owned == {
        "notes": True, "tasks": True, "comments": True, "open-comments": True,
        "shared-comments": False,
    }  # fmt: skip


# The owner column, in the database


def test_rows_need_an_owner_that_exists_and_go_with_them(world: World) -> None:
    app: Any = world.client.app
    database = app.state.database
    portal = world.client.portal
    assert portal is not None
    with pytest.raises(ConflictError):
        portal.call(NoteService(database).create, {"title": "orphan", "owner_id": 999999})
    world.create(world.ada, "ada's")
    world.create(world.bob, "bob's")

    portal.call(app.state.auth.users(database).delete, world.ada.id)

    assert world.titles(world.admin) == ["bob's"]


def test_owner_column_is_an_indexed_required_foreign_key_to_users() -> None:
    table = OwnedNote.__table__
    assert isinstance(table, Table)
    column = table.c.owner_id
    [foreign_key] = column.foreign_keys
    assert not column.nullable
    assert column.index
    assert foreign_key.target_fullname == "users.id"
    assert foreign_key.ondelete == "CASCADE"
    assert foreign_key.constraint is not None
    assert foreign_key.constraint.name == "fk_owned_resource_notes_owner_id_users"


def test_owner_column_names_the_users_table_it_is_given() -> None:
    column = owner_column("accounts")
    assert isinstance(column, MappedColumn)
    [foreign_key] = column.column.foreign_keys
    assert foreign_key.target_fullname == "accounts.id"


# Declaring a resource


@pytest.mark.parametrize(
    ("service", "owned", "expected"),
    [
        (NoteService, None, True),
        (GadgetService, None, False),
        (NoteService, False, False),
    ],
    ids=["owner-column", "no-owner-column", "opted-out"],
)
def test_owned_defaults_to_whether_the_model_has_an_owner_column(
    service: type[Service[Any]], owned: bool | None, expected: bool
) -> None:
    resource = Resource(
        "things", service=service, create=NoteIn, update=NotePatch, read=NoteOut, owned=owned
    )
    assert resource.owned is expected


def test_an_owned_resource_cannot_be_public() -> None:
    with pytest.raises(TypeError) as raised:
        notes(public=True)
    assert str(raised.value) == (
        "resource 'notes' is owned (OwnedNote has an 'owner_id' column) and cannot be public: "
        "an anonymous caller owns no rows. Drop public=True, or pass owned=False to share "
        "every row with everyone"
    )
    assert notes(public=True, owned=False).public


def test_an_owned_resource_needs_an_owner_column() -> None:
    with pytest.raises(TypeError, match="has no 'owner_id' column"):
        Resource(
            "gadgets",
            service=GadgetService,
            create=NoteIn,
            update=NotePatch,
            read=NoteOut,
            owned=True,
        )


def test_an_owned_resource_refuses_an_update_model_with_owner_id() -> None:
    with pytest.raises(TypeError) as raised:
        Resource("tasks", service=TaskService, create=TaskIn, update=TaskIn, read=NoteOut)
    assert str(raised.value) == (
        "resource 'tasks' is owned: its update model must not declare 'owner_id', or a PATCH "
        "could move a row into another user's list"
    )


def test_an_admin_role_of_the_apps_own(settings: Settings) -> None:
    """`admin_role` names the role that sees all; `admin` alone then does not."""
    app = create_app(
        settings,
        resources=[notes(admin_role="support")],
        auth=AuthConfig(User, hasher=FAST_HASHER),
        startup=[create_tables],
    )
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        users = app.state.auth.users(app.state.database)
        assert client.portal is not None
        headers = {}
        for name, roles in (("ada", []), ("root", ["admin"]), ("help", ["support"])):
            user = register(client, f"{name}@example.com")
            client.portal.call(users.set_roles, user["id"], roles)
            headers[name] = bearer(login(client, f"{name}@example.com"))
        client.post("/api/notes", json={"title": "ada's"}, headers=headers["ada"])

        def count(name: str) -> int:
            return len(client.get("/api/notes", headers=headers[name]).json()["items"])

        assert (count("root"), count("help")) == (0, 1)


def test_a_former_admin_stops_seeing_other_users_rows_at_once(world: World) -> None:
    world.create(world.ada, "ada's")
    assert world.titles(world.admin) == ["ada's"]
    app: Any = world.client.app
    assert world.client.portal is not None
    world.client.portal.call(app.state.auth.users(app.state.database).set_roles, world.admin.id, [])
    world.admin.headers = bearer(login(world.client, "root@example.com"))

    assert world.titles(world.admin) == []


# Bodies name only what a client may set

REFUSED_FIELDS = [
    ("id", 999, "read_only"),
    ("version", 9, "read_only"),
    ("created_at", "2020-01-01T00:00:00Z", "read_only"),
    ("updated_at", "2020-01-01T00:00:00Z", "read_only"),
    ("deleted_at", None, "read_only"),
    ("owner_id", 1, "read_only"),
    ("titel", "typo", "unknown_field"),
]


FIELD_MESSAGES = {
    ("read_only", "POST"): "is set by the server and cannot be given",
    ("read_only", "PATCH"): "is set by the server and cannot be given",
    ("unknown_field", "POST"): "is not a field of TaskIn",
    ("unknown_field", "PATCH"): "is not a field of TaskPatch",
}


@pytest.mark.parametrize(
    ("field", "value", "kind"), REFUSED_FIELDS, ids=[f[0] for f in REFUSED_FIELDS]
)
@pytest.mark.parametrize("path", ["/api/notes", "/api/tasks"], ids=["forbid", "open-models"])
def test_create_and_update_refuse_read_only_and_unknown_fields(
    world: World, path: str, field: str, value: Any, kind: str
) -> None:
    row = world.create(world.ada, "mine", path)
    open_model = path == "/api/tasks"  # TaskIn declares owner_id; TaskPatch allows extras
    for method, url, expect in (
        ("POST", path, not (open_model and field == "owner_id")),
        ("PATCH", f"{path}/{row['id']}", True),
    ):
        body = {"title": "changed", field: value}
        response = world.client.request(method, url, json=body, headers=world.ada.headers)
        if expect:
            assert response.status_code == 422, (method, response.text)
            errors = response.json()["errors"]
            # A model that forbids extras refuses them itself, as pydantic words it.
            expected = "extra_forbidden" if path == "/api/notes" else kind
            assert [(e["field"], e["type"]) for e in errors] == [(field, expected)], errors
            if expected != "extra_forbidden":
                assert errors == [{"in": "body", "field": field, "type": kind,
                                   "message": FIELD_MESSAGES[kind, method]}]  # fmt: skip
        else:
            assert response.status_code in (200, 201), (method, response.text)
    current = world.client.get(f"{path}/{row['id']}", headers=world.ada.headers).json()
    assert current["owner_id"] == world.ada.id
    assert current["id"] == row["id"]


def test_a_patch_that_changes_nothing_keeps_the_etag(world: World) -> None:
    note = world.create(world.ada, "same")
    url = f"/api/notes/{note['id']}"
    for body in ({}, {"title": "same"}):
        response = world.client.patch(url, json=body, headers=world.ada.headers)
        assert response.status_code == 200, response.text
        assert response.json()["version"] == note["version"]
        assert response.headers["etag"] == f'"{note["version"]}"'
    response = world.client.patch(url, json={"title": "other"}, headers=world.ada.headers)
    assert response.json()["version"] == note["version"] + 1


# References to rows of other owned tables


def test_a_reference_must_name_one_of_the_callers_own_rows(world: World) -> None:
    """A comment may point only at its author's own notes (admins at any): another
    user's note is answered as if it did not exist, on create and on update."""
    ada_note = world.create(world.ada, "ada's")["id"]
    bob_note = world.create(world.bob, "bob's")["id"]

    def comment(caller: Caller, note_id: int) -> Any:
        body = {"text": "hi", "note_id": note_id}
        return world.client.post("/api/comments", json=body, headers=caller.headers)

    own = comment(world.ada, ada_note)
    assert own.status_code == 201, own.text
    refused = [comment(world.ada, bob_note), comment(world.ada, 999_999)]
    for response in refused:
        assert response.status_code == 422, response.text
        assert response.json()["errors"] == [
            {"in": "body", "field": "note_id", "type": "not_found",
             "message": "no owned_resource_notes row with this id"}
        ]  # fmt: skip
    assert refused[0].json()["errors"] == refused[1].json()["errors"]  # nothing told apart

    moved = world.client.patch(
        f"/api/comments/{own.json()['id']}", json={"note_id": bob_note}, headers=world.ada.headers
    )
    assert moved.status_code == 422
    assert comment(world.admin, bob_note).status_code == 201
    # Bob deleting his note takes only the comments on it, never ada's.
    deleted = world.client.delete(f"/api/notes/{bob_note}", headers=world.bob.headers)
    assert deleted.status_code == 204
    listed = world.client.get("/api/comments", headers=world.ada.headers).json()["items"]
    assert [(c["note_id"], c["owner_id"]) for c in listed] == [(ada_note, world.ada.id)]


# Who sees all, and what the caller may do: from the request's user and credentials


class RolesUser(SimpleUser):
    def __init__(self, roles: list[str]) -> None:
        super().__init__("ada")
        self.roles = roles


def request_with(user: BaseUser | None, scopes: list[str] | None) -> Request:
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/", "headers": []}
    if user is not None:
        scope["user"] = user
    if scopes is not None:
        scope["auth"] = AuthCredentials(scopes)
    return Request(scope)


@pytest.mark.parametrize(
    ("user", "scopes", "sees_all"),
    [
        # The user's roles decide when it has any...
        (lambda: RolesUser(["admin"]), [], True),
        (lambda: RolesUser([]), ["admin"], False),
        (lambda: RolesUser(["editor"]), ["admin"], False),
        # ...the credentials' scopes for a user without roles (Starlette's own).
        (lambda: SimpleUser("ada"), ["admin"], True),
        (lambda: SimpleUser("ada"), ["editor"], False),
        (lambda: None, ["admin"], True),
        (lambda: None, None, False),
    ],
    ids=["roles-admin", "roles-none", "roles-editor", "scopes-admin", "scopes-editor",
         "no-user-scopes-admin", "nobody"],
)  # fmt: skip
def test_sees_all_reads_the_users_roles_else_the_credentials_scopes(
    user: Callable[[], BaseUser | None], scopes: list[str] | None, sees_all: bool
) -> None:
    assert notes().sees_all(request_with(user(), scopes)) is sees_all


def test_permissions_without_credentials_grant_nothing_that_needs_a_role() -> None:
    resource = Resource(
        "notes", service=NoteService, create=NoteIn, update=NotePatch, read=NoteOut,
        roles=("reader",),
    )  # fmt: skip
    assert resource.permissions(request_with(SimpleUser("ada"), None)) == dict.fromkeys(
        ("list", "create", "read", "update", "delete"), False
    )


@pytest.mark.parametrize("user_id", ["ada", None])
def test_an_owned_resource_refuses_a_user_without_an_integer_id(user_id: str | None) -> None:
    user = SimpleUser("ada")
    user.id = user_id  # type: ignore[attr-defined]
    with pytest.raises(TypeError) as raised:
        notes().owner_of(request_with(user, []))
    assert str(raised.value) == (
        "resource 'notes' is owned, but the signed-in user SimpleUser has no integer `id` "
        "to own rows with"
    )


class OpenPatch(BaseModel):
    """An update model that lets unknown fields through, with a field known by an alias."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    title: str | None = None
    due: str | None = Field(default=None, alias="dueDate")
    owner_id: int | None = None


class ClosedPatch(OpenPatch):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


COLUMNS = ["id", "version", "created_at", "updated_at", "title", "due", "done", "owner_id"]


@pytest.mark.parametrize(
    ("model", "keep_owner", "allowed"),
    [
        # An open model takes the table's columns too; a closed one its own fields only.
        (OpenPatch, False, {"title", "due", "dueDate", "done"}),
        (ClosedPatch, False, {"title", "due", "dueDate"}),
        # The owner is the server's to set, unless kept (a create model that declares it).
        (OpenPatch, True, {"title", "due", "dueDate", "done", "owner_id"}),
    ],
    ids=["open", "closed", "open-keeping-the-owner"],
)
def test_which_fields_a_body_may_name(
    model: type[BaseModel], keep_owner: bool, allowed: set[str]
) -> None:
    fields = _BodyFields(model, COLUMNS, keep_owner=keep_owner)
    assert fields.allowed == allowed
    assert ("owner_id" in fields.read_only) is not keep_owner
    assert fields.read_only >= {"id", "version", "created_at", "updated_at", "deleted_at"}


# Export


def exported(world: World, caller: Caller, query: str = "") -> list[list[str]]:
    response = world.client.get(f"/api/notes/export.csv{query}", headers=caller.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="notes.csv"'
    assert response.headers["cache-control"] == "no-store"
    return list(csv.reader(io.StringIO(response.text)))


def test_an_export_has_the_read_models_columns_and_only_the_callers_rows(world: World) -> None:
    for title in ("b", "a", "c"):
        world.create(world.ada, title)
    world.create(world.bob, "bobs")
    rows = exported(world, world.ada, "?sort=title")
    assert rows[0] == ["id", "title", "owner_id", "version"]
    assert [row[1] for row in rows[1:]] == ["a", "b", "c"]
    assert {row[2] for row in rows[1:]} == {str(world.ada.id)}
    assert [row[1] for row in exported(world, world.ada, "?title__in=a,c&sort=-title")[1:]] == [
        "c",
        "a",
    ]
    # The admin's owner filter works as in the list.
    admins = exported(world, world.admin, f"?owner_id={world.bob.id}")
    assert [row[1] for row in admins[1:]] == ["bobs"]


def test_an_export_goes_past_one_page_without_a_row_twice(world: World) -> None:
    count = EXPORT_PAGE_SIZE * 2 + 5
    app = world.client.app
    service = NoteService(app.state.database)  # type: ignore[attr-defined]

    async def add() -> None:
        for number in range(count):
            await service.create({"title": f"note {number:03d}", "owner_id": world.ada.id})

    assert world.client.portal is not None
    world.client.portal.call(add)
    rows = exported(world, world.ada, "?sort=-title")
    titles = [row[1] for row in rows[1:]]
    assert titles == [f"note {number:03d}" for number in reversed(range(count))]


@pytest.mark.parametrize(
    "query", ["?title__nope=1", "?sort=password", "?limit=5", "?owner_id=someone"]
)
def test_a_bad_export_query_is_a_problem_before_any_line(world: World, query: str) -> None:
    response = world.client.get(f"/api/notes/export.csv{query}", headers=world.admin.headers)
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == "application/problem+json"


def test_an_export_needs_a_signed_in_caller(world: World) -> None:
    assert world.client.get("/api/notes/export.csv").status_code == 401
