"""`Resource`: the CRUD routes of the HTTP contract, wired to a service.

    notes = Resource("notes", service=NoteService, create=NoteIn, update=NotePatch, read=NoteOut)
    app = create_app(resources=[notes])

gives, under `/api/notes`:

| route | does |
|---|---|
| `GET /api/notes` | `{items, next_cursor}`; `limit`, `cursor`, `sort`, filters (`price__gte=10`) |
| `GET /api/notes/export.csv` | every row the filters select, as streamed CSV |
| `GET /api/notes/choices` | `{items: [{id, label}]}`: what a picker offers; `q`, `ids`, `limit` |
| `POST /api/notes` | 201, the row, with `Location` and `ETag` |
| `GET /api/notes/{id}` | the row with its `ETag`; 304 for a matching `If-None-Match` |
| `PATCH /api/notes/{id}` | the changed row; `If-Match` with a stale ETag is 412 |
| `DELETE /api/notes/{id}` | 204; `If-Match` as for PATCH |

The ETag of a row is its version (`"3"`), so `If-Match` is optimistic locking.
Conditional headers follow RFC 9110: `If-Match` compares strongly (`W/"3"` never
matches) and any well-formed tag that is not the row's current one is a 412;
`If-None-Match` compares weakly; `*` matches any row that exists.

A resource of a model with an `owner_id` column (`owner_column()`) is owned:
its rows belong to the user who created them; other users get 404 for them and
never see them in lists; holders of the admin role see and change them all.

A foreign key to another resource's table is a relation (`stackkit.resources.relations`):
`?include=category` embeds the referenced row, `?category.name__contains=` filters
across it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model
from sqlalchemy import ColumnElement, Table, func, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from stackkit.db.database import Database
from stackkit.db.model import MAX_ID, MAX_INT, marks_deleted, not_deleted
from stackkit.db.query import query_problem
from stackkit.db.repository import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, link_columns
from stackkit.db.search import search_columns
from stackkit.db.service import Service
from stackkit.errors import FieldError, ProblemError, ValidationProblem, field_error
from stackkit.files.column import file_rule
from stackkit.http.conditional import ANY, EntityTag, none_match, parse_entity_tags
from stackkit.http.pages import page_model
from stackkit.http.routing import Controller, admin_role_of, check_access
from stackkit.resources.export import EXPORT_PAGE_SIZE, csv_lines
from stackkit.resources.files import add_file_routes, files_claimed, files_of
from stackkit.resources.relations import (
    Relation,
    check_read_access,
    included_rows,
    relation_filters,
    relation_name,
    wanted_relations,
    with_included,
)

__all__ = ["ACTIONS", "OWNER_COLUMN", "IdPath", "Resource", "etag_for", "link_relations"]

OWNER_COLUMN = "owner_id"
"""The column that makes a resource owned: the id of the user a row belongs to."""
ACTIONS = ("list", "create", "read", "update", "delete")
"""What a resource's routes do, one route each."""

_LIST_PARAMETERS = ("limit", "cursor", "sort", "q")
MAX_LINKS = 100
"""The most rows one many-to-many link field (`tag_ids`) may list."""
MAX_VERSION = MAX_INT
"""The largest version a row can reach (an `Integer` column). A tag naming a larger one
never matches, and never reaches SQL, where it would overflow the column."""
_NO_VERSION = 0
"""An expected version no row is at (versions start at 1): the update or delete then
fails its precondition, with the row's current version in the 412."""


class IdPath(BaseModel):
    id: int = Field(ge=1, le=MAX_ID, description="The row's id.")


_INCLUDE = Field(
    None, description="Comma-separated relations whose rows each row carries: category."
)


class IncludeQuery(BaseModel):
    include: str | None = _INCLUDE


class ChoicesQuery(BaseModel):
    q: str | None = Field(None, max_length=200, description="Text the label contains.")
    ids: str | None = Field(
        None, max_length=1200, description="Comma-separated ids: only these rows."
    )
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="How many.")


class Choice(BaseModel):
    id: int
    label: str


class Choices(BaseModel):
    items: list[Choice]


