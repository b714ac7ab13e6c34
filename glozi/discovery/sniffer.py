"""The server's ICMP sniffer: a ``Service`` that owns one capture thread.

The thread opens a scapy packet socket per interface, attaches the kernel
filter from ``glozi.discovery.icmpfilter`` (no libpcap needed), and for each
captured packet calls the pure ``probe_from_packet``.  The only thing it ever
does with Twisted is ``reactor.callFromThread``: to hand over a probe, or to
report that it started, failed or ended.  Everything else (logging, answering,
timers) happens on the reactor thread.

scapy is imported inside the thread: it takes more than a second to import
and the reactor must not wait for it.
"""

from __future__ import annotations

import errno
import os
import select
import threading
import time
from collections.abc import Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger, LogLevel

from glozi.discovery.icmpfilter import attach_echo_request_filter
from glozi.discovery.icmpwire import internet_checksum
from glozi.discovery.interfaces import LocalAddressCache, LocalAddresses, local_addresses, up_interfaces
from glozi.discovery.probe import decode_probe
from glozi.discovery.responder import SniffedProbe

START_TIMEOUT_SECONDS = 10.0
"""How long the thread has to report that it is capturing before we say so."""
STOP_TIMEOUT_SECONDS = 5.0
THREAD_EXIT_POLL_SECONDS = 0.005

_ETH_P_IP = 0x0800
_MIN_IP_HEADER_BYTES = 20
_ICMP_HEADER_BYTES = 8
_NO_PRIVILEGE_ERRNOS = (errno.EPERM, errno.EACCES)


class SnifferError(Exception):
    """The sniffer could not capture on an interface."""


def probe_from_packet(packet: Any, interface: str | None, local: LocalAddresses) -> SniffedProbe | None:
    """Reduce a captured scapy packet to the GloziChat probe it carries, or ``None``.

    Only an unfragmented IPv4 ICMP echo request (type 8, code 0) whose IP
    header and ICMP checksums are right, which is addressed to this host
    (``local.is_probe_destination`` for the capture ``interface``) and whose
    payload decodes with ``decode_probe`` yields a probe; its source is the
    packet's IP source, judged later by the responder.  Never raises on odd
    packets.
    """
    from scapy.layers.inet import ICMP, IP

    if packet is None:
        return None
    ip = packet.getlayer(IP)
    if ip is None or ip.version != 4 or ip.frag != 0 or ip.flags.MF:
        return None
    icmp = ip.getlayer(ICMP)
    if icmp is None or icmp.type != 8 or icmp.code != 0:
        return None
    if not local.is_probe_destination(str(ip.dst), interface):
        return None
    message = _checked_icmp_message(bytes(ip))
    if message is None:
        return None
    probe = decode_probe(message[_ICMP_HEADER_BYTES:])
    if probe is None:
        return None
    return SniffedProbe(probe=probe, source=str(ip.src), interface=interface)


def _checked_icmp_message(datagram: bytes) -> bytes | None:
    """The ICMP message of an IPv4 ``datagram`` if its lengths and both checksums hold."""
    if len(datagram) < _MIN_IP_HEADER_BYTES:
        return None
    header_length = (datagram[0] & 0x0F) * 4
    total_length = int.from_bytes(datagram[2:4], "big")
    # Bytes past the IP total length are link-layer padding, outside the checksum.
    if header_length < _MIN_IP_HEADER_BYTES:
        return None
    if not header_length + _ICMP_HEADER_BYTES <= total_length <= len(datagram):
        return None
    if internet_checksum(datagram[:header_length]) != 0:
        return None
    message = datagram[header_length:total_length]
    if internet_checksum(message) != 0:
        return None
    return message


