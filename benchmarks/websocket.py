"""The load generator's side of a WebSocket (RFC 6455): the upgrade, masked frames out, the server's frames in.

Hand-written so that the generator's own CPU per message stays small: a
frame's header is read with ``struct`` from the buffer as it came, and its
payload is a ``memoryview`` slice of it, never walked byte by byte in Python.
The server's frames are unmasked (RFC 6455, 5.1); a client's are masked with a
new key each (5.3), the XOR done on whole integers.
"""

import base64
import hashlib
import os
import struct

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
# RFC 6455, 1.3: appended to the client's key, hashed, base64: the server's accept value.
_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_FIN = 0x80
_MASKED = 0x80
_U16 = struct.Struct("!H")
_U64 = struct.Struct("!Q")
# A control frame's payload is at most 125 bytes (RFC 6455, 5.5).
_MAX_CONTROL = 125
# Bytes of the server's answer to the upgrade before its blank line, at most.
MAX_UPGRADE_ANSWER = 16 * 1024


class WebSocketError(Exception):
    """The server broke the protocol (or refused the upgrade); the connection is of no more use."""


def new_key() -> str:
    """A fresh ``Sec-WebSocket-Key``: 16 random bytes, base64."""
    return base64.b64encode(os.urandom(16)).decode()


def accept_value(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server must answer ``key`` with."""
    return base64.b64encode(hashlib.sha1(key.encode() + _ACCEPT_GUID).digest()).decode()


def upgrade_request(host: str, port: int, key: str, path: str = "/ws") -> bytes:
    """The HTTP/1.1 upgrade to a WebSocket at ``path``, from the page's own origin
    (``http://host:port``: the server refuses any other)."""
    return (
        f"GET {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        f"Origin: http://{host}:{port}\r\n"
        "\r\n"
    ).encode()


def check_upgrade_answer(head: bytes, key: str) -> None:
    """Raise ``WebSocketError`` unless ``head`` (the answer up to its blank line) accepts the upgrade of ``key``."""
    status, *header_lines = head.decode("latin-1").split("\r\n")
    if status.split(" ", 2)[1:2] != ["101"]:
        raise WebSocketError(f"upgrade refused: {status}")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("sec-websocket-accept") != accept_value(key):
        raise WebSocketError(f"wrong Sec-WebSocket-Accept: {headers.get('sec-websocket-accept')!r}")


def mask(payload: bytes, key: bytes) -> bytes:
    """``payload`` XOR the 4-byte ``key`` repeated (RFC 6455, 5.3); masking twice unmasks."""
    size = len(payload)
    if not size:
        return b""
    keys = (key * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(keys, "big")).to_bytes(size, "big")


def client_frame(payload: bytes, opcode: int = TEXT, key: bytes | None = None) -> bytes:
    """One final, masked client frame (a new random mask key unless ``key`` is given)."""
    key = os.urandom(4) if key is None else key
    size = len(payload)
    if size < 126:
        head = bytes((_FIN | opcode, _MASKED | size))
    elif size < 1 << 16:
        head = bytes((_FIN | opcode, _MASKED | 126)) + _U16.pack(size)
    else:
        head = bytes((_FIN | opcode, _MASKED | 127)) + _U64.pack(size)
    return head + key + mask(payload, key)


class FrameReader:
    """The server's frames on one connection, read as they come in chunks of any size.

    ``feed`` returns the messages completed by a chunk (a fragmented one
    once its last fragment is in) and the control frames in it; a frame cut
    by the end of a chunk waits for the next.
    """

    def __init__(self) -> None:
        self._tail = b""
        self._fragments: list[bytes] = []

    def feed(self, data: bytes) -> tuple[list[bytes | memoryview], list[tuple[int, bytes]]]:
        """(text messages, [(opcode, payload)] of close/ping/pong) completed by ``data``.

        Raises ``WebSocketError`` on a masked frame, reserved bits, a binary
        message, a continuation with no message to continue, a new message
        inside a fragmented one, or a bad control frame.
        """
        buf = self._tail + data if self._tail else data
        view = memoryview(buf)
        end = len(buf)
        pos = 0
        messages: list[bytes | memoryview] = []
        controls: list[tuple[int, bytes]] = []
        while end - pos >= 2:
            first, second = buf[pos], buf[pos + 1]
            # The common frame first: a whole short text message, outside any fragmented one.
            if first == _FIN | TEXT and second < 126 and not self._fragments:
                stop = pos + 2 + second
                if stop > end:
                    break
                messages.append(view[pos + 2 : stop])
                pos = stop
                continue
            size = second & 0x7F
            start = pos + 2
            if size == 126:
                if end - pos < 4:
                    break
                (size,) = _U16.unpack_from(buf, start)
                start += 2
            elif size == 127:
                if end - pos < 10:
                    break
                (size,) = _U64.unpack_from(buf, start)
                start += 8
            stop = start + size
            if stop > end:
                break
            if second & _MASKED or first & 0x70:
                raise WebSocketError(f"a masked frame or reserved bits from the server: {first:#04x} {second:#04x}")
            opcode, final = first & 0x0F, first & _FIN
            payload = view[start:stop]
            if opcode >= CLOSE:
                if not final or size > _MAX_CONTROL:
                    raise WebSocketError(f"a fragmented or over-long control frame ({opcode:#x}, {size} bytes)")
                controls.append((opcode, bytes(payload)))
            elif opcode == TEXT and not self._fragments:
                if final:
                    messages.append(payload)
                else:
                    self._fragments.append(bytes(payload))
            elif opcode == CONTINUATION and self._fragments:
                self._fragments.append(bytes(payload))
                if final:
                    messages.append(b"".join(self._fragments))
                    self._fragments = []
            else:
                raise WebSocketError(f"an unexpected frame (opcode {opcode:#x}) from the server")
            pos = stop
        self._tail = buf[pos:]
        return messages, controls
