from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest
from pydantic import BaseModel
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from tests.helpers import StrictASGI, UserFromHeader

from stackkit import Controller, Settings, create_app
from stackkit.cache import MemoryStore, RedisStore, Store
from stackkit.middleware.response_cache import ResponseCacheMiddleware, _matches
from stackkit.testing import RedisProcess, unique_key_prefix


class Item(BaseModel):
    name: str


# Cache-Control values that forbid a shared cache to store the answer.
FORBIDDING = {
    "no-store": "no-store",
    "private": "private",
    "private-max-age": "Private, max-age=600",
    "public-no-store": "public, max-age=600, NO-STORE",
}


class Counting:
    """The routes of the tests, counting how often each handler really ran."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.items = ["first"]
        self.controller = self._build()

    def count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def _build(self) -> Controller:
        api = Controller("/api", public=True)

        @api.get("/whoami")
        async def whoami(request: Request) -> dict[str, str]:
            self.count("whoami")
            user = request.scope.get("user")
            return {"user": user.display_name if user else "anonymous"}

        @api.get("/items")
        async def items(request: Request) -> list[Item]:
            self.count("items")
            return [Item(name=n) for n in self.items]

        @api.post("/items", status_code=201)
        async def add(body: Item) -> Item:
            self.items.append(body.name)
            return body

        @api.get("/slow")
        async def slow() -> dict[str, int]:
            self.count("slow")
            await asyncio.sleep(0.2)  # the work that concurrent misses must not repeat
            return {"answer": 42}

        @api.get("/slow-private")
        async def slow_private() -> JSONResponse:
            self.count("slow-private")
            n = self.calls["slow-private"]
            await asyncio.sleep(0.05)  # the work, long enough for the others to wait
            return JSONResponse({"n": n}, headers={"cache-control": "private"})

        @api.get("/text")
        async def text() -> PlainTextResponse:
            self.count("text")
            return PlainTextResponse("line one\nline two\n{}\n")

        @api.get("/live", cache_ttl=0)
        async def live() -> dict[str, int]:
            self.count("live")
            return {"n": self.calls["live"]}

        @api.get("/tagged")
        async def tagged() -> JSONResponse:
            self.count("tagged")
            return JSONResponse({"n": self.calls["tagged"]}, headers={"ETag": '"v7"'})

        @api.get("/forbidding/{kind}")
        async def forbidding(request: Request) -> JSONResponse:
            kind = request.path_params["kind"]
            self.count(kind)
            response = JSONResponse({"secret": self.calls[kind]})
            if kind == "set-cookie":
                response.set_cookie("session", "s3cr3t")
            else:
                response.headers["cache-control"] = FORBIDDING[kind]
            return response

        return api


@pytest.fixture
def routes() -> Counting:
    return Counting()


def client_for(app: Any) -> httpx2.AsyncClient:
    transport = httpx2.ASGITransport(app=StrictASGI(app))
    return httpx2.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
async def client(
    cache_store: Store, routes: Counting, make_settings: Callable[..., Settings]
) -> AsyncIterator[httpx2.AsyncClient]:
    app = create_app(
        make_settings(),
        controllers=[routes.controller],
        backends=[],
        cache_store=cache_store,
        middleware=[Middleware(UserFromHeader)],
    )
    async with client_for(app) as client:
        yield client


async def test_second_get_is_a_hit(client: httpx2.AsyncClient, routes: Counting) -> None:
    first = await client.get("/api/items")
    second = await client.get("/api/items")
    assert first.headers["cache-status"] == "stackkit; fwd=miss; stored"
    assert second.headers["cache-status"] == "stackkit; hit"
    assert second.json() == first.json() == [{"name": "first"}]
    assert second.headers["etag"] == first.headers["etag"]
    assert routes.calls["items"] == 1
    # The handler's headers are kept with the body (all but the per-request ones).
    kept = {"content-type", "content-length", "etag"}
    assert {k: v for k, v in second.headers.items() if k in kept} == {
        k: v for k, v in first.headers.items() if k in kept
    }
    assert second.headers["content-type"] == "application/json"


async def test_one_users_response_is_never_served_to_another(
    client: httpx2.AsyncClient, routes: Counting
) -> None:
    ada = await client.get("/api/whoami", headers={"x-test-user": "ada"})
    bob = await client.get("/api/whoami", headers={"x-test-user": "bob"})
    anonymous = await client.get("/api/whoami")
    ada_again = await client.get("/api/whoami", headers={"x-test-user": "ada"})
    assert ada.json() == {"user": "ada"}
    assert bob.json() == {"user": "bob"}
    assert anonymous.json() == {"user": "anonymous"}
    assert bob.headers["cache-status"].startswith("stackkit; fwd=miss")
    assert ada_again.json() == {"user": "ada"}
    assert ada_again.headers["cache-status"] == "stackkit; hit"
    assert routes.calls["whoami"] == 3


async def test_query_order_does_not_matter(client: httpx2.AsyncClient, routes: Counting) -> None:
    await client.get("/api/items?a=1&b=2")
    again = await client.get("/api/items?b=2&a=1")
    other = await client.get("/api/items?a=1&b=3")
    assert again.headers["cache-status"] == "stackkit; hit"
    assert other.headers["cache-status"].startswith("stackkit; fwd=miss")
    assert routes.calls["items"] == 2


async def test_a_blank_parameter_is_a_query_of_its_own(
    client: httpx2.AsyncClient, routes: Counting
) -> None:
    """`?name=` may mean "name is empty" to a handler: not the same as no `name` (but
    the same as `?name`, which Starlette reads as empty too)."""
    statuses = [
        (await client.get(f"/api/items{query}")).headers["cache-status"]
        for query in ("", "?name=", "?name")
    ]
    assert statuses == ["stackkit; fwd=miss; stored"] * 2 + ["stackkit; hit"]
    assert routes.calls["items"] == 2


async def test_if_none_match_gets_304(client: httpx2.AsyncClient) -> None:
    first = await client.get("/api/items")
    etag = first.headers["etag"]
    cached = await client.get("/api/items", headers={"if-none-match": etag})
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == etag
    assert cached.headers["cache-status"] == "stackkit; hit"
    other = await client.get("/api/items", headers={"if-none-match": '"something-else"'})
    assert other.status_code == 200


async def test_a_write_invalidates_the_resource(
    client: httpx2.AsyncClient, routes: Counting
) -> None:
    await client.get("/api/items")
    await client.get("/api/items?page=2")
    assert (await client.post("/api/items", json={"name": "second"})).status_code == 201
    fresh = await client.get("/api/items")
    assert fresh.headers["cache-status"].startswith("stackkit; fwd=miss")
    assert fresh.json() == [{"name": "first"}, {"name": "second"}]
    assert (
        (await client.get("/api/items?page=2"))
        .headers["cache-status"]
        .startswith("stackkit; fwd=miss")
    )
    assert (await client.get("/api/items")).headers["cache-status"] == "stackkit; hit"
    assert routes.calls["items"] == 4


async def test_a_write_invalidates_before_its_answer_is_sent(
    cache_store: Store, routes: Counting, make_settings: Callable[..., Settings]
) -> None:
    # A client that reads as soon as its 201 arrives must not get the old entry.
    app = create_app(
        make_settings(), controllers=[routes.controller], backends=[], cache_store=cache_store
    )
    async with client_for(app) as client:
        await client.get("/api/items")
        read_at_answer: list[httpx2.Response] = []

        async def read_as_the_answer_starts(scope: Any, receive: Any, send: Any) -> None:
            async def watch(message: Any) -> None:
                if message["type"] == "http.response.start" and scope["method"] == "POST":
                    read_at_answer.append(await client.get("/api/items"))
                await send(message)

            await app(scope, receive, watch)

        async with client_for(read_as_the_answer_starts) as writer:
            assert (await writer.post("/api/items", json={"name": "second"})).status_code == 201
    assert read_at_answer[0].json() == [{"name": "first"}, {"name": "second"}]


async def test_a_store_that_fails_after_a_write_does_not_turn_it_into_a_500(
    routes: Counting, make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    # The write is committed by then: a 500 would make the client send it again.
    class BrokenCounter(MemoryStore):
        async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
            raise RuntimeError("MISCONF-like trouble the store did not foresee")

    app = create_app(
        make_settings(),
        controllers=[routes.controller],
        backends=[],
        cache_store=BrokenCounter(),
        configure_logs=False,
    )
    caplog.set_level(logging.WARNING, logger="stackkit.cache")
    async with client_for(app) as client:
        answer = await client.post("/api/items", json={"name": "second"})
    assert answer.status_code == 201
    assert routes.items == ["first", "second"]
    assert any("Response cache bypassed" in r.getMessage() for r in caplog.records)


async def test_concurrent_misses_run_the_handler_once(
    client: httpx2.AsyncClient, routes: Counting
) -> None:
    responses = await asyncio.gather(*(client.get("/api/slow") for _ in range(50)))
    assert {r.status_code for r in responses} == {200}
    assert all(r.json() == {"answer": 42} for r in responses)
    assert routes.calls["slow"] == 1
    statuses = [r.headers["cache-status"] for r in responses]
    assert statuses.count("stackkit; fwd=miss; stored") == 1
    assert statuses.count("stackkit; hit") == 49


async def test_concurrent_misses_of_an_answer_not_kept_each_run_the_handler(
    client: httpx2.AsyncClient, routes: Counting
) -> None:
    """Each waiter takes the lock in turn, finds no entry, and runs the handler."""
    responses = await asyncio.gather(*(client.get("/api/slow-private") for _ in range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    assert sorted(r.json()["n"] for r in responses) == [1, 2, 3, 4, 5]
    assert {r.headers["cache-status"] for r in responses} == {"stackkit; fwd=miss"}


class RacingStore(MemoryStore):
    """Another instance holds the fill lock at the first try; at the second, it has just
    stored the entry (`entry`, under `entry_key`) and let go."""

    def __init__(self) -> None:
        super().__init__()
        self.racing = False
        self.entry_key, self.entry = "", b""
        self.lock_keys: set[str] = set()
        self.tries = 0

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        if ":e:" in key:
            self.entry_key = key
        await super().set(key, value, ttl=ttl)

    async def set_if_absent(self, key: str, value: bytes, *, ttl: float) -> bool:
        self.lock_keys.add(key)
        if self.racing:
            self.tries += 1
            if self.tries == 1:
                return False
            await self.set(self.entry_key, self.entry, ttl=60)
        return await super().set_if_absent(key, value, ttl=ttl)


async def test_a_miss_that_took_the_lock_after_waiting_looks_for_the_entry_once_more(
    routes: Counting, make_settings: Callable[..., Settings]
) -> None:
    store = RacingStore()
    app = create_app(
        make_settings(), controllers=[routes.controller], backends=[], cache_store=store
    )
    async with client_for(app) as client:
        first = await client.get("/api/items")
        store.entry = await store.get(store.entry_key) or b""
        await store.delete(store.entry_key)
        store.racing = True
        second = await client.get("/api/items")
    assert (second.headers["cache-status"], second.json()) == ("stackkit; hit", first.json())
    assert routes.calls["items"] == 1
    assert store.tries == 2
    assert [await store.get(key) for key in store.lock_keys] == [None]  # the lock let go


@pytest.mark.parametrize("path", ["/api/live", "/healthz"])
async def test_opted_out_routes_never_touch_the_store(
    client: httpx2.AsyncClient, cache_store: Store, path: str
) -> None:
    responses = await asyncio.gather(*(client.get(path) for _ in range(20)))
    assert {r.status_code for r in responses} == {200}
    assert all("cache-status" not in r.headers for r in responses)
    if isinstance(cache_store, MemoryStore):
        assert len(cache_store) == 0  # no entry, no lock, no version


@pytest.mark.parametrize("kind", [*FORBIDDING, "set-cookie"])
async def test_private_no_store_or_cookie_setting_answers_are_never_stored(
    client: httpx2.AsyncClient, routes: Counting, kind: str
) -> None:
    first = await client.get(f"/api/forbidding/{kind}")
    second = await client.get(f"/api/forbidding/{kind}")
    assert first.status_code == second.status_code == 200
    assert second.headers["cache-status"] == "stackkit; fwd=miss"
    assert (first.json(), second.json()) == ({"secret": 1}, {"secret": 2})
    assert routes.calls[kind] == 2


async def test_an_etag_the_handler_gives_is_the_one_answered(
    client: httpx2.AsyncClient, routes: Counting
) -> None:
    # Matched by the request that runs the handler, then by the stored answer.
    for cache_status in ("stackkit; fwd=miss; stored", "stackkit; hit"):
        not_modified = await client.get("/api/tagged", headers={"If-None-Match": '"v7"'})
        assert (not_modified.status_code, not_modified.headers["cache-status"]) == (
            304, cache_status,
        )  # fmt: skip
    hit = await client.get("/api/tagged")
    miss = await client.get("/api/tagged?another=key")
    assert [a.headers.get_list("etag") for a in (hit, miss)] == [['"v7"'], ['"v7"']]
    assert routes.calls["tagged"] == 2


async def test_an_etag_made_by_the_cache_is_the_bodys_sha256(client: httpx2.AsyncClient) -> None:
    """The first 128 bits, in hex: strong, and the same on every instance."""
    answer = await client.get("/api/items")
    assert answer.headers.get_list("etag") == [
        f'"{hashlib.sha256(answer.content).hexdigest()[:32]}"'
    ]


async def test_a_body_with_line_breaks_comes_back_whole(
    client: httpx2.AsyncClient, routes: Counting
) -> None:
    first = await client.get("/api/text")
    again = await client.get("/api/text")
    assert again.headers["cache-status"] == "stackkit; hit"
    assert again.text == first.text == "line one\nline two\n{}\n"
    assert routes.calls["text"] == 1


async def test_head_is_answered_from_the_cached_get(client: httpx2.AsyncClient) -> None:
    get = await client.get("/api/items")
    head = await client.head("/api/items")
    assert head.headers["cache-status"] == "stackkit; hit"
    assert head.content == b""
    assert head.headers["content-length"] == str(len(get.content))


async def test_a_head_before_any_get_stores_nothing(
    cache_store: Store, routes: Counting, make_settings: Callable[..., Settings]
) -> None:
    """A HEAD's answer has no body to keep: the GET after it runs the handler. (The
    handler's own answer to a HEAD carries its body, as Starlette's responses do, and
    the server drops it: the client here is not strict about that.)"""
    app = create_app(
        make_settings(), controllers=[routes.controller], backends=[], cache_store=cache_store
    )
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
        head = await client.head("/api/items")
        assert (head.status_code, head.headers["cache-status"]) == (200, "stackkit; fwd=miss")
        get = await client.get("/api/items")
    assert get.headers["cache-status"] == "stackkit; fwd=miss; stored"
    assert get.json() == [{"name": "first"}]
    assert routes.calls["items"] == 2


async def test_cache_fails_open_and_recovers(
    redis_process: RedisProcess,
    routes: Counting,
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = RedisStore(redis_process.url, prefix=unique_key_prefix(), timeout=0.3)
    await store.open()
    app = create_app(
        make_settings(), controllers=[routes.controller], backends=[], cache_store=store
    )
    warnings: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = warnings.append  # type: ignore[method-assign]
    logging.getLogger("stackkit.cache").addHandler(handler)
    try:
        async with client_for(app) as client:
            await client.get("/api/items")
            assert (await client.get("/api/items")).headers["cache-status"] == "stackkit; hit"

            redis_process.stop()
            for _ in range(3):
                started = time.monotonic()
                response = await client.get("/api/items")
                assert response.status_code == 200
                assert response.headers["cache-status"] == "stackkit; fwd=bypass"
                assert time.monotonic() - started < 1.5
            write = await client.post("/api/items", json={"name": "during outage"})
            assert write.status_code == 201
            assert len(warnings) == 1  # once per interval, not once per request

            redis_process.start()
            deadline = time.monotonic() + 10
            while (await client.get("/api/items")).headers["cache-status"] != "stackkit; hit":
                assert time.monotonic() < deadline, "caching did not resume"
                await asyncio.sleep(0.05)
    finally:
        logging.getLogger("stackkit.cache").removeHandler(handler)
        await store.close()


def test_redis_url_selects_a_shared_redis_cache(
    redis_url: str, routes: Counting, make_settings: Callable[..., Settings]
) -> None:
    from starlette.testclient import TestClient

    from stackkit.testing import delete_keys

    prefix = unique_key_prefix()
    settings = make_settings(redis_url=redis_url, cache_prefix=prefix)
    app = create_app(settings, controllers=[routes.controller])
    try:
        with TestClient(app) as client:
            assert client.get("/readyz").json()["checks"] == {"database": "ok", "redis": "ok"}
            client.get("/api/items")
            assert client.get("/api/items").headers["cache-status"] == "stackkit; hit"
        assert delete_keys(redis_url, prefix) > 0  # the entries were in Redis, under the prefix
    finally:
        delete_keys(redis_url, prefix)


def test_settings_select_the_store(make_settings: Callable[..., Settings]) -> None:
    from stackkit.app import default_cache_store
    from stackkit.cache import MemoryStore, RedisClusterStore

    assert isinstance(default_cache_store(make_settings()), MemoryStore)
    node = "redis://127.0.0.1:7000/0"  # nothing connects: stores connect when opened
    assert type(default_cache_store(make_settings(redis_url=node))) is RedisStore
    clustered = default_cache_store(
        make_settings(redis_url=node, redis_cluster=True, redis_timeout=2.5)
    )
    assert isinstance(clustered, RedisClusterStore)
    assert clustered.timeout == 2.5


@pytest.mark.parametrize(
    ("if_none_match", "etag", "matches"),
    [
        (b'"12"', b'"12"', True),
        (b'W/"12"', b'"12"', True),
        (b'"12"', b'W/"12"', True),
        (b'"11", W/"12"', b'"12"', True),
        (b"*", b'"12"', True),
        (b'"a,b"', b'"a,b"', True),
        (b'"a,b"', b'"a"', False),
        (b'"1"', b'"12"', False),
        (b'"012"', b'"12"', False),
        (b'"12', b'"12"', False),
        (b"12", b'"12"', False),
        (b"", b'"12"', False),
    ],
    ids=[
        "same", "weak-asked", "weak-current", "in-list", "star", "comma-inside",
        "comma-split", "prefix", "leading-zero", "malformed", "unquoted", "empty",
    ],
)  # fmt: skip
def test_if_none_match_is_the_weak_comparison(
    if_none_match: bytes, etag: bytes, matches: bool
) -> None:
    scope = {"headers": [(b"if-none-match", if_none_match)]}
    assert _matches(scope, etag) is matches


def test_the_middleware_built_by_hand_has_the_apps_defaults() -> None:
    """5 minutes, 1 MiB, 5 s of waiting for another fill, a 10 s lock: as `create_app`
    has it with the default settings."""
    middleware = ResponseCacheMiddleware(
        PlainTextResponse("x"), store=MemoryStore(), find_route=lambda scope: None
    )
    assert (middleware.default_ttl, middleware.max_body, middleware.wait) == (300, 1 << 20, 5)
    assert middleware.lock_ttl == 10


async def test_other_methods_pass_through_untouched(
    client: httpx2.AsyncClient, cache_store: Store
) -> None:
    """OPTIONS is neither a read nor a write: answered by the app, with no cache status."""
    answer = await client.options("/api/items")
    assert answer.status_code == 204
    assert "GET" in answer.headers["allow"]
    assert "cache-status" not in answer.headers
    if isinstance(cache_store, MemoryStore):
        assert len(cache_store) == 0
