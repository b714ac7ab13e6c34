"""The real ``twistd -n glozichat`` and two IRC clients of hand-written lines
over loopback TCP negotiating IRCv3 capabilities (docs/irc.md, *IRCv3 capabilities*)."""

from collections import deque
from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.protocols.basic import LineReceiver
from twisted.trial.unittest import TestCase

from glozi.doors.irc import wire
from tests.realserver import close_at_cleanup, start_server

ALL_CAPS = (
    "message-tags server-time echo-message batch labeled-response multi-prefix userhost-in-names "
    "away-notify invite-notify setname extended-join"
)
LINE_TIMEOUT = 10.0


class RawIRC(LineReceiver):
    """IRC by hand: send lines, wait for the next line that matches."""

    def __init__(self) -> None:
        self.lines: deque[bytes] = deque()
        self.waiting: list[tuple[Any, defer.Deferred[bytes]]] = []
        """At most one expect at a time waits."""
        self.lost: defer.Deferred[None] = defer.Deferred()

    def lineReceived(self, line: bytes) -> None:
        if not self.waiting:
            self.lines.append(line)
            return
        # Lines before the awaited one are passed over, as expect passes over those kept.
        wanted, waiter = self.waiting[0]
        if wanted(line):
            self.waiting.pop(0)
            waiter.callback(line)

    def connectionLost(self, reason: Any = None) -> None:
        self.lost.callback(None)

    def say(self, *lines: str) -> None:
        for line in lines:
            self.sendLine(line.encode())

    def expect(self, command: str) -> "defer.Deferred[bytes]":
        """The next line (kept or to come) whose command is ``command``, bytes as sent."""

        def wanted(line: bytes) -> bool:
            parsed = wire.parse_line(line)
            return parsed is not None and parsed.command == command

        # Lines before the match are passed over for good, so each expect reads on from the last.
        while self.lines:
            line = self.lines.popleft()
            if wanted(line):
                return defer.succeed(line)
        waiter: defer.Deferred[bytes] = defer.Deferred()
        self.waiting.append((wanted, waiter))
        return waiter.addTimeout(LINE_TIMEOUT, reactor)


class RealServerCapsTests(TestCase):
    timeout = 60

    @defer.inlineCallbacks
    def connect(self, port: int, nick: str) -> Any:
        client = yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), RawIRC())
        close_at_cleanup(self, client)
        client.say("CAP LS 302", f"NICK {nick}", f"USER {nick} 0 * :{nick} by hand", f"CAP REQ :{ALL_CAPS}")
        ls = yield client.expect("CAP")
        self.assertIn(b" LS :", ls)
        ack = yield client.expect("CAP")
        self.assertTrue(ack.endswith(f" ACK :{ALL_CAPS}".encode()), ack)
        client.say("CAP END")
        yield client.expect("376")
        return client

    @defer.inlineCallbacks
    def test_capabilities_through_the_real_server(self) -> None:
        """Echo with the msgid and time the other member got, a labeled answer, TAGMSG, extended-join,
        multi-prefix NAMES, away-notify and setname, through twistd over TCP."""
        server = yield start_server(self)
        alice = yield self.connect(server.irc_port, "alice")
        alice.say("JOIN #garden")
        yield alice.expect("366")
        bob = yield self.connect(server.irc_port, "bob")
        bob.say("JOIN #garden")
        joined = yield alice.expect("JOIN")
        self.assertTrue(joined.endswith(b":bob!bob@glozichat JOIN #garden * :bob by hand"), joined)
        names = yield bob.expect("353")
        self.assertTrue(names.endswith(b":@alice!alice@glozichat bob!bob@glozichat"), names)
        yield bob.expect("366")

        alice.say("@label=hello PRIVMSG #garden :hi bob")
        echoed, delivered = yield defer.gatherResults([alice.expect("PRIVMSG"), bob.expect("PRIVMSG")])
        self.assertTrue(echoed.startswith(b"@label=hello;msgid="), echoed)
        self.assertEqual(echoed.removeprefix(b"@label=hello;"), delivered.removeprefix(b"@"))
        self.assertRegex(delivered, rb"^@msgid=\w+;time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z :alice!alice@")

        alice.say("@+typing=active TAGMSG #garden")
        typing = yield bob.expect("TAGMSG")
        self.assertTrue(typing.endswith(b";+typing=active :alice!alice@glozichat TAGMSG #garden"), typing)

        bob.say("AWAY :lunch", "SETNAME :Bob Builder")
        away = yield alice.expect("AWAY")
        self.assertTrue(away.endswith(b" :bob!bob@glozichat AWAY lunch"), away)
        setname = yield alice.expect("SETNAME")
        self.assertTrue(setname.endswith(b" :bob!bob@glozichat SETNAME :Bob Builder"), setname)

        alice.say("@label=p1 PING token")
        pong = yield alice.expect("PONG")
        self.assertTrue(pong.startswith(b"@label=p1 "), pong)
