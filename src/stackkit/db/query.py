"""Filters and sorts named by field, checked against an allowlist before any SQL is built.

Filters are a mapping of `field` or `field__operator` to a value:

    {"status": "draft", "price__gte": 10, "tag__in": ["a", "b"], "title__contains": "pen"}

Sorts are field names, `-` for descending: `["-created_at", "title"]`.
A name that is not an allowed column, an unknown operator, or a value that does
not fit the column's type raises `ValidationProblem` (422); values always reach
the database as bound parameters.

A value must also fit the column's range on every database, so that no filter
reaches the driver with a value it refuses (a 500): integers within the column's
size (`Integer`: 32 bits, as on PostgreSQL, even on SQLite), finite floats and
decimals, datetimes that stay datetimes once moved to UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any

from pydantic import AfterValidator, TypeAdapter, ValidationError
from pydantic import Field as Constraint
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Integer,
    SmallInteger,
    and_,
    false,
    literal,
    or_,
    tuple_,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import TypeDecorator, TypeEngine

from stackkit.errors import FieldError, ValidationProblem, field_error

__all__ = [
    "OPERATORS",
    "Field",
    "SortKey",
    "build_filters",
    "keyset_after",
    "model_fields",
    "parse_sort",
    "query_problem",
]


@dataclass(frozen=True)
class Field:
    """A column that may be filtered or sorted on, with the adapter that types its values."""

    name: str
    column: InstrumentedAttribute[Any]
    adapter: TypeAdapter[Any]
    nullable: bool
    text: bool = False
    """Whether the column holds text, which `contains` needs."""
    ordered: bool = True
    """Whether `lt`, `lte`, `gt` and `gte` mean something (not for true/false)."""

    @cached_property
    def operators(self) -> tuple[str, ...]:
        """The operators this field takes: `contains` on text only, ordering not on
        true/false (worked out once: filters check it on every list request)."""
        return tuple(
            operator
            for operator in OPERATORS
            if (operator != "contains" or self.text) and (operator not in _ORDERING or self.ordered)
        )

    @cached_property
    def ordering(self) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
        """The column ascending and descending, NULLs last in both directions (the same
        on PostgreSQL and SQLite); built once, since every list request sorts."""
        ascending, descending = self.column.asc(), self.column.desc()
        if self.nullable:
            return ascending.nulls_last(), descending.nulls_last()
        return ascending, descending


_Builder = Callable[[InstrumentedAttribute[Any], Any], ColumnElement[bool]]

OPERATORS: dict[str, _Builder] = {
    "eq": lambda column, value: column.is_(None) if value is None else column == value,
    "ne": lambda column, value: column.is_not(None) if value is None else column != value,
    "lt": lambda column, value: column < value,
    "lte": lambda column, value: column <= value,
    "gt": lambda column, value: column > value,
    "gte": lambda column, value: column >= value,
    "in": lambda column, value: column.in_(value),
    # Case-insensitive on every database; % and _ in the value match themselves.
    "contains": lambda column, value: column.icontains(value, autoescape=True),
    "isnull": lambda column, value: column.is_(None) if value else column.is_not(None),
}
MAX_IN_VALUES = 100
_ORDERING = frozenset({"lt", "lte", "gt", "gte"})
_BOOL: TypeAdapter[bool] = TypeAdapter(bool)
_STR: TypeAdapter[str] = TypeAdapter(str)


def query_problem(field: str, message: str, kind: str = "out_of_range") -> ValidationProblem:
    """A 422 naming one query parameter: what a list refuses in its query string."""
    return ValidationProblem([_error(field, message, kind)])


def build_filters(
    filters: Mapping[str, Any], fields: Mapping[str, Field]
) -> list[ColumnElement[bool]]:
    """Turn `filters` into SQL conditions on allowed `fields`.

    Raises:
        ValidationProblem: every unknown field, unknown operator and ill-typed value.
    """
    conditions: list[ColumnElement[bool]] = []
    errors: list[FieldError] = []
    for key, raw in filters.items():
        name, _, operator = key.partition("__")
        operator = operator or "eq"
        field = fields.get(name)
        if field is None:
            errors.append(
                _error(
                    key,
                    _not_allowed(name, fields, action="filter on", setting="filterable"),
                    "unknown_field",
                )
            )
            continue
        if operator not in OPERATORS:
            known = ", ".join(OPERATORS)
            errors.append(
                _error(key, f"unknown operator {operator!r} (use {known})", "unknown_operator")
            )
            continue
        if operator not in field.operators:
            if operator == "contains":
                message = f"{name!r} is not text: `contains` works on text fields only"
            else:
                message = f"{name!r} is true or false: use {', '.join(field.operators)}"
            errors.append(_error(key, message, "unknown_operator"))
            continue
        try:
            value = _typed_value(field, operator, raw)
        except ValueError as error:
            errors.append(_error(key, str(error), "invalid_value"))
            continue
        conditions.append(OPERATORS[operator](field.column, value))
    if errors:
        raise ValidationProblem(errors)
    return conditions


def _not_allowed(name: str, fields: Mapping[str, Field], *, action: str, setting: str) -> str:
    # The same words for a column left out of `filterable` (`sortable`) and for no column
    # at all, so that the answer tells a client nothing about columns it cannot see.
    allowed = ", ".join(sorted(fields)) or "none"
    return (
        f"cannot {action} {name!r}; the {setting} fields are: {allowed}. A field becomes "
        f"{setting} when the resource's repository lists it in `{setting}`"
    )


def _error(field: str, message: str, kind: str) -> FieldError:
    return field_error(field, message, kind=kind, location="query")


def _typed_value(field: Field, operator: str, raw: Any) -> Any:
    if operator == "isnull":
        return _validate(_BOOL, raw)
    if operator == "contains":
        return _validate(_STR, raw)
    if operator == "in":
        values = [v for v in raw.split(",") if v] if isinstance(raw, str) else list(raw)
        if not values or len(values) > MAX_IN_VALUES:
            raise ValueError(f"give 1 to {MAX_IN_VALUES} values")
        return [_validate(field.adapter, value) for value in values]
    if raw is None:
        return None
    return _validate(field.adapter, raw)


def _validate(adapter: TypeAdapter[Any], raw: Any) -> Any:
    try:
        return adapter.validate_python(raw, strict=False)
    except ValidationError as error:
        raise ValueError(error.errors(include_url=False)[0]["msg"]) from None


@dataclass(frozen=True)
class SortKey:
    field: Field
    descending: bool

    @property
    def spec(self) -> str:
        return f"-{self.field.name}" if self.descending else self.field.name

    def order_by(self) -> ColumnElement[Any]:
        return self.field.ordering[self.descending]


def parse_sort(
    sort: str | Sequence[str] | None, fields: Mapping[str, Field], tie_breaker: Field
) -> list[SortKey]:
    """Parse `sort` ("-created_at,title" or a list) into keys ending with `tie_breaker`
    (the primary key), so that the order is total and keyset pagination is exact.

    Raises:
        ValidationProblem: a field that is not sortable, or named twice.
    """
    names = sort.split(",") if isinstance(sort, str) else list(sort or ())
    keys: list[SortKey] = []
    seen: set[str] = set()
    for raw in (name.strip() for name in names):
        if not raw:
            continue
        descending = raw.startswith("-")
        name = raw.removeprefix("-").removeprefix("+")
        field = fields.get(name)
        if field is None:
            message = _not_allowed(name, fields, action="sort by", setting="sortable")
            raise query_problem("sort", message, "unknown_field")
        if name in seen:
            raise query_problem("sort", f"{name!r} is named twice", "duplicate_field")
        seen.add(name)
        keys.append(SortKey(field, descending))
    if tie_breaker.name not in seen:
        last_descending = keys[-1].descending if keys else False
        keys.append(SortKey(tie_breaker, last_descending))
    return keys


def keyset_after(keys: Sequence[SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """The condition "comes after the row whose sort values are `values`" in `keys`' order.

    With one direction and no NULLs it is a row-value comparison, which an index
    on the sort columns serves directly; otherwise the expanded form
    `(a > x) OR (a = x AND b > y) OR ...`, with NULLs sorting last.
    """
    plain = all(not k.field.nullable for k in keys) and len({k.descending for k in keys}) == 1
    if plain:
        columns = tuple_(*(k.field.column for k in keys))
        row = tuple_(*values)
        return columns < row if keys[0].descending else columns > row
    alternatives: list[ColumnElement[bool]] = []
    equal_so_far: list[ColumnElement[bool]] = []
    for key, value in zip(keys, values, strict=True):
        alternatives.append(and_(*equal_so_far, _strictly_after(key, value)))
        equal_so_far.append(
            key.field.column.is_(None) if value is None else key.field.column == value
        )
    return or_(*alternatives)


def _strictly_after(key: SortKey, value: Any) -> ColumnElement[bool]:
    column = key.field.column
    if value is None:
        return false()  # NULLs sort last: nothing comes after them on this column
    # A bound value, not the constant: SQLAlchemy allows only = and != with True/False.
    bound = literal(value, type_=column.type)
    beyond = column < bound if key.descending else column > bound
    return or_(beyond, column.is_(None)) if key.field.nullable else beyond


def model_fields(model: type[Any], names: Iterable[str] | None = None) -> dict[str, Field]:
    """Fields for `model`'s columns (all of them, or those in `names`), each typed by its
    column's Python type.

    Raises:
        ValueError: a name in `names` is not a column of `model`.
    """
    mapper = sa_inspect(model)
    columns = {attribute.key: attribute.columns[0] for attribute in mapper.column_attrs}
    wanted = list(columns) if names is None else list(names)
    unknown = sorted(set(wanted) - set(columns))
    if unknown:
        raise ValueError(f"{model.__name__} has no columns {unknown}")
    fields = {}
    for name in wanted:
        column = columns[name]
        python_type = _python_type(column.type)
        adapter = _adapter_for(column.type, python_type)
        if adapter is not None:
            fields[name] = Field(
                name,
                getattr(model, name),
                adapter,
                bool(column.nullable),
                text=python_type is str,
                ordered=python_type is not bool,
            )
    return fields


def _python_type(type_: TypeEngine[Any]) -> type[Any] | None:
    try:
        return type_.python_type
    except NotImplementedError:
        return None


def _adapter_for(type_: TypeEngine[Any], python_type: type[Any] | None) -> TypeAdapter[Any] | None:
    """The adapter that types a filter value for a column of `type_` (whose Python type is
    `python_type`), with the column's range; None for a type no filter can compare on
    every database (JSON, arrays)."""
    if python_type is None or python_type in (object, dict, list):
        return None  # JSON (`object`), arrays: PostgreSQL's json has not even `=`
    sql_type = type_.impl_instance if isinstance(type_, TypeDecorator) else type_
    if python_type is datetime:
        return _UTC_DATETIME
    if python_type is int and isinstance(sql_type, Integer):
        bound = 2 ** (_integer_bits(sql_type) - 1)
        return TypeAdapter(Annotated[int, Constraint(ge=-bound, le=bound - 1)])
    if python_type is float and isinstance(sql_type, Float):
        return _FINITE_FLOAT
    if python_type is Decimal:
        return _DECIMAL
    return TypeAdapter(python_type)


def _integer_bits(type_: Integer) -> int:
    # An `Integer` is 32 bits on PostgreSQL; SQLite takes 64, but a filter that works in
    # development must not fail in production.
    if isinstance(type_, SmallInteger):
        return 16
    return 64 if isinstance(type_, BigInteger) else 32


def _assume_utc(value: datetime) -> datetime:
    """A filter value without a time zone (`2026-01-31` or `2026-01-31T12:00`) means UTC;
    one whose UTC time is past the calendar (`9999-12-31T23:59-14:00`) is refused."""
    if not value.tzinfo:
        return value.replace(tzinfo=UTC)
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range once in UTC") from None
    return value


def _check_decimal(value: Decimal) -> Decimal:
    # PostgreSQL's numeric refuses more than 131,072 digits before the point and 16,383
    # after it ("value overflows numeric format"); no column needs a tenth of that.
    if value.is_zero():
        return Decimal(0)
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or abs(value.adjusted()) > 1000 or exponent < -1000:
        raise ValueError("the number is out of range")
    return value


_UTC_DATETIME: TypeAdapter[datetime] = TypeAdapter(Annotated[datetime, AfterValidator(_assume_utc)])
_FINITE_FLOAT: TypeAdapter[float] = TypeAdapter(Annotated[float, Constraint(allow_inf_nan=False)])
_DECIMAL: TypeAdapter[Decimal] = TypeAdapter(
    Annotated[Decimal, Constraint(allow_inf_nan=False), AfterValidator(_check_decimal)]
)
