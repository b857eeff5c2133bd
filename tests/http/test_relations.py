"""Relations between resources (`stackkit.resources.relations`): `?include=`, filters
across a relation, the pickers' `choices` route, and what meta says of them; each
within the caller's rows. On SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel, Field
from sqlalchemy import Column, ForeignKey, String, Table, event
from sqlalchemy.orm import Mapped, mapped_column
from starlette.applications import Starlette
from starlette.testclient import TestClient
from tests.auth.conftest import FAST_HASHER, sign_in_users

from stackkit import Settings, create_app
from stackkit.auth import AuthConfig
from stackkit.auth.user import User
from stackkit.db import Model, Repository, Service, SoftDelete, owner_column
from stackkit.db.repository import link_columns
from stackkit.resources.relations import MAX_INCLUDES, relation_name
from stackkit.resources.resource import Resource, link_relations


class Shelf(Model):
    __tablename__ = "relation_shelves"
    name: Mapped[str] = mapped_column(String(200), index=True)
    secret: Mapped[str] = mapped_column(String(200), default="")
    owner_id: Mapped[int] = owner_column()


book_shelves = Table(
    "relation_book_shelves",
    Model.metadata,
    Column("book_id", ForeignKey("relation_books.id", ondelete="CASCADE"), primary_key=True),
    Column("shelf_id", ForeignKey("relation_shelves.id", ondelete="CASCADE"), primary_key=True),
)
"""Books on many shelves at once: a many-to-many link."""


class Book(Model):
    __tablename__ = "relation_books"
    title: Mapped[str] = mapped_column(String(200))
    shelf_id: Mapped[int | None] = mapped_column(ForeignKey(Shelf.id), index=True)
    owner_id: Mapped[int] = owner_column()


class ShelfService(Service[Shelf]):
    repository = Repository.for_model(Shelf, filterable=("name",))


class BookService(Service[Book]):
    repository = Repository.for_model(Book, links={"shelf_ids": book_shelves})


class ShelfIn(BaseModel):
    name: str = Field(max_length=200)


class ShelfPatch(BaseModel):
    name: str | None = Field(None, max_length=200)


class ShelfOut(BaseModel):
    id: int
    name: str
    owner_id: int


class BookIn(BaseModel):
    title: str = Field(max_length=200)
    shelf_id: int | None = None
    shelf_ids: list[int] = Field(default_factory=list, max_length=100)


class BookPatch(BaseModel):
    title: str | None = Field(None, max_length=200)
    shelf_id: int | None = None
    shelf_ids: list[int] | None = Field(None, max_length=100)


class BookOut(BaseModel):
    id: int
    title: str
    shelf_id: int | None
    shelf_ids: list[int] = []
    owner_id: int
    version: int


def shelves(**options: Any) -> Resource:
    return Resource(
        "shelves", service=ShelfService, create=ShelfIn, update=ShelfPatch, read=ShelfOut,
        **options,
    )  # fmt: skip


def books() -> Resource:
    return Resource("books", service=BookService, create=BookIn, update=BookPatch, read=BookOut)


async def create_tables(app: Starlette) -> None:
    async with app.state.database.engine.begin() as connection:
        tables = [User.__table__, Shelf.__table__, Book.__table__, book_shelves]
        await connection.run_sync(Model.metadata.create_all, tables=tables)


@dataclass
class Library:
    client: TestClient
    app: Starlette
    ada: dict[str, str]
    bob: dict[str, str]
    admin: dict[str, str]

    def post(self, caller: dict[str, str], path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(path, json=body, headers=caller)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def get(self, caller: dict[str, str], url: str, status: int = 200) -> Any:
        response = self.client.get(url, headers=caller)
        assert response.status_code == status, response.text
        return response.json()


@pytest.fixture
def library(database_url: str) -> Iterator[Library]:
    app = create_app(
        Settings(env="test", database_url=database_url),
        resources=[shelves(), books()],
        auth=AuthConfig(User, hasher=FAST_HASHER),
        startup=[create_tables],
    )
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        headers = {name: user[1] for name, user in sign_in_users(client, app).items()}
        yield Library(client, app, headers["ada"], headers["bob"], headers["root"])


def test_a_list_includes_each_rows_reference_in_one_query(library: Library) -> None:
    ada = library.ada
    work = library.post(ada, "/api/shelves", {"name": "work"})
    home = library.post(ada, "/api/shelves", {"name": "home"})
    for n in range(12):
        shelf = (work, home, None)[n % 3]
        library.post(ada, "/api/books", {"title": f"b{n}", "shelf_id": shelf and shelf["id"]})

    statements: list[str] = []
    engine = library.app.state.database.engine.sync_engine

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        # Sorted by title, not cached: each answer is the handler's.
        plain = library.get(ada, "/api/books?sort=title&limit=50")
        before = len(statements)
        page = library.get(ada, "/api/books?sort=title&limit=50&include=shelf")
        with_include = len(statements) - before
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert with_include == before + 1  # the list's query, and one for every shelf
    names = {item["title"]: (item["shelf"] or {}).get("name") for item in page["items"]}
    assert names["b0"] == "work"
    assert names["b1"] == "home"
    assert names["b2"] is None
    assert page["items"][0]["shelf"] == work
    assert [item["id"] for item in page["items"]] == [item["id"] for item in plain["items"]]
    assert "shelf" not in plain["items"][0]


def test_an_included_row_is_one_the_caller_may_see(library: Library) -> None:
    # An admin may point a row at anyone's: its owner still sees only their own.
    bobs = library.post(library.bob, "/api/shelves", {"name": "bob's secret shelf"})
    book = library.post(library.ada, "/api/books", {"title": "mine"})
    moved = library.client.patch(
        f"/api/books/{book['id']}", json={"shelf_id": bobs["id"]}, headers=library.admin
    )
    assert moved.status_code == 200, moved.text
    listed = library.get(library.ada, "/api/books?include=shelf")["items"]
    assert listed[0]["shelf_id"] == bobs["id"]
    assert listed[0]["shelf"] is None
    read = library.get(library.ada, f"/api/books/{book['id']}?include=shelf")
    assert read["shelf"] is None
    assert library.get(library.admin, "/api/books?include=shelf")["items"][0]["shelf"]["id"]
    # Nor does a filter across the relation find it.
    assert library.get(library.ada, "/api/books?shelf.name__contains=secret")["items"] == []
    found = library.get(library.admin, "/api/books?shelf.name__contains=secret")["items"]
    assert [item["id"] for item in found] == [book["id"]]


def test_a_read_with_include_has_the_row_and_not_its_version_as_etag(library: Library) -> None:
    shelf = library.post(library.ada, "/api/shelves", {"name": "work"})
    book = library.post(library.ada, "/api/books", {"title": "t", "shelf_id": shelf["id"]})
    response = library.client.get(f"/api/books/{book['id']}?include=shelf", headers=library.ada)
    assert response.status_code == 200
    assert response.json() == {**book, "shelf": shelf}
    # Not the row's version, which says nothing of the shelf (the cache's tag is a digest).
    assert response.headers.get("etag") != f'"{book["version"]}"'
    plain = library.client.get(f"/api/books/{book['id']}", headers=library.ada)
    assert plain.headers["etag"] == f'"{book["version"]}"'


def test_a_change_to_an_included_row_reaches_cached_lists(library: Library) -> None:
    shelf = library.post(library.ada, "/api/shelves", {"name": "work"})
    library.post(library.ada, "/api/books", {"title": "t", "shelf_id": shelf["id"]})
    url = "/api/books?include=shelf"
    library.get(library.ada, url)
    again = library.client.get(url, headers=library.ada)
    assert again.headers["cache-status"].endswith("hit")
    renamed = library.client.patch(
        f"/api/shelves/{shelf['id']}", json={"name": "office"}, headers=library.ada
    )
    assert renamed.status_code == 200
    assert library.get(library.ada, url)["items"][0]["shelf"]["name"] == "office"


def test_filters_cross_one_relation(library: Library) -> None:
    ada = library.ada
    work = library.post(ada, "/api/shelves", {"name": "Work"})
    home = library.post(ada, "/api/shelves", {"name": "home"})
    library.post(ada, "/api/books", {"title": "a", "shelf_id": work["id"]})
    library.post(ada, "/api/books", {"title": "b", "shelf_id": home["id"]})
    library.post(ada, "/api/books", {"title": "c"})

    def titles(query: str) -> list[str]:
        items = library.get(ada, f"/api/books?sort=title&{query}")["items"]
        return [item["title"] for item in items]

    assert titles("shelf.name__contains=wor") == ["a"]
    assert titles("shelf.name=home") == ["b"]
    assert titles("shelf.name__in=Work,home&title=b") == ["b"]
    assert titles("shelf.name__contains=nothing") == []


@pytest.mark.parametrize(
    ("query", "field", "kind"),
    [
        ("shelf.secret=x", "shelf.secret", "unknown_field"),  # not filterable on shelves
        ("shelf.name__near=x", "shelf.name__near", "unknown_operator"),
        ("shelf.owner_id=1", "shelf.owner_id", "unknown_field"),
        ("cover.name=x", "cover.name", "unknown_field"),
        ("include=cover", "include", "unknown_field"),
        ("include=" + ",".join(f"r{n}" for n in range(MAX_INCLUDES + 1)), "include", None),
    ],
)
def test_a_bad_relation_in_a_query_is_a_422_naming_it(
    library: Library, query: str, field: str, kind: str | None
) -> None:
    problem = library.get(library.ada, f"/api/books?{query}", status=422)
    assert problem["errors"][0]["field"] == field
    assert kind is None or problem["errors"][0]["type"] == kind


@pytest.mark.parametrize(
    "url",
    [
        "/api/shelves?include=books",  # shelves refer to nothing
        "/api/shelves/1?include=owner",
        "/api/books/export.csv?include=shelf",
    ],
)
def test_include_names_only_relations_a_route_has(library: Library, url: str) -> None:
    library.post(library.ada, "/api/shelves", {"name": "x"})
    assert library.get(library.ada, url, status=422)["errors"][0]["field"] == "include"


def test_choices_offer_the_callers_rows_by_their_display_field(library: Library) -> None:
    for name in ("pears", "apples", "Apricots"):
        library.post(library.ada, "/api/shelves", {"name": name})
    library.post(library.bob, "/api/shelves", {"name": "apples of bob"})

    def labels(caller: dict[str, str], query: str = "") -> list[str]:
        items = library.get(caller, f"/api/shelves/choices{query}")["items"]
        return [item["label"] for item in items]

    assert labels(library.ada) == ["Apricots", "apples", "pears"]
    assert labels(library.ada, "?q=AP") == ["Apricots", "apples"]
    assert labels(library.ada, "?q=ap&limit=1") == ["Apricots"]
    assert labels(library.bob, "?q=ap") == ["apples of bob"]
    assert len(labels(library.admin)) == 4
    assert labels(library.ada, "?q=%25") == []  # LIKE's wildcards are text here
    first = library.get(library.ada, "/api/shelves/choices")["items"][0]
    assert library.get(library.ada, f"/api/shelves/choices?ids={first['id']}")["items"] == [first]
    bobs = library.get(library.bob, "/api/shelves/choices")["items"][0]["id"]
    assert library.get(library.ada, f"/api/shelves/choices?ids={bobs}")["items"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("ids=x", "ids"),
        ("ids=0", "ids"),
        ("ids=-1", "ids"),
        ("ids=99999999999999999999", "ids"),
        ("ids=" + ",".join(map(str, range(1, 102))), "ids"),
        ("q=" + "x" * 201, "q"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
    ],
)
def test_a_bad_choices_query_is_a_422(library: Library, query: str, field: str) -> None:
    problem = library.get(library.ada, f"/api/shelves/choices?{query}", status=422)
    assert problem["errors"][0]["field"] == field


def test_choices_need_a_signed_in_caller(library: Library) -> None:
    assert library.client.get("/api/shelves/choices").status_code == 401


def test_meta_names_the_display_field_and_the_relations(library: Library) -> None:
    meta = {info["name"]: info for info in library.get(library.ada, "/api/meta/resources")}
    assert meta["shelves"]["display"] == "name"
    assert meta["shelves"]["relations"] == {}
    assert meta["books"]["display"] == "title"
    shelves = {"resource": "shelves", "path": "/api/shelves", "display": "name"}
    assert meta["books"]["relations"] == {
        "shelf": {"field": "shelf_id", "many": False, **shelves},
        "shelves": {"field": "shelf_ids", "many": True, **shelves},
    }


def test_display_must_be_a_column_the_read_model_shows() -> None:
    assert shelves(display="owner_id").display == "owner_id"
    for wrong in ("secret", "nothing"):
        with pytest.raises(TypeError, match=f"display={wrong!r}"):
            shelves(display=wrong)


@pytest.mark.parametrize(
    ("column", "name"), [("shelf_id", "shelf"), ("parent", "parent"), ("_id", "_id")]
)
def test_relation_names(column: str, name: str) -> None:
    assert relation_name(column) == name


# Many-to-many: a book on several shelves (`shelf_ids`, through `relation_book_shelves`).


def test_a_row_links_many_rows_and_includes_them(library: Library) -> None:
    ada = library.ada
    a, b, c = (library.post(ada, "/api/shelves", {"name": name}) for name in "abc")
    book = library.post(ada, "/api/books", {"title": "t", "shelf_ids": [c["id"], a["id"], a["id"]]})
    assert book["shelf_ids"] == [a["id"], c["id"]]  # sorted, once each
    assert library.get(ada, f"/api/books/{book['id']}")["shelf_ids"] == [a["id"], c["id"]]
    listed = library.get(ada, "/api/books?include=shelves")["items"][0]
    assert listed["shelves"] == [a, c]
    url = f"/api/books/{book['id']}"
    changed = library.client.patch(url, json={"shelf_ids": [b["id"]]}, headers=ada)
    assert changed.status_code == 200, changed.text
    assert changed.json()["shelf_ids"] == [b["id"]]
    assert changed.json()["version"] == book["version"] + 1
    same = library.client.patch(url, json={"shelf_ids": [b["id"], b["id"]]}, headers=ada)
    assert same.json()["version"] == book["version"] + 1  # nothing changed: no new version
    assert library.client.patch(url, json={"shelf_ids": []}, headers=ada).json()["shelf_ids"] == []


def test_links_name_only_rows_the_caller_may_refer_to(library: Library) -> None:
    mine = library.post(library.ada, "/api/shelves", {"name": "mine"})
    bobs = library.post(library.bob, "/api/shelves", {"name": "bob's"})
    for shelf_ids in ([mine["id"], bobs["id"]], [mine["id"], 999_999], [0], [2**31]):
        response = library.client.post(
            "/api/books", json={"title": "t", "shelf_ids": shelf_ids}, headers=library.ada
        )
        assert response.status_code == 422, (shelf_ids, response.text)
        assert response.json()["errors"][0]["field"] in ("shelf_ids", "shelf_ids.0"), response.text
    assert library.get(library.ada, "/api/books")["items"] == []
    # An admin links anyone's, and the owner then sees only their own among them.
    book = library.post(library.ada, "/api/books", {"title": "t", "shelf_ids": [mine["id"]]})
    url = f"/api/books/{book['id']}"
    moved = library.client.patch(
        url, json={"shelf_ids": [mine["id"], bobs["id"]]}, headers=library.admin
    )
    assert moved.status_code == 200, moved.text
    assert library.get(library.ada, f"{url}?include=shelves")["shelves"] == [mine]


def test_deleting_a_linked_row_unlinks_it_everywhere(library: Library) -> None:
    ada = library.ada
    a = library.post(ada, "/api/shelves", {"name": "a"})
    b = library.post(ada, "/api/shelves", {"name": "b"})
    library.post(ada, "/api/books", {"title": "t", "shelf_ids": [a["id"], b["id"]]})
    assert library.get(ada, "/api/books")["items"][0]["shelf_ids"] == [a["id"], b["id"]]
    assert library.client.delete(f"/api/shelves/{a['id']}", headers=ada).status_code == 204
    assert library.get(ada, "/api/books")["items"][0]["shelf_ids"] == [b["id"]]  # not cached


def test_filters_cross_a_many_to_many_link(library: Library) -> None:
    ada = library.ada
    work = library.post(ada, "/api/shelves", {"name": "work"})
    home = library.post(ada, "/api/shelves", {"name": "home"})
    library.post(ada, "/api/books", {"title": "both", "shelf_ids": [work["id"], home["id"]]})
    library.post(ada, "/api/books", {"title": "home", "shelf_ids": [home["id"]]})
    library.post(ada, "/api/books", {"title": "none"})

    def titles(query: str) -> list[str]:
        items = library.get(ada, f"/api/books?sort=title&{query}")["items"]
        return [item["title"] for item in items]

    assert titles("shelves.name=work") == ["both"]
    assert titles(f"shelves.id={home['id']}") == ["both", "home"]
    assert titles(f"shelf.id={home['id']}") == []
    assert titles("shelves.name__in=work,home") == ["both", "home"]


def test_a_link_table_needs_a_key_to_each_side() -> None:
    lonely = Table("relation_lonely", Model.metadata, Column("book_id", ForeignKey(Book.id)))
    with pytest.raises(TypeError, match="needs two foreign-key columns"):
        link_columns(lonely, "relation_books")
    Model.metadata.remove(lonely)
    own, other = link_columns(book_shelves, "relation_books")
    assert (own.name, other.name) == ("book_id", "shelf_id")


def test_a_many_to_many_relation_is_named_after_its_link_table() -> None:
    """`book_shelves` (with `book_id`) names `shelves`; two links to one resource keep
    a name each."""
    other = Table(
        "book_favourites", Model.metadata,
        Column("book_id", ForeignKey("relation_books.id"), primary_key=True),
        Column("shelf_id", ForeignKey("relation_shelves.id"), primary_key=True),
    )  # fmt: skip
    try:
        service = type(
            "TwoLinkService", (Service,),
            {"repository": Repository.for_model(
                Book, links={"shelf_ids": book_shelves, "favourite_ids": other}
            )},
        )  # fmt: skip
        books = Resource("books", service=service, create=BookIn, update=BookPatch, read=BookOut)
        link_relations([shelves(), books])
        assert {name: r.column for name, r in books.relations.items() if r.many} == {
            "shelves": "shelf_ids",
            "favourites": "favourite_ids",
        }
    finally:
        Model.metadata.remove(other)


class Colour(SoftDelete, Model):
    """Shared by every user (no owner), and deleted by marking."""

    __tablename__ = "relation_colours"
    name: Mapped[str] = mapped_column(String(200))


class Shade(Model):
    """Public, and refers to a public colour and to a user's shelf."""

    __tablename__ = "relation_shades"
    name: Mapped[str] = mapped_column(String(200))
    colour_id: Mapped[int | None] = mapped_column(ForeignKey(Colour.id), index=True)
    shelf_id: Mapped[int | None] = mapped_column(ForeignKey(Shelf.id), index=True)


