"""The errors every layer raises, as plain exceptions that import nothing of stackkit.

The data layer, authentication and rate limiting raise these; they know no web
framework. Each carries its status and the members its answer adds, as data: the HTTP
edge (`stackkit.http.problems`, installed by `create_app`) renders any of them as an
`application/problem+json` response, and a CLI command prints its detail.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Literal, TypedDict

__all__ = [
    "ConflictError",
    "FieldError",
    "Location",
    "NotFoundError",
    "PreconditionFailedError",
    "ProblemError",
    "ValidationProblem",
    "field_error",
    "status_title",
]

Location = Literal["path", "query", "body"]
"""Where a refused field was sent."""

# RFC 9110 renamed these two; Python's http module still has the older phrases.
_CURRENT_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}
RESERVED_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "request_id"})
"""Members every problem sets itself, which an error's extensions may not replace."""


def status_title(status: int) -> str:
    """The standard reason phrase of `status` ("Not Found"), or "Error" if unknown."""
    if status in _CURRENT_TITLES:
        return _CURRENT_TITLES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ProblemError(Exception):
    """An error that leaves the API as a problem+json response (RFC 9457).

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


FieldError = TypedDict("FieldError", {"in": str, "field": str, "message": str, "type": str})
"""One entry of a 422 problem's `errors`: where (`in`), which `field` (dotted, as the
client sent it; empty for the whole body), a `message` for a human and a `type` for code."""


def field_error(
    field: str, message: str, *, kind: str = "value_error", location: Location = "body"
) -> FieldError:
    """One refused field, for `ValidationProblem`."""
    return {"in": location, "field": field, "message": message, "type": kind}


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

    @classmethod
    def for_field(
        cls, field: str, message: str, *, kind: str = "value_error", location: Location = "body"
    ) -> ValidationProblem:
        """A 422 that refuses one field."""
        return cls([field_error(field, message, kind=kind, location=location)])


class NotFoundError(ProblemError):
    """404: no row of that resource with that id (or not one the caller may see)."""

    def __init__(self, resource: str, id: Any) -> None:
        super().__init__(404, f"There is no {resource} {id}.")


class ConflictError(ProblemError):
    """409: the change collides with the data, e.g. a value that must be unique."""

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        if field:
            super().__init__(409, detail, field=field)
        else:
            super().__init__(409, detail)


class PreconditionFailedError(ProblemError):
    """412: `If-Match` named a version that is no longer current."""

    def __init__(self, resource: str, id: Any, current_version: int) -> None:
        super().__init__(
            412,
            f"{resource} {id} has changed (now version {current_version}); reload it and retry.",
            current_version=current_version,
        )
