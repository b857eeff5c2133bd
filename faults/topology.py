"""`ScaleOut`: a generated app deployed as it would be on several hosts, on loopback.

    clients -> nginx (round robin) -+-> app process A -+-> PostgreSQL primary  --WAL--> replica
                                    +-> app process B -+-> Redis Cluster (3 nodes)

Process A generates the project and migrates the primary; process B runs a copy of the
same project (same `SECRET_KEY`) with `--no-migrate`. Both read from the replica and
share sessions, rate limits, the response cache and the read-your-writes marks through
the cluster. Everything listens on 127.0.0.1, on free ports, and is stopped afterwards.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import ClassVar

from e2e.server import Account, GeneratedAppServer, healthy
from faults.conftest import UNLIMITED, throwaway
from stackkit.testing import (
    PostgresProcess,
    PostgresReplica,
    RedisClusterProcess,
    ServerProcess,
    find_binary,
)

__all__ = ["LAG_WINDOW", "NginxProcess", "ScaleOut"]

LAG_WINDOW = 1.0
"""`STACKKIT_DATABASE_REPLICA_LAG_WINDOW` of the deployment, in seconds: short, so that a
drill can wait it out."""
_SBIN = (Path("/usr/sbin"), Path("/usr/local/sbin"))


class NginxProcess(ServerProcess):
    """nginx in the foreground, spreading requests over `upstreams` in turn, as a load
    balancer in front of app hosts does. It passes the client's `X-Forwarded-For` on,
    with the address it saw appended (the apps trust 127.0.0.1 to say so)."""

    name = "nginx"
    startup_timeout: ClassVar[float] = 10.0

    def __init__(self, upstreams: list[str]) -> None:
        super().__init__()
        self.upstreams = upstreams

    @classmethod
    def locate(cls) -> None:
        find_binary("nginx", extra_dirs=_SBIN)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _prepare(self, directory: Path) -> None:
        (directory / "logs").mkdir()

    def _command(self, directory: Path, port: int) -> list[str]:
        config = directory / "nginx.conf"
        config.write_text(self._config(directory, port), encoding="utf-8")
        nginx = find_binary("nginx", extra_dirs=_SBIN)
        return [nginx, "-p", str(directory), "-c", str(config), "-e", "stderr"]

    def _config(self, directory: Path, port: int) -> str:
        servers = "".join(f"        server {upstream};\n" for upstream in self.upstreams)
        temporary = "".join(
            f"    {kind}_temp_path {directory / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        return f"""daemon off;
worker_processes 1;
pid {directory / "nginx.pid"};
error_log stderr warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
{temporary}    upstream app {{
{servers}        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 2m;
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""

    def _answers(self) -> bool:
        return healthy(self.url)  # the apps' own health check, through nginx


class ScaleOut:
    """The whole deployment; a context manager that starts it and stops it after."""

    def __init__(self, admin: Account) -> None:
        self.admin = admin
        self._stack = ExitStack()

    def __enter__(self) -> ScaleOut:
        enter = self._stack.enter_context
        try:
            self.primary = enter(throwaway(PostgresProcess()))
            self.replica = enter(throwaway(PostgresReplica(self.primary)))
            self.redis = enter(throwaway(RedisClusterProcess(3)))
            settings = {
                "DATABASE_URL": self.primary.url,
                "DATABASE_REPLICA_URLS": self.replica.url,
                "REDIS_URL": self.redis.url,
                "STACKKIT_REDIS_CLUSTER": "true",
                "STACKKIT_DATABASE_REPLICA_LAG_WINDOW": str(LAG_WINDOW),
                **UNLIMITED,
            }
            self.a = enter(GeneratedAppServer(self.admin, settings=settings))
            self.b = enter(
                GeneratedAppServer(self.admin, settings=settings, copy_of=self.a.project)
            )
            self.nginx = enter(
                NginxProcess([f"127.0.0.1:{self.a.port}", f"127.0.0.1:{self.b.port}"])
            )
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    @property
    def processes(self) -> tuple[GeneratedAppServer, GeneratedAppServer]:
        return self.a, self.b
