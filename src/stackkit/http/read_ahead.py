"""Reads started ahead of the middleware that needs them, handed over through the scope.

`stackkit.auth.read_ahead.ReadAheadMiddleware` starts, in one turn of the event
loop, the reads that authentication, the rate limiter and the response cache
would each make in turn, so that the store sends them as one round trip. Each
of those takes its read with `take_read(scope, name, identity)`, and uses it only
if it was started for the same thing it would ask for itself (the same session,
counter or cache entry); otherwise it asks the store as it always does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Hashable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.types import Scope

__all__ = ["READ_AHEAD_SCOPE_KEY", "put_read", "take_read"]

READ_AHEAD_SCOPE_KEY = "stackkit.read_ahead"


def put_read(scope: Scope, name: str, identity: Hashable, read: Awaitable[Any]) -> None:
    """Hand `read`, started for `identity`, to whoever takes `name` from `scope`. A read
    nobody takes must log nothing when it fails (`RedisStore.soon` sees to it)."""
    scope.setdefault(READ_AHEAD_SCOPE_KEY, {})[name] = (identity, read)


def take_read(scope: Scope, name: str, identity: Hashable) -> Awaitable[Any] | None:
    """The read `name` started for `identity`, now taken out of `scope`; None if none was
    started, or it was started for something else (another user, another key)."""
    started = scope.get(READ_AHEAD_SCOPE_KEY)
    if not started:
        return None
    found = started.pop(name, None)
    if found is None or found[0] != identity:
        return None
    return found[1]  # type: ignore[no-any-return]
