"""`stackkit generate resource Name field:type...`: a resource through every layer.

Adds the model, its schemas, repository, service and resource to the project's
layer modules, writes `tests/test_<plural>.py`, and autogenerates the Alembic
migration that creates the table. Rows belong to the user who creates them
(`owner_column()`). If any step fails, every file is put back as it was.
"""

from __future__ import annotations

import ast
import keyword
import re
import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath

import click
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from stackkit.cli.codegen import (
    IMPORTED_NAMES,
    OVERRIDES,
    Imports,
    Names,
    Templates,
    e2e_module,
    layer_blocks,
    link_tables,
    model_block,
    schema_block,
    table_names,
    test_module,
)
from stackkit.cli.errors import one_line
from stackkit.cli.fields import FieldSpec, parse_fields
from stackkit.cli.generate_job import job_command
from stackkit.cli.loading import load_app
from stackkit.cli.new import stackkit_command
from stackkit.cli.project import Project, find_project
from stackkit.cli.record import BASE, RECORD, ProjectRecord, ResourceRecord
from stackkit.cli.source_edits import add_imports, read_source, restore, sort_imports, write_all
from stackkit.db.migrations import MigrationError, alembic_config, revision, upgrade

__all__ = ["add_imports", "generate_group", "replay_resource", "resource_files", "sort_imports"]

_MODEL_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*\Z")
_LAYERS = ("models", "schemas", "repositories", "services", "controllers")
# Names the generated code imports or relies on: a resource may not take them.
GENERATED_NAMES = IMPORTED_NAMES | frozenset(
    {"Service", "Repository", "Resource", "Controller", "BaseModel", "Mapped", "User",
     "resources", "controllers"}
)  # fmt: skip


@click.group("generate")
def generate_group() -> None:
    """Add code to the project: a resource through every layer, or a background job."""


generate_group.add_command(job_command)


