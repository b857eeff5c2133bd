"""`TurnPipeline`: the Redis commands of one turn of the event loop, sent as one pipeline.

Under load, one turn of the event loop resumes many requests, and each goes on to
its next command: the session check, the cache lookup. Sent one by one, each costs
a round trip and a pass through redis-py's connection pool (about 30 us of CPU
each, more than the rest of a cached request); gathered, one pipeline serves them
all. A command issued alone still goes at once, as itself: one round trip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from stackkit.cache.store import StoreUnavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["Reply", "TurnPipeline", "seen"]

T = TypeVar("T")
U = TypeVar("U")

_Pending = list[tuple[tuple[Any, ...], "asyncio.Future[Any]"]]


class TurnPipeline:
    """Gathers `call()`s made in one turn of the event loop into one pipeline.

    Args:
        client: the open client (read at each send, so that a reopened store is used).
    """

    def __init__(self, client: Callable[[], Redis]) -> None:
        self.client = client
        self._pending: _Pending = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sending: set[asyncio.Task[None]] = set()

    def submit(self, *command: Any) -> asyncio.Future[Any]:
        """Put `command` in this turn's pipeline now; its reply (or error) is the
        future's."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        if self._pending and self._loop is not loop:
            # Left by a loop that stopped before sending them: nobody waits for those.
            self._pending = []
        if not self._pending:
            # Sent once the callbacks ready now have run, and those they make ready: after
            # the other requests this turn resumes have issued their commands too.
            self._loop = loop
            loop.call_soon(self._start, loop)
        self._pending.append((command, answer))
        return answer

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self._pending = self._pending, []
        task = loop.create_task(self._send(batch))
        self._sending.add(task)  # held until done: the loop keeps only a weak reference
        task.add_done_callback(self._sending.discard)
        task.add_done_callback(partial(_told_if_cancelled, batch))

    async def _send(self, batch: _Pending) -> None:
        try:
            if len(batch) == 1:
                results = [await self.client().execute_command(*batch[0][0])]  # type: ignore[no-untyped-call]
            else:
                pipeline = self.client().pipeline(transaction=False)
                for command, _ in batch:
                    pipeline.execute_command(*command)
                results = await pipeline.execute(raise_on_error=False)
        except Exception as error:
            _fail(batch, error)
            return
        except BaseException:  # cancelled (the loop is closing): every caller is told
            _fail(batch, _cancelled())
            raise
        for (_, answer), result in zip(batch, results, strict=True):
            if answer.done():  # its request was cancelled meanwhile
                continue
            if isinstance(result, Exception):
                answer.set_exception(result)
            else:
                answer.set_result(result)


class Reply(Generic[T]):
    """A command's reply, awaited later: what `then` makes of it, the error `errors`
    makes of redis-py's. The command left with its turn's pipeline; awaiting only
    collects the answer (no task is made for it)."""

    __slots__ = ("_errors", "_future", "_then")

    def __init__(
        self,
        future: asyncio.Future[Any],
        then: Callable[[Any], T],
        errors: Callable[[Exception], Exception],
    ) -> None:
        self._future, self._then, self._errors = future, then, errors

    def then(self, step: Callable[[T], U]) -> Reply[U]:
        """This reply, with `step` applied to what it gives."""
        first = self._then
        return Reply(self._future, lambda value: step(first(value)), self._errors)

    def __await__(self) -> Generator[Any, None, T]:
        try:
            value = yield from self._future.__await__()
        except Exception as error:
            translated = self._errors(error)
            if translated is error:
                raise
            raise translated from error
        return self._then(value)


def seen(answer: asyncio.Future[Any]) -> None:
    """A done callback: the future's error counts as retrieved (a reply nobody awaited
    logs nothing)."""
    if not answer.cancelled():
        answer.exception()


def _told_if_cancelled(batch: _Pending, task: asyncio.Task[None]) -> None:
    """A send cancelled before it ran (the loop closing), or failed outside its own
    handling: its callers are told all the same, never left waiting."""
    if task.cancelled():
        _fail(batch, _cancelled())
    elif task.exception() is not None:
        _fail(batch, StoreUnavailable(f"the pipeline failed: {task.exception()!r}"))


def _cancelled() -> StoreUnavailable:
    # Slow, not away: a check that fails open for an outage must not pass on this.
    return StoreUnavailable("cancelled", slow=True)


def _fail(batch: _Pending, error: Exception) -> None:
    for _, answer in batch:
        if not answer.done():
            answer.set_exception(error)
