"""`TurnPipeline`: the Redis commands of one turn of the event loop, sent as one pipeline.

Under load, one turn of the event loop resumes many requests, and each goes on to
its next command: the session check, the cache lookup. Sent one by one, each costs
a round trip and a pass through redis-py's connection pool (about 30 us of CPU
each, more than the rest of a cached request); gathered, one pipeline serves them
all. A command issued alone still goes at once, as itself: one round trip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from stackkit.cache.store import StoreUnavailable

__all__ = ["TurnPipeline"]

_Pending = list[tuple[tuple[Any, ...], "asyncio.Future[Any]"]]


class TurnPipeline:
    """Gathers `call()`s made in one turn of the event loop into one pipeline.

    Args:
        client: the open client (read at each send, so that a reopened store is used).
    """

    def __init__(self, client: Callable[[], Redis]) -> None:
        self.client = client
        self._pending: _Pending = []
        self._sending: set[asyncio.Task[None]] = set()

    async def call(self, *command: Any) -> Any:
        """The reply to `command` (`"GET", key`), as `execute_command` gives it.

        Raises:
            What redis-py raises for it: an error reply of its own, or the pipeline's
            failure (the server away), which fails every command of the turn.
        """
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        if not self._pending:
            # Its first step runs once the callbacks ready now have run: after the other
            # requests this turn resumes have issued their commands too.
            task = loop.create_task(self._send())
            self._sending.add(task)  # held until done: the loop keeps only a weak reference
            task.add_done_callback(self._sending.discard)
        self._pending.append((command, answer))
        return await answer

    async def _send(self) -> None:
        batch, self._pending = self._pending, []
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
            _fail(batch, StoreUnavailable("cancelled"))
            raise
        for (_, answer), result in zip(batch, results, strict=True):
            if answer.done():  # its request was cancelled meanwhile
                continue
            if isinstance(result, Exception):
                answer.set_exception(result)
            else:
                answer.set_result(result)


def _fail(batch: _Pending, error: Exception) -> None:
    for _, answer in batch:
        if not answer.done():
            answer.set_exception(error)
