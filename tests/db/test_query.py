"""Filter values are checked against their column's type and range before any SQL: a
value the database would refuse is a 422, and a value at the edge of the range
reaches the database and works, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    REAL,
    BigInteger,
    Boolean,
    Date,
    Float,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from stackkit.db import Database
from stackkit.db.model import UTCDateTime
from stackkit.db.query import (
    MAX_IN_VALUES,
    Field,
    SortKey,
    build_filters,
    keyset_after,
    model_fields,
    query_problem,
)
from stackkit.http.problems import ValidationProblem


class _Base(DeclarativeBase):
    metadata = MetaData()  # apart from Model.metadata, which other tests create


class Level(TypeDecorator[int]):
    """An integer type of an app's own, stored as a SMALLINT."""

    impl = SmallInteger
    cache_ok = True

    @property
    def python_type(self) -> type[int]:
        return int


class Probe(_Base):
    """One column of each kind whose range a filter value can overflow."""

    __tablename__ = "query_probes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    small: Mapped[int] = mapped_column(SmallInteger, default=0)
    level: Mapped[int] = mapped_column(Level, default=0)
    number: Mapped[int] = mapped_column(Integer, default=0)
    big: Mapped[int] = mapped_column(BigInteger, default=0)
    ratio: Mapped[float] = mapped_column(Float, default=0.0)
    single: Mapped[float] = mapped_column(REAL, default=0.0)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    exact: Mapped[Decimal] = mapped_column(Numeric, default=Decimal(0))
    day: Mapped[date] = mapped_column(Date, default=date(2026, 1, 1))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=None, nullable=True)
    label: Mapped[str] = mapped_column(String(20), default="probe")
    flag: Mapped[bool | None] = mapped_column(Boolean, default=False, nullable=True)
    extra: Mapped[Any] = mapped_column(JSON, default=None, nullable=True)


def fields() -> dict[str, Field]:
    """Probe's fields, built in the test that reads them (mutation testing swaps a mutant
    in only while a test runs: fields built at import would hold the original code)."""
    return model_fields(Probe)


@pytest.fixture
async def probes(db: Database) -> AsyncIterator[Database]:
    async with db.engine.begin() as connection:
        await connection.run_sync(_Base.metadata.create_all)
    async with db.session() as session:
        session.add(Probe(id=1))
    yield db
    async with db.engine.begin() as connection:
        await connection.run_sync(_Base.metadata.drop_all)


OUT_OF_RANGE = {
    "small-above": {"small__gt": "32768"},
    "small-below": {"small": "-32769"},
    "int-above": {"number__gte": "2147483648"},
    "int-below": {"number__lt": "-2147483649"},
    "int-in-list": {"number__in": "1,2147483648"},
    "bigint-above": {"big__gte": "9223372036854775808"},
    "bigint-below": {"big": "-9223372036854775809"},
    "float-overflow": {"ratio__gt": "1e309"},
    "float-nan": {"ratio": "nan"},
    "float-infinity": {"single__lt": "inf"},
    "decimal-nan": {"amount": "NaN"},
    "decimal-infinity": {"amount__gt": "-Infinity"},
    "decimal-huge": {"exact__gt": "1e200000"},
    "decimal-tiny": {"exact__gt": "1e-20000"},
    "decorated-small-past-max": {"level__lt": "32768"},
    "date-year-10000": {"day__lt": "10000-01-01"},
    "date-year-0": {"day__gt": "0000-12-31"},
    "datetime-past-9999": {"at__gte": "9999-12-31T23:59:59-14:00"},
    "datetime-before-1": {"at__lt": "0001-01-01T00:00:00+14:00"},
    "contains-on-int": {"number__contains": "1"},
    "contains-on-date": {"day__contains": "2026"},
    "contains-on-decimal": {"amount__contains": "1"},
    "json-column": {"extra": "{}"},
    "bool-lt": {"flag__lt": "0"},
    "bool-gte": {"flag__gte": "true"},
}


