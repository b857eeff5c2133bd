"""Build the OpenAPI 3.1 document of an app from its controllers' route specs.

Schemas come from pydantic (JSON Schema 2020-12, which OpenAPI 3.1 uses as is),
so the document always matches what the handlers validate and return.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from stackkit.errors import status_title
from stackkit.http.problems import PROBLEM_MEDIA_TYPE
from stackkit.http.routing import RouteSpec

__all__ = ["openapi_document"]

REF_TEMPLATE = "#/components/schemas/{model}"
_PATH_PARAMETER = re.compile(r"{([^}:]+)(:[^}]+)?}")

_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem detail.",
    "properties": {
        "type": {"type": "string", "format": "uri-reference"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
    },
    "required": ["type", "title", "status"],
}
_VALIDATION_PROBLEM_SCHEMA: dict[str, Any] = {
    "allOf": [
        {"$ref": "#/components/schemas/Problem"},
        {
            "type": "object",
            "properties": {
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "in": {"type": "string", "enum": ["path", "query", "body"]},
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                            "type": {"type": "string"},
                        },
                        "required": ["in", "field", "message", "type"],
                    },
                }
            },
            "required": ["errors"],
        },
    ]
}


def openapi_document(
    specs: Iterable[RouteSpec], *, title: str, version: str, description: str | None = None
) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document (a JSON-ready dict) describing `specs`."""
    specs = list(specs)
    schemas, components = _model_schemas(specs)
    components.update(Problem=_PROBLEM_SCHEMA, ValidationProblem=_VALIDATION_PROBLEM_SCHEMA)
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    for spec in specs:
        operation_id = _unique(spec.name, operation_ids)
        parameters = [
            *_undeclared_path_parameters(spec),
            *_parameters(schemas.get(("path", spec.path_model)), "path", components),
            *_parameters(schemas.get(("query", spec.query_model)), "query", components),
        ]
        operation: dict[str, Any] = {
            "operationId": operation_id,
            "responses": _responses(spec, schemas),
        }
        if spec.summary:
            operation["summary"] = spec.summary
        if spec.description and spec.description != spec.summary:
            operation["description"] = spec.description
        if spec.tags:
            operation["tags"] = list(spec.tags)
        if spec.deprecated:
            operation["deprecated"] = True
        if parameters:
            operation["parameters"] = parameters
        if spec.body_model is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schemas[("body", spec.body_model)]}},
            }
        operation["security"] = [] if spec.public else [{"bearerAuth": []}]
        path = _PATH_PARAMETER.sub(r"{\1}", spec.path)
        paths.setdefault(path, {})[spec.method.lower()] = operation

    info: dict[str, Any] = {"title": title, "version": version}
    if description:
        info["description"] = description
    return {
        "openapi": "3.1.0",
        "info": info,
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def _model_schemas(
    specs: list[RouteSpec],
) -> tuple[dict[tuple[str, Any], dict[str, Any]], dict[str, Any]]:
    """Schemas of every input (validation) and response (serialisation) type, in one pass,
    so that a model used in several places becomes a single named component and two
    models of the same name in different modules get distinct names."""
    inputs: list[tuple[tuple[str, Any], JsonSchemaMode, TypeAdapter[Any]]] = []
    seen: set[tuple[str, Any]] = set()
    for spec in specs:
        for key, mode in (
            (("path", spec.path_model), "validation"),
            (("query", spec.query_model), "validation"),
            (("body", spec.body_model), "validation"),
            (("response", spec.response_model), "serialization"),
        ):
            if key[1] is not None and key not in seen:
                seen.add(key)
                inputs.append((key, mode, TypeAdapter(key[1])))  # type: ignore[arg-type]
    if not inputs:
        return {}, {}
    schemas, definitions = TypeAdapter.json_schemas(inputs, ref_template=REF_TEMPLATE)
    return {key: schema for (key, _mode), schema in schemas.items()}, dict(
        definitions.get("$defs", {})
    )


def _parameters(
    schema: dict[str, Any] | None, location: str, components: dict[str, Any]
) -> list[dict[str, Any]]:
    """One parameter per property of a path or query model's schema."""
    if schema is None:
        return []
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    required = set(schema.get("required", ()))
    parameters = []
    for name, property_schema in schema.get("properties", {}).items():
        parameter: dict[str, Any] = {
            "name": name,
            "in": location,
            "required": location == "path" or name in required,
            "schema": property_schema,
        }
        if "description" in property_schema:
            parameter["description"] = property_schema["description"]
        if property_schema.get("type") == "array":
            parameter["style"], parameter["explode"] = "form", True
        parameters.append(parameter)
    return parameters


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate


def _undeclared_path_parameters(spec: RouteSpec) -> list[dict[str, Any]]:
    """Path parameters the handler takes no model for: Starlette passes them as strings."""
    declared = (
        {field.alias or name for name, field in spec.path_model.model_fields.items()}
        if spec.path_model
        else set()
    )
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name, _convertor in _PATH_PARAMETER.findall(spec.path)
        if name not in declared
    ]


def _responses(spec: RouteSpec, schemas: dict[tuple[str, Any], dict[str, Any]]) -> dict[str, Any]:
    success: dict[str, Any] = {"description": status_title(spec.status_code)}
    if spec.response_model is not None and spec.status_code not in (204, 304):
        success["content"] = {
            "application/json": {"schema": schemas[("response", spec.response_model)]}
        }
    responses: dict[str, Any] = {str(spec.status_code): success}
    if spec.body_model is not None:
        responses["400"] = _problem("Malformed JSON body")
        responses["413"] = _problem("Body too large")
        responses["415"] = _problem("Body is not JSON")
    if not spec.public:
        responses["401"] = _problem("Authentication required")
    if spec.roles:
        responses["403"] = _problem(f"Needs the role {', '.join(spec.roles)}")
    if spec.path_model or spec.query_model or spec.body_model:
        responses["422"] = {
            "description": "Request validation failed",
            "content": {
                PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ValidationProblem"}}
            },
        }
    responses["default"] = _problem("Error")
    return responses


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
