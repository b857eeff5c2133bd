"""`GET /api/meta/resources`: what the generic UI needs to render each resource."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema
from starlette.requests import Request

from stackkit.db.query import OPERATORS
from stackkit.http.routing import Controller, admin_role_of
from stackkit.resources.resource import ACTIONS, Resource

__all__ = ["AppInfo", "FileFieldInfo", "RelationInfo", "ResourceInfo", "meta_controller"]


class RelationInfo(BaseModel):
    field: str
    """The column that refers to the other resource's rows (`category_id`)."""
    resource: str
    """The name of the resource it refers to (`categories`)."""
    path: str
    display: str
    """The field that names the rows it refers to (their resource's `display`)."""
    many: bool = False
    """Whether `field` lists ids (`tag_ids`, a many-to-many link), not one."""


class FileFieldInfo(BaseModel):
    image: bool
    """Only images, each with a thumbnail."""
    max_size: int
    """The largest file, in bytes."""
    types: list[str]
    """The content types taken (`image/*` for a family); empty: any."""


class ResourceInfo(BaseModel):
    name: str
    path: str
    public: bool
    owned: bool
    """Whether each user sees only the rows they created (admins see all): a list is
    "mine", not "everyone's"."""
    schemas: dict[str, dict[str, Any]]
    """JSON Schemas of the `create`, `update` and `read` models."""
    filterable: list[str]
    sortable: list[str]
    default_sort: str
    operators: list[str]
    """Filter operators: `field__<operator>=value` (`eq` is plain `field=value`)."""
    display: str
    """The field that names a row where another refers to it (`Resource(display=...)`):
    `GET <path>/choices` labels rows with it."""
    searchable: list[str]
    """The fields `?q=` searches (`Model.__search__`); none: the list takes no `q`."""
    relations: dict[str, RelationInfo]
    """The resources this one refers to, by relation name (`category`), as `?include=`
    and filters across them (`category.name__contains=`) name them."""
    files: dict[str, FileFieldInfo] = {}
    """The file fields (`file_column()`): upload at `<path>/files/<field>`, links to a
    row's file at `<path>/<id>/files/<field>`."""
    permissions: dict[str, bool]
    """What the caller may do, given their roles (`Resource(roles=..., write_roles=...)`):
    `list`, `create`, `read`, `update`, `delete` (on an owned resource, on their own rows)."""


class FormSchemas(GenerateJsonSchema):
    """JSON Schemas for the UI's forms: a `Decimal` field says its scale
    (`x-decimal-places`), which plain JSON Schema has no word for."""

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        json_schema = super().decimal_schema(schema)
        if schema.get("decimal_places") is not None:
            json_schema["x-decimal-places"] = schema["decimal_places"]
        return json_schema


def describe(resource: Resource) -> ResourceInfo:
    return ResourceInfo(
        name=resource.name,
        path=resource.prefix,
        public=resource.public,
        owned=resource.owned,
        schemas={
            "create": resource.create_model.model_json_schema(schema_generator=FormSchemas),
            "update": resource.update_model.model_json_schema(schema_generator=FormSchemas),
            "read": resource.read_model.model_json_schema(
                mode="serialization", schema_generator=FormSchemas
            ),
        },
        filterable=resource.filterable,
        sortable=resource.sortable,
        default_sort=resource.default_sort,
        operators=list(OPERATORS),
        display=resource.display,
        searchable=list(resource.searchable),
        relations={
            name: RelationInfo(
                field=relation.column,
                resource=relation.target.name,
                path=relation.target.prefix,
                display=relation.target.display,
                many=relation.many,
            )
            for name, relation in resource.relations.items()
        },
        files={
            field: FileFieldInfo(
                image=rule.image, max_size=rule.max_size, types=list(rule.allowed_types)
            )
            for field, rule in resource.file_fields.items()
        },
        permissions=dict.fromkeys(ACTIONS, True),
    )


class AppInfo(BaseModel):
    admin_role: str
    """The role that manages the app: its holders see user management and every row of
    owned resources (`AuthConfig.admin_role`)."""
    jobs: bool = False
    """Whether the app has a job queue, which its admins see at `/api/admin/jobs`."""
    email_verification: bool = False
    """Whether users verify their email address (`STACKKIT_EMAIL_VERIFICATION`): the
    frontend then shows a banner to those who have not."""
    verified_email_required: bool = False
    """Whether an unverified account cannot sign in (`STACKKIT_REQUIRE_VERIFIED_EMAIL`)."""
    api_keys: bool = False
    """Whether users may make API keys (`AuthConfig.api_keys`, with a database)."""


def meta_controller(resources: Sequence[Resource]) -> Controller:
    meta = Controller("/api/meta", tags=["meta"])
    infos = [(resource, describe(resource)) for resource in resources]

    @meta.get("", name="app_info")
    async def app_info(request: Request) -> AppInfo:
        """What the frontend needs to know of the app as a whole."""
        state = request.app.state
        settings = getattr(state, "settings", None)
        return AppInfo(
            admin_role=admin_role_of(request.scope),
            jobs=getattr(state, "jobs", None) is not None,
            email_verification=bool(settings and settings.verifies_email),
            verified_email_required=bool(settings and settings.require_verified_email),
            api_keys=getattr(getattr(state, "auth", None), "api_keys", None) is not None,
        )

    @meta.get("/resources", name="list_resources")
    async def list_resources(request: Request) -> list[ResourceInfo]:
        """The resources of this API, with the schemas a generic UI renders them from."""
        return [
            info.model_copy(update={"permissions": resource.permissions(request)})
            for resource, info in infos
        ]

    return meta
