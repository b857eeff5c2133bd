"""`RedisStore` and `RedisClusterStore`: the store shared by every worker of an app.

Each operation is one round trip (a command, a pipeline or a script), with
short timeouts and no retries: a cache that waits for a Redis that is away
slows every request, so an unanswered command raises `StoreUnavailable` at
once and the caller decides (the response cache serves uncached).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stackkit.cache.redis_batch import Reply, TurnPipeline, seen
from stackkit.cache.store import Store, StoreUnavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

__all__ = ["RedisClusterStore", "RedisStore", "one_slot", "redis_errors", "unavailable"]

logger = logging.getLogger("stackkit.cache")


@dataclass(frozen=True)
class RedisErrors:
    """redis-py's errors that stackkit tells apart."""

    down: tuple[type[BaseException], ...]
    """What redis-py raises when the server cannot serve: away, slow, full (`OOM` under
    `noeviction`), a replica since a failover (`READONLY`), a cluster without a slot's
    node (`CLUSTERDOWN`, `TRYAGAIN`) or with no node answering; as opposed to a bad
    command."""
    timeout: type[BaseException]
    reply: type[BaseException]
    """An error reply of the server."""
    no_script: type[BaseException]
    """`NOSCRIPT`: the server does not have the script (it restarted)."""


@functools.cache
def redis_errors() -> RedisErrors:
    """redis-py's errors, imported on first use: an app without Redis never loads
    redis-py (a twentieth of a second at start-up)."""
    from redis.exceptions import (
        ClusterDownError,
        NoScriptError,
        OutOfMemoryError,
        ReadOnlyError,
        RedisClusterException,
        ResponseError,
        TryAgainError,
    )
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    down = (
        RedisConnectionError, RedisTimeoutError, OSError, OutOfMemoryError, ReadOnlyError,
        ClusterDownError, TryAgainError, RedisClusterException,
    )  # fmt: skip
    return RedisErrors(down, RedisTimeoutError, ResponseError, NoScriptError)


_DOWN_REPLIES = ("MISCONF", "MASTERDOWN", "LOADING")
"""Error replies of a server that cannot serve for now: it cannot write its snapshot
(`MISCONF`), its primary is away, it is loading its data."""
_NO_CONNECTION = "No connection available"
"""redis-py's pool, when every connection stayed busy past the timeout."""


def one_slot(keys: Sequence[str]) -> bool:
    """Whether `keys` (prefixed) all live in one slot of a cluster: what one script, or
    one `MGET`, may reach there."""
    from redis.crc import key_slot

    return len({key_slot(key.encode()) for key in keys}) <= 1


def unavailable(error: BaseException) -> StoreUnavailable | None:
    """The `StoreUnavailable` that `error` from redis-py means, or None for a bug (a bad
    command). It is `slow` when the server may be up but did not answer in time: a
    timeout, or every pooled connection busy."""
    errors = redis_errors()
    down_reply = isinstance(error, errors.reply) and str(error).startswith(_DOWN_REPLIES)
    if not (isinstance(error, errors.down) or down_reply):
        return None
    slow = isinstance(error, errors.timeout) or _NO_CONNECTION in str(error)
    return StoreUnavailable(f"Redis did not answer: {error}", slow=slow)