def open_capture_sockets(interfaces: list[str] | None) -> dict[Any, str]:
    """Open a filtered scapy capture socket on each interface, keyed to its name.

    ``None`` means every interface that is up and has an IPv4 address.
    Raises ``PermissionError`` without root or ``CAP_NET_RAW``, and
    ``SnifferError`` when an interface is unknown or the filter cannot be
    attached (already-opened sockets are closed first).
    """
    # Registers the link and network layers, so captured bytes dissect to IP.
    import scapy.layers.inet
    import scapy.layers.l2  # noqa: F401
    from scapy.arch.linux import L2ListenSocket

    names = interfaces if interfaces else [entry.name for entry in up_interfaces()]
    if not names:
        raise SnifferError("no interface is up with an IPv4 address")
    opened: dict[Any, str] = {}
    try:
        for name in names:
            try:
                # Promiscuous mode would hand us frames for other hosts' MAC addresses.
                sock = L2ListenSocket(iface=name, type=_ETH_P_IP, promisc=False)
            except OSError as error:
                if error.errno in _NO_PRIVILEGE_ERRNOS:
                    raise PermissionError(error.errno, error.strerror) from error
                raise SnifferError(f"cannot capture on {name!r}: {error}") from error
            opened[sock] = name
            try:
                attach_echo_request_filter(sock.ins)
            except OSError as error:
                raise SnifferError(f"cannot attach the ICMP probe filter on {name!r}: {error}") from error
    except BaseException:
        for sock in opened:
            sock.close()
        raise
    return opened


def _start_daemon_thread(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, name="glozi-discovery-sniffer", daemon=True)
    thread.start()
    return thread


