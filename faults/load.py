"""`Load`: threads sending requests to the app while a drill breaks something.

Each worker repeats its step (one request) until the load is stopped, or until the
load has sent `max_requests` or run `max_seconds`: a drill can never hammer the
machine for longer than it said. Every answer is kept as a `Sample`, with when it
started and how long it took, for the drill to check afterwards.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from faults.client import Answer
from stackkit.testing import wait_until

__all__ = ["Load", "Sample", "Step", "percentile"]

Step = Callable[[], tuple[str, Answer]]
"""One request: its kind (`"list"`, `"create"`...) and the app's answer."""

NO_ANSWER = 0
"""`Sample.status` of a request that got no HTTP answer (refused, reset, timed out), or
of a step that failed on the answer it got (its kind then says why)."""


@dataclass(frozen=True)
class Sample:
    kind: str
    started: float
    """`time.monotonic()` when the request was sent."""
    seconds: float
    status: int
    answer: Answer | None

    def header(self, name: str) -> str | None:
        return None if self.answer is None else self.answer.header(name)


class Load:
    """Runs one thread per step; a context manager that stops them on exit."""

    def __init__(self, steps: Sequence[Step], *, max_requests: int, max_seconds: float) -> None:
        self.steps = steps
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self._samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work, args=(s,)) for s in steps]
        self._deadline = 0.0

    def __enter__(self) -> Self:
        self._deadline = time.monotonic() + self.max_seconds
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether a worker is still sending (none is once a bound is reached)."""
        return any(thread.is_alive() for thread in self._threads)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def samples(self, since: float = float("-inf"), kind: str | None = None) -> list[Sample]:
        """The answers to requests sent at `since` or later (of one `kind`, if given)."""
        with self._lock:
            return [
                s for s in self._samples if s.started >= since and (kind is None or s.kind == kind)
            ]

    def wait_for(self, count: int, *, since: float = float("-inf"), timeout: float = 20) -> None:
        """Return once `count` requests sent at `since` or later have their answer.

        Raises:
            ServiceUnavailable: not within `timeout` seconds (or the load stopped first).
        """
        wait_until(
            lambda: len(self.samples(since)) >= count or not self.running,
            timeout=timeout,
            description=f"the load did not get {count} answers",
        )
        assert len(self.samples(since)) >= count, "the load stopped at its bounds first"

    def _work(self, step: Step) -> None:
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            with self._lock:
                if len(self._samples) >= self.max_requests:
                    return
            started = time.monotonic()
            try:
                kind, answer = step()
            except OSError:
                kind, answer = "no answer", None
            except Exception as error:  # a step that choked on an answer: a failure too
                kind, answer = f"failed: {error!r}"[:200], None
            sample = Sample(
                kind,
                started,
                time.monotonic() - started,
                NO_ANSWER if answer is None else answer.status,
                answer,
            )
            with self._lock:
                self._samples.append(sample)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]
