"""One transport write per connection for everything one read caused.

A read from one client may hold hundreds of lines, and each ``say`` among them
fans out to every member of the session. Handing each of those lines to the
members' transports one by one costs a ``transport.write`` per member per
message; collecting them while the read is handled and writing each
connection's bytes once at the end costs one per member per read. Twisted sends
nothing before the reactor's next turn anyway, so no byte leaves later than it
would have.
"""

from collections.abc import Callable
from typing import Any, Protocol, Self

from twisted.logger import Logger

from glozi.doors.directwrite import DirectWriter
from glozi.limits.sendqueue import SendQueueGuard


class Flushable(Protocol):
    """A connection that holds back its writes while a batch is open."""

    def flush(self) -> None:
        """Hand everything held back to the transport."""

    def close(self) -> None:
        """Close the connection (used when flushing it failed)."""


class WriteBatch:
    """While open (``with batch:``), connections hold back their writes and
    register here; on closing the outermost ``with`` every one is flushed once.

    A connection whose flush fails is logged and closed; the others are still
    flushed, as with ``LocalFanout``'s delivery.
    """

    log = Logger()

    def __init__(self) -> None:
        self._depth = 0
        self._waiting: list[Flushable] = []
        # A plain attribute, not a property: every delivery reads it.
        self.open = False
        """Whether writes are being held back now."""

    def hold(self, connection: Flushable) -> None:
        """``connection`` started holding back writes; flush it when the batch closes."""
        self._waiting.append(connection)

    def __enter__(self) -> Self:
        self._depth += 1
        self.open = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._depth -= 1
        if self._depth:
            return
        self.open = False
        # A flush may lead to more writes (a transport that fails and closes);
        # those are written through, since the batch is closed by now.
        waiting, self._waiting = self._waiting, []
        for connection in waiting:
            try:
                connection.flush()
            # One connection's broken transport must not keep the others' bytes back.
            except Exception:  # noqa: BLE001
                self.log.failure("Writing to a connection failed; dropping it")
                connection.close()


class BatchedWrites:
    """Mixin for a door's protocol: its bytes go through ``send``, which holds
    them back while ``self.factory.writes`` is open and writes them to the
    transport (counting them for the send-queue bound) otherwise.

    Needs ``transport`` and ``factory.writes`` (a ``WriteBatch``) on the
    protocol, and ``start_sending`` called once it is connected.
    """

    transport: Any
    factory: Any
    _send_queue: SendQueueGuard
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
        past it) and write directly to the socket when it can
        (glozi/doors/directwrite.py)."""
        self._send_queue = SendQueueGuard(self.transport, send_queue_limit, on_overflow)
        self._writer = DirectWriter(self.transport)

    def send(self, data: bytes) -> None:
        """Send ``data`` to the peer, after what was sent before."""
        if self.factory.writes.open:
            if self._held is None:
                self._held = [data]
                self.factory.writes.hold(self)
            else:
                self._held.append(data)
            return
        self._write_through(data)

    def flush(self) -> None:
        """Write what was held back during a batch, in one piece."""
        held, self._held = self._held, None
        if held:
            self._write_through(held[0] if len(held) == 1 else b"".join(held))

    def _write_through(self, data: bytes) -> None:
        # Only bytes handed over while the transport already said its buffer
        # was full count against the send-queue bound: the write that fills
        # the buffer is a reader's normal share (one batch can be large).
        already_full = self._send_queue.paused
        self._writer.write(data)
        if already_full:
            self._send_queue.wrote(len(data))

    def close(self) -> None:
        """Close the connection once everything sent so far is written."""
        self.flush()
        self.transport.loseConnection()
