"""The limits one connection meets (docs/security.md, docs/protocol.md *Limits*), each pinned at its edge
with the documented number: floods, the send-queue bound, connections per address and in all, join and
admin-command budgets, guessing through refusals."""

import json

from twisted.internet.address import IPv4Address
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from glozi.doors.tracking import ConnectionLimits, TrackingFactory
from glozi.limits.flood import FloodControl, Verdict
from glozi.limits.sendqueue import SendQueueGuard
from tests.test_native_protocol import Client, ProtocolTestCase


class FloodControlTests(SynchronousTestCase):
    """docs/security.md *Floods*: a burst of 20 lines, then 5 a second; 50 lines over budget in a row close."""

    def test_20_lines_accepted_the_21st_refused_then_dropped_the_70th_disconnects(self) -> None:
        """At one instant: lines 1-20 pass, the 21st gets the flood error, 22-69 are dropped, the 70th closes."""
        flood = FloodControl(Clock())
        verdicts = [flood.check() for _ in range(70)]
        self.assertEqual(verdicts[:20], [Verdict.ACCEPT] * 20)
        self.assertEqual(verdicts[20], Verdict.REFUSE)
        self.assertEqual(verdicts[21:69], [Verdict.DROP] * 48)
        self.assertEqual(verdicts[69], Verdict.DISCONNECT)

    def test_5_lines_a_second_after_the_burst(self) -> None:
        """Once the burst is spent, a second brings back 5 lines (the 6th is over), a quarter of one 1 line."""
        clock = Clock()
        flood = FloodControl(clock)
        for _ in range(20):
            flood.check()
        clock.advance(1)
        self.assertEqual([flood.check() for _ in range(6)], [Verdict.ACCEPT] * 5 + [Verdict.REFUSE])
        clock.advance(0.25)
        self.assertEqual([flood.check() for _ in range(2)], [Verdict.ACCEPT, Verdict.REFUSE])

    def test_a_line_within_budget_resets_the_count_of_lines_over(self) -> None:
        """49 lines over, one within budget, then 49 over again do not close; the 50th in a row does.
        After the line within budget, the first one over gets the flood error again."""
        clock = Clock()
        flood = FloodControl(clock)
        for _ in range(20 + 49):
            self.assertNotEqual(flood.check(), Verdict.DISCONNECT)
        clock.advance(0.25)
        self.assertEqual(flood.check(), Verdict.ACCEPT)
        again = [flood.check() for _ in range(50)]
        self.assertEqual(again[0], Verdict.REFUSE)
        self.assertEqual(again[1:49], [Verdict.DROP] * 48)
        self.assertEqual(again[49], Verdict.DISCONNECT)

    def test_a_burst_under_one_line_refuses_the_first_line(self) -> None:
        """With --flood-burst 0.5 the very first line is over budget: it gets the flood error."""
        self.assertEqual(FloodControl(Clock(), burst=0.5).check(), Verdict.REFUSE)

    def test_typing_pace_never_limited(self) -> None:
        """Four lines a second for ten minutes are all accepted."""
        clock = Clock()
        flood = FloodControl(clock)
        for _ in range(2400):
            clock.advance(0.25)
            self.assertEqual(flood.check(), Verdict.ACCEPT)


class SendQueueGuardTests(SynchronousTestCase):
    def test_overflow_only_while_paused(self) -> None:
        """Bytes count only while the transport has paused us; past the limit, overflow once."""
        transport = StringTransport()
        overflows = []
        guard = SendQueueGuard(transport, 100, lambda: overflows.append(True))
        self.assertIs(transport.producer, guard)
        self.assertTrue(transport.streaming)
        guard.wrote(1000)
        self.assertEqual(overflows, [])
        guard.pauseProducing()
        guard.wrote(60)
        guard.pauseProducing()
        guard.wrote(40)
        self.assertEqual(overflows, [])
        guard.pauseProducing()
        guard.wrote(1)
        guard.wrote(60)
        self.assertEqual(overflows, [True])

    def test_1_mib_queued_is_kept_one_byte_more_drops(self) -> None:
        """docs/security.md: by default 1 MiB (1,048,576 bytes) may wait beyond the pause; one byte more is
        an overflow."""
        overflows = []
        guard = SendQueueGuard(StringTransport(), ConnectionLimits().max_send_queue, lambda: overflows.append(1))
        guard.pauseProducing()
        guard.wrote(1_048_576)
        self.assertEqual(overflows, [])
        guard.wrote(1)
        self.assertEqual(overflows, [1])

    def test_resume_resets(self) -> None:
        """Draining the buffer (resume) forgets what was queued."""
        overflows = []
        guard = SendQueueGuard(StringTransport(), 100, lambda: overflows.append(True))
        guard.pauseProducing()
        guard.wrote(90)
        guard.resumeProducing()
        guard.wrote(90)
        guard.pauseProducing()
        guard.wrote(90)
        self.assertEqual(overflows, [])

    def test_a_closed_transport_never_overflows(self) -> None:
        """Once the transport stopped its producer, nothing written counts any more."""
        overflows = []
        guard = SendQueueGuard(StringTransport(), 100, lambda: overflows.append(True))
        guard.pauseProducing()
        guard.stopProducing()
        guard.wrote(1000)
        guard.pauseProducing()
        guard.wrote(1000)
        self.assertEqual(overflows, [])


