"""The other nodes of a cluster as the welcome, discovery answers and the client's server list show them."""

import json
from typing import Any

from twisted.internet.defer import succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from glozi.client.servers import find_servers, servers_of
from glozi.client.state import ServerAddress
from glozi.discovery.cli import format_server
from glozi.discovery.client import FoundServer
from glozi.discovery.nodes import Node, decode_nodes
from glozi.discovery.probe import Answer, decode_answer, encode_answer, encode_probe, new_probe
from glozi.domain.chat import ChatServer
from glozi.doors.native.protocol import NativeFactory
from tests.helpers import TEST_EXIT_CODE
from tests.test_discovery_responder import CLIENT, make_responder
from tests.test_native_protocol import Client

NONCE = "0123456789abcdef0123456789abcdef"


def heartbeat(number: int, **changes: Any) -> dict[str, Any]:
    """A node as the cluster's heartbeats describe it (with the keys a welcome leaves out)."""
    info = {
        "name": f"lanbox-{number}",
        "host": f"192.168.1.{20 + number}",
        "port": 7557,
        "tls": False,
        "irc_port": 6667,
        "started_at": 1_764_000_000.0,
    }
    info.update(changes)
    return info


def listed(number: int) -> dict[str, Any]:
    """The same node as the welcome lists it."""
    return {"name": f"lanbox-{number}", "host": f"192.168.1.{20 + number}", "port": 7557, "tls": False, "irc_port": 6667}


class WelcomeNodesTests(SynchronousTestCase):
    def welcome(self, nodes: Any = None) -> dict[str, Any]:
        clock = Clock()
        chat = ChatServer(clock, exit_code=TEST_EXIT_CODE)
        factory = NativeFactory(chat, "lanbox") if nodes is None else NativeFactory(chat, "lanbox", nodes=nodes)
        return Client(factory).welcome

    def test_a_server_alone_lists_no_nodes(self) -> None:
        """A server without a cluster still has the field: "nodes": []."""
        self.assertEqual(self.welcome()["nodes"], [])

    def test_the_welcome_lists_the_other_nodes_with_five_fields(self) -> None:
        """Each node is name, host, port, tls and irc_port (null without IRC); nothing else of its heartbeat."""
        nodes = [heartbeat(2), heartbeat(3, tls=True, irc_port=None)]
        self.assertEqual(
            self.welcome(lambda: nodes)["nodes"],
            [listed(2), {"name": "lanbox-3", "host": "192.168.1.23", "port": 7557, "tls": True, "irc_port": None}],
        )

    def test_the_list_is_read_at_every_welcome(self) -> None:
        """A node that joined the cluster since is in the next welcome (the hello's answer too)."""
        nodes = [heartbeat(2)]
        clock = Clock()
        client = Client(NativeFactory(ChatServer(clock, exit_code=TEST_EXIT_CODE), "lanbox", nodes=lambda: nodes))
        nodes.append(heartbeat(3))
        answer = client.one({"type": "hello", "protocol": 1})
        self.assertEqual(answer["nodes"], [listed(2), listed(3)])

    def test_a_node_description_that_is_no_node_is_left_out(self) -> None:
        """A heartbeat without a host, or with a port that is no port, is skipped; the welcome still goes out."""
        broken = {key: value for key, value in heartbeat(2).items() if key != "host"}
        nodes = [broken, heartbeat(3, port="7557"), heartbeat(4)]
        self.assertEqual(self.welcome(lambda: nodes)["nodes"], [listed(4)])

    def test_at_most_16_nodes_are_listed(self) -> None:
        """16 nodes are listed whole; of 17 the first 16 are."""
        sixteen = [heartbeat(number) for number in range(1, 17)]
        self.assertEqual(self.welcome(lambda: sixteen)["nodes"], [listed(n) for n in range(1, 17)])
        seventeen = [*sixteen, heartbeat(17)]
        self.assertEqual(self.welcome(lambda: seventeen)["nodes"], [listed(n) for n in range(1, 17)])


