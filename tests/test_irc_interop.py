"""The real ``twistd -n glozichat`` with an independent IRC client (the ``irc``
package from PyPI, run in a thread) and a native client in one session."""

import time
from typing import Any

from twisted.internet import defer, threads
from twisted.trial.unittest import TestCase

from tests.realserver import connect_client, start_server

try:
    import irc.client
except ImportError:  # pragma: no cover - installed by '.[test]'
    irc = None

IRC_DEADLINE = 20.0


def run_irc_client(port: int) -> list[tuple]:
    """Drive an ``irc`` library client through LIST, a wrong key, JOIN with the
    key, KICK (refused), TIME, a message each way and being kicked; returns what it saw.

    Bounded by ``IRC_DEADLINE`` seconds whatever the server does.
    """
    reactor = irc.client.Reactor()
    seen: list[tuple] = []
    state = {"done": False}
    connection = reactor.server()

    def on_event(conn: Any, event: Any) -> None:
        seen.append((event.type, getattr(event.source, "nick", event.source), event.target, list(event.arguments)))
        if event.type == "endofmotd":
            conn.list()
        elif event.type == "listend":
            conn.join("#garden", "11111")
        elif event.type == "badchannelkey":
            conn.join("#garden", "12345")
        elif event.type == "endofnames":
            conn.kick("#garden", "bob", "try")
        elif event.type == "chanoprivsneeded":
            conn.time()
        elif event.type == "time":
            conn.privmsg("#garden", "hello from the irc package")
        elif event.type == "kick" and event.arguments[0] == "ircpkg":
            state["done"] = True

    reactor.add_global_handler("all_events", on_event)
    connection.connect("127.0.0.1", port, "ircpkg", username="ircpkg", ircname="irc package")
    deadline = time.monotonic() + IRC_DEADLINE
    try:
        while not state["done"] and time.monotonic() < deadline:
            reactor.process_once(0.1)
    finally:
        connection.close()
    return seen


class IrcPackageInteropTests(TestCase):
    timeout = 60

    def setUp(self) -> None:
        if irc is None:
            raise self.skipTest("the irc package is not installed (pip install '.[test]')")

    @defer.inlineCallbacks
    def test_irc_package_and_native_client_chat(self) -> None:
        """An independent IRC client lists, joins with the key, talks with a native admin and is kicked."""
        server = yield start_server(self)
        bob = yield connect_client(self, server.port)
        yield bob.request(type="create", name="garden", username="bob", password="12345")
        running = threads.deferToThread(run_irc_client, server.irc_port)

        joined = yield bob.next(timeout=IRC_DEADLINE)
        self.assertEqual((joined["type"], joined["name"]), ("member_joined", "ircpkg"))
        message = yield bob.next(timeout=IRC_DEADLINE)
        self.assertEqual((message["from"], message["text"]), ("ircpkg", "hello from the irc package"))
        yield bob.request(type="say", text="hello from native bob")
        kicked = yield bob.request(type="command", name="kick", args="ircpkg")
        self.assertEqual(kicked["type"], "member_left")
        seen = yield running

        kinds = [kind for kind, *_ in seen]
        for expected in ("welcome", "featurelist", "endofmotd", "list", "listend", "badchannelkey", "join"):
            self.assertIn(expected, kinds)
        listed = {args[0]: args for kind, _, _, args in seen if kind == "list"}
        self.assertEqual(listed["#garden"][1], "1")
        self.assertIn("locked", listed["#garden"][2])
        [names] = [args for kind, _, _, args in seen if kind == "namreply"]
        self.assertEqual(names[-1], "@bob ircpkg")
        self.assertIn("chanoprivsneeded", kinds)
        [said] = [(source, target, args) for kind, source, target, args in seen if kind == "pubmsg"]
        self.assertEqual(said, ("bob", "#garden", ["hello from native bob"]))
        [kick] = [(source, args) for kind, source, _, args in seen if kind == "kick"]
        self.assertEqual(kick, ("bob", ["ircpkg", "bob"]))
        self.assertNotIn("error", kinds)
