"""The HTTP layer: controllers with validated inputs, problem+json errors, OpenAPI."""

from stackkit.http.openapi import openapi_document
from stackkit.http.problems import (
    PROBLEM_MEDIA_TYPE,
    FieldError,
    ProblemError,
    ValidationProblem,
    problem_response,
)
from stackkit.http.routing import Controller, RouteSpec, route_spec

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "Controller",
    "FieldError",
    "ProblemError",
    "RouteSpec",
    "ValidationProblem",
    "openapi_document",
    "problem_response",
    "route_spec",
]
