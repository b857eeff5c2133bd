"""`stackkit upgrade`: a project made from an older template takes the current one.

The older template is the installed one with changes (the `old_template` fixture);
the older code generator is the current one without the bounds on numbers
(`OLD_GENERATOR`). The
project is then edited as a user would, committed, and upgraded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib.resources import as_file, files
from pathlib import Path, PurePosixPath

import pytest
from click.testing import CliRunner, Result

from stackkit.__about__ import __version__
from stackkit.cli import cli
from stackkit.cli.codegen import OVERRIDES
from stackkit.cli.new import TEMPLATE, create_project
from stackkit.cli.record import BASE, RECORD
from stackkit.cli.upgrade import plan_upgrade
from stackkit.db.migrations import alembic_config, heads

_GIT = shutil.which("git") or "git"
OLD_TITLE = "# Shop (the old README)"
OLD_DOCKERFILE_LINE = "# Written by an older stackkit."
OLD_MAIN_LINE = "# An older stackkit wrote this line."
GONE = "deploy/OLD-NOTES.md"
ITEM = ("Item", "name:str", "stock:int")
JOINED = "0002_create_job_queue.py"
# The revisions that follow JOINED: gone with it.
JOINED_NEXT = (
    "0003_create_account_tables.py",
    "0004_create_api_keys_table.py",
    "0005_create_two_factor_tables.py",
    "0006_create_files_table.py",
)


@pytest.fixture(scope="module")
def old_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The installed template, changed as an older stackkit's would differ from it."""
    folder = tmp_path_factory.mktemp("template") / "project"
    with as_file(TEMPLATE) as installed:
        shutil.copytree(installed, folder)
    _edit(folder / "README.md.jinja", "# {{ title }}\n", f"{OLD_TITLE}\n")
    dockerfile = folder / "deploy" / "Dockerfile.jinja"
    dockerfile.write_text(f"{OLD_DOCKERFILE_LINE}\n{dockerfile.read_text()}")
    _edit(
        folder / "{{ package }}" / "main.py.jinja",
        "from __future__",
        f"{OLD_MAIN_LINE}\nfrom __future__",
    )
    (folder / "deploy" / "nginx.conf.jinja").unlink()  # new in the current template
    # A revision new in the current template: the resource's own follows 0001 too.
    (folder / "migrations" / "versions" / JOINED).unlink()
    for name in JOINED_NEXT:
        (folder / "migrations" / "versions" / name).unlink()
    (folder / GONE).write_text("Notes the current template no longer has.\n")
    return folder


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path.name} no longer holds {old!r}: update the fixture"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def project(tmp_path: Path, old_template: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project from the old template, with a resource from the old generator, committed."""
    for name, value in (("NAME", "Test"), ("EMAIL", "test@example.com")):
        monkeypatch.setenv(f"GIT_AUTHOR_{name}", value)
        monkeypatch.setenv(f"GIT_COMMITTER_{name}", value)
    root = tmp_path / "shop"
    create_project(root, "shop", template=old_template)
    monkeypatch.chdir(root)
    # In a process of its own: the project's models can be declared once per process.
    generated = subprocess.run(
        [sys.executable, "-c", OLD_GENERATOR, "generate", "resource", *ITEM],
        cwd=root, capture_output=True, text=True, timeout=180, check=False,
        env=_clean_environment(),
    )  # fmt: skip
    assert generated.returncode == 0, generated.stdout + generated.stderr
    _git(root, "init", "-q")
    _commit(root, "generated")
    return root


OLD_GENERATOR = """
import sys
from stackkit.cli import cli, codegen
current = codegen._constraint
codegen._constraint = lambda spec: "" if spec.kind in ("int", "ref") else current(spec)
cli(sys.argv[1:])
"""
"""`stackkit` with the code generator of before the bounds on numbers."""


def _stackkit(*arguments: str) -> Result:
    return CliRunner().invoke(cli, list(arguments))


