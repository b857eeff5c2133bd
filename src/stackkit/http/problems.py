"""RFC 9457 problem details: the one shape every error response of a stackkit app takes.

A handler raises `ProblemError` (or one of its subclasses, or Starlette's
`HTTPException`); the handlers installed by `create_app` turn it into an
`application/problem+json` response that carries the request id.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from pydantic_core import to_json
from starlette.exceptions import HTTPException
from starlette.responses import Response

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
# RFC 9110 renamed these two; Python's http module still has the older phrases.
_CURRENT_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


def status_title(status: int) -> str:
    """The standard reason phrase of `status` ("Not Found"), or "Error" if unknown."""
    if status in _CURRENT_TITLES:
        return _CURRENT_TITLES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ProblemError(Exception):
    """An error that leaves the API as a problem+json response.

    Args:
        status: the HTTP status code.
        detail: a sentence for a human, specific to this occurrence.
        title: a short summary of the problem type; defaults to the reason phrase.
        type: a URI naming the problem type; `about:blank` means "see the status".
        headers: extra response headers (for example `Retry-After` or `Allow`).
        **extensions: extra members of the problem object.

    Raises:
        ValueError: `status` is not an error status, or an extension would replace a
            member every problem sets (`type`, `title`, `status`, `detail`, `instance`,
            `request_id`).
    """

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        title: str | None = None,
        type: str = "about:blank",
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"a problem has an error status (400-599), not {status}")
        reserved = sorted(RESERVED_MEMBERS.intersection(extensions))
        if reserved:
            raise ValueError(f"{reserved} are members every problem sets itself")
        self.status = status
        self.detail = detail
        self.title = title or status_title(status)
        self.type = type
        self.headers = dict(headers or {})
        self.extensions = extensions
        super().__init__(f"{status} {self.title}: {detail}" if detail else f"{status} {self.title}")


RESERVED_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "request_id"})

FieldError = dict[str, str]
"""One entry of a 422 problem's `errors`: `in`, `field`, `message` and `type`."""


class ValidationProblem(ProblemError):
    """422: the request's path, query or body failed validation; `errors` names each field."""

    def __init__(self, errors: list[FieldError]) -> None:
        fields = ", ".join(sorted({f"{e['in']}.{e['field']}".rstrip(".") for e in errors}))
        super().__init__(
            422,
            f"The request is not valid: {fields}.",
            title="Request validation failed",
            errors=errors,
        )


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
