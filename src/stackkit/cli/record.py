"""What a project remembers of how it was generated, for `stackkit upgrade`.

    .stackkit/project.json   the stackkit version, the answers given to `stackkit new`,
                             and every `stackkit generate resource` run, in order
    .stackkit/base/...       each generated file as stackkit wrote it (the merge base)

`stackkit new` writes both; `stackkit generate resource` adds to them;
`stackkit upgrade` renders the project again with the installed stackkit and the
recorded answers, merges the difference into the project's files, and records the
new render as the base. The user's `.env` (it holds the secret key) and the
migrations of resources are never tracked: they are the project's own from the start.
Commit `.stackkit/` with the project.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

import click

__all__ = [
    "BASE",
    "RECORD",
    "ProjectRecord",
    "ResourceRecord",
    "read_base",
    "snapshot",
    "write_base",
]

RECORD = PurePosixPath(".stackkit/project.json")
BASE = PurePosixPath(".stackkit/base")
_FORMAT = 1
# Never tracked: the record itself, version control, the secret key's file, and what
# tools make in a project (caches, environments, installed packages, builds).
_SKIPPED_NAMES = frozenset(
    {".stackkit", ".git", ".env", ".venv", "venv", ".tox", "node_modules", "dist",
     "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", "backups"}
)  # fmt: skip
_SKIPPED_SUFFIXES = (".pyc", ".db", ".db-wal", ".db-shm", ".db-journal", ".log")


@dataclass(frozen=True)
class ResourceRecord:
    """One `stackkit generate resource NAME FIELDS...`, as typed."""

    name: str
    fields: list[str]
    display: str | None = None
    """`--display`, when given."""


@dataclass
class ProjectRecord:
    """`.stackkit/project.json`."""

    stackkit_version: str
    name: str
    database: str
    resources: list[ResourceRecord] = field(default_factory=list)

    @classmethod
    def load(cls, root: Path) -> ProjectRecord:
        """Raises `click.ClickException` when the file is missing or not a record."""
        path = root / RECORD
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                stackkit_version=str(data["stackkit_version"]),
                name=str(data["name"]),
                database=str(data["database"]),
                resources=[
                    ResourceRecord(
                        str(r["name"]),
                        [str(f) for f in r["fields"]],
                        None if r.get("display") is None else str(r["display"]),
                    )
                    for r in data["resources"]
                ],
            )
        except FileNotFoundError:
            raise click.ClickException(
                f"{RECORD} is missing: this project was not made by `stackkit new` "
                "(or before it kept a record), so it cannot be upgraded"
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise click.ClickException(f"{RECORD} is not readable: {error}") from None

    def save(self, root: Path) -> None:
        path = root / RECORD
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"format": _FORMAT, **asdict(self)}
        for resource in data["resources"]:
            if resource["display"] is None:
                del resource["display"]  # as records were before `--display`
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def snapshot(root: Path) -> dict[PurePosixPath, bytes]:
    """The tracked files under `root`: every file but the skipped ones, by relative path."""
    files: dict[PurePosixPath, bytes] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in _SKIPPED_NAMES for part in relative.parts):
            continue
        if path.is_file() and not path.name.endswith(_SKIPPED_SUFFIXES):
            files[PurePosixPath(*relative.parts)] = path.read_bytes()
    return files


def read_base(root: Path) -> dict[PurePosixPath, bytes]:
    """The files of `.stackkit/base/`, by the path they have in the project."""
    base = root / BASE
    if not base.is_dir():
        raise click.ClickException(f"{BASE}/ is missing: the project cannot be upgraded")
    return {
        PurePosixPath(*path.relative_to(base).parts): path.read_bytes()
        for path in sorted(base.rglob("*"))
        if path.is_file()
    }


def write_base(root: Path, files: dict[PurePosixPath, bytes]) -> None:
    """Make `.stackkit/base/` hold exactly `files`."""
    base = root / BASE
    for path in sorted(base.rglob("*"), reverse=True) if base.exists() else []:
        relative = PurePosixPath(*path.relative_to(base).parts)
        if path.is_file() and relative not in files:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    for relative, content in files.items():
        target = base.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != content:
            target.write_bytes(content)
