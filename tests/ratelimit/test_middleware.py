from __future__ import annotations

import ipaddress
import types
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest
from starlette.middleware import Middleware

from stackkit import Controller, Settings, create_app
from stackkit.ratelimit import (
    Decision,
    MemoryRateLimitBackend,
    RateLimiter,
    RateLimitMiddleware,
    rate_limit_headers,
)
from stackkit.ratelimit.middleware import allowed_headers, client_address
from stackkit.testing import RedisProcess, delete_keys, unique_key_prefix
from tests.helpers import UserFromHeader


def routes() -> Controller:
    api = Controller("/api", public=True)

    @api.get("/a", cache_ttl=0)
    async def a() -> dict[str, str]:
        return {"route": "a"}

    @api.get("/b")
    async def b() -> dict[str, str]:
        return {"route": "b"}

    @api.post("/login", rate_limit="1/minute", rate_limit_fail_closed=True)
    async def login() -> dict[str, str]:
        return {"route": "login"}

    @api.get("/free", rate_limit=False, cache_ttl=0)
    async def free() -> dict[str, str]:
        return {"route": "free"}

    @api.post("/register", rate_limit="2/minute", rate_limit_by="address")
    async def register() -> dict[str, str]:
        return {"route": "register"}

    return api


def client_for(app: Any, address: str = "192.0.2.10") -> httpx2.AsyncClient:
    transport = httpx2.ASGITransport(app=app, client=(address, 40000))
    return httpx2.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
async def client(make_settings: Callable[..., Settings]) -> AsyncIterator[httpx2.AsyncClient]:
    app = create_app(
        make_settings(rate_limit="3/minute"),
        controllers=[routes()],
        backends=[],
        middleware=[Middleware(UserFromHeader)],
    )
    async with client_for(app) as client:
        yield client


async def test_the_default_limit_spans_every_route_of_a_client(client: httpx2.AsyncClient) -> None:
    responses = [await client.get(path) for path in ("/api/a", "/api/b", "/api/a", "/api/b")]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers.get("ratelimit-remaining") for r in responses[:3]] == ["2", "1", "0"]
    assert responses[0].headers["ratelimit-limit"] == "3"
    refused = responses[3]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["title"] == "Too Many Requests"
    assert 1 <= int(refused.headers["retry-after"]) <= 20  # one interval of 60 s / 3


