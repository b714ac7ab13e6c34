"""A kernel socket filter that passes only incoming IPv4 ICMP echo requests.

scapy turns a filter *string* into bytecode with libpcap, which a fresh
machine may not have (and without which scapy cannot filter at all).  This
filter is therefore written directly in classic BPF and attached with
``SO_ATTACH_FILTER``: no libpcap, and a failure is an ``OSError`` the caller
reports.  It reads the IP header through the kernel's ``SKF_NET_OFF``
offsets, so the same program works on any link type (Ethernet, loopback,
tunnels).  Equivalent to the pcap expression
``inbound and ip and icmp[icmptype] == icmp-echo and ip[6:2] & 0x1fff == 0``,
less frames sent to another host's MAC address (``PACKET_OTHERHOST``, which
pcap cannot express).
"""

from __future__ import annotations

import ctypes
import socket

SO_ATTACH_FILTER = 26
"""``setsockopt`` option number on Linux (``asm-generic/socket.h``)."""

_BPF_LD_W_ABS = 0x20
_BPF_LD_H_ABS = 0x28
_BPF_LD_B_ABS = 0x30
_BPF_LD_B_IND = 0x50
_BPF_LDX_B_MSH = 0xB1
_BPF_JEQ_K = 0x15
_BPF_JSET_K = 0x45
_BPF_RET_K = 0x06

_SKF_AD_OFF = -0x1000
_SKF_AD_PROTOCOL = 0
_SKF_AD_PKTTYPE = 4
_SKF_NET_OFF = -0x100000

_PACKET_OTHERHOST = 3
_PACKET_OUTGOING = 4
_ETH_P_IP = 0x0800
_IPPROTO_ICMP = 1
_ICMP_ECHO_REQUEST = 8
_CAPTURE_BYTES = 2048


def _k(offset: int) -> int:
    return offset & 0xFFFFFFFF


# (code, jump-if-true, jump-if-false, k); jumps are relative to the next instruction.
ECHO_REQUEST_PROGRAM: tuple[tuple[int, int, int, int], ...] = (
    (_BPF_LD_W_ABS, 0, 0, _k(_SKF_AD_OFF + _SKF_AD_PKTTYPE)),
    # Our own outgoing packets: on loopback every packet would otherwise be seen twice.
    (_BPF_JEQ_K, 11, 0, _PACKET_OUTGOING),
    # For another host's MAC: software links (veth, bridges, taps) have no
    # hardware filter, so such frames reach packet sockets without promiscuous
    # mode. The IP stack drops them, and so must we.
    (_BPF_JEQ_K, 10, 0, _PACKET_OTHERHOST),
    (_BPF_LD_W_ABS, 0, 0, _k(_SKF_AD_OFF + _SKF_AD_PROTOCOL)),
    (_BPF_JEQ_K, 0, 8, _ETH_P_IP),
    (_BPF_LD_B_ABS, 0, 0, _k(_SKF_NET_OFF + 9)),
    (_BPF_JEQ_K, 0, 6, _IPPROTO_ICMP),
    (_BPF_LD_H_ABS, 0, 0, _k(_SKF_NET_OFF + 6)),
    # A later fragment has no ICMP header where we would look for one.
    (_BPF_JSET_K, 4, 0, 0x1FFF),
    (_BPF_LDX_B_MSH, 0, 0, _k(_SKF_NET_OFF)),
    (_BPF_LD_B_IND, 0, 0, _k(_SKF_NET_OFF)),
    (_BPF_JEQ_K, 0, 1, _ICMP_ECHO_REQUEST),
    (_BPF_RET_K, 0, 0, _CAPTURE_BYTES),
    (_BPF_RET_K, 0, 0, 0),
)


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def attach_echo_request_filter(sock: socket.socket) -> None:
    """Attach ``ECHO_REQUEST_PROGRAM`` to the packet socket ``sock``.

    Raises ``OSError`` if the kernel refuses it; the socket then has no
    filter and must not be used.
    """
    instructions = (_SockFilter * len(ECHO_REQUEST_PROGRAM))(
        *(_SockFilter(*row) for row in ECHO_REQUEST_PROGRAM)
    )
    program = _SockFprog(len(ECHO_REQUEST_PROGRAM), instructions)
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(program))