_INCR_WITH_TTL = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if value == tonumber(ARGV[1]) and ARGV[2] ~= '' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
"""
_DELETE_IF_EQUALS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisStore(Store):
    """A store on one Redis server (or a primary behind a proxy or Sentinel).

    Args:
        url: `redis://`, `rediss://` or `unix://` URL.
        prefix: put before every key (use one per app and purpose).
        timeout: seconds to connect and to wait for any one reply.
        max_connections: the size of the connection pool.
        name: its key in `/readyz` and `app.state.backends` (`redis`); give another
            to a second Redis of the same app (`redis-sessions`).
    """

    name = "redis"
    shared = True
    persistent = True  # as far as the server's own settings keep data
    scripts = True

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "",
        timeout: float = 0.5,
        max_connections: int = 100,
        name: str | None = None,
    ) -> None:
        super().__init__(prefix=prefix)
        if name is not None:
            self.name = name
        self.url = url
        self.timeout = timeout
        self.max_connections = max_connections
        self._client: Any = None
        self._reads = TurnPipeline(lambda: self.client)
        """Where `get` and `get_many` go: one pipeline per turn of the event loop."""

    @property
    def client(self) -> Redis:
        if self._client is None:
            raise RuntimeError(
                f"{type(self).__name__} is not open: use it inside the app's lifespan"
            )
        return self._client  # type: ignore[no-any-return]

    def _connect(self) -> Any:
        from redis.asyncio import BlockingConnectionPool, Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # A blocking pool: at the limit, a command waits (up to the timeout) for a free
        # connection instead of failing at once.
        pool = BlockingConnectionPool.from_url(
            self.url,
            max_connections=self.max_connections,
            timeout=self.timeout,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), retries=0),
            health_check_interval=30,
        )
        return Redis.from_pool(pool)  # the client owns the pool: aclose() closes it

    async def open(self) -> None:
        if self._client is None:
            self._client = self._connect()
            self._incr = self._client.register_script(_INCR_WITH_TTL)
            self._delete_if_equals = self._client.register_script(_DELETE_IF_EQUALS)

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    @asynccontextmanager
    async def _answering(self) -> AsyncIterator[None]:
        try:
            yield
        except Exception as error:
            down = unavailable(error)
            if down is None:
                raise
            raise down from error

    def send(self, *command: Any) -> Awaitable[Any]:
        """One raw command (keys already prefixed), sent with the pipeline of this turn
        of the event loop; redis-py's errors as they are."""
        return self._reads.submit(*command)

    def soon(self, *command: Any) -> Reply[Any]:
        """Send one raw command (keys already prefixed) with this turn's pipeline now,
        and await its reply later: how a middleware starts a read that another takes.
        redis-py's errors come out as `StoreUnavailable` when Redis cannot serve.
        """
        future = self._reads.submit(*command)
        future.add_done_callback(seen)  # it may never be awaited
        return Reply(future, _same, _as_unavailable)

    def get_soon(self, key: str) -> Reply[bytes | None]:
        """`get`, sent now (`soon`)."""
        return self.soon("GET", self.key(key)).then(_as_bytes)

    def get_many_soon(self, keys: Sequence[str]) -> Reply[list[bytes | None]]:
        """`get_many`, sent now (`soon`)."""
        reply = self.soon("MGET", *(self.key(k) for k in keys))
        return reply.then(lambda values: [_as_bytes(v) for v in values])

    async def get(self, key: str) -> bytes | None:
        async with self._answering():
            return _as_bytes(await self.send("GET", self.key(key)))

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        async with self._answering():
            values = await self.send("MGET", *(self.key(k) for k in keys))
        return [_as_bytes(v) for v in values]

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        async with self._answering():
            await self.client.set(self.key(key), value, px=_ms(ttl))

    async def replace(self, key: str, value: bytes, *, ttl: float | None = None) -> bool:
        async with self._answering():
            return bool(await self.client.set(self.key(key), value, px=_ms(ttl), xx=True))

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        async with self._answering():
            return int(await self.client.delete(*(self.key(k) for k in keys)))

    async def clear(self, *, batch_size: int = 500) -> int:
        """Delete every key under this store's prefix, on every node of a cluster (found
        with `SCAN`, removed with `UNLINK` in batches, so the server never blocks); return
        how many. What a restore of the database calls: no cached answer, session or mark
        from before it survives.

        Raises:
            ValueError: the store has no prefix, and would delete every key of the server.
            StoreUnavailable: Redis did not answer.
        """
        if not self.prefix:
            raise ValueError("a store without a prefix would delete every key of the server")
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self.prefix) + "*"
        deleted = 0
        async with self._answering():
            batch: list[Any] = []
            async for key in self.client.scan_iter(match=pattern, count=batch_size):
                batch.append(key)
                if len(batch) == batch_size:
                    deleted += await self._unlink(batch)
                    batch.clear()
            if batch:
                deleted += await self._unlink(batch)
        return deleted

    async def _unlink(self, keys: list[Any]) -> int:
        return int(await self.client.unlink(*keys))

    async def expires_in(self, key: str) -> float | None:
        async with self._answering():
            milliseconds = int(await self.client.pttl(self.key(key)))
        return None if milliseconds < 0 else milliseconds / 1000

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        async with self._answering():
            ttl_ms = "" if ttl is None else str(_ms(ttl))
            return int(await self._incr(keys=[self.key(key)], args=[amount, ttl_ms]))

    async def set_if_absent(self, key: str, value: bytes, *, ttl: float) -> bool:
        async with self._answering():
            return bool(await self.client.set(self.key(key), value, px=_ms(ttl), nx=True))

    async def delete_if_equals(self, key: str, value: bytes) -> bool:
        async with self._answering():
            return bool(await self._delete_if_equals(keys=[self.key(key)], args=[value]))

    async def index_add(self, index: str, member: str, *, expires_at: float) -> None:
        name = self.key(index)
        async with self._answering():
            pipeline = self.client.pipeline(transaction=False)
            pipeline.zadd(name, {member: expires_at})
            # The index itself lives as long as its longest-lived member.
            pipeline.expireat(name, int(expires_at) + 1, gt=True)
            pipeline.expireat(name, int(expires_at) + 1, nx=True)
            await pipeline.execute()

    async def index_members(self, index: str, *, now: float) -> list[str]:
        name = self.key(index)
        async with self._answering():
            pipeline = self.client.pipeline(transaction=False)
            pipeline.zremrangebyscore(name, "-inf", now)
            pipeline.zrange(name, 0, -1)
            _, members = await pipeline.execute()
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]

    async def index_remove(self, index: str, *members: str) -> None:
        async with self._answering():
            if members:
                await self.client.zrem(self.key(index), *members)
            else:
                await self.client.delete(self.key(index))

    async def check(self) -> None:
        async with self._answering():
            await self.client.ping()


