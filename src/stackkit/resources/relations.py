"""Relations between resources: a foreign key from one resource's table to another's.

`notes.category_id` referring to the `categories` table makes a relation named
`category` of the notes resource, once `create_app` links the app's resources
(`stackkit.resources.resource.link_relations`). A relation gives:

- `?include=category` on the list and read routes: each row carries the referenced
  row as the caller may see it (null when it is not theirs), loaded in one query
  per relation, whatever the page size;
- filters across it: `?category.name__contains=pen`, where `name` is filterable in
  the categories resource;
- `GET /api/meta/resources` naming it, so that the UI offers a picker fed by
  `GET /api/categories/choices` and lists a category's notes on its page.

A many-to-many link (`Repository.links`, `tag_ids` through `note_tags`) is a relation
too (`tags`): its rows are included as a list, and filters cross it the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Table, select
from starlette.requests import Request

from stackkit.db.query import query_problem
from stackkit.db.repository import link_columns
from stackkit.db.service import Service
from stackkit.errors import FieldError, ValidationProblem
from stackkit.http.routing import check_access

__all__ = ["MAX_INCLUDES", "Related", "Relation", "relation_name"]

MAX_INCLUDES = 10
"""The most relations one request may include."""


class Related(Protocol):
    """What a relation needs of the resource at either end (a `Resource`)."""

    name: str
    prefix: str
    display: str
    table_name: str
    public: bool
    roles: tuple[str, ...]
    relations: dict[str, Relation]
    service: type[Service[Any]]

    def scope_for(self, request: Request) -> list[ColumnElement[bool]]: ...

    def service_for(self, request: Request) -> Service[Any]: ...

    def dump(self, row: Any) -> Any: ...


@dataclass(frozen=True)
class Relation:
    name: str
    """How the API names it: `category` for the `category_id` column; for a
    many-to-many link, its table's name without the row's own (`tags` for
    `note_tags`)."""
    column: str
    """The column holding the id (`category_id`), or the link field (`tag_ids`)."""
    target: Related
    link: Table | None = None
    """The table of a many-to-many link, which holds the pairs of ids."""

    @property
    def many(self) -> bool:
        return self.link is not None

    def ids_of(self, row: Any) -> list[int]:
        """The ids of the rows `row` refers to through this relation."""
        value = getattr(row, self.column, None)
        if self.many:
            return list(value or ())
        return [] if value is None else [value]


def relation_name(column: str) -> str:
    """`category_id` -> `category`; a column without `_id` keeps its name."""
    return column.removesuffix("_id") if column.endswith("_id") and column != "_id" else column


def wanted_relations(resource: Related, request: Request, include: str | None) -> list[Relation]:
    """The relations `?include=` names, each one the caller may read.

    Raises:
        ValidationProblem: a name that is no relation of the resource, or too many.
        ProblemError: 401 or 403 for a relation whose resource the caller may not read.
    """
    names = list(dict.fromkeys(name.strip() for name in (include or "").split(",") if name.strip()))
    if len(names) > MAX_INCLUDES:
        raise query_problem("include", f"include at most {MAX_INCLUDES} relations")
    unknown = [name for name in names if name not in resource.relations]
    if unknown:
        known = ", ".join(sorted(resource.relations)) or "none"
        message = f"{unknown[0]!r} is not a relation of {resource.name}; the relations are: {known}"
        raise query_problem("include", message, "unknown_field")
    relations = [resource.relations[name] for name in names]
    for relation in relations:
        check_read_access(request, relation.target)
    return relations


def check_read_access(request: Request, target: Related) -> None:
    """Let the caller through to `target`'s rows as its own read routes would: anyone
    when it is public, else a signed-in user holding its roles.

    Raises:
        ProblemError: 401 or 403, as `check_access`.
    """
    if not target.public:
        check_access(request.scope, target.roles)


async def included_rows(
    request: Request, relations: Sequence[Relation], rows: Sequence[Any]
) -> dict[str, dict[int, Any]]:
    """For each relation, the referenced rows the caller may see, by id, as the target's
    read model dumps them: one query per relation."""
    loaded: dict[str, dict[int, Any]] = {}
    for relation in relations:
        ids = {id for row in rows for id in relation.ids_of(row)}
        target = relation.target
        found = await target.service_for(request).get_many(sorted(ids)) if ids else []
        loaded[relation.name] = {row.id: target.dump(row) for row in found}
    return loaded


def with_included(
    item: dict[str, Any], row: Any, relations: Iterable[Relation], loaded: Mapping[str, Any]
) -> dict[str, Any]:
    """The dumped `item` with each relation's row (None when not found or not visible),
    or a many-to-many link's rows (those visible)."""
    for relation in relations:
        found = loaded[relation.name]
        rows = [found[id] for id in relation.ids_of(row) if id in found]
        item[relation.name] = rows if relation.many else next(iter(rows), None)
    return item


def relation_filters(
    resource: Related, request: Request, filters: dict[str, Any]
) -> list[ColumnElement[bool]]:
    """Take the filters across relations (`category.name__contains`) out of `filters`,
    as conditions on this resource's columns: the referenced row must be one the caller
    may see in the target resource, and match the target's own filters.

    Raises:
        ValidationProblem: an unknown relation, or a filter the target refuses (its
            errors name the whole parameter, `category.name__contains`).
    """
    across: dict[str, dict[str, Any]] = {}
    for key in [key for key in filters if "." in key]:
        name, _, rest = key.partition(".")
        if name not in resource.relations:
            known = ", ".join(sorted(resource.relations)) or "none"
            message = f"{name!r} is not a relation of {resource.name}; the relations are: {known}"
            raise query_problem(key, message, "unknown_field")
        across.setdefault(name, {})[rest] = filters.pop(key)
    conditions: list[ColumnElement[bool]] = []
    for name, target_filters in across.items():
        relation = resource.relations[name]
        target = relation.target
        check_read_access(request, target)
        repository = target.service.repository
        try:
            ids = repository.matching_ids(target_filters, target.scope_for(request))
        except ValidationProblem as problem:
            errors: list[FieldError] = problem.extensions["errors"]
            for error in errors:
                error["field"] = f"{name}.{error['field']}"
            raise ValidationProblem(errors) from None
        table: Table = resource.service.repository.model.__table__
        if relation.link is None:
            conditions.append(table.c[relation.column].in_(ids))
        else:
            own, other = link_columns(relation.link, table.name)
            conditions.append(table.c.id.in_(select(own).where(other.in_(ids))))
    return conditions
