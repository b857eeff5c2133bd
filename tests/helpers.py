"""Test doubles shared by the test modules."""

from __future__ import annotations

from starlette.authentication import SimpleUser
from starlette.types import ASGIApp, Receive, Scope, Send


class UserFromHeader:
    """Stands in for authentication middleware: `x-test-user: ada` signs ada in."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope.get("headers", []):
            if name == b"x-test-user":
                scope["user"] = SimpleUser(value.decode())
        await self.app(scope, receive, send)