class RedisClusterStore(RedisStore):
    """A store on a Redis Cluster. `url` names any one node; the client finds the rest.

    Keys that one operation uses together must share a hash tag (`{user:42}:...`)
    so that they live in one slot; every operation of the `Store` contract uses
    one key, or one key and its index, except `get_many` and `delete`, which the
    cluster client splits by slot. The commands of one turn of the event loop go in
    one pipeline, which the cluster client splits by node and sends to the nodes at
    once: one round trip per node involved. A node that does not answer fails its
    own commands; the others' get their replies.
    """

    def _connect(self) -> Any:
        from redis.asyncio.cluster import RedisCluster
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # The cluster client fails a command past max_connections instead of waiting for
        # a free connection, so its cap per node is ten times the single-server pool's.
        return RedisCluster.from_url(
            self.url,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), retries=0),
            max_connections=self.max_connections * 10,
        )

    async def open(self) -> None:
        await super().open()
        # Learn the slot map now: redis-py's cluster client, asked many commands at once
        # before it knows the map, fails some of them ("Connection closed by server").
        # If the cluster is away at start-up, the first command learns it instead.
        cluster: RedisCluster = self._client
        try:
            await cluster.initialize()
        except redis_errors().down as error:
            logger.warning("Redis Cluster not reachable at start-up: %s", error)

    async def _unlink(self, keys: list[Any]) -> int:
        # Keys of several slots: one command per key (UNLINK is one slot at a time here).
        cluster: RedisCluster = self._client
        return sum([int(await cluster.unlink(key)) for key in keys])

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        cluster: RedisCluster = self._client
        async with self._answering():
            values = await cluster.mget_nonatomic([self.key(k) for k in keys])
        return [_as_bytes(v) for v in values]


def _same(value: Any) -> Any:
    return value


def _as_unavailable(error: Exception) -> Exception:
    return unavailable(error) or error


def _as_bytes(value: bytes | str | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else max(1, round(seconds * 1000))