def etag_for(version: int) -> str:
    return f'"{version}"'


class Resource:
    """A REST resource: list, create, read, update and delete rows through a service.

    Args:
        name: the plural name, used in paths (`/api/<name>`) and in the UI.
        service: the `Service` subclass holding the business rules.
        create: the body model of POST.
        update: the body model of PATCH (fields optional; only those sent change).
        read: the response model of a row.
        public: whether the routes are open without authentication.
        prefix: where the routes live; default `/api/<name>`.
        owned: whether rows belong to the user who created them; None (the
            default): when the model has an `owner_id` column. An owned resource
            shows each user only their own rows (404 for the others', which never
            appear in lists, whatever the filters), and sets `owner_id` on create
            to the signed-in user's id, overwriting any value the body gave
            (leave `owner_id` out of the create model).
        admin_role: the role whose holders see and change every row of an owned
            resource; default the app's (`AuthConfig.admin_role`, `admin`).
        roles: roles a user must all hold for every route of the resource (403
            otherwise).
        write_roles: roles a user must also hold to create, change and delete rows:
            `write_roles=["admin"]` lets every signed-in user read, and only admins
            write. `GET /api/meta/resources` tells each caller what they may do.
        cache_ttl: seconds the response cache keeps the answers of `list` and `read`;
            None: the app's default (`STACKKIT_CACHE_TTL`); 0: never.
        rate_limit: a limit for each route of the resource, each with a budget of its
            own (`"100/minute"`; False: none; None: the app's default), or a limit per
            action (`{"create": "30/minute"}`; the other actions keep the default).
        display: the field that names a row where another refers to it (pickers,
            lists of the other resource); default the read model's first text field
            that is a column, else `id`.

    Raises:
        TypeError: an owned resource that is public (an anonymous caller owns no
            rows), whose model has no `owner_id` column, or whose update model
            declares `owner_id` (a PATCH must not move a row into another user's
            list; reassign rows in a service method instead); a public resource
            that asks for roles; a `rate_limit` naming an action that is not one
            of `ACTIONS`; a `display` that is not a column of the read model.
    """

    def __init__(
        self,
        name: str,
        *,
        service: type[Service[Any]],
        create: type[BaseModel],
        update: type[BaseModel],
        read: type[BaseModel],
        public: bool = False,
        prefix: str | None = None,
        owned: bool | None = None,
        admin_role: str | None = None,
        roles: Sequence[str] = (),
        write_roles: Sequence[str] = (),
        cache_ttl: float | None = None,
        rate_limit: str | bool | Mapping[str, str | bool] | None = None,
        display: str | None = None,
    ) -> None:
        if public and (roles or write_roles):
            raise TypeError(f"resource {name!r} is public: it cannot require roles")
        if isinstance(rate_limit, Mapping):
            unknown = sorted(set(rate_limit) - set(ACTIONS))
            if unknown:
                raise TypeError(
                    f"resource {name!r}: rate_limit names {unknown}, not actions of "
                    f"a resource ({', '.join(ACTIONS)})"
                )
        self.name = name
        self.service = service
        self.create_model = create
        self.update_model = update
        self.read_model = read
        self.public = public
        self.prefix = prefix or f"/api/{name}"
        repository = service.repository
        columns = repository.model.__table__.c
        self.table_name: str = repository.model.__tablename__
        self.display = _display_field(name, read, columns.keys(), display)
        self.owned = OWNER_COLUMN in columns if owned is None else owned
        self.admin_role = admin_role
        self.roles = tuple(roles)
        self.write_roles = tuple(write_roles)
        self.cache_ttl = cache_ttl
        self.rate_limit = rate_limit
        if self.owned:
            _check_owned(name, repository.model.__name__, OWNER_COLUMN in columns, public, update)
            self._owner_column = columns[OWNER_COLUMN]
        # Foreign keys (but the owner's) to tables whose rows belong to users, or whose
        # rows may be marked deleted: a reference must name a row the caller owns, or one
        # that is not deleted.
        self._checked_references = [
            (column.name, key.column.table)
            for column in columns
            if column.name != OWNER_COLUMN
            for key in column.foreign_keys
            if OWNER_COLUMN in key.column.table.c or marks_deleted(key.column.table)
        ]
        self.references = [
            (column.name, key.column.table.name)
            for column in columns
            if column.name != OWNER_COLUMN
            for key in column.foreign_keys
        ]
        """`(column, table)` of each foreign key but the owner's."""
        self.links = {
            field: (
                link,
                next(iter(link_columns(link, self.table_name)[1].foreign_keys)).column.table,
            )
            for field, link in repository.links.items()
        }
        """Each many-to-many link field (`tag_ids`): `(link table, table it lists rows of)`."""
        self.file_fields = {
            column.name: rule for column in columns if (rule := file_rule(column)) is not None
        }
        """The file fields (`file_column()`) and what each takes."""
        self.relations: dict[str, Relation] = {}
        """The relations to the app's other resources, by name: set by `link_relations`."""
        filter_operators = repository.filter_operators()
        self.filterable = list(filter_operators)
        self.sortable = repository.sort_fields()
        self.default_sort = repository.default_sort
        self.searchable = search_columns(repository.model.__table__)
        """The columns `?q=` searches (`Model.__search__`)."""
        self.list_query = _list_query_model(
            name, filter_operators, self.sortable,
            include=bool(self.references or self.links), search=bool(self.searchable),
        )  # fmt: skip
        self.export_query = _list_query_model(
            name, filter_operators, self.sortable, paged=False, search=bool(self.searchable)
        )
        self.page_model = page_model(f"{_camel(name)}Page", read)
        self._read = TypeAdapter(read)
        self.controller = self._build_controller()

    def service_for(self, request: Request) -> Service[Any]:
        """The service that handles `request`, limited to `scope_for(request)`.

        Override to build the service another way or to narrow it further; keep
        `self.scope_for(request)` in its scope, or an owned resource stops being
        owner-scoped for reads, changes and deletes.
        """
        database: Database = request.app.state.database
        scope = self.scope_for(request)
        # Unscoped services are built as before, so a subclass whose __init__ takes no
        # `scope` (UserService) still serves an unowned resource.
        return self.service(database, scope=scope) if scope else self.service(database)

    def scope_for(self, request: Request) -> list[ColumnElement[bool]]:
        """The conditions the caller's rows meet: `owner_id == <user id>` on an owned
        resource, unless the user holds `admin_role`; none otherwise.

        Raises:
            ProblemError: 401 on an owned resource without a signed-in user.
            TypeError: the signed-in user's id is not an integer (see `owner_of`).
        """
        if not self.owned or self.sees_all(request):
            return []
        return [self._owner_column == self.owner_of(request)]

    def owner_of(self, request: Request) -> int:
        """The id of the signed-in user, as the `owner_id` of the rows they create.

        Raises:
            ProblemError: 401 without a signed-in user.
            TypeError: the user object has no integer `id` (an authentication layer
                of the app's own must give one, as `AuthenticatedUser` does).
        """
        check_access(request.scope)
        user = request.scope["user"]
        try:
            return int(user.id)
        except (AttributeError, TypeError, ValueError):
            raise TypeError(
                f"resource {self.name!r} is owned, but the signed-in user "
                f"{type(user).__name__} has no integer `id` to own rows with"
            ) from None

    def sees_all(self, request: Request) -> bool:
        """Whether the signed-in user holds `admin_role`: `request.user.roles`, or
        Starlette's `request.auth.scopes` for users without `roles`."""
        roles: Collection[str] | None = getattr(request.scope.get("user"), "roles", None)
        if roles is None:
            roles = getattr(request.scope.get("auth"), "scopes", ())
        return self.admin_role_for(request) in roles

    def admin_role_for(self, request: Request) -> str:
        """`admin_role`, or the app's when the resource names none."""
        return self.admin_role or admin_role_of(request.scope)

    def permissions(self, request: Request) -> dict[str, bool]:
        """What the caller's roles let them do: `list`, `create`, `read`, `update`,
        `delete` (on an owned resource, on their own rows)."""
        granted = getattr(request.scope.get("auth"), "scopes", ())
        reads = all(role in granted for role in self.roles)
        writes = reads and all(role in granted for role in self.write_roles)
        return {action: reads if action in ("list", "read") else writes for action in ACTIONS}

    async def check_references(self, request: Request, values: dict[str, Any]) -> None:
        """Refuse a reference to a row of an owned table that the caller does not own:
        a user may point only at their own rows (admins at any). Without this, ids
        sent at random would tell which rows of others exist, and their deletion
        would cascade into the caller's rows. The ids of a many-to-many link (`tag_ids`)
        must all name such rows, and rows that exist (admins included).

        A reference through a relation also needs what reading its resource needs (a
        role, say), whether or not the row exists; a row marked deleted is no row.

        Raises:
            ValidationProblem: 422 naming each such field, as for an id that does not exist.
            ProblemError: 401 or 403 for a relation whose resource the caller may not read.
        """
        for relation in self.relations.values():
            if values.get(relation.column):
                check_read_access(request, relation.target)
        admin = self.sees_all(request)
        wanted = [
            (column, table, [values[column]])
            for column, table in self._checked_references
            if values.get(column) is not None and (not admin or marks_deleted(table))
        ]
        wanted += [
            (field, table, sorted(set(values[field])))
            for field, (_, table) in self.links.items()
            if values.get(field)
        ]
        if not wanted:
            return
        owned_rows = any(OWNER_COLUMN in table.c for _, table, _ in wanted)
        owner = self.owner_of(request) if owned_rows and not admin else None
        database: Database = request.app.state.database
        errors: list[FieldError] = []
        async with database.session(read_only=True) as session:
            for field, table, ids in wanted:
                if len(ids) > MAX_LINKS or not all(_is_row_id(id) for id in ids):
                    message = f"give up to {MAX_LINKS} row ids, each 1 to {MAX_ID}"
                    errors.append(field_error(field, message, kind="invalid_value"))
                    continue
                query = select(func.count()).select_from(table).where(table.c.id.in_(ids))
                if owner is not None and OWNER_COLUMN in table.c:
                    query = query.where(table.c[OWNER_COLUMN] == owner)
                query = query.where(*not_deleted(table))  # gone to its resource
                if await session.scalar(query) != len(ids):
                    message = f"no {table.name} row with this id" if len(ids) == 1 else (
                        f"no {table.name} row with one of these ids"
                    )  # fmt: skip
                    errors.append(field_error(field, message, kind="not_found"))
        if errors:
            raise ValidationProblem(errors)

    def _check_owner_filters(self, request: Request, filters: Mapping[str, Any]) -> None:
        """Filters on `owner_id` (`owner_id=`, `owner_id__in=`, ...) are for admins only:
        everyone else sees only their own rows, and learns nothing by naming another's id.

        Raises:
            ValidationProblem: 422 (`forbidden`) naming the first such filter.
        """
        for key in filters:
            if key.partition("__")[0] == OWNER_COLUMN and not self.sees_all(request):
                role = self.admin_role_for(request)
                message = f"only holders of the {role!r} role filter on owner_id"
                raise query_problem(key, message, "forbidden")

    def _owner_filter(self, value: Any) -> int:
        """The user id of an admin's `owner_id=<id>` list filter."""
        try:
            owner = int(value)
        except (TypeError, ValueError):
            owner = 0
        if not 1 <= owner <= MAX_ID:
            raise query_problem(OWNER_COLUMN, f"must be a user id, 1 to {MAX_ID}", "invalid_value")
        return owner

    def rate_limit_for(self, action: str) -> str | bool | None:
        """The rate limit of the route that does `action` (one of `ACTIONS`)."""
        if isinstance(self.rate_limit, Mapping):
            return self.rate_limit.get(action)
        return self.rate_limit

    def dump(self, row: Any) -> Any:
        """A row as the read model shows it, in JSON types."""
        validated = self._read.validate_python(row, from_attributes=True)
        return self._read.dump_python(validated, mode="json")

    def _row_response(self, row: Any, status_code: int = 200, **headers: str) -> Response:
        body = self._read.dump_json(self._read.validate_python(row, from_attributes=True))
        headers["ETag"] = etag_for(row.version)
        return Response(body, status_code, headers=headers, media_type="application/json")

    def _build_controller(self) -> Controller:
        controller = Controller(self.prefix, tags=[self.name], public=self.public)
        resource = self
        ListQuery, PageModel = self.list_query, self.page_model
        CreateModel, UpdateModel = self.create_model, self.update_model
        columns = self.service.repository.model.__table__.c.keys()
        export_fields = list(self.read_model.model_fields)
        create_fields = _BodyFields(CreateModel, columns, keep_owner=self.owned)
        update_fields = _BodyFields(UpdateModel, columns, keep_owner=False)

        def filtered(
            request: Request, values: dict[str, Any]
        ) -> tuple[Service[Any], dict[str, Any]]:
            """The caller's service and the query's filters (`owner_id` as a scope)."""
            filters = {k: v for k, v in values.items() if k not in _LIST_PARAMETERS}
            filters.pop("include", None)
            service = resource.service_for(request)
            if resource.owned:
                resource._check_owner_filters(request, filters)
            if resource.owned and OWNER_COLUMN in filters:
                owner = resource._owner_filter(filters.pop(OWNER_COLUMN))
                service.scope.append(resource._owner_column == owner)
            service.scope += relation_filters(resource, request, filters)
            return service, filters

        async def list_rows(request: Request, query: BaseModel) -> Any:
            values = query.model_dump(exclude_none=True)  # with the extras: `price__gte`
            relations = wanted_relations(resource, request, values.get("include"))
            service, filters = filtered(request, values)
            page = await service.page(
                filters,
                sort=values.get("sort"),
                limit=values["limit"],
                cursor=values.get("cursor"),
                search=values.get("q"),
            )
            if not relations:
                return {"items": page.items, "next_cursor": page.next_cursor}
            loaded = await included_rows(request, relations, page.items)
            items = [
                with_included(resource.dump(row), row, relations, loaded) for row in page.items
            ]
            return JSONResponse({"items": items, "next_cursor": page.next_cursor})

        async def choose_rows(request: Request, query: ChoicesQuery) -> Choices:
            ids = _choice_ids(query.ids)
            async with resource.service_for(request).unit(read_only=True) as repository:
                rows = await repository.choices(
                    resource.display, search=query.q, ids=ids, limit=query.limit
                )
            return Choices(
                items=[
                    Choice(id=id, label=f"#{id}" if value is None else str(value))
                    for id, value in rows
                ]
            )

        async def export_rows(request: Request, query: BaseModel) -> Response:
            values = query.model_dump(exclude_none=True)
            for paging in ("limit", "cursor"):
                if paging in values:
                    raise query_problem(paging, "an export has every row: no pages", "extra")
            if "include" in values:
                raise query_problem("include", "an export has the row's own columns", "extra")
            service, filters = filtered(request, values)
            sort, search = values.get("sort"), values.get("q")
            first = await service.page(filters, sort=sort, limit=EXPORT_PAGE_SIZE, search=search)
            lines = csv_lines(service, resource._read, export_fields, filters, sort, first, search)
            return StreamingResponse(
                lines,
                media_type="text/csv; charset=utf-8",
                headers={
                    "Content-Disposition": f'attachment; filename="{resource.name}.csv"',
                    "Cache-Control": "no-store",
                },
            )

        async def create_row(request: Request, body: BaseModel) -> Response:
            await create_fields.check(request)
            values = body.model_dump()
            if resource.owned:
                values[OWNER_COLUMN] = resource.owner_of(request)
            await resource.check_references(request, values)
            async with files_claimed(resource, request, values) as attach_files:
                row = await resource.service_for(request).create(values)
                await attach_files(row.id)
            return resource._row_response(row, 201, Location=f"{resource.prefix}/{row.id}")

        async def read_row(request: Request, path: IdPath, query: IncludeQuery) -> Response:
            relations = wanted_relations(resource, request, query.include)
            row = await resource.service_for(request).get(path.id)
            if relations:
                # No ETag: the row's version does not change with the included rows.
                loaded = await included_rows(request, relations, [row])
                return JSONResponse(with_included(resource.dump(row), row, relations, loaded))
            if _not_modified(request, row.version):
                return Response(status_code=304, headers={"ETag": etag_for(row.version)})
            return resource._row_response(row)

        async def update_row(request: Request, path: IdPath, body: BaseModel) -> Response:
            await update_fields.check(request)
            changes = body.model_dump(exclude_unset=True)
            await resource.check_references(request, changes)
            service = resource.service_for(request)
            file_fields = [field for field in resource.file_fields if field in changes]
            before = await service.get(path.id) if file_fields else None
            expected = await _expected_version(request, service, path.id)
            async with files_claimed(resource, request, changes, before) as attach_files:
                row = await service.update(path.id, changes, expected_version=expected)
                await attach_files(row.id)
            replaced = [
                getattr(before, field) for field in file_fields
                if getattr(before, field) not in (None, changes[field])
            ]  # fmt: skip
            if replaced:
                await files_of(request).discard(resource.name, row.id, replaced)
            return resource._row_response(row)

        async def delete_row(request: Request, path: IdPath) -> None:
            service = resource.service_for(request)
            expected = await _expected_version(request, service, path.id)
            await service.delete(path.id, expected_version=expected)
            if resource.file_fields:
                await files_of(request).discard(resource.name, path.id)

        # Each handler's annotations name this resource's own models, so that the
        # routes validate and document them.
        list_rows.__annotations__.update({"query": ListQuery, "return": PageModel})
        export_rows.__annotations__["query"] = self.export_query
        create_row.__annotations__["body"] = CreateModel
        update_row.__annotations__["body"] = UpdateModel
        # "a blog post" for BlogPost: the model names one row, whatever the plural is.
        model = self.service.repository.model.__name__
        singular = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", model).lower()
        # "an" before a vowel sound; u mostly sounds like "you" (a user, a unit).
        one = f"an {singular}" if singular[:1] in ("a", "e", "i", "o") else f"a {singular}"
        reads, writes = self.roles, (*self.roles, *self.write_roles)
        limit = self.rate_limit_for
        controller.get(
            "", name=f"list_{self.name}", summary=f"List {self.name}", roles=reads,
            cache_ttl=self.cache_ttl, rate_limit=limit("list"),
        )(list_rows)  # fmt: skip
        # Before `/{id}`, which would take `export.csv` for an id.
        controller.get(
            "/export.csv", name=f"export_{self.name}",
            summary=f"Export {self.name} as CSV (the list's filters and sort)",
            roles=reads, cache_ttl=0, rate_limit=limit("list"), response=None,
        )(export_rows)  # fmt: skip
        controller.get(
            "/choices", name=f"choose_{self.name}",
            summary=f"Pick {self.name}: the id and {self.display} of rows one may refer to",
            roles=reads, cache_ttl=self.cache_ttl, rate_limit=limit("list"),
        )(choose_rows)  # fmt: skip
        add_file_routes(self, controller)
        controller.post(
            "", name=f"create_{self.name}", status_code=201, response=self.read_model,
            summary=f"Create {one}", roles=writes, rate_limit=limit("create"),
        )(create_row)  # fmt: skip
        controller.get(
            "/{id}", name=f"get_{self.name}", response=self.read_model,
            summary=f"Read {one}", roles=reads, cache_ttl=self.cache_ttl,
            rate_limit=limit("read"),
        )(read_row)  # fmt: skip
        controller.patch(
            "/{id}", name=f"update_{self.name}", response=self.read_model,
            summary=f"Change {one} (If-Match: its ETag, to refuse stale changes)",
            roles=writes, rate_limit=limit("update"),
        )(update_row)  # fmt: skip
        controller.delete(
            "/{id}", name=f"delete_{self.name}", summary=f"Delete {one}", roles=writes,
            rate_limit=limit("delete"),
        )(delete_row)  # fmt: skip
        return controller


