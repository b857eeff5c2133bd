"""How many rate-limit checks a second stackkit's GCRA makes, against the `limits` library.

Contenders, each on Redis and in memory:

- stackkit GCRA: `RateLimiter(backend, fail_open=False).hit(key, "1000000/minute")`
  on `RedisRateLimitBackend(RedisStore(...))` (one EVALSHA a check) and on
  `MemoryRateLimitBackend()`;
- `limits` moving window and sliding window counter: the async API,
  `limits.aio.strategies.MovingWindowRateLimiter(storage).hit(item, key)` and
  `SlidingWindowCounterRateLimiter`, on `limits.aio.storage.RedisStorage` with
  `implementation="redispy"` (redis-py's asyncio client, as stackkit uses; one
  EVALSHA a check too) and on `limits.aio.storage.MemoryStorage`. Their redis-py
  pool is the one `RedisStorage` makes by default (`ConnectionPool`), or with
  `--limits-pool blocking` one like `RedisStore`'s (`BlockingConnectionPool`, 100
  connections), to tell what the libraries cost from what the pools cost.

Same conditions for all: one process, one asyncio loop, `--concurrency` tasks
(default 32) each making its checks one after another, `--checks` checks a
round spread over `--clients` keys. The limit is high enough that every check
is allowed, and the script checks that each was. Each figure is the median
checks/s of `--rounds` rounds; the rounds take the contenders in turn, each
round starting one further on, so that a slow spell of the machine hits all
alike. The `limits` memory storage sweeps expired entries in a task of its own;
a sweep still running when a round ends is awaited outside the timed part.

In passing, a correctness check: 200 checks at once on one fresh key limited
to 50/minute must let exactly 50 through (stackkit on Redis must; the others
are printed for comparison).

    python benchmarks/ratelimit_checks.py [--rounds 5] [--checks 20000] [--concurrency 32]
        [--clients 1000] [--limits-pool default|blocking]

Needs `limits` (the `bench` extra) and a Redis on 127.0.0.1 (`--redis-url`, else
`STACKKIT_BENCH_REDIS_URL`, else redis://127.0.0.1:6379/0). The run's keys,
under a prefix unique to the run, are deleted at the end, also when it fails.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from urllib.parse import urlsplit

from harness import Row, count_keys, remove_keys
from limits import parse
from limits.aio import strategies
from limits.aio.storage import MemoryStorage, RedisStorage
from redis.asyncio import BlockingConnectionPool, ConnectionPool

from stackkit.cache.redis_store import RedisStore
from stackkit.ratelimit import MemoryRateLimitBackend, RateLimiter, RedisRateLimitBackend

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
LIMIT = "1000000/minute"  # high enough that every check of the run is allowed
CHECK_LIMIT = "50/minute"
CHECK_AT_ONCE = 200
REDIS_GOAL = 1.5  # stackkit's checks a second on Redis over each `limits` strategy's, at least
MOVING_WINDOW = "limits moving window"
SLIDING_WINDOW = "limits sliding window counter"

POOLS: dict[str, Callable[[str], ConnectionPool]] = {
    "default": ConnectionPool.from_url,
    "blocking": lambda url: BlockingConnectionPool.from_url(url, max_connections=100),
}

# One check: takes the key, says whether it was allowed.
Check = Callable[[str], Awaitable[bool]]


@dataclass
class Contender:
    storage: str  # "Redis" or "memory": contenders are compared within one storage
    label: str
    check: Check
    settle: Callable[[], Awaitable[None]] | None = None  # awaited after each timed round
    rates: list[float] = field(default_factory=list)


def stackkit_check(limiter: RateLimiter, limit: str) -> Check:
    async def check(key: str) -> bool:
        return (await limiter.hit(key, limit)).allowed

    return check


def limits_check(strategy: strategies.RateLimiter, limit: str) -> Check:
    item = parse(limit)

    async def check(key: str) -> bool:
        return await strategy.hit(item, key)

    return check


def settle_sweep(storage: MemoryStorage) -> Callable[[], Awaitable[None]]:
    async def settle() -> None:
        if storage.timer is not None and not storage.timer.done():
            await storage.timer

    return settle


async def run_round(check: Check, keys: list[str], checks: int, concurrency: int) -> float:
    """Checks/s of `checks` checks made by `concurrency` tasks, each one after another."""
    per_task = [checks // concurrency + (t < checks % concurrency) for t in range(concurrency)]

    async def task(t: int) -> int:
        allowed = 0
        for i in range(per_task[t]):
            allowed += await check(keys[(t + i * concurrency) % len(keys)])
        return allowed

    start = time.perf_counter()
    allowed = sum(await asyncio.gather(*(task(t) for t in range(concurrency))))
    elapsed = time.perf_counter() - start
    if allowed != checks:
        raise SystemExit(f"only {allowed} of {checks} checks allowed: the limit is too low")
    return checks / elapsed


async def at_once(check: Check, key: str) -> tuple[int, list[BaseException]]:
    """Checks allowed, and errors raised, of `CHECK_AT_ONCE` checks made at once on `key`."""
    outcomes = await asyncio.gather(
        *(check(key) for _ in range(CHECK_AT_ONCE)), return_exceptions=True
    )
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    return sum(o is True for o in outcomes), errors


async def run(redis_url: str, prefix: str, args: argparse.Namespace) -> list[Contender]:
    """Every contender's rates, after the correctness check (printed with `args.verbose`)."""
    store = RedisStore(redis_url, prefix=f"{prefix}stackkit:")
    await store.open()
    # Each `limits` contender gets a redis-py client of its own, as the store has one. The
    # pool is passed in only so that the script can close it: by default the same as
    # `RedisStorage` makes (redis-py's `ConnectionPool`: up to 100 connections, a command
    # past them fails at once); with `--limits-pool blocking`, one like the store's
    # (`BlockingConnectionPool`, 100: a command waits for a free connection).
    pools = [POOLS[args.limits_pool](redis_url) for _ in range(2)]
    redis_storages = [
        RedisStorage(
            "async+" + redis_url,
            implementation="redispy",
            key_prefix=f"{prefix}{name}",
            connection_pool=pool,  # type: ignore[arg-type]  # documented; typed as scalars
        )
        for name, pool in zip(("limits-mw", "limits-swc"), pools, strict=True)
    ]
    memory_storages = [MemoryStorage(), MemoryStorage()]
    try:
        # Fail closed: with the default fail_open=True, a Redis that does not answer in
        # time would count as an allowed check, and a fast one.
        redis_limiter = RateLimiter(RedisRateLimitBackend(store), fail_open=False)
        memory_limiter = RateLimiter(MemoryRateLimitBackend(), fail_open=False)
        moving = [
            strategies.MovingWindowRateLimiter(redis_storages[0]),
            strategies.MovingWindowRateLimiter(memory_storages[0]),
        ]
        sliding = [
            strategies.SlidingWindowCounterRateLimiter(redis_storages[1]),
            strategies.SlidingWindowCounterRateLimiter(memory_storages[1]),
        ]

        def contenders(limit: str) -> list[Contender]:
            return [
                Contender("Redis", "stackkit GCRA", stackkit_check(redis_limiter, limit)),
                Contender("Redis", MOVING_WINDOW, limits_check(moving[0], limit)),
                Contender("Redis", SLIDING_WINDOW, limits_check(sliding[0], limit)),
                Contender("memory", "stackkit GCRA", stackkit_check(memory_limiter, limit)),
                Contender(
                    "memory",
                    MOVING_WINDOW,
                    limits_check(moving[1], limit),
                    settle_sweep(memory_storages[0]),
                ),
                Contender(
                    "memory",
                    SLIDING_WINDOW,
                    limits_check(sliding[1], limit),
                    settle_sweep(memory_storages[1]),
                ),
            ]

        say = print if args.verbose else lambda *_, **__: None
        say(f"{CHECK_LIMIT}, {CHECK_AT_ONCE} checks at once on one fresh key:")
        failed = False
        probes = contenders(CHECK_LIMIT)
        stackkit_on_redis = probes[0]
        for contender in probes:
            allowed, errors = await at_once(contender.check, "at-once")
            say(f"  {contender.label} ({contender.storage}): {allowed} allowed", end="")
            if errors:
                kinds = sorted({f"{type(e).__name__}: {e}" for e in errors})
                say(f", {len(errors)} failed ({'; '.join(kinds)})", end="")
            say()
            if contender is stackkit_on_redis and (allowed != 50 or errors):
                failed = True
            if contender.settle is not None:
                await contender.settle()
        if failed:
            raise SystemExit("stackkit on Redis let another number than 50 through")

        runs = contenders(LIMIT)
        keys = [f"client-{n}" for n in range(args.clients)]
        for contender in runs:  # warm up: connections, scripts, every key once
            await run_round(contender.check, keys, max(len(keys), 1000), args.concurrency)
            if contender.settle is not None:
                await contender.settle()
        for name in ("stackkit:", "limits-mw:", "limits-swc:"):
            if count_keys(redis_url, prefix + name) == 0:
                raise SystemExit(f"nothing written to Redis under {prefix}{name}")
        for round_ in range(args.rounds):
            for k in range(len(runs)):
                contender = runs[(round_ + k) % len(runs)]
                gc.collect()
                contender.rates.append(
                    await run_round(contender.check, keys, args.checks, args.concurrency)
                )
                if contender.settle is not None:
                    await contender.settle()
    finally:
        await store.close()
        for pool in pools:
            await pool.aclose()

    return runs