@pytest.mark.parametrize("filters", OUT_OF_RANGE.values(), ids=OUT_OF_RANGE.keys())
def test_a_value_the_database_would_refuse_is_422(filters: dict[str, str]) -> None:
    with pytest.raises(ValidationProblem) as raised:
        build_filters(filters, fields())
    errors = raised.value.extensions["errors"]
    assert [e["field"] for e in errors] == list(filters)
    # A JSON column is not filterable at all; every other value is refused for itself.
    kinds = {"unknown_field"} if "extra" in filters else {"invalid_value", "unknown_operator"}
    assert {e["type"] for e in errors} <= kinds


AT_THE_EDGE = {
    "small-max": ({"small__lte": "32767"}, True),
    "small-min": ({"small__gte": "-32768"}, True),
    "int-max": ({"number__lte": "2147483647"}, True),
    "int-min": ({"number__gte": "-2147483648"}, True),
    "int-list": ({"number__in": "-2147483648,0,2147483647"}, True),
    "bigint-max": ({"big__lte": "9223372036854775807"}, True),
    "bigint-min": ({"big__gt": "-9223372036854775808"}, True),
    "float-max": ({"ratio__lt": "1.7976931348623157e308"}, True),
    "real-huge": ({"single__lt": "1e300"}, True),
    "decimal-wide": ({"amount__lt": "1e20"}, True),
    "decimal-fine": ({"exact__gt": "-1e-300"}, True),
    "decimal-zero-exponent": ({"exact": "0e-20000"}, True),
    "date-max": ({"day__lte": "9999-12-31"}, True),
    "date-min": ({"day__gt": "0001-01-01"}, True),
    "datetime-max": ({"at__lt": "9999-12-31T23:59:59Z"}, False),
    "datetime-max-east": ({"at__lt": "9999-12-31T23:59:59+14:00"}, False),
    "datetime-min-west": ({"at__gt": "0001-01-01T00:00:00-10:00"}, False),
    "datetime-null": ({"at__isnull": "true"}, True),
    "contains-on-text": ({"label__contains": "rob"}, True),
    "bool-eq": ({"flag": "false"}, True),
    "bool-ne": ({"flag__ne": "true"}, True),
    "bool-in": ({"flag__in": "true,false"}, True),
}


@pytest.mark.parametrize(("filters", "found"), AT_THE_EDGE.values(), ids=AT_THE_EDGE.keys())
async def test_a_value_at_the_edge_of_its_range_reaches_the_database(
    probes: Database, filters: dict[str, str], found: bool
) -> None:
    conditions = build_filters(filters, fields())
    async with probes.session(read_only=True) as session:
        rows = (await session.scalars(select(Probe.id).where(*conditions))).all()
    assert list(rows) == ([1] if found else [])


def test_columns_no_filter_can_compare_are_not_filterable() -> None:
    assert "extra" not in fields()
    assert fields()["label"].text
    assert not fields()["number"].text


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
async def test_keyset_pages_can_follow_a_true_or_false_column(
    probes: Database, descending: bool
) -> None:
    async with probes.session() as session:
        session.add_all([Probe(id=2, flag=True), Probe(id=3, flag=None)])
    keys = [SortKey(fields()["flag"], descending), SortKey(fields()["id"], descending)]
    after = keyset_after(keys, [False, 1] if not descending else [True, 2])
    async with probes.session(read_only=True) as session:
        rows = (await session.scalars(select(Probe.id).where(after))).all()
    assert sorted(rows) == ([2, 3] if not descending else [1, 3])