class ReadingNodesTests(SynchronousTestCase):
    def test_valid_nodes_are_kept_in_order(self) -> None:
        """Addresses and host names, TLS absent or given, IRC port or null."""
        self.assertEqual(
            decode_nodes([listed(2), {"name": "b", "host": "box-b.lan", "port": 7600}]),
            (Node("lanbox-2", "192.168.1.22", 7557, False, 6667), Node("b", "box-b.lan", 7600)),
        )

    def test_bad_entries_are_skipped_and_the_good_ones_kept(self) -> None:
        """A bad entry costs only itself; anything but a list is no nodes."""
        good = listed(2)
        bad = [
            "192.168.1.30",
            {**good, "name": ""},
            {**good, "name": "x" * 65},
            {**good, "name": "evil\x1b[2J"},
            {**good, "host": "224.0.0.1"},
            {**good, "host": "0.0.0.0"},
            {**good, "host": "255.255.255.255"},
            {**good, "host": "256.1.1.1"},
            {**good, "host": "bad host"},
            {**good, "host": "-box.lan"},
            {**good, "host": ""},
            {**good, "port": 0},
            {**good, "port": True},
            {**good, "port": "7557"},
            {**good, "irc_port": 70000},
            {**good, "tls": "yes"},
        ]
        for entry in bad:
            self.assertEqual(decode_nodes([entry, good]), (Node("lanbox-2", "192.168.1.22", 7557, False, 6667),), entry)
        for value in (None, {}, "nodes", 3):
            self.assertEqual(decode_nodes(value), ())

    def test_more_than_16_are_not_read(self) -> None:
        """A list of 17 yields its first 16."""
        self.assertEqual([node.name for node in decode_nodes([listed(n) for n in range(1, 18)])],
                         [f"lanbox-{n}" for n in range(1, 17)])


class AnswerNodesTests(SynchronousTestCase):
    def answer(self, nodes: tuple[Node, ...]) -> Answer:
        return Answer(name="lanbox", host="192.168.1.20", port=7557, irc_port=6667, nonce=NONCE, nodes=nodes)

    def test_a_server_alone_answers_nodes_empty(self) -> None:
        """The field is there for a server alone, as []; an answer without it (an older server) has no nodes."""
        self.assertEqual(json.loads(encode_answer(self.answer(())))["nodes"], [])
        older = json.loads(encode_answer(self.answer(())))
        del older["nodes"]
        self.assertEqual(decode_answer(json.dumps(older).encode()).nodes, ())

    def test_nodes_round_trip(self) -> None:
        """The nodes an answer lists are what the client reads."""
        nodes = (Node("lanbox-2", "192.168.1.22", 7557, False, 6667), Node("lanbox-3", "192.168.1.23", 7557, True))
        self.assertEqual(decode_answer(encode_answer(self.answer(nodes))).nodes, nodes)

    def test_an_answer_stays_within_1024_bytes(self) -> None:
        """16 nodes do not fit in the 1024 bytes of an answer: as many as fit are listed, in order, and
        the next one would have made it longer than 1024 bytes."""
        nodes = tuple(Node(f"lanbox-{n}", f"192.168.1.{20 + n}", 7557, False, 6667) for n in range(1, 17))
        data = encode_answer(self.answer(nodes))
        self.assertLessEqual(len(data), 1024)
        carried = decode_answer(data).nodes
        self.assertEqual(carried, nodes[: len(carried)])
        self.assertLess(len(carried), 16)
        fields = json.loads(data)
        fields["nodes"].append(nodes[len(carried)].fields())
        self.assertGreater(len(json.dumps(fields, separators=(",", ":")).encode()), 1024)
        # The figure docs/discovery.md gives for nodes named and addressed like these.
        self.assertEqual(len(carried), 9)

    def test_the_responder_lists_the_nodes_it_is_given(self) -> None:
        """The discovery answer carries the same nodes as the welcome (the heartbeat's other keys left out)."""
        responder, transport, _ = make_responder(nodes=lambda: [heartbeat(2), heartbeat(3)])
        responder.datagramReceived(encode_probe(new_probe(50001)), (CLIENT, 40404))
        [(data, _)] = transport.written
        self.assertEqual(json.loads(data)["nodes"], [listed(2), listed(3)])

    def test_the_command_line_shows_the_nodes(self) -> None:
        """glozichat-discover prints a cluster's other nodes at the end of its line, and in --json."""
        server = FoundServer(
            name="lanbox", host="192.168.1.20", port=7557, irc_port=None, via=("udp",), seconds=0.002,
            nodes=(Node("lanbox-2", "192.168.1.22", 7557), Node("lanbox-3", "192.168.1.23", 7557)),
        )
        self.assertEqual(
            format_server(server),
            '192.168.1.20:7557 name="lanbox" via=udp time=2ms nodes=192.168.1.22:7557,192.168.1.23:7557',
        )
        self.assertEqual(json.loads(format_server(server, as_json=True))["nodes"][0], {
            "name": "lanbox-2", "host": "192.168.1.22", "port": 7557, "tls": False, "irc_port": None,
        })


