"""Every middleware passes on what it does not own: the request body reaches the app
as the client sent it (in several parts), and the app's answer reaches the client
with its status, headers and body. Table-driven over every middleware of the package,
in the settings that do the most, and over the methods that read and that write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.authentication import SimpleUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stackkit.cache import MemoryStore
from stackkit.middleware import (
    BodySizeLimitMiddleware,
    InternalErrorMiddleware,
    ReadYourWritesMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
)

MIDDLEWARE: dict[str, Callable[[ASGIApp], ASGIApp]] = {
    "body_limit": lambda app: BodySizeLimitMiddleware(app, max_body_size=1 << 20),
    "internal_errors": lambda app: InternalErrorMiddleware(app, expose_errors=True),
    "read_your_writes": lambda app: ReadYourWritesMiddleware(app, store=MemoryStore(), window=5),
    "read_your_writes-no-window": lambda app: ReadYourWritesMiddleware(
        app, store=MemoryStore(), window=0
    ),
    "request_id": lambda app: RequestIdMiddleware(app, access_log=True),
    "request_id-no-access-log": lambda app: RequestIdMiddleware(app, access_log=False),
    "security_headers": lambda app: SecurityHeadersMiddleware(app),
}

PARTS = [b'{"title": ', b'"a note"', b"}"]


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the whole body, then answers it back with a header of its own."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    headers = [(b"content-type", b"application/json"), (b"x-echo", scope["path"].encode())]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": body[:10], "more_body": True})
    await send({"type": "http.response.body", "body": body[10:]})


async def serve(app: ASGIApp, method: str) -> list[Message]:
    incoming = [
        {"type": "http.request", "body": part, "more_body": i < len(PARTS) - 1}
        for i, part in enumerate(PARTS)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http", "http_version": "1.1", "method": method, "path": "/api/notes",
        "query_string": b"", "headers": [(b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 5000), "state": {}, "user": SimpleUser("ada"),
    }  # fmt: skip
    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize("method", ["POST", "PUT", "GET", "OPTIONS"])
@pytest.mark.parametrize("name", MIDDLEWARE)
async def test_the_body_and_the_answer_pass_through_unchanged(name: str, method: str) -> None:
    sent = await serve(MIDDLEWARE[name](echo), method)
    assert [m["type"] for m in sent] == ["http.response.start", *["http.response.body"] * 2]
    start = sent[0]
    assert start["status"] == 201
    headers = dict(start["headers"])
    assert headers[b"x-echo"] == b"/api/notes"
    assert headers[b"content-type"] == b"application/json"
    assert b"".join(m["body"] for m in sent[1:]) == b"".join(PARTS)
    assert [m.get("more_body", False) for m in sent[1:]] == [True, False]
