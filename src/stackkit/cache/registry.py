"""Named stores: each feature asks for its store by name, with defaults from settings.

- `cache`: the response cache and read-your-writes; needs `Counters` (namespace
  versions), and uses `Locks` when the store has them (single flight).
- `sessions`: refresh sessions, password resets and device cookies; needs
  `Counters`, `Locks` and `Indexes`.
- `limits`: rate limits; a shared store must run scripts (Redis: they count
  atomically); by default the cache's when it does, else counting in this process.

Defaults: `cache` from settings (`default_cache_store`: Redis when `REDIS_URL` is
set, else a bounded memory); `sessions` and `limits` the cache's store when it is
shared (one Redis for everything), else stores of this process, since sessions must
not be evicted to make room for cached answers.
"""

from __future__ import annotations

from collections.abc import Mapping

from stackkit.cache.memory import MemoryStore
from stackkit.cache.redis_store import RedisClusterStore, RedisStore
from stackkit.cache.store import Counters, Indexes, KeyValueStore, Locks, Store
from stackkit.settings import Settings

__all__ = ["STORE_NEEDS", "default_cache_store", "stores_for"]

STORE_NEEDS: dict[str, tuple[type, ...]] = {
    "cache": (Counters,),
    "sessions": (Counters, Locks, Indexes),
    "limits": (),
}
"""The capabilities each named store must have."""

SESSIONS_IN_MEMORY = 200_000
"""The most sessions a process keeps when they live in its memory."""


def default_cache_store(settings: Settings) -> Store:
    """A `RedisStore` (or `RedisClusterStore`) on `settings.redis_url` when it is set,
    shared by every worker; else a bounded MemoryStore."""
    if settings.redis_url:
        kind = RedisClusterStore if settings.redis_cluster else RedisStore
        return kind(
            settings.redis_url, prefix=settings.cache_prefix, timeout=settings.redis_timeout
        )
    return MemoryStore(prefix="cache:", max_entries=settings.cache_max_entries)


def stores_for(
    settings: Settings, given: Mapping[str, KeyValueStore], *, sessions: bool = True
) -> dict[str, KeyValueStore]:
    """Every named store: those `given`, the others by default (see the module).
    `sessions`: whether the app keeps sessions (authentication is on); if not, the
    sessions store is not checked.

    Raises:
        ValueError: a name that is not a store's, or a store without a capability
            its use needs.
    """
    unknown = sorted(set(given) - set(STORE_NEEDS))
    if unknown:
        raise ValueError(f"unknown store names {unknown}; stores are named {sorted(STORE_NEEDS)}")
    # By name, not with `or`: an empty MemoryStore is falsy (it has a length).
    cache = given["cache"] if "cache" in given else default_cache_store(settings)
    stores = {
        "cache": cache,
        "sessions": given["sessions"]
        if "sessions" in given
        else (cache if cache.shared else MemoryStore(max_entries=SESSIONS_IN_MEMORY)),
        # Shared counts need atomic scripts (Redis); a shared store without them
        # leaves the limits to each process.
        "limits": given["limits"]
        if "limits" in given
        else (cache if cache.scripts or not cache.shared else MemoryStore()),
    }
    for name, store in stores.items():
        if name == "sessions" and not sessions:
            continue
        missing = [need.__name__ for need in STORE_NEEDS[name] if not isinstance(store, need)]
        if missing:
            hint = (
                ""
                if name in given
                else f" (it defaults to the cache's; give stores={{{name!r}: ...}})"
            )
            raise ValueError(
                f"the {name!r} store ({type(store).__name__}) lacks {', '.join(missing)}{hint}"
            )
    return stores
