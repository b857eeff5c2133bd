"""`MemoryStore` operations in a full store of 100,000 entries against a store of 1,000.

An operation that walked the store would take about a hundred times as long in the
larger one; constant-time operations take about as long (a factor for the CPU's
caches). Goal: at most 4x.

    python benchmarks/memory_store.py
"""

from __future__ import annotations

import asyncio
import time

from harness import Row

from stackkit.cache import MemoryStore

SMALL, LARGE = 1_000, 100_000


async def seconds_per_round(size: int, rounds: int = 5) -> float:
    """The best of `rounds` rounds of every operation on 200 keys spread over a full store."""
    store = MemoryStore(max_entries=size)
    for n in range(size):
        await store.set(f"k{n}", b"1", ttl=3600)
        await store.index_add(f"i{n}", "member", expires_at=10**10)
    keys = [f"k{n}" for n in range(0, size, size // 200)]
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for key in keys:
            await store.get(key)
            await store.get_many([key, "missing"])
            await store.set(key, b"1", ttl=3600)
            await store.replace(key, b"2", ttl=3600)
            await store.expires_in(key)
            await store.incr(key)
            await store.set_if_absent(key, b"1", ttl=3600)
            await store.delete_if_equals(key, b"3")
            await store.delete(key)
            await store.set(key, b"1", ttl=3600)
            await store.index_add(key, "member", expires_at=10**10)
            await store.index_members(key, now=0)
            await store.index_remove(key, "member")
        best = min(best, time.perf_counter() - started)
    return best


def measure(rounds: int = 5) -> list[Row]:
    small = asyncio.run(seconds_per_round(SMALL, rounds))
    large = asyncio.run(seconds_per_round(LARGE, rounds))
    ratio = large / small
    return [
        Row(
            f"memory store: 2,600 operations among {LARGE:,} entries",
            f"{large * 1000:.2f} ms",
            f"{small * 1000:.2f} ms among {SMALL:,}",
            ratio,
            "<= 4.0x (constant time)",
            ratio <= 4.0,
        )
    ]


if __name__ == "__main__":
    for row in measure():
        print(f"{row.benchmark}: {row.stackkit} against {row.baseline}: {row.ratio:.2f}x")
