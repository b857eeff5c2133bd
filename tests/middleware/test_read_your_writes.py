"""`ReadYourWritesMiddleware` over ASGI, on an in-memory store and a stopped clock: which
requests read from the primary, which writes leave marks, for whom and how long.

An app that answers with whether its request reads from the primary stands in for the
handlers; tests/db/test_replicas.py checks the same against a real replica."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.authentication import SimpleUser
from starlette.types import Message, Receive, Scope, Send
from tests.helpers import Clock

from stackkit.cache import MemoryStore, StoreUnavailable
from stackkit.db.database import _wrote_in_this_task
from stackkit.middleware import ReadYourWritesMiddleware

WINDOW = 5.0


class Reader:
    """The app: answers `status`, and notes whether each request reads from the primary."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.on_primary: list[bool] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.on_primary.append(_wrote_in_this_task.get())
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})


async def request(
    middleware: ReadYourWritesMiddleware,
    method: str,
    path: str,
    user: str | None = None,
    send: Send | None = None,
) -> list[Message]:
    """One request, in a context of its own (as each request is served); what it sent,
    unless `send` is given."""
    sent: list[Message] = []
    scope: dict[str, Any] = {"type": "http", "method": method, "path": path, "headers": []}
    if user is not None:
        scope["user"] = SimpleUser(user)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def keep(message: Message) -> None:
        sent.append(message)

    token = _wrote_in_this_task.set(False)
    try:
        await middleware(scope, receive, send or keep)
    finally:
        _wrote_in_this_task.reset(token)
    return sent


def build(status: int = 200, window: float = WINDOW) -> tuple[ReadYourWritesMiddleware, Reader]:
    store = MemoryStore(clock=Clock())
    app = Reader(status)
    return ReadYourWritesMiddleware(app, store=store, window=window), app


async def test_reads_go_to_a_replica_until_someone_writes() -> None:
    middleware, app = build()
    await request(middleware, "GET", "/api/notes", "ada")
    await request(middleware, "HEAD", "/api/notes/3")
    assert app.on_primary == [False, False]
    assert len(middleware.store) == 0  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_a_write_reads_from_the_primary_and_marks_its_user_and_namespace(
    method: str,
) -> None:
    middleware, app = build(status=201)
    store = middleware.store
    seen_at_start: list[list[bytes | None]] = []

    async def send_checking(message: Message) -> None:
        if message["type"] == "http.response.start":
            seen_at_start.append(await store.get_many(["{/api/notes}:w", "{user:ada}:w"]))

    await request(middleware, method, "/api/notes/7", "ada", send=send_checking)
    assert app.on_primary == [True]
    assert seen_at_start == [[b"1", b"1"]]  # marked before the answer left


async def test_the_marks_send_the_writer_and_the_namespace_to_the_primary_for_the_window() -> None:
    middleware, app = build(status=201)
    clock = middleware.store.clock  # type: ignore[attr-defined]
    await request(middleware, "POST", "/api/notes", "ada")
    app.status = 200
    reads = [
        ("/api/notes/3", "bob"),  # anyone, in the namespace written
        ("/api/notes", None),  # anonymous, in the namespace written
        ("/api/tags", "ada"),  # the writer, anywhere
        ("/api/tags", "bob"),  # others elsewhere: a replica
        ("/api/tags", None),
    ]
    for path, user in reads:
        await request(middleware, "GET", path, user)
    assert app.on_primary[1:] == [True, True, True, False, False]

    clock.now += WINDOW  # the marks expire
    del app.on_primary[:]
    for path, user in reads:
        await request(middleware, "GET", path, user)
    assert app.on_primary == [False] * len(reads)


@pytest.mark.parametrize("status", [204, 299])
async def test_any_2xx_write_leaves_marks(status: int) -> None:
    middleware, _ = build(status=status)
    await request(middleware, "DELETE", "/api/notes/1", "ada")
    assert await middleware.store.get_many(["{/api/notes}:w", "{user:ada}:w"]) == [b"1", b"1"]


@pytest.mark.parametrize("status", [199, 300, 404, 409, 500])
async def test_a_write_that_fails_leaves_no_marks_but_still_read_from_the_primary(
    status: int,
) -> None:
    middleware, app = build(status=status)
    await request(middleware, "POST", "/api/notes", "ada")
    assert app.on_primary == [True]
    assert len(middleware.store) == 0  # type: ignore[arg-type]


async def test_without_a_window_writes_read_from_the_primary_and_leave_no_marks() -> None:
    middleware, app = build(status=201, window=0)
    await request(middleware, "POST", "/api/notes", "ada")
    await request(middleware, "GET", "/api/notes", "ada")
    assert app.on_primary == [True, False]
    assert len(middleware.store) == 0  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "CONNECT"])
async def test_other_methods_read_from_a_replica_and_mark_nothing(method: str) -> None:
    middleware, app = build()
    await request(middleware, method, "/api/notes", "ada")
    assert app.on_primary == [False]
    assert len(middleware.store) == 0  # type: ignore[arg-type]


async def test_other_scopes_pass_through_untouched() -> None:
    middleware, _ = build()
    scope = {"type": "websocket", "path": "/ws", "headers": []}
    receive, send = object(), object()
    seen: list[tuple[Scope, Receive, Send]] = []

    async def inner(*passed: Any) -> None:
        seen.append(passed)

    middleware.app = inner
    await middleware(scope, receive, send)  # type: ignore[arg-type]
    assert seen == [(scope, receive, send)]
    assert len(middleware.store) == 0  # type: ignore[arg-type]


async def test_an_anonymous_write_marks_its_namespace_alone() -> None:
    middleware, app = build(status=201)
    await request(middleware, "POST", "/api/notes")
    app.status = 200
    await request(middleware, "GET", "/api/tags")  # anonymous, elsewhere
    await request(middleware, "GET", "/api/notes")
    assert app.on_primary == [True, False, True]
    assert len(middleware.store) == 1  # type: ignore[arg-type]


class AwayStore(MemoryStore):
    """A store that does not answer."""

    async def get_many(self, keys: list[str]) -> list[bytes | None]:  # type: ignore[override]
        raise StoreUnavailable("away")

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        raise StoreUnavailable("away")


async def test_without_its_store_reads_go_to_the_primary_and_writes_are_answered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = AwayStore()
    app = Reader(status=201)
    middleware = ReadYourWritesMiddleware(app, store=store, window=WINDOW)
    written = await request(middleware, "POST", "/api/notes", "ada")
    app.status = 200
    await request(middleware, "GET", "/api/tags", "bob")
    assert [m.get("status") for m in written] == [201, None]
    assert app.on_primary == [True, True]
    assert [r.getMessage() for r in caplog.records] == [
        "Recent writes not marked or not read, the store does not answer: away"
    ]


async def test_a_read_that_cannot_see_the_marks_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Reader()
    middleware = ReadYourWritesMiddleware(app, store=AwayStore(), window=WINDOW)
    await request(middleware, "GET", "/api/tags", "bob")
    assert app.on_primary == [True]
    assert [r.getMessage() for r in caplog.records] == [
        "Recent writes not marked or not read, the store does not answer: away"
    ]
