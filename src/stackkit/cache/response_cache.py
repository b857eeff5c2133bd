"""Moved to `stackkit.middleware.response_cache`; this name keeps working."""

from stackkit.middleware.response_cache import ResponseCacheMiddleware, invalidate

__all__ = ["ResponseCacheMiddleware", "invalidate"]
