"""`stackkit generate resource`: field specifications, imports, and what it refuses.

The whole run (code, migration, the project's tests passing) is in
test_generated_project.py, in processes of their own.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path, PurePosixPath

import click
import pytest
from click.testing import CliRunner
from pydantic import BaseModel, ValidationError

from stackkit.cli import cli
from stackkit.cli.codegen import (
    OVERRIDES,
    Names,
    Templates,
    layer_blocks,
    model_block,
    schema_block,
    table_names,
)
from stackkit.cli.fields import parse_field, parse_fields
from stackkit.cli.generate import (
    GENERATED_NAMES,
    add_imports,
    replay_resource,
    resource_files,
    sort_imports,
)
from stackkit.cli.naming import plural, singular
from stackkit.cli.new import create_project
from stackkit.cli.record import ResourceRecord


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "shop"
    create_project(root, "shop")
    monkeypatch.chdir(root)
    return root


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("title:str", {"name": "title", "kind": "str", "default": None, "optional": False}),
        ("body:text:optional", {"kind": "text", "optional": True}),
        ("count:int:default=3", {"kind": "int", "default": "3"}),
        ("done:bool:default=FALSE", {"default": "False"}),
        ("price:decimal:default=9.90", {"default": "Decimal('9.90')"}),
        ("due:date:default=2026-01-02", {"default": "date.fromisoformat('2026-01-02')"}),
        ("status:enum=a,b:default=b", {"choices": ("a", "b"), "default": '"b"'}),
        ("author:ref=Person:optional", {"name": "author_id", "target": "Person"}),
        ("tags:refs=Tag", {"name": "tag_ids", "kind": "refs", "target": "Tag", "link": "tags"}),
        ("tag:refs=Tag", {"name": "tag_ids", "link": "tags"}),
        ("code:uuid:unique:index", {"unique": True, "unique_global": False, "index": True}),
        ("slug:str:unique=global", {"unique": True, "unique_global": True}),
        ('label:str:default=say "hi"', {"default": '"say \\"hi\\""'}),
        ("photo:image", {"name": "photo", "kind": "image", "max_size": None, "optional": False}),
        ("photo:image=5MB:optional", {"max_size": 5_000_000, "optional": True}),
        ("leaflet:file=500kb", {"kind": "file", "max_size": 500_000}),
    ],
    ids=["str", "optional", "int-default", "bool-default", "decimal", "date", "enum", "ref",
         "refs", "refs-singular", "options", "unique-global", "quoted-default", "image",
         "image-size", "file-size"],
)  # fmt: skip
def test_field_specifications(spec: str, expected: dict[str, object]) -> None:
    parsed = parse_field(spec)
    for key, value in expected.items():
        assert getattr(parsed, key) == value


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("title", "name:type"),
        ("title:string", "unknown type 'string'"),
        ("Title:str", "lower-case identifier"),
        ("class:str", "lower-case identifier"),
        ("id:int", "already has"),
        ("owner:ref=User", "already has"),
        ("status:enum", "lists its values"),
        ("author:ref=person", "names a model"),
        ("tags:refs=Tag:optional", "takes no options"),
        ("tags:refs", "references name a model"),
        ("count:int:default=many", "does not fit int"),
        ("status:enum=a,b:default=c", "not one of a, b"),
        ("done:bool:default=yes", "true or false"),
        ("title:str:primary", "unknown option"),
        ("title:str:unique=owner", "unique is per owner, or unique=global"),
        ("title:str:index=yes", "unknown option"),
        ("at:datetime:default=now", "takes no default"),
        ("title:str=5", "takes no '='"),
        ("date:date", "would hide"),
        ("json:str", "would hide"),
        ("model_config:str", "would hide"),
        ("status:enum=draft,live,draft", "'draft' is given twice"),
        ("due__at:date", "has no '__'"),
        ("due_:date", "does not end in '_'"),
        ("author_:ref=Person", "does not end in '_'"),
        ("photo:image=5", "a number and a unit"),
        ("photo:image=0MB", "a number and a unit"),
        ("photo:image=" + "9" * 5000 + "MB", "a number and a unit"),
        ("photo:image=6GB", "at most 5GB"),
        ("photo:image:unique", "optional only"),
        ("photo:file:search", "optional only"),
        ("photo:file:default=x", "optional only"),
        ("q:str", "a column or parameter stackkit already has"),
        ("include:str", "a column or parameter stackkit already has"),
        ("list:str", "would hide"),
        ("file_column:str", "would hide"),
        ("status:enum=a,,b", "each 1 to 50"),
        ("status:enum=a," + "x" * 51, "each 1 to 50"),
        ("count:int:default=2147483648", "an int column holds"),
        ("count:int:default=-2147483649", "an int column holds"),
        ("ratio:float:default=inf", "a finite number"),
        ("ratio:float:default=nan", "a finite number"),
        ("price:decimal:default=1e20", "10 digits before the point"),
        ("price:decimal:default=NaN", "10 digits before the point"),
        ("price:decimal:default=1.234", "keeps 2 places"),
    ],
)
def test_bad_field_specifications(spec: str, reason: str) -> None:
    with pytest.raises(click.BadParameter, match=reason):
        parse_field(spec)


def test_add_imports_extends_a_one_line_import_and_adds_new_ones() -> None:
    source = (
        '"""Doc."""\n\nfrom __future__ import annotations\n\n'
        "from stackkit.db import Model\n\nX = 1\n"
    )
    result = add_imports(source, {"stackkit.db": {"owner_column"}, "sqlalchemy": {"String"}})
    assert "from stackkit.db import Model, owner_column\n" in result
    assert "from sqlalchemy import String\n" in result
    assert result.index("from sqlalchemy") < result.index("X = 1")
    assert add_imports(result, {"stackkit.db": {"Model"}}) == result  # nothing twice
    compile(result, "models.py", "exec")


def test_add_imports_wraps_long_lines() -> None:
    names = {f"a_rather_long_name_{n}" for n in range(8)}
    result = add_imports("from __future__ import annotations\n", {"module": names})
    assert "from module import (\n" in result
    assert all(len(line) <= 100 for line in result.splitlines())
    compile(result, "m.py", "exec")


def test_add_imports_sorts_as_isort_and_keeps_the_users_comments() -> None:
    """Sections in isort's order, the project's package last; a comment stays on its
    import; the result is what ruff's own import check accepts as it is."""
    source = (
        "from __future__ import annotations\n\n"
        "from shop.models import Task  # the table\n"
        "import json\n"
        "from stackkit import Controller\n\n"
        "X = 1\n"
    )
    result = add_imports(
        source, {"decimal": {"Decimal"}, "pydantic": {"BaseModel"}}, first_party="shop"
    )
    assert result == (
        "from __future__ import annotations\n\n"
        "import json\n"
        "from decimal import Decimal\n\n"
        "from pydantic import BaseModel\n"
        "from stackkit import Controller\n\n"
        "from shop.models import Task  # the table\n\n"
        "X = 1\n"
    )
    assert sort_imports(result, first_party="shop") == result


