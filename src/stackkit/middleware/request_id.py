"""Give every request an id, echo it in `X-Request-ID`, and log one access line per request."""

from __future__ import annotations

import itertools
import os
import re
import time
from typing import TYPE_CHECKING

from stackkit.http.asgi import sending_headers
from stackkit.logs import AccessLog, current_request_id

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HEADER", "RequestIdGenerator", "RequestIdMiddleware", "acceptable_id"]

HEADER = b"x-request-id"
# An id from the client (or a proxy in front) is kept only if it is short and plain,
# so that it cannot smuggle anything into logs or headers.
_ACCEPTABLE_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}\Z")


class RequestIdGenerator:
    """32 hex characters: 16 random to the process, then a counter.

    Unique across processes and restarts without a system call per request
    (`uuid4()` reads the kernel's random source every time). Request ids are
    correlation handles, not secrets, so predictability within a process is fine.
    """

    def __init__(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFFFFFFFFFFFFFF:016x}"


class RequestIdMiddleware:
    """Pure ASGI. Sets `scope["state"]["request_id"]` and `stackkit.logs.current_request_id`."""

    def __init__(
        self, app: ASGIApp, *, access_log: bool = True, ids: RequestIdGenerator | None = None
    ) -> None:
        self.app = app
        self.access_log = AccessLog() if access_log else None
        self.new_id = ids or RequestIdGenerator()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _incoming_id(scope) or self.new_id()
        scope.setdefault("state", {})["request_id"] = request_id
        token = current_request_id.set(request_id)
        header = (HEADER, request_id.encode("ascii"))
        log = self.access_log
        if log is None:
            try:
                await self.app(scope, receive, sending_headers(send, [header]))
            finally:
                current_request_id.reset(token)
            return

        started = time.perf_counter()
        status = 500
        size = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            elif message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1_000_000) / 1000
            log(request_id, scope["method"], scope["path"], status, size, duration_ms)
            current_request_id.reset(token)


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == HEADER:
            return value.decode("ascii") if acceptable_id(value) else None
    return None


def acceptable_id(value: bytes) -> bool:
    """Whether a request id from the client is kept (short and plain)."""
    return _ACCEPTABLE_ID.match(value) is not None
