"""The client's failover (no display): after a lost connection, the same address, then each node the
welcome listed, in turn; rejoined on the one that takes it."""

from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone, ConnectionLost, ConnectionRefusedError
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from glozi.client.protocol import ClientListener, ClientProtocol
from glozi.client.state import Screen, ServerAddress
from glozi.doors.native import wire
from tests.test_client_viewmodel import SERVER, SESSIONS, WELCOME, FakeNetwork, ViewModelTestCase

NODE_B = ServerAddress("127.0.0.2", 7557, "node-b")
NODE_C = ServerAddress("127.0.0.3", 7600, "node-c")


def node(address: ServerAddress, **changes: Any) -> dict[str, Any]:
    return {"name": address.name, "host": address.host, "port": address.port, "tls": False, "irc_port": None, **changes}


class ClusterNetwork(FakeNetwork):
    """Each address with its own welcome; the ones in ``down`` refuse; ``tried`` is every address asked."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.welcomes: dict[tuple[str, int], dict[str, Any]] = {}
        self.down: set[tuple[str, int]] = set()
        self.tried: list[tuple[str, int]] = []

    def __call__(self, address: ServerAddress, listener: ClientListener) -> "Deferred[ClientProtocol]":
        key = (address.host, address.port)
        self.tried.append(key)
        if key in self.down:
            return fail(ConnectionRefusedError("refused"))
        protocol = ClientProtocol(listener, clock=self.clock)
        protocol.makeConnection(StringTransport())
        protocol.dataReceived(wire.encode_frame(self.welcomes.get(key, WELCOME)))
        self.protocols.append(protocol)
        return succeed(protocol)


A, B, C = ((a.host, a.port) for a in (SERVER, NODE_B, NODE_C))


class FailoverTests(ViewModelTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.network = ClusterNetwork(self.clock)
        self.model._connector = self.network
        self.network.welcomes = {
            A: {**WELCOME, "nodes": [node(NODE_B), node(NODE_C)]},
            B: {**WELCOME, "name": "lab-b", "nodes": [node(SERVER, name="node-a"), node(NODE_C)]},
            C: {**WELCOME, "name": "lab-c", "nodes": []},
        }

    def lose(self) -> None:
        self.network.tried = []
        self.protocol.connectionLost(Failure(ConnectionLost()))

    def rejoin_answer(self, join: dict[str, Any]) -> None:
        members = [{"name": "alice", "joined": 1000.0, "admin": True}, {"name": "bob", "joined": 6000.0, "admin": False}]
        self.answer({"type": "joined", "session": {**SESSIONS[1], "members": 2}, "you": "bob",
                     "members": members, "idle_timeout": 240.0, "history": 0}, join)

    def test_node_a_refuses_node_b_takes_us_and_we_are_rejoined_there(self) -> None:
        """A is tried first (0.5 s), then B (0.8 s later): B gets the join with the session's password,
        and the transcript says Reconnected.; B is the address from then on."""
        self.in_garden()
        self.network.down = {A}
        self.lose()
        self.assertEqual(self.model.connection_text, "Reconnecting to lab (127.0.0.1:7557)...")
        self.clock.advance(0.5)
        self.assertEqual(self.network.tried, [A])
        self.assertEqual(self.model.connection_text, "Reconnecting to node-b (127.0.0.2:7557)...")
        self.clock.advance(0.8)
        self.assertEqual(self.network.tried, [A, B])
        (join,) = self.sent()
        self.assertEqual((join["type"], join["session"], join["username"], join["password"]), ("join", 10, "bob", "12345"))
        self.rejoin_answer(join)
        self.assertFalse(self.model.reconnecting)
        self.assertIs(self.model.screen, Screen.CHAT)
        self.assertEqual(self.model.chat.lines[-1].text, "Reconnected.")
        self.assertEqual(self.model.address, NODE_B)
        self.assertEqual(self.model.connection_text, "Connected to lab-b")
        self.assertEqual(self.model.nodes, [ServerAddress("127.0.0.1", 7557, "node-a"), NODE_C])

    def test_a_name_still_held_by_our_old_connection_is_asked_for_again_every_second(self) -> None:
        """The new node may not know yet that our old connection is gone: name_taken is tried again
        1 s later, ten times; the eleventh refusal gives the session up."""
        self.in_garden()
        self.network.down = {A}
        self.lose()
        self.clock.pump([0.5, 0.8])
        for _ in range(3):
            (join,) = self.sent()
            self.answer({"type": "error", "code": "name_taken", "message": "The name bob is in use on this server."}, join)
            self.assertEqual(self.sent(), [])
            self.clock.advance(0.999)
            self.assertEqual(self.sent(), [])
            self.clock.advance(0.001)
        (join,) = self.sent()
        self.rejoin_answer(join)
        self.assertEqual(self.model.chat.lines[-1].text, "Reconnected.")

    def test_a_name_refused_eleven_times_gives_the_session_up(self) -> None:
        self.in_garden()
        self.network.down = {A}
        self.lose()
        self.clock.pump([0.5, 0.8])
        for _ in range(11):
            (join,) = self.sent()
            self.answer({"type": "error", "code": "name_taken", "message": "The name bob is in use on this server."}, join)
            self.clock.advance(1.0)
        self.assertEqual([frame["type"] for frame in self.sent()], ["list"])
        self.assertIn("could not rejoin garden: The name bob is in use", self.model.notice.text)

    def test_the_nodes_are_tried_round_robin_with_the_usual_delays(self) -> None:
        """All down: A, B, C, A, B... at 0.5 s, then each delay 1.6 times the last, as for a server alone."""
        self.in_garden()
        self.network.down = {A, B, C}
        self.lose()
        for delay, tried in ((0.5, [A]), (0.8, [A, B]), (1.28, [A, B, C]), (2.048, [A, B, C, A]), (3.2768, [A, B, C, A, B])):
            self.clock.advance(delay - 0.001)
            self.assertEqual(len(self.network.tried), len(tried) - 1)
            self.clock.advance(0.001)
            self.assertEqual(self.network.tried, tried)

    def test_after_a_failover_the_new_node_is_tried_first_with_its_own_list(self) -> None:
        """Lost again on B: B first, then the nodes B's welcome listed (A, then C)."""
        self.in_garden()
        self.network.down = {A}
        self.lose()
        self.clock.pump([0.5, 0.8])
        self.rejoin_answer(self.sent()[0])
        self.network.down = {A, B}
        self.lose()
        self.clock.pump([0.5, 0.8, 1.28])
        self.assertEqual(self.network.tried, [B, A, C])
        self.assertEqual(self.model.address, NODE_C)

    def test_at_the_session_list_the_status_says_which_node_is_next(self) -> None:
        """Lost at the session list: the disconnected screen names the node the next attempt goes to,
        and the list comes back from B."""
        self.at_lobby()
        self.network.down = {A}
        self.lose()
        self.assertEqual(self.model.status, "The connection to lab was lost. Reconnecting to lab (127.0.0.1:7557) in 1 s...")
        self.clock.advance(0.5)
        self.assertEqual(
            self.model.status, "The connection to lab was lost. Reconnecting to node-b (127.0.0.2:7557) in 1 s..."
        )
        self.clock.advance(0.8)
        self.assertIs(self.model.screen, Screen.LOBBY)
        self.assertEqual(self.model.notice.text, "Reconnected.")
        self.assertEqual(self.network.tried, [A, B])

    def test_a_server_alone_is_retried_as_before(self) -> None:
        """A welcome with "nodes": [] (or none): only the same address, and the status line as before."""
        self.network.welcomes[A] = {**WELCOME, "nodes": []}
        self.in_garden()
        self.network.down = {A}
        self.lose()
        self.assertEqual(self.model.connection_text, "Reconnecting to lab...")
        self.clock.pump([0.5, 0.8, 1.28])
        self.assertEqual(self.network.tried, [A, A, A])

    def test_a_server_closing_on_purpose_is_not_replaced_by_its_nodes(self) -> None:
        """After server_closing (its exit code, or a shutdown) only the same address is tried again."""
        self.in_garden()
        self.network.down = {A}
        self.event({"type": "server_closing", "reason": "The server was closed with its exit code."})
        self.lose()
        self.clock.pump([0.5, 0.8, 1.28])
        self.assertEqual(self.network.tried, [A, A, A])

    def test_closing_the_window_tries_no_node(self) -> None:
        """The user quits: the connection ends on purpose and nothing is tried, here or on a node."""
        self.in_garden()
        protocol = self.protocol
        self.network.tried = []
        self.model.close()
        protocol.connectionLost(Failure(ConnectionDone()))
        self.clock.advance(60)
        self.assertEqual(self.network.tried, [])

    def test_bad_node_entries_and_our_own_address_are_not_tried(self) -> None:
        """The welcome's entries that are not nodes, one naming the address we use, and a second one
        naming the same address are left out."""
        self.network.welcomes[A] = {
            **WELCOME,
            "nodes": [node(SERVER), {"name": "x", "host": "224.0.0.1", "port": 7557}, "127.0.0.9", node(NODE_C),
                      node(NODE_C, name="node-c-again")],
        }
        self.in_garden()
        self.assertEqual(self.model.nodes, [NODE_C])
        self.network.down = {A}
        self.lose()
        self.clock.pump([0.5, 0.8])
        self.assertEqual(self.network.tried, [A, C])