def _git(root: Path, *arguments: str) -> str:
    done = subprocess.run(
        ["git", *arguments], cwd=root, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def _commit(root: Path, message: str) -> None:
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", message)


def _user_edits(root: Path) -> None:
    _edit(root / "README.md", OLD_TITLE, "# Shop: the shop of Ada and Bob")  # where stackkit did
    main = root / "shop" / "main.py"
    main.write_text(main.read_text() + "# Ours: the app is built here.\n")  # far from it
    schemas = root / "shop" / "schemas.py"
    schemas.write_text(schemas.read_text() + "\n# Ours: schemas end here.\n")


def test_upgrade_updates_merges_adds_removes_and_reports_a_conflict(project: Path) -> None:
    _user_edits(project)
    _commit(project, "edited")

    result = _stackkit("upgrade")

    assert result.exit_code == 1, result.output
    assert "CONFLICT  README.md" in result.output
    assert "1 file(s) have conflicts: README.md" in result.output
    readme = (project / "README.md").read_text()
    assert "<<<<<<< yours\n# Shop: the shop of Ada and Bob\n" in readme
    assert f">>>>>>> stackkit {__version__}" in readme
    # Untouched by the user: replaced by the new version.
    assert "updated   deploy/Dockerfile" in result.output
    assert OLD_DOCKERFILE_LINE not in (project / "deploy" / "Dockerfile").read_text()
    # Changed by both, apart: merged, the user's line kept.
    main = (project / "shop" / "main.py").read_text()
    assert OLD_MAIN_LINE not in main
    assert main.endswith("# Ours: the app is built here.\n")
    # The resource, generated again by the current generator, merged with the user's edit.
    schemas = (project / "shop" / "schemas.py").read_text()
    assert "stock: int = Field(ge=-2_147_483_648, le=2_147_483_647)" in schemas
    assert schemas.endswith("# Ours: schemas end here.\n")
    # New in the template: added. Gone from it, untouched: removed.
    assert (project / "deploy" / "nginx.conf").is_file()
    assert not (project / GONE).exists()
    # The record now describes the current template.
    record = json.loads((project / RECORD).read_text())
    assert record["stackkit_version"] == __version__
    assert record["resources"] == [{"name": "Item", "fields": ["name:str", "stock:int"]}]
    assert (project / BASE / "deploy" / "nginx.conf").is_file()
    assert not (project / BASE / GONE).exists()
    # The template's new revision and the resource's both follow 0001: a merge revision
    # joins them, so that the migrations have one head to upgrade to.
    assert (project / "migrations" / "versions" / JOINED).is_file()
    for name in JOINED_NEXT:
        assert (project / "migrations" / "versions" / name).is_file()
    assert "(joins the template's new migrations to yours)" in result.output
    assert len(heads(alembic_config(project / "migrations", "sqlite://"))) == 1

    # Where nothing conflicts, the app still passes its tests.
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project, capture_output=True, text=True, timeout=300, check=False,
        env=_clean_environment(),
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout + tests.stderr

    # Resolved and committed, the project is up to date.
    (project / "README.md").write_text(_take_yours(readme))
    _commit(project, "upgraded")
    again = _stackkit("upgrade")
    assert again.exit_code == 0, again.output
    assert "Up to date" in again.output


def test_upgrade_regenerates_resources_from_the_projects_own_templates(project: Path) -> None:
    """A resource template the project keeps in .stackkit/templates/resource/ is the one
    upgrade generates its resources from again; stackkit's own serve the others."""
    overrides = project / OVERRIDES
    overrides.mkdir(parents=True)
    stock = files("stackkit").joinpath("templates", "resource", "service.py.jinja").read_text()
    (overrides / "service.py.jinja").write_text(
        stock.replace('go here."""', 'go here (our house style)."""')
    )
    _commit(project, "our service template")

    result = _stackkit("upgrade")

    services = (project / "shop" / "services.py").read_text()
    assert '"""Rules about items go here (our house style)."""' in services
    assert "CONFLICT  shop/services.py" not in result.output
    schemas = (project / "shop" / "schemas.py").read_text()
    assert "stock: int = Field(ge=-2_147_483_648, le=2_147_483_647)" in schemas


def test_dry_run_shows_the_diff_and_writes_nothing(project: Path) -> None:
    result = _stackkit("upgrade", "--dry-run")

    assert result.exit_code == 0, result.output
    assert "--- a/deploy/Dockerfile\n+++ b/deploy/Dockerfile\n" in result.output
    assert f"-{OLD_DOCKERFILE_LINE}\n" in result.output
    assert "+++ b/deploy/nginx.conf" in result.output
    assert "Would change from stackkit" in result.output
    assert _git(project, "status", "--porcelain") == ""


def test_upgrade_refuses_uncommitted_changes_unless_told(project: Path) -> None:
    (project / "README.md").write_text("# Not committed\n")

    refused = _stackkit("upgrade")
    assert refused.exit_code == 1
    assert "uncommitted changes" in refused.output
    assert OLD_DOCKERFILE_LINE in (project / "deploy" / "Dockerfile").read_text()

    allowed = _stackkit("upgrade", "--allow-dirty")
    assert "updated   deploy/Dockerfile" in allowed.output


def test_upgrade_needs_a_git_work_tree_and_a_record(project: Path) -> None:
    shutil.rmtree(project / ".git")
    outside_git = _stackkit("upgrade")
    assert outside_git.exit_code == 1
    assert "is not a git work tree" in outside_git.output

    (project / RECORD).unlink()
    no_record = _stackkit("upgrade", "--allow-dirty")
    assert no_record.exit_code == 1
    assert ".stackkit/project.json is missing" in no_record.output


def _take_yours(text: str) -> str:
    """`text` with each conflict resolved to the user's side."""
    return re.sub(r"<<<<<<< yours\n(.*?)=======\n.*?>>>>>>> [^\n]*\n", r"\1", text, flags=re.S)


def _clean_environment() -> dict[str, str]:
    """The environment of a user's shell: no settings of this test run leak in."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STACKKIT_", "DATABASE_", "REDIS_", "SECRET_KEY", "PYTEST_"))
    }


LABELS = ("yours", "stackkit 1", "stackkit 2")
TEXT = PurePosixPath("notes.txt")


def test_a_crlf_file_is_merged_as_lf_and_keeps_its_line_endings() -> None:
    # An editor that saves with CRLF must not turn every line into a conflict.
    base = {TEXT: b"one\ntwo\nthree\nfour\n"}
    theirs = {TEXT: b"one\ntwo\nthree\nFOUR\n"}
    yours = {TEXT: b"ONE\r\ntwo\r\nthree\r\nfour\r\n"}
    [change] = plan_upgrade(base, theirs, yours, _GIT, LABELS)
    assert (change.action, change.content) == ("merge", b"ONE\r\ntwo\r\nthree\r\nFOUR\r\n")


def test_a_binary_file_both_changed_is_kept_and_offered_again() -> None:
    base, theirs, yours = {TEXT: b"\0old"}, {TEXT: b"\0new"}, {TEXT: b"\0mine"}
    [change] = plan_upgrade(base, theirs, yours, _GIT, LABELS)
    assert (change.action, change.content, change.keep_base) == ("conflict", None, True)


def test_a_blocked_path_is_never_written() -> None:
    base, theirs, yours = {TEXT: b"old\n"}, {TEXT: b"new\n"}, {}
    blocked = {TEXT: "a symbolic link of yours: not followed, not written"}
    [change] = plan_upgrade(base, theirs, yours, _GIT, LABELS, blocked=blocked)
    assert (change.action, change.content, change.keep_base) == ("keep", None, True)


def test_upgrade_does_not_write_through_a_link(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("not the project's\n")
    dockerfile = project / "deploy" / "Dockerfile"
    dockerfile.unlink()
    dockerfile.symlink_to(outside)
    _commit(project, "linked")

    result = _stackkit("upgrade")

    assert result.exit_code == 0, result.output
    assert "kept      deploy/Dockerfile (a symbolic link of yours" in result.output
    assert outside.read_text() == "not the project's\n"


def test_upgrade_refuses_a_record_it_cannot_use(project: Path) -> None:
    record = json.loads((project / RECORD).read_text())
    for change, message in (
        ({"stackkit_version": "999.0"}, "newer than the installed"),
        ({"database": "mysql"}, "unknown database 'mysql'"),
        ({"resources": [{"name": "Item", "fields": ["name:strng"]}]}, "does not generate"),
    ):
        (project / RECORD).write_text(json.dumps({**record, **change}))
        result = _stackkit("upgrade", "--allow-dirty")
        assert result.exit_code == 1, result.output
        assert message in result.output
        assert "Traceback" not in result.output


def test_changes_outside_the_project_folder_do_not_count(project: Path) -> None:
    # The project is one folder of a larger repository with work in progress elsewhere.
    shutil.rmtree(project / ".git")
    _git(project.parent, "init", "-q")
    _commit(project.parent, "a larger repository")
    (project.parent / "elsewhere.txt").write_text("not committed\n")

    result = _stackkit("upgrade")

    assert result.exit_code == 0, result.output
    assert "updated   deploy/Dockerfile" in result.output