def at_once(client: Client, frame: dict) -> list[dict]:
    """Send ``frame`` with no time passing (``Client.send`` lets a quarter of a second go by)."""
    client.protocol.dataReceived(json.dumps(frame).encode() + b"\n")
    return client.frames()


def answers(frames: list[dict]) -> list[dict]:
    """The answers among ``frames`` (what a join or a command got), without the events around them."""
    return [frame for frame in frames if frame["type"] in ("joined", "reply", "error")]


class JoinAndAdminBudgetTests(ProtocolTestCase):
    """docs/protocol.md *Limits*: joins and creations a burst of 10, then one every 3 s; admin commands a
    burst of 10, then one a second; past them ``rate_limited`` with ``retry_after``."""

    def test_10_joins_at_once_then_the_11th_is_rate_limited_for_3_s(self) -> None:
        """9 joins and a creation at once pass; the 11th is told 3 s, after 1 s 2 s, after 1.6 s still 2 s
        (1.4 s left); after 3 s it is done."""
        hopper = self.client()
        for session in range(1, 10):
            self.assertEqual(answers(at_once(hopper, {"type": "join", "session": session, "username": "hopper"}))
                             [0]["type"], "joined")
        self.assertEqual(answers(at_once(hopper, {"type": "create", "name": "room10", "username": "hopper"}))
                         [0]["type"], "joined")
        eleventh = {"type": "create", "name": "room11", "username": "hopper"}
        told = []
        for elapsed in (0, 1, 0.6):
            self.clock.advance(elapsed)
            [refused] = answers(at_once(hopper, eleventh))
            told.append((refused["code"], refused["retry_after"]))
        self.assertEqual(told, [("rate_limited", 3), ("rate_limited", 2), ("rate_limited", 2)])
        self.clock.advance(1.4)
        self.assertEqual(answers(at_once(hopper, eleventh))[0]["type"], "joined")

    def test_10_admin_commands_at_once_then_the_11th_is_rate_limited_for_1_s(self) -> None:
        """An admin kicks 10 members at once; the 11th kick is told 1 s, and still 1 s half a second later;
        a second after the burst it is done."""
        admin = self.client()
        admin.one({"type": "create", "name": "garden", "username": "admin"})
        members = [f"member{n}" for n in range(1, 12)]
        for name in members:
            self.assertEqual(self.client().one({"type": "join", "session": 10, "username": name})["type"], "joined")
        self.clock.advance(10)
        admin.frames()
        for name in members[:10]:
            [kicked] = answers(at_once(admin, {"type": "command", "name": "kick", "args": name}))
            self.assertEqual(kicked["text"], f"You kicked {name}.")
        told = []
        for elapsed in (0, 0.5):
            self.clock.advance(elapsed)
            [refused] = answers(at_once(admin, {"type": "command", "name": "kick", "args": "member11"}))
            told.append((refused["code"], refused["retry_after"]))
        self.assertEqual(told, [("rate_limited", 1), ("rate_limited", 1)])
        self.clock.advance(0.5)
        [kicked] = answers(at_once(admin, {"type": "command", "name": "kick", "args": "member11"}))
        self.assertEqual(kicked["text"], "You kicked member11.")