@generate_group.command("resource")
@click.argument("name")
@click.argument("fields", nargs=-1)
@click.option(
    "--display", metavar="FIELD", default=None,
    help="The field that names a row where another refers to it (pickers, lists); "
    "default: the first str or text field.",
)  # fmt: skip
def resource_command(name: str, fields: tuple[str, ...], display: str | None) -> None:
    """Add resource NAME with FIELDS (name:type[:option]...) to the project.

    NAME names one row (Task, BlogPost; `tasks` is taken as Task); the table and
    the path take its plural (/api/tasks). Types: str, text, int, float, decimal,
    bool, date, datetime, uuid, enum=a,b,c, ref=Model. Options: unique, index,
    optional, default=VALUE. Indexed fields (the option, or a bool, enum, date,
    datetime or ref field) are filterable and sortable in the API.
    Example: stackkit generate resource Task title:str:index done:bool:default=false
    """
    names = Names.parse(name)
    if not _MODEL_NAME.match(names.model):
        raise click.BadParameter(
            f"{name!r}: name the resource like Task or BlogPost", param_hint="NAME"
        )
    if keyword.iskeyword(names.model):
        raise click.BadParameter(
            f"{name!r} is a Python keyword; choose another name", param_hint="NAME"
        )
    if names.model == "User":
        raise click.BadParameter(
            f"{name!r} clashes with the built-in User model (the accounts of /api/auth); "
            "choose another name, like Member or Profile",
            param_hint="NAME",
        )
    if not fields:
        raise click.BadParameter(
            "a resource needs at least one field, like title:str", param_hint="FIELDS"
        )
    specs = parse_fields(fields)
    _check_display(display, specs)
    project = find_project()
    package = project.root / project.package
    sources = {layer: read_source(package / f"{layer}.py") for layer in _LAYERS}
    if not (project.migrations / "env.py").is_file():
        raise click.ClickException(f"no migrations folder at {project.migrations}")
    taken = set().union(
        *(_top_level_names(package / f"{layer}.py", sources[layer]) for layer in _LAYERS)
    )
    if re.search(rf"^class {names.model}\b", sources["models"], re.MULTILINE):
        raise click.ClickException(f"{project.package}/models.py already has a model {names.model}")
    tables = {names.plural, *link_tables(names, specs).values()}
    if any(table.startswith("stackkit") for table in tables):
        raise click.ClickException(
            f"{name!r} would make a table named like stackkit's own (stackkit_*); "
            "choose another name"
        )
    own_names = {names.model, *tables}
    clashes = sorted(own_names & (taken | GENERATED_NAMES))
    if clashes:
        raise click.ClickException(
            f"{name!r} would take the name {clashes[0]!r}, which the project's modules use"
        )
    for spec in specs:
        if spec.kind == "refs" and spec.target in (names.model, "User"):
            raise click.ClickException(
                f"{spec.name}: refs= names another generated model, not {spec.target}"
            )
        if spec.target == names.model:
            if not spec.optional:
                raise click.ClickException(
                    f"{spec.name}: a reference to its own model must be optional "
                    "(the first row has nothing to point at)"
                )
            continue
        if (
            spec.target
            and spec.target != "User"
            and not re.search(rf"^class {spec.target}\b", sources["models"], re.MULTILINE)
        ):
            raise click.ClickException(
                f"{spec.name}: no model {spec.target} in {project.package}/models.py; "
                f"generate it first"
            )
    for folder in ("tests", "e2e"):  # never over a test of the user's own
        test_path = project.root / folder / f"test_{names.plural}.py"
        if test_path.exists():
            raise click.ClickException(f"{test_path.relative_to(project.root)} already exists")

    _refuse_pending_changes(project)
    templates = Templates(project.root)
    files = resource_files(project.package, sources, names, specs, templates, display=display)
    changed = {project.root.joinpath(*path.parts): text for path, text in files.items()}
    written = write_all(changed)
    migration = None
    try:
        migration = _migrate(project, f"create {names.plural}")
        with project.activated():
            load_app(project)  # the app, with the new resource, must still start
    except BaseException as error:
        restore(written)
        if migration is not None:
            migration.unlink(missing_ok=True)
        if isinstance(error, click.ClickException):
            raise
        raise click.ClickException(
            f"the generated code does not run ({type(error).__name__}: {error}); "
            "nothing was changed"
        ) from None
    console = Console(highlight=False)
    try:
        _record(project, ResourceRecord(name, list(fields), display), templates)
    except (click.ClickException, OSError, UnicodeDecodeError) as error:
        message = error.format_message() if isinstance(error, click.ClickException) else error
        console.print(
            f"[yellow]Warning:[/yellow] {names.plural} was added, but not to the project's "
            f"record ({message}): `stackkit upgrade` will not regenerate it."
        )
    for template in templates.overridden():
        console.print(f"Used the project's own {OVERRIDES.as_posix()}/{template}")
    console.print(f"[green]Added[/green] {names.plural} ({names.model}):")
    for path in [*changed, *([migration] if migration else [])]:
        console.print(f"  {path.relative_to(project.root)}")
    stackkit = escape(stackkit_command(Path.cwd()))
    console.print(
        f"Next: [bold]{stackkit} db upgrade[/bold] (or {stackkit} run), then the tests.",
        soft_wrap=True,
    )


def resource_files(
    package: str,
    sources: dict[str, str],
    names: Names,
    specs: list[FieldSpec],
    templates: Templates,
    *,
    display: str | None = None,
) -> dict[PurePosixPath, str]:
    """What `generate resource` writes, by path in the project: the layer modules of
    `package` (given their current `sources`, by layer) with the resource added, and its
    test module, from `templates`. Pure: `stackkit upgrade` replays it on a fresh render."""
    files = {
        PurePosixPath(package, f"{layer}.py"): text
        for layer, text in _new_sources(
            package, names, specs, sources, templates, display=display
        ).items()
    }
    test_path = PurePosixPath("tests", f"test_{names.plural}.py")
    files[test_path] = test_module(names, specs, package, templates=templates)
    e2e_path = PurePosixPath("e2e", f"test_{names.plural}.py")
    files[e2e_path] = e2e_module(names, specs, templates=templates)
    return files


