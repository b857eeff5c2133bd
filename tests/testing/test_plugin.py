from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from tests.helpers import running

import stackkit.testing
import stackkit.testing.process
from stackkit.testing import (
    DATABASE_URL_ENV,
    REDIS_URL_ENV,
    REQUIRE_SERVICES_ENV,
    PostgresProcess,
    PostgresReplica,
    PostgresReplication,
    RedisProcess,
    ServiceUnavailable,
    create_database,
    database_url,
    delete_keys,
    drop_database,
    find_free_port,
    postgres,
    skip_or_fail,
    temporary_database,
    wait_until,
)

pytest_plugins = ["pytester"]


def redis_client(url: str) -> redis.Redis:
    """A client that reports a refused connection at once instead of retrying."""
    return redis.Redis.from_url(url, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))


def database_exists(server_url: str, name: str) -> bool:
    with psycopg.connect(server_url) as conn:
        row = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [name]).fetchone()
    return row == (1,)


@pytest.fixture
def postgres_process() -> Iterator[PostgresProcess]:
    with running(PostgresProcess()) as server:
        yield server


def test_public_names_are_pinned() -> None:
    assert stackkit.testing.__all__ == [
        "DATABASE_URL_ENV",
        "REDIS_CLUSTER_URL_ENV",
        "REDIS_URL_ENV",
        "REQUIRE_SERVICES_ENV",
        "S3_URL_ENV",
        "SAMPLE_PNG",
        "PostgresProcess",
        "PostgresReplica",
        "PostgresReplication",
        "RedisClusterProcess",
        "RedisProcess",
        "S3Bucket",
        "S3Process",
        "ServerProcess",
        "ServiceUnavailable",
        "app_environment",
        "clear_settings_environment",
        "create_database",
        "database_url",
        "delete_keys",
        "drop_database",
        "find_binary",
        "find_free_port",
        "isolated_settings",
        "send_file",
        "services_required",
        "skip_or_fail",
        "temporary_bucket",
        "temporary_database",
        "unique_key_prefix",
        "upload_file",
        "wait_until",
    ]


def test_fresh_database_is_empty_and_writable(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql://")
    with psycopg.connect(postgres_url) as conn:
        name = conn.execute("SELECT current_database()").fetchone()
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        conn.execute("CREATE TABLE note (id serial PRIMARY KEY, body text)")
        conn.execute("INSERT INTO note (body) VALUES (%s)", ["hello"])
        stored = conn.execute("SELECT body FROM note").fetchall()
        conn.rollback()
    assert name is not None
    assert name[0].startswith("stackkit_test_")
    assert tables == (0,)
    assert stored == [("hello",)]


def test_drop_database_removes_it_even_while_connected(postgres_server_url: str) -> None:
    url = create_database(postgres_server_url)
    name = url.rsplit("/", 1)[1]
    assert database_exists(postgres_server_url, name)
    with psycopg.connect(url, autocommit=True) as conn:
        drop_database(postgres_server_url, name)
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    assert not database_exists(postgres_server_url, name)


def test_temporary_database_is_dropped_after_the_block(postgres_server_url: str) -> None:
    with temporary_database(postgres_server_url) as url:
        name = url.rsplit("/", 1)[1]
        assert database_exists(postgres_server_url, name)
    assert not database_exists(postgres_server_url, name)


@pytest.mark.parametrize(
    ("server_url", "expected"),
    [
        pytest.param(
            "postgresql://postgres@127.0.0.1:5432/postgres",
            "postgresql://postgres@127.0.0.1:5432/app",
            id="plain",
        ),
        pytest.param(
            "postgresql+psycopg://u:p@db/postgres?sslmode=disable",
            "postgresql://u:p@db/app?sslmode=disable",
            id="sqlalchemy-driver-and-query",
        ),
        pytest.param("postgres://db", "postgres://db/app", id="no-database"),
    ],
)
def test_database_url_points_at_the_named_database(server_url: str, expected: str) -> None:
    assert database_url(server_url, "app") == expected


def test_postgres_process_keeps_data_across_restart_and_stops(
    postgres_process: PostgresProcess,
) -> None:
    url = postgres_process.url
    assert url == f"postgresql://postgres@127.0.0.1:{postgres_process.port}/postgres"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (id int)")

    postgres_process.restart()

    assert postgres_process.url == url
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)
    postgres_process.stop()
    assert not postgres_process.running
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=1)


