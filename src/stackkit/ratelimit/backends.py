"""Where GCRA keeps its one number per key: in the process, or in Redis for every worker.

Both decide all of a request's rates at once and atomically: the request is
allowed only if every rate allows it, and only then do the keys move on.
"""

from __future__ import annotations

import abc
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Literal

from stackkit.cache.redis_batch import Reply
from stackkit.cache.redis_store import (
    RedisClusterStore,
    RedisStore,
    one_slot,
    redis_errors,
    unavailable,
)
from stackkit.cache.store import KeyValueStore, StoreUnavailable
from stackkit.ratelimit.fixed_window import fixed_window
from stackkit.ratelimit.gcra import Decision, gcra
from stackkit.rates import Rate

__all__ = [
    "Algorithm",
    "MemoryRateLimitBackend",
    "RateLimitBackend",
    "RedisRateLimitBackend",
    "backend_for",
    "combine",
]


class RateLimitBackend(abc.ABC):
    @abc.abstractmethod
    async def acquire(
        self, key: str, rates: Sequence[Rate], cost: int = 1, *, guard: str | None = None
    ) -> Decision | None:
        """Decide one request of `cost` against every rate of `key`.

        `guard`: a key of the backend's store (a session's) that must exist for the
        request to count; when it does not, nothing is counted and the answer is None.
        Only the Redis backend reads it (in the same script, so that a check made
        before the session is known to be alive counts nothing if it is not).

        Raises:
            StoreUnavailable: the backend's server did not answer.
        """


def combine(decisions: Sequence[Decision]) -> Decision:
    """One decision for several rates: allowed only if all allow. The limit named is
    the refusing rate that frees up last, or, when all allow, the one with the
    fewest requests left; the reset is the slowest of all."""
    refusing = [d for d in decisions if not d.allowed]
    if refusing:
        tightest = max(refusing, key=lambda d: d.retry_after)
    else:
        tightest = min(decisions, key=lambda d: (d.remaining, -d.reset_after))
    return Decision(
        allowed=all(d.allowed for d in decisions),
        limit=tightest.limit,
        remaining=min(d.remaining for d in decisions),
        reset_after=max(d.reset_after for d in decisions),
        retry_after=max(d.retry_after for d in decisions),
    )


Algorithm = Literal["gcra", "fixed-window"]
_STEPS: dict[str, Callable[[Any, float, Rate, int], tuple[Decision, Any]]] = {
    "gcra": gcra,
    "fixed-window": fixed_window,
}


