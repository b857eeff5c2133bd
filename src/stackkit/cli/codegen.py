"""The code `stackkit generate resource` writes into a project's layer modules.

Each function returns source text; `generate.py` places it. Imports a block needs
are returned apart, so that they can join the module's import lines. The text
comes from the templates of `stackkit/templates/resource/`, which a project may
override one by one (`Templates`); this module works out what varies with the
fields (types, constraints, lines wrapped at the project's line length).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
)
from jinja2.sandbox import SandboxedEnvironment

from stackkit.cli.fields import (
    DECIMAL_DIGITS,
    DECIMAL_PLACES,
    ENUM_LENGTH,
    FILE_TYPES,
    FieldSpec,
)
from stackkit.cli.naming import plural, singular
from stackkit.db.model import MAX_ID, MAX_INT, MIN_INT, table_name_for

__all__ = [
    "IMPORTED_NAMES",
    "MAX_LINE",
    "OVERRIDES",
    "Names",
    "Templates",
    "e2e_module",
    "layer_blocks",
    "link_tables",
    "model_block",
    "schema_block",
    "table_names",
    "test_module",
]

_COLUMN_TYPES = {
    "str": "String(200)", "text": "Text", "int": "Integer", "float": "Float",
    "decimal": f"Numeric({DECIMAL_DIGITS}, {DECIMAL_PLACES})", "bool": "Boolean", "date": "Date",
    "datetime": "UTCDateTime()", "uuid": "Uuid", "enum": f"String({ENUM_LENGTH})", "ref": "Integer",
}  # fmt: skip
_PYTHON_TYPES = {
    "str": "str", "text": "str", "int": "int", "float": "float", "decimal": "Decimal",
    "bool": "bool", "date": "date", "datetime": "datetime", "uuid": "UUID", "ref": "int",
    "refs": "list[int]", "file": "str", "image": "str",
}  # fmt: skip
_SQLALCHEMY_NAMES = {"str": "String", "text": "Text", "int": "Integer", "float": "Float",
                     "decimal": "Numeric", "bool": "Boolean", "date": "Date", "uuid": "Uuid",
                     "enum": "String", "ref": "Integer"}  # fmt: skip
_STANDARD_IMPORTS = {"decimal": ("decimal", "Decimal"), "date": ("datetime", "date"),
                     "datetime": ("datetime", "datetime"), "uuid": ("uuid", "UUID")}  # fmt: skip

IMPORTED_NAMES = frozenset(
    {*_SQLALCHEMY_NAMES.values(), "Column", "ForeignKey", "Table", "UniqueConstraint",
     "Model", "UTCDateTime", "file_column", "Field", "Literal", "AwareDatetime",
     *(name for _, name in _STANDARD_IMPORTS.values())}
)  # fmt: skip
"""Every name the generated layers may import: a model may not take one (a later
resource importing `Integer` would replace a model called Integer)."""

MAX_LINE = 100
"""The longest line the generated code has (the project's ruff `line-length`)."""

Imports = dict[str, set[str]]
"""module -> names, for `from module import names`."""

OVERRIDES = Path(".stackkit", "templates", "resource")
"""Where in a project its own versions of the resource templates go."""
TEMPLATE_NAMES = (
    "model.py.jinja", "schemas.py.jinja", "repository.py.jinja", "service.py.jinja",
    "controller.py.jinja", "test.py.jinja", "e2e.py.jinja",
)  # fmt: skip


class Templates:
    """The resource templates: a project's own (under `OVERRIDES` in `root`) where it
    has one, else stackkit's. Rendered sandboxed and strict, like `stackkit new`'s."""

    def __init__(self, root: Path | None = None) -> None:
        self.overrides = root / OVERRIDES if root is not None else None
        stock = PackageLoader("stackkit", "templates/resource")
        loader = stock if self.overrides is None else ChoiceLoader(
            [FileSystemLoader(self.overrides), stock]
        )  # fmt: skip
        self._environment = SandboxedEnvironment(
            loader=loader,
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._own = [] if self.overrides is None else [
            name for name in TEMPLATE_NAMES if (self.overrides / name).is_file()
        ]  # fmt: skip

    def overridden(self) -> list[str]:
        """The templates the project has its own version of."""
        return list(self._own)

    def render(self, name: str, **context: Any) -> str:
        """Raises `click.ClickException` when the project's own template does not render."""
        if name not in self._own:
            return self._environment.get_template(name).render(context)
        try:
            return self._environment.get_template(name).render(context)
        except (OSError, UnicodeDecodeError, TemplateError) as error:
            where = (OVERRIDES / name).as_posix()
            raise click.ClickException(f"{where} does not render: {error}") from None


DEFAULT_TEMPLATES = Templates()


@dataclass(frozen=True)
class Names:
    """How one resource is named in code, paths and tables."""

    model: str
    """`BlogPost`"""
    strict: bool = True
    """Named by the latest rules; else as generated before them (see `parse`)."""

    @classmethod
    def parse(cls, name: str, *, strict: bool = True) -> Names:
        """The names of resource `name`, given as one row or many: `blog_posts`,
        `BlogPost` and `blog-post` are all `BlogPost`. Not `strict`: as a resource
        generated before the latest naming rules was named (see `naming.plural`)."""
        parts = [part for part in re.split(r"[-_\s]+|(?<=[a-z0-9])(?=[A-Z])", name) if part]
        if parts:
            one = singular(parts[-1].lower(), alternates=strict)
            if one != parts[-1].lower():  # else as written: `APIKey` stays `APIKey`
                parts[-1] = one
        return cls("".join(part[:1].upper() + part[1:] for part in parts), strict)

    @property
    def plural(self) -> str:
        """`blog_posts`: the table, the path (`/api/blog_posts`) and the resource name."""
        return plural(self.singular, alternates=self.strict)

    @property
    def singular(self) -> str:
        """`blog_post`: one row, in function names of the tests."""
        return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", self.model).lower()

    @property
    def table_declared(self) -> bool:
        """Whether the model must name its table: `Model` would call it otherwise
        (`persons` for `Person`, where the resource is `people`)."""
        return self.plural != table_name_for(self.model)


def table_names(models_source: str) -> dict[str, str]:
    """The table of each model class a models module defines, by class name."""
    tables = {}
    for node in ast.parse(models_source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        tables[node.name] = table_name_for(node.name)
        for statement in node.body:
            if (
                isinstance(statement, ast.Assign)
                and any(
                    isinstance(t, ast.Name) and t.id == "__tablename__" for t in statement.targets
                )
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, str)
            ):
                tables[node.name] = statement.value.value
    return tables


def model_block(
    names: Names,
    fields: list[FieldSpec],
    tables: Mapping[str, str] | None = None,
    templates: Templates = DEFAULT_TEMPLATES,
) -> tuple[str, Imports]:
    """The model class; `tables` gives the table of each model a reference may name
    (default: `Model`'s name for it)."""
    tables = {**(tables or {}), names.model: names.plural}
    imports: Imports = {
        "sqlalchemy.orm": {"Mapped", "mapped_column"},
        "stackkit.db": {"owner_column"},
    }
    columns, links = [], []
    for spec in fields:
        if spec.kind == "refs":
            links.append(_link_table(names, spec, tables, imports))
            continue
        python = _python_type(spec, imports, for_model=True)
        annotation = f"{python} | None" if spec.optional else python
        if spec.kind in FILE_TYPES:
            columns.append(_file_line(spec, annotation, imports))
            continue
        arguments = [_COLUMN_TYPES[spec.kind]]
        if spec.kind == "datetime":
            imports.setdefault("stackkit.db", set()).add("UTCDateTime")
        else:
            imports.setdefault("sqlalchemy", set()).add(_SQLALCHEMY_NAMES[spec.kind])
        if spec.kind == "ref":
            on_delete = "SET NULL" if spec.optional else "CASCADE"
            target = spec.target or ""
            table = tables.get(target) or table_name_for(target)
            arguments.append(f'ForeignKey("{table}.id", ondelete="{on_delete}")')
            imports["sqlalchemy"].add("ForeignKey")
        if spec.unique and spec.unique_global:
            arguments.append("unique=True")
        if spec.index:
            arguments.append("index=True")
        if spec.default is not None:
            arguments.append(f"default={spec.default}")
        elif spec.optional:
            arguments.append("default=None")
        line = f"    {spec.name}: Mapped[{annotation}] = mapped_column({', '.join(arguments)})"
        if len(line) > MAX_LINE:
            wrapped = "".join(f"        {argument},\n" for argument in arguments)
            line = f"    {spec.name}: Mapped[{annotation}] = mapped_column(\n{wrapped}    )"
        columns.append(line)
    table_args = ""
    per_owner = [spec.name for spec in fields if spec.unique and not spec.unique_global]
    if per_owner:
        # Unique among one owner's rows: another user's 409 would tell what they have.
        imports.setdefault("sqlalchemy", set()).add("UniqueConstraint")
        constraints = [f'UniqueConstraint("{name}", "owner_id"),' for name in per_owner]
        table_args = f"    __table_args__ = ({' '.join(constraints)})"
        if len(table_args) > MAX_LINE:
            listed = "".join(f"        {constraint}\n" for constraint in constraints)
            table_args = f"    __table_args__ = (\n{listed}    )"
    text = templates.render(
        "model.py.jinja",
        model=names.model,
        plural=names.plural,
        table_declared=names.table_declared,
        table_args=table_args,
        search=_search_line(fields),
        columns=columns,
        links=links,
    )
    return text, imports


def _file_line(spec: FieldSpec, annotation: str, imports: Imports) -> str:
    """`photo: Mapped[str | None] = file_column(image=True, max_size=5_000_000)`."""
    imports.setdefault("stackkit.files", set()).add("file_column")
    arguments = ["image=True"] if spec.kind == "image" else []
    if spec.max_size is not None:
        arguments.append(f"max_size={spec.max_size:_}")
    if not spec.optional:
        arguments.append("nullable=False")
    return f"    {spec.name}: Mapped[{annotation}] = file_column({', '.join(arguments)})"


def _search_line(fields: list[FieldSpec]) -> str:
    """`__search__`, naming the fields `?q=` searches; empty when there are none."""
    searched = [f'"{spec.name}"' for spec in fields if spec.search]
    if not searched:
        return ""
    listed = ", ".join(searched) + ("," if len(searched) == 1 else "")
    line = f"    __search__ = ({listed})"
    if len(line) > MAX_LINE:
        listed = "".join(f"        {name},\n" for name in searched)
        line = f"    __search__ = (\n{listed}    )"
    return line


def link_tables(names: Names, fields: list[FieldSpec]) -> dict[str, str]:
    """The link table of each `refs` field, by field: `{"tag_ids": "note_tags"}`."""
    return {spec.name: f"{names.singular}_{spec.link}" for spec in fields if spec.kind == "refs"}


def _link_table(names: Names, spec: FieldSpec, tables: Mapping[str, str], imports: Imports) -> str:
    """The table of a `refs` field's links: a pair of ids each, deleted with either row."""
    variable = link_tables(names, [spec])[spec.name]
    target = spec.target or ""
    other = spec.name.removesuffix("_ids")
    imports.setdefault("sqlalchemy", set()).update({"Column", "ForeignKey", "Table"})
    imports.setdefault("stackkit.db", set()).add("Model")
    keys = [
        f'Column("{names.singular}_id", ForeignKey("{names.plural}.id", ondelete="CASCADE"), '
        "primary_key=True),",
        f'Column("{other}_id", ForeignKey("{tables.get(target) or table_name_for(target)}.id", '
        'ondelete="CASCADE"), primary_key=True, index=True),',
    ]
    lines = "".join(
        f"    {key}\n" if len(key) + 4 <= MAX_LINE else _wrapped_column(key) for key in keys
    )
    return (
        f'{variable} = Table(\n    "{variable}",\n    Model.metadata,\n{lines})\n'
        f'"""Which {spec.link} each {names.singular.replace("_", " ")} has: '
        f'its `{spec.name}`."""'
    )


def _wrapped_column(key: str) -> str:
    """`Column(a, b, c),` one argument a line, as ruff formats a long call."""
    inner = key.removeprefix("Column(").removesuffix("),")
    arguments = [part.strip() for part in re.split(r",\s(?![^()]*\))", inner)]
    listed = "".join(f"        {argument},\n" for argument in arguments)
    return f"    Column(\n{listed}    ),\n"


def schema_block(
    names: Names, fields: list[FieldSpec], templates: Templates = DEFAULT_TEMPLATES
) -> tuple[str, Imports]:
    imports: Imports = {"pydantic": {"BaseModel"}, "datetime": {"datetime"}}
    create, patch = [], []
    for spec in fields:
        if spec.kind == "refs":
            imports["pydantic"].add("Field")
            bound = "max_length=100"  # as many ids as the API takes (`MAX_LINKS`)
            create.append(f"    {spec.name}: list[int] = Field(default_factory=list, {bound})")
            patch.append(f"    {spec.name}: list[int] | None = Field(default=None, {bound})")
            continue
        python = _python_type(spec, imports, for_model=False)
        constraint = _constraint(spec)
        if spec.required:
            value = f" = Field({constraint})" if constraint else ""
        elif spec.default is not None:
            value = f" = Field(default={spec.default}{', ' + constraint if constraint else ''})"
        else:
            value = f" = Field(default=None{', ' + constraint if constraint else ''})"
        if constraint or value.startswith(" = Field"):
            imports["pydantic"].add("Field")
        annotation = f"{python} | None" if spec.optional else python
        create.append(f"    {spec.name}: {annotation}{value}")
        # Leaving a field out of a change keeps it; null is refused unless the column allows it.
        patch_value = f" = Field(default=None{', ' + constraint if constraint else ''})"
        imports["pydantic"].add("Field")
        patch.append(f"    {spec.name}: {annotation}{patch_value}")
    text = templates.render(
        "schemas.py.jinja",
        model=names.model,
        singular=names.singular,
        create=create,
        patch=patch,
    )
    return text, imports


def layer_blocks(
    names: Names,
    fields: list[FieldSpec],
    templates: Templates = DEFAULT_TEMPLATES,
    *,
    display: str | None = None,
) -> dict[str, tuple[str, Imports]]:
    """The repository, service and controller blocks, by module name."""
    listed = [f'"{s.name}"' for s in fields if s.unique or s.index]
    columns = ", ".join([*listed, '"created_at"'])
    columns += "," if not listed else ""  # a tuple of one
    lines = [f"    {attribute} = ({columns})" for attribute in ("filterable", "sortable")]
    if len(lines[0]) > MAX_LINE:  # one column a line, as ruff formats it
        columns = "".join(f"        {column},\n" for column in [*listed, '"created_at"'])
        lines = [f"    {attribute} = (\n{columns}    )" for attribute in ("filterable", "sortable")]
    links = link_tables(names, fields)
    if links:
        pairs = [f'"{field}": {table}' for field, table in links.items()]
        line = f"    links = {{{', '.join(pairs)}}}"
        if len(line) > MAX_LINE:
            listed_pairs = "".join(f"        {pair},\n" for pair in pairs)
            line = f"    links = {{\n{listed_pairs}    }}"
        lines.append(line)
    context = {"model": names.model, "plural": names.plural}
    repository = templates.render("repository.py.jinja", lines=lines, **context)
    service = templates.render("service.py.jinja", **context)
    controller = templates.render("controller.py.jinja", display=display, **context)
    return {
        "repositories": (repository, {"stackkit.db": {"Repository"}}),
        "services": (service, {"stackkit.db": {"Service"}}),
        "controllers": (controller, {}),
    }


def test_module(
    names: Names, fields: list[FieldSpec], package: str, *, templates: Templates
) -> str:
    """tests/test_<plural>.py: CRUD through the API, and rows staying their owner's."""
    values, helpers = [], []
    testing: set[str] = set()
    for spec in fields:
        if spec.kind == "refs":
            target = Names(spec.target or "", names.strict)
            helpers.append(f"from tests.test_{target.plural} import create_{target.singular}")
            source = f'[create_{target.singular}(client, headers)["id"]]'
            values.append(f'    body["{spec.name}"] = {source}')
            continue
        if spec.kind == "ref":
            if spec.target == names.model:
                continue  # optional: the first row has no other to point at
            if spec.target == "User":
                source = 'client.get("/api/auth/me", headers=headers).json()["id"]'
            else:
                target = Names(spec.target or "", names.strict)
                helpers.append(f"from tests.test_{target.plural} import create_{target.singular}")
                source = f'create_{target.singular}(client, headers)["id"]'
            values.append(f'    body["{spec.name}"] = {source}')
        elif spec.kind in FILE_TYPES:
            testing.add("upload_file")
            sample = ("SAMPLE_PNG", "picture.png") if spec.kind == "image" else (
                'b"Some text."', "notes.txt"
            )  # fmt: skip
            if spec.kind == "image":
                testing.add("SAMPLE_PNG")
            url = f"/api/{names.plural}/files/{spec.name}"
            arguments = f'client, "{url}", {sample[0]}, name="{sample[1]}", headers=headers'
            values.append(f'    body["{spec.name}"] = upload_file(\n        {arguments}\n    )')
        else:
            values.append(f'    body["{spec.name}"] = {_sample(spec)}')
    changes = next((s for s in fields if s.kind in ("str", "text")), None)
    change = f'{{"{changes.name}": f"changed {{next(_serial)}}"}}' if changes else "{}"
    standard = ["import itertools"]
    if any(spec.kind == "uuid" for spec in fields):
        standard.append("import uuid")
    first_party = sorted(set(helpers))
    third_party = f"from stackkit.testing import {', '.join(sorted(testing))}" if testing else ""
    file_field = next((spec for spec in fields if spec.kind in FILE_TYPES), None)
    reference = next(
        (s for s in fields if s.kind == "ref" and s.target not in ("User", names.model)), None
    )
    return templates.render(
        "test.py.jinja",
        reference=None
        if reference is None
        else {
            "field": reference.name,
            "relation": reference.name.removesuffix("_id"),
            "target": Names(reference.target or "", names.strict).singular,
            "target_plural": Names(reference.target or "", names.strict).plural,
        },
        plural=names.plural,
        singular=names.singular,
        standard="\n".join(standard),
        first_party="\n\n" + "\n".join(first_party) if first_party else "",
        values="\n".join(values) or "    pass",
        search=next((spec.name for spec in fields if spec.search), None),
        change=change,
        third_party=third_party,
        file_field=None if file_field is None else file_field.name,
    )


_BROWSER_VALUES = {
    "int": '"3"', "float": '"2.5"', "decimal": '"12.50"', "date": '"2026-01-02"',
    "datetime": '"2026-01-02T10:30"', "uuid": "str(uuid.uuid4())",
}  # fmt: skip


def e2e_module(names: Names, fields: list[FieldSpec], *, templates: Templates) -> str:
    """e2e/test_<plural>.py: the resource's pages in a browser, filling in each required
    field as its control takes it (a picker for a reference, whose row is made first)."""
    standard = {"import itertools", "import re"}
    before, fills, first_party = [], [], []
    testing: set[str] = set()
    conftest = ["Account", "sign_up"]
    for spec in fields:
        if not spec.required or spec.kind == "refs" or spec.target == names.model:
            continue
        label = _form_label(spec)
        field = f'page.get_by_label("{label}", exact=True)'
        if spec.kind == "ref" and spec.target == "User":
            conftest.append("user_id")
            fills.append(f"    {field}.fill(str(user_id(page, account)))")
        elif spec.kind == "ref":
            target = Names(spec.target or "", names.strict)
            first_party.append(f"from e2e.test_{target.plural} import create_{target.singular}")
            before.append(f"    create_{target.singular}(page, account)")
            fills.append(f'    page.get_by_role("combobox", name="{label}", exact=True).click()')
            options = f'page.get_by_role("listbox", name="{label}", exact=True)'
            fills.append(f'    {options}.get_by_role("option").first.click()')
        elif spec.kind in FILE_TYPES:
            if spec.kind == "image":
                testing.add("SAMPLE_PNG")
                name, upload = "picture.png", '"mimeType": "image/png", "buffer": SAMPLE_PNG'
            else:
                name, upload = "notes.txt", '"mimeType": "text/plain", "buffer": b"Some text."'
            upload = f'{{"name": "{name}", {upload}}}'
            fills.append(f"    {field}.set_input_files(\n        {upload}\n    )")
            fills.append(f'    expect(page.get_by_text("Attached: {name}.")).to_be_visible()')
        elif spec.kind == "enum":
            fills.append(f'    {field}.select_option("{spec.choices[0]}")')
        elif spec.kind == "bool":
            fills.append(f"    {field}.check()")
        else:
            if spec.kind == "uuid":
                standard.add("import uuid")
            value = _BROWSER_VALUES.get(spec.kind, f'f"{label} {{next(_serial)}}"')
            fills.append(f"    {field}.fill({value})")
    change = next(
        (_form_label(s) for s in fields if s.kind in ("str", "text") and s.required), None
    )
    return templates.render(
        "e2e.py.jinja",
        plural=names.plural,
        singular=names.singular,
        singular_words=names.singular.replace("_", " "),
        a_singular=_with_article(names.singular.replace("_", " ")),
        standard="\n".join(sorted(standard)),
        conftest_names=", ".join(sorted(set(conftest))),
        first_party="".join(f"\n{line}" for line in sorted(set(first_party))),
        third_party=f"from stackkit.testing import {', '.join(sorted(testing))}" if testing else "",
        before=before,
        fills=fills,
        change=change,
    )


def _with_article(words: str) -> str:
    """`a note`, `an exhibit` (u mostly sounds like "you": `a user`)."""
    return f"an {words}" if words[:1] in ("a", "e", "i", "o") else f"a {words}"


def _form_label(spec: FieldSpec) -> str:
    """The label the generated form gives a field: its JSON Schema title ("Due Date"),
    or for a reference the relation's name ("Blog post" for `blog_post_id`)."""
    if spec.kind == "ref" and spec.target != "User":
        words = spec.name.removesuffix("_id").replace("_", " ")
        return words[:1].upper() + words[1:]
    return spec.name.title().replace("_", " ")


def _python_type(spec: FieldSpec, imports: Imports, *, for_model: bool) -> str:
    if spec.kind == "enum":
        if for_model:
            return "str"
        imports.setdefault("typing", set()).add("Literal")
        return "Literal[" + ", ".join(f'"{value}"' for value in spec.choices) + "]"
    if spec.kind in _STANDARD_IMPORTS:
        module, name = _STANDARD_IMPORTS[spec.kind]
        imports.setdefault(module, set()).add(name)
    if spec.kind == "datetime" and not for_model:
        imports.setdefault("pydantic", set()).add("AwareDatetime")
        return "AwareDatetime"
    return _PYTHON_TYPES[spec.kind]


def _constraint(spec: FieldSpec) -> str:
    """The bounds of the column: a value past them is a 422, not a database error."""
    if spec.kind == "str":
        return "max_length=200"
    if spec.kind == "decimal":
        return f"max_digits={DECIMAL_DIGITS}, decimal_places={DECIMAL_PLACES}"
    if spec.kind == "int":  # Integer: 32 bits on PostgreSQL
        return f"ge={MIN_INT:_}, le={MAX_INT:_}"
    if spec.kind == "ref":  # the id of a row
        return f"ge=1, le={MAX_ID:_}"
    if spec.kind in FILE_TYPES:  # the id of an upload
        return "max_length=32"
    return ""


def _sample(spec: FieldSpec) -> str:
    return {
        "str": f'f"{spec.name} {{next(_serial)}}"',
        "text": '"Some text."',
        "int": "next(_serial)",
        "float": "1.5",
        "decimal": '"12.50"',
        "bool": "True",
        "date": '"2026-01-02"',
        "datetime": '"2026-01-02T03:04:05Z"',
        "uuid": "str(uuid.uuid4())",
        "enum": f'"{spec.choices[0] if spec.choices else ""}"',
    }[spec.kind]