def test_replica_streams_the_primarys_rows_and_refuses_writes(
    postgres_replication: PostgresReplication,
) -> None:
    primary, replica = postgres_replication
    assert replica.url == f"postgresql://postgres@127.0.0.1:{replica.port}/postgres"
    assert replica.port != primary.port
    with psycopg.connect(primary.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE streamed (id int)")
        conn.execute("INSERT INTO streamed VALUES (1)")

    replica.wait_for_replay()

    with psycopg.connect(replica.url, autocommit=True) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        assert conn.execute("SELECT id FROM streamed").fetchall() == [(1,)]
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO streamed VALUES (2)")


@pytest.mark.parametrize("keep_data", [True, False], ids=["keep-data", "fresh-base-backup"])
def test_stopped_replica_starts_again_on_the_same_url_and_catches_up(
    postgres_replication: PostgresReplication, keep_data: bool
) -> None:
    primary, replica = postgres_replication
    url = replica.url
    replica.stop(keep_data=keep_data)
    assert not replica.running
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=1)
    with psycopg.connect(primary.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE written_while_down (id int)")

    replica.start()
    replica.wait_for_replay()

    assert replica.url == url
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM written_while_down").fetchone() == (0,)


def test_replica_of_a_stopped_primary_refuses_to_start() -> None:
    if not PostgresReplica.available():
        skip_or_fail(str(PostgresReplica.unavailable_reason()))
    replica = PostgresReplica(PostgresProcess())
    with pytest.raises(RuntimeError, match="start the primary before its replica"):
        replica.start()
    assert not replica.running


def test_missing_pg_basebackup_is_named_in_the_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "99" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("initdb", "postgres"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(postgres, "POSTGRES_INSTALL_ROOT", tmp_path)

    assert PostgresProcess.unavailable_reason() is None
    assert PostgresReplica.unavailable_reason() == (
        f"pg_basebackup not found on PATH or in {tmp_path}/*/bin"
    )


def test_prefix_cleanup_deletes_only_keys_under_prefix(
    redis_url: str, redis_key_prefix: str
) -> None:
    doomed = redis_key_prefix + "a*"  # a glob character, to be matched literally
    inside = [doomed + str(n) for n in range(1200)]  # more than one batch
    outside = [redis_key_prefix + "ab", redis_key_prefix + "a"]
    with redis_client(redis_url) as client:
        client.mset(dict.fromkeys([*inside, *outside], "x"))

        deleted = delete_keys(redis_url, doomed, batch_size=500)

        assert deleted == len(inside)
        assert client.exists(*inside) == 0
        assert client.exists(*outside) == len(outside)


def test_delete_keys_refuses_an_empty_prefix(redis_url: str) -> None:
    with pytest.raises(ValueError, match="empty prefix"):
        delete_keys(redis_url, "")


def test_stopped_redis_refuses_ping_until_started_again(redis_process: RedisProcess) -> None:
    url = redis_process.url
    with redis_client(url) as client:
        assert client.ping()
        redis_process.stop()
        assert not redis_process.running
        with pytest.raises(redis.ConnectionError):
            client.ping()

        redis_process.start()

        assert redis_process.url == url
        assert client.ping()


def test_restarted_redis_answers_on_the_same_url(redis_process: RedisProcess) -> None:
    url = redis_process.url
    redis_process.restart()
    assert redis_process.running
    assert redis_process.url == url
    with redis_client(url) as client:
        assert client.ping()


def test_redis_process_is_never_the_shared_server(
    redis_process: RedisProcess, redis_server_url: str
) -> None:
    assert redis_process.url.startswith("redis://127.0.0.1:")
    assert redis_process.url != redis_server_url


def test_server_that_exits_at_startup_is_unavailable() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        server = RedisProcess(port=taken.getsockname()[1])
        if not server.available():
            skip_or_fail(str(server.unavailable_reason()))
        with pytest.raises(ServiceUnavailable, match="exited during startup"):
            server.start()
    assert not server.running


def test_taken_port_picked_automatically_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    if not RedisProcess.available():
        skip_or_fail(str(RedisProcess.unavailable_reason()))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        busy = taken.getsockname()[1]
        ports = iter([busy, find_free_port()])
        monkeypatch.setattr(stackkit.testing.process, "find_free_port", lambda: next(ports))

        with RedisProcess() as server, redis_client(server.url) as client:
            assert server.port != busy
            assert client.ping()
        assert next(ports, None) is None  # the busy port was tried first


def test_server_that_never_answers_is_stopped_and_reported() -> None:
    class SilentRedis(RedisProcess):
        startup_timeout = 0.2

        def _answers(self) -> bool:
            return False

    server = SilentRedis()
    if not server.available():
        skip_or_fail(str(server.unavailable_reason()))
    with pytest.raises(ServiceUnavailable, match=r"did not answer on port \d+ within 0\.2 s"):
        server.start()
    assert not server.running


def test_missing_binary_is_named_in_the_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not RedisProcess.available()
    assert RedisProcess.unavailable_reason() == "redis-server not found on PATH"
    with pytest.raises(ServiceUnavailable, match="redis-server"):
        RedisProcess().start()


@pytest.mark.parametrize(
    ("setting", "outcome"),
    [
        pytest.param(None, pytest.skip.Exception, id="unset-skips"),
        pytest.param("0", pytest.skip.Exception, id="zero-skips"),
        pytest.param("1", pytest.fail.Exception, id="one-fails"),
        pytest.param("true", pytest.fail.Exception, id="true-fails"),
    ],
)
def test_missing_service_skips_unless_services_are_required(
    monkeypatch: pytest.MonkeyPatch, setting: str | None, outcome: type[BaseException]
) -> None:
    if setting is None:
        monkeypatch.delenv(REQUIRE_SERVICES_ENV, raising=False)
    else:
        monkeypatch.setenv(REQUIRE_SERVICES_ENV, setting)
    with pytest.raises(outcome, match="redis-server not found"):
        skip_or_fail("redis-server not found")


def test_wait_until_gives_up_at_the_deadline() -> None:
    calls: list[None] = []

    def never() -> bool:
        calls.append(None)
        return False

    with pytest.raises(ServiceUnavailable, match=r"nothing happened within 0\.05 s"):
        wait_until(never, timeout=0.05, description="nothing happened")
    assert len(calls) > 1


def test_fixtures_start_nothing_until_asked_and_fail_when_required(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(pytester.path))
    monkeypatch.delenv(REDIS_URL_ENV, raising=False)
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    pytester.makepyfile(
        """
        def test_needs_nothing():
            pass

        def test_needs_redis(redis_url):
            pass
        """
    )

    monkeypatch.delenv(REQUIRE_SERVICES_ENV, raising=False)
    skipped = pytester.runpytest("-p", "no:asyncio", "-rs")
    monkeypatch.setenv(REQUIRE_SERVICES_ENV, "1")
    required = pytester.runpytest("-p", "no:asyncio")

    skipped.assert_outcomes(passed=1, skipped=1)
    skipped.stdout.fnmatch_lines([f"*redis-server not found on PATH (set {REDIS_URL_ENV}*"])
    required.assert_outcomes(passed=1, errors=1)
    required.stdout.fnmatch_lines([f"*redis-server not found*{REQUIRE_SERVICES_ENV} is set*"])


def test_replication_fixture_skips_without_binaries_unless_required(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(pytester.path))
    monkeypatch.setattr(postgres, "POSTGRES_INSTALL_ROOT", pytester.path)
    pytester.makepyfile(
        """
        def test_needs_replica(postgres_replication):
            pass
        """
    )

    monkeypatch.delenv(REQUIRE_SERVICES_ENV, raising=False)
    skipped = pytester.runpytest("-p", "no:asyncio", "-rs")
    monkeypatch.setenv(REQUIRE_SERVICES_ENV, "1")
    required = pytester.runpytest("-p", "no:asyncio")

    skipped.assert_outcomes(skipped=1)
    skipped.stdout.fnmatch_lines(["*initdb not found on PATH or in*"])
    required.assert_outcomes(errors=1)
    required.stdout.fnmatch_lines([f"*initdb not found*{REQUIRE_SERVICES_ENV} is set*"])


def test_no_suite_skips_without_asking_whether_services_are_required() -> None:
    """A bare `pytest.skip`, `skipif` or `importorskip` would let CI pass a run whose
    services are missing; every skip goes through `skip_or_fail`."""
    root = Path(__file__).resolve().parents[2]
    suites = [root / "tests", root / "faults", root / "e2e", root / "examples" / "tracker"]
    bare = re.compile(r"pytest\.(skip\(|mark\.skip|importorskip)")
    found = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for suite in suites
        for path in suite.rglob("*.py")
        if path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if bare.search(line)
    ]
    assert found == []