def found(host: str, *nodes: str, name: str = "lanbox", seconds: float = 0.0) -> FoundServer:
    return FoundServer(
        name=name, host=host, port=7557, irc_port=None, via=("udp",), seconds=seconds,
        nodes=tuple(Node(f"node-{node}", node, 7557) for node in nodes),
    )


class ServerListTests(SynchronousTestCase):
    def test_a_cluster_is_one_server_at_its_first_answer(self) -> None:
        """Three nodes that answered (listing each other) and a server alone: two rows, in answer order;
        the cluster's row is its first answer, with the two others as its nodes, at their answered address."""
        servers = servers_of([
            found("10.0.0.2", "10.0.0.3", "10.0.0.4"),
            found("10.0.0.9", name="den"),
            found("10.0.0.3", "10.0.0.2", "10.0.0.4"),
            found("10.0.0.4", "10.0.0.2", "10.0.0.3"),
        ])
        self.assertEqual(servers, [ServerAddress("10.0.0.2", 7557, "lanbox"), ServerAddress("10.0.0.9", 7557, "den")])
        self.assertEqual(
            servers[0].nodes, (ServerAddress("10.0.0.3", 7557, "lanbox"), ServerAddress("10.0.0.4", 7557, "lanbox"))
        )
        self.assertEqual([server.where for server in servers], ["10.0.0.2:7557 +2 nodes", "10.0.0.9:7557"])

    def test_nodes_that_did_not_answer_are_kept_and_chains_join(self) -> None:
        """A listed node that did not answer is one of the cluster's nodes; two answers that only share
        a third node are one server too."""
        servers = servers_of([found("10.0.0.2", "10.0.0.5"), found("10.0.0.3", "10.0.0.5")])
        self.assertEqual(servers, [ServerAddress("10.0.0.2", 7557, "lanbox")])
        self.assertEqual([(n.host, n.name) for n in servers[0].nodes], [("10.0.0.3", "lanbox"), ("10.0.0.5", "node-10.0.0.5")])
        self.assertEqual(servers[0].where, "10.0.0.2:7557 +2 nodes")
        self.assertEqual(servers_of([found("10.0.0.2", "10.0.0.5")])[0].where, "10.0.0.2:7557 +1 node")

    def test_find_servers_merges_a_cluster(self) -> None:
        """What the client's search gives: the discovery answers, one row per server."""
        answers = [found("10.0.0.2", "10.0.0.3"), found("10.0.0.3", "10.0.0.2")]
        servers = self.successResultOf(find_servers(None, search=lambda reactor: succeed(answers)))
        self.assertEqual([(s.host, [n.host for n in s.nodes]) for s in servers], [("10.0.0.2", ["10.0.0.3"])])
