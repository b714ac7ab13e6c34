"""WebSocket frames and HTTP heads as a test client writes and reads them, in memory (no socket):
shared by the unit tests on StringTransport and the real-TCP clients of ``tests/webclients.py``."""

import os
import struct

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def masked_frame(opcode: int, payload: bytes, *, final: bool = True, mask: bytes | None = None) -> bytes:
    """One client frame, masked as RFC 6455 requires."""
    mask = os.urandom(4) if mask is None else mask
    size = len(payload)
    first = (0x80 if final else 0) | opcode
    if size < 126:
        header = bytes((first, 0x80 | size))
    elif size < 1 << 16:
        header = struct.pack("!BBH", first, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, size)
    return header + mask + bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))


def parse_head(head: bytes) -> tuple[int, dict[str, list[str]]]:
    """An HTTP answer's status code and headers (names lower case)."""
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers


def server_messages(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """The whole server frames at the start of ``data`` as (opcode, payload), and the bytes after them."""
    messages = []
    while len(data) >= 2:
        first, second = data[0], data[1]
        assert not second & 0x80, "a server's frames are never masked"
        assert first & 0x80, "the server sends every message in one frame"
        size, header = second & 0x7F, 2
        if size == 126:
            if len(data) < 4:
                break
            size, header = struct.unpack("!H", data[2:4])[0], 4
        elif size == 127:
            if len(data) < 10:
                break
            size, header = struct.unpack("!Q", data[2:10])[0], 10
        if len(data) < header + size:
            break
        messages.append((first & 0x0F, data[header : header + size]))
        data = data[header + size :]
    return messages, data
