"""The host's IPv4 interfaces, asked of the kernel, and address choice.

Addresses come from the kernel, never from parsing ``ip``/``ifconfig``
output: ``up_interfaces`` uses ``ioctl`` calls on a socket (Linux
``SIOCGIF*``), which see each interface's primary IPv4 address only;
``local_addresses`` asks rtnetlink, which lists every address (secondary
ones included), for telling real probes from forged ones.  On platforms
without these the lists are empty and callers fall back (see
``glozi.discovery.client``).
"""

from __future__ import annotations

import dataclasses
import errno
import ipaddress
import os
import socket
import struct
import sys
from collections.abc import Callable, Iterable, Mapping

_SIOCGIFFLAGS = 0x8913
_SIOCGIFADDR = 0x8915
_SIOCGIFBRDADDR = 0x8919
_SIOCGIFNETMASK = 0x891B
_IFF_UP = 0x1
_IFF_BROADCAST = 0x2
_IFF_LOOPBACK = 0x8
_IFREQ_SIZE = 40
_IFNAMSIZ = 16

_NETLINK_ROUTE = 0
_RTM_GETADDR = 22
_RTM_NEWADDR = 20
_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_NLM_F_REQUEST = 0x1
_NLM_F_DUMP = 0x300
_IFA_ADDRESS = 1
_IFA_LOCAL = 2
_IFA_BROADCAST = 4
_NLMSG_HEADER = struct.Struct("=IHHII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTATTR = struct.Struct("=HH")
_NETLINK_TIMEOUT_SECONDS = 1.0
_MAX_NETLINK_READS = 1000
"""Bounds the dump loop; a host with this many 64 KiB reads of addresses is not a LAN box."""

LIMITED_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
LOCAL_ADDRESSES_MAX_AGE = 5.0
"""Seconds a snapshot of this host's addresses is trusted before it is read again."""


@dataclasses.dataclass(frozen=True)
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


@dataclasses.dataclass(frozen=True)
class LocalAddresses:
    """A snapshot of this host's IPv4 addresses, to tell real probes from forged ones.

    ``own`` holds every address of every interface; ``subnet_edges`` the
    network and broadcast address of each of their subnets (/31 and /32
    have none); ``broadcasts`` each interface's broadcast addresses, by
    name; ``loopback_interfaces`` the names of loopback interfaces.
    """

    own: frozenset[ipaddress.IPv4Address]
    subnet_edges: frozenset[ipaddress.IPv4Address]
    broadcasts: Mapping[str, frozenset[ipaddress.IPv4Address]]
    loopback_interfaces: frozenset[str]

    @classmethod
    def of(cls, entries: Iterable[InterfaceAddress]) -> LocalAddresses:
        """The snapshot for these interface addresses (``loopback`` marks loopback interfaces)."""
        own: set[ipaddress.IPv4Address] = set()
        edges: set[ipaddress.IPv4Address] = set()
        broadcasts: dict[str, set[ipaddress.IPv4Address]] = {}
        loopback: set[str] = set()
        for entry in entries:
            own.add(entry.address)
            if entry.loopback:
                loopback.add(entry.name)
            interface_broadcasts = broadcasts.setdefault(entry.name, set())
            if entry.broadcast is not None:
                interface_broadcasts.add(entry.broadcast)
                edges.add(entry.broadcast)
            if entry.network.prefixlen < 31:
                edges.update((entry.network.network_address, entry.network.broadcast_address))
                if not entry.loopback:
                    interface_broadcasts.add(entry.network.broadcast_address)
        return cls(
            own=frozenset(own),
            subnet_edges=frozenset(edges),
            broadcasts={name: frozenset(found) for name, found in broadcasts.items()},
            loopback_interfaces=frozenset(loopback),
        )

    def is_probe_destination(self, destination: str, interface: str | None) -> bool:
        """Whether a probe sent to ``destination`` and captured on ``interface`` is for this host.

        True for this host's own addresses, the limited broadcast address and
        the broadcast addresses of ``interface``; a probe to anything else was
        meant for another host and reached us only by flooding.
        """
        address = _ipv4(destination)
        if address is None:
            return False
        return (
            address in self.own
            or address == LIMITED_BROADCAST
            or address in self.broadcasts.get(interface or "", frozenset())
        )

    def is_forged_source(self, source: str, *, local_possible: bool) -> bool:
        """Whether no real client can send from ``source``, so no answer may go there.

        Refused always: multicast, unspecified and reserved (240.0.0.0/4, which
        holds the limited broadcast) addresses, and the network or broadcast
        address of any of this host's subnets.  Loopback addresses and this
        host's own are refused unless ``local_possible``: the probe can only
        have come from this host (a UDP datagram, which the kernel drops as a
        martian when such a source arrives from the network, or a capture on
        a loopback interface).
        """
        address = _ipv4(source)
        if address is None:
            return True
        if address.is_multicast or address.is_unspecified or address.is_reserved or address in self.subnet_edges:
            return True
        return (address.is_loopback or address in self.own) and not local_possible


class LocalAddressCache:
    """Hands out a ``LocalAddresses`` snapshot, read again once it is ``max_age`` seconds old.

    ``seconds`` is a clock (``reactor.seconds`` on the reactor thread,
    ``time.monotonic`` on the sniffer's); ``read`` makes a snapshot.
    """

    def __init__(
        self,
        seconds: Callable[[], float],
        read: Callable[[], LocalAddresses],
        max_age: float = LOCAL_ADDRESSES_MAX_AGE,
    ) -> None:
        self._seconds = seconds
        self._read = read
        self._max_age = max_age
        self._snapshot: LocalAddresses | None = None
        self._read_at = 0.0

    def current(self) -> LocalAddresses:
        """The snapshot, read now if there is none or it is too old."""
        now = self._seconds()
        if self._snapshot is None or now - self._read_at >= self._max_age:
            self._snapshot = self._read()
            self._read_at = now
        return self._snapshot


def local_addresses() -> LocalAddresses:
    """Every IPv4 address of every interface of this host, asked of rtnetlink.

    Returns an empty snapshot on platforms without rtnetlink.  Raises
    ``OSError`` if the kernel does not answer.
    """
    if not sys.platform.startswith("linux"):
        return LocalAddresses.of([])
    return LocalAddresses.of(_netlink_addresses())


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
        flags = _interface_flags(fcntl, sock, encoded)
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


def _netlink_addresses() -> list[InterfaceAddress]:
    """Every IPv4 address from an ``RTM_GETADDR`` dump, on up and down interfaces alike."""
    import fcntl

    request = _NLMSG_HEADER.pack(
        _NLMSG_HEADER.size + _IFADDRMSG.size, _RTM_GETADDR, _NLM_F_REQUEST | _NLM_F_DUMP, 1, 0
    ) + _IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0)
    found: list[InterfaceAddress] = []
    names: dict[int, str] = {}
    with (
        socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_ROUTE) as netlink,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flags_sock,
    ):
        netlink.settimeout(_NETLINK_TIMEOUT_SECONDS)
        netlink.sendto(request, (0, 0))
        for _ in range(_MAX_NETLINK_READS):
            data = netlink.recv(65536)
            offset = 0
            while offset + _NLMSG_HEADER.size <= len(data):
                length, kind, _, _, _ = _NLMSG_HEADER.unpack_from(data, offset)
                if length < _NLMSG_HEADER.size:
                    raise OSError(errno.EPROTO, "malformed rtnetlink message")
                if kind == _NLMSG_DONE:
                    return found
                if kind == _NLMSG_ERROR:
                    code = -struct.unpack_from("=i", data, offset + _NLMSG_HEADER.size)[0]
                    raise OSError(code, f"rtnetlink address dump failed: {os.strerror(code)}")
                if kind == _RTM_NEWADDR:
                    entry = _address_message(data[offset + _NLMSG_HEADER.size : offset + length], names)
                    if entry is not None:
                        found.append(_with_loopback_flag(entry, fcntl, flags_sock))
                offset += (length + 3) & ~3
    raise OSError(errno.EMSGSIZE, "rtnetlink address dump did not end")