@pytest.mark.parametrize(
    ("raw", "allowed"),
    [
        (",".join(map(str, range(MAX_IN_VALUES))), True),
        (list(range(MAX_IN_VALUES)), True),
        ("1", True),
        (",".join(map(str, range(MAX_IN_VALUES + 1))), False),
        (list(range(MAX_IN_VALUES + 1)), False),
        (",".join(["1"] * 10_000), False),
        ("", False),
        (",,,", False),
    ],
    ids=["100-text", "100-list", "one", "101-text", "101-list", "10000", "empty", "commas"],
)
def test_in_takes_at_most_100_values(raw: str | list[int], allowed: bool) -> None:
    """A list too long to plan cheaply (or empty) is a 422 naming the filter."""
    assert MAX_IN_VALUES == 100
    if allowed:
        (condition,) = build_filters({"number__in": raw}, fields())
        assert condition is not None
        return
    with pytest.raises(ValidationProblem) as refused:
        build_filters({"number__in": raw}, fields())
    (error,) = refused.value.extensions["errors"]
    assert (error["field"], error["type"]) == ("number__in", "invalid_value")
    assert "1 to 100 values" in error["message"]


def _errors(
    filters: dict[str, str], of: dict[str, Field] | None = None
) -> list[tuple[str, str, str]]:
    with pytest.raises(ValidationProblem) as raised:
        build_filters(filters, fields() if of is None else of)
    return [(e["field"], e["type"], e["message"]) for e in raised.value.extensions["errors"]]


NOT_FILTERABLE = (
    "cannot filter on {!r}; the filterable fields are: {}. A field becomes filterable when "
    "the resource's repository lists it in `filterable`"
)

# What a client reads in the 422: the parameter, a stable `type` and a message.
PROBLEMS = {
    "decimal-past-1000-digits": (
        {"exact__gt": "1e1001"}, "invalid_value", "Value error, the number is out of range",
    ),
    "decimal-past-1000-places": (
        {"exact__gt": "1e-1001"}, "invalid_value", "Value error, the number is out of range",
    ),
    "decimal-1001st-place-after-the-point": (  # 1000 places from its first digit
        {"exact__gt": "1.5e-1000"}, "invalid_value", "Value error, the number is out of range",
    ),
    "datetime-past-9999-in-utc": (
        {"at__gte": "9999-12-31T23:59:59-14:00"}, "invalid_value",
        "Value error, the time is out of range once in UTC",
    ),
    "no-such-field": (
        {"nope": "1"}, "unknown_field",
        NOT_FILTERABLE.format("nope", ", ".join(sorted(fields()))),
    ),
    "contains-on-a-number": (
        {"number__contains": "1"}, "unknown_operator",
        "'number' is not text: `contains` works on text fields only",
    ),
    "unknown-operator": (
        {"number__like": "1"}, "unknown_operator",
        "unknown operator 'like' (use eq, ne, lt, lte, gt, gte, in, contains, isnull)",
    ),
    "ordering-on-true-or-false": (
        {"flag__gte": "true"}, "unknown_operator",
        "'flag' is true or false: use eq, ne, in, isnull",
    ),
}  # fmt: skip


def test_every_refusal_is_reported_at_once_in_the_order_given() -> None:
    filters = {
        "nope": "1", "number__like": "1", "number__contains": "1", "flag__gt": "1",
        "number": "x", "label": "fine", "at__gt": "never",
    }  # fmt: skip
    assert [(field, kind) for field, kind, _ in _errors(filters)] == [
        ("nope", "unknown_field"),
        ("number__like", "unknown_operator"),
        ("number__contains", "unknown_operator"),
        ("flag__gt", "unknown_operator"),
        ("number", "invalid_value"),
        ("at__gt", "invalid_value"),
    ]


def test_fields_of_columns_a_model_does_not_have_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"^Probe has no columns \['nope', 'zilch'\]$"):
        model_fields(Probe, ["label", "zilch", "nope"])


def test_each_field_takes_the_operators_its_type_allows() -> None:
    every = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "contains", "isnull")
    assert fields()["label"].operators == every
    assert fields()["number"].operators == tuple(o for o in every if o != "contains")
    assert fields()["flag"].operators == ("eq", "ne", "in", "isnull")