def test_add_imports_leaves_the_rest_of_the_module_as_it_was() -> None:
    """Only the leading block is sorted: imports in a function, and their order, stay."""
    body = "\n\ndef late() -> None:\n    import sys, os\n    from shop import b, a\n"
    source = "from __future__ import annotations\n\nimport json\n" + body
    result = add_imports(source, {"decimal": {"Decimal"}}, first_party="shop")
    assert result == (
        "from __future__ import annotations\n\nimport json\nfrom decimal import Decimal\n" + body
    )


def test_a_ruff_that_cannot_run_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def unrunnable(*arguments: object, **options: object) -> None:
        raise subprocess.TimeoutExpired("ruff", 60)

    monkeypatch.setattr(subprocess, "run", unrunnable)
    with pytest.raises(click.ClickException, match=r"^cannot sort the imports with ruff: "):
        sort_imports("import os\n")


def test_add_imports_refuses_a_module_that_is_not_python_in_one_line() -> None:
    with pytest.raises(click.ClickException, match=r"^line 2: invalid syntax; fix it first$"):
        add_imports("import os\ndef (:\n", {"os": {"path"}})


def test_generate_refuses_bad_input_in_one_line(project: Path) -> None:
    runner = CliRunner()
    cases = [
        (["generate", "resource", "Task", "title:strng"], "unknown type 'strng'"),
        (["generate", "resource", "User", "name:str"], "clashes with the built-in User"),
        (["generate", "resource", "users", "name:str"], "clashes with the built-in User"),
        (["generate", "resource", "Task"], "needs at least one field"),
        (["generate", "resource", "Task", "s:enum=a,b,a"], "value 'a' is given twice"),
        (["generate", "resource", "Task", "due__gte:date"], "has no '__'"),
        (["generate", "resource", "Task", "who:ref=Person"], "no model Person"),
        (["generate", "resource", "Task", "a:int", "a:str"], "given twice"),
        (["generate", "resource", "Service", "name:str"], "would take the name 'Service'"),
        (["generate", "resource", "Resource", "name:str"], "would take the name"),
        (["generate", "resource", "Node", "up:ref=Node"], "must be optional"),
        (["generate", "resource", "Node", "near:refs=Node"], "not Node"),
        (["generate", "resource", "Node", "friends:refs=User"], "not User"),
        (["generate", "resource", "Task", "a:int", "--display", "b"], "'b' is not a field"),
        (["generate", "resource", "Task", "a:ref=User", "--display", "a_id"], "one of none"),
        (["generate", "resource", "Task", "p:image", "t:str", "--display", "p"], "one of t"),
        (["generate", "resource", "None", "name:str"], "'None' is a Python keyword"),
        (["generate", "resource", "True", "name:str"], "'True' is a Python keyword"),
        (["generate", "resource", "StackkitFile", "name:str"], "named like stackkit's own"),
        (["generate", "resource", "Integer", "name:str"], "would take the name 'Integer'"),
        (["generate", "resource", "Numeric", "name:str"], "would take the name 'Numeric'"),
        (["generate", "resource", "Task", "tag:ref=User", "tag:str"], "under which 'tag_id'"),
        (["generate", "resource", "Task", "tags:refs=Tag", "tags:str"], "under which 'tag_ids'"),
    ]
    for arguments, reason in cases:
        result = runner.invoke(cli, arguments)
        assert result.exit_code != 0, arguments
        assert reason in result.output, result.output
        assert "Traceback" not in result.output
    models = (project / "shop" / "models.py").read_text()
    assert "class Task" not in models  # nothing was written


