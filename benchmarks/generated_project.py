"""A generated project to measure: `stackkit new`, a `note title:str body:text` resource,
migrated, on the embedded defaults or on PostgreSQL + Redis, with a user and 10 notes.

Shared by `generated_app.py` (a served app under wrk) and `request_path.py` (the app
called in-process). The project is made with the CLI, as a user makes it; its
scratch PostgreSQL database and Redis keys (under a prefix of the run) are removed
by `Project.remove()`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from harness import remove_keys
from sqlalchemy.engine import make_url

__all__ = ["EMAIL", "PASSWORD", "Project", "make_project"]

EMAIL = "bench@example.com"
PASSWORD = "a long bench password 42"  # noqa: S105 - a scratch account


@dataclass
class Project:
    root: Path
    """The project's folder (its `.env` holds the settings)."""
    package: str
    database_url: str | None = None
    """The scratch PostgreSQL database, when the project runs on one."""
    redis_url: str | None = None
    redis_prefix: str = ""
    redis_cluster: bool = False
    """Whether `redis_url` names a node of a Redis Cluster."""
    environment: dict[str, str] = field(default_factory=dict)
    """Settings the runs add to `.env`."""

    def stackkit(self, *arguments: str, timeout: float = 120) -> str:
        """Run the CLI in the project; its output."""
        command = [str(Path(sys.executable).with_name("stackkit")), *arguments]
        result = subprocess.run(
            command,
            cwd=self.root,
            env={**os.environ, **self.environment},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode:
            raise SystemExit(f"stackkit {' '.join(arguments)} failed:\n{result.stderr}")
        return result.stdout

    def remove(self) -> None:
        if self.redis_url:
            remove_keys(self.redis_url, self.redis_prefix, cluster=self.redis_cluster)
        if self.database_url:
            _drop_database(self.database_url)
        shutil.rmtree(self.root.parent, ignore_errors=True)


def make_project(
    postgres_url: str | None = None,
    redis_url: str | None = None,
    *,
    redis_cluster: bool = False,
    **settings: str,
) -> Project:
    """A new migrated project; on PostgreSQL and Redis (a Redis Cluster, given
    `redis_cluster`) when their URLs are given (a scratch database is made on that
    server), else on SQLite and in-process stores. `settings` are more `STACKKIT_*`
    settings for its `.env` (name=value)."""
    folder = Path(tempfile.mkdtemp(prefix="stackkit-bench-"))
    project = Project(folder / "benchapp", "benchapp")
    try:
        subprocess.run(
            [str(Path(sys.executable).with_name("stackkit")), "new", "benchapp"],
            cwd=folder, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        project.stackkit("generate", "resource", "note", "title:str", "body:text")
        lines = []
        if postgres_url:
            project.database_url = _create_database(postgres_url)
            lines.append(f"DATABASE_URL={project.database_url}")
        if redis_url:
            project.redis_url, project.redis_cluster = redis_url, redis_cluster
            project.redis_prefix = f"stackkit-bench-{uuid.uuid4().hex[:8]}:"
            lines += [f"REDIS_URL={redis_url}", f"STACKKIT_CACHE_PREFIX={project.redis_prefix}"]
            if redis_cluster:
                lines.append("STACKKIT_REDIS_CLUSTER=true")
        lines += [f"{name.upper()}={value}" for name, value in settings.items()]
        with (project.root / ".env").open("a", encoding="utf-8") as env:
            env.write("\n".join(["", *lines, ""]))
        project.stackkit("db", "upgrade")
    except BaseException:
        project.remove()
        raise
    return project


def _create_database(server_url: str) -> str:
    import psycopg

    name = f"stackkit_bench_{uuid.uuid4().hex[:8]}"
    url = make_url(server_url)
    with psycopg.connect(str(url.set(drivername="postgresql")), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return str(url.set(drivername="postgresql", database=name).render_as_string(False))


def _drop_database(database_url: str) -> None:
    import psycopg

    url = make_url(database_url)
    server = url.set(database="postgres").render_as_string(False)
    try:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    except psycopg.Error as error:
        print(f"warning: database {url.database} not dropped: {error}", file=sys.stderr)