class MemoryRateLimitBackend(RateLimitBackend):
    """One process's counters: exact for one worker, not shared between workers.

    Args:
        algorithm: `"gcra"` (the default) or `"fixed-window"`.
        max_keys: the most keys kept; the least recently used go beyond it (a key
            that goes starts again with a full burst).
        clock: seconds, monotonic; tests pass their own.
    """

    def __init__(
        self,
        *,
        algorithm: Algorithm = "gcra",
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.step: Callable[[Any, float, Rate, int], tuple[Decision, Any]] = _STEPS[algorithm]
        self.max_keys = max_keys
        self.clock = clock
        self._tats: OrderedDict[str, Any] = OrderedDict()

    async def acquire(
        self, key: str, rates: Sequence[Rate], cost: int = 1, *, guard: str | None = None
    ) -> Decision:
        now = self.clock()
        if len(rates) == 1:  # the common case, without the bookkeeping of several windows
            name = f"{key}:{rates[0].name}"
            decision, new_tat = self.step(self._tats.get(name), now, rates[0], cost)
            if decision.allowed:
                self._tats[name] = new_tat
                self._tats.move_to_end(name)
                if len(self._tats) > self.max_keys:
                    self._tats.popitem(last=False)
            return decision
        names = [f"{key}:{rate.name}" for rate in rates]
        outcomes = [
            self.step(self._tats.get(n), now, r, cost) for n, r in zip(names, rates, strict=True)
        ]
        decision = combine([d for d, _ in outcomes])
        if decision.allowed:
            for name, (_, new_tat) in zip(names, outcomes, strict=True):
                self._tats[name] = new_tat
                self._tats.move_to_end(name)
            while len(self._tats) > self.max_keys:
                self._tats.popitem(last=False)
        return decision


# The end of both scripts: their per-rate rows `out`, flattened into integers.
_RETURN_ROWS = """
local flat = {}
for _, row in ipairs(out) do
  for _, value in ipairs(row) do table.insert(flat, math.floor(value)) end
end
return answer(flat)
"""

# The start of both scripts. ARGV[2] = '1': KEYS[1] is a guard, which must exist for
# anything to count (else the answer is {-1}); the rates' keys follow it. ARGV[3]: how
# many keys at the end of KEYS are only read; with any, the answer is {answer, their
# values}, and they are read first. A server that refuses writes (out of memory, a failed
# save, a replica) answers {-2}: the reads still come back.
_GUARD = """
local first, reads = 1, tonumber(ARGV[3])
local last = #KEYS - reads
local values = {}
if reads > 0 then values = redis.call('MGET', unpack(KEYS, last + 1, #KEYS)) end
local function answer(flat)
  if reads > 0 then return {flat, values} end
  return flat
end
if ARGV[2] == '1' then
  if redis.call('EXISTS', KEYS[1]) == 0 then return answer({-1}) end
  first = 2
end
"""

# KEYS: the guard, if any, then one per rate, then those only read. ARGV: cost, whether
# there is a guard, how many keys are only read, then per rate its interval and count.
# Time comes from the Redis server, so that every worker agrees on "now".
# Returns per rate: allowed (0/1), remaining, reset_after and retry_after in microseconds.
_GCRA_SCRIPT = (
    _GUARD
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cost = tonumber(ARGV[1])
local out, new_tats, all_allowed = {}, {}, true
for i = first, last do
  local j = i - first + 1
  local interval = tonumber(ARGV[2 * j + 2])
  local count = tonumber(ARGV[2 * j + 3])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval * cost
  local allow_at = new_tat - count * interval
  if now < allow_at then
    all_allowed = false
    table.insert(out, {0, 0, tat - now, allow_at - now})
  else
    table.insert(out, {1, math.floor((now - allow_at) / interval), new_tat - now, 0})
  end
  new_tats[i] = new_tat
end
if all_allowed then
  for i = first, last do
    local done = redis.pcall('SET', KEYS[i], string.format('%.0f', new_tats[i]),
                             'PX', math.ceil((new_tats[i] - now) / 1000) + 1)
    if type(done) == 'table' and done.err then return answer({-2}) end
  end
end
"""
    + _RETURN_ROWS
)


# The same contract for fixed windows: ARGV per rate is its period (us) and count; each
# key is a hash of the current window's start and how much of it is used.
_FIXED_WINDOW_SCRIPT = (
    _GUARD
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cost = tonumber(ARGV[1])
local out, starts, useds, ends, all_allowed = {}, {}, {}, {}, true
for i = first, last do
  local j = i - first + 1
  local period = tonumber(ARGV[2 * j + 2])
  local count = tonumber(ARGV[2 * j + 3])
  local start = math.floor(now / period) * period
  local stored = redis.call('HMGET', KEYS[i], 's', 'c')
  local used = 0
  if stored[1] and tonumber(stored[1]) == start then used = tonumber(stored[2]) end
  local ends_in = start + period - now
  if used + cost > count then
    all_allowed = false
    table.insert(out, {0, count - used, ends_in, ends_in})
  else
    table.insert(out, {1, count - used - cost, ends_in, 0})
  end
  starts[i], useds[i], ends[i] = start, used + cost, ends_in
end
if all_allowed then
  for i = first, last do
    local done = redis.pcall('HSET', KEYS[i], 's', string.format('%.0f', starts[i]), 'c', useds[i])
    if type(done) == 'table' and done.err then return answer({-2}) end
    redis.call('PEXPIRE', KEYS[i], math.ceil(ends[i] / 1000) + 1)
  end
end
"""
    + _RETURN_ROWS
)


def backend_for(store: KeyValueStore) -> RateLimitBackend:
    """Where rate limits count: in `store` when it is shared (Redis, whose scripts make
    each check atomic), else in this process.

    Raises:
        ValueError: a shared store other than Redis (its counts could not be atomic).
    """
    if not store.shared:
        return MemoryRateLimitBackend()
    if store.scripts and isinstance(store, RedisStore):
        return RedisRateLimitBackend(store)
    raise ValueError(
        f"rate limits count in Redis or in this process; the 'limits' store"
        f" {type(store).__name__} is shared but not Redis"
    )


class RedisRateLimitBackend(RateLimitBackend):
    """Counters in Redis (or a Redis Cluster), shared by every worker. A key's rates
    share a hash tag, so they live on one cluster slot and the script sees them all.

    Each check is one script call, sent in the store's pipeline of the current turn
    of the event loop (`RedisStore.soon`): under load, one round trip serves the
    checks and reads of many requests; alone, a check is still one round trip.

    Args:
        store: an open `RedisStore` or `RedisClusterStore`; its client, prefix and
            timeouts are used.
        algorithm: `"gcra"` (the default) or `"fixed-window"`.
    """

    def __init__(self, store: RedisStore, *, algorithm: Algorithm = "gcra") -> None:
        self.store = store
        self.algorithm = algorithm
        self._source = _GCRA_SCRIPT if algorithm == "gcra" else _FIXED_WINDOW_SCRIPT
        self._sha: str | None = None

    def keys(self, key: str, rates: Sequence[Rate]) -> list[str]:
        """The Redis keys (prefixed) of `key`'s counters, one per rate."""
        kind = "rl" if self.algorithm == "gcra" else "rlw"
        # The key is the hash tag: a signed-in user's counters (`{user:42}`) share the
        # slot of the user's sessions (`stackkit.auth.sessions`) on a cluster.
        return [self.store.key(f"{{{key}}}:{kind}:{rate.name}") for rate in rates]

    async def acquire(
        self, key: str, rates: Sequence[Rate], cost: int = 1, *, guard: str | None = None
    ) -> Decision | None:
        keys, args = self._command(key, rates, guard, cost)
        for attempt in range(2):
            try:
                if self._sha is None:
                    self._sha = str(await self.store.client.script_load(self._source))
                flat = await self.store.send("EVALSHA", self._sha, len(keys), *keys, *args)
            except Exception as error:
                if isinstance(error, redis_errors().no_script) and not attempt:
                    self._sha = None  # Redis restarted without the script: load it again
                    continue
                down = unavailable(error)
                if down is None:
                    raise
                raise down from error
            return self._decision(list(flat), rates)
        raise AssertionError("unreachable")

    def acquire_and_read_soon(
        self, key: str, rates: Sequence[Rate], *, guard: str, reads: Sequence[str]
    ) -> tuple[Reply[Decision | None], Reply[list[bytes | None]]] | None:
        """`acquire`, its script sent now with the turn's pipeline (`RedisStore.soon`),
        and the values of `reads` (keys of the same server) read by the same script: a
        request's whole round trip in one command. Its decision and the
        values come apart: a server that refuses writes fails the decision
        (`StoreUnavailable`), not the reads. Sent with `EVAL`, so that a server that
        lost its scripts (a restart) still answers. None on a cluster when the keys
        are not all in one slot: one script cannot reach them."""
        keys, args = self._command(key, rates, guard, reads=reads)
        if isinstance(self.store, RedisClusterStore) and not one_slot(keys):
            return None
        command = self.store.soon("EVAL", self._source, len(keys), *keys, *args)
        decision = command.then(lambda answer: self._decision(list(answer[0]), rates))
        return decision, command.then(lambda answer: list(answer[1]))

    def _command(
        self,
        key: str,
        rates: Sequence[Rate],
        guard: str | None,
        cost: int = 1,
        reads: Sequence[str] = (),
    ) -> tuple[list[str], list[Any]]:
        keys = self.keys(key, rates)
        args: list[Any] = [cost, "0" if guard is None else "1", len(reads)]
        if guard is not None:
            keys.insert(0, self.store.key(guard))
        keys += [self.store.key(read) for read in reads]
        for rate in rates:
            # Microseconds, fractions kept: Lua numbers are doubles, and rounding would
            # turn a rate above a million a second into no limit at all.
            step = rate.interval if self.algorithm == "gcra" else rate.period
            args += [repr(step * 1_000_000), rate.count]
        return keys, args

    @staticmethod
    def _decision(flat: list[int], rates: Sequence[Rate]) -> Decision | None:
        if flat == [-1]:
            return None  # the guard is gone: nothing counted
        if flat == [-2]:
            raise StoreUnavailable("Redis refused to write the rate-limit counters")
        decisions = [
            Decision(
                allowed=bool(flat[i]),
                limit=rate.count,
                remaining=int(flat[i + 1]),
                reset_after=int(flat[i + 2]) / 1_000_000,
                retry_after=int(flat[i + 3]) / 1_000_000,
            )
            for i, rate in zip(range(0, len(flat), 4), rates, strict=True)
        ]
        return combine(decisions)
