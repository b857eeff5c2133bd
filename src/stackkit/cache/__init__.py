"""Caching: the Redis connection shared by the cache, session and rate-limit stores."""

from stackkit.cache.redis_connection import RedisConnection

__all__ = ["RedisConnection"]