def link_relations(resources: Sequence[Resource]) -> None:
    """Give each resource the relations its foreign keys make to the others' tables
    (foreign keys to a table no resource serves, such as the users', make none)."""
    by_table: dict[str, Resource] = {}
    for resource in resources:  # the first resource of a table serves its rows
        by_table.setdefault(resource.table_name, resource)
    for resource in resources:
        resource.relations = {
            relation_name(column): Relation(relation_name(column), column, by_table[table])
            for column, table in resource.references
            if table in by_table
        }
        for field, (link, table) in resource.links.items():
            if table.name in by_table:
                name = _link_name(link, resource, by_table[table.name], field)
                resource.relations[name] = Relation(name, field, by_table[table.name], link=link)


def _link_name(link: Table, resource: Resource, target: Resource, field: str) -> str:
    """The name of a many-to-many relation: the link table's without the row's own
    name (`note_tags`, whose `note_id` is the note's: `tags`), else the other
    resource's (`tags`), else the field's (`tag_ids`) when that is taken."""
    own = link_columns(link, resource.table_name)[0].name.removesuffix("_id") + "_"
    for name in (link.name.removeprefix(own) if link.name.startswith(own) else "", target.name):
        if name and name not in resource.relations:
            return name
    return field


def _check_owned(
    name: str, model: str, has_owner: bool, public: bool, update: type[BaseModel]
) -> None:
    if not has_owner:
        raise TypeError(
            f"resource {name!r} is owned, but {model} has no {OWNER_COLUMN!r} column: "
            f"add `{OWNER_COLUMN}: Mapped[int] = owner_column()`"
        )
    if public:
        raise TypeError(
            f"resource {name!r} is owned ({model} has an {OWNER_COLUMN!r} column) and cannot "
            "be public: an anonymous caller owns no rows. Drop public=True, or pass "
            "owned=False to share every row with everyone"
        )
    if OWNER_COLUMN in update.model_fields:
        raise TypeError(
            f"resource {name!r} is owned: its update model must not declare {OWNER_COLUMN!r}, "
            "or a PATCH could move a row into another user's list"
        )


