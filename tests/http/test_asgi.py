"""The ASGI helpers the middleware share (`stackkit.http.asgi`)."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from stackkit.http.asgi import before_success, client_address, sending_headers, with_headers


def test_with_headers_adds_after_the_apps_own_and_leaves_the_message_as_it_was() -> None:
    start = {"type": "http.response.start", "status": 200, "headers": [(b"a", b"1")]}
    added = with_headers(start, [(b"b", b"2"), (b"c", b"3")])
    assert added["headers"] == [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")]
    assert start["headers"] == [(b"a", b"1")]
    assert with_headers({"type": "http.response.start", "status": 204}, [(b"b", b"2")])[
        "headers"
    ] == [(b"b", b"2")]


async def test_sending_headers_touches_the_start_only() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    wrapped = sending_headers(send, [(b"x-added", b"yes")])
    await wrapped({"type": "http.response.start", "status": 200, "headers": []})
    await wrapped({"type": "http.response.body", "body": b"hi"})
    assert sent == [
        {"type": "http.response.start", "status": 200, "headers": [(b"x-added", b"yes")]},
        {"type": "http.response.body", "body": b"hi"},
    ]


@pytest.mark.parametrize(
    ("status", "acted"), [(200, True), (204, True), (299, True), (199, False), (300, False),
                          (404, False), (500, False)],
)  # fmt: skip
async def test_before_success_acts_before_a_2xx_starts_only(status: int, acted: bool) -> None:
    events: list[str] = []

    async def send(message: dict[str, Any]) -> None:
        events.append(message["type"])

    async def action() -> None:
        events.append("action")

    wrapped = before_success(send, action)
    await wrapped({"type": "http.response.start", "status": status, "headers": []})
    await wrapped({"type": "http.response.body", "body": b""})
    expected = ["http.response.start", "http.response.body"]
    assert events == (["action", *expected] if acted else expected)


@pytest.mark.parametrize(
    ("peer", "forwarded", "address"),
    [
        ("192.0.2.1", b"203.0.113.9", "192.0.2.1"),  # not a trusted proxy: its own address
        ("10.0.0.2", b"203.0.113.9", "203.0.113.9"),  # a trusted proxy: the client it names
        ("10.0.0.2", b"203.0.113.9, 10.0.0.3", "203.0.113.9"),  # through two proxies
        ("10.0.0.2", b"", "10.0.0.2"),  # a proxy that names nobody
        (None, b"203.0.113.9", "unknown"),  # no peer at all
    ],
)
def test_client_address_believes_forwarded_for_from_trusted_proxies_only(
    peer: str | None, forwarded: bytes, address: str
) -> None:
    scope = {
        "client": (peer, 4000) if peer else None,
        "headers": [(b"x-forwarded-for", forwarded)] if forwarded else [],
    }
    assert client_address(scope, [ipaddress.ip_network("10.0.0.0/8")]) == address