def replay_resource(
    root: Path, package: str, resource: ResourceRecord, templates: Templates
) -> None:
    """Write into the project at `root` what generating `resource` wrote (no migration),
    from `templates` (those of the project the resource belongs to)."""
    sources = {layer: read_source(root / package / f"{layer}.py") for layer in _LAYERS}
    names = Names.parse(resource.name, strict=False)  # as it was generated
    specs = parse_fields(tuple(resource.fields), strict=False)
    files = resource_files(package, sources, names, specs, templates, display=resource.display)
    for path, text in files.items():
        target = root.joinpath(*path.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _record(project: Project, resource: ResourceRecord, templates: Templates) -> None:
    """Add the resource to the project's record, and what stackkit wrote to its base
    (the same generation, replayed on the base's files)."""
    if not (project.root / RECORD).is_file():
        return  # a project from before records were kept: nothing to upgrade from
    record = ProjectRecord.load(project.root)
    replay_resource(project.root / BASE, project.package, resource, templates)
    record.resources.append(resource)
    record.save(project.root)


def _new_sources(
    package: str,
    names: Names,
    specs: list[FieldSpec],
    sources: dict[str, str],
    templates: Templates,
    *,
    display: str | None = None,
) -> dict[str, str]:
    model, model_imports = model_block(names, specs, table_names(sources["models"]), templates)
    schemas, schema_imports = schema_block(names, specs, templates)
    blocks = layer_blocks(names, specs, templates, display=display)
    schema_names = [f"{names.model}In", f"{names.model}Out", f"{names.model}Patch"]
    extra: dict[str, Imports] = {
        "models": model_imports,
        "schemas": schema_imports,
        "repositories": {
            **blocks["repositories"][1],
            f"{package}.models": {names.model, *link_tables(names, specs).values()},
        },
        "services": {
            **blocks["services"][1],
            f"{package}.models": {names.model},
            f"{package}.repositories": {f"{names.model}Repository"},
        },
        "controllers": {
            f"{package}.schemas": set(schema_names),
            f"{package}.services": {f"{names.model}Service"},
        },
    }
    bodies = {
        "models": model,
        "schemas": schemas,
        "repositories": blocks["repositories"][0],
        "services": blocks["services"][0],
        "controllers": blocks["controllers"][0],
    }
    changed = {}
    for layer in _LAYERS:
        text = add_imports(sources[layer], extra[layer], first_party=package).rstrip("\n")
        changed[layer] = f"{text}\n\n\n{bodies[layer]}"
    return changed


def _check_display(display: str | None, specs: list[FieldSpec]) -> None:
    """`--display` names one of the resource's own fields, not a reference nor a file."""
    if display is None:
        return
    shown = [spec.name for spec in specs if spec.kind not in ("ref", "refs", "file", "image")]
    if display not in shown:
        raise click.BadParameter(
            f"{display!r} is not a field of the resource; one of {', '.join(shown) or 'none'}",
            param_hint="--display",
        )


def _top_level_names(path: Path, source: str) -> set[str]:
    """What a module defines or imports at its top level."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise click.ClickException(f"{path}:{error.lineno}: {error.msg}; fix it first") from None
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).partition(".")[0] for a in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _refuse_pending_changes(project: Project) -> None:
    """Refuse when the models already differ from the migrations: the new migration
    would carry those changes too. Checked in a process of its own, since the models
    can be declared only once per process."""
    probe = (
        "import sys, tempfile, pathlib\n"
        "from stackkit.db.migrations import alembic_config, upgrade\n"
        "from stackkit.db.migration_env import include_name\n"
        "from alembic.autogenerate import compare_metadata\n"
        "from alembic.runtime.migration import MigrationContext\n"
        "from sqlalchemy import create_engine\n"
        "import importlib\n"
        "folder = tempfile.mkdtemp()\n"
        "url = f'sqlite:///{pathlib.Path(folder) / \"probe.db\"}'\n"
        f"upgrade(alembic_config({str(project.migrations)!r}, url))\n"
        f"models = importlib.import_module('{project.package}.models')\n"
        "with create_engine(url).connect() as connection:\n"
        "    opts = {'include_name': include_name}\n"
        "    context = MigrationContext.configure(connection, opts=opts)\n"
        "    diff = compare_metadata(context, models.Model.metadata)\n"
        "print(len(diff))\n"
    )
    # The interpreter running stackkit, on code written here: no outside input runs.
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], cwd=project.root, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["it failed"])[-1]
        raise click.ClickException(f"cannot compare the models with the migrations: {last}")
    if result.stdout.strip() != "0":
        raise click.ClickException(
            "the models differ from the migrations already: write that migration first "
            '(stackkit db revision -m "..."), then generate'
        )


def _migrate(project: Project, message: str) -> Path | None:
    """Autogenerate the migration against a scratch SQLite database at the current head."""
    with project.activated(), tempfile.TemporaryDirectory() as scratch:
        stale = [m for m in sys.modules if m.partition(".")[0] == project.package]
        for module in stale:
            del sys.modules[module]  # import the models as just written
        config = alembic_config(project.migrations, f"sqlite:///{Path(scratch) / 'scratch.db'}")
        try:
            upgrade(config)
            return revision(config, message)
        except (MigrationError, SQLAlchemyError, ImportError, SyntaxError) as error:
            raise click.ClickException(f"cannot write the migration: {one_line(error)}") from None
