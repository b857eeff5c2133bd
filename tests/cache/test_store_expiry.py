"""Expiry in the store contract, on every store: memory, Redis and a Redis Cluster."""

from __future__ import annotations

import asyncio
import time

from stackkit.cache import Store


async def test_get_many_answers_none_for_an_expired_key(store: Store) -> None:
    await store.set("short", b"x", ttl=0.05)
    await store.set("long", b"y", ttl=60)
    deadline = time.monotonic() + 5
    while await store.get_many(["short", "long", "missing"]) != [None, b"y", None]:
        assert time.monotonic() < deadline, "the short-lived key never expired"
        await asyncio.sleep(0.01)


async def test_incr_sets_its_ttl_only_when_it_creates_the_key(store: Store) -> None:
    assert await store.incr("counter", ttl=60) == 1
    assert await store.incr("counter", ttl=1) == 2  # the key exists: its expiry stays
    remaining = await store.expires_in("counter")
    assert remaining is not None
    assert remaining > 50
    assert await store.incr("forever") == 1
    assert await store.incr("forever", ttl=60) == 2
    assert await store.expires_in("forever") is None
