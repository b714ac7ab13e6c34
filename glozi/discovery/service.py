"""Assembling the server's discovery: the UDP responder and the sniffer.

``make_discovery_service`` is the one entry point ``glozi.tap`` calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.application.service import IService, MultiService, Service
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.internet.protocol import DatagramProtocol, Factory
from twisted.logger import Logger
from zope.interface import implementer

from glozi.discovery.nodes import no_other_nodes
from glozi.discovery.probe import MAX_SERVER_NAME_LENGTH
from glozi.discovery.responder import DiscoveryResponder
from glozi.discovery.sniffer import SnifferService


@implementer(IStreamServerEndpoint)
class PortRecordingEndpoint:
    """Wraps a server endpoint and remembers the port it listened on.

    Gives discovery the native port as really bound (``tcp:0`` included):
    pass ``port_number`` and ``bound_host`` to ``make_discovery_service``.
    """

    def __init__(self, endpoint: IStreamServerEndpoint) -> None:
        self._endpoint = endpoint
        self._port: IListeningPort | None = None

    def listen(self, factory: Factory) -> Deferred[IListeningPort]:
        return self._endpoint.listen(factory).addCallback(self._record)

    def _record(self, port: IListeningPort) -> IListeningPort:
        self._port = port
        return port

    def port_number(self) -> int | None:
        """The bound TCP/SSL port, or ``None`` before listening (or for a UNIX socket)."""
        return getattr(self._port.getHost(), "port", None) if self._port is not None else None

    def bound_host(self) -> str | None:
        """The bound address (``0.0.0.0`` for all interfaces), or ``None``."""
        return getattr(self._port.getHost(), "host", None) if self._port is not None else None


def advertised_name(name: str) -> str:
    """``name`` made fit to advertise: printable, at most 64 characters, not empty."""
    printable = "".join(c if c.isprintable() else "?" for c in name).strip()
    return printable[:MAX_SERVER_NAME_LENGTH] or "GloziChat"


class UDPListenerService(Service):
    """Listens with a ``DatagramProtocol`` on a UDP port while running.

    ``port`` may be ``0`` (any free port); ``port_number()`` tells which one
    was bound.  A port that cannot be bound is logged as one error and the
    service runs without it: discovery is a convenience, and the chat server
    must not refuse to start because another one holds the discovery port.
    With ``answer_from_any_port`` (the ICMP sniffer is on) it then listens on
    any free port instead, so that ICMP probes are still answered, from there.
    """

    name = "discovery-udp"
    log = Logger()

    def __init__(
        self,
        reactor: Any,
        port: int,
        protocol: DatagramProtocol,
        interface: str = "",
        *,
        answer_from_any_port: bool = False,
    ) -> None:
        self._reactor = reactor
        self._port = port
        self._protocol = protocol
        self._interface = interface
        self._answer_from_any_port = answer_from_any_port
        self._listening: Any = None

    def port_number(self) -> int | None:
        """The bound UDP port (the stand-in one if the discovery port was taken), or ``None``."""
        if self._listening is None:
            return None
        return self._listening.getHost().port

    def startService(self) -> None:
        Service.startService(self)
        where = self._interface or "*"
        try:
            self._listening = self._reactor.listenUDP(self._port, self._protocol, interface=self._interface)
        except CannotListenError as error:
            self._listen_elsewhere(where, error)
            return
        self.log.info(
            "Discovery responder listening on UDP {interface}:{port}",
            interface=where,
            port=self.port_number(),
        )

    def _listen_elsewhere(self, where: str, taken: CannotListenError) -> None:
        if self._answer_from_any_port:
            try:
                self._listening = self._reactor.listenUDP(0, self._protocol, interface=self._interface)
            except CannotListenError:
                self._listening = None
        fallback = self.port_number()
        if fallback is None:
            outcome = "running without discovery; clients must be given this server's address"
        else:
            outcome = f"UDP discovery probes go unanswered; ICMP probes are answered from UDP port {fallback}"
        self.log.error(
            "Discovery UDP port {interface}:{port} cannot be bound ({error}): {outcome}",
            interface=where,
            port=self._port,
            error=taken.socketError,
            outcome=outcome,
            fallback=fallback,
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
    native_host: Callable[[], str | None] | None = None,
    native_tls: bool = False,
    password_required: bool = False,
    udp_interface: str = "",
    nodes: Callable[[], list[dict[str, Any]]] = no_other_nodes,
    web_port: Callable[[], int | None] | None = None,
    web_tls: bool = False,
) -> IService:
    """Build the service that lets clients on the LAN find this server.

    ``server_name`` is advertised, cut to 64 printable characters.
    ``native_port()`` and ``irc_port()`` return the bound TCP ports, or
    ``None`` while not listening (nothing is answered until the native port
    is known).  ``discovery_port`` is the UDP port for broadcast probes (``0``:
    any free port); if it is taken, that is logged and the server runs on,
    answering ICMP probes from any free port when sniffing.  ``sniff`` adds the ICMP sniffer, on ``sniff_interfaces``
    or every up IPv4 interface.  ``udp_interface`` restricts the UDP listener
    to one local address; the default listens on all of them, which
    broadcast probes need.

    ``native_host()``, when given, is the address the native port is bound to
    (``PortRecordingEndpoint.bound_host``): bound to one address, only that
    address is advertised. ``native_tls`` tells clients the native endpoint
    speaks TLS, ``password_required`` that it asks for a server password.
    ``nodes()`` gives the other nodes of the cluster (see ``DiscoveryResponder``).
    ``web_port()`` is the web door's bound port (``None``: none), ``web_tls`` whether it is https.

    Returns a ``DiscoveryService`` (a ``MultiService``); its children start in
    order, so the responder listens before the sniffer hands it anything.
    """
    responder = DiscoveryResponder(
        reactor,
        server_name=advertised_name(server_name),
        native_port=native_port,
        irc_port=irc_port,
        native_host=native_host,
        native_tls=native_tls,
        password_required=password_required,
        nodes=nodes,
        web_port=web_port,
        web_tls=web_tls,
    )
    listener = UDPListenerService(
        reactor, discovery_port, responder, interface=udp_interface, answer_from_any_port=sniff
    )
    sniffer = SnifferService(reactor, responder.icmp_probe_received, sniff_interfaces) if sniff else None
    return DiscoveryService(responder, listener, sniffer)
