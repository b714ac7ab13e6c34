"""IRCv3 history on the real ``twistd -n glozichat``, with hand-written lines:
CHATHISTORY pages through 1,000 messages stored in the SQLite file the server
starts on, by msgid and by timestamp, back and forth, with no gap and no
duplicate; a labeled request's answer carries its label; an echoed message
carries the msgid and time the other members get."""

import os
from collections.abc import Iterable
from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.trial.unittest import TestCase

from glozi.doors.irc import wire
from glozi.storage.sqlitestore import open_store
from glozi.storage.store import StoredMessage
from tests.realserver import close_at_cleanup, start_server
from tests.test_people_e2e import LineIRCClient

KIWI = 2
"""The built-in session ``kiwi`` (glozi/domain/chat.py, ``DEFAULT_SESSIONS``)."""
PAST = 1_764_558_245.0
"""2025-12-01T03:04:05.000Z, the time of the first stored message."""
STORED = 1_000
HISTORY_CAPS = "batch server-time message-tags labeled-response echo-message draft/chathistory"
PAGE = 100


@defer.inlineCallbacks
def write_history(test: TestCase, messages: Iterable[StoredMessage]) -> Any:
    """A new SQLite database (the server's own store code) holding ``messages``; its path."""
    path = os.path.abspath(test.mktemp() + ".sqlite")
    store, _snapshot = open_store(path, reactor, history_limit=50)
    yield defer.gatherResults([store.add_message(message) for message in messages])
    yield store.close()
    return path


def stored_messages(count: int = STORED) -> list[StoredMessage]:
    """``count`` messages by carol in kiwi, ``said 0`` … one second apart from ``PAST``."""
    return [StoredMessage(KIWI, "carol", f"said {n}", PAST + n, msgid=f"past{n:04d}") for n in range(count)]


class HistoryIRCClient(LineIRCClient):
    """A bare IRC client that also reads a whole batch."""

    def next_line(self, wanted: Any = lambda line: True) -> "defer.Deferred[wire.ParsedLine]":
        """The first line (already received or coming) that ``wanted``; those before it are dropped."""
        while self.lines:
            line = self.lines.popleft()
            if wanted(line):
                return defer.succeed(line)
        found: defer.Deferred[wire.ParsedLine] = defer.Deferred()
        self.waiting.append((wanted, found))
        return found.addTimeout(10.0, reactor)

    @defer.inlineCallbacks
    def batch(self, kind: str = "chathistory") -> Any:
        """The next batch of type ``kind``: its start line and the lines in it, in order."""
        start = yield self.expect("BATCH")
        while start.params[1] != kind:
            start = yield self.expect("BATCH")
        ref = start.params[0].removeprefix("+")
        inside = []
        for _ in range(10 * PAGE):
            line = yield self.next_line()
            if line.command == "BATCH" and line.params == [f"-{ref}"]:
                return start, inside
            if line.tags.get("batch") == ref:
                inside.append(line)
        raise AssertionError(f"batch {ref} never ended")

    @defer.inlineCallbacks
    def history(self, request: str) -> Any:
        """The messages a CHATHISTORY request answers."""
        self.sendLine(request.encode())
        _start, inside = yield self.batch()
        return [line for line in inside if line.command in ("PRIVMSG", "NOTICE")]


@defer.inlineCallbacks
def connect_capable(test: TestCase, port: int, nick: str, caps: str = HISTORY_CAPS) -> Any:
    """Register ``nick`` on the IRC door having asked for ``caps``."""
    client = HistoryIRCClient()
    yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
    close_at_cleanup(test, client)
    for text in ("CAP LS 302", f"CAP REQ :{caps}", f"NICK {nick}", f"USER {nick} 0 * :{nick}"):
        client.sendLine(text.encode())
    ack = yield client.expect("CAP", "*", "ACK")
    test.assertEqual(set(ack.params[2].split()), set(caps.split()))
    client.sendLine(b"CAP END")
    yield client.expect("001", nick)
    return client


def texts(lines: list[wire.ParsedLine]) -> list[str]:
    return [line.params[1] for line in lines]


