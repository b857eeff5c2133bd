"""`RedisStore` on the wire, and `RedisClusterStore` through any node.

A proxy between the store and a real Redis counts what crosses: connections, and
round trips (the client writing after it had its answer, or on a new connection).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import httpx2
import pytest
import redis

from stackkit import Controller, Settings, create_app
from stackkit.cache import RedisClusterStore, RedisStore, StoreUnavailable
from stackkit.testing import (
    RedisClusterProcess,
    unique_key_prefix,
)
from tests.conftest import STORE_TIMEOUT
from tests.helpers import opened


class CountingProxy:
    """A TCP proxy to a real Redis that counts connections and round trips.

    With `silent` set, it reads what clients send, counts it, and forwards nothing:
    a Redis that never answers.
    """

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 6379
        self.database = parts.path or "/0"
        self.connections = 0
        self.round_trips = 0
        self.silent = False
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}{self.database}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def reset(self) -> None:
        self.connections = self.round_trips = 0

    async def _serve(self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        self.connections += 1
        server, to_server = await asyncio.open_connection(self.host, self.port)
        answered = [True]  # whether the server spoke since the client last did

        async def upstream() -> None:
            while data := await client.read(65536):
                if answered[0]:
                    self.round_trips += 1
                    answered[0] = False
                if not self.silent:
                    to_server.write(data)
                    await to_server.drain()
            to_server.close()

        async def downstream() -> None:
            while data := await server.read(65536):
                answered[0] = True
                to_client.write(data)
                await to_client.drain()
            to_client.close()

        tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
        self._tasks.update(tasks)
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[CountingProxy]:
    proxy = CountingProxy(redis_url)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


@pytest.fixture
async def store(proxy: CountingProxy) -> AsyncIterator[RedisStore]:
    store = RedisStore(proxy.url, prefix=unique_key_prefix())  # default timeout: measured
    async with opened(store):
        try:
            yield store
        finally:
            proxy.silent = False  # so that the keys can be deleted


OPERATIONS: dict[str, Callable[[RedisStore], Awaitable[object]]] = {
    "get": lambda s: s.get("a"),
    "get_many": lambda s: s.get_many(["a", "b", "missing"]),
    "set": lambda s: s.set("a", b"1", ttl=60),
    "replace": lambda s: s.replace("a", b"1", ttl=60),
    "delete": lambda s: s.delete("missing", "other"),
    "expires_in": lambda s: s.expires_in("a"),
    "incr": lambda s: s.incr("counter", ttl=60),
    "set_if_absent": lambda s: s.set_if_absent("lock", b"me", ttl=60),
    "delete_if_equals": lambda s: s.delete_if_equals("lock", b"someone else"),
    "index_add": lambda s: s.index_add("{user:1}:sessions", "s", expires_at=time.time() + 60),
    "index_members": lambda s: s.index_members("{user:1}:sessions", now=time.time()),
    "index_remove": lambda s: s.index_remove("{user:1}:sessions", "s"),
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_each_operation_is_one_round_trip(
    store: RedisStore, proxy: CountingProxy, operation: str
) -> None:
    await store.set("a", b"0")
    await store.set("b", b"0")
    run = OPERATIONS[operation]
    await run(store)  # the connection is open, and a script known to the server
    proxy.reset()
    for _ in range(3):
        await run(store)
    assert (proxy.connections, proxy.round_trips) == (0, 3)


async def test_operations_share_a_bounded_pool_of_connections(proxy: CountingProxy) -> None:
    store = RedisStore(
        proxy.url, prefix=unique_key_prefix(), max_connections=5, timeout=STORE_TIMEOUT
    )
    async with opened(store):
        await store.set("a", b"1")
        answers = await asyncio.gather(*(store.get("a") for _ in range(50)))
        assert answers == [b"1"] * 50  # 50 at once on 5 connections: they waited their turn
        assert proxy.connections <= 5
        connections = proxy.connections
        for _ in range(50):
            await store.get("a")
        assert proxy.connections == connections  # used again, not opened anew


async def test_the_reads_of_one_turn_of_the_loop_go_in_one_round_trip(
    store: RedisStore, proxy: CountingProxy
) -> None:
    await store.set("a", b"1")
    await store.set("b", b"2")
    await store.get("a")
    proxy.reset()
    reads = [store.get("a"), store.get_many(["a", "b", "missing"]), store.get("missing")] * 10
    answers = await asyncio.gather(*reads)
    assert answers == [b"1", [b"1", b"2", None], None] * 10
    assert (proxy.connections, proxy.round_trips) == (0, 1)


async def test_an_error_reply_fails_only_its_own_read(store: RedisStore) -> None:
    await store.set("a", b"1")
    await store.index_add("{user:1}:sessions", "s", expires_at=time.time() + 60)  # not a string
    wrong, right = await asyncio.gather(
        store.get("{user:1}:sessions"), store.get("a"), return_exceptions=True
    )
    assert isinstance(wrong, redis.ResponseError)  # a bug, not Redis away
    assert not isinstance(wrong, StoreUnavailable)
    assert right == b"1"


async def test_a_cancelled_read_leaves_the_others_of_its_turn_answered(store: RedisStore) -> None:
    await store.set("a", b"1")
    first = asyncio.ensure_future(store.get("a"))
    second = asyncio.ensure_future(store.get("a"))
    await asyncio.sleep(0)  # both wait for the turn's pipeline
    first.cancel()
    assert await second == b"1"
    assert first.cancelled()


async def test_when_redis_does_not_answer_every_read_of_the_turn_is_told(
    store: RedisStore, proxy: CountingProxy
) -> None:
    await store.set("a", b"1")
    proxy.silent = True
    answers = await asyncio.gather(
        store.get("a"), store.get_many(["a"]), store.get("b"), return_exceptions=True
    )
    assert [type(answer) for answer in answers] == [StoreUnavailable] * 3


def test_reads_left_by_a_stopped_loop_do_not_hold_up_the_next(redis_url: str) -> None:
    """A loop that stops before its turn's pipeline leaves (tests, an app started
    again): the next loop's reads are sent all the same."""
    store = RedisStore(redis_url, prefix=unique_key_prefix(), timeout=STORE_TIMEOUT)

    async def left_behind() -> None:
        await store.open()
        store.soon("GET", store.key("a"))  # never sent: the loop ends now
        await store.close()

    async def next_loop() -> bytes | None:
        await store.open()
        try:
            await store.set("a", b"1")
            return await asyncio.wait_for(store.get("a"), 5)
        finally:
            await store.delete("a")
            await store.close()

    asyncio.run(left_behind())
    assert asyncio.run(next_loop()) == b"1"


