"""RFC 9457 problem details: the one shape every error response of a stackkit app takes.

A handler raises `ProblemError` (or one of its subclasses, or Starlette's
`HTTPException`); the handlers installed by `create_app` turn it into an
`application/problem+json` response that carries the request id. The errors
themselves live in `stackkit.errors`, which every layer may import; they are
re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic_core import to_json
from starlette.exceptions import HTTPException
from starlette.responses import Response

from stackkit.errors import FieldError, ProblemError, ValidationProblem, status_title

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import Scope

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "FieldError",
    "ProblemError",
    "ValidationProblem",
    "http_exception_handler",
    "problem_error_handler",
    "problem_for",
    "problem_response",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    type: str = "about:blank",
    instance: str | None = None,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> Response:
    """Build an `application/problem+json` response."""
    body: dict[str, Any] = {"type": type, "title": title or status_title(status), "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if request_id:
        body["request_id"] = request_id
    if extensions:
        body.update(extensions)
    return Response(to_json(body), status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def request_id_of(scope: Scope) -> str | None:
    state = scope.get("state")
    return state.get("request_id") if isinstance(state, dict) else None


def problem_for(error: ProblemError | HTTPException, scope: Scope) -> Response:
    """The problem response for a raised `ProblemError` or Starlette `HTTPException`."""
    instance, request_id = scope.get("path"), request_id_of(scope)
    if isinstance(error, ProblemError):
        return problem_response(
            error.status,
            error.detail,
            title=error.title,
            type=error.type,
            instance=instance,
            request_id=request_id,
            headers=error.headers,
            extensions=error.extensions,
        )
    if error.status_code < 400:  # Starlette raises these for 304-style shortcuts
        return Response(status_code=error.status_code, headers=error.headers)
    title = status_title(error.status_code)
    detail = error.detail if error.detail and error.detail != title else None
    return problem_response(
        error.status_code, detail, instance=instance, request_id=request_id, headers=error.headers
    )


async def problem_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_for(exc, request.scope)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Render Starlette's own `HTTPException`s (404, 405, ...) as problems."""
    assert isinstance(exc, HTTPException)
    return problem_for(exc, request.scope)
