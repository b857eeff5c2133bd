"""Refuse request bodies larger than a limit with 413, before they are read into memory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackkit.http.problems import ProblemError, problem_response, request_id_of

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodySizeLimitMiddleware", "BodyTooLarge"]


class BodyTooLarge(ProblemError):
    """413: the request body is larger than the app accepts."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.", max_bytes=limit)


class BodySizeLimitMiddleware:
    """Pure ASGI. A declared `Content-Length` over the limit is refused at once; a
    streamed body is counted as it is received and refused when it passes the limit
    (the handler reading it gets `BodyTooLarge`, which becomes a 413 problem)."""

    def __init__(self, app: ASGIApp, *, max_body_size: int) -> None:
        self.app = app
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        limit = self.max_body_size
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            error = BodyTooLarge(limit)
            response = problem_response(
                413,
                error.detail,
                instance=scope["path"],
                request_id=request_id_of(scope),
                headers={"connection": "close"},
                extensions=error.extensions,
            )
            await response(scope, receive, send)
            return

        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, receive_limited, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