class Drawer(SoftDelete, Model):
    __tablename__ = "relation_drawers"
    name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int] = owner_column()


class Sock(Model):
    __tablename__ = "relation_socks"
    name: Mapped[str] = mapped_column(String(200))
    drawer_id: Mapped[int | None] = mapped_column(ForeignKey(Drawer.id))
    colour_id: Mapped[int | None] = mapped_column(ForeignKey(Colour.id))
    owner_id: Mapped[int] = owner_column()


class Named(BaseModel):
    name: str = Field(max_length=200)


class NamedOut(Named):
    id: int


class ShadeIn(Named):
    colour_id: int | None = None
    shelf_id: int | None = None


class ShadeOut(ShadeIn):
    id: int


class SockIn(Named):
    drawer_id: int | None = None
    colour_id: int | None = None


class SockOut(SockIn):
    id: int


def resource_of(
    name: str, model: type[Model], write: type[BaseModel], read: type[BaseModel], **options: Any
) -> Resource:
    repository = Repository.for_model(model, filterable=("name",))
    service = type(f"{model.__name__}Service", (Service,), {"repository": repository})
    return Resource(name, service=service, create=write, update=write, read=read, **options)


def app_of(database_url: str, resources: list[Resource], models: list[type[Model]]) -> Starlette:
    async def create_tables(app: Starlette) -> None:
        tables = [User.__table__, *(model.__table__ for model in models)]
        async with app.state.database.engine.begin() as connection:
            await connection.run_sync(Model.metadata.create_all, tables=tables)

    return create_app(
        Settings(env="test", database_url=database_url),
        resources=resources,
        auth=AuthConfig(User, hasher=FAST_HASHER),
        startup=[create_tables],
    )


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/shades?include=colour", 200),
        ("/api/shades/{shade}?include=colour", 200),
        ("/api/shades?colour.name=red", 200),
        ("/api/shades/export.csv?colour.name=red", 200),
        ("/api/shades?include=shelf", 401),  # a user's rows: a signed-in caller only
        ("/api/shades/{shade}?include=shelf", 401),
        ("/api/shades?shelf.name=home", 401),
    ],
)
def test_a_public_resource_includes_and_filters_by_public_ones_for_anyone(
    database_url: str, url: str, status: int
) -> None:
    colours = resource_of("colours", Colour, Named, NamedOut, public=True)
    shades = resource_of("shades", Shade, ShadeIn, ShadeOut, public=True)
    app = app_of(database_url, [shelves(), colours, shades], [Shelf, Colour, Shade])
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        red = client.post("/api/colours", json={"name": "red"}).json()
        shade = client.post("/api/shades", json={"name": "crimson", "colour_id": red["id"]})
        assert shade.status_code == 201, shade.text
        response = client.get(url.format(shade=shade.json()["id"]))
    assert response.status_code == status, response.text
    if status == 200 and "include" in url:
        body = response.json()
        item = body["items"][0] if "items" in body else body
        assert item["colour"] == red
    elif status == 200 and "csv" not in url:
        assert [item["name"] for item in response.json()["items"]] == ["crimson"]


