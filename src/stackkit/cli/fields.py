"""Field specifications of `stackkit generate resource`: `name:type[:option]...`.

| type | column | API type |
|---|---|---|
| `str` | `String(200)` | `str`, at most 200 characters |
| `text` | `Text` | `str` |
| `int`, `float` | `Integer`, `Float` | `int`, `float` |
| `decimal` | `Numeric(12, 2)` | `Decimal` |
| `bool` | `Boolean` | `bool` |
| `date`, `datetime` | `Date`, `UTCDateTime` | `date`, an aware `datetime` |
| `uuid` | `Uuid` | `UUID` |
| `enum=a,b,c` | `String(50)` | `Literal["a", "b", "c"]` |
| `ref=Model` | `<name>_id`: `Integer`, foreign key to the model's table | `int` |
| `refs=Model` | `<singular>_ids`: a link table of its own (many-to-many) | `list[int]` |
| `file`, `file=SIZE` | `file_column(max_size=...)`: an uploaded file's id | `str` |
| `image`, `image=SIZE` | `file_column(image=True, ...)`: an image, with a thumbnail | `str` |

A file's `SIZE` is its largest size, like `5MB` or `500KB` (10 MB unless given); a
file or image field takes the option `optional` only.

Options: `unique` (unique among the rows of one owner: a composite constraint
with `owner_id`, so that no user learns from a 409 what another has),
`unique=global` (unique across every owner), `index`, `optional` (may be null,
may be left out), `default=VALUE`, and `search` (text searched by `?q=`).
`bool`, `enum`, `date`, `datetime` and `ref` fields are indexed without
`index`: lists are most often filtered and sorted by them. An indexed or unique
field is filterable and sortable in the API (`?done=false`, `?sort=due`).
"""

from __future__ import annotations

import datetime
import decimal
import json
import keyword
import math
import re
import uuid
from dataclasses import dataclass, field

import click
from pydantic import BaseModel

from stackkit.cli.naming import plural, singular
from stackkit.db.model import MAX_INT, MIN_INT

__all__ = [
    "DECIMAL_DIGITS",
    "DECIMAL_PLACES",
    "ENUM_LENGTH",
    "FIELD_TYPES",
    "FILE_TYPES",
    "INDEXED_TYPES",
    "FieldSpec",
    "parse_field",
    "parse_fields",
]

FIELD_TYPES = ("str", "text", "int", "float", "decimal", "bool", "date", "datetime", "uuid",
               "enum", "ref", "refs", "file", "image")  # fmt: skip
FILE_TYPES = frozenset({"file", "image"})
_SIZE = re.compile(r"^([0-9]{1,10})(B|KB|MB|GB)\Z", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3}
INDEXED_TYPES = frozenset({"bool", "enum", "date", "datetime", "ref"})
"""Types whose fields are indexed (so filterable and sortable) without the `index` option."""
_OPTIONS = ("unique", "index", "optional", "default", "search")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*\Z")
_MODEL = re.compile(r"^[A-Z][A-Za-z0-9]*\Z")
_ENUM_VALUE = re.compile(r"^[A-Za-z0-9_\-]+\Z")
DECIMAL_DIGITS, DECIMAL_PLACES = 12, 2
"""A `decimal` column's precision and scale: `Numeric(12, 2)`."""
ENUM_LENGTH = 50
"""An `enum` column's length: `String(50)`."""
# Names the generated classes use in their annotations and bodies: a field of that name
# would hide them (`date: Mapped[date]`).
_SHADOWING = frozenset({"str", "int", "float", "bool", "list", "date", "datetime",
                        "mapped_column", "owner_column", "file_column"})  # fmt: skip
_SHADOWING_SINCE = frozenset({"list", "file_column"})
"""Refused for new fields only: a resource recorded with one still replays (upgrade)."""
_MODEL_ATTRIBUTES = frozenset(name for name in dir(BaseModel) if not name.startswith("_"))
# Columns every row has (Model, owner scoping, soft deletes), and the list parameters.
RESERVED = frozenset(
    {"id", "created_at", "updated_at", "version", "owner_id", "deleted_at", "limit", "cursor",
     "sort", "q", "include", "metadata", "registry"}
)  # fmt: skip
_RESERVED_SINCE = frozenset({"q", "include"})
"""Refused for new fields only: a resource recorded with one still replays (upgrade)."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    """The attribute and column name (`category_id` for `category:ref=Category`)."""
    kind: str
    unique: bool = False
    """Unique among one owner's rows (with `unique_global`: among all rows)."""
    unique_global: bool = False
    index: bool = False
    """Indexed, and so filterable and sortable through the API."""
    optional: bool = False
    default: str | None = None
    """The default as Python source (`'draft'`, `3`, `True`), or None."""
    choices: tuple[str, ...] = field(default_factory=tuple)
    target: str | None = None
    """For `ref` and `refs`: the referenced model's class name."""
    link: str | None = None
    """For `refs`: the name as given (`tags`), which names the link table."""
    search: bool = False
    """Searched by the list's `?q=` (full-text, `Model.__search__`)."""
    max_size: int | None = None
    """For `file` and `image`: the largest file in bytes, when given."""

    @property
    def required(self) -> bool:
        return not self.optional and self.default is None


