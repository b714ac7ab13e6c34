"""The client side of the native protocol (docs/protocol.md), with no Tk in it.

``ClientProtocol`` sends requests tagged with an ``id`` and returns a Deferred
per request that fires with the answering frame, or fails with ``ServerError``
when the server answers with an ``error`` frame. Frames without an ``id`` are
events and go to the ``ClientListener``. ``connect`` opens a connection on the
reactor and fires once the server's ``welcome`` arrived.

Requests are paced below the server's flood budget (the welcome's ``flood``)
by a token bucket of our own: what does not fit yet waits in order in a queue
and goes out as the budget refills, so the server never drops one of our lines.
"""

from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet.defer import Deferred, fail
from twisted.internet.endpoints import SSL4ClientEndpoint, TCP4ClientEndpoint
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.interfaces import IReactorTCP, IReactorTime
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from glozi.client.trust import (
    CertificateChanged,
    KnownServers,
    TrustResult,
    default_trust_file,
    fingerprint_of,
    tls_options,
)
from glozi.doors.native import wire
from glozi.limits.flood import FLOOD_BURST, FLOOD_RATE
from glozi.limits.ratelimit import TokenBucket

MAX_SERVER_LINE_BYTES = 1024 * 1024
"""Longest line accepted from a server: a session list of many sessions is
longer than the 4096 bytes a server accepts from clients, but still bounded."""
CONNECT_TIMEOUT_SECONDS = 5.0
WELCOME_TIMEOUT_SECONDS = 5.0
_CONNECTION_DONE = Failure(ConnectionDone())
PACE_BURST_MARGIN = 2
"""Lines of the server's burst we leave unused, so lines bunched up on the way still fit."""
PACE_RATE_FRACTION = 0.9
"""Share of the server's rate we use, so our clock running a little fast never trips it."""

Frame = dict[str, Any]


class ServerError(Exception):
    """The server answered a request with an ``error`` frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FrameTooLong(ValueError):
    """A request would be longer than the server accepts (it would close the connection)."""


class ProtocolViolation(Exception):
    """The server sent something that is not a frame of docs/protocol.md."""


class ClientListener(Protocol):
    """What a ``ClientProtocol`` tells its owner (the view-model)."""

    def frame_received(self, protocol: "ClientProtocol", frame: Frame) -> None:
        """An event frame (one without an ``id``) arrived on ``protocol``."""

    def connection_lost(self, protocol: "ClientProtocol", clean: bool) -> None:
        """``protocol``'s connection ended; ``clean`` when we closed it ourselves."""

    def queue_changed(self, protocol: "ClientProtocol") -> None:
        """The number of requests waiting for the flood budget (``protocol.queued``) changed."""


def pace_for(welcome: Frame) -> tuple[float, float]:
    """Our burst and rate for a server's welcome: slightly under its ``flood``
    (the documented 20 and 5 a second when a server does not say)."""
    flood = welcome.get("flood")
    burst, rate = FLOOD_BURST, FLOOD_RATE
    if isinstance(flood, dict):
        told_burst, told_rate = flood.get("burst"), flood.get("per_second")
        if isinstance(told_burst, int | float) and told_burst >= 1:
            burst = told_burst
        if isinstance(told_rate, int | float) and told_rate > 0:
            rate = told_rate
    return max(1.0, float(int(burst)) - PACE_BURST_MARGIN), rate * PACE_RATE_FRACTION


_LEAST_DRAIN_DELAY = 0.001
_LATE_GRACE = 0.1
"""Seconds a paced line may be late without the budget being cut: 0.45 of a line at 4.5 a second,
inside the two-line margin kept under the server's burst."""


