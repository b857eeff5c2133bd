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
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import click
from packaging.version import InvalidVersion, Version

from stackkit.__about__ import __version__
from stackkit.cli.codegen import Templates
from stackkit.cli.generate import replay_resource
from stackkit.cli.new import check_name, create_project
from stackkit.cli.project import Project, find_project
from stackkit.cli.record import RECORD, ProjectRecord, read_base, snapshot, write_base
from stackkit.db.migrations import alembic_config, merge_heads

__all__ = ["Change", "plan_upgrade", "render_project", "upgrade_command"]

Files = dict[PurePosixPath, bytes]


@dataclass(frozen=True)
class Change:
    """What the upgrade does to one file."""

    path: PurePosixPath
    action: str
    """`update`, `merge`, `conflict`, `add`, `remove`, or `keep` (a note, no write)."""
    content: bytes | None = None
    """What to write; None: nothing (a removal, a note, a binary conflict)."""
    note: str = ""
    keep_base: bool = False
    """Keep the old base for this path: the template's change is not in the project yet
    (a binary file both changed, a path blocked), so the next upgrade offers it again."""


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
    _refuse_a_newer_record(record)
    base = read_base(root)
    git = _git()
    if not allow_dirty:
        _refuse_uncommitted_changes(git, root)
    theirs = render_project(record, Templates(root))
    labels = ("yours", f"stackkit {record.stackkit_version}", f"stackkit {__version__}")
    paths = set(base) | set(theirs)
    yours = snapshot_of(root, paths)
    changes = plan_upgrade(base, theirs, yours, git, labels, blocked=_blocked(root, paths))
    old_version = record.stackkit_version
    if dry_run:
        _print_diff(root, changes)
    else:
        _apply(root, changes)
        new_base = dict(theirs)
        for change in changes:
            if change.keep_base:
                if change.path in base:
                    new_base[change.path] = base[change.path]
                else:
                    new_base.pop(change.path, None)
        write_base(root, new_base)
        record.stackkit_version = __version__
        record.save(root)
    _report(changes, old_version, dry_run=dry_run)
    if not dry_run:
        _join_migrations(project)
    conflicts = [change for change in changes if change.action == "conflict"]
    if conflicts:
        verb = "would have" if dry_run else "have"
        raise click.ClickException(
            f"{len(conflicts)} file(s) {verb} conflicts: "
            f"{', '.join(str(c.path) for c in conflicts)}"
            + ("" if dry_run else "; resolve the marked hunks, then run the tests")
        )


def _join_migrations(project: Project) -> None:
    """A revision of the template's (the job queue's `0002`) and the project's own
    revisions both follow `0001`: join them with a merge revision, so that `stackkit db
    upgrade` has one latest revision to reach and applies both lines."""
    try:
        merged = merge_heads(
            alembic_config(project.migrations, "sqlite://"), "join stackkit's migrations"
        )
    except Exception as error:  # Alembic's errors have no common base
        raise click.ClickException(
            f"cannot join the two latest migrations with a merge revision: {error}"
        ) from None
    if merged is not None:
        shown = merged.relative_to(project.root)
        click.echo(f"  added     {shown} (joins the template's new migrations to yours)")


def render_project(record: ProjectRecord, templates: Templates) -> Files:
    """The project as the installed stackkit writes it from `record`: `stackkit new`
    with the same answers, then each recorded resource generated again from
    `templates` (stackkit's, and the project's own where it has them).

    Raises:
        click.ClickException: the record's answers or resources no longer generate.
    """
    try:
        package = check_name(record.name)
    except click.BadParameter as error:
        raise click.ClickException(f"{RECORD}: {error.format_message()}") from None
    with tempfile.TemporaryDirectory(prefix="stackkit-upgrade-") as scratch:
        target = Path(scratch) / record.name
        create_project(target, record.name, database=record.database)
        for resource in record.resources:
            try:
                replay_resource(target, package, resource, templates)
            except click.ClickException as error:
                raise click.ClickException(
                    f"the recorded resource {resource.name} ({' '.join(resource.fields)}) "
                    f"does not generate with stackkit {__version__}: {error.format_message()}"
                ) from None
        return snapshot(target)


def snapshot_of(root: Path, paths: set[PurePosixPath]) -> Files:
    """The project's own version of each of `paths` it has as a plain file."""
    return {
        path: root.joinpath(*path.parts).read_bytes()
        for path in sorted(paths)
        if _plain_file(root, path)
    }


def plan_upgrade(
    base: Files,
    theirs: Files,
    yours: Files,
    git: str,
    labels: tuple[str, str, str],
    *,
    blocked: dict[PurePosixPath, str] | None = None,
) -> list[Change]:
    """The change to each file, from the base, the new render and the project's files.
    `blocked` paths (a folder or a link of the user's there) are never written."""
    blocked = blocked or {}
    changes = []
    for path in sorted(set(base) | set(theirs)):
        old, new, raw = base.get(path), theirs.get(path), yours.get(path)
        # A file the user's editor saved with CRLF is compared and merged as LF, and
        # written back with CRLF.
        crlf = raw is not None and b"\r\n" in raw and b"\r\n" not in (old or b"")
        mine = raw.replace(b"\r\n", b"\n") if raw is not None and crlf else raw
        if new == old or mine == new:
            continue  # the template did not change it, or the project has it already
        if path in blocked:
            changes.append(Change(path, "keep", note=blocked[path], keep_base=True))
            continue
        change = _change(path, old, new, mine, git, labels)
        if crlf and change.content is not None:
            change = replace(change, content=change.content.replace(b"\n", b"\r\n"))
        changes.append(change)
    return changes


