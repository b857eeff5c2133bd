"""The HTTP layer: controllers with validated inputs, problem+json errors, OpenAPI."""

from __future__ import annotations

from typing import Any

from stackkit.http.openapi import openapi_document
from stackkit.http.problems import (
    PROBLEM_MEDIA_TYPE,
    FieldError,
    ProblemError,
    ValidationProblem,
    http_exception_handler,
    problem_error_handler,
    problem_response,
)
from stackkit.http.routing import Controller, RouteFinder, RouteSpec, route_spec
from stackkit.lazy import submodule

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "Controller",
    "FieldError",
    "ProblemError",
    "RouteFinder",
    "RouteSpec",
    "ValidationProblem",
    "http_exception_handler",
    "openapi_document",
    "problem_error_handler",
    "problem_response",
    "route_spec",
]


def __getattr__(name: str) -> Any:
    """A submodule not imported yet (`stackkit.http.<module>`), on first use."""
    return submodule(__name__, name)