async def test_an_unanswered_command_is_sent_once_and_given_up_after_half_a_second(
    store: RedisStore, proxy: CountingProxy
) -> None:
    await store.set("a", b"1")
    proxy.silent = True
    proxy.reset()
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await store.get("a")
    elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 1.2  # the default timeout, 0.5 s, once
    assert (proxy.connections, proxy.round_trips) == (0, 1)  # no retry, no reconnection


async def test_a_cluster_store_works_through_any_node(redis_cluster_url: str) -> None:
    prefix = unique_key_prefix()
    first = RedisClusterStore(redis_cluster_url, prefix=prefix, timeout=STORE_TIMEOUT)
    async with opened(first):
        nodes = [f"redis://{node.host}:{node.port}/0" for node in first.client.get_nodes()]
        assert len(nodes) >= 3
        keys = [f"key-{n}" for n in range(30)]  # spread over every node's slots
        for key in keys:
            await first.set(key, key.encode())
        for url in nodes:
            through = RedisClusterStore(url, prefix=prefix, timeout=STORE_TIMEOUT)
            await through.open()
            try:
                assert await through.get_many(keys) == [key.encode() for key in keys]
                assert await through.incr("counter") == nodes.index(url) + 1
            finally:
                await through.close()


def items_controller() -> Controller:
    api = Controller("/api", public=True)

    @api.get("/items", rate_limit="50/minute;1000/hour")  # windows that outlive the test
    async def items() -> list[str]:
        return ["first"]

    @api.post("/items", status_code=201)
    async def add() -> str:
        return "added"

    return api


async def test_keys_used_together_share_a_cluster_slot(
    redis_cluster_url: str, make_settings: Callable[..., Settings]
) -> None:
    store = RedisClusterStore(redis_cluster_url, prefix=unique_key_prefix(), timeout=STORE_TIMEOUT)
    app = create_app(
        make_settings(),
        controllers=[items_controller()],
        backends=[],
        cache_store=store,
        configure_logs=False,
    )
    transport = httpx2.ASGITransport(app=app)
    async with opened(store):
        async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
            for _ in range(2):
                assert (await client.get("/api/items")).status_code == 200
            assert (await client.post("/api/items")).status_code == 201
        keys = [key.decode() async for key in store.client.scan_iter(match=f"{store.prefix}*")]
        cache = [key for key in keys if "{/api/items}" in key]  # the version and the entry
        limits = [key for key in keys if ":GET:/api/items}" in key]  # the route's two windows
        assert len(cache) == len(limits) == 2, keys
        for together in (cache, limits):
            assert len({await store.client.cluster_keyslot(key) for key in together}) == 1


async def test_on_a_cluster_a_node_that_does_not_answer_fails_only_its_own_keys(
    cluster_process: RedisClusterProcess,
) -> None:
    """The reads of one turn go in one pipeline, which the cluster client splits by
    node: a node's error must not fail the commands the other nodes answered."""
    ports = cluster_process.ports
    store = RedisClusterStore(cluster_process.url, prefix=unique_key_prefix(), timeout=0.5)
    await store.open()  # its keys go with the cluster
    try:
        names = [f"{{item:{n}}}" for n in range(30)]
        port_of = {name: store.client.get_node_from_key(store.key(name)).port for name in names}
        lost = next(name for name in names if port_of[name] == ports[2])
        kept = next(name for name in names if port_of[name] == ports[0])
        for name in (lost, kept):
            await store.set(name, name.encode())
        assert await asyncio.gather(store.get(kept), store.get(lost)) == [
            kept.encode(),
            lost.encode(),
        ]
        cluster_process.stop_node(2)
        read_kept, read_lost = await asyncio.gather(
            store.get(kept), store.get(lost), return_exceptions=True
        )
        assert read_kept == kept.encode()
        assert isinstance(read_lost, StoreUnavailable)
    finally:
        await store.close()
