"""One event to many connections (glozi/fanout/delivery.py): shared bytes gathered
into one broadcast per encoding, everything else through each connection's ``deliver``."""

from collections.abc import Sequence

from twisted.logger import Logger
from twisted.trial.unittest import SynchronousTestCase

from glozi.domain.events import Event, Message
from glozi.fanout.delivery import deliver_to


class _Sharing:
    def __init__(self, name: str, encoding: bytes | None, log: list) -> None:
        self.name = name
        self.encoding = encoding
        self.log = log
        self.closed = False

    def shared_bytes(self, event: Event) -> bytes | None:
        if self.encoding == b"boom":
            raise ValueError("cannot encode")
        return self.encoding

    def broadcast(self, connections: Sequence["_Sharing"], data: bytes) -> None:
        self.log.append(("broadcast", [c.name for c in connections], data))

    def deliver(self, event: Event) -> None:
        self.log.append(("deliver", self.name))

    def close(self) -> None:
        self.closed = True


class _Plain:
    """A connection of no door (a replica's, a closed one's): deliver only."""

    def __init__(self, log: list) -> None:
        self.log = log

    def deliver(self, event: Event) -> None:
        self.log.append(("deliver", "plain"))

    def close(self) -> None:
        pass


EVENT = Message(session_id=1, sender="alice", text="hi", sent_at=1.0)


class DeliverToTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.log: list = []

    def test_same_bytes_one_broadcast(self) -> None:
        """Connections with the same bytes get them in one broadcast, in member order."""
        native = b'{"type":"message"}\n'
        connections = [_Sharing(name, native, self.log) for name in ("a", "b", "c")]
        deliver_to(connections, EVENT, Logger())
        self.assertEqual(self.log, [("broadcast", ["a", "b", "c"], native)])

    def test_one_broadcast_per_encoding(self) -> None:
        """Two doors' encodings: one broadcast each."""
        connections = [
            _Sharing("n1", b"native", self.log),
            _Sharing("i1", b"irc", self.log),
            _Sharing("n2", b"native", self.log),
        ]
        deliver_to(connections, EVENT, Logger())
        self.assertEqual(self.log, [("broadcast", ["n1", "n2"], b"native"), ("broadcast", ["i1"], b"irc")])

    def test_unshared_and_plain_connections_deliver(self) -> None:
        """None (words it for itself) and a connection without shared bytes go through deliver; b"" gets nothing."""
        connections = [_Sharing("own", None, self.log), _Plain(self.log), _Sharing("nothing", b"", self.log)]
        deliver_to(connections, EVENT, Logger())
        self.assertEqual(self.log, [("deliver", "own"), ("deliver", "plain")])

    def test_failing_connection_closed_others_served(self) -> None:
        broken = _Sharing("broken", b"boom", self.log)
        fine = _Sharing("fine", b"bytes", self.log)
        deliver_to([broken, fine], EVENT, Logger())
        self.assertTrue(broken.closed)
        self.assertEqual(self.log, [("broadcast", ["fine"], b"bytes")])
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)
