from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated

import pytest
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.testclient import TestClient

from stackkit import Controller


class ItemPath(BaseModel):
    item_id: int = Field(ge=1)


class ItemQuery(BaseModel):
    limit: int = Field(default=10, le=100)
    tag: list[str] = []


class Dimensions(BaseModel):
    width: float = Field(gt=0)
    height: float = Field(gt=0)


class ItemIn(BaseModel):
    title: str = Field(min_length=1, max_length=20)
    sizes: list[Dimensions] = []


class ItemOut(BaseModel):
    id: int
    title: str
    tags: list[str] = []


def items_controller() -> Controller:
    items = Controller("/api/items", public=True)

    @items.get("")
    async def list_items(query: ItemQuery) -> list[ItemOut]:
        return [ItemOut(id=n, title=f"item {n}", tags=query.tag) for n in range(1, query.limit + 1)]

    @items.get("/{item_id}")
    async def get_item(path: ItemPath) -> ItemOut:
        return ItemOut(id=path.item_id, title="one")

    @items.post("", status_code=201)
    async def create_item(body: ItemIn) -> ItemOut:
        return ItemOut(id=7, title=body.title)

    @items.delete("/{item_id}")
    async def delete_item(path: ItemPath) -> None:
        return None

    @items.get("/{item_id}/raw")
    async def raw(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"raw {request.path_params['item_id']}")

    return items


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(controllers=[items_controller()])


