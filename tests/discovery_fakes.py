"""Test doubles for discovery: UDP for reactors that have none, and a thread-free reactor."""

import ipaddress
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock

from glozi.discovery.interfaces import InterfaceAddress


class RecordingDatagramTransport:
    """A UDP transport that records ``(datagram, address)`` writes.

    Like ``twisted.test.proto_helpers.FakeDatagramTransport``, plus what a
    listening port offers: ``getHost``, ``setBroadcastAllowed`` and
    ``stopListening``.
    """

    def __init__(self, protocol: DatagramProtocol, port: int = 40000, host: str = "0.0.0.0") -> None:
        self.protocol = protocol
        self.written: list[tuple[bytes, tuple[str, int]]] = []
        self.broadcast_allowed = False
        self.listening = True
        self._host = IPv4Address("UDP", host, port)

    def write(self, datagram: bytes, addr: tuple[str, int]) -> None:
        self.written.append((datagram, addr))

    def getHost(self) -> IPv4Address:
        return self._host

    def setBroadcastAllowed(self, enabled: bool) -> None:
        self.broadcast_allowed = enabled

    def stopListening(self) -> None:
        self.listening = False
        self.protocol.doStop()


class UDPMemoryReactor(MemoryReactorClock):
    """``MemoryReactorClock`` with ``listenUDP`` (which MemoryReactor lacks)."""

    def __init__(self, first_port: int = 40000) -> None:
        super().__init__()
        self.udp_ports: list[tuple[int, str, RecordingDatagramTransport]] = []
        self._next_port = first_port

    def listenUDP(
        self, port: int, protocol: DatagramProtocol, interface: str = "", maxPacketSize: int = 8192
    ) -> RecordingDatagramTransport:
        bound = port or self._next_port
        self._next_port += 1
        transport = RecordingDatagramTransport(protocol, bound, interface or "0.0.0.0")
        protocol.makeConnection(transport)
        self.udp_ports.append((port, interface, transport))
        return transport


class ThreadlessReactor(Clock):
    """A ``Clock`` whose ``callFromThread`` runs the call at once, on this thread."""

    def callFromThread(self, f: Any, *args: Any, **kwargs: Any) -> None:
        f(*args, **kwargs)


class PortTakenReactor(UDPMemoryReactor):
    """A ``UDPMemoryReactor`` on which binding a port in ``taken`` fails, as if another server held it."""

    def __init__(self, taken: set[int], first_port: int = 40000) -> None:
        super().__init__(first_port)
        self.taken = taken

    def listenUDP(
        self, port: int, protocol: DatagramProtocol, interface: str = "", maxPacketSize: int = 8192
    ) -> RecordingDatagramTransport:
        if port in self.taken:
            raise CannotListenError(interface, port, OSError(98, "Address already in use"))
        return super().listenUDP(port, protocol, interface, maxPacketSize)


def interface(name: str, address: str, prefix: int, loopback: bool = False) -> InterfaceAddress:
    """An interface address as the kernel reports it (broadcast set unless loopback)."""
    network = ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)
    return InterfaceAddress(
        name=name,
        address=ipaddress.IPv4Address(address),
        netmask=network.netmask,
        broadcast=None if loopback else network.broadcast_address,
        loopback=loopback,
    )