async def test_cached_answers_count_too(client: httpx2.AsyncClient) -> None:
    statuses = [(await client.get("/api/b")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


async def test_a_route_of_its_own_limit_has_its_own_budget(client: httpx2.AsyncClient) -> None:
    assert (await client.post("/api/login")).status_code == 200
    assert (await client.post("/api/login")).status_code == 429
    assert (await client.get("/api/a")).headers["ratelimit-remaining"] == "2"


async def test_exempt_routes_and_health_checks_are_not_limited(client: httpx2.AsyncClient) -> None:
    for _ in range(10):
        assert (await client.get("/api/free")).status_code == 200
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
    assert "ratelimit-limit" not in (await client.get("/healthz")).headers
    assert "ratelimit-limit" not in (await client.get("/readyz")).headers
    assert (await client.get("/api/a")).headers["ratelimit-remaining"] == "2"


async def test_requests_that_match_no_route_count_against_the_default(
    client: httpx2.AsyncClient,
) -> None:
    statuses = [(await client.get(path)).status_code for path in ("/api/nothing", "/gone")]
    assert statuses == [404, 404]
    last = await client.get("/api/a")
    assert (last.status_code, last.headers["ratelimit-remaining"]) == (200, "0")
    assert (await client.get("/api/nothing")).status_code == 429


async def test_each_user_has_a_budget(client: httpx2.AsyncClient) -> None:
    for _ in range(3):
        assert (await client.get("/api/a", headers={"x-test-user": "ada"})).status_code == 200
    assert (await client.get("/api/a", headers={"x-test-user": "ada"})).status_code == 429
    assert (await client.get("/api/a", headers={"x-test-user": "bob"})).status_code == 200
    assert (await client.get("/api/a")).status_code == 200  # the anonymous client's budget


async def test_a_route_keyed_by_address_shares_its_budget_between_users(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(
        make_settings(rate_limit="3/minute"),
        controllers=[routes()],
        backends=[],
        middleware=[Middleware(UserFromHeader)],
    )
    async with client_for(app) as one_address, client_for(app, "192.0.2.99") as another:
        statuses = [
            (await one_address.post("/api/register", headers=user)).status_code
            for user in ({"x-test-user": "ada"}, {"x-test-user": "bob"}, {})
        ]
        assert statuses == [200, 200, 429]
        assert (
            await another.post("/api/register", headers={"x-test-user": "ada"})
        ).status_code == 200
        # The user's own budget under the default is untouched by the address's.
        ada = await one_address.get("/api/a", headers={"x-test-user": "ada"})
        assert ada.headers["ratelimit-remaining"] == "2"


async def test_limited_answers_say_when_the_burst_is_full_again(
    client: httpx2.AsyncClient,
) -> None:
    answers = [await client.get("/api/a") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    # 3/minute: each request takes one interval of 20 s from the burst, given back in turn.
    assert [a.headers["ratelimit-limit"] for a in answers[:3]] == ["3", "3", "3"]
    assert [a.headers["ratelimit-reset"] for a in answers[:3]] == ["20", "40", "60"]
    assert answers[3].headers["ratelimit-reset"] == "60"
    assert 1 <= int(answers[3].headers["retry-after"]) <= 20


@pytest.mark.parametrize(
    ("connection", "forwarded", "client"),
    [
        ("198.51.100.7", ["203.0.113.1"], "198.51.100.7"),
        ("192.0.2.10", [], "192.0.2.10"),
        ("192.0.2.10", ["203.0.113.1"], "203.0.113.1"),
        ("192.0.2.10", ["1.2.3.4, 203.0.113.1"], "203.0.113.1"),
        ("192.0.2.10", ["203.0.113.1, 192.0.2.20"], "203.0.113.1"),
        ("192.0.2.10", ["1.2.3.4", "203.0.113.1, 10.0.0.5"], "203.0.113.1"),
        ("10.0.0.5", ["203.0.113.1, 10.0.0.6"], "203.0.113.1"),
        ("2001:db8::1", ["2001:db8:1::9"], "2001:db8:1::9"),
        # Not an address: never a trusted proxy, so what the client put before it is not
        # taken for theirs.
        ("192.0.2.10", ["1.2.3.4, unknown"], "unknown"),
    ],
    ids=["untrusted-connection", "no-header", "one-hop", "client-prepended", "two-proxies",
         "two-headers", "network", "ipv6", "not-an-address"],
)  # fmt: skip
def test_the_client_is_the_nearest_address_that_is_not_a_trusted_proxy(
    connection: str, forwarded: list[str], client: str
) -> None:
    trusted = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "10.0.0.0/8", "2001:db8::/64")]
    scope = {
        "client": (connection, 40000),
        "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded],
    }
    assert client_address(scope, trusted) == client


async def test_counters_live_in_the_caches_redis(
    redis_url: str, make_settings: Callable[..., Settings]
) -> None:
    prefix = unique_key_prefix()
    settings = make_settings(rate_limit="5/minute", redis_url=redis_url, cache_prefix=prefix)
    app = create_app(settings, controllers=[routes()], backends=[])
    store = app.state.backends["redis"]
    await store.open()
    try:
        async with client_for(app) as client:
            assert (await client.get("/api/a")).headers["ratelimit-remaining"] == "4"
        counters = [key async for key in store.client.scan_iter(match=f"{prefix}*:rl:*")]
        assert counters == [f"{prefix}{{ip:192.0.2.10}}:rl:5/minute".encode()]
    finally:
        delete_keys(redis_url, prefix)
        await store.close()


async def test_a_spoofed_forwarded_for_does_not_change_the_key(client: httpx2.AsyncClient) -> None:
    statuses = [
        (await client.get("/api/a", headers={"x-forwarded-for": f"203.0.113.{n}"})).status_code
        for n in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(rate_limit="1/minute", trusted_proxies="192.0.2.0/24")
    app = create_app(settings, controllers=[routes()], backends=[])
    async with client_for(app, address="192.0.2.10") as proxy:
        first = await proxy.get("/api/a", headers={"x-forwarded-for": "203.0.113.1"})
        other = await proxy.get("/api/a", headers={"x-forwarded-for": "203.0.113.2"})
        again = await proxy.get("/api/a", headers={"x-forwarded-for": "203.0.113.1"})
        # A client cannot prepend its own entry: the nearest untrusted hop counts.
        forged = await proxy.get("/api/a", headers={"x-forwarded-for": "1.2.3.4, 203.0.113.1"})
    assert [first.status_code, other.status_code, again.status_code] == [200, 200, 429]
    assert forged.status_code == 429


async def test_each_full_address_has_a_budget_of_its_own(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(rate_limit="1/minute", trusted_proxies="192.0.2.0/24")
    app = create_app(settings, controllers=[routes()], backends=[])
    # Two addresses of one IPv6 /64 (one client's, most likely) count apart.
    for address in ("2001:db8:1:2::1", "2001:db8:1:2::2"):
        async with client_for(app, address=address) as client:
            assert (await client.get("/api/a")).status_code == 200
            assert (await client.get("/api/a")).status_code == 429
    # Behind a chain of trusted proxies, the client is the nearest address that is not one.
    async with client_for(app, address="192.0.2.10") as proxy:
        chain = {"x-forwarded-for": "1.2.3.4, 203.0.113.9, 192.0.2.77, 192.0.2.78"}
        assert (await proxy.get("/api/a", headers=chain)).status_code == 200
        direct = {"x-forwarded-for": "203.0.113.9"}
        assert (await proxy.get("/api/a", headers=direct)).status_code == 429


async def test_redis_outage_fails_open_except_where_a_route_fails_closed(
    redis_process: RedisProcess, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(
        rate_limit="100/minute", redis_url=redis_process.url, cache_prefix=unique_key_prefix()
    )
    app = create_app(settings, controllers=[routes()], backends=[])
    store = app.state.backends["redis"]
    await store.open()
    try:
        async with client_for(app) as client:
            assert (await client.get("/api/a")).headers["ratelimit-remaining"] == "99"
            redis_process.stop()
            open_route = await client.get("/api/a")
            closed_route = await client.post("/api/login")
        assert open_route.status_code == 200
        assert closed_route.status_code == 503
        assert closed_route.headers["content-type"] == "application/problem+json"
    finally:
        await store.close()


@pytest.mark.parametrize(
    "decision",
    [
        Decision(True, 100, 99, 0.6, 0.0),
        Decision(True, 3, 0, 60.0, 0.0),
        Decision(True, 1_000_000_000, 999_999_999, 1e-9, 0.0),
    ],
    ids=["fraction-of-a-second", "last-one", "huge-rate"],
)
def test_an_allowed_requests_headers_are_rate_limit_headers(decision: Decision) -> None:
    expected = [(k.lower().encode(), v.encode()) for k, v in rate_limit_headers(decision).items()]
    assert allowed_headers(decision) == expected


def test_a_connection_of_no_known_address_is_one_unknown_client() -> None:
    trusted = [ipaddress.ip_network("192.0.2.0/24")]
    assert client_address({"client": None, "headers": []}, trusted) == "unknown"
    assert client_address({"headers": []}) == "unknown"


# The middleware alone, over ASGI, with routes of its own.

ROUTES = {
    "/api/limited": types.SimpleNamespace(
        rate_limit="2/minute", rate_limit_by="user", rate_limit_fail_closed=False,
        method="POST", path="/api/limited",
    ),
    "/api/by-address": types.SimpleNamespace(
        rate_limit="1/minute", rate_limit_by="address", rate_limit_fail_closed=False,
        method="POST", path="/api/by-address",
    ),
    "/api/free": types.SimpleNamespace(
        rate_limit=False, rate_limit_by="user", rate_limit_fail_closed=False,
        method="POST", path="/api/free",
    ),
}  # fmt: skip


async def echo(scope: Any, receive: Any, send: Any) -> None:
    """Answers the path and the body it read. Its start message has no `headers` (ASGI
    allows it), unless the path asks for one of its own."""
    message = await receive()
    start = {"type": "http.response.start", "status": 200}
    if scope["path"].endswith("/own-header"):
        start["headers"] = [(b"x-own", b"kept")]
    await send(start)
    await send({"type": "http.response.body", "body": scope["path"].encode() + message["body"]})


def limited(trusted: list[str] | None = None) -> RateLimitMiddleware:
    return RateLimitMiddleware(
        echo,
        limiter=RateLimiter(MemoryRateLimitBackend()),
        default="3/minute",
        find_route=lambda scope: ROUTES.get(scope["path"]),
        trusted_proxies=trusted or [],
        unlimited_prefix="/api/",
    )


async def post(
    middleware: RateLimitMiddleware, path: str, forwarded: str | None = None
) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"hello", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers,
             "client": ("192.0.2.10", 40000)}  # fmt: skip
    await middleware(scope, receive, send)
    return sent[0]["status"], dict(sent[0].get("headers", [])), sent[-1]["body"]


@pytest.mark.parametrize(
    ("path", "limit"),
    [("/api/limited", b"2"), ("/api/no-such-route", b"3"), ("/api/free", None),
     ("/assets/app.js", None)],
    ids=["the-routes-own", "the-default-under-the-prefix", "unlimited-route",
         "outside-the-prefix"],
)  # fmt: skip
async def test_the_body_and_the_answer_pass_through_with_the_limit_that_applies(
    path: str, limit: bytes | None
) -> None:
    status, headers, body = await post(limited(), path)
    assert (status, body) == (200, path.encode() + b"hello")
    assert headers.get(b"ratelimit-limit") == limit


async def test_the_answers_own_headers_are_kept() -> None:
    status, headers, _ = await post(limited(), "/api/own-header")
    assert status == 200
    assert (headers[b"x-own"], headers[b"ratelimit-limit"]) == (b"kept", b"3")


async def test_a_route_limited_by_address_believes_only_trusted_proxies() -> None:
    # Written as a host with its prefix length: the network around it is meant.
    middleware = limited(trusted=["192.0.2.1/24"])
    assert (await post(middleware, "/api/by-address", "203.0.113.5"))[0] == 200
    assert (await post(middleware, "/api/by-address", "203.0.113.6"))[0] == 200
    assert (await post(middleware, "/api/by-address", "203.0.113.5"))[0] == 429


async def test_other_scopes_pass_through_untouched() -> None:
    seen: list[tuple[Any, ...]] = []

    async def inner(*passed: Any) -> None:
        seen.append(passed)

    middleware = limited()
    middleware.app = inner
    scope, receive, send = {"type": "lifespan"}, object(), object()
    await middleware(scope, receive, send)  # type: ignore[arg-type]
    assert seen == [(scope, receive, send)]
