"""The real ``twistd -n glozichat`` process with three TCP clients on loopback."""

import os
import re
import signal
import stat

from twisted.internet import defer, reactor
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from tests.realserver import connect_client, start_server

MEMORY_REPORT = re.compile(rb"\] memory: live_objects=\d+ frozen=\d+ rss_kib=\d+\n")


class EndToEndTests(TestCase):
    timeout = 60

    @defer.inlineCallbacks
    def test_full_conversation_then_exit_code(self) -> None:
        """Create a password session, join, chat, kick, close; the exit code stops the server with status 0."""
        server = yield start_server(self)
        code_file = os.path.join(server.workdir, "exit-code")
        with open(code_file) as f:
            self.assertEqual(f.read().strip(), server.exit_code)
        self.assertEqual(stat.S_IMODE(os.stat(code_file).st_mode), 0o600)

        alice = yield connect_client(self, server.port)
        bob = yield connect_client(self, server.port)
        carol = yield connect_client(self, server.port)

        listing = yield alice.request(type="list")
        self.assertEqual(len(listing["sessions"]), 9)
        created = yield alice.request(type="create", name="garden", username="alice", password="12345")
        self.assertEqual(created["session"]["admin"], "alice")
        garden = created["session"]["id"]

        refused = yield bob.request(type="join", session=garden, username="bob", password="00000")
        self.assertEqual(refused["code"], "wrong_password")
        joined = yield bob.request(type="join", session=garden, username="bob", password="12345")
        self.assertEqual([m["name"] for m in joined["members"]], ["alice", "bob"])
        seen = yield alice.next()
        self.assertEqual((seen["type"], seen["name"]), ("member_joined", "bob"))
        yield carol.request(type="join", session=garden, username="carol", password="12345")
        for who in (alice, bob):
            yield who.next()

        ack = yield bob.request(type="say", text="hello from bob", id="m1")
        self.assertEqual((ack["type"], ack["id"]), ("ack", "m1"))
        for who in (alice, carol):
            message = yield who.next()
            self.assertEqual((message["from"], message["text"], message["ts"]), ("bob", "hello from bob", ack["ts"]))

        quote = yield carol.request(type="command", name="quote")
        self.assertIn(" - ", quote["text"])
        refused = yield bob.request(type="command", name="kick", args="carol")
        self.assertEqual(refused["code"], "not_admin")

        alice.send(type="command", name="kick", args="bob")
        left = yield bob.next()
        self.assertEqual((left["type"], left["reason"], left["by"]), ("left", "kicked", "alice"))
        gone = yield carol.next()
        self.assertEqual((gone["type"], gone["name"]), ("member_left", "bob"))

        alice.send(type="command", name="close")
        closed = yield carol.next()
        self.assertEqual((closed["type"], closed["reason"]), ("left", "closed"))
        listing = yield bob.request(type="list")
        self.assertNotIn("garden", [s["name"] for s in listing["sessions"]])

        wrong = yield bob.request(type="exit", code="0000000000" if server.exit_code != "0000000000" else "0000000001")
        self.assertEqual(wrong["code"], "wrong_exit_code")
        bob.send(type="exit", code=server.exit_code)
        for who in (alice, bob, carol):
            frames = []
            while True:
                frame = yield who.next()
                frames.append(frame)
                if frame["type"] == "server_closing":
                    break
            yield who.lost
        status = yield server.ended
        self.assertEqual(status, 0)
        self.assertFalse(os.path.exists(code_file))

    @defer.inlineCallbacks
    def test_sigusr2_reports_memory_sigterm_tells_clients(self) -> None:
        """SIGUSR2 logs the memory report and disturbs no one; SIGTERM stops the
        server cleanly after telling every client.

        twistd re-raises the stopping signal once shut down, so the process ends
        "killed by SIGTERM" rather than with a status.
        """
        server = yield start_server(self)
        alice = yield connect_client(self, server.port)
        yield alice.request(type="join", session=2, username="alice")
        server.transport.signalProcess(signal.SIGUSR2)
        for _ in range(100):
            if MEMORY_REPORT.search(server.output):
                break
            yield deferLater(reactor, 0.05, lambda: None)
        self.assertRegex(server.output, MEMORY_REPORT)
        ack = yield alice.request(type="say", text="still here", id="m1")
        self.assertEqual(ack["type"], "ack")
        server.signal("TERM")
        closing = yield alice.next()
        self.assertEqual(closing["type"], "server_closing")
        yield alice.lost
        yield server.ended
        self.assertEqual(server.signal_number, signal.SIGTERM)
        self.assertIn(b"Server Shut Down.", server.output)