class ClientProtocol(LineReceiver):
    """One connection to a GloziChat server."""

    delimiter = b"\n"
    MAX_LENGTH = MAX_SERVER_LINE_BYTES
    log = Logger()

    def __init__(
        self,
        listener: ClientListener | None = None,
        certificate_check: Callable[[object], TrustResult] | None = None,
        clock: IReactorTime | None = None,
    ) -> None:
        if clock is None:
            from twisted.internet import reactor

            clock = reactor  # type: ignore[assignment]
        self.clock: IReactorTime = clock  # type: ignore[assignment]
        self.listener = listener
        self.certificate_check = certificate_check
        self.trust: TrustResult | None = None
        self.welcome: Frame | None = None
        self.max_line = wire.MAX_LINE_BYTES
        self.welcomed: Deferred[Frame] = Deferred()
        self._pending: dict[int, Deferred[Frame]] = {}
        self._next_id = 1
        self._closing = False
        self._budget: TokenBucket | None = None
        self._queue: deque[bytes] = deque()
        self._drain_call: Any = None
        self._drain_due = 0.0
        self.lines_received = 0
        """Lines read from the server so far (to tell what came last)."""

    @property
    def queued(self) -> int:
        """Requests waiting for the flood budget, not written yet."""
        return len(self._queue)

    def connectionMade(self) -> None:
        self._closing = False

    def fits(self, frame_type: str, **fields: Any) -> bool:
        """Whether this request fits in the server's line limit (``max_line`` bytes)."""
        return self._encode(frame_type, fields, self._next_id) is not None

    def _encode(self, frame_type: str, fields: dict[str, Any], request_id: int) -> bytes | None:
        line = wire.encode_frame({"type": frame_type, **fields, "id": request_id})
        return line if len(line) - 1 <= self.max_line else None

    def request(self, frame_type: str, **fields: Any) -> "Deferred[Frame]":
        """Send a ``frame_type`` request; the Deferred fires with its answer.

        Fails with ``ServerError`` on an ``error`` answer, with
        ``ConnectionLost`` when the connection ends first, and at once with
        ``FrameTooLong`` (nothing sent) when the line would be over the limit.
        """
        request_id = self._next_id
        line = self._encode(frame_type, fields, request_id)
        if line is None:
            return fail(FrameTooLong(f"A {frame_type} request longer than {self.max_line} bytes"))
        self._next_id += 1
        answer: Deferred[Frame] = Deferred()
        self._pending[request_id] = answer
        was_waiting = bool(self._queue)
        self._queue.append(line)
        self._write_queued()
        if was_waiting or self._queue:
            self._queue_changed()
        return answer

    def _write_queued(self) -> None:
        """Write what the budget allows now, in order; come back for the rest."""
        if self._budget is None:
            burst, rate = pace_for(self.welcome or {})
            self._budget = TokenBucket(self.clock, burst, rate)
        while self._queue and self._budget.try_take():
            self.transport.write(self._queue.popleft())
        if self._queue and self._drain_call is None:
            # At least a moment: a budget a rounding error short of a line must
            # not be asked again at the same instant, forever.
            delay = max(self._budget.seconds_until(), _LEAST_DRAIN_DELAY)
            self._drain_due = self.clock.seconds() + delay
            self._drain_call = self.clock.callLater(delay, self._drain_later)

    def _drain_later(self) -> None:
        self._drain_call = None
        # Called late, the reactor was busy (rendering a paste, say): the lines
        # written before it are only leaving now, so the budget must not count
        # that time as refilled, or the server would get them and more at once.
        # A little lateness is the reactor's usual jitter, within our margin.
        self._budget.forfeit(self.clock.seconds() - self._drain_due - _LATE_GRACE)
        self._write_queued()
        self._queue_changed()

    def _queue_changed(self) -> None:
        if self.listener is not None:
            self.listener.queue_changed(self)

    def disconnect(self) -> None:
        """Close the connection on purpose (a clean end for the listener)."""
        self._closing = True
        self.transport.loseConnection()

    def lineReceived(self, line: bytes) -> None:
        line = line.removesuffix(b"\r")
        if not line.strip():
            return
        self.lines_received += 1
        if self.certificate_check is not None and self.trust is None and not self._certificate_trusted():
            return
        try:
            frame = parse_server_frame(line)
        except ProtocolViolation as error:
            self.log.warn("Dropping the connection: {error}", error=error)
            self.transport.loseConnection()
            return
        request_id = frame.get("id")
        if request_id is not None:
            self._answer(request_id, frame)
        elif frame["type"] == "welcome" and self.welcome is None:
            self.welcome = frame
            max_line = frame.get("max_line")
            if isinstance(max_line, int) and 0 < max_line <= wire.MAX_LINE_BYTES:
                self.max_line = max_line
            self.welcomed.callback(frame)
        elif self.listener is not None:
            self.listener.frame_received(self, frame)

    def _certificate_trusted(self) -> bool:
        """Check the TLS peer certificate before reading a word the server says."""
        assert self.certificate_check is not None
        try:
            self.trust = self.certificate_check(self.transport.getPeerCertificate())
        except CertificateChanged as changed:
            self.log.warn("{error}", error=changed)
            if not self.welcomed.called:
                self.welcomed.errback(changed)
            self.transport.abortConnection()
            return False
        return True

    def _answer(self, request_id: object, frame: Frame) -> None:
        answer = self._pending.pop(request_id, None) if isinstance(request_id, int) else None
        if answer is None:
            self.log.warn("Ignoring an answer to no request: {frame!r}", frame=frame)
            return
        if frame["type"] == "error":
            answer.errback(ServerError(str(frame.get("code")), str(frame.get("message", ""))))
        else:
            answer.callback(frame)

    def lineLengthExceeded(self, line: bytes) -> None:
        self.log.warn("Dropping the connection: a line longer than {n} bytes", n=self.MAX_LENGTH)
        self.transport.loseConnection()

    def connectionLost(self, reason: Failure = _CONNECTION_DONE) -> None:
        if self._drain_call is not None and self._drain_call.active():
            self._drain_call.cancel()
        self._drain_call = None
        self._queue.clear()
        pending, self._pending = self._pending, {}
        for answer in pending.values():
            answer.errback(ConnectionLost("The connection to the server was lost."))
        if not self.welcomed.called:
            self.welcomed.errback(ConnectionLost("The server closed the connection before its welcome."))
        if self.listener is not None:
            self.listener.connection_lost(self, self._closing)


