from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.testclient import TestClient
from tests.http.samples import colours, shapes

from stackkit import Controller


class Owner(BaseModel):
    id: int
    email: str


class NoteOut(BaseModel):
    id: int
    title: str
    owner: Owner
    status: Literal["draft", "published"]


class NoteIn(BaseModel):
    title: str = Field(max_length=200, description="Shown in lists")
    status: Literal["draft", "published"] = "draft"


class NotePath(BaseModel):
    note_id: int


class NoteQuery(BaseModel):
    limit: int = Field(default=20, ge=1, le=100, description="Page size")
    status: list[Literal["draft", "published"]] = []


def notes_controller() -> Controller:
    notes = Controller("/api/notes", tags=["notes"])

    @notes.get("")
    async def list_notes(query: NoteQuery) -> list[NoteOut]:
        """List notes.

        Newest first.
        """
        return []

    @notes.post("", status_code=201)
    async def create_note(body: NoteIn) -> NoteOut:
        raise NotImplementedError

    @notes.get("/{note_id:int}")
    async def get_note(path: NotePath) -> NoteOut:
        raise NotImplementedError

    @notes.patch("/{note_id}", deprecated=True)
    async def update_note(path: NotePath, body: NoteIn) -> NoteOut:
        raise NotImplementedError

    @notes.delete("/{note_id}")
    async def delete_note(path: NotePath) -> None: ...

    @notes.get("/search/{term}", public=True)
    async def search(request: Request) -> list[NoteOut]:
        return []

    return notes


class PaintQuery(BaseModel):
    color: colours.Color


class ShapeQuery(BaseModel):
    color: shapes.Color


class ByAlias(BaseModel):
    item_id: int = Field(alias="id")


class Unschemable(BaseModel):
    callback: Callable[[], None]


@pytest.fixture
def document(make_client: Callable[..., TestClient]) -> dict:  # type: ignore[type-arg]
    return (
        make_client(controllers=[notes_controller()], title="Notes", version="2.0.0")
        .get("/api/openapi.json")
        .json()
    )


def test_document_is_valid_openapi_3_1(document: dict) -> None:  # type: ignore[type-arg]
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {"title": "Notes", "version": "2.0.0"}
    validate(document)  # raises OpenAPIValidationError on any violation


def test_every_route_is_documented(document: dict) -> None:  # type: ignore[type-arg]
    operations = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert operations == {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/api/openapi.json"),
        ("GET", "/api/meta"),
        ("GET", "/api/meta/resources"),
        ("GET", "/api/notes"),
        ("POST", "/api/notes"),
        ("GET", "/api/notes/{note_id}"),
        ("PATCH", "/api/notes/{note_id}"),
        ("DELETE", "/api/notes/{note_id}"),
        ("GET", "/api/notes/search/{term}"),
    }


def test_models_become_shared_components(document: dict) -> None:  # type: ignore[type-arg]
    schemas = document["components"]["schemas"]
    assert {"NoteIn", "NoteOut", "Owner", "Problem", "ValidationProblem"} <= set(schemas)
    create = document["paths"]["/api/notes"]["post"]
    body_schema = create["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema == {"$ref": "#/components/schemas/NoteIn"}
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NoteOut"
    }
    listing = document["paths"]["/api/notes"]["get"]["responses"]["200"]
    assert listing["content"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/NoteOut"},
    }


def test_parameters_come_from_path_and_query_models(document: dict) -> None:  # type: ignore[type-arg]
    listing = document["paths"]["/api/notes"]["get"]
    limit, status = listing["parameters"]
    assert (limit["name"], limit["in"], limit["required"]) == ("limit", "query", False)
    assert limit["schema"]["maximum"] == 100
    assert limit["description"] == "Page size"
    assert status["schema"]["type"] == "array"
    [note_id] = document["paths"]["/api/notes/{note_id}"]["get"]["parameters"]
    assert note_id == {
        "name": "note_id",
        "in": "path",
        "required": True,
        "schema": {"title": "Note Id", "type": "integer"},
    }
    [term] = document["paths"]["/api/notes/search/{term}"]["get"]["parameters"]
    assert term["schema"] == {"type": "string"}