def report(runs: list[Contender], args: argparse.Namespace) -> None:
    print(
        f"\n{args.concurrency} tasks, {args.rounds} rounds x {args.checks:,} checks"
        f" over {args.clients:,} keys, limit {LIMIT}; median of the rounds;"
        f" limits {version('limits')} ({args.limits_pool} pool), redis-py {version('redis')}"
    )
    for storage in ("Redis", "memory"):
        group = {c.label: statistics.median(c.rates) for c in runs if c.storage == storage}
        print(f"\n{storage}")
        print(f"{'contender':32} | {'checks/s':>9} | vs {MOVING_WINDOW} | vs {SLIDING_WINDOW}")
        for label, rate in group.items():
            print(
                f"{label:32} | {rate:9,.0f} | {rate / group[MOVING_WINDOW]:22.2f}x"
                f" | {rate / group[SLIDING_WINDOW]:31.2f}x"
            )


def check_all(redis_url: str, args: argparse.Namespace) -> list[Contender]:
    """`run` under a Redis prefix of its own, its keys deleted at the end, also on failure."""
    if urlsplit(redis_url).hostname != "127.0.0.1":
        raise SystemExit("the Redis URL must point at 127.0.0.1")
    prefix = f"stackkit_bench_{uuid.uuid4().hex[:12]}:"
    try:
        return asyncio.run(run(redis_url, prefix, args))
    finally:
        remove_keys(redis_url, prefix)


