"""`ServerProcess`: a test server run as a child process, on a port it keeps across restarts."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar, Self

from stackkit.testing.services import ServiceUnavailable, find_free_port, wait_until

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["ServerProcess", "ThrowawayServer"]

_PORT_ATTEMPTS = 3
_STOP_TIMEOUT = 10.0


# Run beside each server: once the test process is gone (killed, so that no cleanup
# ran), kill the server and delete its folder, so that no orphan outlives the run.
_WATCHDOG = """
import os, shutil, signal, sys, time
parent, server, folder = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
while os.getppid() == parent:
    time.sleep(0.5)
try:
    os.kill(server, signal.SIGKILL)
except ProcessLookupError:
    pass
time.sleep(0.5)
shutil.rmtree(folder, ignore_errors=True)
"""


class _ExitedEarly(ServiceUnavailable):
    """The server process exited before it became ready (often: its port was taken)."""


class ThrowawayServer:
    """A server the tests start and stop, from binaries that `locate()` checks; a
    context manager that starts it and stops it again."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @classmethod
    def locate(cls) -> None:
        """Check that the binaries exist.

        Raises:
            ServiceUnavailable: naming the missing binary.
        """
        raise NotImplementedError

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this cannot be started here (a missing binary), or None if it can."""
        try:
            cls.locate()
        except ServiceUnavailable as exc:
            return str(exc)
        return None

    @classmethod
    def available(cls) -> bool:
        """Whether the binaries it needs are installed."""
        return cls.unavailable_reason() is None


class ServerProcess(ThrowawayServer, ABC):
    """A server run as a child process in a temporary folder, on a port of its own.

    The port is chosen once (or given) and kept, so that :meth:`stop` then
    :meth:`start`, or :meth:`restart`, bring the server back at the same URL.
    Use it as a context manager, or call :meth:`stop` when done.
    """

    #: Short name, used in folder names and messages.
    name: ClassVar[str]
    #: Seconds allowed for the server to answer after launch.
    startup_timeout: ClassVar[float] = 30.0
    #: Signal that asks the server for a clean, quick shutdown.
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM

    def __init__(self, port: int | None = None) -> None:
        """Prepare a server on ``port``, or on a free port picked at first start."""
        self._port = port
        self._port_kept = port is not None
        self._directory: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @classmethod
    @abstractmethod
    def locate(cls) -> None:
        """Check that the server's binaries exist.

        Raises:
            ServiceUnavailable: naming the missing binary.
        """

    @property
    def port(self) -> int:
        """The TCP port; known once the server has been started."""
        if self._port is None:
            raise RuntimeError(f"{self.name} has no port before start()")
        return self._port

    @property
    @abstractmethod
    def url(self) -> str:
        """The URL clients use to reach the server."""

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start the server and wait until it answers; do nothing if it runs.

        Raises:
            ServiceUnavailable: when a binary is missing or the server does not
                come up in time; everything started so far is cleaned up.
        """
        if self.running:
            return self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self._port_kept = True
        return self

    def stop(self, *, keep_data: bool = False) -> None:
        """Stop the server and delete its folder (unless `keep_data`, so that a later
        `start()` brings the same data back); safe to call more than once."""
        self._terminate()
        if self._directory is not None and not keep_data:
            shutil.rmtree(self._directory)
            self._directory = None

    def kill(self) -> None:
        """Kill the server process at once (SIGKILL), as a crash would. Its folder and
        port are kept: `start()` brings it back, with what it had written to disk."""
        self._terminate(signal.SIGKILL)

    def restart(self) -> Self:
        """Stop the server process and start it again on the same port and folder.

        PostgreSQL keeps its databases across a restart; Redis, which runs
        without persistence, comes back empty.
        """
        self._terminate()
        return self.start()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} port={self._port} {state}>"

    @abstractmethod
    def _prepare(self, directory: Path) -> None:
        """Fill the new, empty ``directory`` with what the server needs (run once)."""

    @abstractmethod
    def _command(self, directory: Path, port: int) -> list[str]:
        """The command line that runs the server in the foreground."""

    @abstractmethod
    def _answers(self) -> bool:
        """Whether the server answers a client on :attr:`url` right now."""

    def _popen_options(self) -> dict[str, Any]:
        """Extra keyword arguments for :class:`subprocess.Popen` (e.g. another user)."""
        return {}

    def _start(self) -> None:
        self.locate()
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix=f"stackkit-{self.name}-"))
            self._prepare(self._directory)
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            if self._port is None:
                self._port = find_free_port()
            try:
                self._launch(self._directory, self._port)
            except _ExitedEarly:
                if self._port_kept or attempt == _PORT_ATTEMPTS:
                    raise
                self._terminate()
                self._port = None
            else:
                return

    def _launch(self, directory: Path, port: int) -> None:
        self._log = (directory / f"{self.name}.log").open("ab")
        # The argv comes from _command(): located binaries and our own options, no shell.
        self._process = subprocess.Popen(  # noqa: S603
            self._command(directory, port),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=directory,
            **self._popen_options(),
        )
        self._watchdog = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [
                sys.executable,
                "-c",
                _WATCHDOG,
                str(os.getpid()),
                str(self._process.pid),
                str(directory),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(
                self._ready,
                timeout=self.startup_timeout,
                description=f"{self.name} did not answer on port {port}",
            )
        except _ExitedEarly:
            raise
        except ServiceUnavailable as exc:
            raise ServiceUnavailable(f"{exc}:\n{self._log_tail()}") from None

    def _ready(self) -> bool:
        if not self.running:
            raise _ExitedEarly(f"{self.name} exited during startup:\n{self._log_tail()}")
        return self._answers()

    def _terminate(self, stop_signal: signal.Signals | None = None) -> None:
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            watchdog.kill()
            watchdog.wait()
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(stop_signal or self.stop_signal)
            try:
                process.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self, size: int = 2000) -> str:
        if self._directory is None:
            return ""
        text = (self._directory / f"{self.name}.log").read_bytes()[-size:]
        return text.decode(errors="replace")
