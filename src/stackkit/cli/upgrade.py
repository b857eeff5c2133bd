"""`stackkit upgrade`: bring the installed stackkit's template into a generated project.

The project's record (`.stackkit/`, see `stackkit.cli.record`) holds the answers it
was made with, the resources generated since, and each file as stackkit wrote it
(the base). The upgrade renders the project again, as the installed stackkit would
write it now, and merges file by file, three ways (yours, the base, the new render):

| the file | what happens |
|---|---|
| unchanged by the new template | nothing, whatever you did to it |
| changed by the template, untouched by you | replaced by the new version |
| changed by both | merged (`git merge-file`); overlapping hunks get conflict markers |
| new in the template | added (a file of yours at that path is merged with it) |
| gone from the template | removed if untouched, kept (and listed) if you changed it |
| deleted by you | left deleted (and listed) |

The new render then becomes the base. `--dry-run` prints the diff and writes nothing.
The upgrade refuses a git work tree with uncommitted changes (`--allow-dirty` to go
on anyway), so that `git diff` shows exactly what it did and `git checkout .` undoes it.
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import click
from rich.console import Console

from stackkit.__about__ import __version__
from stackkit.cli.generate import replay_resource
from stackkit.cli.new import check_name, create_project
from stackkit.cli.project import find_project
from stackkit.cli.record import ProjectRecord, read_base, snapshot, write_base

__all__ = ["Change", "plan_upgrade", "render_project", "upgrade_command"]

Files = dict[PurePosixPath, bytes]


@dataclass(frozen=True)
class Change:
    """What the upgrade does to one file. `content` None: remove it (or leave it be)."""

    path: PurePosixPath
    action: str
    """`update`, `merge`, `conflict`, `add`, `remove`, or `keep` (a note, no write)."""
    content: bytes | None = None
    note: str = ""

    @property
    def writes(self) -> bool:
        return self.action != "keep"


@click.command("upgrade")
@click.option("--dry-run", is_flag=True, help="Show the changes as a diff; write nothing.")
@click.option(
    "--allow-dirty", is_flag=True, help="Run even with uncommitted changes in the git work tree."
)
def upgrade_command(dry_run: bool, allow_dirty: bool) -> None:
    """Merge the installed stackkit's template into this project (see docs/upgrading)."""
    project = find_project()
    root = project.root
    record = ProjectRecord.load(root)
    base = read_base(root)
    git = _git()
    if not allow_dirty:
        _refuse_uncommitted_changes(git, root)
    theirs = render_project(record)
    labels = ("yours", f"stackkit {record.stackkit_version}", f"stackkit {__version__}")
    changes = plan_upgrade(base, theirs, snapshot_of(root, base, theirs), git, labels)
    console = Console(highlight=False)
    old_version = record.stackkit_version
    if dry_run:
        _print_diff(root, changes)
    else:
        _apply(root, changes)
        write_base(root, theirs)
        record.stackkit_version = __version__
        record.save(root)
    _report(console, changes, old_version, dry_run=dry_run)
    conflicts = [change for change in changes if change.action == "conflict"]
    if conflicts:
        verb = "would have" if dry_run else "have"
        raise click.ClickException(
            f"{len(conflicts)} file(s) {verb} conflicts: "
            f"{', '.join(str(c.path) for c in conflicts)}"
            + ("" if dry_run else "; resolve the marked hunks, then run the tests")
        )


def render_project(record: ProjectRecord) -> Files:
    """The project as the installed stackkit writes it from `record`: `stackkit new`
    with the same answers, then each recorded resource generated again."""
    package = check_name(record.name)
    with tempfile.TemporaryDirectory(prefix="stackkit-upgrade-") as scratch:
        target = Path(scratch) / record.name
        create_project(target, record.name, database=record.database)
        for resource in record.resources:
            replay_resource(target, package, resource)
        return snapshot(target)


def snapshot_of(root: Path, *trees: Files) -> Files:
    """The project's own version of every path in `trees` that it has."""
    paths = sorted(set().union(*trees))
    return {path: root.joinpath(*path.parts).read_bytes() for path in paths if _is_file(root, path)}