def measure(
    redis_url: str = DEFAULT_REDIS_URL,
    rounds: int = 5,
    checks: int = 20_000,
    concurrency: int = 32,
    clients: int = 1_000,
) -> list[Row]:
    """stackkit's GCRA against both `limits` strategies, on Redis (goal: 1.5x the checks a
    second or more) and in memory (no goal set)."""
    args = argparse.Namespace(
        rounds=rounds,
        checks=checks,
        concurrency=concurrency,
        clients=clients,
        limits_pool="default",
        verbose=False,
    )
    runs = check_all(redis_url, args)
    rows = []
    for storage in ("Redis", "memory"):
        group = {c.label: statistics.median(c.rates) for c in runs if c.storage == storage}
        for baseline in (MOVING_WINDOW, SLIDING_WINDOW):
            ratio = group["stackkit GCRA"] / group[baseline]
            has_goal = storage == "Redis"
            rows.append(
                Row(
                    f"rate limit: GCRA vs {baseline}, {storage}",
                    f"{group['stackkit GCRA']:,.0f} checks/s",
                    f"{group[baseline]:,.0f} checks/s",
                    ratio,
                    f">= {REDIS_GOAL}x" if has_goal else "",
                    ratio >= REDIS_GOAL if has_goal else None,
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("STACKKIT_BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        help="a Redis on 127.0.0.1; the run's keys are deleted at the end",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--checks", type=int, default=20_000, help="checks a contender makes a round"
    )
    parser.add_argument("--concurrency", type=int, default=32, help="tasks checking at once")
    parser.add_argument(
        "--limits-pool",
        choices=sorted(POOLS),
        default="default",
        help="the `limits` storages' redis-py pool: their default, or one like stackkit's",
    )
    parser.add_argument("--clients", type=int, default=1_000, help="keys the checks spread over")
    args = parser.parse_args()
    if min(args.rounds, args.checks, args.concurrency, args.clients) < 1:
        raise SystemExit("--rounds, --checks, --concurrency and --clients must be 1 or more")
    if urlsplit(args.redis_url).hostname != "127.0.0.1":
        raise SystemExit("--redis-url must point at 127.0.0.1")

    args.verbose = True
    report(check_all(args.redis_url, args), args)


if __name__ == "__main__":
    main()
