"""What stackkit's access-token check costs, against a bare PyJWT decode with the same key.

The check is what `AuthenticationMiddleware` does for each request that carries a
token: `AccessTokens.verify(token)` (which remembers verified tokens by their
string until they expire), then `SessionStore.is_alive(claims.session_id,
claims.subject)` (the session exists and is the token's user's). The
baseline is `jwt.decode(token, key, algorithms=["HS256"], audience=..., issuer=...)`
with the same derived key (`TokenKeys.from_secret(...).signing_key`). Cases:

1. the same token checked again and again (a client reuses its token for its 15
   minutes), the session in a `MemoryStore`;
2. a token never seen before at every check: `--n` tokens issued beforehand, each
   verified once by an `AccessTokens` with an empty cache (a fresh one each round),
   against `jwt.decode` of the same tokens;
3. as 1, the session in a `RedisStore` (one GET, so one round trip, a check).

Cases 1 and 2 are also timed with `verify()` alone, to tell the token's cost from
the session's. Each round times every contender in turn, `--n` checks each, one
after another (the async ones awaited in one `asyncio.run` loop, as one request
awaits them); each figure is the median of `--rounds` rounds, after a warm-up.
The ratio is stackkit's time per check over PyJWT's: below 1x, stackkit is cheaper.
The goal, 1.15x or less, is for the token check on the embedded store (cases 1
and 2); case 3 adds a network round trip, reported as what it costs.

    python benchmarks/token_check.py [--rounds 5] [--n 10000]

Needs a Redis on 127.0.0.1 (`--redis-url`, else `STACKKIT_BENCH_REDIS_URL`, else
redis://127.0.0.1:6379/0). The run's keys, under a prefix unique to the run, are
deleted at the end, also when it fails.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from urllib.parse import urlsplit

import jwt
import redis
from harness import Row

from stackkit.auth.keys import TokenKeys
from stackkit.auth.sessions import SessionStore
from stackkit.auth.tokens import AccessTokens
from stackkit.cache.memory import MemoryStore
from stackkit.cache.redis_store import RedisStore
from stackkit.testing import delete_keys, unique_key_prefix

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET = "x" * 48
GOAL = 1.15


@dataclass
class Contender:
    label: str
    run: Callable[[], Awaitable[float]]  # one timed pass: checks/s
    baseline: str | None = None  # the label of the PyJWT contender it is compared with
    goal: bool = False  # whether the 1.15x goal applies to this row
    rates: list[float] = field(default_factory=list)


def decode_rate(tokens: Sequence[str], key: bytes, *, audience: str, issuer: str) -> float:
    """Decodes/s of a bare `jwt.decode` of each token."""
    start = time.perf_counter()
    for token in tokens:
        jwt.decode(token, key, algorithms=["HS256"], audience=audience, issuer=issuer)
    return len(tokens) / (time.perf_counter() - start)


async def check_rate(
    access: AccessTokens, sessions: SessionStore | None, tokens: Sequence[str]
) -> float:
    """Checks/s of what the middleware does with each token (without `sessions`: the
    verification alone)."""
    start = time.perf_counter()
    for token in tokens:
        claims = access.verify(token)
        if sessions is not None and not await sessions.is_alive(claims.session_id, claims.subject):
            raise SystemExit(f"session {claims.session_id} not found: the check is wrong")
    return len(tokens) / (time.perf_counter() - start)


async def run(redis_url: str, prefix: str, args: argparse.Namespace) -> list[Contender]:
    keys = TokenKeys.from_secret(SECRET)
    tokens = AccessTokens(keys)
    key, audience, issuer = keys.signing_key, tokens.audience, tokens.issuer

    def fresh() -> AccessTokens:  # same keys and claims, nothing verified yet
        return AccessTokens(keys, audience=audience, issuer=issuer)

    memory_sessions = SessionStore(MemoryStore())
    memory_session = await memory_sessions.create("42")
    same = [tokens.issue("42", memory_session.id, ["admin"]).token] * args.n
    cold = [tokens.issue("42", memory_session.id, ["admin"]).token for _ in range(args.n)]

    store = RedisStore(redis_url, prefix=prefix)
    await store.open()
    try:
        redis_sessions = SessionStore(store)
        redis_session = await redis_sessions.create("42")
        same_redis = [tokens.issue("42", redis_session.id, ["admin"]).token] * args.n

        async def pyjwt(batch: Sequence[str]) -> float:
            return decode_rate(batch, key, audience=audience, issuer=issuer)

        pyjwt_same, pyjwt_cold = "PyJWT decode, same token", "PyJWT decode, the --n tokens"
        contenders = [
            Contender(pyjwt_same, lambda: pyjwt(same)),
            Contender(pyjwt_cold, lambda: pyjwt(cold)),
            Contender(
                "1. same token, session in MemoryStore",
                lambda: check_rate(tokens, memory_sessions, same),
                pyjwt_same,
                goal=True,
            ),
            Contender("   verify() alone", lambda: check_rate(tokens, None, same), pyjwt_same),
            Contender(
                "2. new token each check, MemoryStore",
                lambda: check_rate(fresh(), memory_sessions, cold),
                pyjwt_cold,
                goal=True,
            ),
            Contender("   verify() alone", lambda: check_rate(fresh(), None, cold), pyjwt_cold),
            Contender(
                "3. same token, session in RedisStore",
                lambda: check_rate(tokens, redis_sessions, same_redis),
                pyjwt_same,
            ),
        ]
        for contender in contenders:  # warm up: code paths, the token cache, the connection
            await contender.run()
        for round_ in range(args.rounds):
            for k in range(len(contenders)):
                contender = contenders[(round_ + k) % len(contenders)]
                gc.collect()
                contender.rates.append(await contender.run())
    finally:
        await store.close()
    return contenders


def report(contenders: list[Contender], args: argparse.Namespace) -> None:
    print(
        f"HS256; {args.rounds} rounds x {args.n:,} checks a contender, median of the rounds;"
        f" PyJWT {version('PyJWT')}, redis-py {version('redis')},"
        f" Python {platform.python_version()}, asyncio loop"
    )
    rates = {c.label: statistics.median(c.rates) for c in contenders if c.baseline is None}
    print(f"\n{'contender':40} | {'checks/s':>10} | {'us/check':>8} | {'vs PyJWT (time)':>15}")
    for contender in contenders:
        rate = statistics.median(contender.rates)
        line = f"{contender.label:40} | {rate:10,.0f} | {1e6 / rate:8.2f} |"
        if contender.baseline is None:
            print(f"{line} {'1.00x':>15}")
            continue
        ratio = rates[contender.baseline] / rate
        # Two significant digits below 0.1x: case 1 is far below 0.01x.
        line += f" {ratio:14.2f}x" if ratio >= 0.1 else f" {ratio:14.2g}x"
        if contender.goal:
            line += f"  goal <= {GOAL}x: " + (
                "met" if ratio <= GOAL else f"MISSED by {ratio / GOAL - 1:.0%}"
            )
        elif "Redis" in contender.label:
            line += "  (one Redis round trip: the price of immediate revocation)"
        print(line)


def measure(redis_url: str = DEFAULT_REDIS_URL, rounds: int = 5, n: int = 10_000) -> list[Row]:
    """Cases 1 to 3, each against the PyJWT decode of the same tokens; the ratio is
    stackkit's time per check over PyJWT's."""
    if urlsplit(redis_url).hostname != "127.0.0.1":
        raise SystemExit("the Redis URL must point at 127.0.0.1")
    contenders = check_all(redis_url, argparse.Namespace(rounds=rounds, n=n))
    rates = {c.label: statistics.median(c.rates) for c in contenders}
    rows = []
    for contender in contenders:
        if contender.baseline is None or contender.label.startswith(" "):
            continue
        rate, base = rates[contender.label], rates[contender.baseline]
        ratio = base / rate
        rows.append(
            Row(
                f"token check: {contender.label[3:]}",
                f"{1e6 / rate:.2f} us/check",
                f"PyJWT decode {1e6 / base:.1f} us",
                ratio,
                f"<= {GOAL}x" if contender.goal else "",
                ratio <= GOAL if contender.goal else None,
            )
        )
    return rows


def check_all(redis_url: str, args: argparse.Namespace) -> list[Contender]:
    """Every contender's rates; the run's Redis keys deleted at the end, also on failure."""
    prefix = unique_key_prefix()
    try:
        return asyncio.run(run(redis_url, prefix, args))
    finally:
        try:
            delete_keys(redis_url, prefix)
        except redis.RedisError as error:
            print(f"warning: keys {prefix}* not deleted: {error}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("STACKKIT_BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        help="a Redis on 127.0.0.1; the run's keys are deleted at the end",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--n",
        type=int,
        default=10_000,
        help="checks a contender makes a round, and tokens issued for case 2",
    )
    args = parser.parse_args()
    if min(args.rounds, args.n) < 1:
        raise SystemExit("--rounds and --n must be 1 or more")
    if urlsplit(args.redis_url).hostname != "127.0.0.1":
        raise SystemExit("--redis-url must point at 127.0.0.1")
    report(check_all(args.redis_url, args), args)


if __name__ == "__main__":
    main()