def plan_upgrade(
    base: Files, theirs: Files, yours: Files, git: str, labels: tuple[str, str, str]
) -> list[Change]:
    """The change to each file, from the base, the new render and the project's files."""
    changes = []
    for path in sorted(set(base) | set(theirs)):
        old, new, mine = base.get(path), theirs.get(path), yours.get(path)
        if new == old or mine == new:
            continue  # the template did not change it, or the project has it already
        if new is None:
            if mine == old:
                changes.append(Change(path, "remove"))
            elif mine is not None:
                changes.append(Change(path, "keep", note="gone from the template; yours is kept"))
        elif mine is None:
            if old is None:
                changes.append(Change(path, "add", new))
            else:
                changes.append(Change(path, "keep", note="deleted by you; not brought back"))
        elif mine == old:
            changes.append(Change(path, "update", new))
        else:
            merged, clean = _merge(git, mine, old or b"", new, labels)
            changes.append(Change(path, "merge" if clean else "conflict", merged))
    return changes


def _merge(
    git: str, mine: bytes, old: bytes, new: bytes, labels: tuple[str, str, str]
) -> tuple[bytes, bool]:
    """Three-way merge with `git merge-file`: the result, and whether it is clean."""
    if b"\0" in mine + old + new:  # binary: no hunks to merge; keep yours, mark it
        return mine, False
    with tempfile.TemporaryDirectory(prefix="stackkit-merge-") as scratch:
        paths = [Path(scratch) / name for name in ("yours", "base", "theirs")]
        for path, content in zip(paths, (mine, old, new), strict=True):
            path.write_bytes(content)
        command = [git, "merge-file", "-p"]
        for label in labels:
            command += ["-L", label]
        # git, found on PATH, with files of our own: no shell, no outside arguments.
        result = subprocess.run(  # noqa: S603
            [*command, *map(str, paths)], capture_output=True, check=False, timeout=60
        )
    if result.returncode < 0 or result.returncode > 127:
        raise click.ClickException(f"git merge-file failed: {result.stderr.decode().strip()}")
    return result.stdout, result.returncode == 0


def _git() -> str:
    git = shutil.which("git")
    if git is None:
        raise click.ClickException("stackkit upgrade needs git on PATH (it merges with it)")
    return git


def _refuse_uncommitted_changes(git: str, root: Path) -> None:
    # git, found on PATH, with options of our own.
    result = subprocess.run(  # noqa: S603
        [git, "status", "--porcelain"], cwd=root, capture_output=True, text=True,
        check=False, timeout=60,
    )  # fmt: skip
    if result.returncode != 0:
        raise click.ClickException(
            f"{root} is not a git work tree: commit the project to git first, so that the "
            "upgrade can be reviewed and undone, or pass --allow-dirty"
        )
    if result.stdout.strip():
        raise click.ClickException(
            "the git work tree has uncommitted changes: commit or stash them first "
            "(or pass --allow-dirty)"
        )


def _apply(root: Path, changes: list[Change]) -> None:
    for change in changes:
        target = root.joinpath(*change.path.parts)
        if change.action == "remove":
            target.unlink()
        elif change.writes and change.content is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(change.content)


def _print_diff(root: Path, changes: list[Change]) -> None:
    for change in changes:
        if not change.writes:
            continue
        target = root.joinpath(*change.path.parts)
        before = target.read_bytes() if target.is_file() else b""
        after = b"" if change.action == "remove" else change.content or b""
        lines = difflib.unified_diff(
            before.decode("utf-8", "replace").splitlines(keepends=True),
            after.decode("utf-8", "replace").splitlines(keepends=True),
            fromfile=f"a/{change.path}",
            tofile=f"b/{change.path}",
        )
        click.echo("".join(lines), nl=False)


def _report(console: Console, changes: list[Change], old_version: str, *, dry_run: bool) -> None:
    if not changes:
        console.print(f"Up to date: the project matches stackkit {__version__}'s template.")
        return
    verbs = {
        "update": "updated", "merge": "merged", "conflict": "CONFLICT", "add": "added",
        "remove": "removed", "keep": "kept",
    }  # fmt: skip
    heading = "Would change" if dry_run else "Upgraded"
    console.print(f"{heading} from stackkit {old_version} to {__version__}:", markup=False)
    for change in changes:
        note = f" ({change.note})" if change.note else ""
        console.print(f"  {verbs[change.action]:<9} {change.path}{note}", markup=False)


def _is_file(root: Path, path: PurePosixPath) -> bool:
    return root.joinpath(*path.parts).is_file()
