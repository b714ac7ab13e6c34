"""People on the real ``twistd -n glozichat``: one native user in three
sessions at once, private messages between a native and an IRC user, and who
is away."""

from collections import deque
from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.protocols.basic import LineReceiver
from twisted.trial.unittest import TestCase

from glozi.doors.irc import wire
from tests.realserver import close_at_cleanup, connect_client, start_server

LINE_TIMEOUT = 10.0


class LineIRCClient(LineReceiver):
    """A bare IRC client: sends lines, waits for the first received line a test asks for."""

    def __init__(self) -> None:
        self.lines: deque[wire.ParsedLine] = deque()
        self.waiting: list[tuple[Any, defer.Deferred[wire.ParsedLine]]] = []
        self.lost: defer.Deferred[None] = defer.Deferred()

    def lineReceived(self, line: bytes) -> None:
        parsed = wire.parse_line(line)
        if parsed is None:
            return
        for entry in self.waiting:
            wanted, found = entry
            if wanted(parsed):
                self.waiting.remove(entry)
                found.callback(parsed)
                return
        self.lines.append(parsed)

    def connectionLost(self, reason: Any = None) -> None:
        self.lost.callback(None)

    def expect(self, command: str, *params: str) -> "defer.Deferred[wire.ParsedLine]":
        """The first line (already received or coming) of ``command`` whose parameters start with ``params``."""

        def wanted(line: wire.ParsedLine) -> bool:
            return line.command == command and list(line.params[: len(params)]) == list(params)

        for line in self.lines:
            if wanted(line):
                self.lines.remove(line)
                return defer.succeed(line)
        found: defer.Deferred[wire.ParsedLine] = defer.Deferred()
        self.waiting.append((wanted, found))
        return found.addTimeout(LINE_TIMEOUT, reactor)


@defer.inlineCallbacks
def connect_irc(test: TestCase, port: int, nick: str) -> Any:
    """Register ``nick`` on the IRC door with a ``LineIRCClient``, closed at cleanup."""
    client = LineIRCClient()
    yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
    close_at_cleanup(test, client)
    client.sendLine(f"NICK {nick}".encode())
    client.sendLine(f"USER {nick} 0 * :{nick}".encode())
    yield client.expect("001", nick)
    return client


