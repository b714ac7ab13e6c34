"""ICMP echo requests as bytes: building one, and the internet checksum that guards it.

Pure functions, no I/O.  The client builds its probe packets here (sent on a
plain raw socket, so it never waits for scapy), and the sniffer checks the
checksums of what it captures with the same ``internet_checksum``.
"""

from __future__ import annotations

import struct

ICMP_ECHO_REQUEST = 8
_ICMP_HEADER = struct.Struct("!BBHHH")


def internet_checksum(data: bytes) -> int:
    """The RFC 1071 checksum of ``data``.

    Over data that already holds its checksum field, a correct one gives 0.
    """
    padded = data + b"\0" if len(data) % 2 else data
    total = sum(struct.unpack(f"!{len(padded) // 2}H", padded))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def icmp_message(icmp_type: int, ident: int, sequence: int, payload: bytes) -> bytes:
    """An ICMP message (header and ``payload``, code 0) with its checksum filled in."""
    unsummed = _ICMP_HEADER.pack(icmp_type, 0, 0, ident, sequence) + payload
    checksum = internet_checksum(unsummed)
    return _ICMP_HEADER.pack(icmp_type, 0, checksum, ident, sequence) + payload
