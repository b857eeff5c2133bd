"""Caching: the `Store` contract (memory, Redis, Redis Cluster) and the session store."""

from stackkit.cache.memory import MemoryStore
from stackkit.cache.redis_store import RedisClusterStore, RedisStore
from stackkit.cache.response_cache import ResponseCacheMiddleware, invalidate
from stackkit.cache.sessions import Session, SessionStore
from stackkit.cache.store import Store, StoreUnavailable

__all__ = [
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
