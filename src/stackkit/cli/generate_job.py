"""`stackkit generate job NAME`: a job module in `<package>/jobs/`, its test, and its
import in `<package>/jobs/__init__.py` (which is how the app and the workers know it).
If any step fails, every file is put back as it was."""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping

import click
from jinja2 import PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from rich.console import Console

from stackkit.cli.loading import load_app
from stackkit.cli.project import find_project
from stackkit.cli.source_edits import (
    add_imports,
    format_source,
    read_source,
    restore,
    write_all,
)
from stackkit.settings import is_cron_schedule

__all__ = ["job_command"]

_JOB_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}\Z")  # its lines stay within 100 characters
_TAKEN = frozenset({"queue", "jobs"})  # the package's own modules and names


@click.command("job")
@click.argument("name")
@click.option(
    "--cron", metavar="SCHEDULE",
    help='Also run it on this schedule, like "0 3 * * *" (03:00 every day).',
)  # fmt: skip
def job_command(name: str, cron: str | None) -> None:
    """Add job NAME (snake_case, like send_report) to the project: <package>/jobs/NAME.py,
    tests/test_job_NAME.py, and its import in <package>/jobs/__init__.py.
    Example: stackkit generate job send_report
    """
    if not _JOB_NAME.match(name) or keyword.iskeyword(name) or name in _TAKEN:
        raise click.BadParameter(
            f"{name!r}: name the job in snake_case, up to 40 characters, like send_report "
            "(not queue or jobs)",
            param_hint="NAME",
        )
    if cron is not None:
        _check_cron(cron)
    project = find_project()
    jobs_package = project.root / project.package / "jobs"
    registry = jobs_package / "__init__.py"
    if not registry.is_file():
        raise click.ClickException(
            f"{project.package}/jobs/__init__.py is missing: projects made before stackkit "
            "had jobs get it from `stackkit upgrade`"
        )
    module = jobs_package / f"{name}.py"
    test = project.root / "tests" / f"test_job_{name}.py"
    for path in (module, test):
        if path.exists():
            raise click.ClickException(f"{path.relative_to(project.root)} already exists")
    context: dict[str, str | None] = {
        "package": project.package,
        "name": name,
        "cron": cron,
        "signature": "timestamp: int" if cron else "user_id: int",
        "call": "timestamp=0" if cron else "user_id=user.id",
    }
    imports = {f"{project.package}.jobs": {name}}
    changed = {
        module: format_source(_render("job.py.jinja", context)),
        test: format_source(_render("test.py.jinja", context)),
        registry: add_imports(read_source(registry), imports, first_party=project.package),
    }
    written = write_all(changed)
    try:
        with project.activated():
            load_app(project)  # the app, which imports the job, must still start
    except BaseException:
        restore(written)
        raise
    console = Console(highlight=False)
    console.print(f"[green]Added[/green] job {name}:")
    for path in changed:
        console.print(f"  {path.relative_to(project.root)}")
    console.print(f"Queue it with: await {name}.defer({context['call']})", soft_wrap=True)


def _check_cron(cron: str) -> None:
    """Raises `click.BadParameter` for a schedule the workers could not follow."""
    if not is_cron_schedule(cron):
        raise click.BadParameter(
            f"{cron!r}: give five fields (minute hour day month weekday), like '0 3 * * *'",
            param_hint="--cron",
        )


_TEMPLATES = SandboxedEnvironment(
    loader=PackageLoader("stackkit", "templates/job"),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _render(name: str, context: Mapping[str, object]) -> str:
    return _TEMPLATES.get_template(name).render(context)
