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


class Clock:
    """A clock for code that takes one (`clock=`): Unix time that moves only when told."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now
