"""Add the security headers every response of a stackkit app should carry."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "DEFAULT_CONTENT_SECURITY_POLICY",
    "SecurityHeadersMiddleware",
    "content_security_policy",
    "security_headers",
]

DEFAULT_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; "
    "object-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"
)
HSTS = "max-age=63072000; includeSubDomains"


def content_security_policy(*, file_origins: Sequence[str] = ()) -> str:
    """The default policy, also letting the pages reach `file_origins` (an object
    store's, for uploads straight from the browser and presigned images)."""
    if not file_origins:
        return DEFAULT_CONTENT_SECURITY_POLICY
    origins = " ".join(file_origins)
    policy = DEFAULT_CONTENT_SECURITY_POLICY.replace(
        "img-src 'self' data:", f"img-src 'self' data: {origins}"
    )
    return f"{policy}; connect-src 'self' {origins}"


def security_headers(
    *, hsts: bool = False, content_security_policy: str = DEFAULT_CONTENT_SECURITY_POLICY
) -> list[tuple[bytes, bytes]]:
    """The headers `SecurityHeadersMiddleware` adds, as ASGI pairs."""
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"content-security-policy", content_security_policy.encode("latin-1")),
    ]
    if hsts:
        headers.append((b"strict-transport-security", HSTS.encode("latin-1")))
    return headers


class SecurityHeadersMiddleware:
    """Pure ASGI. Adds each header unless the response already set it.

    `Strict-Transport-Security` is sent only when `hsts` is true (production):
    on plain-HTTP development servers it would only confuse browsers.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        hsts: bool = False,
        content_security_policy: str = DEFAULT_CONTENT_SECURITY_POLICY,
    ) -> None:
        self.app = app
        self.headers = security_headers(hsts=hsts, content_security_policy=content_security_policy)
        self.names = frozenset(name for name, _ in self.headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = list(message.get("headers", ()))
                present = {name.lower() for name, _ in existing}
                if present.isdisjoint(self.names):  # the usual case: all of them go
                    existing += self.headers
                else:
                    existing += [item for item in self.headers if item[0] not in present]
                message["headers"] = existing
            await send(message)

        await self.app(scope, receive, send_with_headers)
