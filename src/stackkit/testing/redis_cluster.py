"""`RedisClusterProcess`: a throwaway Redis Cluster of several redis-server processes."""

from __future__ import annotations

import functools
import re
import subprocess
from typing import TYPE_CHECKING, ClassVar, Self

from stackkit.testing.process import ThrowawayServer
from stackkit.testing.redis import RedisProcess
from stackkit.testing.services import ServiceUnavailable, find_binary, find_free_port, wait_until

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["RedisClusterProcess"]

#: Hash slots of every Redis Cluster; all must be served for ``cluster_state:ok``.
_SLOTS = 16384
#: ``redis-cli --cluster create`` refuses fewer primaries.
_MIN_NODES = 3
_VERSION = re.compile(rb"\bv=(\d+)\.")


class _ClusterNode(RedisProcess):
    """One redis-server of a :class:`RedisClusterProcess`, in cluster mode.

    It keeps its cluster state in ``nodes.conf`` in its folder, so that
    ``stop(keep_data=True)`` then ``start()`` bring back the same node (same id,
    same slots, no data). Its cluster bus listens on a port of its own, kept
    like the client port.
    """

    name = "redis-cluster-node"

    def __init__(self, node_timeout: float) -> None:
        super().__init__()
        self._node_timeout = node_timeout
        self._bus_port: tuple[int, int] | None = None  # (client port, bus port)

    def _command(self, directory: Path, port: int) -> list[str]:
        command = super()._command(directory, port)
        command += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
        command += ["--cluster-node-timeout", str(round(self._node_timeout * 1000))]
        # Without --cluster-port (Redis < 7) the bus takes port + 10000, and Redis refuses
        # ports above 55535: ServerProcess then retries with another port.
        if _has_cluster_port_option(command[0]):
            command += ["--cluster-port", str(self._bus_port_for(port))]
        return command

    def _bus_port_for(self, port: int) -> int:
        # A new client port (the last one was taken) gets a new bus port too.
        if self._bus_port is None or self._bus_port[0] != port:
            bus = find_free_port()
            while bus == port:
                bus = find_free_port()
            self._bus_port = (port, bus)
        return self._bus_port[1]


