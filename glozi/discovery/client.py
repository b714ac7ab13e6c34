"""Finding GloziChat servers from a client, on the Twisted reactor.

``discover()`` listens on an ephemeral UDP port, sends probes naming that
port, collects answers for a window and returns a Deferred of the servers
found.  Two paths, used together by default:

* ``udp``: the probe JSON as a UDP datagram to the discovery port of each
  target (each up interface's broadcast address unless targets are given).
  Needs no privilege.
* ``icmp``: the probe inside an ICMP echo request to each target, built
  with ``struct`` and sent on a plain raw ICMP socket.  Needs root or
  ``CAP_NET_RAW``; skipped (and said so in the result notes) otherwise.
  Sending a few small packets on a non-blocking socket costs microseconds,
  so it happens at once on the reactor thread: no scapy to load, no thread
  to wait for, and the first probe leaves with the UDP one.

Probes are repeated with a doubling delay; each attempt and path carries its
own nonce, and only answers echoing one of them count.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, fail, maybeDeferred, succeed
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from glozi.discovery.icmpwire import ICMP_ECHO_REQUEST, icmp_message
from glozi.discovery.interfaces import broadcast_addresses
from glozi.discovery.nodes import Node
from glozi.discovery.probe import (
    DEFAULT_DISCOVERY_PORT,
    Answer,
    decode_answer,
    encode_probe,
    new_probe,
)

DEFAULT_TIMEOUT = 2.0
"""Seconds to collect answers, counted from the first probe sent."""
DEFAULT_ATTEMPTS = 3
DEFAULT_FIRST_RETRY = 0.25
"""Delay before the second attempt; each later delay doubles."""
METHODS = ("icmp", "udp")
MAX_TARGETS = 64

IcmpSender = Callable[[Sequence[str], bytes], "Deferred[None]"]

log = Logger()


@dataclass(frozen=True)
class FoundServer:
    """A server that answered.

    ``host``/``port`` is its native endpoint; ``via`` the probe paths that got
    an answer (``"icmp"``, ``"udp"``), ``seconds`` the time from the start of
    discovery to its first answer; ``nodes`` the other nodes of its cluster
    that its answer listed; ``web_port`` the browser client's port on ``host``
    (``None``: no web door), ``web_tls`` whether it is https.
    """

    name: str
    host: str
    port: int
    irc_port: int | None
    via: tuple[str, ...]
    seconds: float
    tls: bool = False
    password: bool = False
    nodes: tuple[Node, ...] = ()
    web_port: int | None = None
    web_tls: bool = False


class NoServerFound(Exception):
    """Nothing answered within the window.  ``str()`` says what was tried."""

    def __init__(self, timeout: float, targets: Sequence[str], notes: Sequence[str]) -> None:
        super().__init__(timeout, tuple(targets), tuple(notes))
        self.timeout = timeout
        self.targets = tuple(targets)
        self.notes = tuple(notes)

    def __str__(self) -> str:
        text = (
            f"no GloziChat server answered within {self.timeout:g} s "
            f"(probed {', '.join(self.targets) or 'nothing'})"
        )
        if self.notes:
            text += "; " + "; ".join(self.notes)
        return text


def has_raw_socket_privilege() -> bool:
    """Whether this process may send raw ICMP packets (root or ``CAP_NET_RAW``).

    Tried by opening, then closing, the socket ``send_icmp_probes`` uses.
    """
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
    except OSError:
        return False
    return True


def send_icmp_probes_now(targets: Sequence[str], payload: bytes) -> None:
    """Send one ICMP echo request carrying ``payload`` to each target, on a raw socket.

    The kernel adds the IP header and picks the route and source address.
    Every target is tried; the first ``OSError`` (no privilege, no route...)
    is raised afterwards.
    """
    ident = secrets.randbelow(0x10000)
    first_error: OSError | None = None
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as raw:
        raw.setblocking(False)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        for sequence, target in enumerate(targets, start=1):
            try:
                raw.sendto(icmp_message(ICMP_ECHO_REQUEST, ident, sequence, payload), (target, 0))
            except OSError as error:
                first_error = first_error or error
    if first_error is not None:
        raise first_error


def send_icmp_probes(targets: Sequence[str], payload: bytes) -> Deferred[None]:
    """``send_icmp_probes_now``, as an already-fired Deferred."""
    try:
        send_icmp_probes_now(targets, payload)
    except OSError:
        return fail()
    return succeed(None)


def discover(
    reactor: Any,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    attempts: int = DEFAULT_ATTEMPTS,
    first_retry: float = DEFAULT_FIRST_RETRY,
    discovery_port: int = DEFAULT_DISCOVERY_PORT,
    targets: Sequence[str] | None = None,
    methods: Sequence[str] = METHODS,
    stop_at_first: bool = False,
    icmp_sender: IcmpSender = send_icmp_probes,
    may_send_icmp: Callable[[], bool] = has_raw_socket_privilege,
) -> Deferred[list[FoundServer]]:
    """Find GloziChat servers; fires with a non-empty, de-duplicated list.

    ``targets`` are the addresses probed (default: each up interface's
    broadcast address, or ``127.0.0.1`` on a machine with none).  ``methods``
    is a subset of ``("icmp", "udp")``.  Attempts go out at 0,
    ``first_retry``, 3x``first_retry``, 7x... while inside the ``timeout``
    window, ``attempts`` at most.  Servers are merged by ``(host, port)``
    and ordered by first answer.  With ``stop_at_first`` the Deferred fires
    on the first answer.

    Fails with ``NoServerFound`` when nothing answered, ``ValueError`` for bad
    arguments, or the listening error when no UDP port can be opened.
    Cancelling the Deferred stops everything.
    """
    unknown = set(methods) - set(METHODS)
    if unknown or not methods:
        return fail(ValueError(f"methods must be a subset of {METHODS}, not {list(methods)}"))
    if timeout <= 0 or attempts < 1 or first_retry <= 0:
        return fail(ValueError("timeout, attempts and first_retry must be positive"))
    chosen = list(targets) if targets else (broadcast_addresses() or ["127.0.0.1"])
    if len(chosen) > MAX_TARGETS:
        return fail(ValueError(f"at most {MAX_TARGETS} targets"))
    run = _DiscoveryRun(
        reactor,
        timeout=timeout,
        attempts=attempts,
        first_retry=first_retry,
        discovery_port=discovery_port,
        targets=chosen,
        methods=tuple(m for m in METHODS if m in methods),
        stop_at_first=stop_at_first,
        icmp_sender=icmp_sender,
        may_send_icmp=may_send_icmp,
    )
    return run.start()


@dataclass
class _Heard:
    answer: Answer
    via: set[str] = field(default_factory=set)
    seconds: float = 0.0


class _DiscoveryRun(DatagramProtocol):
    """One discovery: a listening port, the probe schedule and the answers."""

    noisy = False

    def __init__(
        self,
        reactor: Any,
        *,
        timeout: float,
        attempts: int,
        first_retry: float,
        discovery_port: int,
        targets: list[str],
        methods: tuple[str, ...],
        stop_at_first: bool,
        icmp_sender: IcmpSender,
        may_send_icmp: Callable[[], bool],
    ) -> None:
        self._reactor = reactor
        self._timeout = timeout
        self._attempts = attempts
        self._first_retry = first_retry
        self._discovery_port = discovery_port
        self._targets = targets
        self._methods = methods
        self._stop_at_first = stop_at_first
        self._icmp_sender = icmp_sender
        self._may_send_icmp = may_send_icmp
        self._nonces: dict[str, str] = {}
        self._heard: dict[tuple[str, int], _Heard] = {}
        self._notes: list[str] = []
        self._calls: list[Any] = []
        self._listening: Any = None
        self._started_at = 0.0
        self._result: Deferred[list[FoundServer]] = Deferred(self._cancel)
        self._done = False
        self._paths: tuple[str, ...] = ()

    def start(self) -> Deferred[list[FoundServer]]:
        try:
            self._listening = self._reactor.listenUDP(0, self, interface="")
        except OSError:
            return fail()
        self.transport.setBroadcastAllowed(True)
        self._started_at = self._reactor.seconds()
        icmp = "icmp" in self._methods
        if icmp and not self._may_send_icmp():
            icmp = False
            self._notes.append("ICMP probe skipped: it needs root or CAP_NET_RAW")
        self._paths = tuple(m for m in self._methods if m != "icmp" or icmp)
        if not self._paths:
            self._finish()
            return self._result
        self._calls.append(self._reactor.callLater(self._timeout, self._finish))
        delay = 0.0
        for attempt in range(1, self._attempts):
            delay += self._first_retry * 2 ** (attempt - 1)
            if delay >= self._timeout:
                break
            self._calls.append(self._reactor.callLater(delay, self._send_attempt))
        self._send_attempt()
        return self._result

    def _send_attempt(self) -> None:
        if self._done:
            return
        reply_port = self._listening.getHost().port
        for path in self._paths:
            probe = new_probe(reply_port)
            self._nonces[probe.nonce] = path
            payload = encode_probe(probe)
            if path == "udp":
                self._send_udp(payload)
            else:
                self._send_icmp(payload)

    def _send_udp(self, payload: bytes) -> None:
        for target in self._targets:
            try:
                self.transport.write(payload, (target, self._discovery_port))
            except OSError as error:
                self._note(f"UDP probe to {target} failed: {error}")

    def _send_icmp(self, payload: bytes) -> None:
        sending = self._icmp_sender(self._targets, payload)
        sending.addErrback(self._icmp_failed)

    def _icmp_failed(self, reason: Failure) -> None:
        self._note(f"ICMP probe failed: {reason.getErrorMessage()}")
        log.debug("ICMP probe failed: {reason}", reason=reason)

    def _note(self, text: str) -> None:
        if text not in self._notes:
            self._notes.append(text)

    def datagramReceived(self, datagram: bytes, addr: tuple[str, int]) -> None:
        if self._done:
            return
        answer = decode_answer(datagram)
        if answer is None:
            return
        path = self._nonces.get(answer.nonce)
        if path is None:
            return
        key = (answer.host, answer.port)
        heard = self._heard.get(key)
        if heard is None:
            heard = _Heard(answer, seconds=self._reactor.seconds() - self._started_at)
            self._heard[key] = heard
        heard.via.add(path)
        if self._stop_at_first:
            self._finish()

    def _finish(self) -> None:
        if self._done:
            return
        stopped = self._stop()
        if not self._heard:
            error = NoServerFound(self._timeout, self._targets, self._notes)
            stopped.addCallback(lambda _: self._result.errback(error))
            return
        found = [
            FoundServer(
                name=heard.answer.name,
                host=heard.answer.host,
                port=heard.answer.port,
                irc_port=heard.answer.irc_port,
                via=tuple(sorted(heard.via)),
                seconds=heard.seconds,
                tls=heard.answer.tls,
                password=heard.answer.password,
                nodes=heard.answer.nodes,
                web_port=heard.answer.web_port,
                web_tls=heard.answer.web_tls,
            )
            for heard in sorted(self._heard.values(), key=lambda h: h.seconds)
        ]
        stopped.addCallback(lambda _: self._result.callback(found))

    def _stop(self) -> Deferred[None]:
        """Cancel timers and close the port; fires once the port is closed."""
        self._done = True
        for call in self._calls:
            if call.active():
                call.cancel()
        self._calls = []
        listening, self._listening = self._listening, None
        if listening is None:
            return succeed(None)
        return maybeDeferred(listening.stopListening)

    def _cancel(self, result: Deferred[list[FoundServer]]) -> None:
        # Deferred.cancel() errbacks with CancelledError once this returns.
        if not self._done:
            self._stop()
