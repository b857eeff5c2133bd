"""What a path answers to a method it does not take: 405 (or 204 to OPTIONS) with the
methods of every route on the path in `Allow` (RFC 9110, 15.5.6 and 9.3.7)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from tests.http.test_resource import gadgets

ITEM = "GET, HEAD, PATCH, DELETE, OPTIONS"
LIST = "GET, HEAD, POST, OPTIONS"
PAGE = "GET, HEAD, OPTIONS"


@pytest.fixture
def client(make_client: Callable[..., TestClient], tmp_path: Path) -> TestClient:
    (tmp_path / "index.html").write_text("<!doctype html>")
    return make_client(resources=[gadgets()], backends=[], frontend=tmp_path)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/api/gadgets/14", ITEM),
        ("PUT", "/api/gadgets/14", ITEM),
        ("PUT", "/api/gadgets", LIST),
        ("DELETE", "/api/gadgets", LIST),
        ("DELETE", "/healthz", PAGE),
        ("POST", "/api/openapi.json", PAGE),
        ("POST", "/notes/3", PAGE),
        ("TRACE", "/api/gadgets/14", ITEM),
    ],
    ids=["post-item", "put-item", "put-list", "delete-list", "health", "openapi", "page", "trace"],
)
def test_a_method_the_path_does_not_take_is_405_listing_every_method_of_the_path(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["allow"] == allow
    options = client.options(path)
    assert options.status_code == 204
    assert options.headers["allow"] == allow
    assert options.content == b""


@pytest.mark.parametrize("path", ["/api/gadgets/14", "/api/gadgets", "/healthz", "/notes/3"])
def test_every_method_in_allow_is_taken(client: TestClient, path: str) -> None:
    allow = client.options(path).headers["allow"].split(", ")
    for method in allow:
        assert client.request(method, path).status_code != 405, method


@pytest.mark.parametrize(("method", "path"), [("POST", "/api/nothing"), ("OPTIONS", "/api")])
def test_an_unknown_api_path_is_404_whatever_the_method(
    client: TestClient, method: str, path: str
) -> None:
    # The frontend's catch-all route leaves /api alone: no 405 offering GET there.
    response = client.request(method, path)
    assert response.status_code == 404
    assert "allow" not in response.headers


def test_a_controller_gives_its_routes_defaults_that_a_route_may_override() -> None:
    from stackkit import Controller

    api = Controller("/api/x", public=True, cache_ttl=0, rate_limit=False)

    @api.get("/inherits")
    async def inherits() -> None: ...

    @api.get("/overrides", cache_ttl=30, rate_limit="5/minute")
    async def overrides() -> None: ...

    plain = Controller("/api/y")

    @plain.get("")
    async def default() -> None: ...

    specs = [(s.path, s.cache_ttl, s.rate_limit) for s in [*api.specs, *plain.specs]]
    assert specs == [
        ("/api/x/inherits", 0, False),
        ("/api/x/overrides", 30, "5/minute"),
        ("/api/y", None, None),
    ]