def parse_fields(specs: tuple[str, ...], *, strict: bool = True) -> list[FieldSpec]:
    """Raises `click.BadParameter` naming the first bad specification.

    `strict=False` (a resource recorded by an earlier stackkit, generated again by
    `stackkit upgrade`) leaves out the checks added since the first release of the
    field types: what generated then generates the same now."""
    fields = [parse_field(spec, strict=strict) for spec in specs]
    names = [spec.name for spec in fields]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise click.BadParameter(f"field {repeated[0]!r} is given twice", param_hint="FIELDS")
    # `?include=tag` puts the referenced row under the relation's name.
    relations = {_relation_name(spec): spec.name for spec in fields if spec.target and strict}
    for spec in fields:
        if spec.name in relations:
            raise click.BadParameter(
                f"field {spec.name!r} has the name under which {relations[spec.name]!r} gives "
                f"its referenced rows (?include={spec.name}); choose another",
                param_hint="FIELDS",
            )
    return fields


def _relation_name(spec: FieldSpec) -> str:
    """The name a reference's rows go by in the API: `tag` for `tag_id`, `tags` for a
    `refs` field's link."""
    return spec.link if spec.kind == "refs" and spec.link else spec.name.removesuffix("_id")


def parse_field(spec: str, *, strict: bool = True) -> FieldSpec:
    """One `name:type[:option]...`. Raises `click.BadParameter`."""
    parts = spec.split(":")
    if len(parts) < 2:
        raise _bad(spec, "write it as name:type, like title:str")
    name, kind, argument = parts[0], *_split_type(parts[1])
    if not _IDENTIFIER.match(name) or keyword.iskeyword(name):
        raise _bad(spec, "the name must be a lower-case identifier, like due_date")
    if "__" in name or name.endswith("_"):
        # `due__gte=...` filters `due`: a field `due__gte` could not be filtered on.
        raise _bad(spec, "a name has no '__' and does not end in '_' (they mark filters)")
    if kind not in FIELD_TYPES:
        raise _bad(spec, f"unknown type {kind!r}; one of {', '.join(FIELD_TYPES)}")
    choices: tuple[str, ...] = ()
    target = link = None
    max_size = None
    if kind == "enum":
        choices = tuple((argument or "").split(","))
        if not strict:  # empty values were dropped: `a,b,` was a and b
            choices = tuple(value for value in choices if value)
        if not argument or not all(
            _ENUM_VALUE.match(value) and (len(value) <= ENUM_LENGTH or not strict)
            for value in choices
        ):
            raise _bad(
                spec, "an enum lists its values, each 1 to 50 letters, digits, - or _: "
                "status:enum=draft,published"
            )  # fmt: skip
        repeated = sorted({value for value in choices if choices.count(value) > 1})
        if repeated:
            raise _bad(spec, f"the value {repeated[0]!r} is given twice")
    elif kind == "ref":
        if not argument or not _MODEL.match(argument):
            raise _bad(spec, "a reference names a model: author:ref=Author")
        target, name = argument, f"{name}_id"
    elif kind == "refs":
        if not argument or not _MODEL.match(argument):
            raise _bad(spec, "references name a model: tags:refs=Tag")
        if len(parts) > 2:
            raise _bad(spec, "a refs field takes no options: it lists ids, none or many")
        one = singular(name, alternates=strict)
        target, link, name = argument, plural(name, alternates=strict), f"{one}_ids"
    elif kind in FILE_TYPES:
        max_size = _file_size(spec, argument)
        if any(option != "optional" for option in parts[2:]):
            raise _bad(spec, f"a {kind} field takes the option optional only")
    elif argument is not None:
        raise _bad(spec, f"type {kind!r} takes no '='")
    if name in RESERVED - (set() if strict else _RESERVED_SINCE):
        raise _bad(spec, f"{name!r} is a column or parameter stackkit already has")
    shadowing = _SHADOWING - (set() if strict else _SHADOWING_SINCE)
    if name in shadowing or name in _MODEL_ATTRIBUTES or name.startswith("model_"):
        raise _bad(spec, f"{name!r} would hide a name the generated code uses; choose another")
    options: dict[str, object] = {}
    for option in parts[2:]:
        key, equals, value = option.partition("=")
        takes_value = key == "default" or (key == "unique" and bool(equals))
        if key not in _OPTIONS or takes_value != bool(equals):
            raise _bad(
                spec, f"unknown option {option!r}; one of unique, unique=global, index, "
                "optional, default=, search"
            )  # fmt: skip
        if key == "search" and kind not in ("str", "text"):
            raise _bad(spec, "search takes text: a str or text field")
        if key == "unique" and equals and value != "global":
            raise _bad(spec, f"unknown option {option!r}: unique is per owner, or unique=global")
        options[key] = (
            _default_source(spec, kind, value, choices, strict=strict) if key == "default" else True
        )
        if key == "unique" and equals:
            options["unique_global"] = True
    return FieldSpec(
        name=name,
        kind=kind,
        unique=bool(options.get("unique")),
        unique_global=bool(options.get("unique_global")),
        index=bool(options.get("index")) or kind in INDEXED_TYPES,
        optional=bool(options.get("optional")),
        search=bool(options.get("search")),
        default=options.get("default"),  # type: ignore[arg-type]
        choices=choices,
        target=target,
        link=link,
        max_size=max_size,
    )


