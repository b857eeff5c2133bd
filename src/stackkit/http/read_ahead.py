"""Reads started ahead of the middleware that needs them, handed over through the scope.

`stackkit.auth.read_ahead.ReadAheadMiddleware` starts, in one turn of the event
loop, the reads that authentication, the rate limiter and the response cache
would each make in turn, so that the store sends them as one round trip;
`stackkit.middleware.hit_path.HitPathMiddleware` hands down what it read before
deciding a request is not a cache hit it can answer. Each
of those takes its read with `take_read(scope, name, identity)`, and uses it only
if it was started for the same thing it would ask for itself (the same session,
counter or cache entry); otherwise it asks the store as it always does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Generator, Hashable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from starlette.types import Scope

__all__ = ["READ_AHEAD_SCOPE_KEY", "Ready", "put_read", "take_read"]

T = TypeVar("T")

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


class Ready(Generic[T]):
    """A read already made, handed over as one: awaiting it gives `value` at once."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, T]:
        return self.value
        yield  # a generator: `await` takes it
