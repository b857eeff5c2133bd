"""Test doubles shared by the test modules."""

from __future__ import annotations

import logging
import ssl
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from starlette.authentication import SimpleUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stackkit.cache import RedisStore
from stackkit.testing import (
    RedisClusterProcess,
    ServerProcess,
    ServiceUnavailable,
    find_free_port,
    skip_or_fail,
)


class UserFromHeader:
    """Stands in for authentication middleware: `x-test-user: ada` signs ada in."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope.get("headers", []):
            if name == b"x-test-user":
                scope["user"] = SimpleUser(value.decode())
        await self.app(scope, receive, send)


ASGI_KEYS = {
    "http.response.start": frozenset({"type", "status", "headers", "trailers"}),
    "http.response.body": frozenset({"type", "body", "more_body"}),
}
"""The keys ASGI gives a response's messages."""


class StrictASGI:
    """Fails a test when the app sends what breaks the ASGI spec or HTTP in a way a
    lenient client forgives: header names must be lower-case bytes (HTTP/2 servers
    pass them on as they are), values bytes; a message has only the keys ASGI gives
    its type (a misspelt `body` is silently no body); an answer to HEAD has no body
    (httpx drops one unread)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def checked(message: Message) -> None:
            known = ASGI_KEYS.get(message["type"], frozenset(message))
            assert set(message) <= known, f"{message['type']} with {set(message) - known}"
            if message["type"] == "http.response.start":
                for name, value in message.get("headers", ()):
                    assert isinstance(name, bytes), name
                    assert isinstance(value, bytes), value
                    assert name == name.lower(), f"header name {name!r} is not lower-case"
            elif message["type"] == "http.response.body" and scope.get("method") == "HEAD":
                assert message.get("body", b"") == b"", "an answer to HEAD has a body"
            await send(message)

        await self.app(scope, receive, checked)


class Clock:
    """A clock for code that takes one (`clock=`): Unix time that moves only when told."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def opened(*stores: RedisStore) -> AsyncIterator[None]:
    """Open `stores` (several with one prefix are workers sharing a Redis); afterwards
    delete every key under their prefixes and close them."""
    for store in stores:
        await store.open()
    try:
        yield
    finally:
        for store in stores:
            keys = [key async for key in store.client.scan_iter(match=f"{store.prefix}*")]
            for key in keys:
                await store.client.delete(key)
            await store.close()


async def assert_warned_once_a_minute(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    warning: str,
    traffic: Callable[[], Awaitable[None]],
) -> None:
    """Send `traffic` at 0 s, 59.9 s and 60 s on a stopped clock: the warning that
    starts with `warning` is logged once, still once, then a second time."""
    now = [1000.0]
    monkeypatch.setattr("stackkit.logs.time", types.SimpleNamespace(monotonic=lambda: now[0]))
    caplog.set_level(logging.WARNING, logger="stackkit")
    seen = []
    for step in (0.0, 59.9, 0.1):
        now[0] += step
        await traffic()
        seen.append(sum(r.getMessage().startswith(warning) for r in caplog.records))
    assert seen == [1, 1, 2]


def documented_operations(
    document: dict[str, Any], keep: Callable[[str, dict[str, Any]], bool]
) -> dict[tuple[str, str], tuple[dict[str, Any], str, Any]]:
    """Each OpenAPI operation that `keep(path, operation)` accepts, by (path, method):
    the operation, its first answer's status and that answer's JSON schema (None if it
    has no body)."""
    operations = {}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if not keep(path, operation):
                continue
            status, answer = next(iter(operation["responses"].items()))
            schema = answer.get("content", {}).get("application/json", {}).get("schema")
            operations[path, method] = (operation, status, schema)
    return operations


Process = TypeVar("Process", bound=ServerProcess | RedisClusterProcess)


@contextmanager
def running(server: Process) -> Iterator[Process]:
    """`server` started for the block and stopped after; the test skipped (or failed,
    when services are required) if it cannot start here."""
    try:
        server.start()
    except ServiceUnavailable as exc:
        skip_or_fail(str(exc))
    with server:
        yield server


# A real SMTP server


@dataclass
class Inbox:
    """aiosmtpd handler: keeps what the server accepted, and the credentials it was given."""

    envelopes: list[Envelope] = field(default_factory=list)
    logins: list[LoginPassword] = field(default_factory=list)
    accept_login: bool = True

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        self.logins.append(data)
        # handled=False: aiosmtpd then answers a refusal itself (535).
        return AuthResult(success=self.accept_login, handled=False)


@dataclass
class SMTPServer:
    port: int
    inbox: Inbox


StartServer = Callable[..., SMTPServer]


@contextmanager
def smtp_servers() -> Iterator[StartServer]:
    """Start real SMTP servers on 127.0.0.1 (SMTP options as keywords) within the block;
    the `start_server` fixture."""
    controllers: list[Controller] = []

    def start(
        inbox: Inbox | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        port: int | None = None,
        **smtp_options: Any,
    ) -> SMTPServer:
        inbox = Inbox() if inbox is None else inbox
        # Controller connects to its own port to check it started, so port 0 will not do.
        controller = Controller(
            inbox,
            hostname="127.0.0.1",
            port=port or find_free_port(),
            ssl_context=ssl_context,
            authenticator=inbox.authenticate,
            auth_require_tls=False,
            **smtp_options,
        )
        controller.start()
        controllers.append(controller)
        return SMTPServer(controller.port, inbox)

    try:
        yield start
    finally:
        for controller in controllers:
            controller.stop()