def _address_message(body: bytes, names: dict[int, str]) -> InterfaceAddress | None:
    family, prefixlen, _, _, index = _IFADDRMSG.unpack_from(body)
    if family != socket.AF_INET:
        return None
    attributes: dict[int, bytes] = {}
    offset = _IFADDRMSG.size
    while offset + _RTATTR.size <= len(body):
        length, kind = _RTATTR.unpack_from(body, offset)
        if length < _RTATTR.size:
            break
        attributes[kind] = body[offset + _RTATTR.size : offset + length]
        offset += (length + 3) & ~3
    # IFA_LOCAL is this end of a point-to-point link; elsewhere it equals IFA_ADDRESS.
    raw = attributes.get(_IFA_LOCAL) or attributes.get(_IFA_ADDRESS)
    if raw is None or len(raw) != 4:
        return None
    if index not in names:
        try:
            names[index] = socket.if_indextoname(index)
        except OSError:
            return None
    network = ipaddress.IPv4Network(f"{ipaddress.IPv4Address(raw)}/{prefixlen}", strict=False)
    broadcast_raw = attributes.get(_IFA_BROADCAST)
    broadcast = ipaddress.IPv4Address(broadcast_raw) if broadcast_raw and len(broadcast_raw) == 4 else None
    return InterfaceAddress(
        name=names[index],
        address=ipaddress.IPv4Address(raw),
        netmask=network.netmask,
        broadcast=broadcast,
        loopback=False,
    )


def _with_loopback_flag(entry: InterfaceAddress, fcntl_module, sock: socket.socket) -> InterfaceAddress:
    try:
        flags = _interface_flags(fcntl_module, sock, entry.name.encode("utf-8")[: _IFNAMSIZ - 1])
    except OSError:
        # Gone since the dump: its addresses still count as ours for this snapshot.
        return entry
    return dataclasses.replace(entry, loopback=bool(flags & _IFF_LOOPBACK))


def _interface_flags(fcntl_module, sock: socket.socket, name: bytes) -> int:
    return struct.unpack_from("H", _ioctl(fcntl_module, sock, _SIOCGIFFLAGS, name), _IFNAMSIZ)[0]


def _ioctl(fcntl_module, sock: socket.socket, request: int, name: bytes) -> bytes:
    return fcntl_module.ioctl(sock.fileno(), request, struct.pack(f"{_IFREQ_SIZE}s", name))


def _ipv4(text: str) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        return None


def _sockaddr(ifreq: bytes) -> ipaddress.IPv4Address:
    # struct ifreq: 16-byte name, then a sockaddr_in: family, port, address.
    return ipaddress.IPv4Address(ifreq[_IFNAMSIZ + 4 : _IFNAMSIZ + 8])