class GuessingThroughRefusalsTests(ProtocolTestCase):
    """docs/protocol.md: a connection that keeps guessing through 10 ``too_many_attempts`` in a row gets the
    10th with "Closing the connection." (and ``retry_after``) and is closed."""

    def setUp(self) -> None:
        super().setUp()
        owner = self.client("10.0.0.1")
        owner.one({"type": "create", "name": "vault", "username": "owner", "password": "31415"})
        self.guesser = self.client("10.0.0.66")
        for guess in range(4):
            [answer] = answers(at_once(self.guesser, self.guess(guess)))
            self.assertEqual(answer["code"], "wrong_password")

    def guess(self, number: int) -> dict:
        return {"type": "join", "session": 10, "username": "guesser", "password": f"{number:05d}"}

    def refusals(self, count: int) -> list[dict]:
        return [answers(at_once(self.guesser, self.guess(50 + n)))[0] for n in range(count)]

    def test_the_9th_refusal_in_a_row_leaves_the_connection_open(self) -> None:
        """After 4 wrong guesses the session's budget for this address is spent (3 an hour, a guess every
        1200 s): 30 s later, 9 guesses at once are each told 1170 s; the connection stays."""
        self.clock.advance(30)
        refused = self.refusals(9)
        self.assertEqual([(a["code"], a["retry_after"]) for a in refused], [("too_many_attempts", 1170)] * 9)
        self.assertNotIn("Closing", refused[-1]["message"])
        self.assertFalse(self.guesser.closed)

    def test_the_10th_refusal_in_a_row_closes_with_retry_after(self) -> None:
        """The 10th refused guess in a row is told 1170 s and "Closing the connection.", and is closed."""
        self.clock.advance(30)
        tenth = self.refusals(10)[-1]
        self.assertEqual((tenth["code"], tenth["retry_after"]), ("too_many_attempts", 1170))
        self.assertEqual(tenth["message"], "Too many wrong passwords; try again in 1170 s. Closing the connection.")
        self.assertTrue(self.guesser.closed)

    def test_a_checked_guess_starts_the_count_again(self) -> None:
        """9 refusals, a guess checked after the wait, then 9 more refusals: still open."""
        self.clock.advance(30)
        self.refusals(9)
        self.clock.advance(1170)
        [checked] = answers(at_once(self.guesser, self.guess(99)))
        self.assertEqual(checked["code"], "wrong_password")
        self.assertEqual({a["code"] for a in self.refusals(9)}, {"too_many_attempts"})
        self.assertFalse(self.guesser.closed)


class _Counted(Protocol):
    """The least a door's protocol does for its factory: say when it opens and closes."""

    def connectionMade(self) -> None:
        self.factory.opened(self)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.factory.closed(self)


class _CountingFactory(TrackingFactory):
    protocol = _Counted


class ConnectionLimitTests(SynchronousTestCase):
    """docs/security.md *Connections*: at most 2000 connections in all and 20 per source address."""

    def connect(self, factory: TrackingFactory, host: str) -> StringTransport:
        transport = StringTransport(peerAddress=IPv4Address("TCP", host, 40000))
        factory.buildProtocol(transport.getPeer()).makeConnection(transport)
        return transport

    def test_20_from_one_address_the_21st_refused(self) -> None:
        """20 connections from one address are let in; the 21st is told why and closed; another address is not
        held up; once one of the 20 closes, one more is let in."""
        factory = _CountingFactory()
        first = [self.connect(factory, "10.0.0.5") for _ in range(20)]
        self.assertEqual({t.value() for t in first}, {b""})
        refused = self.connect(factory, "10.0.0.5")
        self.assertEqual(refused.value(), b"Too many connections from 10.0.0.5 (at most 20).\r\n")
        self.assertTrue(refused.disconnecting)
        self.assertEqual(self.connect(factory, "10.0.0.6").value(), b"")
        [protocol] = [p for p in factory.connections if p.transport is first[0]]
        protocol.connectionLost()
        protocol.connectionLost()
        self.assertEqual(self.connect(factory, "10.0.0.5").value(), b"")
        self.assertTrue(self.connect(factory, "10.0.0.5").disconnecting)

    def test_2000_in_all_the_2001st_refused(self) -> None:
        """2000 connections from 100 addresses are let in; the 2001st, from a new address, is told the server
        is full; so is one from an address with room, since the server is full first."""
        factory = _CountingFactory()
        for n in range(2000):
            self.assertFalse(self.connect(factory, f"10.1.{n // 20}.1").disconnecting)
        refused = self.connect(factory, "10.2.0.1")
        self.assertEqual(refused.value(), b"The server is full (2000 connections); try again later.\r\n")
        self.assertEqual(self.connect(factory, "10.1.0.1").value(), refused.value())

    def test_shutdown_waits_for_every_connection(self) -> None:
        """With none open, the wait is over at once; with two open it ends when the second closes;
        abort_all drops every one."""
        factory = _CountingFactory()
        self.successResultOf(factory.when_all_closed())
        transports = [self.connect(factory, "10.0.0.5"), self.connect(factory, "10.0.0.6")]
        waiting = factory.when_all_closed()
        protocols = list(factory.connections)
        protocols[0].connectionLost()
        self.assertNoResult(waiting)
        protocols[1].connectionLost()
        self.successResultOf(waiting)
        self.connect(factory, "10.0.0.7")
        factory.abort_all()
        self.assertEqual([t.disconnecting for t in transports], [False, False])
        [last] = factory.connections
        self.assertTrue(last.transport.disconnected)

    def test_the_limits_are_the_options(self) -> None:
        """--max-connections and --max-per-source are what the factory enforces."""
        factory = _CountingFactory(ConnectionLimits(max_connections=3, max_per_source=2))
        self.connect(factory, "10.0.0.5")
        self.connect(factory, "10.0.0.5")
        self.assertIn(b"at most 2", self.connect(factory, "10.0.0.5").value())
        self.connect(factory, "10.0.0.6")
        self.assertIn(b"full (3 connections)", self.connect(factory, "10.0.0.7").value())
