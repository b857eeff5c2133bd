"""Parse a request's path, query and JSON body into pydantic models, or raise a problem.

Validation happens here, at the boundary: handlers receive valid models only.
"""

from __future__ import annotations

import json
import re
import types
import typing
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from stackkit.errors import FieldError, Location, ProblemError, ValidationProblem, field_error

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["Location", "parse_body", "parse_path", "parse_query", "sequence_fields"]

_SEQUENCES = (list, tuple, set, frozenset)
_NUL = "\x00"
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
"""How JSON writes a NUL character (a raw NUL byte is invalid JSON): `\u0000` after an
even number of backslashes (an odd one escapes the backslash, and is text)."""
_NUL_IN_QUERY = b"%00"
"""How a NUL reaches a query string (servers refuse a raw NUL byte in the target)."""
_NUL_MESSAGE = "Text must not contain NUL characters (U+0000)"


def field_errors(error: ValidationError, location: Location) -> list[FieldError]:
    """Name each failing field as the client sent it (`items.0.name`), with pydantic's message."""
    return [
        field_error(
            ".".join(str(part) for part in item["loc"]),
            item["msg"],
            kind=item["type"],
            location=location,
        )
        for item in error.errors(include_url=False, include_input=False)
    ]


def sequence_fields(model: type[BaseModel]) -> frozenset[str]:
    """Query keys of fields typed as a list (or set, tuple), optional or not:
    `?tag=a&tag=b` fills them with every value."""
    names = set()
    for name, field in model.model_fields.items():
        if _is_sequence(field.annotation):
            for key in (name, field.alias, field.validation_alias):
                if isinstance(key, str):
                    names.add(key)
    return frozenset(names)


def _is_sequence(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_sequence(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_sequence(arg) for arg in typing.get_args(annotation))
    return origin in _SEQUENCES or annotation in _SEQUENCES


def _refuse_nul(values: Any, location: Location, path: tuple[str | int, ...] = ()) -> None:
    """422 for any text in `values` (parsed JSON, or parameters) holding a NUL.

    PostgreSQL cannot store NUL in text, and a driver refuses to send one: without
    this, a NUL would be a 500 on PostgreSQL while SQLite stores it. Refused on every
    database alike, so that an app behaves the same in development and production.
    """
    errors: list[FieldError] = []

    def walk(value: Any, where: tuple[str | int, ...]) -> None:
        if isinstance(value, str):
            if _NUL in value:
                field = ".".join(str(part) for part in where)
                errors.append(
                    field_error(field, _NUL_MESSAGE, kind="string_nul", location=location)
                )
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(key, where)
                walk(item, (*where, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, (*where, index))

    walk(values, path)
    if errors:
        raise ValidationProblem(errors)


def parse_path(model: type[BaseModel], request: Request) -> BaseModel:
    if _NUL in request.scope["path"]:  # rare: only then look for the parameter
        _refuse_nul(request.path_params, "path")
    try:
        return model.model_validate(request.path_params)
    except ValidationError as error:
        raise ValidationProblem(field_errors(error, "path")) from None


def parse_query(model: type[BaseModel], sequences: frozenset[str], request: Request) -> BaseModel:
    params = request.query_params
    data = {key: params.getlist(key) if key in sequences else params[key] for key in params}
    if _NUL_IN_QUERY in request.scope["query_string"]:  # rare: only then look for it
        _refuse_nul(data, "query")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ValidationProblem(field_errors(error, "query")) from None


async def parse_body(model: type[BaseModel], request: Request) -> BaseModel:
    """Read and validate a JSON body.

    Raises:
        ProblemError: 415 when the body is not JSON, 400 when it is malformed JSON.
        ValidationProblem: 422 when it is JSON that does not fit `model`.
    """
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    raw = await request.body()
    if not raw:
        if not any(field.is_required() for field in model.model_fields.values()):
            return model()  # every field is optional: no body means all defaults
        raise ValidationProblem.for_field("", "A JSON body is required", kind="missing")
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise ProblemError(
            415,
            f"The body must be application/json, not {media_type or 'untyped'}.",
            headers={"Accept": "application/json"},
        )
    try:
        body = model.model_validate_json(raw)
    except ValidationError as error:
        errors = field_errors(error, "body")
        malformed = next((e for e in errors if e["type"] == "json_invalid"), None)
        if malformed:
            raise ProblemError(
                400, f"The body is not valid JSON: {malformed['message']}."
            ) from None
        raise ValidationProblem(errors) from None
    if _NUL_ESCAPE.search(raw):  # rare: only then parse again to find where
        _refuse_nul(json.loads(raw), "body")
    return body
