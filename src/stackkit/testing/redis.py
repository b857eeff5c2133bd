"""A throwaway redis-server, and cleanup of the keys under a prefix on any Redis server."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from stackkit.testing.process import ServerProcess
from stackkit.testing.services import find_binary

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["RedisProcess", "delete_keys", "unique_key_prefix"]

_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")


class RedisProcess(ServerProcess):
    """A throwaway ``redis-server`` on 127.0.0.1, without persistence unless `durable`
    (an append-only file written on every command, as a deployment that keeps its
    sessions runs it: then even `kill()` loses nothing).

    Tests may stop and restart it freely: the port stays the same, so a
    client built from :attr:`url` reconnects once the server is back.

    Example:
        >>> with RedisProcess() as server:  # doctest: +SKIP
        ...     server.stop()  # the app under test now sees Redis down
        ...     server.start()  # and back, on the same URL
    """

    name = "redis-server"

    def __init__(self, port: int | None = None, *, durable: bool = False) -> None:
        super().__init__(port)
        self.durable = durable

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def locate(cls) -> None:
        """Check that ``redis-server`` is on PATH.

        Raises:
            ServiceUnavailable: when it is not.
        """
        find_binary("redis-server")

    def _prepare(self, directory: Path) -> None:
        pass

    def _command(self, directory: Path, port: int) -> list[str]:
        return [
            find_binary("redis-server"),
            *("--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--dir", str(directory)),
            *(("--appendonly", "yes", "--appendfsync", "always") if self.durable else
              ("--appendonly", "no")),
        ]  # fmt: skip

    def _answers(self) -> bool:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # redis-py retries a refused connection for seconds by default; a probe must not.
        client = redis.Redis(
            host="127.0.0.1",
            port=self.port,
            socket_connect_timeout=1,
            socket_timeout=1,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            client.ping()
        except redis.RedisError:
            return False
        finally:
            client.close()
        return True


def unique_key_prefix() -> str:
    """Return a fresh key prefix such as ``stackkit-test:<hex>:``."""
    return f"stackkit-test:{uuid.uuid4().hex[:16]}:"


def delete_keys(url: str, prefix: str, *, batch_size: int = 500) -> int:
    """Delete every key starting with ``prefix`` and return how many were deleted.

    Keys are found with ``SCAN ... MATCH`` and removed with ``UNLINK`` in
    batches, so the server never blocks on a long command. The prefix is
    matched literally: glob characters in it are escaped.

    Raises:
        ValueError: when ``prefix`` is empty, which would delete every key.
        redis.RedisError: when the server cannot be reached.
    """
    if not prefix:
        raise ValueError("an empty prefix would delete every key")
    import redis

    pattern = _GLOB_SPECIAL.sub(r"\\\1", prefix) + "*"
    deleted = 0
    with redis.Redis.from_url(url) as client:
        batch: list[bytes] = []
        for key in client.scan_iter(match=pattern, count=batch_size):
            batch.append(key)
            if len(batch) == batch_size:
                deleted += client.unlink(*batch)
                batch.clear()
        if batch:
            deleted += client.unlink(*batch)
    return deleted