class ChatHistoryEndToEndTests(TestCase):
    timeout = 120

    @defer.inlineCallbacks
    def setUp(self) -> Any:
        path = yield write_history(self, stored_messages())
        # Some 30 requests in a row: past the default burst of 20 lines, which would drop some.
        self.server = yield start_server(self, "--db", path, "--flood-burst", "100")
        self.alice = yield connect_capable(self, self.server.irc_port, "alice")
        self.alice.sendLine(b"JOIN #kiwi")
        yield self.alice.expect("366", "alice", "#kiwi")

    @defer.inlineCallbacks
    def page_through(self, first: str, subcommand: str, point: "Any") -> Any:
        """Every message: the page ``first`` asks for, then pages ``subcommand`` (BEFORE the
        first message so far, AFTER the last), named by ``point(line)``, until one is empty."""
        seen = yield self.alice.history(first)
        for _ in range(STORED // PAGE + 1):
            edge = seen[0] if subcommand == "BEFORE" else seen[-1]
            page = yield self.alice.history(f"CHATHISTORY {subcommand} #kiwi {point(edge)} {PAGE}")
            if not page:
                return seen
            seen = page + seen if subcommand == "BEFORE" else seen + page
        raise AssertionError(f"paging {subcommand} never ended")

    def assert_every_message_once(self, lines: list[wire.ParsedLine]) -> None:
        self.assertEqual(texts(lines), [f"said {n}" for n in range(STORED)])
        self.assertEqual([line.tags["msgid"] for line in lines], [f"past{n:04d}" for n in range(STORED)])
        self.assertEqual(lines[0].tags["time"], "2025-12-01T03:04:05.000Z")
        self.assertEqual(lines[-1].tags["time"], "2025-12-01T03:20:44.000Z")

    @defer.inlineCallbacks
    def assert_pages_both_ways(self, point: "Any") -> Any:
        """Paging back from the newest and forward from the oldest, each page named by ``point(line)``, reads every message once."""
        backwards = yield self.page_through(f"CHATHISTORY LATEST #kiwi * {PAGE}", "BEFORE", point)
        self.assert_every_message_once(backwards)
        oldest = "CHATHISTORY BETWEEN #kiwi timestamp=2025-12-01T00:00:00.000Z timestamp=2025-12-02T00:00:00.000Z 1"
        forwards = yield self.page_through(oldest, "AFTER", point)
        self.assert_every_message_once(forwards)

    def test_paging_by_msgid_reads_all_1000_once_each_way(self) -> "defer.Deferred[None]":
        """BEFORE msgid= from the newest, then AFTER msgid= from the oldest: 1,000 messages, in order, once each."""
        return self.assert_pages_both_ways(lambda line: f"msgid={line.tags['msgid']}")

    def test_paging_by_timestamp_reads_all_1000_once_each_way(self) -> "defer.Deferred[None]":
        """BEFORE and AFTER timestamp=<the time a message showed>: 1,000 messages, in order, once each."""
        return self.assert_pages_both_ways(lambda line: f"timestamp={line.tags['time']}")

    @defer.inlineCallbacks
    def test_a_labeled_chathistory_carries_its_label(self) -> None:
        """@label=page1 CHATHISTORY …: the answer's first line carries label=page1 and holds the chathistory batch."""
        self.alice.sendLine(b"@label=page1 CHATHISTORY LATEST #kiwi * 3")
        first = yield self.alice.next_line(lambda line: "label" in line.tags)
        self.assertEqual((first.command, first.tags.get("label")), ("BATCH", "page1"))
        answer = [first]
        for _ in range(20):
            line = yield self.alice.next_line()
            answer.append(line)
            if line.command == "BATCH" and line.params == [f"-{first.params[0][1:]}"]:
                break
        kinds = [line.params[1] for line in answer if line.command == "BATCH" and line.params[0].startswith("+")]
        self.assertIn("chathistory", kinds)
        self.assertEqual(texts([line for line in answer if line.command == "PRIVMSG"]), ["said 997", "said 998", "said 999"])

    @defer.inlineCallbacks
    def test_an_echoed_message_has_the_id_and_time_the_others_get_and_keep(self) -> None:
        """alice's echo-message and bob's copy carry one msgid and one time, and CHATHISTORY gives the same back."""
        bob = yield connect_capable(self, self.server.irc_port, "bob", "server-time message-tags")
        bob.sendLine(b"JOIN #kiwi")
        yield bob.expect("366", "bob", "#kiwi")
        self.alice.sendLine(b"PRIVMSG #kiwi :fresh words")
        echo = yield self.alice.expect("PRIVMSG", "#kiwi", "fresh words")
        seen = yield bob.expect("PRIVMSG", "#kiwi", "fresh words")
        self.assertEqual(echo.prefix, "alice!alice@glozichat")
        self.assertTrue(echo.tags["msgid"])
        self.assertEqual((echo.tags["msgid"], echo.tags["time"]), (seen.tags["msgid"], seen.tags["time"]))
        [stored] = yield self.alice.history("CHATHISTORY LATEST #kiwi * 1")
        self.assertEqual((stored.tags["msgid"], stored.tags["time"]), (echo.tags["msgid"], echo.tags["time"]))
