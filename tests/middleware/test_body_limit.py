from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from pydantic import BaseModel
from starlette.testclient import TestClient

from stackkit import Controller


class Note(BaseModel):
    text: str


@pytest.fixture
def client(
    make_client: Callable[..., TestClient], make_settings: Callable[..., object]
) -> TestClient:
    notes = Controller("/api/notes", public=True)

    @notes.post("")
    async def create_note(body: Note) -> Note:
        return body

    return make_client(make_settings(max_body_size=100), controllers=[notes])


def note_of(size: int) -> bytes:
    return b'{"text": "' + b"x" * (size - 12) + b'"}'


def test_body_at_the_limit_is_accepted(client: TestClient) -> None:
    body = note_of(100)
    assert len(body) == 100
    response = client.post("/api/notes", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200


def test_declared_length_over_the_limit_is_413_problem(client: TestClient) -> None:
    response = client.post(
        "/api/notes", content=note_of(101), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Content Too Large"
    assert problem["max_bytes"] == 100
    assert problem["request_id"] == response.headers["x-request-id"]


def test_streamed_body_over_the_limit_is_413_problem(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(20):
            yield b"x" * 10
        yield b'"}'

    # A generator body is sent chunked, with no Content-Length to check up front.
    response = client.post(
        "/api/notes", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["detail"] == "The request body is larger than 100 bytes."


async def test_http2_body_of_undeclared_length_is_counted() -> None:
    """HTTP/2 needs no Content-Length: such a body is counted as it arrives."""
    from starlette.requests import Request

    from stackkit.middleware import BodySizeLimitMiddleware

    async def reading_app(scope, receive, send):  # type: ignore[no-untyped-def]
        await Request(scope, receive).body()
        raise AssertionError("the body should have ended in a disconnect")

    chunks = [
        {"type": "http.request", "body": b"x" * 60, "more_body": True},
        {"type": "http.request", "body": b"x" * 60, "more_body": False},
    ]
    sent: list[dict[str, object]] = []

    async def receive():  # type: ignore[no-untyped-def]
        return chunks.pop(0)

    async def send(message):  # type: ignore[no-untyped-def]
        sent.append(message)

    scope = {"type": "http", "http_version": "2", "method": "POST", "path": "/", "headers": []}
    await BodySizeLimitMiddleware(reading_app, max_body_size=100)(scope, receive, send)
    assert sent[0]["status"] == 413
    assert len(sent) == 2  # start and body of the problem, nothing from the app
