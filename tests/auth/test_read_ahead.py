"""On Redis, a signed-in request's session check, rate-limit step and cache lookup go in
one round trip (`ReadAheadMiddleware`), and nothing of the contract moves: a revoked
token's requests are refused and count nothing against its user; other users, roles
and a store that is away behave as without it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from stackkit import Controller, Settings
from stackkit.auth.read_ahead import ReadAheadMiddleware
from stackkit.testing import RedisProcess, unique_key_prefix
from tests.auth.conftest import bearer, login, register


def items_controller() -> Controller:
    api = Controller()

    @api.get("/api/items")
    async def items() -> list[int]:
        return [1, 2, 3]

    @api.get("/api/scarce", rate_limit="5/minute")
    async def scarce() -> list[int]:
        """A budget of the route's own: its counters are not in the user's slot."""
        return [4]

    return api


def _sent(admin: redis.Redis) -> Counter[str]:
    """The round trips the server has read so far (this INFO is one), and the scripts
    it was sent."""
    info = admin.info("all")
    return Counter(
        reads=int(info["total_reads_processed"]),
        eval=int(info.get("cmdstat_eval", {}).get("calls", 0)),
        evalsha=int(info.get("cmdstat_evalsha", {}).get("calls", 0)),
    )


def _reads(admin: redis.Redis) -> int:
    """The server's reads so far (a round trip is one; this INFO is one too)."""
    return int(admin.info("stats")["total_reads_processed"])


def app_on(
    make_auth_client: Callable[..., TestClient], redis_url: str, *, cluster: bool = False
) -> Callable[..., TestClient]:
    """Makes clients of an app with the items routes, on this Redis (or cluster)."""

    def make(**settings: Any) -> TestClient:
        return make_auth_client(
            Settings(
                env="test",
                database_url="sqlite:///:memory:",
                redis_url=redis_url,
                redis_cluster=cluster,
                cache_prefix=unique_key_prefix(),
                **settings,
            ),
            controllers=[items_controller()],
        )

    return make


@pytest.fixture
def make_client(
    make_auth_client: Callable[..., TestClient], redis_process: RedisProcess
) -> Callable[..., TestClient]:
    return app_on(make_auth_client, redis_process.url)


def test_a_cached_signed_in_get_is_one_round_trip(
    make_client: Callable[..., TestClient], redis_process: RedisProcess
) -> None:
    client = make_client()
    register(client)
    headers = bearer(login(client))
    assert client.get("/api/items", headers=headers).headers["cache-status"].endswith("stored")
    with redis.Redis.from_url(redis_process.url) as admin:
        for _ in range(3):
            before = _sent(admin)
            response = client.get("/api/items", headers=headers)
            after = _sent(admin)
            assert response.json() == [1, 2, 3]
            assert response.headers["cache-status"] == "stackkit; hit"
            assert response.headers["ratelimit-remaining"].isdigit()
            # The second INFO is a read of its own. One script: the session read, the
            # limit counted, the entry read.
            assert after - before == Counter(reads=2, eval=1)


@pytest.mark.parametrize("redis_kind", ["server", "cluster"])
def test_a_revoked_tokens_requests_count_nothing_against_its_user(
    request: pytest.FixtureRequest, redis_kind: str
) -> None:
    """On a cluster too: the session and the user's counters share the user's slot."""
    maker = "make_client" if redis_kind == "server" else "make_cluster_client"
    client = request.getfixturevalue(maker)(rate_limit="3/minute")
    register(client)
    tokens = login(client)
    headers = bearer(tokens)
    remaining = [
        client.get("/api/items", headers=headers).headers["ratelimit-remaining"] for _ in range(2)
    ]
    assert remaining == ["2", "1"]
    auth = client.app.state.auth  # type: ignore[attr-defined]
    session_id = auth.tokens.verify(tokens["access_token"]).session_id
    assert client.portal is not None
    client.portal.call(auth.sessions.revoke, session_id)
    statuses = {client.get("/api/items", headers=headers).status_code for _ in range(5)}
    assert statuses <= {401, 429}  # refused; counted by address, as anyone unknown
    assert 401 in statuses
    again = client.get("/api/items", headers=bearer(login(client)))
    assert again.status_code == 200
    assert again.headers["ratelimit-remaining"] == "0"  # 2 + this one: the 5 counted nothing


