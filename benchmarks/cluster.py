"""A GloziChat cluster on loopback: one PostgreSQL, one redis-server and N ``twistd -n glozichat`` nodes.

Used by ``benchmarks/compare --cluster N`` and ``soak.py --cluster N``, and
meant for tests as well (``from benchmarks.cluster import Cluster``): it is
synchronous, so a trial test starts it in ``setUp`` and runs ``restart`` in
a thread (``deferToThread``) to keep its reactor turning meanwhile.

PostgreSQL and Redis are started by tests/realthings.py (``Postgres``,
``RedisServer``), the one place that knows how; the nodes by
benchmarks/servers.py, each in a directory of its own (its log and exit
code file) and on loopback ports of its own, which it keeps across a
restart, as a real node's address would. What makes a process a node is
``node_options``: the only part that knows the cluster's command line.

    with Cluster(workdir, 3) as cluster:   # every process is stopped when the block ends, even on failure
        cluster.nodes[0].ports["native"]
        cluster.kill(1)                    # SIGKILL, as a crash
        cluster.restart(1)                 # the same name and ports

Every wait is bounded: PostgreSQL's and Redis's own start timeouts, each
node's ``STARTUP_TIMEOUT`` and ``STOP_GRACE`` (benchmarks/servers.py).
"""

import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from benchmarks.servers import GLOZICHAT_LIMITS, RunningServer, start_glozichat

# Short enough that a killed node's members are gone from the others well
# within a benchmark round; the server's default is 15 s.
PRESENCE_TIMEOUT = 5.0


def node_options(db_url: str, redis_url: str, node: str, presence_timeout: float) -> list[str]:
    """The options that make a ``glozichat`` process node ``node`` of the cluster (docs/cluster.md)."""
    return [
        "--db", db_url,
        "--redis", redis_url,
        "--node", node,
        "--presence-timeout", f"{presence_timeout:g}",
    ]  # fmt: skip


class Backing:
    """The cluster's PostgreSQL (a fresh database) and Redis, started and stopped together."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.postgres = None
        self.redis = None
        self.db_url = ""

    def start(self) -> None:
        # Imported here: only a real cluster needs them, and psycopg is the [cluster] extra.
        import psycopg

        from tests.realthings import Postgres, RedisServer

        self.postgres = Postgres()
        self.postgres.start()
        database = "glozi_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.postgres.dsn("postgres"), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        self.db_url = self.postgres.dsn(database)
        self.redis = RedisServer(str(self.workdir / "redis"))
        self.redis.start()

    @property
    def redis_url(self) -> str:
        assert self.redis is not None
        return self.redis.url

    def stop(self) -> None:
        """Stop Redis, then PostgreSQL (which deletes its files); each even if the other fails."""
        redis, self.redis = self.redis, None
        postgres, self.postgres = self.postgres, None
        try:
            if redis is not None:
                redis.stop()
                shutil.rmtree(redis.directory, ignore_errors=True)
        finally:
            if postgres is not None:
                postgres.stop()


class Cluster:
    """N nodes of one cluster, started in order (node 1 first), and what they share.

    ``options`` are every node's other glozichat options (the benchmark
    limits by default).
    """

    def __init__(
        self,
        workdir: Path,
        size: int,
        *,
        options: Sequence[str] = GLOZICHAT_LIMITS,
        presence_timeout: float = PRESENCE_TIMEOUT,
    ) -> None:
        if size < 1:
            raise ValueError("a cluster needs at least one node")
        self.workdir = workdir
        self.size = size
        self.options = tuple(options)
        self.presence_timeout = presence_timeout
        self.backing = Backing(workdir)
        self.nodes: list[RunningServer] = []

    def name(self, index: int) -> str:
        """Node ``index``'s name (from 0): ``node1``, ``node2``..."""
        return f"node{index + 1}"

    def start(self) -> Self:
        """Start everything; on any failure stop what was started and raise."""
        try:
            self.backing.start()
            for index in range(self.size):
                self.nodes.append(self._start_node(index, None))
        except BaseException:
            self.stop()
            raise
        return self

    def _start_node(self, index: int, ports: dict[str, int] | None) -> RunningServer:
        options = [
            *self.options,
            *node_options(self.backing.db_url, self.backing.redis_url, self.name(index), self.presence_timeout),
        ]
        return start_glozichat(self.workdir / self.name(index), irc=True, options=options, ports=ports)

    def kill(self, index: int) -> int | None:
        """SIGKILL node ``index``, as a crash would; its exit status."""
        return self.nodes[index].kill()

    def restart(self, index: int) -> RunningServer:
        """Start node ``index`` again (stopping it first if it runs), with its name and ports."""
        old = self.nodes[index]
        old.stop()
        self.nodes[index] = self._start_node(index, dict(old.ports))
        return self.nodes[index]

    def pids(self) -> list[int]:
        return [node.pid for node in self.nodes]

    def ports(self, door: str) -> list[int]:
        """Each node's port of ``door`` (``native`` or ``irc``), in node order."""
        return [node.ports[door] for node in self.nodes]

    def stop(self) -> list[int | None]:
        """Stop every node (SIGTERM, then SIGKILL), then PostgreSQL and Redis; the nodes' exit statuses."""
        statuses: list[int | None] = []
        try:
            for node in reversed(self.nodes):
                try:
                    statuses.insert(0, node.stop())
                except OSError:
                    statuses.insert(0, None)
        finally:
            self.backing.stop()
        return statuses

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