def errors_of(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["title"] == "Request validation failed"
    return body["errors"]


def test_valid_inputs_reach_the_handler_as_models(client: TestClient) -> None:
    response = client.get("/api/items", params={"limit": 2, "tag": ["a", "b"]})
    assert response.status_code == 200
    assert response.json() == [
        {"id": 1, "title": "item 1", "tags": ["a", "b"]},
        {"id": 2, "title": "item 2", "tags": ["a", "b"]},
    ]


def test_response_model_status_and_no_content(client: TestClient) -> None:
    created = client.post("/api/items", json={"title": "pen"})
    assert created.status_code == 201
    assert created.json() == {"id": 7, "title": "pen", "tags": []}
    deleted = client.delete("/api/items/3")
    assert deleted.status_code == 204
    assert deleted.content == b""


def test_handler_may_return_its_own_response(client: TestClient) -> None:
    response = client.get("/api/items/5/raw")
    assert response.text == "raw 5"


def test_bad_path_parameter_is_named(client: TestClient) -> None:
    [error] = errors_of(client.get("/api/items/zero"))
    assert error["in"] == "path"
    assert error["field"] == "item_id"
    assert error["type"] == "int_parsing"
    [error] = errors_of(client.get("/api/items/0"))
    assert error["type"] == "greater_than_equal"


def test_bad_query_parameter_is_named(client: TestClient) -> None:
    [error] = errors_of(client.get("/api/items", params={"limit": 1000}))
    assert error == {
        "in": "query",
        "field": "limit",
        "message": "Input should be less than or equal to 100",
        "type": "less_than_equal",
    }


def test_every_bad_body_field_is_named_with_its_path(client: TestClient) -> None:
    errors = errors_of(
        client.post("/api/items", json={"title": "", "sizes": [{"width": 1, "height": -1}, {}]})
    )
    fields = sorted((e["in"], e["field"], e["type"]) for e in errors)
    assert fields == [
        ("body", "sizes.0.height", "greater_than"),
        ("body", "sizes.1.height", "missing"),
        ("body", "sizes.1.width", "missing"),
        ("body", "title", "string_too_short"),
    ]


def test_missing_body_is_422(client: TestClient) -> None:
    [error] = errors_of(client.post("/api/items", headers={"content-type": "application/json"}))
    assert error["in"] == "body"
    assert error["type"] == "missing"


def test_malformed_json_is_400(client: TestClient) -> None:
    response = client.post(
        "/api/items", content=b'{"title": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("The body is not valid JSON")


def test_declaring_an_unsupported_parameter_fails_at_import_time() -> None:
    api = Controller()
    with pytest.raises(TypeError, match="parameter 'item' is not one a controller can supply"):

        @api.get("/x")
        async def bad(item: int) -> None: ...


def test_path_model_must_match_the_path() -> None:
    api = Controller()
    with pytest.raises(TypeError, match=r"path model fields \['item_id'\]"):

        @api.get("/x/{id}")
        async def bad(path: ItemPath) -> None: ...


def test_get_route_cannot_take_a_body() -> None:
    api = Controller()
    with pytest.raises(TypeError, match="a GET route cannot take a body"):

        @api.get("/x")
        async def bad(body: ItemIn) -> None: ...


class TaggedQuery(BaseModel):
    tags: Annotated[list[str], Field(max_length=3)] | None = None
    colour: list[str] = Field(default=[], validation_alias="color")


class Secretive(BaseModel):
    name: str


class Row:
    """Stands for an ORM row: attributes, not a dict."""

    def __init__(self) -> None:
        self.name = "row"
        self.password_hash = "argon2id$..."


def extra_controller() -> Controller:
    api = Controller("/api", public=True)

    @api.get("/tags")
    async def tags(query: TaggedQuery) -> dict[str, list[str] | None]:
        return {"tags": query.tags, "colour": query.colour}

    @api.get("/leaky-dict")
    async def leaky_dict() -> Secretive:
        return {"name": "dict", "password_hash": "argon2id$..."}  # type: ignore[return-value]

    @api.get("/leaky-row")
    async def leaky_row() -> Secretive:
        return Row()  # type: ignore[return-value]

    @api.post("/accept", status_code=202)
    async def accept() -> None:
        return None

    @api.get("/private", public=False)
    async def private() -> Secretive:
        return Secretive(name="mine")

    return api


def test_list_query_fields_behind_optional_annotated_and_aliases(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(controllers=[extra_controller()])
    response = client.get("/api/tags", params={"tags": ["a", "b"], "color": ["red", "blue"]})
    assert response.json() == {"tags": ["a", "b"], "colour": ["red", "blue"]}
    assert client.get("/api/tags", params={"tags": list("abcd")}).status_code == 422


@pytest.mark.parametrize("path", ["/api/leaky-dict", "/api/leaky-row"], ids=["dict", "orm-row"])
def test_response_model_drops_undeclared_fields(
    make_client: Callable[..., TestClient], path: str
) -> None:
    response = make_client(controllers=[extra_controller()]).get(path)
    assert response.status_code == 200
    assert "password_hash" not in response.text
    assert set(response.json()) == {"name"}


def test_none_with_an_explicit_status_sends_no_body(make_client: Callable[..., TestClient]) -> None:
    response = make_client(controllers=[extra_controller()]).post("/api/accept")
    assert response.status_code == 202
    assert response.content == b""


def test_routes_not_marked_public_refuse_the_unauthenticated(
    make_client: Callable[..., TestClient],
) -> None:
    response = make_client(controllers=[extra_controller()]).get("/api/private")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


def test_routes_not_marked_public_serve_an_authenticated_user(
    make_client: Callable[..., TestClient],
) -> None:
    from starlette.authentication import SimpleUser
    from starlette.middleware import Middleware

    class Everyone:
        def __init__(self, app):  # type: ignore[no-untyped-def]
            self.app = app

        async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
            scope["user"] = SimpleUser("ada")
            await self.app(scope, receive, send)

    client = make_client(controllers=[extra_controller()], middleware=[Middleware(Everyone)])
    assert client.get("/api/private").json() == {"name": "mine"}


def test_unresolvable_annotations_fail_at_declaration() -> None:
    api = Controller()
    with pytest.raises(TypeError, match="cannot resolve its annotations"):

        @api.get("/x")
        async def bad(query: NotDefinedAnywhere) -> None: ...  # type: ignore[name-defined]  # noqa: F821


def test_union_of_model_and_response_fails_at_declaration() -> None:
    api = Controller()
    with pytest.raises(TypeError, match="not a union of both"):

        @api.get("/x")
        async def bad() -> ItemOut | PlainTextResponse: ...


def test_nul_in_text_is_a_422_wherever_it_is(client: TestClient) -> None:
    body = {"title": "ok", "sizes": [], "extra": {"deep": ["fine", "nul\u0000here"]}}
    nested = errors_of(client.post("/api/items", json=body))
    assert [(e["in"], e["field"], e["type"]) for e in nested] == [
        ("body", "extra.deep.1", "string_nul")
    ]
    in_query = errors_of(client.get("/api/items?tag=a&tag=b%00c"))
    assert [(e["in"], e["field"]) for e in in_query] == [("query", "tag.1")]
    # An escaped backslash before u0000 is text, not a NUL.
    lookalike = client.post(
        "/api/items",
        content=b'{"title": "\\\\u0000"}',
        headers={"content-type": "application/json"},
    )
    assert lookalike.status_code == 201, lookalike.text


class PasswordIn(BaseModel):
    password: str = Field(min_length=8, max_length=1024)


def test_a_422_names_the_fields_without_echoing_their_values(
    make_client: Callable[..., TestClient],
) -> None:
    api = Controller("/api/accounts", public=True)

    @api.post("")
    async def create_account(body: PasswordIn) -> None:
        return None

    client = make_client(controllers=[items_controller(), api])
    refused = [
        ("body", "title", client.post("/api/items", json={"title": "hunter2" * 5})),
        ("body", "sizes.0.width", client.post("/api/items", json={"title": "a", "sizes": [
            {"width": "hunter2", "height": 1}]})),
        ("query", "limit", client.get("/api/items", params={"limit": "hunter2"})),
        ("path", "item_id", client.get("/api/items/hunter2")),
        ("body", "password", client.post("/api/accounts", json={"password": "hunter2"})),
        ("body", "password", client.post("/api/accounts", json={"password": "hunter2" * 200})),
    ]  # fmt: skip
    for where, field, response in refused:
        [error] = errors_of(response)
        assert (error["in"], error["field"]) == (where, field)
        problem = response.json()
        problem.pop("instance")  # the path it was asked at: the client's own URL
        assert "hunter2" not in json.dumps(problem)
