"""The client's view-model (no display) against a real server restarted under it."""

import os
from collections.abc import Callable
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks, succeed
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from glozi.client.protocol import connect
from glozi.client.state import LineKind, Screen, ServerAddress
from glozi.client.viewmodel import ClientViewModel
from tests import realserver
from tests.realthings import ServerProcess, start_server

POLL_SECONDS = 0.02
WAIT_SECONDS = 10.0


@inlineCallbacks
def wait_for(what: str, predicate: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
    """Poll ``predicate`` on the reactor until it is truthy; fail after ``timeout`` seconds."""
    for _ in range(int(timeout / POLL_SECONDS)):
        if predicate():
            return
        yield deferLater(reactor, POLL_SECONDS, lambda: None)
    raise AssertionError(f"timed out waiting for {what}")


def desktop_user(test: TestCase, port: int) -> ClientViewModel:
    """The desktop client's view-model and network layer, no Tk, connected to a real server on ``port``."""
    model = ClientViewModel(
        reactor,
        lambda address, listener: connect(reactor, address.host, address.port, listener),
        lambda: succeed([]),
        ServerAddress("127.0.0.1", port),
    )
    test.addCleanup(model.close)
    model.start()
    return model


class RealServerReconnectTests(TestCase):
    timeout = 60

    def start(self, *extra: str) -> Any:
        server = start_server(self.workdir, extra=extra)

        def started(process: ServerProcess) -> ServerProcess:
            self.addCleanup(process.stop)
            return process

        return server.addCallback(started)

    def client(self, port: int) -> ClientViewModel:
        return desktop_user(self, port)

    @inlineCallbacks
    def test_clients_rejoin_after_the_server_restarts(self) -> Any:
        """The server is stopped and started again on the same port and database: both clients are back in
        their locked session by themselves, and a message typed while it was down is delivered."""
        self.workdir = os.path.abspath(self.mktemp())
        os.makedirs(self.workdir)
        server = yield self.start()
        alice, bob = self.client(server.port), self.client(server.port)
        yield wait_for("both at the list", lambda: alice.screen is Screen.LOBBY and bob.screen is Screen.LOBBY)
        alice.open_create()
        alice.submit_create("garden", "alice", "12345")
        yield wait_for("alice in garden", lambda: alice.chat is not None)
        garden = alice.chat.session.id
        bob.reload()
        yield wait_for("garden listed for bob", lambda: bob.session_by_id(garden) is not None)
        bob.open_join(garden)
        bob.submit_join("bob", "12345")
        yield wait_for("bob in garden", lambda: bob.chat is not None)
        alice.send("before the restart")
        yield wait_for("bob hears alice", lambda: any(l.text == "before the restart" for l in bob.chat.lines))

        yield server.stop()
        yield wait_for("alice notices", lambda: alice.reconnecting)
        self.assertTrue(alice.send("typed while it was down"))
        restarted = yield self.start("--port", f"tcp:{server.port}:interface=127.0.0.1")
        for model in (alice, bob):
            yield wait_for(
                "both back in garden",
                lambda m=model: m.chat is not None
                and not m.reconnecting
                and any(line.text == "Reconnected." for line in m.chat.lines),
            )
        self.assertTrue(restarted.running)
        # Live, or as history when alice was back first.
        yield wait_for(
            "the waiting message delivered",
            lambda: any(l.text == "typed while it was down" and l.kind is not LineKind.WARNING for l in bob.chat.lines),
        )
        self.assertEqual(sorted(m.name for m in bob.chat.members), ["alice", "bob"])
        self.assertEqual(bob.chat.session.id, garden)
        self.assertEqual(
            [l.text for l in bob.chat.lines].count("before the restart"), 1, "history is not shown twice"
        )


class RealServerFailoverTests(TestCase):
    """Two real servers, A and B, each alone (no cluster): A's welcome is given B as its other node
    in the test's connector (the one thing not real here); A is SIGKILLed."""

    timeout = 60

    @inlineCallbacks
    def test_a_client_whose_node_is_killed_is_back_in_its_sessions_on_the_other_node(self) -> Any:
        """alice is in garden (locked) and avocado on A; A is killed: she is refused by A, then rejoins
        both on B with garden's password, and what she typed meanwhile reaches bob there."""
        a = yield realserver.start_server(self, irc_port="none")
        b = yield realserver.start_server(self, irc_port="none")
        tried: list[int] = []

        def connector(address: ServerAddress, listener: Any) -> Any:
            tried.append(address.port)
            connecting = connect(reactor, address.host, address.port, listener)
            if address.port != a.port:
                return connecting

            def listing_b(protocol: Any) -> Any:
                protocol.welcome["nodes"] = [
                    {"name": "node-b", "host": "127.0.0.1", "port": b.port, "tls": False, "irc_port": None}
                ]
                return protocol

            return connecting.addCallback(listing_b)

        def client(port: int) -> ClientViewModel:
            model = ClientViewModel(reactor, connector, lambda: succeed([]), ServerAddress("127.0.0.1", port))
            self.addCleanup(model.close)
            model.start()
            return model

        alice, bob = client(a.port), client(b.port)
        yield wait_for("both at the list", lambda: alice.screen is Screen.LOBBY and bob.screen is Screen.LOBBY)
        for model, name in ((bob, "bob"), (alice, "alice")):
            model.open_create()
            model.submit_create("garden", name, "12345")
        yield wait_for("both in a garden", lambda: alice.chat is not None and bob.chat is not None)
        garden = alice.chat.session.id
        self.assertEqual(bob.chat.session.id, garden, "the two servers gave garden the same id")
        alice.show_sessions()
        yield wait_for("avocado listed for alice", lambda: alice.session_by_id(1) is not None)
        alice.open_join(1)
        alice.submit_join("alice")
        yield wait_for("alice in avocado too", lambda: len(alice.sessions_in) == 2 and alice.chat is not None)
        alice.switch_to(f"session:{garden}")
        self.assertEqual(alice.nodes, [ServerAddress("127.0.0.1", b.port, "node-b")])

        del tried[:]
        a.signal("KILL")
        yield a.ended
        yield wait_for("alice notices", lambda: alice.reconnecting)
        self.assertTrue(alice.send("typed while A was down"))
        yield wait_for(
            "alice back in both sessions on B",
            lambda: not alice.reconnecting
            and len(alice.sessions_in) == 2
            and all(not chat.rejoining and chat.lines[-1].text == "Reconnected." for chat in alice.sessions_in),
        )
        self.assertEqual(tried[:2], [a.port, b.port], "A first, then B")
        self.assertEqual(alice.address, ServerAddress("127.0.0.1", b.port, "node-b"))
        self.assertEqual(sorted(chat.session.name for chat in alice.sessions_in), ["avocado", "garden"])
        yield wait_for("bob sees alice in garden", lambda: "alice" in [m.name for m in bob.chat.members])
        yield wait_for(
            "the waiting message delivered on B",
            lambda: any(l.text == "typed while A was down" and l.sender == "alice" for l in bob.chat.lines),
        )