@pytest.mark.parametrize(("filters", "kind", "message"), PROBLEMS.values(), ids=PROBLEMS)
def test_each_refusal_names_its_parameter_type_and_reason(
    filters: dict[str, str], kind: str, message: str
) -> None:
    assert _errors(filters) == [(*filters, kind, message)]


@pytest.fixture
def local_zone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The process's local time zone set to `request.param`, then back."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


# POSIX's signs: Etc/GMT+12 is UTC-12.
@pytest.mark.parametrize("local_zone", ["Etc/GMT+12", "Etc/GMT-14"], indirect=True)
def test_the_range_of_a_filter_time_is_checked_in_utc_whatever_the_servers_zone(
    local_zone: str,
) -> None:
    """9999-12-31T23:59:59-01:00 is past the calendar in UTC, not at UTC-12: refused.
    9999-12-31T23:00Z is within it, not at UTC+14: taken."""
    assert time.timezone in (12 * 3600, -14 * 3600)  # the zone took hold
    assert _errors({"at__gte": "9999-12-31T23:59:59-01:00"}) == [
        ("at__gte", "invalid_value", "Value error, the time is out of range once in UTC")
    ]
    (condition,) = build_filters({"at__lt": "9999-12-31T23:00:00Z"}, fields())
    assert condition.right.value == datetime(9999, 12, 31, 23, tzinfo=UTC)


def test_with_no_filterable_fields_the_refusal_says_none() -> None:
    assert _errors({"x": "1"}, {}) == [("x", "unknown_field", NOT_FILTERABLE.format("x", "none"))]


@pytest.mark.parametrize("value", ["1e1000", "-1e1000", "1e-1000", "9.5e999"])
def test_decimals_of_up_to_1000_digits_either_side_are_taken(value: str) -> None:
    assert build_filters({"exact__gt": value}, fields())


@pytest.mark.parametrize("value", ["2026-01-31T12:00", "2026-01-31T12:00:00"])
def test_a_filter_time_without_a_zone_means_utc(value: str) -> None:
    [condition] = build_filters({"at__gt": value}, fields())
    bound = condition.right.value  # type: ignore[attr-defined]
    assert (bound, bound.tzinfo) == (datetime(2026, 1, 31, 12, tzinfo=UTC), UTC)


@pytest.mark.parametrize(
    ("name", "descending", "sql"),
    [
        ("label", False, "query_probes.label ASC"),
        ("label", True, "query_probes.label DESC"),
        ("flag", False, "query_probes.flag ASC NULLS LAST"),
        ("flag", True, "query_probes.flag DESC NULLS LAST"),
    ],
)
def test_only_a_nullable_column_is_ordered_nulls_last(
    name: str, descending: bool, sql: str
) -> None:
    """NULLS LAST on a column without NULLs would change nothing but keep PostgreSQL
    from reading a plain index backwards for a descending sort."""
    assert str(SortKey(fields()[name], descending).order_by().compile()) == sql


@pytest.mark.parametrize("descending", [False, True])
def test_one_direction_without_nulls_is_one_row_value_comparison(descending: bool) -> None:
    """The form an index on (label, id) serves directly; any other sort is expanded."""
    keys = [SortKey(fields()["label"], descending), SortKey(fields()["id"], descending)]
    sql = str(keyset_after(keys, ["probe", 1]).compile())
    operator = "<" if descending else ">"
    assert sql == f"(query_probes.label, query_probes.id) {operator} (:param_1, :param_2)"
    mixed = [SortKey(fields()["label"], descending), SortKey(fields()["id"], not descending)]
    nullable = [SortKey(fields()["flag"], descending), SortKey(fields()["id"], descending)]
    for expanded in (mixed, nullable):
        assert " OR " in str(keyset_after(expanded, ["probe", 1]).compile())


def test_a_query_problem_is_out_of_range_unless_said() -> None:
    problem = query_problem("offset", "must be 0 or more")
    assert problem.extensions["errors"] == [
        {"in": "query", "field": "offset", "message": "must be 0 or more", "type": "out_of_range"}
    ]
