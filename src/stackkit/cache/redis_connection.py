"""A pooled Redis client with short timeouts, so that an outage is reported, not waited on."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from stackkit.backends import Backend

__all__ = ["RedisConnection"]


class RedisConnection(Backend):
    """Owns a `redis.asyncio.Redis` client built from a URL.

    Args:
        url: `redis://`, `rediss://` or `unix://` URL.
        timeout: seconds to connect and to wait for any one reply.
    """

    name = "redis"

    def __init__(self, url: str, *, timeout: float = 1.0) -> None:
        self.url = url
        self.timeout = timeout
        self._client: Redis | None = None

    @property
    def client(self) -> Redis:
        if self._client is None:
            raise RuntimeError("RedisConnection is not open: use it inside the app's lifespan")
        return self._client

    async def open(self) -> None:
        self._client = Redis.from_url(
            self.url,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
            health_check_interval=30,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def check(self) -> None:
        await self.client.ping()
