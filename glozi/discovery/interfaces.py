"""The host's IPv4 interfaces, asked of the kernel, and address choice.

Addresses come from ``ioctl`` calls on a socket (Linux ``SIOCGIF*``), never
from parsing ``ip``/``ifconfig`` output.  Only each interface's primary IPv4
address is seen this way; on platforms without these ioctls the lists are
empty and callers fall back (see ``glozi.discovery.client``).
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass

_SIOCGIFFLAGS = 0x8913
_SIOCGIFADDR = 0x8915
_SIOCGIFBRDADDR = 0x8919
_SIOCGIFNETMASK = 0x891B
_IFF_UP = 0x1
_IFF_BROADCAST = 0x2
_IFF_LOOPBACK = 0x8
_IFREQ_SIZE = 40
_IFNAMSIZ = 16


@dataclass(frozen=True)
class InterfaceAddress:
    """One up interface and its primary IPv4 address."""

    name: str
    address: ipaddress.IPv4Address
    netmask: ipaddress.IPv4Address
    broadcast: ipaddress.IPv4Address | None
    loopback: bool

    @property
    def network(self) -> ipaddress.IPv4Network:
        """The subnet this address is on."""
        return ipaddress.IPv4Network(f"{self.address}/{self.netmask}", strict=False)


def up_interfaces() -> list[InterfaceAddress]:
    """Every interface that is up and has an IPv4 address, in index order.

    Returns ``[]`` on platforms without the Linux ioctls.
    """
    if not sys.platform.startswith("linux"):
        return []
    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _index, name in socket.if_nameindex():
            entry = _read_interface(sock, name)
            if entry is not None:
                found.append(entry)
    return found


def interface_addresses(name: str) -> list[InterfaceAddress]:
    """The IPv4 address of interface ``name`` if it is up, else ``[]``."""
    return [entry for entry in up_interfaces() if entry.name == name]


def broadcast_addresses() -> list[str]:
    """The directed broadcast address of each up, non-loopback interface.

    Taken from the kernel (``SIOCGIFBRDADDR``) when the interface has one,
    otherwise computed from its address and netmask.  Point-to-point
    interfaces without broadcast, and /31 and /32 networks, are skipped.
    """
    found: list[str] = []
    for entry in up_interfaces():
        if entry.loopback:
            continue
        broadcast = entry.broadcast
        if broadcast is None and entry.network.prefixlen < 31:
            broadcast = entry.network.broadcast_address
        if broadcast is not None and str(broadcast) not in found:
            found.append(str(broadcast))
    return found


def local_address_toward(destination: str) -> str | None:
    """The local address the kernel would send from to reach ``destination``.

    Found by ``connect()`` on an unbound UDP socket and ``getsockname()``:
    that picks a route and a source address but sends no packet.  Returns
    ``None`` when there is no route.
    """
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect((destination, 9))
            return sock.getsockname()[0]
    except OSError:
        return None


def advertised_address(
    source: str,
    arrived_on: str | None,
    *,
    addresses_of: Callable[[str], list[InterfaceAddress]] = interface_addresses,
    route_from: Callable[[str], str | None] = local_address_toward,
) -> str | None:
    """The address a server should advertise to a client at ``source``.

    ``arrived_on`` names the interface the probe came in on, when known.  In
    order: a loopback client gets ``127.0.0.1``; otherwise the address of
    ``arrived_on`` on the client's subnet; otherwise the address the routing
    table would answer from; otherwise any address of ``arrived_on``.  A
    loopback address is never returned for a non-loopback client: ``None``
    then means there is nothing reachable to advertise.
    """
    try:
        client = ipaddress.IPv4Address(source)
    except ValueError:
        return None
    if client.is_loopback:
        return "127.0.0.1"
    candidates = [entry for entry in (addresses_of(arrived_on) if arrived_on else []) if not entry.loopback]
    for entry in candidates:
        if client in entry.network:
            return str(entry.address)
    routed = route_from(source)
    if routed is not None and not ipaddress.IPv4Address(routed).is_loopback:
        return routed
    if candidates:
        return str(candidates[0].address)
    return None


def _read_interface(sock: socket.socket, name: str) -> InterfaceAddress | None:
    import fcntl

    encoded = name.encode("utf-8")[: _IFNAMSIZ - 1]
    try:
        flags = struct.unpack_from("H", _ioctl(fcntl, sock, _SIOCGIFFLAGS, encoded), _IFNAMSIZ)[0]
        if not flags & _IFF_UP:
            return None
        address = _sockaddr(_ioctl(fcntl, sock, _SIOCGIFADDR, encoded))
        netmask = _sockaddr(_ioctl(fcntl, sock, _SIOCGIFNETMASK, encoded))
        broadcast = None
        if flags & _IFF_BROADCAST:
            broadcast = _sockaddr(_ioctl(fcntl, sock, _SIOCGIFBRDADDR, encoded))
    except OSError as error:
        # No IPv4 address, or the interface vanished between listing and asking.
        if error.errno in (errno.EADDRNOTAVAIL, errno.ENODEV, errno.ENXIO):
            return None
        raise
    if broadcast is not None and broadcast.is_unspecified:
        broadcast = None
    return InterfaceAddress(
        name=name,
        address=address,
        netmask=netmask,
        broadcast=broadcast,
        loopback=bool(flags & _IFF_LOOPBACK),
    )


def _ioctl(fcntl_module, sock: socket.socket, request: int, name: bytes) -> bytes:
    return fcntl_module.ioctl(sock.fileno(), request, struct.pack(f"{_IFREQ_SIZE}s", name))


def _sockaddr(ifreq: bytes) -> ipaddress.IPv4Address:
    # struct ifreq: 16-byte name, then a sockaddr_in: family, port, address.
    return ipaddress.IPv4Address(ifreq[_IFNAMSIZ + 4 : _IFNAMSIZ + 8])
