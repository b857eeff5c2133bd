"""`GeneratedAppServer`: a project made by `stackkit new`, served by `stackkit run`.

It goes through the CLI exactly as a user would, with the stackkit of the running
interpreter (`python -m stackkit`, so tox's own install):

    stackkit new e2eapp
    stackkit generate resource category name:str:index
    stackkit generate resource tag name:str:index
    stackkit generate resource note title:str:index:search body:text:optional:search \
        done:bool:default=false category:ref=Category:optional tags:refs=Tag \
        photo:image=2MB:optional
    stackkit db upgrade
    stackkit user create --admin --password-stdin admin@example.com
    stackkit run --port <free port>

The app serves the frontend bundle shipped with stackkit, or, when given one, a
build of your own (the folder `npm run build` writes), copied to the project's
`frontend/dist/`: a way to try the UI's sources before the bundle is updated.

The commands run with PATH holding only the interpreter's folder, so without
Node.js: the UI the tests drive is what a server without Node.js serves.

The project keeps the defaults `stackkit new` writes in its `.env`: SQLite, no
Redis (the in-memory cache, sessions and rate limits), the refresh cookie
`Secure` (Chromium sends Secure cookies to http://127.0.0.1, a secure context).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from stackkit.testing import ServerProcess, ServiceUnavailable
from stackkit.testing.settings import is_setting

__all__ = ["Account", "GeneratedAppServer", "healthy", "served"]

PROJECT = "e2eapp"
RESOURCES = [
    ["category", "name:str:index"],
    ["tag", "name:str:index"],
    ["note", "title:str:index:search", "body:text:optional:search", "done:bool:default=false",
     "category:ref=Category:optional", "tags:refs=Tag", "photo:image=2MB:optional"],
]  # fmt: skip
_CLI_TIMEOUT = 60.0
_LOGS = shutil.ignore_patterns("*.log")


@dataclass(frozen=True)
class Account:
    """A user's credentials."""

    email: str
    password: str


class GeneratedAppServer(ServerProcess):
    """A freshly generated project with a `notes` resource and an admin, served over
    HTTP on 127.0.0.1. Raises `ServiceUnavailable` from `start()` with the output of
    the command that failed, or the server's output when it does not come up."""

    name = PROJECT
    startup_timeout: ClassVar[float] = 30.0

    def __init__(
        self,
        admin: Account,
        *,
        frontend: Path | None = None,
        settings: Mapping[str, str] | None = None,
        copy_of: Path | None = None,
    ) -> None:
        """Raises `ValueError` for a `frontend` folder without an `index.html`.

        `settings` are environment variables of the app's own (`DATABASE_URL`,
        `REDIS_URL`, `STACKKIT_...`), over the project's `.env`. With `copy_of`, the
        server runs a copy of that project, already generated and migrated by another
        server on the same database: a second process of one app.
        """
        super().__init__()
        if frontend is not None and not (frontend / "index.html").is_file():
            raise ValueError(f"{frontend} is no frontend build: it has no index.html")
        self.admin = admin
        self.frontend = frontend
        self.settings = dict(settings or {})
        self.copy_of = copy_of

    @classmethod
    def locate(cls) -> None:
        """Nothing to find: the stackkit CLI is the running interpreter's."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def project(self) -> Path:
        """The generated project's folder (with its `.env`); it exists once started."""
        if self._directory is None:
            raise RuntimeError(f"{self.name} has not been started")
        return self._directory

    def output(self, size: int = 4000) -> str:
        """The last `size` bytes of the server's output."""
        return self._log_tail(size)

    def _prepare(self, directory: Path) -> None:
        if self.copy_of is not None:
            shutil.copytree(self.copy_of, directory, dirs_exist_ok=True, ignore=_LOGS)
            return
        self._cli(directory, "new", PROJECT, "--directory", str(directory))
        if self.frontend is not None:
            shutil.copytree(self.frontend, directory / "frontend" / "dist")
        for resource in RESOURCES:
            self._cli(directory, "generate", "resource", *resource)
        self._cli(directory, "db", "upgrade")
        self._cli(
            directory, "user", "create", "--admin", "--password-stdin", self.admin.email,
            stdin=self.admin.password,
        )  # fmt: skip

    def _command(self, directory: Path, port: int) -> list[str]:
        command = [sys.executable, "-m", "stackkit", "run", "--port", str(port)]
        return command if self.copy_of is None else [*command, "--no-migrate"]

    def _popen_options(self) -> dict[str, Any]:
        return {"env": self._environment()}

    def _answers(self) -> bool:
        return healthy(self.url)

    def _environment(self) -> dict[str, str]:
        # No setting of the shell that runs the tests: the project's `.env` and the
        # server's own settings say what it uses.
        env = {k: v for k, v in os.environ.items() if not is_setting(k)}
        env.update(self.settings)
        # Only the interpreter's own folder on PATH: no Node.js, as on a server that
        # runs the app, which serves the UI without it.
        env["PATH"] = str(Path(sys.executable).parent)
        if self._port is not None:
            # Links in emails (password reset) point at this server.
            env["STACKKIT_PUBLIC_URL"] = self.url
        # Each browser context of the tests is a visitor of its own: it sends an
        # `X-Forwarded-For` address of its own, which the rate limiter believes from
        # 127.0.0.1. Otherwise the whole suite would share one address and run into
        # the per-address limits of sign-ins (10/minute) and registrations (5/minute).
        env["STACKKIT_TRUSTED_PROXIES"] = "127.0.0.1"
        return env

    def _cli(self, directory: Path, *arguments: str, stdin: str | None = None) -> None:
        command = [sys.executable, "-m", "stackkit", *arguments]
        try:
            done = subprocess.run(
                command,
                cwd=directory,
                env=self._environment(),
                input=stdin,
                capture_output=True,
                text=True,
                timeout=_CLI_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise ServiceUnavailable(
                f"`stackkit {' '.join(arguments)}` did not finish within {_CLI_TIMEOUT:g} s"
            ) from error
        if done.returncode != 0:
            raise ServiceUnavailable(
                f"`stackkit {' '.join(arguments)}` exited with {done.returncode}:\n"
                f"{done.stdout}{done.stderr}"
            )


def healthy(url: str) -> bool:
    """Whether `url/healthz` answers 200 right now."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def served(
    server: GeneratedAppServer,
    config: pytest.Config | None = None,
    key: pytest.StashKey[GeneratedAppServer] | None = None,
) -> Iterator[GeneratedAppServer]:
    """`server`, started and stopped after; kept in `config.stash[key]` meanwhile (when
    given), for the reports of failed tests. A server that does not start fails the
    test, or the session, in one line."""
    try:
        server.start()
    except ServiceUnavailable as error:
        pytest.fail(f"the generated app did not start: {error}", pytrace=False)
    if config is not None and key is not None:
        config.stash[key] = server
    try:
        yield server
    finally:
        if config is not None and key is not None:
            del config.stash[key]
        server.stop()
