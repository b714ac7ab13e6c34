"""Bytes to a TCP socket in one system call when nothing waits before them.

Twisted's ``transport.write`` only buffers: it registers the socket for
writing (``epoll_ctl``), the reactor's next pass sends, and the socket is
unregistered again (``epoll_ctl``) once the buffer is empty — three system
calls and a reactor dispatch for every write. Chat traffic is paced: one
message per read, one small write per member, and the kernel's send buffer
almost always has room. ``DirectWriter`` sends such a write at once
(``send``, one system call) when the transport holds nothing unsent, and hands
the rest to Twisted only when the kernel took less than all of it (a partial
send or ``EAGAIN``), when the peer is gone (Twisted's own write path then
closes the connection as it always does) or when the connection is closing.
Order is kept: bytes go out directly only when nothing is buffered before
them.

Only a plain TCP transport (``twisted.internet.tcp.Connection``) is written to
directly, also behind protocol wrappers that forward to it; TLS encrypts in
its own buffer first, so a TLS connection writes through Twisted as before.
"""

from collections.abc import Callable
from typing import Any

from twisted.internet.tcp import Connection
from twisted.protocols.policies import ProtocolWrapper

from glozi.limits.sendqueue import SendQueueGuard


def _tcp_under(transport: Any) -> Connection | None:
    """The plain TCP connection ``transport`` writes to, if it is one."""
    # Only the plain wrapper, which forwards every write unchanged; its
    # subclasses may count or throttle what passes.
    while type(transport) is ProtocolWrapper:
        transport = transport.transport
    return transport if isinstance(transport, Connection) else None


class DirectWriter:
    """Writes to one transport: directly when it can, through Twisted when it
    must, and counts what Twisted queues for the send-queue bound."""

    __slots__ = ("_socket", "_transport", "send_queue")

    def __init__(self, transport: Any, send_queue_limit: int, on_overflow: Callable[[], None]) -> None:
        self._transport = transport
        self._socket = _tcp_under(transport)
        self.send_queue = SendQueueGuard(transport, send_queue_limit, on_overflow)
        """The bound on what waits in Twisted's buffer for a peer that does not read."""

    def write(self, data: bytes) -> None:
        """Send ``data`` after everything written before."""
        tcp = self._socket
        # Nothing buffered (so nothing to overtake), still open both ways.
        if (
            tcp is not None
            and not tcp._tempDataLen
            and not tcp.dataBuffer
            and tcp.connected
            and not tcp.disconnecting
            and not tcp._writeDisconnected
        ):
            try:
                sent = tcp.socket.send(data)
            # EAGAIN (the kernel's buffer is full), EINTR, or a peer that is
            # gone: Twisted's own write path retries, or finds the loss again
            # and closes the connection the usual way.
            except OSError:
                sent = 0
            if sent == len(data):
                return
            if sent:
                data = data[sent:]
        # Only bytes handed over while the transport already said its buffer
        # was full count against the send-queue bound: the write that fills
        # the buffer is a reader's normal share (one batch can be large).
        guard = self.send_queue
        already_full = guard.paused
        self._transport.write(data)
        if already_full:
            guard.wrote(len(data))