def _file_size(spec: str, argument: str | None) -> int | None:
    if argument is None:
        return None
    found = _SIZE.match(argument)
    if not found or int(found.group(1)) == 0:
        raise _bad(spec, "a file's size is a number and a unit: photo:image=5MB")
    size = int(found.group(1)) * _UNITS[found.group(2).upper()]
    if size > 5 * _UNITS["GB"]:
        raise _bad(spec, "a file field takes at most 5GB")
    return size


def _split_type(token: str) -> tuple[str, str | None]:
    kind, equals, argument = token.partition("=")
    return kind, argument if equals else None


def _default_source(
    spec: str, kind: str, value: str, choices: tuple[str, ...], *, strict: bool = True
) -> str:
    """The default as Python source, checked against the type (and, `strict`, against
    the column)."""
    try:
        if kind in ("str", "text"):
            return json.dumps(value)  # a Python string literal in double quotes
        if kind == "enum":
            if value not in choices:
                raise ValueError(f"not one of {', '.join(choices)}")
            return json.dumps(value)
        if kind == "int":
            number = int(value)
            if strict and not MIN_INT <= number <= MAX_INT:
                raise ValueError(f"an int column holds {MIN_INT} to {MAX_INT}")
            return repr(number)
        if kind == "float":
            real = float(value)
            if strict and not math.isfinite(real):
                raise ValueError("give a finite number")
            return repr(real)
        if kind == "decimal":
            amount = _fitting_decimal(value) if strict else decimal.Decimal(value)
            return f"Decimal({str(amount)!r})"
        if kind == "bool":
            if value.lower() not in ("true", "false"):
                raise ValueError("use true or false")
            return repr(value.lower() == "true")
        if kind == "date":
            return f"date.fromisoformat({datetime.date.fromisoformat(value).isoformat()!r})"
        if kind == "uuid":
            return f"UUID({str(uuid.UUID(value))!r})"
    except (ValueError, decimal.InvalidOperation) as error:
        raise _bad(spec, f"default {value!r} does not fit {kind}: {error}") from None
    raise _bad(spec, f"a {kind} field takes no default")


def _fitting_decimal(value: str) -> decimal.Decimal:
    """`value` as a decimal its column (`Numeric(12, 2)`) holds as it is."""
    number = decimal.Decimal(value)
    whole_digits = DECIMAL_DIGITS - DECIMAL_PLACES
    if not number.is_finite() or abs(number) >= 10**whole_digits:
        raise ValueError(f"a decimal column holds up to {whole_digits} digits before the point")
    if number != number.quantize(decimal.Decimal(1).scaleb(-DECIMAL_PLACES)):
        raise ValueError(f"a decimal column keeps {DECIMAL_PLACES} places after the point")
    return number


def _bad(spec: str, reason: str) -> click.BadParameter:
    return click.BadParameter(f"{spec!r}: {reason}", param_hint="FIELDS")
