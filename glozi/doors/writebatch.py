"""One socket write per connection for everything one read caused.

A read from one client may hold hundreds of lines, and each ``say`` among them
fans out to every member of the session. Handing each of those lines to the
members' sockets one by one costs a write per member per message; collecting
them while the read is handled and writing each connection's bytes once at the
end costs one per member per read.

Paced chat is the other case: a read holds one message, so the batch has one
broadcast — the same bytes for every member — and nothing to merge. The batch
keeps such a broadcast whole (the recipients and the bytes, not a copy per
member) and at its end writes the bytes to each recipient in one tight loop;
only when something else comes for one of those recipients in the same batch
is the broadcast handed out to each of them, to keep every connection's bytes
in order.
"""

from collections.abc import Callable, Sequence
from typing import Any, Protocol, Self

from twisted.logger import Logger

from glozi.doors.directwrite import DirectWriter


class Flushable(Protocol):
    """A connection that holds back its writes while a batch is open."""

    _held: list[bytes] | None
    _writer: DirectWriter

    def flush(self) -> None:
        """Hand everything held back to the socket."""

    def close(self) -> None:
        """Close the connection (used when writing to it failed)."""


class WriteBatch:
    """While open (``with batch:``), connections hold back their writes and
    register here; on closing the outermost ``with`` every one is written once.

    A connection whose write fails is logged and closed; the others are still
    written to, as with ``LocalFanout``'s delivery.
    """

    log = Logger()

    def __init__(self) -> None:
        self._depth = 0
        self._waiting: list[Flushable] = []
        self._broadcast: tuple[Sequence[Flushable], bytes] | None = None
        """A broadcast kept whole: its recipients hold nothing else in this batch."""
        self._recipients: frozenset[Flushable] | None = None
        """The broadcast's recipients as a set, made only when asked."""
        # A plain attribute, not a property: every delivery reads it.
        self.open = False
        """Whether writes are being held back now."""

    def hold(self, connection: Flushable) -> None:
        """``connection`` starts holding back writes; write it when the batch closes.

        If it is a recipient of the broadcast kept whole, the broadcast is
        handed out first: its bytes come before the connection's new ones.
        """
        if self._broadcast is not None and connection in self._recipients_of_broadcast():
            self._hand_out_broadcast()
            if connection._held is not None:
                return
        self._waiting.append(connection)

    def broadcast(self, connections: Sequence[Flushable], data: bytes) -> None:
        """The same ``data`` for each of ``connections``, after what each was sent before."""
        if not self.open:
            _write_each(connections, data, self.log)
            return
        if self._broadcast is None and (
            not self._waiting or frozenset(connections).isdisjoint(self._waiting)
        ):
            self._broadcast = (connections, data)
            return
        self._hand_out_broadcast()
        waiting = self._waiting
        for connection in connections:
            held = connection._held
            if held is None:
                connection._held = [data]
                waiting.append(connection)
            else:
                held.append(data)

    def release(self, connection: Flushable) -> None:
        """``connection`` writes what it holds now (it is closing): hand it the broadcast first if it has a share."""
        if self._broadcast is not None and connection in self._recipients_of_broadcast():
            self._hand_out_broadcast()

    def _recipients_of_broadcast(self) -> frozenset[Flushable]:
        if self._recipients is None:
            assert self._broadcast is not None
            self._recipients = frozenset(self._broadcast[0])
        return self._recipients

    def _hand_out_broadcast(self) -> None:
        """Give each recipient of the broadcast kept whole its own copy to hold."""
        if self._broadcast is None:
            return
        connections, data = self._broadcast
        self._broadcast = self._recipients = None
        waiting = self._waiting
        for connection in connections:
            held = connection._held
            if held is None:
                connection._held = [data]
                waiting.append(connection)
            else:
                held.append(data)

    def __enter__(self) -> Self:
        self._depth += 1
        self.open = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._depth -= 1
        if self._depth:
            return
        self.open = False
        # A write may lead to more writes (a transport that fails and closes);
        # those are written through, since the batch is closed by now.
        broadcast, self._broadcast, self._recipients = self._broadcast, None, None
        waiting, self._waiting = self._waiting, []
        if broadcast is not None:
            _write_each(broadcast[0], broadcast[1], self.log)
        for connection in waiting:
            try:
                connection.flush()
            # One connection's broken transport must not keep the others' bytes back.
            except Exception:  # noqa: BLE001
                self.log.failure("Writing to a connection failed; dropping it")
                connection.close()


def _write_each(connections: Sequence[Flushable], data: bytes, log: Logger) -> None:
    for connection in connections:
        try:
            connection._writer.write(data)
        # One connection's broken transport must not keep the others' bytes back.
        except Exception:  # noqa: BLE001
            log.failure("Writing to a connection failed; dropping it")
            connection.close()


class BatchedWrites:
    """Mixin for a door's protocol: its bytes go through ``send``, which holds
    them back while ``self.factory.writes`` is open and writes them out
    (glozi/doors/directwrite.py) otherwise.

    Needs ``transport`` and ``factory.writes`` (a ``WriteBatch``) on the
    protocol, and ``start_sending`` called once it is connected.
    """

    transport: Any
    factory: Any
    _writer: DirectWriter
    # A class attribute until the first held write: idle connections carry no list.
    _held: list[bytes] | None = None

    def send_without_delay(self) -> None:
        """Turn Nagle's algorithm off for this connection (TCP_NODELAY).

        Each batch is already one write per connection; with Nagle on, a
        member's next line would wait for the ACK of the previous one, which a
        client that only reads delays by up to 40 ms.
        """
        set_no_delay = getattr(self.transport, "setTcpNoDelay", None)
        if set_no_delay is not None:
            set_no_delay(True)

    def start_sending(self, send_queue_limit: int, on_overflow: Callable[[], None]) -> None:
        """Bound the send queue at ``send_queue_limit`` bytes (``on_overflow``
        past it) and write directly to the socket when it can."""
        self._writer = DirectWriter(self.transport, send_queue_limit, on_overflow)

    @property
    def _send_queue(self) -> Any:
        """The send-queue bound (``glozi.limits.sendqueue.SendQueueGuard``)."""
        return self._writer.send_queue

    def send(self, data: bytes) -> None:
        """Send ``data`` to the peer, after what was sent before."""
        writes = self.factory.writes
        if writes.open:
            held = self._held
            if held is None:
                # May hand this connection a broadcast that came before: it holds that first.
                writes.hold(self)
                held = self._held
                if held is None:
                    self._held = [data]
                    return
            held.append(data)
            return
        self._writer.write(data)

    def broadcast(self, connections: Sequence[Flushable], data: bytes) -> None:
        """Send the same ``data`` to each of ``connections`` (this door's, this one among them or not)."""
        self.factory.writes.broadcast(connections, data)

    def flush(self) -> None:
        """Write what was held back during a batch, in one piece."""
        held, self._held = self._held, None
        if held:
            self._writer.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        """Close the connection once everything sent so far is written."""
        self.factory.writes.release(self)
        self.flush()
        self.transport.loseConnection()