READ_ONLY_FIELDS = frozenset({"id", "version", "created_at", "updated_at", "deleted_at"})
"""Columns the data layer maintains: a body that names one is refused (422)."""


class _BodyFields:
    """What a create or update body may name, worked out once per model: a field the
    model does not declare (a model that says `extra="allow"` lets the table's other
    `columns` through) or a read-only one is a 422, not silently dropped (a typo, a
    planted `owner_id`).

    `keep_owner`: on create, an owned resource sets `owner_id` itself, over the value of
    a create model that declares it.
    """

    def __init__(
        self, model: type[BaseModel], columns: Collection[str], *, keep_owner: bool
    ) -> None:
        declared = {field.alias or name for name, field in model.model_fields.items()}
        declared |= set(model.model_fields)
        self.model_name = model.__name__
        self.read_only = READ_ONLY_FIELDS | ({OWNER_COLUMN} - (declared if keep_owner else set()))
        allowed = (
            declared | set(columns) if model.model_config.get("extra") == "allow" else declared
        )
        self.allowed = frozenset(allowed - self.read_only)

    async def check(self, request: Request) -> None:
        data = json.loads(await request.body() or b"{}")
        if not isinstance(data, dict) or self.allowed.issuperset(data):
            return  # not an object (the model refused it already), or nothing to refuse
        errors: list[FieldError] = []
        for name in sorted(data):
            if name in self.read_only:
                kind, message = "read_only", "is set by the server and cannot be given"
            elif name not in self.allowed:
                kind, message = "unknown_field", f"is not a field of {self.model_name}"
            else:
                continue
            errors.append(field_error(name, message, kind=kind))
        raise ValidationProblem(errors)


