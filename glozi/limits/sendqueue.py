"""A bound on what the server queues for a client that does not read.

Twisted pauses a transport's streaming producer once more than its buffer size
(64 KiB) waits to be written. ``SendQueueGuard`` is that producer: from the
pause on it counts what is still written to the transport, and past ``limit``
bytes it calls ``on_overflow`` so the connection can be dropped, instead of
letting one slow reader make the server buffer without bound.
"""

from collections.abc import Callable

from twisted.internet.interfaces import IPushProducer, ITransport
from zope.interface import implementer

DEFAULT_SEND_QUEUE_LIMIT = 1024 * 1024


def _nothing() -> None:
    pass


@implementer(IPushProducer)
class SendQueueGuard:
    """Counts bytes queued while the transport says its buffer is full."""

    __slots__ = ("_on_overflow", "limit", "overflowed", "paused", "queued")

    def __init__(self, transport: ITransport, limit: int, on_overflow: Callable[[], None]) -> None:
        self.limit = limit
        self.paused = False
        self.queued = 0
        self.overflowed = False
        self._on_overflow = on_overflow
        transport.registerProducer(self, True)

    def wrote(self, size: int) -> None:
        """Record that ``size`` more bytes were handed to the transport while
        it was paused (the caller checks ``paused`` before writing)."""
        if not self.paused or self.overflowed:
            return
        self.queued += size
        if self.queued > self.limit:
            self.overflowed = True
            self._on_overflow()

    def pauseProducing(self) -> None:
        # The transport calls this again on every write while its buffer is
        # full; only the first call starts the count.
        if not self.paused:
            self.paused = True
            self.queued = 0

    def resumeProducing(self) -> None:
        self.paused = False
        self.queued = 0

    def stopProducing(self) -> None:
        # The transport is gone. Letting go of the callback (a bound method of
        # the protocol) lets a closed connection be freed at once, not at the
        # next cycle collection.
        self.paused = False
        self._on_overflow = _nothing