def test_the_reserved_names_cover_every_name_the_generated_code_imports(project: Path) -> None:
    """A model may take no name that a resource generated later imports: the imports of
    what a resource with every field type writes."""
    every_type = (
        "s:str", "t:text", "i:int", "f:float", "d:decimal", "b:bool", "day:date",
        "at:datetime", "u:uuid", "e:enum=a,b", "r:ref=User", "k:refs=Tag", "p:image",
        "l:file", "n:str:unique", "w:str:search",
    )  # fmt: skip
    layers = ("models", "schemas", "repositories", "services", "controllers")
    sources = {layer: (project / "shop" / f"{layer}.py").read_text() for layer in layers}
    written = resource_files(
        "shop", sources, Names.parse("Task"), parse_fields(every_type), Templates(project)
    )
    before = set().union(*(imported_names(text) for text in sources.values()))
    after = set().union(*(imported_names(written[PurePosixPath("shop", f"{layer}.py")])
                          for layer in layers))  # fmt: skip
    added = {name for name in after - before if name[0].isupper()}  # a model's kind of name
    assert "Integer" in added
    assert added - GENERATED_NAMES == set()


def imported_names(source: str) -> set[str]:
    """The names a module imports from other packages than the project's."""
    return {
        alias.asname or alias.name
        for node in ast.parse(source).body
        if isinstance(node, ast.ImportFrom) and not (node.module or "").startswith("shop")
        for alias in node.names
    }


RECORDED_BEFORE = (
    ("status:enum=a,b,",), ("price:decimal:default=1.234",), ("n:int:default=99999999999",),
    ("q:str",), ("list:str",), ("tag:str", "tag:ref=User"),
)  # fmt: skip
"""Fields an earlier stackkit generated, which a new resource may no longer have."""


@pytest.mark.parametrize("specs", RECORDED_BEFORE)
def test_a_field_refused_now_is_one_that_generated_before(specs: tuple[str, ...]) -> None:
    with pytest.raises(click.BadParameter):
        parse_fields(specs)


def test_upgrade_generates_a_recorded_resource_as_it_was_generated(project: Path) -> None:
    fields = [spec for specs in RECORDED_BEFORE for spec in specs]
    replay_resource(project, "shop", ResourceRecord("Task", fields), Templates(project))
    assert (
        "price: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal('1.234'))"
        in (project / "shop" / "models.py").read_text()
    )
    schemas = (project / "shop" / "schemas.py").read_text()
    assert 'status: Literal["a", "b"]' in schemas
    assert "q: str" in schemas


def test_generate_never_writes_over_a_test_of_the_users_own(project: Path) -> None:
    mine = project / "e2e" / "test_tasks.py"
    mine.write_text("def test_mine() -> None:\n    pass\n")
    result = CliRunner().invoke(cli, ["generate", "resource", "Task", "title:str"])
    assert result.exit_code == 1
    assert "e2e/test_tasks.py already exists" in result.output
    assert mine.read_text() == "def test_mine() -> None:\n    pass\n"
    assert "class Task" not in (project / "shop" / "models.py").read_text()