def _if_match(request: Request) -> Literal["*"] | list[EntityTag] | None:
    """The `If-Match` condition: None without the header, `ANY` for `*`, else its tags.

    Raises:
        ProblemError: 400 for a value that is not `*` nor a list of entity tags.
    """
    value = request.headers.get("if-match")
    if value is None:
        return None
    condition = parse_entity_tags(value)
    if condition is None:
        raise ProblemError(400, 'If-Match must be "*" or entity tags, like "3".')
    return condition


async def _expected_version(request: Request, service: Service[Any], id: int) -> int | None:
    """The version the row must be at for the change to apply, None for any.

    `If-Match` compares strongly (RFC 9110, 13.1.1): weak tags, tags that are no
    version of this API (`"stale-version"`) and versions past `MAX_VERSION` name no
    current row, so they give `_NO_VERSION`, and the service answers 412 (or 404 for
    a row that does not exist: preconditions never turn a 404 into a 412, 13.2.1).
    With several candidate versions, the one the row is at now is expected (a read
    first); the update still checks it atomically.
    """
    condition = _if_match(request)
    if condition is None or condition == ANY:
        return None
    versions = {v for v in map(_version_of, condition) if v is not None}
    if len(versions) <= 1:
        return versions.pop() if versions else _NO_VERSION
    current = (await service.get(id)).version
    return current if current in versions else _NO_VERSION