class SnifferService(Service):
    """Captures ICMP probes and calls ``deliver(SniffedProbe)`` on the reactor thread.

    Without the privilege to capture it logs one warning and stays idle, so
    the UDP responder goes on alone; any other failure to start (unknown
    interface, filter refused, no start report within ``start_timeout``) is
    logged as an error.  ``stopService`` wakes the thread and returns a
    Deferred that fires once it has closed its sockets and ended.

    ``open_sockets``, ``start_thread`` and ``read_local_addresses`` (this
    host's addresses, re-read every few seconds) exist for tests.
    """

    name = "discovery-sniffer"
    log = Logger()

    def __init__(
        self,
        reactor: Any,
        deliver: Callable[[SniffedProbe], None],
        interfaces: list[str] | None = None,
        *,
        open_sockets: Callable[[list[str] | None], dict[Any, str]] = open_capture_sockets,
        start_thread: Callable[[Callable[[], None]], threading.Thread | None] = _start_daemon_thread,
        read_local_addresses: Callable[[], LocalAddresses] = local_addresses,
        start_timeout: float = START_TIMEOUT_SECONDS,
        stop_timeout: float = STOP_TIMEOUT_SECONDS,
    ) -> None:
        self._reactor = reactor
        self._deliver = deliver
        self._interfaces = list(interfaces) if interfaces else None
        self._open_sockets = open_sockets
        self._start_thread = start_thread
        self._read_local_addresses = read_local_addresses
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._wake: tuple[int, int] | None = None
        self._thread_running = False
        self._thread: threading.Thread | None = None
        self._start_watchdog: Any = None
        self._stopped: Deferred[None] | None = None
        self._waiting_for_start: list[Deferred[list[str]]] = []
        self.capturing_on: list[str] = []

    def when_capturing(self) -> Deferred[list[str]]:
        """A Deferred firing with the interface names once capture has begun.

        It never fires if the sniffer fails to start.
        """
        if self.capturing_on:
            return succeed(list(self.capturing_on))
        waiting: Deferred[list[str]] = Deferred()
        self._waiting_for_start.append(waiting)
        return waiting

    def startService(self) -> None:
        Service.startService(self)
        self.capturing_on = []
        self._wake = os.pipe()
        self._thread_running = True
        self._start_watchdog = self._reactor.callLater(self._start_timeout, self._start_overdue)
        self._thread = self._start_thread(self._capture)

    def stopService(self) -> Deferred[None]:
        Service.stopService(self)
        self._cancel_watchdog()
        if not self._thread_running:
            self._close_wake_pipe()
            return succeed(None)
        assert self._wake is not None
        os.write(self._wake[1], b"x")
        self._stopped = Deferred()
        timeout = self._reactor.callLater(self._stop_timeout, self._stop_overdue)
        self._stopped.addBoth(_cancelling(timeout))
        return self._stopped

    def _capture(self) -> None:
        """The thread's body: open, report, capture until woken, report the end."""
        assert self._wake is not None
        wake_fd = self._wake[0]
        call = self._reactor.callFromThread
        # The thread's own snapshot and clock: the responder's live on the reactor thread.
        local = LocalAddressCache(time.monotonic, self._read_local_addresses)
        try:
            sockets = self._open_sockets(self._interfaces)
        except PermissionError as error:
            call(self._no_privilege, error)
            call(self._thread_ended)
            return
        # Whatever goes wrong in this thread must reach the log, not die with it.
        except Exception as error:  # noqa: BLE001
            call(self._failed, error)
            call(self._thread_ended)
            return
        try:
            call(self._started, sorted(sockets.values()))
            while sockets:
                ready, _, _ = select.select([*sockets, wake_fd], [], [])
                if wake_fd in ready:
                    break
                for sock in ready:
                    try:
                        packet = sock.recv()
                    except OSError as error:
                        call(self._interface_lost, sockets.pop(sock), error)
                        sock.close()
                        continue
                    sniffed = probe_from_packet(packet, sockets[sock], local.current())
                    if sniffed is not None:
                        call(self._deliver, sniffed)
        except Exception as error:  # noqa: BLE001
            call(self._failed, error)
        finally:
            for sock in sockets:
                sock.close()
            call(self._thread_ended)

    def _started(self, names: list[str]) -> None:
        self._cancel_watchdog()
        self.capturing_on = names
        self.log.info(
            "Discovery sniffer capturing ICMP probes on {interfaces}",
            interfaces=", ".join(names),
        )
        waiting, self._waiting_for_start = self._waiting_for_start, []
        for deferred in waiting:
            deferred.callback(list(names))

    def _no_privilege(self, error: Exception) -> None:
        self._cancel_watchdog()
        self.log.emit(
            LogLevel.warn,
            "Discovery sniffer disabled: capturing ICMP probes needs root or "
            "CAP_NET_RAW ({error}). Answering UDP discovery probes only.",
            error=error,
        )

    def _failed(self, error: Exception) -> None:
        self._cancel_watchdog()
        self.log.error(
            "Discovery sniffer failed: {error}. Answering UDP discovery probes only.",
            error=error,
        )

    def _interface_lost(self, name: str, error: Exception) -> None:
        self.log.emit(
            LogLevel.warn,
            "Discovery sniffer stopped capturing on {interface}: {error}",
            interface=name,
            error=error,
        )

    def _start_overdue(self) -> None:
        self._start_watchdog = None
        self.log.error(
            "Discovery sniffer did not report capturing within {timeout} s",
            timeout=self._start_timeout,
        )

    def _thread_ended(self) -> None:
        self._thread_running = False
        self.capturing_on = []
        self._fire_stopped_once_thread_is_gone()

    def _fire_stopped_once_thread_is_gone(self) -> None:
        # The thread reports its end just before it returns: the stop Deferred
        # promises the thread is gone, so wait (without blocking) for that.
        if self._stopped is None:
            return
        if self._thread is not None and self._thread.is_alive():
            self._reactor.callLater(THREAD_EXIT_POLL_SECONDS, self._fire_stopped_once_thread_is_gone)
            return
        self._thread = None
        stopped, self._stopped = self._stopped, None
        self._close_wake_pipe()
        stopped.callback(None)

    def _stop_overdue(self) -> None:
        # The thread is a daemon: it cannot keep the process alive.
        self.log.error(
            "Discovery sniffer thread did not end within {timeout} s",
            timeout=self._stop_timeout,
        )
        if self._stopped is not None:
            stopped, self._stopped = self._stopped, None
            stopped.callback(None)

    def _cancel_watchdog(self) -> None:
        if self._start_watchdog is not None and self._start_watchdog.active():
            self._start_watchdog.cancel()
        self._start_watchdog = None

    def _close_wake_pipe(self) -> None:
        if self._wake is not None:
            for fd in self._wake:
                os.close(fd)
            self._wake = None


def _cancelling(delayed_call: Any) -> Callable[[Any], Any]:
    def cancel(result: Any) -> Any:
        if delayed_call.active():
            delayed_call.cancel()
        return result

    return cancel
