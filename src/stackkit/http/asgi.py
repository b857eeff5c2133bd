"""What pure ASGI middleware does by hand, written once: add headers to a response's
start, act just before a 2xx answer leaves, and find the client's address.

Headers are ASGI's raw `(name, value)` byte pairs, names in lower case: these run
on every response, and Starlette's `MutableHeaders` costs several times as much.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.types import Message, Scope, Send

__all__ = [
    "Network",
    "before_success",
    "client_address",
    "sending_headers",
    "with_headers",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
"""A trusted proxy's network (`STACKKIT_TRUSTED_PROXIES`)."""


def with_headers(start: Message, headers: Iterable[tuple[bytes, bytes]]) -> Message:
    """A copy of the `http.response.start` message `start`, with `headers` added after
    its own."""
    return {**start, "headers": [*start.get("headers", ()), *headers]}


def sending_headers(send: Send, headers: Sequence[tuple[bytes, bytes]]) -> Send:
    """`send`, adding `headers` to the response's start."""

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = with_headers(message, headers)
        await send(message)

    return send_with_headers


def before_success(send: Send, action: Callable[[], Awaitable[None]]) -> Send:
    """`send`, awaiting `action` just before a 2xx answer starts: once the handler's work
    is done (committed), before the client can act on the answer."""

    async def send_after_action(message: Message) -> None:
        if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
            await action()
        await send(message)

    return send_after_action


def client_address(scope: Scope, trusted: Sequence[Network] = ()) -> str:
    """The client's address: the connection's, unless the connection comes from a
    trusted proxy: then the nearest address in `X-Forwarded-For` that is not a trusted
    proxy (anyone else could put any address there)."""
    client = scope.get("client")
    address = client[0] if client else "unknown"
    if trusted and _is_trusted(address, trusted):
        forwarded = b",".join(v for k, v in scope["headers"] if k == b"x-forwarded-for")
        for hop in reversed(
            [h.strip() for h in forwarded.decode("latin-1").split(",") if h.strip()]
        ):
            address = hop
            if not _is_trusted(hop, trusted):
                break
    return str(address)


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