def _change(
    path: PurePosixPath,
    old: bytes | None,
    new: bytes | None,
    mine: bytes | None,
    git: str,
    labels: tuple[str, str, str],
) -> Change:
    if new is None:
        if mine == old:
            return Change(path, "remove")
        return Change(path, "keep", note="gone from the template; yours is kept")
    if mine is None:
        if old is None:
            return Change(path, "add", new)
        return Change(path, "keep", note="deleted by you; not brought back")
    if mine == old:
        return Change(path, "update", new)
    if b"\0" in mine + (old or b"") + new:
        note = "a binary file both changed: yours is kept, and the next upgrade offers it again"
        return Change(path, "conflict", note=note, keep_base=True)
    merged, clean = _merge(git, mine, old or b"", new, labels)
    return Change(path, "merge" if clean else "conflict", merged)


def _merge(
    git: str, mine: bytes, old: bytes, new: bytes, labels: tuple[str, str, str]
) -> tuple[bytes, bool]:
    """Three-way merge with `git merge-file`: the result, and whether it is clean."""
    with tempfile.TemporaryDirectory(prefix="stackkit-merge-") as scratch:
        paths = [Path(scratch) / name for name in ("yours", "base", "theirs")]
        for path, content in zip(paths, (mine, old, new), strict=True):
            path.write_bytes(content)
        command = [git, "merge-file", "-p"]
        for label in labels:
            command += ["-L", label]
        try:
            # git, found on PATH, with files of our own: no shell, no outside arguments.
            result = subprocess.run(  # noqa: S603
                [*command, *map(str, paths)], capture_output=True, check=False, timeout=60
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise click.ClickException(f"git merge-file failed: {error}") from None
    if result.returncode < 0 or result.returncode > 127:
        raise click.ClickException(f"git merge-file failed: {result.stderr.decode().strip()}")
    return result.stdout, result.returncode == 0


def _refuse_a_newer_record(record: ProjectRecord) -> None:
    try:
        recorded = Version(record.stackkit_version)
    except InvalidVersion:
        raise click.ClickException(
            f"{RECORD}: {record.stackkit_version!r} is not a stackkit version"
        ) from None
    if recorded > Version(__version__):
        raise click.ClickException(
            f"the project was generated by stackkit {recorded}, newer than the installed "
            f"{__version__}: install that version or a later one first"
        )


def _blocked(root: Path, paths: set[PurePosixPath]) -> dict[PurePosixPath, str]:
    """Paths the upgrade must not write through: a folder or a link of the user's."""
    blocked = {}
    for path in paths:
        target = root.joinpath(*path.parts)
        parents = [root.joinpath(*path.parts[:n]) for n in range(1, len(path.parts))]
        if target.is_symlink() or any(parent.is_symlink() for parent in parents):
            blocked[path] = "a symbolic link of yours: not followed, not written"
        elif target.exists() and not target.is_file():
            blocked[path] = "something of yours that is not a file is in the way"
        elif any(parent.exists() and not parent.is_dir() for parent in parents):
            blocked[path] = "a file of yours is where the template has a folder"
    return blocked


def _git() -> str:
    git = shutil.which("git")
    if git is None:
        raise click.ClickException("stackkit upgrade needs git on PATH (it merges with it)")
    return git


def _refuse_uncommitted_changes(git: str, root: Path) -> None:
    # git, found on PATH, with options of our own; the project's folder only (it may be
    # one folder of a larger repository).
    result = subprocess.run(  # noqa: S603
        [git, "status", "--porcelain", "--", "."], cwd=root, capture_output=True, text=True,
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
        try:
            if change.action == "remove":
                target.unlink()
            elif change.content is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(change.content)
        except OSError as error:
            raise click.ClickException(
                f"cannot write {change.path}: {error.strerror}; files before it are "
                "upgraded and the others not (`git checkout .` undoes it all)"
            ) from None


def _print_diff(root: Path, changes: list[Change]) -> None:
    for change in changes:
        if change.content is None and change.action != "remove":
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


def _report(changes: list[Change], old_version: str, *, dry_run: bool) -> None:
    """One line per file (plain, unwrapped: scripts and reviews read it)."""
    if not changes:
        click.echo(f"Up to date: the project matches stackkit {__version__}'s template.")
        return
    verbs = {
        "update": "updated", "merge": "merged", "conflict": "CONFLICT", "add": "added",
        "remove": "removed", "keep": "kept",
    }  # fmt: skip
    heading = "Would change" if dry_run else "Upgraded"
    click.echo(f"{heading} from stackkit {old_version} to {__version__}:")
    for change in changes:
        note = f" ({change.note})" if change.note else ""
        click.echo(f"  {verbs[change.action]:<9} {change.path}{note}")


def _plain_file(root: Path, path: PurePosixPath) -> bool:
    target = root.joinpath(*path.parts)
    return target.is_file() and not target.is_symlink()
