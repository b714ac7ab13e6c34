"""The process part of benchmarks/cluster.py, which the benchmarks and the cluster tests share:
the command line that makes a node, and a node killed (SIGKILL) and started again on its ports."""

import json
import signal
import socket
from pathlib import Path

from twisted.trial import unittest

from benchmarks.cluster import node_options
from benchmarks.servers import start_glozichat


def welcome(port: int) -> dict:
    """The first frame a native client gets from the server on ``port``."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        return json.loads(client.makefile("rb").readline())


class NodeOptionsTests(unittest.TestCase):
    def test_a_node_is_its_database_redis_name_and_presence_timeout(self) -> None:
        """A node runs with --db postgresql://…, --redis redis://…, --node NAME and --presence-timeout S."""
        self.assertEqual(
            node_options("postgresql://postgres@127.0.0.1:5432/glozi", "redis://127.0.0.1:6379", "node2", 15.0),
            [
                "--db", "postgresql://postgres@127.0.0.1:5432/glozi",
                "--redis", "redis://127.0.0.1:6379",
                "--node", "node2",
                "--presence-timeout", "15",
            ],
        )  # fmt: skip


class KillAndRestartTests(unittest.TestCase):
    def test_a_killed_node_comes_back_on_its_ports_with_its_log(self) -> None:
        """SIGKILL ends the node at once (status -9, its port refuses); started again with its ports,
        it answers there, and its log holds both processes, each read apart."""
        workdir = Path(self.mktemp())
        first = start_glozichat(workdir, irc=True)
        self.addCleanup(first.stop)
        ports = dict(first.ports)
        self.assertEqual(welcome(ports["native"])["type"], "welcome")

        self.assertEqual(first.kill(), -signal.SIGKILL)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", ports["native"]), timeout=10).close()

        second = start_glozichat(workdir, irc=True, ports=ports)
        self.addCleanup(second.stop)
        self.assertEqual(second.ports, ports)
        self.assertEqual(welcome(ports["native"])["type"], "welcome")
        self.assertNotIn("Server Shut Down.", first.log_text())
        self.assertEqual(second.log_text().count("starting up"), 1)
        self.assertEqual((workdir / "glozichat.log").read_text().count("starting up"), 2)
        self.assertEqual(second.stop(), -signal.SIGTERM)
        self.assertIn("Server Shut Down.", second.log_text())
