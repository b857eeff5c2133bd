"""Serving a built single-page app beside the API."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from stackkit import Settings
from stackkit.http.spa import IMMUTABLE, REVALIDATE, bundled_frontend, frontend_directory

INDEX = b"<!doctype html><div id=root></div><script type=module src=/assets/index-3f2a.js></script>"


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """A Vite-like dist/ folder."""
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_bytes(INDEX)
    (dist / "assets" / "index-3f2a.js").write_text("console.log('app')")
    (dist / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("outside the build")
    return dist


@pytest.fixture
def client(make_client: Callable[..., TestClient], build: Path) -> TestClient:
    return make_client(frontend=build)


def test_hashed_assets_are_cached_for_good(client: TestClient) -> None:
    response = client.get("/assets/index-3f2a.js")
    assert response.status_code == 200
    assert response.text == "console.log('app')"
    assert response.headers["cache-control"] == IMMUTABLE
    assert "javascript" in response.headers["content-type"]


@pytest.mark.parametrize("path", ["/", "/notes", "/notes/3/edit", "/login?next=/notes"])
def test_pages_get_index_html_uncached(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.content == INDEX
    assert response.headers["cache-control"] == REVALIDATE
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_other_files_of_the_build_are_revalidated(client: TestClient) -> None:
    response = client.get("/favicon.svg")
    assert response.status_code == 200
    assert response.headers["cache-control"] == REVALIDATE


@pytest.mark.parametrize("path", ["/api/nothing", "/api", "/assets/gone-1234.js", "/robots.txt"])
def test_api_paths_and_missing_files_are_404_problems(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "path", ["/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt"]
)
def test_files_outside_the_build_are_never_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert b"outside the build" not in response.content


def test_api_routes_still_answer(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/api/openapi.json").status_code == 200
    assert client.post("/notes").status_code == 405  # pages are GET and HEAD only


def test_an_apps_own_build_wins_over_the_bundled_one(build: Path, tmp_path: Path) -> None:
    assert frontend_directory(build) == build
    unbuilt = tmp_path / "frontend" / "dist"
    assert frontend_directory(unbuilt) != unbuilt  # no index.html: not a build


def test_stackkit_ships_a_built_frontend() -> None:
    bundled = bundled_frontend()
    assert bundled is not None
    index = (bundled / "index.html").read_text()
    entries = re.findall(r'(?:src|href)="(/assets/[^"]+)"', index)
    assert any(entry.endswith(".js") for entry in entries)
    assert all((bundled / entry.lstrip("/")).is_file() for entry in entries)
    assert "<script>" not in index  # no inline script: the default CSP forbids them


def test_the_frontends_files_spend_no_rate_limit_budget(
    make_client: Callable[..., TestClient], build: Path
) -> None:
    client = make_client(Settings(env="test", rate_limit="2/minute", cache_ttl=0), frontend=build)
    for _ in range(5):
        assert client.get("/notes").status_code == 200
        assert client.get("/assets/index-3f2a.js").status_code == 200
    assert "ratelimit-limit" not in client.get("/").headers
    # The API keeps its budget: unmatched /api/ paths count too.
    statuses = [client.get("/api/nothing").status_code for _ in range(3)]
    assert statuses == [404, 404, 429]


@pytest.mark.parametrize(
    "path",
    ["/%00", "/foo%00", "/healthz%00", "/assets/%00index-3f2a.js", "/notes/%00/edit",
     "/favicon.svg%00.png", "/%00/../secret.txt"],
    ids=["root", "page", "health", "asset", "middle", "extension", "traversal"],
)  # fmt: skip
def test_a_path_with_a_nul_is_a_404_problem(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/" + "a" * 5000, 200),
        ("/" + "a" * 5000 + ".js", 404),
        ("/a/" * 2000, 200),
        ("/%ff", 200),
        ("/%c0%af..%c0%afsecret.txt", 404),
        ("/%2e%2e%2f%2e%2e%2fsecret.txt", 404),
        ("/assets/index-3f2a.js%20", 404),
        ("/%e2%80%ae", 200),
        ("/~", 200),
    ],
    ids=["long-name", "long-file", "deep", "invalid-utf8", "overlong-slash",
         "encoded-traversal", "trailing-blank", "bidi", "tilde"],
)  # fmt: skip
def test_odd_paths_are_pages_or_404s_never_errors(
    client: TestClient, path: str, status: int
) -> None:
    response = client.get(path)
    assert response.status_code == status, response.text
    assert b"outside the build" not in response.content


FRONTEND_SOURCES = Path(__file__).resolve().parents[2] / "src/stackkit/templates/project/frontend"
SETS_HTML = re.compile(
    r"dangerouslySetInnerHTML|\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write"
    r"|createContextualFragment|DOMParser|\beval\(|new Function\("
)


def test_the_frontend_never_sets_html_from_data() -> None:
    """React escapes what it renders; these are the ways around it, and none is used."""
    files = [
        path
        for pattern in ("src/**/*.ts", "src/**/*.tsx", "index.html")
        for path in FRONTEND_SOURCES.glob(pattern)
    ]
    assert len(files) > 20, "the frontend's sources are not where this test looks"
    found = [
        f"{path.relative_to(FRONTEND_SOURCES)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if SETS_HTML.search(line)
    ]
    assert found == []
    index = (FRONTEND_SOURCES / "index.html").read_text(encoding="utf-8")
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", index) == []  # no inline script
