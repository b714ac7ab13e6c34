"""Durability end to end: the real server is SIGKILLed right after acknowledging messages, then restarted."""

import json
import os
import time
from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.protocols.basic import LineReceiver
from twisted.trial.unittest import TestCase

from tests.realserver import connect_client, start_server
from tests.realthings import fresh_database

SESSIONS = 4
MESSAGES_PER_SESSION = 400
KILL_AFTER_ACKS = 1000
LOCKED_PASSWORD = "24680"


WINDOW = 50
"""Messages each talker keeps in flight, so some are unacknowledged when the server dies."""


class Talker(LineReceiver):
    """Creates a session, then keeps ``WINDOW`` messages in flight and counts the acks as they come."""

    delimiter = b"\n"

    def __init__(self, on_ack: Any) -> None:
        self.on_ack = on_ack
        self.sent: dict[int, str] = {}
        self.acked: list[tuple[str, float]] = []
        self.joined: defer.Deferred[dict] = defer.Deferred()
        self.lost: defer.Deferred[None] = defer.Deferred()

    def lineReceived(self, line: bytes) -> None:
        frame = json.loads(line)
        if frame["type"] == "joined":
            self.joined.callback(frame)
        elif frame["type"] == "ack":
            self.acked.append((self.sent[frame["id"]], frame["ts"]))
            self.send_next()
            self.on_ack()
        elif frame["type"] == "error":
            self.joined.errback(AssertionError(frame)) if not self.joined.called else None

    def connectionLost(self, reason: Any = None) -> None:
        self.lost.callback(None)

    def send(self, **frame: Any) -> None:
        self.sendLine(json.dumps(frame).encode())

    def say_all(self, session: str, count: int) -> None:
        self.session, self.count = session, count
        for _ in range(WINDOW):
            self.send_next()

    def send_next(self) -> None:
        n = len(self.sent)
        if n < self.count:
            self.sent[n] = text = f"{self.session} message {n}"
            self.send(type="say", text=text, id=n)


class CrashTests(TestCase):
    """On a SQLite file."""

    timeout = 60

    def database(self) -> str:
        """The ``--db`` both servers run on."""
        return os.path.abspath(self.mktemp())

    @defer.inlineCallbacks
    def test_sigkill_right_after_acks_loses_nothing_acknowledged(self) -> Any:
        """1,000+ messages acknowledged, SIGKILL at once; after a restart on the same database every
        acknowledged message is in the history and every session is back (ids, creators, lock)."""
        started = time.monotonic()
        db = self.database()
        flood = ("--flood-burst", "100000", "--flood-rate", "100000")
        server = yield start_server(self, "--db", db, *flood, irc_port="none")
        total_acks = [0]

        def on_ack() -> None:
            total_acks[0] += 1
            if total_acks[0] == KILL_AFTER_ACKS:
                server.signal("KILL")

        talkers = []
        for index in range(SESSIONS):
            talker = Talker(on_ack)
            yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", server.port), talker)
            self.addCleanup(lambda t=talker: t.transport.loseConnection() if not t.lost.called else None)
            fields: dict[str, Any] = {"type": "create", "name": f"crash{index}", "username": f"user{index}"}
            if index == 0:
                fields["password"] = LOCKED_PASSWORD
            talker.send(**fields)
            talkers.append(talker)
        sessions = []
        for talker in talkers:
            joined = yield talker.joined
            sessions.append(joined["session"])
        for talker, session in zip(talkers, sessions, strict=True):
            talker.say_all(session["name"], MESSAGES_PER_SESSION)
        yield server.ended
        self.assertEqual(server.signal_number, 9, "the server was killed, not stopped")
        acked = {(session["id"], text, ts) for talker, session in zip(talkers, sessions, strict=True) for text, ts in talker.acked}
        self.assertGreaterEqual(len(acked), KILL_AFTER_ACKS)

        restarted = yield start_server(self, "--db", db, "--scrollback", str(MESSAGES_PER_SESSION), irc_port="none")
        reader = yield connect_client(self, restarted.port)
        listed = yield reader.request(type="list")
        by_id = {s["id"]: s for s in listed["sessions"]}
        kept: set[tuple[int, str, float]] = set()
        for session in sessions:
            back = by_id.get(session["id"])
            self.assertIsNotNone(back, f"session {session['name']} is back")
            self.assertEqual(
                (back["name"], back["creator"], back["created"], back["locked"]),
                (session["name"], session["creator"], session["created"], session["locked"]),
            )
            joined = yield reader.request(
                type="join", session=session["id"], username="auditor", password=LOCKED_PASSWORD
            )
            self.assertEqual(joined["type"], "joined", joined)
            self.assertEqual(joined["session"]["admin"], "auditor", "the first member back is admin")
            for _ in range(joined["history"]):
                frame = yield reader.next()
                self.assertEqual(frame["type"], "history")
                kept.add((frame["session"], frame["text"], frame["ts"]))
            left = yield reader.request(type="command", name="quit")
            while left["type"] != "reply":
                left = yield reader.next()
        lost = acked - kept
        self.assertEqual(lost, set(), f"{len(lost)} of {len(acked)} acknowledged messages lost")
        elapsed = time.monotonic() - started
        sent = sum(len(t.sent) for t in talkers)
        print(f"\n  crash test: {sent} sent, {len(acked)} acknowledged, {len(kept)} restored, 0 lost, {elapsed:.1f} s")


class PostgresCrashTests(CrashTests):
    """The same on a PostgreSQL database (``--db postgresql://…``)."""

    def database(self) -> str:
        return fresh_database(self)
