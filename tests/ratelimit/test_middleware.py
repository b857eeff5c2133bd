from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest
from starlette.middleware import Middleware

from stackkit import Controller, Settings, create_app
from stackkit.ratelimit import Decision, rate_limit_headers
from stackkit.ratelimit.middleware import _allowed_headers
from stackkit.testing import RedisProcess, unique_key_prefix
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
    assert "ratelimit-limit" not in (await client.get("/healthz")).headers


async def test_each_user_has_a_budget(client: httpx2.AsyncClient) -> None:
    for _ in range(3):
        assert (await client.get("/api/a", headers={"x-test-user": "ada"})).status_code == 200
    assert (await client.get("/api/a", headers={"x-test-user": "ada"})).status_code == 429
    assert (await client.get("/api/a", headers={"x-test-user": "bob"})).status_code == 200
    assert (await client.get("/api/a")).status_code == 200  # the anonymous client's budget


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
    assert _allowed_headers(decision) == expected
