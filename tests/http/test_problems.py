from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.testclient import TestClient

from stackkit import Controller, ProblemError
from stackkit.logs import configure_logging

PROBLEM = "application/problem+json"


class Created(BaseModel):
    ok: bool


def failing_controller() -> Controller:
    api = Controller("/api", public=True)

    @api.get("/status/{code}")
    async def fail_with(request) -> None:  # type: ignore[no-untyped-def]
        code = int(request.path_params["code"])
        if code == 400:
            raise HTTPException(400, "Bad input")
        raise ProblemError(code, f"Failed with {code}", retry_hint="later")

    @api.get("/conflict")
    async def conflict() -> None:
        raise ProblemError(409, "The row changed", type="https://stackkit.dev/problems/conflict")

    @api.get("/crash")
    async def crash() -> None:
        raise RuntimeError("database password is hunter2")

    @api.post("/things", status_code=201)
    async def create(body: Created) -> Created:
        return body

    return api


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(controllers=[failing_controller()])


def assert_problem(response, status: int, title: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["title"] == title
    assert body["type"] == "about:blank" or body["type"].startswith("https://")
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body


@pytest.mark.parametrize(
    ("status", "title"),
    [
        (400, "Bad Request"),
        (401, "Unauthorized"),
        (403, "Forbidden"),
        (409, "Conflict"),
        (422, "Unprocessable Content"),
        (429, "Too Many Requests"),
        (503, "Service Unavailable"),
    ],
    ids=lambda value: str(value),
)
def test_raised_errors_become_problems(client: TestClient, status: int, title: str) -> None:
    body = assert_problem(client.get(f"/api/status/{status}"), status, title)
    assert body["instance"] == f"/api/status/{status}"
    if status == 400:
        assert body["detail"] == "Bad input"
    else:
        assert body["detail"] == f"Failed with {status}"
        assert body["retry_hint"] == "later"


def test_problem_type_is_kept(client: TestClient) -> None:
    body = assert_problem(client.get("/api/conflict"), 409, "Conflict")
    assert body["type"] == "https://stackkit.dev/problems/conflict"


def test_unknown_path_is_404_problem(client: TestClient) -> None:
    body = assert_problem(client.get("/api/nothing-here"), 404, "Not Found")
    assert body["instance"] == "/api/nothing-here"


def test_wrong_method_is_405_problem_with_allow(client: TestClient) -> None:
    response = client.delete("/api/things")
    assert_problem(response, 405, "Method Not Allowed")
    assert response.headers["allow"] == "POST, OPTIONS"


def test_body_that_is_not_json_is_415_problem(client: TestClient) -> None:
    response = client.post("/api/things", content=b"ok=1", headers={"content-type": "text/plain"})
    body = assert_problem(response, 415, "Unsupported Media Type")
    assert "text/plain" in body["detail"]


def test_unhandled_error_is_500_problem_and_logged(client: TestClient) -> None:
    response = client.get("/api/crash")
    body = assert_problem(response, 500, "Internal Server Error")
    # Outside production the exception is named to help the developer...
    assert body["error"] == "RuntimeError: database password is hunter2"


def test_an_unhandled_error_is_logged_with_its_traceback_and_request_id(
    client: TestClient,
) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    try:
        response = client.get("/api/crash")
    finally:
        configure_logging("INFO", "text")
    assert response.status_code == 500
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    [error] = [entry for entry in entries if entry["level"] == "error"]
    assert error["request_id"] == response.headers["x-request-id"]
    assert error["message"] == "Unhandled error in GET /api/crash"
    assert error["exception"].startswith("Traceback (most recent call last):")
    assert error["exception"].endswith("RuntimeError: database password is hunter2")
    assert "in crash" in error["exception"]  # the frame that raised


def test_production_500_reveals_nothing_internal(
    make_client: Callable[..., TestClient], make_settings: Callable[..., object]
) -> None:
    settings = make_settings(
        env="production", secret_key="q8Vw2-LmZr7xKp4TnYb9HcJd6FgUe3Ns5AoWi1Rt"
    )
    client = make_client(settings, controllers=[failing_controller()])
    response = client.get("/api/crash")
    body = assert_problem(response, 500, "Internal Server Error")
    assert "error" not in body
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    # ...and the security headers still go out on a 500.
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_problem_errors_raised_by_slot_middleware_keep_their_status(
    make_client: Callable[..., TestClient],
) -> None:
    """Rate-limit, auth and cache middleware sit outside the router's handlers."""

    class Refuse:
        def __init__(self, app):  # type: ignore[no-untyped-def]
            self.app = app

        async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
            if scope["type"] == "http" and scope["path"] == "/api/conflict":
                raise ProblemError(429, "Slow down", headers={"Retry-After": "3"})
            await self.app(scope, receive, send)

    from starlette.middleware import Middleware

    client = make_client(controllers=[failing_controller()], middleware=[Middleware(Refuse)])
    response = client.get("/api/conflict")
    body = assert_problem(response, 429, "Too Many Requests")
    assert body["detail"] == "Slow down"
    assert response.headers["retry-after"] == "3"


def test_problem_error_refuses_a_success_status_and_reserved_members() -> None:
    with pytest.raises(ValueError, match="error status"):
        ProblemError(204)
    with pytest.raises(ValueError, match="members every problem sets"):
        ProblemError(400, request_id="forged")


def test_trailing_slash_is_not_redirected(client: TestClient) -> None:
    response = client.post("/api/things/", json={"ok": True}, follow_redirects=False)
    assert_problem(response, 404, "Not Found")
