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

from twisted.internet.interfaces import IDelayedCall, IReactorTime
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
    register here; on closing the outermost ``with`` (with a clock: at the end
    of the reactor's turn) every one is written once.

    Broadcasts are kept whole (``broadcast``): the recipients and the bytes.
    A connection that is sent anything of its own after one it is a recipient
    of is taken out of them (``hold``): it is given its share of the
    broadcasts so far to hold, ahead of its own bytes, and from then on gets
    each event on its own (its door's ``shared_bytes`` says None while it
    holds bytes). At the end each broadcast's bytes are written to each
    recipient not taken out; broadcasts to the same recipients (a read of many
    messages, unpaced) are joined and written once.

    A connection whose write fails is logged and closed; the others are still
    written to, as with ``LocalFanout``'s delivery.
    """

    log = Logger()

    def __init__(self, clock: IReactorTime | None = None) -> None:
        self._clock = clock
        """With a clock (the server's reactor), the batch is written at the end
        of the reactor's turn (``callLater(0)``), after every read the turn
        handles: as Twisted itself writes, so the reads of one turn share each
        connection's write. Without one, at the end of each ``with``."""
        self._writing_out: IDelayedCall | None = None
        self._depth = 0
        self._waiting: list[Flushable] = []
        self._broadcasts: list[tuple[Sequence[Flushable], bytes]] = []
        self._index: dict[Flushable, list[int]] = {}
        """The broadcasts each connection is a recipient of, by number; made only when a hold asks."""
        self._indexed = 0
        self._taken: set[Flushable] = set()
        # A plain attribute, not a property: every delivery reads it.
        self.open = False
        """Whether writes are being held back now."""

    def hold(self, connection: Flushable) -> None:
        """``connection`` starts holding back writes; write it when the batch
        closes. If it is a recipient of broadcasts kept whole, it holds its
        share of them first: their bytes come before its new ones."""
        if self._broadcasts:
            share = self._share_of(connection)
            if share:
                self._taken.add(connection)
                connection._held = share
        self._waiting.append(connection)

    def broadcast(self, connections: Sequence[Flushable], data: bytes) -> None:
        """The same ``data`` for each of ``connections``, after what each was
        sent before; none of them may hold bytes in this batch (``hold``)."""
        if not self.open:
            _write_each(connections, data, (), self.log)
            return
        self._broadcasts.append((connections, data))

    def release(self, connection: Flushable) -> None:
        """``connection`` writes what it holds now (it is closing): it takes its share of the broadcasts first."""
        if self._broadcasts and connection not in self._taken and connection._held is None:
            self.hold(connection)

    def _share_of(self, connection: Flushable) -> list[bytes]:
        """The bytes of each broadcast so far that ``connection`` is a recipient of, in order."""
        # Each broadcast's recipients are indexed once, when a hold first needs them.
        index = self._index
        broadcasts = self._broadcasts
        for number in range(self._indexed, len(broadcasts)):
            for recipient in broadcasts[number][0]:
                index.setdefault(recipient, []).append(number)
        self._indexed = len(broadcasts)
        return [broadcasts[number][1] for number in index.get(connection, ())]

    def __enter__(self) -> Self:
        self._depth += 1
        self.open = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._depth -= 1
        if self._depth:
            return
        if self._clock is not None:
            # Still open: whatever else this turn sends is held, in order, too.
            if self._writing_out is None:
                self._writing_out = self._clock.callLater(0, self._write_out)
            return
        self._write_out()

    def _write_out(self) -> None:
        self._writing_out = None
        self.open = False
        # A write may lead to more writes (a transport that fails and closes);
        # those are written through, since the batch is closed by now.
        broadcasts, self._broadcasts = self._broadcasts, []
        self._index, self._indexed = {}, 0
        taken, self._taken = self._taken, set()
        waiting, self._waiting = self._waiting, []
        for connection in waiting:
            try:
                connection.flush()
            # One connection's broken transport must not keep the others' bytes back.
            except Exception:  # noqa: BLE001
                self.log.failure("Writing to a connection failed; dropping it")
                connection.close()
        if broadcasts:
            self._write_broadcasts(broadcasts, taken)

    def _write_broadcasts(self, broadcasts: list[tuple[Sequence[Flushable], bytes]], taken: set[Flushable]) -> None:
        # Runs of broadcasts to the same recipients (one read's messages) are
        # joined first: the work per recipient is then per run, not per message.
        runs: list[tuple[Sequence[Flushable], list[bytes]]] = []
        for connections, data in broadcasts:
            if runs and (runs[-1][0] is connections or runs[-1][0] == connections):
                runs[-1][1].append(data)
            else:
                runs.append((connections, [data]))
        if len(runs) == 1:
            connections, chunks = runs[0]
            _write_each(connections, chunks[0] if len(chunks) == 1 else b"".join(chunks), taken, self.log)
            return
        # Different recipients (several sessions or senders in one turn): each
        # connection's bytes gathered in order, then one write each.
        gathered: dict[Flushable, list[bytes]] = {}
        for connections, chunks in runs:
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            for connection in connections:
                held = gathered.get(connection)
                if held is None:
                    gathered[connection] = [data]
                else:
                    held.append(data)
        for connection, held in gathered.items():
            if connection not in taken:
                _write_each((connection,), held[0] if len(held) == 1 else b"".join(held), (), self.log)


def _write_each(
    connections: Sequence[Flushable], data: bytes, taken: "set[Flushable] | tuple[()]", log: Logger
) -> None:
    for connection in connections:
        if taken and connection in taken:
            continue
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
                # May give this connection its share of broadcasts that came before: it holds that first.
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