def _version_of(tag: EntityTag) -> int | None:
    """The version a strong tag names (`"3"`: 3), None for any other tag. Only the
    form `etag_for` writes counts: `"03"` is another tag, and matches nothing."""
    if tag.weak or not tag.opaque.isascii() or not tag.opaque.isdigit():
        return None
    if len(tag.opaque) > len(str(MAX_VERSION)) or etag_for(int(tag.opaque)) != str(tag):
        return None
    version = int(tag.opaque)
    return version if 1 <= version <= MAX_VERSION else None


def _not_modified(request: Request, version: int) -> bool:
    """Whether `If-None-Match` matches the row at `version`, so that a GET answers 304."""
    return none_match(request.headers.get("if-none-match"), EntityTag(str(version)))


def _list_query_model(
    name: str,
    filterable: Mapping[str, Sequence[str]],
    sortable: Sequence[str],
    *,
    paged: bool = True,
    include: bool = False,
    search: bool = False,
) -> type[BaseModel]:
    """The list route's query: page, sort and a parameter per filterable field, each
    described with the operators it takes (`filterable`); without the page's
    parameters for the export (`paged=False`)."""
    fields: dict[str, Any] = {}
    if paged:
        fields["limit"] = (
            int, Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Page size.")
        )  # fmt: skip
        fields["cursor"] = (
            str | None, Field(None, description="next_cursor of the previous page.")
        )  # fmt: skip
    fields |= {
        "sort": (
            str | None,
            Field(
                None,
                description=f"Comma-separated fields, '-' for descending: {', '.join(sortable)}.",
            ),
        ),
    }
    if include:
        fields["include"] = (str | None, _INCLUDE)
    if search:
        fields["q"] = (
            str | None,
            Field(None, max_length=200, description="Words to search for: best matches first."),
        )
    for field, operators in filterable.items():
        if field in fields:
            continue
        others = ", ".join(f"__{operator}" for operator in operators if operator != "eq")
        fields[field] = (
            str | None,
            Field(None, description=f"Equal to this value; also {field}{others}."),
        )
    return create_model(
        f"{_camel(name)}{'List' if paged else 'Export'}Query",
        __config__=ConfigDict(extra="allow"),
        **fields,
    )


def _display_field(
    name: str, read: type[BaseModel], columns: Collection[str], display: str | None
) -> str:
    if display is not None:
        if display not in columns or display not in read.model_fields:
            raise TypeError(
                f"resource {name!r}: display={display!r} is not a column its read model shows"
            )
        return display
    for field, info in read.model_fields.items():
        if field in columns and field not in READ_ONLY_FIELDS and info.annotation in _TEXT:
            return field
    return "id"


_TEXT = (str, str | None)


def _is_row_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def _choice_ids(raw: str | None) -> list[int]:
    if not raw:
        return []
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        ids = [0]
    if len(ids) > MAX_PAGE_SIZE or not all(_is_row_id(id) for id in ids):
        raise query_problem("ids", f"give up to {MAX_PAGE_SIZE} row ids, separated by commas")
    return ids


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[_\-\s]+", name))
