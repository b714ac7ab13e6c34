"""Assembling the server's discovery: the UDP responder and the sniffer.

``make_discovery_service`` is the one entry point ``glozi.tap`` calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.application.service import IService, MultiService, Service
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger

from glozi.discovery.responder import DiscoveryResponder
from glozi.discovery.sniffer import SnifferService


class UDPListenerService(Service):
    """Listens with a ``DatagramProtocol`` on a UDP port while running.

    ``port`` may be ``0`` (any free port); ``port_number()`` tells which one
    was bound.
    """

    name = "discovery-udp"
    log = Logger()

    def __init__(
        self, reactor: Any, port: int, protocol: DatagramProtocol, interface: str = ""
    ) -> None:
        self._reactor = reactor
        self._port = port
        self._protocol = protocol
        self._interface = interface
        self._listening: Any = None

    def port_number(self) -> int | None:
        """The bound UDP port, or ``None`` while not listening."""
        if self._listening is None:
            return None
        return self._listening.getHost().port

    def startService(self) -> None:
        self._listening = self._reactor.listenUDP(
            self._port, self._protocol, interface=self._interface
        )
        Service.startService(self)
        self.log.info(
            "Discovery responder listening on UDP {interface}:{port}",
            interface=self._interface or "*",
            port=self.port_number(),
        )

    def stopService(self) -> Deferred[None]:
        Service.stopService(self)
        listening, self._listening = self._listening, None
        if listening is None:
            return succeed(None)
        return maybeDeferred(listening.stopListening)


class DiscoveryService(MultiService):
    """The discovery ``MultiService``: the UDP listener, then (optionally) the sniffer."""

    name = "discovery"

    def __init__(
        self,
        responder: DiscoveryResponder,
        listener: UDPListenerService,
        sniffer: SnifferService | None,
    ) -> None:
        MultiService.__init__(self)
        self.responder = responder
        self.listener = listener
        self.sniffer = sniffer
        listener.setServiceParent(self)
        if sniffer is not None:
            sniffer.setServiceParent(self)

    def udp_port(self) -> int | None:
        """The bound discovery UDP port, or ``None`` while stopped."""
        return self.listener.port_number()


def make_discovery_service(
    reactor: Any,
    *,
    server_name: str,
    native_port: Callable[[], int | None],
    irc_port: Callable[[], int | None] | None,
    discovery_port: int,
    sniff: bool,
    sniff_interfaces: list[str] | None,
    udp_interface: str = "",
) -> IService:
    """Build the service that lets clients on the LAN find this server.

    ``server_name`` is advertised as is (at most 64 printable characters).
    ``native_port()`` and ``irc_port()`` return the bound TCP ports, or
    ``None`` while not listening (nothing is answered until the native port
    is known).  ``discovery_port`` is the UDP port for broadcast probes (``0``:
    any free port).  ``sniff`` adds the ICMP sniffer, on ``sniff_interfaces``
    or every up IPv4 interface.  ``udp_interface`` restricts the UDP listener
    to one local address; the default listens on all of them, which
    broadcast probes need.

    Returns a ``DiscoveryService`` (a ``MultiService``); its children start in
    order, so the responder listens before the sniffer hands it anything.
    """
    responder = DiscoveryResponder(
        reactor, server_name=server_name, native_port=native_port, irc_port=irc_port
    )
    listener = UDPListenerService(
        reactor, discovery_port, responder, interface=udp_interface
    )
    sniffer = (
        SnifferService(reactor, responder.icmp_probe_received, sniff_interfaces)
        if sniff
        else None
    )
    return DiscoveryService(responder, listener, sniffer)