class RedisClusterProcess(ThrowawayServer):
    """A throwaway Redis Cluster on 127.0.0.1: ``nodes`` primaries, no replicas, no persistence.

    :meth:`start` runs one ``redis-server --cluster-enabled yes`` per node, each
    in a temporary folder of its own, joins them with ``redis-cli --cluster
    create``, which spreads the 16384 hash slots evenly, and waits until every
    node reports ``cluster_state:ok``. That takes two seconds or a little more:
    a new primary serves its slots no sooner than two seconds after it starts.

    Give :attr:`url` (one node; the client discovers the others) to
    ``redis.asyncio.cluster.RedisCluster.from_url``. :meth:`stop_node` and
    :meth:`start_node` take one node down and bring it back, on the same port,
    for tests of an outage.

    Example:
        >>> with RedisClusterProcess() as cluster:  # doctest: +SKIP
        ...     client = RedisCluster.from_url(cluster.url)
    """

    #: Seconds allowed for the cluster to form (or a node to rejoin) after the nodes answer.
    startup_timeout: ClassVar[float] = 30.0

    def __init__(self, nodes: int = 3, *, node_timeout: float = 15.0) -> None:
        """Prepare a cluster of ``nodes`` primaries on ports picked at first start.

        Args:
            nodes: how many primaries; at least three.
            node_timeout: seconds after which the other nodes mark an
                unreachable node as failed (``cluster-node-timeout``; Redis's
                default). Lower it, to a second or two, for tests that wait
                for the cluster to go down.

        Raises:
            ValueError: when ``nodes`` is below three.
        """
        if nodes < _MIN_NODES:
            raise ValueError(f"a Redis Cluster needs at least {_MIN_NODES} nodes, not {nodes}")
        #: Seconds after which the other nodes mark an unreachable node as failed.
        self.node_timeout = node_timeout
        self._nodes: tuple[RedisProcess, ...] = tuple(
            _ClusterNode(node_timeout) for _ in range(nodes)
        )
        self._created = False

    @classmethod
    def locate(cls) -> None:
        """Check that ``redis-server`` and ``redis-cli`` are on PATH.

        Raises:
            ServiceUnavailable: naming the missing binary.
        """
        find_binary("redis-server")
        find_binary("redis-cli")

    @property
    def nodes(self) -> tuple[RedisProcess, ...]:
        """The node servers, in the order of :attr:`ports`; the first is the one of :attr:`url`.

        Stop and start a node through :meth:`stop_node` and :meth:`start_node`:
        a plain ``stop()`` deletes the node's cluster state, and it cannot rejoin.
        """
        return self._nodes

    @property
    def ports(self) -> tuple[int, ...]:
        """The nodes' client ports; known once the cluster has been started."""
        return tuple(node.port for node in self._nodes)

    @property
    def urls(self) -> tuple[str, ...]:
        """``redis://127.0.0.1:PORT/0`` of every node."""
        return tuple(node.url for node in self._nodes)

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0`` of the first node, a startup node for cluster clients."""
        return self._nodes[0].url

    @property
    def running(self) -> bool:
        """Whether every node's process is alive."""
        return all(node.running for node in self._nodes)

    def start(self) -> Self:
        """Start the nodes, form the cluster and wait until it serves every slot.

        Does nothing when every node runs. After :meth:`stop_node`, starts the
        stopped nodes again.

        Raises:
            ServiceUnavailable: when a binary is missing, a node does not come
                up, or the cluster does not reach ``cluster_state:ok`` in time;
                every node is then stopped and its folder deleted.
        """
        if self.running:
            return self
        try:
            self.locate()
            for node in self._nodes:
                node.start()
            if self._created:
                self._wait_until_ok(self._rejoin_timeout)
            else:
                self._create()
                self._created = True
                self._wait_until_ok(self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every node and delete its folder; safe to call more than once.

        A later :meth:`start` forms a new, empty cluster on the same ports.
        """
        self._created = False
        for node in self._nodes:
            node.stop()

    def stop_node(self, index: int) -> None:
        """Stop node ``index`` (0-based), keeping its cluster state for :meth:`start_node`.

        The slots it served stay assigned to it (there are no replicas to take
        over): commands for their keys fail with a connection error. The other
        nodes go on serving their slots until they mark it as failed, after
        :attr:`node_timeout` seconds; from then on the whole cluster refuses
        commands (``CLUSTERDOWN``) until the node is back.
        """
        self._nodes[index].stop(keep_data=True)

    def start_node(self, index: int) -> None:
        """Start node ``index`` again on its port, empty, and wait until the cluster is whole.

        That takes about two seconds: a restarted primary waits that long before
        it serves its slots again. A node that the others had marked as failed is
        readmitted only once it has been failed for twice :attr:`node_timeout`.

        Raises:
            ServiceUnavailable: when the node or the cluster does not come back in time.
        """
        self._nodes[index].start()
        self._wait_until_ok(self._rejoin_timeout)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        try:
            ports = ",".join(map(str, self.ports))
        except RuntimeError:  # not started yet
            ports = "None"
        return f"<{type(self).__name__} ports={ports} {state}>"

    def _create(self) -> None:
        command = [find_binary("redis-cli"), "--cluster", "create"]
        command += [f"127.0.0.1:{port}" for port in self.ports]
        command += ["--cluster-replicas", "0", "--cluster-yes"]
        try:
            # A located binary and our own arguments, no shell.
            result = subprocess.run(  # noqa: S603
                command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
                timeout=self.startup_timeout,
            )
        except subprocess.TimeoutExpired:
            raise ServiceUnavailable(
                f"redis-cli --cluster create did not finish within {self.startup_timeout:g} s"
            ) from None
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace")
            raise ServiceUnavailable(
                f"redis-cli --cluster create failed with code {result.returncode}:\n{output}"
            )

    @property
    def _rejoin_timeout(self) -> float:
        return self.startup_timeout + 2 * self.node_timeout

    def _wait_until_ok(self, timeout: float) -> None:
        ports = ", ".join(map(str, self.ports))
        wait_until(
            self._ok,
            timeout=timeout,
            description=f"the Redis Cluster on ports {ports} did not reach cluster_state:ok",
        )

    def _ok(self) -> bool:
        """Whether every node serves all slots and knows every other node."""
        for node in self._nodes:
            if not node.running:
                raise ServiceUnavailable(f"the Redis Cluster node on port {node.port} exited")
            info = _cluster_info(node.port)
            if (
                info.get("cluster_state") != "ok"
                or info.get("cluster_slots_assigned") != str(_SLOTS)
                or info.get("cluster_slots_ok") != str(_SLOTS)
                or info.get("cluster_known_nodes") != str(len(self._nodes))
            ):
                return False
        return True


def _cluster_info(port: int) -> dict[str, str]:
    """``CLUSTER INFO`` of the node on ``port`` as a dict; empty when it does not answer."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis(
        host="127.0.0.1",
        port=port,
        socket_connect_timeout=1,
        socket_timeout=1,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        reply = client.cluster("INFO")
    except redis.RedisError:
        return {}
    finally:
        client.close()
    # redis-py parses the reply into a dict; older versions may hand back the raw text.
    if isinstance(reply, dict):
        return {_text(key): _text(value) for key, value in reply.items()}
    lines = _text(reply).splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@functools.cache
def _has_cluster_port_option(redis_server: str) -> bool:
    """Whether this ``redis-server`` knows ``--cluster-port`` (Redis 7 and later)."""
    # A located binary, no shell.
    result = subprocess.run(  # noqa: S603
        [redis_server, "--version"], capture_output=True, check=False, timeout=10
    )
    match = _VERSION.search(result.stdout)
    return match is not None and int(match.group(1)) >= 7
