"""The UDP side of the server: answers probes, from either path.

``DiscoveryResponder`` is a ``DatagramProtocol`` listening on the discovery
port.  It answers probes that arrive as UDP datagrams there, and probes that
the sniffer saw inside ICMP echo requests (handed over on the reactor thread
as ``SniffedProbe``).  Every answer goes to the probing packet's own source
address: nothing a payload says can redirect it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger, LogLevel

from glozi.discovery.interfaces import LocalAddressCache, LocalAddresses, advertised_address, local_addresses
from glozi.discovery.limits import (
    DEFAULT_ANSWER_BURST,
    DEFAULT_ANSWER_RATE,
    NonceMemory,
    SourceRateLimiter,
)
from glozi.discovery.nodes import no_other_nodes, nodes_from
from glozi.discovery.probe import (
    MIN_REPLY_PORT,
    Answer,
    Probe,
    decode_probe,
    encode_answer,
)


@dataclass(frozen=True)
class SniffedProbe:
    """A probe found inside an ICMP echo request.

    ``source`` is the IP source of that packet, ``interface`` the name of the
    interface it was captured on.
    """

    probe: Probe
    source: str
    interface: str | None


class DiscoveryResponder(DatagramProtocol):
    """Answers GloziChat probes over UDP.

    ``native_port``, ``irc_port`` and ``web_port`` are called at answer time, so ports
    bound later (or to ``0``) are advertised as they really are; while
    ``native_port()`` is ``None`` nothing is answered.  ``native_host()``,
    when given, is the address the native port is bound to: a specific one
    is advertised as is (a loopback one to loopback clients only), while
    all-interfaces or ``None`` falls back to ``address_for``.  ``address_for(source,
    interface)`` picks the address to advertise (see
    ``glozi.discovery.interfaces.advertised_address``); ``None`` means no
    answer.  Probes that are invalid, already seen (by nonce) or over the
    per-source rate are dropped silently.  ``nodes()`` gives the other nodes
    of the cluster (as for ``NativeFactory``), listed in the answer as far as
    they fit in its 1024 bytes.

    Probes from a source no real client has (see
    ``LocalAddresses.is_forged_source``; ``read_local_addresses`` gives this
    host's addresses, re-read every few seconds) are refused and counted:
    the first one is logged as a warning, the total when the responder
    stops, never a line per probe.  ``refused_sources`` is the count.
    """

    log = Logger()
    noisy = False

    def __init__(
        self,
        clock: IReactorTime,
        *,
        server_name: str,
        native_port: Callable[[], int | None],
        irc_port: Callable[[], int | None] | None = None,
        native_host: Callable[[], str | None] | None = None,
        native_tls: bool = False,
        password_required: bool = False,
        address_for: Callable[[str, str | None], str | None] = advertised_address,
        answer_rate: float = DEFAULT_ANSWER_RATE,
        answer_burst: int = DEFAULT_ANSWER_BURST,
        read_local_addresses: Callable[[], LocalAddresses] = local_addresses,
        nodes: Callable[[], list[dict[str, Any]]] = no_other_nodes,
        web_port: Callable[[], int | None] | None = None,
        web_tls: bool = False,
    ) -> None:
        self._web_port = web_port
        self._web_tls = web_tls
        self._server_name = server_name
        self._native_port = native_port
        self._irc_port = irc_port
        self._native_host = native_host
        self._native_tls = native_tls
        self.password_required = password_required
        self._address_for = address_for
        self._nodes = nodes
        self._limiter = SourceRateLimiter(clock, rate=answer_rate, burst=answer_burst)
        self._nonces = NonceMemory(clock)
        self._local = LocalAddressCache(clock.seconds, read_local_addresses)
        self.refused_sources = 0

    def datagramReceived(self, datagram: bytes, addr: tuple[str, int]) -> None:
        """A UDP probe: answer to the datagram's own source address and port."""
        probe = decode_probe(datagram)
        if probe is None:
            return
        host, port = addr
        self._answer(probe, host, port, interface=None, path="udp")

    def icmp_probe_received(self, sniffed: SniffedProbe) -> None:
        """An ICMP probe: answer to the packet's source, on the probe's reply port."""
        self._answer(
            sniffed.probe,
            sniffed.source,
            sniffed.probe.reply_port,
            interface=sniffed.interface,
            path="icmp",
        )

    def stopProtocol(self) -> None:
        if self.refused_sources:
            self.log.info(
                "Discovery refused {count} probe(s) from forged sources",
                count=self.refused_sources,
            )

    def _answer(self, probe: Probe, host: str, port: int, *, interface: str | None, path: str) -> None:
        if self.transport is None or port < MIN_REPLY_PORT:
            return
        local = self._local.current()
        # A UDP datagram from loopback or our own address can only be local: the
        # kernel drops it as a martian when it comes in from the network. A
        # capture on a real interface has seen no such check.
        local_possible = path == "udp" or interface in local.loopback_interfaces
        if local.is_forged_source(host, local_possible=local_possible):
            self._refuse(host, path, interface)
            return
        if not self._nonces.first_time(probe.nonce):
            return
        if not self._limiter.allow(host):
            return
        native_port = self._native_port()
        if native_port is None:
            return
        advertised = self._advertised_address(host, interface)
        if advertised is None:
            return
        answer = Answer(
            name=self._server_name,
            host=advertised,
            port=native_port,
            irc_port=self._irc_port() if self._irc_port is not None else None,
            nonce=probe.nonce,
            tls=self._native_tls,
            password=self.password_required,
            nodes=nodes_from(self._nodes()),
            web_port=self._web_port() if self._web_port is not None else None,
            web_tls=self._web_tls,
        )
        try:
            self.transport.write(encode_answer(answer), (host, port))
        except OSError as error:
            # An unreachable client must not stop answers to the others.
            self.log.debug(
                "discovery answer to {host}:{port} failed: {error}",
                host=host,
                port=port,
                error=error,
            )
            return
        self.log.debug(
            "answered {path} probe from {host}:{port} with {advertised}:{native_port}",
            path=path,
            host=host,
            port=port,
            advertised=advertised,
            native_port=native_port,
        )

    def _refuse(self, host: str, path: str, interface: str | None) -> None:
        self.refused_sources += 1
        if self.refused_sources == 1:
            self.log.emit(
                LogLevel.warn,
                "Discovery refused a probe ({path}) from forged source {host} on {interface}; "
                "further ones are only counted",
                path=path,
                host=host,
                interface=interface or "the UDP port",
            )

    def _advertised_address(self, client: str, interface: str | None) -> str | None:
        bound = self._native_host() if self._native_host is not None else None
        if bound in (None, "", "0.0.0.0"):
            return self._address_for(client, interface)
        # The native port listens on one address only: nothing else is worth advertising.
        try:
            address = ipaddress.IPv4Address(bound)
        except ValueError:
            return None
        if address.is_loopback and not ipaddress.IPv4Address(client).is_loopback:
            return None
        return str(address)
