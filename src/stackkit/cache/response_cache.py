"""Moved to `stackkit.middleware.response_cache`; this name keeps working."""

from stackkit.middleware.response_cache import (
    ResponseCacheMiddleware,
    before_success,
    cache_identity,
    invalidate,
    namespace_of,
    version_key,
)

__all__ = [
    "ResponseCacheMiddleware",
    "before_success",
    "cache_identity",
    "invalidate",
    "namespace_of",
    "version_key",
]
