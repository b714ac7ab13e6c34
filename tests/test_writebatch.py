"""The write batch: one write per connection per read, a broadcast kept whole
and written in one pass, every connection's bytes in the order they were sent."""

from types import SimpleNamespace

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from glozi.doors.native import wire
from glozi.doors.writebatch import BatchedWrites, WriteBatch
from tests.test_native_protocol import ProtocolTestCase


class _Writer:
    def __init__(self, name: str, log: list[tuple[str, bytes]], fails: bool = False) -> None:
        self.name = name
        self.log = log
        self.fails = fails

    def write(self, data: bytes) -> None:
        if self.fails:
            raise OSError("broken")
        self.log.append((self.name, data))


class _Connection(BatchedWrites):
    def __init__(
        self, name: str, batch: WriteBatch, log: list[tuple[str, bytes]], fails: bool = False
    ) -> None:
        self.name = name
        self.factory = SimpleNamespace(writes=batch)
        self._writer = _Writer(name, log, fails)  # type: ignore[assignment]
        self.closed = False
        self.transport = SimpleNamespace(loseConnection=self._lose)

    def _lose(self) -> None:
        self.closed = True
        self._writer.log.append((self.name, b"<closed>"))

    def __repr__(self) -> str:
        return self.name


class WriteBatchTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.batch = WriteBatch()
        self.log: list[tuple[str, bytes]] = []
        self.alice, self.bob, self.carol = (
            _Connection(n, self.batch, self.log) for n in ("alice", "bob", "carol")
        )

    def test_one_broadcast_written_once_to_each_at_the_end(self) -> None:
        """A read's one broadcast: nothing before the batch ends, then the bytes once to each recipient."""
        with self.batch:
            self.alice.broadcast([self.bob, self.carol], b"hello\n")
            self.assertEqual(self.log, [])
            # Kept whole: no recipient holds a copy.
            self.assertIsNone(self.bob._held)
        self.assertEqual(self.log, [("bob", b"hello\n"), ("carol", b"hello\n")])

    def test_sender_answer_beside_a_broadcast_it_is_not_in(self) -> None:
        """The sender's own answer does not break the broadcast up; each gets its bytes once."""
        with self.batch:
            self.alice.broadcast([self.bob, self.carol], b"message\n")
            self.alice.send(b"said\n")
            self.assertIsNone(self.bob._held)
        self.assertEqual(
            sorted(self.log), [("alice", b"said\n"), ("bob", b"message\n"), ("carol", b"message\n")]
        )

    def test_recipient_own_bytes_come_after_the_broadcast(self) -> None:
        """A recipient sent something after the broadcast gets both, in that order, in one write."""
        with self.batch:
            self.alice.broadcast([self.bob, self.carol], b"first\n")
            self.bob.send(b"second\n")
        self.assertEqual(sorted(self.log), [("bob", b"first\nsecond\n"), ("carol", b"first\n")])

    def test_many_broadcasts_one_write_each_in_order(self) -> None:
        """Unpaced traffic: several broadcasts in one read, one write per connection, in order."""
        with self.batch:
            for number in range(5):
                self.alice.broadcast([self.bob, self.carol], b"%d\n" % number)
        self.assertEqual(sorted(self.log), [("bob", b"0\n1\n2\n3\n4\n"), ("carol", b"0\n1\n2\n3\n4\n")])

    def test_broadcasts_to_different_recipients_gathered_per_connection(self) -> None:
        """Broadcasts with different recipients: each connection still gets its bytes in order, in one write."""
        with self.batch:
            self.alice.broadcast([self.bob, self.carol], b"1\n")
            self.alice.broadcast([self.carol], b"2\n")
            self.alice.broadcast([self.bob, self.carol], b"3\n")
        self.assertEqual(sorted(self.log), [("bob", b"1\n3\n"), ("carol", b"1\n2\n3\n")])

    def test_closing_recipient_gets_the_broadcast_before_it_closes(self) -> None:
        """A recipient closed during the batch is written the broadcast, then closed; the others still get it."""
        with self.batch:
            self.alice.broadcast([self.bob, self.carol], b"bye all\n")
            self.bob.close()
            self.assertEqual(self.log, [("bob", b"bye all\n"), ("bob", b"<closed>")])
        self.assertEqual(self.log, [("bob", b"bye all\n"), ("bob", b"<closed>"), ("carol", b"bye all\n")])

    def test_broadcast_outside_a_batch_written_at_once(self) -> None:
        self.alice.broadcast([self.bob, self.carol], b"now\n")
        self.assertEqual(self.log, [("bob", b"now\n"), ("carol", b"now\n")])

    def test_nested_batches_write_at_the_outermost_end(self) -> None:
        with self.batch:
            with self.batch:
                self.alice.broadcast([self.bob], b"inner\n")
            self.assertEqual(self.log, [])
        self.assertEqual(self.log, [("bob", b"inner\n")])

    def test_failing_recipient_closed_others_written(self) -> None:
        """One recipient whose write fails is closed; the broadcast still reaches the others."""
        broken = _Connection("broken", self.batch, self.log, fails=True)
        with self.batch:
            self.alice.broadcast([broken, self.carol], b"still\n")
        self.assertTrue(broken.closed)
        self.assertIn(("carol", b"still\n"), self.log)
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)


class DoorOrderTests(ProtocolTestCase):
    """Through the native door: bytes a member holds in the batch come before a
    broadcast to it, and what it is sent after the broadcast after it."""

    def test_bytes_held_before_a_broadcast_come_first(self) -> None:
        alice, bob = self.client(), self.client()
        alice.send({"type": "join", "session": 1, "username": "alice"})
        bob.send({"type": "join", "session": 1, "username": "bob"})
        alice.frames()
        bob.frames()
        with self.factory.writes:
            bob.protocol.send(wire.encode_frame({"type": "pong"}))
            alice.protocol.dataReceived(b'{"type": "say", "text": "after the pong"}\n')
            bob.protocol.send(wire.encode_frame({"type": "bye"}))
        self.assertEqual([frame["type"] for frame in bob.frames()], ["pong", "message", "bye"])
        self.assertEqual([frame["type"] for frame in alice.frames()], ["ack"])


class EndOfTurnTests(SynchronousTestCase):
    """With the reactor's clock (the server's batch), writes go out at the end of the turn."""

    def test_reads_of_one_turn_share_a_write_and_order_holds(self) -> None:
        clock = Clock()
        batch = WriteBatch(clock)
        log: list[tuple[str, bytes]] = []
        alice, bob, carol = (_Connection(name, batch, log) for name in ("alice", "bob", "carol"))
        with batch:
            alice.broadcast([bob], b"first read\n")
        # Between reads (a timer's send, say) the batch is still open: held, in order.
        bob.send(b"between\n")
        with batch:
            # Holding bytes, bob gets the next event on his own (his door's shared_bytes says None).
            bob.send(b"second read\n")
            alice.broadcast([carol], b"second read\n")
        self.assertEqual(log, [])
        clock.advance(0)
        self.assertEqual(sorted(log), [("bob", b"first read\nbetween\nsecond read\n"), ("carol", b"second read\n")])
        self.assertFalse(batch.open)
        bob.send(b"later\n")
        self.assertEqual(log[-1], ("bob", b"later\n"))
