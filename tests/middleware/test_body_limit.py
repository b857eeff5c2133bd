from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from stackkit import Controller
from stackkit.middleware import BodySizeLimitMiddleware, BodyTooLarge
from stackkit.middleware.body_limit import OwnLimit


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
    assert problem["status"] == 413
    assert problem["instance"] == "/api/notes"
    assert problem["max_bytes"] == 100
    assert problem["request_id"] == response.headers["x-request-id"]
    # The rest of the body is not read: the connection cannot serve another request.
    assert response.headers["connection"] == "close"


def test_the_problem_raised_elsewhere_for_a_large_body_is_a_413() -> None:
    error = BodyTooLarge(100)
    assert (error.status, error.extensions) == (413, {"max_bytes": 100})


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


# The middleware alone, over ASGI: each framing, at the limit and one byte past it.

LIMIT = 100


async def _run(
    app: Any, headers: list[tuple[bytes, bytes]], sizes: list[int], http_version: str = "1.1"
) -> list[Message]:
    """Send a body in chunks of `sizes` bytes through the middleware; what went out."""
    chunks: list[Message] = [
        {"type": "http.request", "body": b"x" * size, "more_body": i < len(sizes) - 1}
        for i, size in enumerate(sizes)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "http_version": http_version, "method": "POST", "path": "/",
             "headers": headers}  # fmt: skip
    await BodySizeLimitMiddleware(app, max_body_size=LIMIT)(scope, receive, send)
    return sent


def _echo_length(seen: list[int]) -> Any:
    """An app that reads the whole body, notes its length in `seen` and answers 200."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await Request(scope, receive).body()
        except ClientDisconnect:
            return
        seen.append(len(body))
        await PlainTextResponse(str(len(body)))(scope, receive, send)

    return app


FRAMINGS = pytest.mark.parametrize(
    ("headers", "http_version"),
    [
        ([(b"transfer-encoding", b"chunked")], "1.1"),
        ([], "2"),
        ([(b"content-length", b"not-a-number")], "1.1"),
        ([(b"content-length", b"")], "1.1"),
    ],
    ids=["chunked", "http2-undeclared", "unreadable-length", "empty-length"],
)


@FRAMINGS
@pytest.mark.parametrize("sizes", [[LIMIT], [60, 40], [1] * LIMIT], ids=["one", "two", "bytes"])
async def test_a_streamed_body_of_exactly_the_limit_passes_and_one_byte_more_is_413(
    headers: list[tuple[bytes, bytes]], http_version: str, sizes: list[int]
) -> None:
    seen: list[int] = []
    sent = await _run(_echo_length(seen), headers, sizes, http_version)
    assert sent[0]["status"] == 200
    assert seen == [LIMIT]

    seen.clear()
    sent = await _run(_echo_length(seen), headers, [*sizes, 1], http_version)
    assert sent[0]["status"] == 413
    assert seen == []  # the app saw the body end, not its bytes
    assert len(sent) == 2


async def test_bytes_past_the_limit_never_reach_an_app_that_has_started_answering() -> None:
    """Too late for a 413 once the answer has started: the body ends at the limit."""
    received: list[bytes] = []

    async def streaming_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:
            message = await receive()
            received.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.body", "body": b"done"})

    sent = await _run(streaming_app, [(b"transfer-encoding", b"chunked")], [60, 60, 60])
    assert sent[0]["status"] == 200
    assert sent[-1]["body"] == b"done"
    assert sum(map(len, received)) <= LIMIT
    assert received == [b"x" * 60, b""]


@pytest.mark.parametrize(
    ("headers", "http_version"),
    [
        ([], "1.1"),  # no body at all (RFC 9112, 6.3)
        ([], "1.0"),
        ([], None),  # a server that leaves `http_version` out: HTTP/1.1
        ([(b"content-length", b"100")], "1.1"),  # the server holds the body to it
        ([(b"content-length", b"100")], "2"),
    ],
    ids=["http1.1-no-body", "http1.0-no-body", "no-version", "declared-1.1", "declared-2"],
)
async def test_a_body_the_server_bounds_is_passed_on_uncounted(
    headers: list[tuple[bytes, bytes]], http_version: str | None
) -> None:
    """Nothing to count: the app gets the server's own `receive`, at no cost."""
    seen: list[Receive] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(receive)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope: dict[str, Any] = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    if http_version is not None:
        scope["http_version"] = http_version
    await BodySizeLimitMiddleware(app, max_body_size=LIMIT)(scope, receive, None)  # type: ignore[arg-type]
    assert seen == [receive]


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/api/notes/files/photo/abc_DEF-1", 1000),
        ("/api/notes/files/doc/abc", 500),
        ("/api/notes/files/photo/", 100),  # no file id
        ("/api/notes/files/photo/abc/complete", 100),  # not the upload route
        ("/api/notes/files/photo/ab.c", 100),
        ("/api/notes/files/photo/" + "a" * 33, 100),
        ("/api/notes/files/photos/abc", 100),
        ("/api/other", 100),
        ("/x/api/notes/files/photo/abc", 100),
    ],
)
def test_a_path_with_a_limit_of_its_own_takes_it(path: str, limit: int) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("ok")(scope, receive, send)

    own = [
        OwnLimit("/api/notes/files/photo/", "[A-Za-z0-9_-]{1,32}", 1000),
        OwnLimit("/api/notes/files/doc/", "[A-Za-z0-9_-]{1,32}", 500),
    ]
    limited = BodySizeLimitMiddleware(app, max_body_size=100, own_limits=own)

    async def behind_a_proxy(scope: Scope, receive: Receive, send: Send) -> None:
        # As a server passes it under a root path: the path carries the root path.
        root = "/behind/a/proxy"
        await limited({**scope, "root_path": root, "path": root + scope["path"]}, receive, send)

    for served in (limited, behind_a_proxy):
        client = TestClient(served)
        assert client.put(path, content=b"x" * limit).status_code == 200
        assert client.put(path, content=b"x" * (limit + 1)).status_code == 413
