"""A protocol factory that knows its open connections, for a clean shutdown."""

from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.protocol import Factory


class TrackingFactory(Factory):
    """Keeps ``connections``; its protocols call ``opened``/``closed``."""

    def __init__(self) -> None:
        self.connections: set[Any] = set()
        self._all_closed: list[Deferred[None]] = []

    def opened(self, protocol: Any) -> None:
        self.connections.add(protocol)

    def closed(self, protocol: Any) -> None:
        self.connections.discard(protocol)
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
