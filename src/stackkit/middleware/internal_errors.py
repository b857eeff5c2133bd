"""Turn an unhandled exception into a 500 problem, log it, and keep internals private."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from stackkit.http.problems import ProblemError, problem_for, problem_response, request_id_of

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["InternalErrorMiddleware"]

logger = logging.getLogger("stackkit.errors")


class InternalErrorMiddleware:
    """Pure ASGI. Sits inside the request-id and security-header middleware, so a 500
    still carries both. The traceback goes to the log (with the request id), never to
    the client; outside production the response names the exception type and message
    to help while developing.
    """

    def __init__(self, app: ASGIApp, *, expose_errors: bool = False) -> None:
        self.app = app
        self.expose_errors = expose_errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        response_started = False

        async def send_tracking(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except ClientDisconnect:
            # The client went away mid-body (a cancelled upload): nobody to answer, and
            # not the server's failure. Whatever the handler had begun, it cleaned up.
            logger.info("Client went away in %s %s", scope.get("method"), scope.get("path"))
        except (ProblemError, HTTPException) as error:
            # Raised by a middleware of the slots (rate limit, auth, cache), outside the
            # reach of the router's exception handlers: still the client's problem, not a 500.
            if response_started:
                raise
            await problem_for(error, scope)(scope, receive, send)
        except Exception as error:
            logger.exception("Unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if response_started:
                # Part of a response has left already; the server closes the connection.
                raise
            extensions = (
                {"error": f"{type(error).__name__}: {error}"} if self.expose_errors else None
            )
            response = problem_response(
                500,
                "The server failed to handle this request. It has been logged.",
                instance=scope.get("path"),
                request_id=request_id_of(scope),
                extensions=extensions,
            )
            await response(scope, receive, send)