def test_generate_refuses_a_model_that_exists(project: Path) -> None:
    models = project / "shop" / "models.py"
    models.write_text(models.read_text() + "\n\nclass Task(Model):\n    pass\n")
    result = CliRunner().invoke(cli, ["generate", "resource", "Task", "title:str"])
    assert result.exit_code == 1
    assert "already has a model Task" in result.output


def test_generate_outside_a_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["generate", "resource", "Task", "title:str"])
    assert result.exit_code == 1
    assert "not inside a stackkit project" in result.output


def test_generated_schemas_bound_numbers_like_their_columns() -> None:
    # Past an Integer column's 32 bits, PostgreSQL refuses the value: a 422 is the answer.
    fields = [parse_field("count:int"), parse_field("author:ref=Person:optional")]
    schemas, _ = schema_block(Names.parse("Book"), fields)
    namespace: dict[str, object] = {}
    exec(  # the generated code, as the project would import it
        "from pydantic import BaseModel, Field\nfrom datetime import datetime\n" + schemas,
        namespace,
    )
    book_in = namespace["BookIn"]
    assert isinstance(book_in, type)
    assert issubclass(book_in, BaseModel)
    book_in.model_validate({"count": -(2**31), "author_id": 2**31 - 1})
    for bad in ({"count": 2**31, "author_id": 1}, {"count": 1, "author_id": 0}):
        with pytest.raises(ValidationError):
            book_in.model_validate(bad)


@pytest.mark.parametrize(
    ("given", "model", "plural"),
    [
        ("items", "Item", "items"),
        ("Item", "Item", "items"),
        ("categories", "Category", "categories"),
        ("Category", "Category", "categories"),
        ("blog_posts", "BlogPost", "blog_posts"),
        ("BlogPost", "BlogPost", "blog_posts"),
        ("person", "Person", "people"),
        ("people", "Person", "people"),
        ("persons", "Person", "people"),
        ("Persons", "Person", "people"),
        ("Status", "Status", "statuses"),
        ("Bus", "Bus", "buses"),
        ("Campus", "Campus", "campuses"),
        ("Analysis", "Analysis", "analyses"),
        ("Todo", "Todo", "todos"),
        ("Box", "Box", "boxes"),
    ],
)
def test_resource_names_take_plurals_from_inflect(given: str, model: str, plural: str) -> None:
    names = Names.parse(given)
    assert (names.model, names.plural) == (model, plural)


NOUNS = [
    "item",
    "category",
    "person",
    "people",
    "persons",
    "status",
    "statuses",
    "bus",
    "buses",
    "campus",
    "analysis",
    "analyses",
    "todo",
    "box",
    "boxes",
    "child",
    "children",
    "mouse",
    "mice",
    "datum",
    "data",
    "index",
    "indexes",
    "indices",
    "formula",
    "formulas",
    "axis",
    "axes",
    "news",
    "series",
    "species",
    "fish",
    "sheep",
    "ox",
    "oxen",
    "boss",
    "glass",
    "cactus",
    "cacti",
    "octopus",
    "leaf",
    "leaves",
    "wife",
    "knife",
    "photo",
    "hero",
    "quiz",
    "address",
]


@pytest.mark.parametrize(
    ("given", "model", "many", "link"),
    [
        ("Persons", "Persons", "personss", "persons_ids"),
        ("Category", "Category", "categories", "category_ids"),
    ],
)
def test_a_resource_generated_before_a_naming_rule_replays_with_its_names(
    given: str, model: str, many: str, link: str
) -> None:
    """`stackkit upgrade` writes again what generating a resource wrote then: a project
    whose `Persons` made the table `personss` keeps it (a new `Persons` is `Person`)."""
    names = Names.parse(given, strict=False)
    assert (names.model, names.plural) == (model, many)
    field = parse_field(f"{given.lower()}:refs=Tag", strict=False)
    assert field.name == link


@pytest.mark.parametrize("noun", NOUNS)
def test_a_plural_is_kept_and_a_singular_too(noun: str) -> None:
    """`plural` of a plural, or `singular` of a singular, is the word itself: a name given
    either way makes the same resource (`persons` was once `/api/personss`)."""
    many, one = plural(noun), singular(noun)
    assert plural(many) == many
    assert singular(one) == one
    assert plural(one) == many or noun == many
    assert singular(many) == one


@pytest.mark.parametrize(
    ("spec", "indexed"),
    [
        ("title:str", False),
        ("title:str:index", True),
        ("code:str:unique", False),
        ("count:int", False),
        ("done:bool", True),
        ("status:enum=a,b", True),
        ("due:date", True),
        ("at:datetime:optional", True),
        ("author:ref=Person", True),
    ],
)
def test_common_query_fields_are_indexed_by_default(spec: str, indexed: bool) -> None:
    assert parse_field(spec).index is indexed


