"""The HTTP layer: controllers with validated inputs, problem+json errors, OpenAPI."""

from __future__ import annotations

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
from stackkit.lazy import lazy_attributes

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


__getattr__ = lazy_attributes(__name__)  # a submodule, imported on first use