def test_security_follows_the_public_mark(document: dict) -> None:  # type: ignore[type-arg]
    paths = document["paths"]
    assert paths["/api/notes"]["get"]["security"] == [{"bearerAuth": []}]
    assert "401" in paths["/api/notes"]["get"]["responses"]
    assert paths["/healthz"]["get"]["security"] == []
    assert paths["/api/notes/search/{term}"]["get"]["security"] == []
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_error_responses_are_problems(document: dict) -> None:  # type: ignore[type-arg]
    responses = document["paths"]["/api/notes"]["post"]["responses"]
    assert set(responses) == {"201", "400", "401", "413", "415", "422", "default"}
    assert responses["422"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationProblem"
    }
    assert document["paths"]["/api/notes/{note_id}"]["delete"]["responses"]["204"] == {
        "description": "No Content"
    }


def test_docstrings_become_summary_and_description(document: dict) -> None:  # type: ignore[type-arg]
    listing = document["paths"]["/api/notes"]["get"]
    assert listing["summary"] == "List notes."
    assert listing["description"] == "List notes.\n\nNewest first."
    assert document["paths"]["/api/notes/{note_id}"]["patch"]["deprecated"] is True


def test_a_summary_is_the_docstrings_whole_first_paragraph(
    make_client: Callable[..., TestClient],
) -> None:
    api = Controller("/api/paint", public=True)

    @api.get("")
    async def paints() -> list[str]:
        """List the paints, the newest first, in one sentence
        that takes two lines.

        More about them."""
        return []

    document = make_client(controllers=[api]).get("/api/openapi.json").json()
    operation = document["paths"]["/api/paint"]["get"]
    assert operation["summary"] == (
        "List the paints, the newest first, in one sentence that takes two lines."
    )
    assert operation["description"].endswith("\n\nMore about them.")


def test_same_named_models_and_handlers_stay_apart(make_client: Callable[..., TestClient]) -> None:
    first, second = Controller("/api/paint", public=True), Controller("/api/shape", public=True)

    @first.get("")
    async def items(query: PaintQuery) -> list[str]:
        return []

    @second.get("")
    async def items_(query: ShapeQuery) -> list[str]:
        return []

    @second.post("", name="items")
    async def create(body: ShapeQuery) -> list[str]:
        return []

    document = make_client(controllers=[first, second]).get("/api/openapi.json").json()
    validate(document)
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))

    def enum_of(path: str) -> list[str]:
        [parameter] = document["paths"][path]["get"]["parameters"]
        name = parameter["schema"]["$ref"].rsplit("/", 1)[-1]
        return document["components"]["schemas"][name]["enum"]  # type: ignore[no-any-return]

    assert enum_of("/api/paint") == ["red", "blue"]
    assert enum_of("/api/shape") == ["square", "circle"]


def test_path_parameter_by_alias(make_client: Callable[..., TestClient]) -> None:
    api = Controller("/api/things", public=True)

    @api.get("/{id}")
    async def thing(path: ByAlias) -> dict[str, int]:
        return {"item_id": path.item_id}

    client = make_client(controllers=[api])
    assert client.get("/api/things/7").json() == {"item_id": 7}
    document = client.get("/api/openapi.json").json()
    validate(document)
    [parameter] = document["paths"]["/api/things/{id}"]["get"]["parameters"]
    assert parameter["name"] == "id"


def test_a_model_without_json_schema_stops_the_app_at_creation(
    make_client: Callable[..., TestClient],
) -> None:
    api = Controller("/api", public=True)

    @api.get("/x")
    async def x() -> Unschemable: ...

    with pytest.raises(Exception, match="Callable"):
        make_client(controllers=[api])
