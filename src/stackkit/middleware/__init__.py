"""Pure ASGI middleware of the app core. `create_app` assembles them in a fixed order."""

from __future__ import annotations

from stackkit.lazy import lazy_attributes
from stackkit.middleware.body_limit import BodySizeLimitMiddleware, BodyTooLarge
from stackkit.middleware.internal_errors import InternalErrorMiddleware
from stackkit.middleware.read_your_writes import ReadYourWritesMiddleware
from stackkit.middleware.request_id import RequestIdMiddleware
from stackkit.middleware.response_cache import ResponseCacheMiddleware, invalidate
from stackkit.middleware.security_headers import SecurityHeadersMiddleware

__all__ = [
    "BodySizeLimitMiddleware",
    "BodyTooLarge",
    "InternalErrorMiddleware",
    "ReadYourWritesMiddleware",
    "RequestIdMiddleware",
    "ResponseCacheMiddleware",
    "SecurityHeadersMiddleware",
    "invalidate",
]


__getattr__ = lazy_attributes(__name__)  # a submodule, imported on first use
