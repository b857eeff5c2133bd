"""Refuse request bodies larger than a limit with 413, before they are read into memory."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

from starlette.requests import ClientDisconnect

from stackkit.http.problems import ProblemError, problem_response, request_id_of

if TYPE_CHECKING:
    from collections.abc import Sequence

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodySizeLimitMiddleware", "BodyTooLarge", "OwnLimit"]


class OwnLimit(NamedTuple):
    """Paths whose bodies have a limit of their own: those that start with `prefix`
    and whose remainder matches `rest` (a regular expression, matched whole)."""

    prefix: str
    rest: str
    limit: int


class BodyTooLarge(ProblemError):
    """413: the request body is larger than the app accepts."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.", max_bytes=limit)


class BodySizeLimitMiddleware:
    """Pure ASGI. A declared `Content-Length` over the limit is refused at once; a
    streamed body is counted as it is received, and when it passes the limit the
    client gets a 413 problem and the app sees the body end (as a disconnect).

    `own_limits` lists paths whose bodies have a limit of their own: the uploads of
    file fields, each up to its field's size. Other paths cost one prefix test."""

    def __init__(
        self, app: ASGIApp, *, max_body_size: int, own_limits: Sequence[OwnLimit] = ()
    ) -> None:
        self.app = app
        self.max_body_size = max_body_size
        self.own_limits = [(o.prefix, re.compile(o.rest), o.limit) for o in own_limits]
        self._prefixes = tuple(o.prefix for o in own_limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        limit = self.max_body_size
        path: str = scope["path"]
        if self._prefixes and not path.startswith(self._prefixes):
            # Behind a proxy's prefix, the path may carry the app's root path.
            root: str = scope.get("root_path", "")
            path = path[len(root) :] if root and path.startswith(root) else path
        if self._prefixes and path.startswith(self._prefixes):
            for prefix, rest, own_limit in self.own_limits:
                if path.startswith(prefix) and rest.fullmatch(path, len(prefix)):
                    limit = own_limit
                    break
        declared, chunked = _framing(scope)
        if declared is not None and declared > limit:
            await _too_large(limit, scope, send)
            return
        if not _needs_counting(scope, declared, chunked):
            await self.app(scope, receive, send)
            return

        received = 0
        app_started = False
        answered = False

        async def receive_limited() -> Message:
            nonlocal received, answered
            if answered:
                return _DISCONNECT
            message = await receive()
            if message["type"] != "http.request":
                return message
            received += len(message.get("body", b""))
            if received <= limit:
                return message
            if app_started:
                # Too late for a 413: drop what is past the limit and end the body there,
                # so that a response already under way can finish.
                return _END_OF_BODY
            # Answer 413 now, whoever is reading (the handler, or a streaming response
            # listening for a disconnect), and end the body for the app.
            answered = True
            await _too_large(limit, scope, send)
            return _DISCONNECT

        async def send_unless_answered(message: Message) -> None:
            nonlocal app_started
            if answered:
                return  # the 413 went out instead of this response
            if message["type"] == "http.response.start":
                app_started = True
            await send(message)

        try:
            await self.app(scope, receive_limited, send_unless_answered)
        except ClientDisconnect:
            if not answered:
                raise


_DISCONNECT: Message = {"type": "http.disconnect"}
_END_OF_BODY: Message = {"type": "http.request", "body": b"", "more_body": False}


async def _too_large(limit: int, scope: Scope, send: Send) -> None:
    error = BodyTooLarge(limit)
    response = problem_response(
        413,
        error.detail,
        instance=scope["path"],
        request_id=request_id_of(scope),
        headers={"connection": "close"},
        extensions=error.extensions,
    )
    await response(scope, _disconnected, send)


async def _disconnected() -> Message:
    return _DISCONNECT


def _needs_counting(scope: Scope, declared: int | None, chunked: bool) -> bool:
    """Whether the body must be counted as it arrives.

    Servers hold a body to its declared Content-Length, and an HTTP/1.x request
    with neither Content-Length nor Transfer-Encoding has no body (RFC 9112,
    section 6.3). Left to count: chunked bodies, and HTTP/2 or 3 bodies of
    undeclared length.
    """
    if chunked:
        return True
    return declared is None and scope.get("http_version", "1.1") not in ("1.0", "1.1")


def _framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared Content-Length (None if absent or unreadable), and whether the body is
    chunked (any Transfer-Encoding)."""
    declared: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                chunked = True  # unreadable length: count what actually arrives
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked
