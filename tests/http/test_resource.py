from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import httpx2
import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel, ConfigDict, Field
from starlette.authentication import SimpleUser
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send
from tests.db.models import GadgetService

from stackkit import Settings, create_app
from stackkit.db import Database
from stackkit.db.model import MAX_ID
from stackkit.resources.resource import Resource


class GadgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    price: int = Field(ge=0)
    status: str = "draft"


class GadgetPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=100)
    price: int | None = Field(default=None, ge=0)
    status: str | None = None


class GadgetOut(BaseModel):
    id: int
    name: str
    price: int
    status: str
    version: int
    created_at: datetime
    updated_at: datetime


def gadgets(*, public: bool = True) -> Resource:
    return Resource(
        "gadgets",
        service=GadgetService,
        create=GadgetIn,
        update=GadgetPatch,
        read=GadgetOut,
        public=public,
    )


class SignedIn:
    """Stands in for the authentication middleware: every request has a signed-in user."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["user"] = SimpleUser("tester")
        await self.app(scope, receive, send)


@pytest.fixture
async def client(
    db: Database, make_settings: Callable[..., Settings]
) -> AsyncIterator[httpx2.AsyncClient]:
    app = create_app(
        make_settings(), resources=[gadgets()], backends=[db], middleware=[Middleware(SignedIn)]
    )
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def create(client: httpx2.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/gadgets", json={"price": 10, **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_create_answers_201_with_location_and_etag(client: httpx2.AsyncClient) -> None:
    response = await client.post("/api/gadgets", json={"name": "anvil", "price": 300})
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/api/gadgets/{body['id']}"
    assert response.headers["etag"] == '"1"'
    assert (body["name"], body["price"], body["status"], body["version"]) == (
        "anvil",
        300,
        "draft",
        1,
    )


async def test_create_validates_the_body(client: httpx2.AsyncClient) -> None:
    response = await client.post("/api/gadgets", json={"name": "", "price": -1, "id": 5})
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"name", "price", "id"}


async def test_duplicate_is_409_naming_the_field(client: httpx2.AsyncClient) -> None:
    await create(client, name="anvil")
    response = await client.post("/api/gadgets", json={"name": "anvil", "price": 1})
    assert response.status_code == 409
    assert response.json()["field"] == "name"


async def test_read_with_etag_and_304(client: httpx2.AsyncClient) -> None:
    gadget = await create(client, name="anvil")
    response = await client.get(f"/api/gadgets/{gadget['id']}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == gadget
    again = await client.get(
        f"/api/gadgets/{gadget['id']}", headers={"if-none-match": response.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""
    missing = await client.get("/api/gadgets/99999")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "There is no gadget 99999."


async def test_list_pages_sorts_and_filters(client: httpx2.AsyncClient) -> None:
    for n in range(7):
        await create(client, name=f"g{n}", price=n * 10, status="live" if n % 2 else "draft")
    first = (await client.get("/api/gadgets", params={"limit": 3, "sort": "-price"})).json()
    assert [g["name"] for g in first["items"]] == ["g6", "g5", "g4"]
    second = await client.get(
        "/api/gadgets", params={"limit": 3, "sort": "-price", "cursor": first["next_cursor"]}
    )
    assert [g["name"] for g in second.json()["items"]] == ["g3", "g2", "g1"]
    live = await client.get("/api/gadgets", params={"status": "live", "price__gte": 30})
    assert sorted(g["name"] for g in live.json()["items"]) == ["g3", "g5"]
    assert live.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"secret": "1"}, "secret"),
        ({"price__gte": "ten"}, "price__gte"),
        ({"sort": "password"}, "sort"),
        ({"cursor": "forged.cursor"}, "cursor"),
        ({"limit": "1000"}, "limit"),
    ],
    ids=["unknown-filter", "bad-value", "bad-sort", "bad-cursor", "limit"],
)
async def test_bad_list_parameters_are_422(
    client: httpx2.AsyncClient, params: dict[str, str], field: str
) -> None:
    response = await client.get("/api/gadgets", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_patch_with_if_match(client: httpx2.AsyncClient) -> None:
    gadget = await create(client, name="anvil")
    url = f"/api/gadgets/{gadget['id']}"
    changed = await client.patch(url, json={"price": 5}, headers={"if-match": '"1"'})
    assert changed.status_code == 200
    assert (changed.json()["price"], changed.json()["name"]) == (5, "anvil")
    assert changed.headers["etag"] == '"2"'
    stale = await client.patch(url, json={"price": 6}, headers={"if-match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    unconditional = await client.patch(url, json={"price": 7})
    assert unconditional.json()["version"] == 3
    malformed = await client.patch(url, json={"price": 8}, headers={"if-match": "yesterday"})
    assert malformed.status_code == 400
    assert malformed.json()["detail"] == 'If-Match must be "*" or entity tags, like "3".'
    assert (await client.get(url)).json()["price"] == 7


async def test_delete_with_if_match(client: httpx2.AsyncClient) -> None:
    gadget = await create(client, name="anvil")
    url = f"/api/gadgets/{gadget['id']}"
    assert (await client.delete(url, headers={"if-match": '"7"'})).status_code == 412
    deleted = await client.delete(url, headers={"if-match": '"1"'})
    assert deleted.status_code == 204
    assert (await client.get(url)).status_code == 404
    assert (await client.delete(url)).status_code == 404


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_an_id_beyond_the_id_column_is_422(client: httpx2.AsyncClient, method: str) -> None:
    body = {"name": "anvil"} if method == "PATCH" else None
    largest = await client.request(method, f"/api/gadgets/{MAX_ID}", json=body)
    assert largest.status_code == 404
    beyond = await client.request(method, f"/api/gadgets/{MAX_ID + 1}", json=body)
    assert beyond.status_code == 422, beyond.text
    assert beyond.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in beyond.json()["errors"]] == ["id"]


async def test_concurrent_patches_with_one_etag_let_exactly_one_through(
    client: httpx2.AsyncClient,
) -> None:
    gadget = await create(client, name="anvil")
    url = f"/api/gadgets/{gadget['id']}"
    responses = await asyncio.gather(
        # Every one a real change: a PATCH that changes nothing is no write (and no 412).
        *(
            client.patch(url, json={"price": n}, headers={"if-match": '"1"'})
            for n in range(100, 120)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * 19
    [winner] = [r.json() for r in responses if r.status_code == 200]
    assert (await client.get(url)).json()["price"] == winner["price"]


async def test_meta_lists_the_resource(client: httpx2.AsyncClient) -> None:
    [info] = (await client.get("/api/meta/resources")).json()
    assert info["name"] == "gadgets"
    assert info["path"] == "/api/gadgets"
    assert info["sortable"] == ["created_at", "name", "price", "rating", "status"]
    assert "price" in info["filterable"]
    assert set(info["schemas"]) == {"create", "update", "read"}
    assert info["schemas"]["create"]["required"] == ["name", "price"]
    assert "contains" in info["operators"]


async def test_resource_routes_are_in_a_valid_openapi_document(client: httpx2.AsyncClient) -> None:
    document = (await client.get("/api/openapi.json")).json()
    validate(document)
    listing = document["paths"]["/api/gadgets"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {"limit", "cursor", "sort", "price", "status"} <= names
    item = document["paths"]["/api/gadgets/{id}"]
    assert set(item) == {"get", "patch", "delete"}


async def test_private_resource_needs_authentication(
    db: Database, make_settings: Callable[..., Settings]
) -> None:
    app = create_app(make_settings(), resources=[gadgets(public=False)], backends=[db])
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/api/gadgets")).status_code == 401
        assert (
            await client.post("/api/gadgets", json={"name": "x", "price": 1})
        ).status_code == 401


async def gadget_at_version_12(client: httpx2.AsyncClient) -> str:
    """The URL of a new gadget changed 11 times: at version 12, so that ETags have two
    digits and a tag that is a prefix or a suffix of the current one is told apart."""
    url = f"/api/gadgets/{(await create(client, name='anvil'))['id']}"
    for price in range(11):
        assert (await client.patch(url, json={"price": price})).status_code == 200
    assert (await client.get(url)).headers["etag"] == '"12"'
    return url


IF_MATCH_CASES = [
    ('"12"', 200),
    ("*", 200),
    ('"11", "12"', 200),
    ('"12", W/"12"', 200),
    ('W/"12"', 412),
    ('"11"', 412),
    ('"1"', 412),
    ('"2"', 412),
    ('"012"', 412),
    ('"stale-version"', 412),
    ('"99999999999999999999999"', 412),
    ('"2147483648"', 412),
    ('"0"', 412),
    ('"-12"', 412),
    ('"10", "11"', 412),
    ('W/"12", "13"', 412),
    ("", 412),
    ("yesterday", 400),
    ("12", 400),
    ('"12', 400),
    ('*, "12"', 400),
    ('"12" "13"', 400),
]
IF_MATCH_IDS = [
    "current", "star", "current-in-list", "strong-and-weak", "weak-current", "previous",
    "prefix", "suffix", "leading-zero", "not-a-version", "past-any-number",
    "past-the-column", "zero", "negative", "all-stale", "weak-and-stale", "empty",
    "bare-word", "unquoted", "unterminated", "star-in-list", "no-comma",
]  # fmt: skip


@pytest.mark.parametrize(("if_match", "status"), IF_MATCH_CASES, ids=IF_MATCH_IDS)
async def test_if_match_compares_strongly_and_any_other_tag_is_412(
    client: httpx2.AsyncClient, if_match: str, status: int
) -> None:
    url = await gadget_at_version_12(client)
    patched = await client.patch(url, json={"price": 99}, headers={"if-match": if_match})
    assert patched.status_code == status, patched.text
    after = (await client.get(url)).json()
    if status == 200:
        assert (after["version"], after["price"]) == (13, 99)
        return
    assert patched.headers["content-type"] == "application/problem+json"
    assert (after["version"], after["price"]) == (12, 10)  # unchanged
    if status == 412:
        assert patched.json()["current_version"] == 12
    deleted = await client.delete(url, headers={"if-match": if_match})
    assert deleted.status_code == status
    assert (await client.get(url)).status_code == 200


@pytest.mark.parametrize("if_match", ['"12"', "*", 'W/"12"', '"99999999999999999999999"'])
async def test_if_match_on_a_missing_row_is_404(client: httpx2.AsyncClient, if_match: str) -> None:
    # A precondition never turns what would be a 404 into a 412 (RFC 9110, 13.2.1).
    headers = {"if-match": if_match}
    assert (await client.patch("/api/gadgets/4242", json={}, headers=headers)).status_code == 404
    assert (await client.delete("/api/gadgets/4242", headers=headers)).status_code == 404


IF_NONE_MATCH = pytest.mark.parametrize(
    ("if_none_match", "status"),
    [
        ('"12"', 304),
        ('W/"12"', 304),
        ('"11", W/"12"', 304),
        ("*", 304),
        ('"11"', 200),
        ('"1"', 200),
        ('"012"', 200),
        ('"1", "2"', 200),
        ("yesterday", 200),
        ("", 200),
    ],
    ids=[
        "current", "weak-current", "in-list", "star", "previous", "prefix", "leading-zero",
        "others", "malformed-ignored", "empty",
    ],
)  # fmt: skip


@IF_NONE_MATCH
async def test_if_none_match_compares_weakly_before_and_after_caching(
    client: httpx2.AsyncClient, if_none_match: str, status: int
) -> None:
    url = await gadget_at_version_12(client)  # its last GET is in the response cache
    # A query of its own makes the first GET a miss: the resource's handler compares.
    for target, cache in [(f"{url}?fresh=1", "fwd=miss"), (url, "hit")]:
        response = await client.get(target, headers={"if-none-match": if_none_match})
        assert response.status_code == status
        assert response.headers["etag"] == '"12"'
        assert cache in response.headers["cache-status"]


@IF_NONE_MATCH
async def test_if_none_match_compares_weakly_without_the_response_cache(
    db: Database, make_settings: Callable[..., Settings], if_none_match: str, status: int
) -> None:
    app = create_app(
        make_settings(cache_ttl=0), resources=[gadgets()], backends=[db],
        middleware=[Middleware(SignedIn)],
    )  # fmt: skip
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
        url = await gadget_at_version_12(client)
        response = await client.get(url, headers={"if-none-match": if_none_match})
    assert response.status_code == status
    assert response.headers["etag"] == '"12"'
    assert "cache-status" not in response.headers


@pytest.mark.parametrize(
    "params",
    [
        {"price__gte": "2147483648"},
        {"price": "-2147483649"},
        {"price__lt": "99999999999999999999999"},
        {"price__in": "1,99999999999999999999"},
        {"rating__gte": "1e400"},
        {"rating": "nan"},
        {"rating__lt": "-inf"},
        {"created_at__gte": "9999-12-31T23:59:59-14:00"},
        {"created_at__lt": "0001-01-01T00:00:00+14:00"},
        {"created_at__in": "2026-01-01,9999-12-31T23:59:59-01:00"},
        {"price__contains": "1"},
        {"created_at__contains": "2026"},
    ],
    ids=[
        "int-above", "int-below", "int-past-64-bits", "int-in-list", "float-overflow", "nan",
        "infinity", "datetime-past-9999-in-utc", "datetime-before-1-in-utc",
        "datetime-in-list", "contains-on-int", "contains-on-datetime",
    ],
)  # fmt: skip
async def test_a_filter_value_out_of_its_columns_range_is_422(
    client: httpx2.AsyncClient, params: dict[str, str]
) -> None:
    await create(client, name="anvil")
    response = await client.get("/api/gadgets", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == list(params)


@pytest.mark.parametrize(
    ("params", "found"),
    [
        ({"price__lte": "2147483647"}, True),
        ({"price__gte": "-2147483648"}, True),
        ({"price__gt": "2147483647"}, False),
        ({"rating__lt": "1.7e308"}, False),
        ({"created_at__lt": "9999-12-31T23:59:59Z"}, True),
        ({"created_at__lt": "9999-12-31T23:59:59+14:00"}, True),
        ({"created_at__gte": "0001-01-01T00:00:00Z"}, True),
        ({"created_at__gte": "0001-01-01T23:59:59-10:00"}, True),
        ({"name__contains": "nvi"}, True),
    ],
    ids=[
        "int-max", "int-min", "past-int-max", "float-max", "datetime-max", "datetime-max-east",
        "datetime-min", "datetime-min-west", "contains-on-text",
    ],
)  # fmt: skip
async def test_a_filter_value_at_its_columns_edge_reaches_the_database(
    client: httpx2.AsyncClient, params: dict[str, str], found: bool
) -> None:
    await create(client, name="anvil", price=0)
    response = await client.get("/api/gadgets", params=params)
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == (1 if found else 0)


@pytest.mark.parametrize("name", ["version", "secret", "updated_at"])
async def test_a_field_that_cannot_be_filtered_says_how_to_make_it_filterable(
    client: httpx2.AsyncClient, name: str
) -> None:
    response = await client.get("/api/gadgets", params={name: "1"})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == name
    assert "the filterable fields are: created_at, name, price, rating, status" in error["message"]
    assert "lists it in `filterable`" in error["message"]
    # The same words for a column and for no column: nothing said about the table.
    assert error["message"].replace(repr(name), "'x'") == (
        "cannot filter on 'x'; the filterable fields are: created_at, name, price, rating, "
        "status. A field becomes filterable when the resource's repository lists it in "
        "`filterable`"
    )


class GadgetsWithoutScope(GadgetService):
    """A service whose constructor takes no `scope`, as `UserService`'s."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)


@pytest.mark.parametrize(("public", "status"), [(True, 200), (False, 401)])
async def test_a_resource_is_public_as_it_says_tagged_by_its_name_and_any_service_serves_it(
    db: Database, make_settings: Callable[..., Settings], public: bool, status: int
) -> None:
    resource = Resource(
        "gadgets", service=GadgetsWithoutScope, create=GadgetIn, update=GadgetPatch,
        read=GadgetOut, public=public,
    )  # fmt: skip
    app = create_app(make_settings(), resources=[resource], backends=[db])
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/api/gadgets")).status_code == status
        document = (await client.get("/api/openapi.json")).json()
    assert document["paths"]["/api/gadgets"]["get"]["tags"] == ["gadgets"]
