"""What the response cache keeps, and for how long: the TTLs, the routes it leaves alone,
the statuses and the sizes it does not keep."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

from stackkit import Controller, Settings, create_app
from stackkit.cache import MemoryStore, RedisStore

KIB = 1024


def routes(calls: Counter[str]) -> Controller:
    """Routes that count how often their handler ran; none spends a rate-limit budget, so
    the store holds the cache's keys alone."""
    api = Controller("/api", public=True)

    @api.get("/default", rate_limit=False)
    async def default() -> dict[str, int]:
        calls["default"] += 1
        return {"n": calls["default"]}

    @api.get("/short", cache_ttl=30, rate_limit=False)
    async def short() -> dict[str, int]:
        calls["short"] += 1
        return {"n": calls["short"]}

    @api.get("/second", cache_ttl=1, rate_limit=False)
    async def second() -> dict[str, int]:
        calls["second"] += 1
        return {"n": calls["second"]}

    @api.get("/live", cache_ttl=0, rate_limit=False)
    async def live() -> dict[str, int]:
        calls["live"] += 1
        return {"n": calls["live"]}

    @api.get("/status/{code}", rate_limit=False)
    async def status(request: Request) -> JSONResponse:
        code = int(request.path_params["code"])
        calls[f"status/{code}"] += 1
        return JSONResponse({"code": code}, status_code=code)

    @api.get("/stream/{chunks}/{kib}", rate_limit=False)
    async def stream(request: Request) -> StreamingResponse:
        chunks, kib = int(request.path_params["chunks"]), int(request.path_params["kib"])
        calls[f"stream/{chunks}/{kib}"] += 1

        async def body() -> AsyncIterator[bytes]:
            for _ in range(chunks):
                yield b"x" * (kib * KIB)

        return StreamingResponse(body(), media_type="application/octet-stream")

    @api.get("/whole/{kib}", rate_limit=False)
    async def whole(request: Request) -> PlainTextResponse:
        kib = int(request.path_params["kib"])
        calls[f"whole/{kib}"] += 1
        return PlainTextResponse("x" * (kib * KIB))  # the body in one message

    return api


def memory_app(settings: Settings, calls: Counter[str]) -> Any:
    """An app of `routes(calls)`, caching in memory."""
    return create_app(
        settings, controllers=[routes(calls)], backends=[], cache_store=MemoryStore(),
        configure_logs=False,
    )  # fmt: skip