def test_a_reference_needs_a_live_row_and_the_right_to_read_its_resource(
    database_url: str,
) -> None:
    """A colour of a resource only admins read is refused to others whether it exists
    or not (no answer tells them which ids do); a deleted drawer is no drawer."""
    resources = [
        resource_of("colours", Colour, Named, NamedOut, roles=["admin"]),
        resource_of("drawers", Drawer, Named, NamedOut),
        resource_of("socks", Sock, SockIn, SockOut),
    ]
    app = app_of(database_url, resources, [Colour, Drawer, Sock])
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        users = {name: user[1] for name, user in sign_in_users(client, app).items()}
        ada, root = users["ada"], users["root"]

        def sock(caller: dict[str, str], **references: int) -> Any:
            return client.post("/api/socks", json={"name": "s", **references}, headers=caller)

        colour = client.post("/api/colours", json={"name": "red"}, headers=root).json()
        for colour_id in (colour["id"], colour["id"] + 1000):
            refused = sock(ada, colour_id=colour_id)
            assert refused.status_code == 403, refused.text
        assert sock(root, colour_id=colour["id"]).status_code == 201

        drawer = client.post("/api/drawers", json={"name": "top"}, headers=ada).json()
        assert sock(ada, drawer_id=drawer["id"]).status_code == 201
        assert client.delete(f"/api/drawers/{drawer['id']}", headers=ada).status_code == 204
        gone = sock(ada, drawer_id=drawer["id"])
        assert gone.status_code == 422, gone.text
        assert gone.json()["errors"][0]["field"] == "drawer_id"
        assert sock(root, drawer_id=drawer["id"]).status_code == 422  # admins too

        assert client.delete(f"/api/colours/{colour['id']}", headers=root).status_code == 204
        unowned = sock(root, colour_id=colour["id"])  # a shared table: checked for everyone
        assert unowned.status_code == 422, unowned.text
        assert unowned.json()["errors"][0]["field"] == "colour_id"