def test_indexed_fields_are_filterable_and_sortable() -> None:
    fields = [parse_field(s) for s in ("title:str", "code:str:unique", "done:bool", "due:date")]
    repository, _ = layer_blocks(Names.parse("Task"), fields)["repositories"]
    columns = '("code", "done", "due", "created_at")'
    assert f"filterable = {columns}" in repository
    assert f"sortable = {columns}" in repository
    model, _ = model_block(Names.parse("Task"), fields)
    assert "done: Mapped[bool] = mapped_column(Boolean, index=True)" in model
    assert "title: Mapped[str] = mapped_column(String(200))\n" in model


def test_an_irregular_plural_names_the_table_and_references_follow() -> None:
    people, _ = model_block(Names.parse("Person"), [parse_field("name:str")])
    assert '__tablename__ = "people"' in people
    pets, _ = model_block(
        Names.parse("Pet"), [parse_field("keeper:ref=Person")], table_names(people)
    )
    assert 'ForeignKey("people.id"' in pets
    assert "__tablename__" not in pets  # `pets` is what Model calls it anyway


def test_references_use_the_table_a_hand_written_model_declares() -> None:
    models = 'class Human(Model):\n    __tablename__ = "humans_table"\n'
    block, _ = model_block(
        Names.parse("Pet"), [parse_field("keeper:ref=Human")], table_names(models)
    )
    assert 'ForeignKey("humans_table.id"' in block


@pytest.mark.parametrize("declared_table", [False, True], ids=["plain", "irregular-plural"])
def test_unique_means_unique_per_owner_unless_global(declared_table: bool) -> None:
    names = Names.parse("Person" if declared_table else "Category")
    fields = [parse_field(s) for s in ("name:str:unique", "code:str:unique=global", "x:str")]
    model, imports = model_block(names, fields)
    assert '    __table_args__ = (UniqueConstraint("name", "owner_id"),)\n' in model
    assert "name: Mapped[str] = mapped_column(String(200))\n" in model
    assert "code: Mapped[str] = mapped_column(String(200), unique=True)\n" in model
    assert "UniqueConstraint" in imports["sqlalchemy"]
    lines = model.splitlines()
    # Right after the docstring (and __tablename__), before the columns.
    assert lines.index('    __table_args__ = (UniqueConstraint("name", "owner_id"),)') == (
        5 if declared_table else 3
    )


def test_a_project_template_that_does_not_render_is_one_line(project: Path) -> None:
    overrides = project / OVERRIDES
    overrides.mkdir(parents=True)
    (overrides / "model.py.jinja").write_text("class {{ modle }}(Model):\n")
    result = CliRunner().invoke(cli, ["generate", "resource", "Task", "title:str"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "Error: .stackkit/templates/resource/model.py.jinja does not render: 'modle' is undefined"
    )
    assert "class Task" not in (project / "shop" / "models.py").read_text()


def test_generate_job_refuses_bad_input_in_one_line(project: Path) -> None:
    (project / "shop" / "jobs" / "report.py").write_text('"""Taken."""\n')
    registry = project / "shop" / "jobs" / "__init__.py"
    before = registry.read_text()
    cases = [
        (["generate", "job", "SendReport"], "name the job in snake_case"),
        (["generate", "job", "9lives"], "name the job in snake_case"),
        (["generate", "job", "class"], "name the job in snake_case"),
        (["generate", "job", "queue"], "name the job in snake_case"),
        (["generate", "job", "a" * 41], "up to 40 characters"),
        (["generate", "job", "report"], "shop/jobs/report.py already exists"),
        (["generate", "job", "nightly", "--cron", "0 3 * *"], "give five fields"),
        (["generate", "job", "nightly", "--cron", "61 * * * *"], "give five fields"),
    ]
    for arguments, reason in cases:
        result = CliRunner().invoke(cli, arguments)
        assert result.exit_code != 0, arguments
        assert reason in result.output, result.output
        assert "Traceback" not in result.output
    assert registry.read_text() == before  # nothing was written
    assert not (project / "tests" / "test_job_nightly.py").exists()


def test_generate_job_in_a_project_without_jobs_says_to_upgrade(project: Path) -> None:
    (project / "shop" / "jobs" / "__init__.py").unlink()
    result = CliRunner().invoke(cli, ["generate", "job", "send_report"])
    assert result.exit_code == 1
    assert "get it from `stackkit upgrade`" in result.output