def client_for(app: Any) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize(
    ("cache_ttl", "path", "ttl"),
    [
        (None, "/api/default", 300),
        (60, "/api/default", 60),
        (None, "/api/short", 30),
        (None, "/api/live", None),
        (0, "/api/default", None),
        (0, "/api/short", None),
        (None, "/healthz", None),
        (None, "/readyz", None),
    ],
    ids=["five-minutes-by-default", "setting", "route", "route-opts-out", "setting-0",
         "setting-0-over-route", "healthz", "readyz"],
)  # fmt: skip
async def test_how_long_an_answer_stays(
    redis_store: RedisStore,
    make_settings: Callable[..., Settings],
    cache_ttl: int | None,
    path: str,
    ttl: int | None,
) -> None:
    calls: Counter[str] = Counter()
    settings = make_settings() if cache_ttl is None else make_settings(cache_ttl=cache_ttl)
    app = create_app(
        settings, controllers=[routes(calls)], backends=[], cache_store=redis_store,
        configure_logs=False,
    )  # fmt: skip
    async with client_for(app) as client:
        answers = [await client.get(path) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    keys = [key async for key in redis_store.client.scan_iter(match=f"{redis_store.prefix}*")]
    if ttl is None:
        assert all("cache-status" not in a.headers for a in answers)
        assert keys == []  # never touched the store: no entry, no lock, no version
        return
    assert [a.headers["cache-status"] for a in answers] == [
        "stackkit; fwd=miss; stored",
        "stackkit; hit",
    ]
    [entry] = keys
    assert ttl - 5 < await redis_store.client.ttl(entry) <= ttl


async def test_a_route_may_keep_its_answers_for_one_second(
    make_settings: Callable[..., Settings],
) -> None:
    async with client_for(memory_app(make_settings(), Counter())) as client:
        answer = await client.get("/api/second")
    assert answer.headers["cache-status"] == "stackkit; fwd=miss; stored"


async def test_the_frontend_and_plain_routes_are_never_cached(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    build = tmp_path / "dist"
    (build / "assets").mkdir(parents=True)
    (build / "index.html").write_text("<!doctype html><div id=root></div>")
    (build / "assets" / "app-1234.js").write_text("console.log('app')")
    store = MemoryStore()

    async def plain(request: Request) -> JSONResponse:
        return JSONResponse({"plain": True})

    app = create_app(
        make_settings(),
        controllers=[routes(Counter())],
        routes=[Route("/plain", plain)],
        backends=[],
        cache_store=store,
        frontend=build,
        configure_logs=False,
    )
    async with client_for(app) as client:
        for path in ("/", "/notes/3", "/assets/app-1234.js", "/plain"):
            for _ in range(2):
                answer = await client.get(path)
                assert answer.status_code == 200
                assert "cache-status" not in answer.headers
        assert (await client.get("/api/default")).headers["cache-status"].endswith("stored")
    assert len(store) == 1  # the API's entry, nothing of the rest


@pytest.mark.parametrize(
    ("code", "kept"),
    [(200, True), (203, True), (299, True), (300, False), (302, False), (400, False), (404, False),
     (410, False), (500, False), (503, False)],
)  # fmt: skip
async def test_only_2xx_answers_are_kept(
    make_settings: Callable[..., Settings], code: int, kept: bool
) -> None:
    calls: Counter[str] = Counter()
    app = memory_app(make_settings(), calls)
    async with client_for(app) as client:
        answers = [await client.get(f"/api/status/{code}") for _ in range(2)]
    assert [a.status_code for a in answers] == [code, code]
    statuses = [a.headers["cache-status"] for a in answers]
    if kept:
        assert statuses == ["stackkit; fwd=miss; stored", "stackkit; hit"]
        assert calls[f"status/{code}"] == 1
    else:
        assert statuses == ["stackkit; fwd=miss", "stackkit; fwd=miss"]
        assert calls[f"status/{code}"] == 2
    # Only a success is "not modified": any other answer goes out as it is.
    app = memory_app(make_settings(), Counter())
    async with client_for(app) as client:
        matched = await client.get(f"/api/status/{code}", headers={"If-None-Match": "*"})
    assert matched.status_code == (304 if kept else code)


@pytest.mark.parametrize(("kib", "kept"), [(1024, True), (1025, False), (4096, False)])
async def test_an_answer_of_more_than_one_mib_in_one_piece_is_not_kept(
    make_settings: Callable[..., Settings], kib: int, kept: bool
) -> None:
    calls: Counter[str] = Counter()
    app = memory_app(make_settings(), calls)
    async with client_for(app) as client:
        answers = [await client.get(f"/api/whole/{kib}") for _ in range(2)]
    assert all(len(a.content) == kib * KIB for a in answers)
    assert calls[f"whole/{kib}"] == (1 if kept else 2)


@pytest.mark.parametrize(
    ("chunks", "kib", "kept"),
    [(2, 1, True), (1, 1000, True), (2, 500, True), (2, 512, True), (2, 600, False),
     (3, 1024, False), (1, 2048, False)],
    ids=["small", "just-under", "two-halves", "exactly-one-mib", "two-past", "three-mib",
         "one-chunk-past"],
)  # fmt: skip
async def test_an_answer_streamed_past_one_mib_is_passed_on_not_kept(
    make_settings: Callable[..., Settings], chunks: int, kib: int, kept: bool
) -> None:
    """An answer too big to keep is streamed on as it comes, not held whole: nothing
    hashes it, so it has no ETag."""
    calls: Counter[str] = Counter()
    app = memory_app(make_settings(), calls)
    path = f"/api/stream/{chunks}/{kib}"
    async with client_for(app) as client:
        answers = [await client.get(path) for _ in range(2)]
    assert all(a.content == b"x" * (chunks * kib * KIB) for a in answers)
    statuses = [a.headers["cache-status"] for a in answers]
    if kept:
        assert statuses == ["stackkit; fwd=miss; stored", "stackkit; hit"]
        assert all("etag" in a.headers for a in answers)
    else:
        assert statuses == ["stackkit; fwd=miss", "stackkit; fwd=miss"]
        assert calls[path.removeprefix("/api/")] == 2
        assert all("etag" not in a.headers for a in answers)


async def test_the_lock_a_miss_takes_expires_on_its_own(
    redis_store: RedisStore, make_settings: Callable[..., Settings]
) -> None:
    """If the instance filling an entry dies, its lock ends after 10 s: the next miss of
    the same answer does not wait for it forever."""
    lock_ttls: list[int] = []
    api = Controller("/api", public=True)

    @api.get("/locked", rate_limit=False)
    async def locked() -> dict[str, bool]:
        keys = [
            key async for key in redis_store.client.scan_iter(match=f"{redis_store.prefix}*:l:*")
        ]
        lock_ttls.extend([await redis_store.client.pttl(key) for key in keys])
        return {"ok": True}

    app = create_app(
        make_settings(), controllers=[api], backends=[], cache_store=redis_store,
        configure_logs=False,
    )  # fmt: skip
    async with client_for(app) as client:
        assert (await client.get("/api/locked")).status_code == 200
    [ttl] = lock_ttls
    assert 9_000 < ttl <= 10_000
