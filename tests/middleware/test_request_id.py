"""An incoming `X-Request-ID` is kept only if it is 1 to 128 characters of letters,
digits, `.`, `_`, `:` and `-`; any other is replaced by one of the app's own. Then
the middleware alone: where the id goes, and the access log's line and fields."""

from __future__ import annotations

import logging
import re
import types
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from stackkit.logs import current_request_id
from stackkit.middleware import RequestIdMiddleware
from stackkit.middleware.request_id import RequestIdGenerator

OWN_ID = re.compile(r"[0-9a-f]{32}")

KEPT = {
    "one-character": "a",
    "128-characters": "a" * 128,
    "every-allowed-kind": "AZaz09._:-",
    "uuid": "3f2a9c1e-8b7d-4e6f-a5c4-1d2e3f4a5b6c",
}
REPLACED = {
    "empty": "",
    "129-characters": "a" * 129,
    "space": "a b",
    "slash": "a/b",
    "semicolon": "a;b",
    "angle-brackets": "<script>",
    "percent-encoded-line-break": "a%0d%0ab",
    "quote": 'a"b',
    "non-ascii": "caf\u00e9",
}


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [(value, True) for value in KEPT.values()] + [(value, False) for value in REPLACED.values()],
    ids=[*KEPT, *REPLACED],
)
def test_an_incoming_request_id_is_kept_only_if_it_fits(
    make_client: Callable[..., TestClient], incoming: str, kept: bool
) -> None:
    client = make_client()
    response = client.get("/healthz", headers={"X-Request-ID": incoming.encode("latin-1")})
    echoed = response.headers["x-request-id"]
    if kept:
        assert echoed == incoming
    else:
        assert OWN_ID.fullmatch(echoed), echoed


# The middleware alone, over ASGI.


async def _serve(
    middleware: RequestIdMiddleware, scope: dict[str, Any] | None = None
) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = scope or {"type": "http", "method": "POST", "path": "/api/notes", "headers": []}
    await middleware(scope, None, send)  # type: ignore[arg-type]
    return sent


async def _created(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers 201; its start message has no `headers` at all, which ASGI allows."""
    assert current_request_id.get() == scope["state"]["request_id"]
    await send({"type": "http.response.start", "status": 201})
    await send({"type": "http.response.body", "body": b"made"})


def test_the_apps_own_ids_are_a_process_prefix_and_a_counter_from_one() -> None:
    new_id = RequestIdGenerator()
    first, second = new_id(), new_id()
    assert first[:16] == second[:16] != RequestIdGenerator()()[:16]
    assert (first[16:], second[16:]) == ("0000000000000001", "0000000000000002")


@pytest.mark.parametrize("access_log", [True, False])
async def test_the_id_goes_on_the_answers_start_only_and_into_a_new_state(
    access_log: bool,
) -> None:
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/", "headers": []}
    sent = await _serve(RequestIdMiddleware(_created, access_log=access_log), scope)
    request_id = scope["state"]["request_id"]
    assert OWN_ID.fullmatch(request_id)
    assert sent[0]["headers"] == [(b"x-request-id", request_id.encode())]
    assert sent[1] == {"type": "http.response.body", "body": b"made"}
    assert current_request_id.get() is None  # put back once the request is done


async def test_the_access_log_is_on_by_default_with_its_fields(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = iter([10.0, 10.0123456])
    clock = types.SimpleNamespace(perf_counter=lambda: next(ticks))
    monkeypatch.setattr("stackkit.middleware.request_id.time", clock)
    with caplog.at_level(logging.INFO, logger="stackkit.access"):
        await _serve(RequestIdMiddleware(_created))
    [record] = caplog.records
    assert record.getMessage() == "POST /api/notes 201 4 B 12.346 ms"
    names = ("method", "path", "status", "bytes", "duration_ms")
    fields = {name: getattr(record, name) for name in names}
    assert fields == {
        "method": "POST", "path": "/api/notes", "status": 201, "bytes": 4, "duration_ms": 12.346
    }  # fmt: skip


async def test_a_request_that_fails_before_answering_is_logged_as_a_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.INFO, logger="stackkit.access"), pytest.raises(RuntimeError):
        await _serve(RequestIdMiddleware(failing))
    [record] = caplog.records
    assert record.getMessage().startswith("POST /api/notes 500 0 B ")
    assert (record.status, record.bytes) == (500, 0)  # type: ignore[attr-defined]
    assert current_request_id.get() is None


async def test_without_the_access_log_nothing_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="stackkit.access"):
        await _serve(RequestIdMiddleware(_created, access_log=False))
    assert caplog.records == []
