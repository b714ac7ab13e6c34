"""A protocol factory that knows its open connections and limits them.

Every door's factory subclasses ``TrackingFactory``: shutdown waits for its
connections to close, and new connections past ``max_connections`` in total or
``max_per_source`` from one address are answered with the door's own refusal
line and closed.
"""

from collections import Counter
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger

from glozi.doors.writebatch import WriteBatch
from glozi.limits.flood import FLOOD_BURST, FLOOD_RATE
from glozi.limits.sendqueue import DEFAULT_SEND_QUEUE_LIMIT

DEFAULT_MAX_CONNECTIONS = 2000
DEFAULT_MAX_PER_SOURCE = 20


@dataclass(frozen=True)
class ConnectionLimits:
    """What one connection, or all of them, may cost the server (docs/security.md)."""

    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_per_source: int = DEFAULT_MAX_PER_SOURCE
    max_send_queue: int = DEFAULT_SEND_QUEUE_LIMIT
    flood_burst: float = FLOOD_BURST
    flood_rate: float = FLOOD_RATE


def source_of(address: IAddress) -> str:
    """The host part of a peer address, used to count and limit by source."""
    return str(getattr(address, "host", address))


def refusal_reason(open_connections: int, from_source: int, source: str, max_connections: int, max_per_source: int) -> str | None:
    """Why one more connection from ``source`` is refused (docs/security.md), or ``None`` when it is not."""
    if open_connections >= max_connections:
        return f"The server is full ({max_connections} connections); try again later."
    if from_source >= max_per_source:
        return f"Too many connections from {source} (at most {max_per_source})."
    return None


class _Refusal(Protocol):
    def __init__(self, line: bytes) -> None:
        self.line = line

    def connectionMade(self) -> None:
        self.transport.write(self.line)
        self.transport.loseConnection()


class TrackingFactory(Factory):
    """Keeps ``connections``; its protocols call ``opened``/``closed``.

    Every door's factory takes the same ``ConnectionLimits`` (copied into
    attributes that tests and protocols read) and the ``WriteBatch`` shared by
    all doors of one chat, so a broadcast from one door is batched for members
    behind every door.
    """

    log = Logger()

    def __init__(self, limits: ConnectionLimits | None = None, writes: WriteBatch | None = None) -> None:
        limits = limits if limits is not None else ConnectionLimits()
        self.max_connections = limits.max_connections
        self.max_per_source = limits.max_per_source
        self.max_send_queue = limits.max_send_queue
        self.flood_burst = limits.flood_burst
        self.flood_rate = limits.flood_rate
        self.writes = writes if writes is not None else WriteBatch()
        self.connections: set[Any] = set()
        self._per_source: Counter[str] = Counter()
        self._all_closed: list[Deferred[None]] = []

    def refusal_line(self, message: str) -> bytes:
        """The bytes that tell a refused client why; each door overrides it."""
        return message.encode() + b"\r\n"

    def buildProtocol(self, addr: IAddress) -> Protocol | None:
        source = source_of(addr)
        message = refusal_reason(
            len(self.connections), self._per_source[source], source, self.max_connections, self.max_per_source
        )
        if message is None:
            return super().buildProtocol(addr)
        self.log.warn("Refused a connection from {source}: {message}", source=source, message=message)
        return _Refusal(self.refusal_line(message))

    def opened(self, protocol: Any) -> None:
        self.connections.add(protocol)
        self._per_source[source_of(protocol.transport.getPeer())] += 1

    def closed(self, protocol: Any) -> None:
        if protocol not in self.connections:
            return
        self.connections.discard(protocol)
        source = source_of(protocol.transport.getPeer())
        self._per_source[source] -= 1
        if self._per_source[source] <= 0:
            del self._per_source[source]
        if not self.connections:
            waiting, self._all_closed = self._all_closed, []
            for d in waiting:
                d.callback(None)

    def when_all_closed(self) -> "Deferred[None]":
        """A Deferred that fires once no connection is open."""
        if not self.connections:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._all_closed.append(d)
        return d

    def abort_all(self) -> None:
        """Drop every connection now, without waiting for buffers to drain."""
        for protocol in list(self.connections):
            protocol.transport.abortConnection()