def test_another_users_token_reads_their_own_entries(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    for email in ("ada@example.com", "bob@example.com"):
        register(client, email)
    ada, bob = bearer(login(client, "ada@example.com")), bearer(login(client, "bob@example.com"))
    assert client.get("/api/items", headers=ada).headers["cache-status"].endswith("stored")
    assert client.get("/api/items", headers=bob).headers["cache-status"].endswith("stored")
    assert client.get("/api/items", headers=ada).headers["cache-status"] == "stackkit; hit"


def test_when_redis_is_away_the_request_is_answered_as_without_reading_ahead(
    make_client: Callable[..., TestClient], redis_process: RedisProcess
) -> None:
    """Sessions unchecked (fail open, the default) and limits unchecked: the answer comes,
    uncached, as it does when each middleware asks on its own."""
    client = make_client()
    register(client)
    headers = bearer(login(client))
    redis_process.stop()
    try:
        response = client.get("/api/items", headers=headers)
    finally:
        redis_process.start()
    assert response.status_code == 200
    assert response.headers["cache-status"] == "stackkit; fwd=bypass"


@pytest.mark.parametrize("setup", ["embedded", "redis"])
def test_reading_ahead_is_on_when_sessions_and_limits_share_a_redis(
    make_auth_client: Callable[..., TestClient], redis_process: RedisProcess, setup: str
) -> None:
    settings: dict[str, Any] = {"env": "test", "database_url": "sqlite:///:memory:"}
    if setup == "redis":
        settings |= {"redis_url": redis_process.url, "cache_prefix": unique_key_prefix()}
    client = make_auth_client(Settings(**settings))
    stack = [middleware.cls for middleware in client.app.user_middleware]  # type: ignore[attr-defined]
    assert (ReadAheadMiddleware in stack) is (setup == "redis")


def test_while_redis_refuses_writes_sessions_are_still_checked(
    make_client: Callable[..., TestClient], redis_process: RedisProcess
) -> None:
    """Out of memory (or a failed save, or a replica), Redis refuses the limit's write:
    the limit fails open, but the session read in the same command still decides."""
    client = make_client()
    register(client)
    signed_out = login(client)
    headers = bearer(login(client))
    assert client.get("/api/items", headers=headers).headers["cache-status"].endswith("stored")
    auth = client.app.state.auth  # type: ignore[attr-defined]
    assert client.portal is not None
    client.portal.call(
        auth.sessions.revoke, auth.tokens.verify(signed_out["access_token"]).session_id
    )
    with redis.Redis.from_url(redis_process.url) as admin:
        used = int(admin.info("memory")["used_memory"])
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", str(used + 1))
        try:
            alive = client.get("/api/items", headers=headers)
            revoked = client.get("/api/items", headers=bearer(signed_out))
        finally:
            admin.config_set("maxmemory", "0")
    assert alive.status_code == 200
    assert alive.headers["cache-status"] == "stackkit; hit"
    assert revoked.status_code == 401


@pytest.fixture
def make_cluster_client(
    make_auth_client: Callable[..., TestClient], redis_cluster_url: str
) -> Callable[..., TestClient]:
    return app_on(make_auth_client, redis_cluster_url, cluster=True)


@pytest.fixture
def cluster_nodes(redis_cluster_url: str) -> Iterator[list[redis.Redis]]:
    """A connection to each primary of the cluster, open for the whole test."""
    with redis.RedisCluster.from_url(redis_cluster_url) as cluster:
        primaries = [(node.host, node.port) for node in cluster.get_primaries()]
    nodes = [redis.Redis(host=host, port=port) for host, port in primaries]
    for node in nodes:
        node.ping()  # connected now: its handshake is not counted later
    yield nodes
    for node in nodes:
        node.close()


def test_a_cached_signed_in_get_on_a_cluster_is_one_round_trip_per_node(
    make_cluster_client: Callable[..., TestClient], cluster_nodes: list[redis.Redis]
) -> None:
    """The session and the user's counters share the user's hash tag: one script on the
    user's node; the entry, in its resource's slot, goes in the same turn's pipeline."""
    client = make_cluster_client()
    register(client)
    headers = bearer(login(client))
    assert client.get("/api/items", headers=headers).headers["cache-status"].endswith("stored")
    remaining = []
    for _ in range(3):
        before = [_sent(node) for node in cluster_nodes]
        response = client.get("/api/items", headers=headers)
        after = [_sent(node) for node in cluster_nodes]
        assert response.json() == [1, 2, 3]
        assert response.headers["cache-status"] == "stackkit; hit"
        remaining.append(int(response.headers["ratelimit-remaining"]))
        # Less the second INFO, a read of its own on each node.
        trips = [a["reads"] - b["reads"] - 1 for a, b in zip(after, before, strict=True)]
        assert max(trips) <= 1, trips
        assert 1 <= sum(trips) <= 2, trips  # the user's node, and the entry's
        assert sum(a["eval"] - b["eval"] for a, b in zip(after, before, strict=True)) == 1
    assert remaining == sorted(remaining, reverse=True)
    assert len(set(remaining)) == 3


def test_on_a_cluster_a_route_with_its_own_budget_is_counted_all_the_same(
    make_cluster_client: Callable[..., TestClient],
) -> None:
    """Its counters are not in the user's slot: the limiter counts it after the reads."""
    client = make_cluster_client()
    register(client)
    headers = bearer(login(client))
    answers = [client.get("/api/scarce", headers=headers) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert [a.headers.get("ratelimit-remaining") for a in answers[:5]] == ["4", "3", "2", "1", "0"]
    assert answers[1].headers["cache-status"] == "stackkit; hit"
