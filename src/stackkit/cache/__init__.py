"""Caching: the `Store` contract and its memory, Redis and Redis Cluster stores."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackkit.cache.memory import MemoryStore
from stackkit.cache.redis_store import RedisClusterStore, RedisStore
from stackkit.cache.store import Counters, Indexes, KeyValueStore, Locks, Store, StoreUnavailable
from stackkit.lazy import lazy_attributes

if TYPE_CHECKING:
    from stackkit.auth.sessions import Session, SessionStore
    from stackkit.middleware.response_cache import ResponseCacheMiddleware, invalidate

__all__ = [
    "Counters",
    "Indexes",
    "KeyValueStore",
    "Locks",
    "MemoryStore",
    "RedisClusterStore",
    "RedisStore",
    "ResponseCacheMiddleware",
    "Session",
    "SessionStore",
    "Store",
    "StoreUnavailable",
    "invalidate",
]

_MOVED = {
    "ResponseCacheMiddleware": "stackkit.middleware.response_cache",
    "invalidate": "stackkit.middleware.response_cache",
    "Session": "stackkit.auth.sessions",
    "SessionStore": "stackkit.auth.sessions",
}
"""Names that moved to the layer that uses them; imported from here only when asked
for, so that the stores do not load the HTTP layer."""

__getattr__ = lazy_attributes(__name__, _MOVED)
