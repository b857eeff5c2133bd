"""Fixtures of the CLI tests: a minimal stackkit project to run commands in."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stackkit.db.migrations import init_migrations

# A DeclarativeBase of its own: the project's tables stay out of other tests' metadata.
ARTICLES = """
from sqlalchemy import MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from stackkit.db.model import NAMING_CONVENTION


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


metadata = Base.metadata


class Article(Base):
    __tablename__ = "articles"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100), unique=True)
"""


@dataclass(frozen=True)
class DemoProject:
    """A project written by `make_project`; the working directory is its root."""

    root: Path
    package: str
    database_url: str

    def write(self, module: str, source: str) -> Path:
        """Write `<package>/<module>.py`; the next import reads it afresh."""
        path = self.root / self.package / f"{module}.py"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        sys.modules.pop(f"{self.package}.{module}", None)
        return path


@pytest.fixture
def project_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the project's `.env`: none of this test run's environment wins."""
    for name in ("DATABASE_URL", "DATABASE_REPLICA_URLS", "REDIS_URL", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STACKKIT_ENV", "test")


@pytest.fixture
def make_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, project_environment: None
) -> Iterator[Callable[[str], DemoProject]]:
    """Write a minimal project using `DATABASE_URL` (in its `.env`), and go into it.

    The project has a package of a unique name (imported modules stay apart between
    tests, and are forgotten afterwards) holding `models.py` (an `articles` table)
    and an empty migrations folder.
    """
    packages: list[str] = []
    # Modules rewritten within a second: no stale bytecode of the older version.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)

    def make(database_url: str) -> DemoProject:
        package = f"demoapp_{uuid.uuid4().hex[:12]}"
        packages.append(package)
        root = tmp_path / package
        (root / package).mkdir(parents=True)
        (root / "pyproject.toml").write_text(
            f'[project]\nname = "{package}"\n\n[tool.stackkit]\npackage = "{package}"\n',
            encoding="utf-8",
        )
        (root / ".env").write_text(f"DATABASE_URL={database_url}\n", encoding="utf-8")
        project = DemoProject(root=root, package=package, database_url=database_url)
        project.write("__init__", "")
        project.write("models", ARTICLES)
        init_migrations(root / "migrations", metadata=f"{package}.models:metadata")
        monkeypatch.chdir(root)
        return project

    yield make
    for name in list(sys.modules):
        if name.partition(".")[0] in packages:
            del sys.modules[name]