def parse_server_frame(line: bytes) -> Frame:
    """One server line as a frame with a string ``type``, or ``ProtocolViolation``."""
    try:
        frame = wire.parse_frame(line)
    except wire.FrameError as error:
        raise ProtocolViolation(error.message) from None
    if not isinstance(frame.get("type"), str):
        raise ProtocolViolation("a frame without a string 'type'")
    return frame


class ClientFactory(Factory):
    """Builds one ``ClientProtocol`` for ``listener``."""

    def __init__(
        self,
        listener: ClientListener,
        certificate_check: Callable[[object], TrustResult] | None = None,
        clock: IReactorTime | None = None,
    ) -> None:
        self.listener = listener
        self.certificate_check = certificate_check
        self.clock = clock

    def buildProtocol(self, addr: object) -> ClientProtocol:
        protocol = ClientProtocol(self.listener, self.certificate_check, self.clock)
        protocol.factory = self
        return protocol


def connect(
    reactor: IReactorTCP,
    host: str,
    port: int,
    listener: ClientListener,
    *,
    timeout: float = CONNECT_TIMEOUT_SECONDS,
    welcome_timeout: float = WELCOME_TIMEOUT_SECONDS,
    tls: bool = False,
    ca_file: str | None = None,
    known_servers: KnownServers | None = None,
) -> "Deferred[ClientProtocol]":
    """Connect to ``host:port``; fires with the protocol once welcomed.

    Fails with the connection error, or with ``ConnectionLost`` when the peer
    sends no ``welcome`` within ``welcome_timeout`` seconds (not a GloziChat
    server, or a stuck one); no call blocks. Cancelling the Deferred drops
    the attempt, whatever stage it reached.

    With ``tls`` the connection is TLS: verified against ``ca_file`` when
    given, else trusted on first use through ``known_servers`` (a changed
    certificate fails with ``CertificateChanged``). The protocol's ``trust``
    then tells the certificate's fingerprint and whether it was new.
    """
    if not tls:
        endpoint: Any = TCP4ClientEndpoint(reactor, host, port, timeout=timeout)
        factory = ClientFactory(listener, clock=reactor)  # type: ignore[arg-type]
    else:
        endpoint = SSL4ClientEndpoint(reactor, host, port, tls_options(host, ca_file), timeout=timeout)
        if ca_file is not None:

            def check(certificate: object) -> TrustResult:
                # OpenSSL verified it against the CA; keep the fingerprint to show.
                return TrustResult(fingerprint_of(certificate), first_use=False)

        else:
            store = known_servers if known_servers is not None else KnownServers(default_trust_file())

            def check(certificate: object) -> TrustResult:
                return store.check(host, port, fingerprint_of(certificate))

        factory = ClientFactory(listener, check, reactor)  # type: ignore[arg-type]
    connecting = endpoint.connect(factory)

    def wait_for_welcome(protocol: ClientProtocol) -> "Deferred[ClientProtocol]":
        clock: IReactorTime = reactor  # type: ignore[assignment]
        timer = clock.callLater(welcome_timeout, protocol.transport.abortConnection)

        def cancel(_: object) -> None:
            if timer.active():
                timer.cancel()
            protocol.transport.abortConnection()

        # Cancelling while we wait for the welcome drops the connection.
        waiting: Deferred[ClientProtocol] = Deferred(cancel)

        def welcomed(frame: Frame) -> None:
            if timer.active():
                timer.cancel()
            if not waiting.called:
                waiting.callback(protocol)

        def failed(reason: Failure) -> None:
            if timer.active():
                timer.cancel()
            if not waiting.called:
                waiting.errback(reason)

        protocol.welcomed.addCallbacks(welcomed, failed)
        return waiting

    return connecting.addCallback(wait_for_welcome)
