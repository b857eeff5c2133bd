"""A store of an app's own: a dict, with the counters the response cache needs."""

import math
import time

from stackkit.cache import Counters, KeyValueStore


class DictStore(KeyValueStore, Counters):
    def __init__(self, *, prefix: str = "") -> None:
        super().__init__(prefix=prefix)
        self.data: dict[str, tuple[bytes, float]] = {}  # key: (value, deadline)

    def _live(self, key: str) -> tuple[bytes, float] | None:  # expired: kept till rewritten
        item = self.data.get(self.key(key))
        return item if item and item[1] > time.monotonic() else None

    async def get(self, key: str) -> bytes | None:
        return item[0] if (item := self._live(key)) else None

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        self.data[self.key(key)] = (value, time.monotonic() + ttl if ttl else math.inf)

    async def replace(self, key: str, value: bytes, *, ttl: float | None = None) -> bool:
        if found := self._live(key) is not None:
            await self.set(key, value, ttl=ttl)
        return found

    async def delete(self, *keys: str) -> int:
        return sum(self.data.pop(self.key(key)) is not None for key in keys if self._live(key))

    async def expires_in(self, key: str) -> float | None:
        item = self._live(key)
        return None if not item or item[1] == math.inf else item[1] - time.monotonic()

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        value, deadline = self._live(key) or (b"0", time.monotonic() + ttl if ttl else math.inf)
        self.data[self.key(key)] = (str(int(value) + amount).encode(), deadline)
        return int(value) + amount
