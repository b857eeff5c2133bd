from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import redis
import redis.asyncio
from redis.asyncio.cluster import RedisCluster
from redis.backoff import NoBackoff
from redis.exceptions import ClusterCrossSlotError, ClusterDownError, MovedError
from redis.retry import Retry

from stackkit.testing import (
    REDIS_CLUSTER_URL_ENV,
    REQUIRE_SERVICES_ENV,
    RedisClusterProcess,
    ServiceUnavailable,
    skip_or_fail,
    unique_key_prefix,
    wait_until,
)

pytest_plugins = ["pytester"]

Keys = Callable[[str], str]


def node_client(port: int) -> redis.Redis:
    """A plain client of one node, which reports a refused connection at once."""
    return redis.Redis(port=port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))


def processes_mentioning(folder: str) -> list[int]:
    """Ids of the processes whose command line names ``folder``: a node's watchdog (the node
    itself shows ``redis-server 127.0.0.1:PORT [cluster]`` instead)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if folder.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:  # the process ended while we looked
            continue
    return found


@pytest.fixture
async def cluster_client(redis_cluster_url: str) -> AsyncIterator[RedisCluster]:
    client = RedisCluster.from_url(redis_cluster_url)
    yield client
    await client.aclose()


@pytest.fixture
async def key(cluster_client: RedisCluster) -> AsyncIterator[Keys]:
    """Make key names under a unique prefix; the keys are deleted after the test."""
    prefix = unique_key_prefix()
    made: list[str] = []

    def make(name: str) -> str:
        made.append(prefix + name)
        return made[-1]

    yield make
    if made:
        await cluster_client.unlink(*made)


async def test_cluster_answers_a_cluster_client(cluster_client: RedisCluster, key: Keys) -> None:
    name = key("greeting")
    assert await cluster_client.ping()
    await cluster_client.set(name, "hello")
    assert await cluster_client.get(name) == b"hello"
    assert len(cluster_client.get_primaries()) >= 3


async def test_keys_spread_over_every_primary(cluster_client: RedisCluster, key: Keys) -> None:
    values = {key(f"item:{n}"): str(n) for n in range(100)}
    await cluster_client.mset_nonatomic(values)

    owners = {name: cluster_client.get_node_from_key(name) for name in values}
    primaries = cluster_client.get_primaries()
    assert {node.name for node in owners.values()} == {node.name for node in primaries}
    for node in primaries:
        name = next(name for name, owner in owners.items() if owner.name == node.name)
        other = next(primary for primary in primaries if primary.name != node.name)
        assert await cluster_client.cluster_keyslot(name) == cluster_client.keyslot(name)
        async with redis.asyncio.Redis(host=node.host, port=node.port) as owner:
            assert await owner.get(name) == values[name].encode()
        async with redis.asyncio.Redis(host=other.host, port=other.port) as elsewhere:
            with pytest.raises(MovedError) as moved:
                await elsewhere.get(name)
        assert moved.value.slot_id == cluster_client.keyslot(name)
        assert moved.value.node_addr == (node.host, node.port)


async def test_hash_tagged_keys_share_a_slot_for_multi_key_commands(
    cluster_client: RedisCluster, key: Keys
) -> None:
    name, email = key("{user:1}:name"), key("{user:1}:email")
    assert cluster_client.keyslot(name) == cluster_client.keyslot(email)
    assert await cluster_client.cluster_keyslot(name) == await cluster_client.cluster_keyslot(email)

    await cluster_client.mset({name: "Ada", email: "ada@example.com"})
    both = await cluster_client.eval(
        "return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}", 2, name, email
    )

    assert both == [b"Ada", b"ada@example.com"]


async def test_multi_key_command_across_slots_is_refused(
    cluster_client: RedisCluster, key: Keys
) -> None:
    first = key("user:1:name")
    second = next(
        name
        for name in (key(f"user:{n}:name") for n in range(2, 100))
        if cluster_client.keyslot(name) != cluster_client.keyslot(first)
    )
    with pytest.raises(ClusterCrossSlotError):
        await cluster_client.eval("return 1", 2, first, second)


async def test_stopped_node_fails_its_keys_until_started_again(
    cluster_process: RedisClusterProcess,
) -> None:
    ports = cluster_process.ports
    client = RedisCluster.from_url(cluster_process.url)
    try:
        values = {f"item:{n}": str(n) for n in range(30)}
        await client.mset_nonatomic(values)
        owner = {name: client.get_node_from_key(name).port for name in values}
        lost = next(name for name in values if owner[name] == ports[2])
        kept = next(name for name in values if owner[name] == ports[0])

        cluster_process.stop_node(2)

        assert not cluster_process.nodes[2].running
        assert not cluster_process.running
        with pytest.raises(redis.ConnectionError):
            await client.get(lost)
        assert await client.get(kept) == values[kept].encode()

        cluster_process.start_node(2)

        assert cluster_process.running
        assert cluster_process.ports == ports
        assert await client.get(lost) is None  # back on the same slots, without its data
        await client.set(lost, "again")
        assert await client.get(lost) == b"again"
    finally:
        await client.aclose()


def test_cluster_goes_down_after_node_timeout_and_recovers_when_node_returns() -> None:
    if not RedisClusterProcess.available():
        skip_or_fail(str(RedisClusterProcess.unavailable_reason()))
    with RedisClusterProcess(node_timeout=1) as cluster, node_client(cluster.ports[2]) as survivor:
        kept = "{a}"  # slot 15495, which the last of three nodes serves
        assert survivor.get(kept) is None  # served there: no MOVED

        cluster.stop_node(0)

        def down() -> bool:
            try:
                survivor.get(kept)
            except ClusterDownError:
                return True
            return False

        wait_until(down, timeout=10, description="the cluster did not go down")
        cluster.start_node(0)
        assert survivor.get(kept) is None


def test_cluster_of_four_nodes_starts_and_stops_without_leftovers() -> None:
    if not RedisClusterProcess.available():
        skip_or_fail(str(RedisClusterProcess.unavailable_reason()))
    folders: list[str] = []
    pids: list[int] = []
    with RedisClusterProcess(nodes=4) as cluster:
        assert len(set(cluster.ports)) == 4
        assert cluster.urls[0] == cluster.url == f"redis://127.0.0.1:{cluster.ports[0]}/0"
        for port in cluster.ports:
            with node_client(port) as client:
                info = client.cluster("INFO")
                assert info["cluster_state"] == "ok"
                assert info["cluster_known_nodes"] == "4"
                folders.append(client.config_get("dir")["dir"])
                pids.append(client.info("server")["process_id"])
        for folder in folders:
            assert Path(folder).is_dir()
            assert len(processes_mentioning(folder)) == 1  # the node's watchdog

    assert not cluster.running
    for port, folder, pid in zip(cluster.ports, folders, pids, strict=True):
        assert not Path(folder).exists()
        assert processes_mentioning(folder) == []
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        with node_client(port) as client, pytest.raises(redis.ConnectionError):
            client.ping()


def test_cluster_needs_at_least_three_nodes() -> None:
    with pytest.raises(ValueError, match="at least 3 nodes"):
        RedisClusterProcess(nodes=2)


def test_missing_redis_cli_is_named_in_the_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server = tmp_path / "redis-server"
    server.write_text("#!/bin/sh\n")
    server.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))

    assert RedisClusterProcess.unavailable_reason() == "redis-cli not found on PATH"
    cluster = RedisClusterProcess()
    with pytest.raises(ServiceUnavailable, match="redis-cli"):
        cluster.start()
    assert not cluster.running


def test_cluster_fixture_skips_without_binaries_unless_required(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(pytester.path))
    monkeypatch.delenv(REDIS_CLUSTER_URL_ENV, raising=False)
    pytester.makepyfile(
        """
        def test_needs_cluster(redis_cluster_url):
            pass
        """
    )

    monkeypatch.delenv(REQUIRE_SERVICES_ENV, raising=False)
    skipped = pytester.runpytest("-p", "no:asyncio", "-rs")
    monkeypatch.setenv(REQUIRE_SERVICES_ENV, "1")
    required = pytester.runpytest("-p", "no:asyncio")

    skipped.assert_outcomes(skipped=1)
    skipped.stdout.fnmatch_lines([f"*redis-server not found on PATH (set {REDIS_CLUSTER_URL_ENV}*"])
    required.assert_outcomes(errors=1)
    required.stdout.fnmatch_lines([f"*redis-server not found*{REQUIRE_SERVICES_ENV} is set*"])


def test_cluster_fixture_uses_the_configured_url(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(pytester.path))  # no binaries: nothing may start
    monkeypatch.setenv(REDIS_CLUSTER_URL_ENV, "redis://cluster.example:7000/0")
    monkeypatch.setenv(REQUIRE_SERVICES_ENV, "1")
    pytester.makepyfile(
        """
        def test_gets_configured_url(redis_cluster_url):
            assert redis_cluster_url == "redis://cluster.example:7000/0"
        """
    )

    pytester.runpytest("-p", "no:asyncio").assert_outcomes(passed=1)