class PeopleEndToEndTests(TestCase):
    timeout = 60

    @defer.inlineCallbacks
    def test_one_user_in_three_sessions_and_private_messages_across_doors(self) -> None:
        """alice (native) is in kiwi, papaya and garden at once and gets each session's
        message marked with it; she and ircbob exchange private messages both ways; each
        one's away reaches the other members (native ones), and a joiner sees who is away."""
        server = yield start_server(self)
        alice = yield connect_client(self, server.port)
        carol = yield connect_client(self, server.port)
        ircbob = yield connect_irc(self, server.irc_port, "ircbob")

        for session in (2, 6):
            joined = yield alice.request(type="join", session=session, username="alice")
            self.assertEqual(joined["type"], "joined")
        created = yield alice.request(type="create", name="garden", username="alice")
        garden = created["session"]["id"]
        joined = yield carol.request(type="join", session=2, username="carol")
        self.assertEqual(joined["type"], "joined")
        seen = yield alice.next()
        self.assertEqual((seen["type"], seen["session"]), ("member_joined", 2))
        ircbob.sendLine(b"JOIN #papaya,#garden")
        yield ircbob.expect("366", "ircbob", "#garden")
        for session in (6, garden):
            seen = yield alice.next()
            self.assertEqual((seen["type"], seen["session"], seen["name"]), ("member_joined", session, "ircbob"))

        ack = yield carol.request(type="say", text="in kiwi")
        self.assertEqual((ack["type"], ack["session"]), ("ack", 2))
        ircbob.sendLine(b"PRIVMSG #papaya :in papaya")
        ircbob.sendLine(b"PRIVMSG #garden :in garden")
        received = []
        for _ in range(3):
            frame = yield alice.next()
            received.append((frame["type"], frame["session"], frame["text"]))
        self.assertEqual(
            received, [("message", 2, "in kiwi"), ("message", 6, "in papaya"), ("message", garden, "in garden")]
        )
        refused = yield alice.request(type="say", text="which one?")
        self.assertEqual(refused["code"], "missing_field")
        ack = yield alice.request(type="say", session=garden, text="hello garden")
        self.assertEqual((ack["type"], ack["session"]), ("ack", garden))
        yield ircbob.expect("PRIVMSG", "#garden", "hello garden")

        ircbob.sendLine(b"PRIVMSG alice :just for you")
        private = yield alice.next()
        self.assertEqual(
            (private["type"], private["from"], private["text"]), ("private_message", "ircbob", "just for you")
        )
        ack = yield alice.request(type="private", to="ircbob", text="and back to you")
        self.assertEqual(ack["type"], "ack")
        line = yield ircbob.expect("PRIVMSG", "ircbob")
        self.assertEqual((line.prefix, line.params[1]), ("alice!alice@glozichat", "and back to you"))
        self.assertEqual(list(carol.frames), [])

        ircbob.sendLine(b"AWAY :at lunch")
        yield ircbob.expect("306", "ircbob")
        for session in (6, garden):
            seen = yield alice.next()
            self.assertEqual(seen, {"type": "member_away", "session": session, "name": "ircbob", "away": "at lunch"})
        presence = yield alice.request(type="away", message="brb")
        self.assertEqual(presence, {"type": "presence", "away": "brb"})
        seen = yield carol.next()
        self.assertEqual(seen, {"type": "member_away", "session": 2, "name": "alice", "away": "brb"})
        ack = yield alice.request(type="say", session=6, text="after away")
        self.assertEqual(ack["type"], "ack")
        yield ircbob.expect("PRIVMSG", "#papaya", "after away")
        self.assertNotIn("AWAY", [line.command for line in ircbob.lines], "IRC users get no away-notify")
        dave = yield connect_client(self, server.port)
        joined = yield dave.request(type="join", session=6, username="dave")
        self.assertEqual(
            [(m["name"], m["away"]) for m in joined["members"]], [("alice", "brb"), ("ircbob", "at lunch"), ("dave", None)]
        )

    @defer.inlineCallbacks
    def test_ctcp_and_reasons_across_doors(self) -> None:
        """On the real server: a CTCP VERSION to a native user is answered in their place,
        an action and a PART reason reach the native user, and a native quit reason reaches IRC."""
        server = yield start_server(self)
        alice = yield connect_client(self, server.port)
        carol = yield connect_client(self, server.port)
        ircbob = yield connect_irc(self, server.irc_port, "ircbob")
        for client, name in ((alice, "alice"), (carol, "carol")):
            joined = yield client.request(type="join", session=2, username=name)
            self.assertEqual(joined["type"], "joined")
        yield alice.next()
        ircbob.sendLine(b"JOIN #kiwi")
        yield ircbob.expect("366", "ircbob", "#kiwi")
        for client in (alice, carol):
            yield client.next()

        ircbob.sendLine(b"PRIVMSG alice :\x01VERSION\x01")
        answer = yield ircbob.expect("NOTICE", "ircbob")
        self.assertEqual(answer.prefix, "alice!alice@glozichat")
        self.assertTrue(answer.params[1].startswith("\x01VERSION GloziChat "))
        ircbob.sendLine(b"PRIVMSG #kiwi :\x01ACTION waves\x01")
        action = yield alice.next()
        self.assertEqual((action["type"], action["text"], action["action"]), ("message", "waves", True))
        yield carol.next()

        reply = yield carol.request(type="command", name="quit", args="see you")
        self.assertEqual(reply["type"], "left")
        part = yield ircbob.expect("PART", "#kiwi")
        self.assertEqual((part.prefix, part.params[1]), ("carol!carol@glozichat", "see you"))
        left = yield alice.next()
        self.assertEqual((left["type"], left["comment"]), ("member_left", "see you"))

        ircbob.sendLine(b"PART #kiwi :bye now")
        left = yield alice.next()
        self.assertEqual((left["type"], left["name"], left["comment"]), ("member_left", "ircbob", "bye now"))
