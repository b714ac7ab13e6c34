"""WebSocket framing (RFC 6455), the server's side: pure functions and a decoder.

Server frames are never masked, so one framed message is the same bytes for
every member; the door frames a broadcast once. Client frames are always
masked (RFC 6455, 5.1) and are read by ``FrameDecoder``, bounded by the
longest message it accepts.
"""

import base64
import hashlib
import struct
from dataclasses import dataclass

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OPCODE_CONTINUATION = 0x0
OPCODE_TEXT = 0x1
OPCODE_BINARY = 0x2
OPCODE_CLOSE = 0x8
OPCODE_PING = 0x9
OPCODE_PONG = 0xA
_DATA_OPCODES = frozenset({OPCODE_CONTINUATION, OPCODE_TEXT, OPCODE_BINARY})
_CONTROL_OPCODES = frozenset({OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG})
_MAX_CONTROL_PAYLOAD = 125

CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_TOO_BIG = 1009

_FIN = 0x80
_TWO_BYTE_LENGTH = struct.Struct("!BBH")
_EIGHT_BYTE_LENGTH = struct.Struct("!BBQ")


def accept_key(key: bytes) -> bytes:
    """The ``Sec-WebSocket-Accept`` answering a client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


def is_valid_key(key: bytes) -> bool:
    """Whether ``key`` is a ``Sec-WebSocket-Key``: 16 bytes in base64 (RFC 6455, 4.1)."""
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except ValueError:
        return False


def frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked, unfragmented frame."""
    size = len(payload)
    if size < 126:
        return bytes((_FIN | opcode, size)) + payload
    if size < 1 << 16:
        return _TWO_BYTE_LENGTH.pack(_FIN | opcode, 126, size) + payload
    return _EIGHT_BYTE_LENGTH.pack(_FIN | opcode, 127, size) + payload


def text_messages(lines: bytes) -> bytes:
    """Newline-ended native lines as one text message each (without the newline)."""
    if lines.count(b"\n") == 1:
        return frame(OPCODE_TEXT, lines[:-1])
    return b"".join(frame(OPCODE_TEXT, line) for line in lines.split(b"\n")[:-1])


def close_frame(code: int, reason: str = "") -> bytes:
    """A close frame with a status code and a short reason."""
    return frame(OPCODE_CLOSE, struct.pack("!H", code) + reason.encode("utf-8")[: _MAX_CONTROL_PAYLOAD - 2])


class ProtocolViolation(Exception):
    """The client broke RFC 6455; the connection is closed with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Message:
    """One whole message, or one control frame, from the client."""

    opcode: int
    payload: bytes


def _unmask(payload: bytes, mask: bytes) -> bytes:
    # One big-integer XOR instead of a Python loop over the bytes.
    size = len(payload)
    key = (mask * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(size, "little")


class FrameDecoder:
    """Turns the client's bytes into messages and control frames.

    A message (all its fragments together) longer than ``max_message``
    bytes is a ``MessageTooLong`` as soon as its length is known, before its
    bytes are buffered; any other breach of RFC 6455 a ``ProtocolViolation``.
    After either, the decoder reads nothing more.
    """

    def __init__(self, max_message: int) -> None:
        self.max_message = max_message
        self._buffer = b""
        self._fragments: list[bytes] = []
        self._fragments_size = 0
        self._fragmented_opcode: int | None = None

    def feed(self, data: bytes) -> "tuple[list[Message], ProtocolViolation | MessageTooLong | None]":
        """The messages and control frames completed by ``data``, in order,
        and what was wrong after them (``None``: nothing)."""
        buffer = self._buffer + data if self._buffer else data
        messages: list[Message] = []
        offset = 0
        try:
            while True:
                parsed = self._frame_at(buffer, offset)
                if parsed is None:
                    break
                offset, message = parsed
                if message is not None:
                    messages.append(message)
        except (ProtocolViolation, MessageTooLong) as error:
            self._buffer = b""
            return messages, error
        self._buffer = buffer[offset:]
        return messages, None

    def _frame_at(self, buffer: bytes, offset: int) -> tuple[int, Message | None] | None:
        """Read the frame starting at ``offset``: the offset after it and its
        message (``None`` for a fragment of an unfinished one); ``None`` when
        the frame is not all there yet."""
        if len(buffer) - offset < 2:
            return None
        first, second = buffer[offset], buffer[offset + 1]
        if first & 0x70:
            raise ProtocolViolation(CLOSE_PROTOCOL_ERROR, "No extension was agreed, so the reserved bits must be 0.")
        if not second & 0x80:
            raise ProtocolViolation(CLOSE_PROTOCOL_ERROR, "A client's frames must be masked.")
        final, opcode, size = bool(first & _FIN), first & 0x0F, second & 0x7F
        header = 2
        if size == 126:
            if len(buffer) - offset < 4:
                return None
            size = int.from_bytes(buffer[offset + 2 : offset + 4], "big")
            header = 4
        elif size == 127:
            if len(buffer) - offset < 10:
                return None
            size = int.from_bytes(buffer[offset + 2 : offset + 10], "big")
            header = 10
        self._check(opcode, final, size)
        end = offset + header + 4 + size
        if len(buffer) < end:
            return None
        mask = buffer[offset + header : offset + header + 4]
        payload = _unmask(buffer[offset + header + 4 : end], mask)
        return end, self._message(opcode, final, payload)

    def _check(self, opcode: int, final: bool, size: int) -> None:
        """Refuse a frame from its header alone, before reading its payload."""
        if opcode in _CONTROL_OPCODES:
            if not final or size > _MAX_CONTROL_PAYLOAD:
                raise ProtocolViolation(CLOSE_PROTOCOL_ERROR, "A control frame is one frame of at most 125 bytes.")
            return
        if opcode not in _DATA_OPCODES:
            raise ProtocolViolation(CLOSE_PROTOCOL_ERROR, f"Unknown opcode {opcode}.")
        if (opcode == OPCODE_CONTINUATION) != (self._fragmented_opcode is not None):
            raise ProtocolViolation(CLOSE_PROTOCOL_ERROR, "A continuation frame must follow an unfinished message.")
        if self._fragments_size + size > self.max_message:
            raise MessageTooLong(self.max_message)

    def _message(self, opcode: int, final: bool, payload: bytes) -> Message | None:
        if opcode in _CONTROL_OPCODES:
            return Message(opcode, payload)
        if opcode != OPCODE_CONTINUATION:
            self._fragmented_opcode = opcode
        if not final:
            self._fragments.append(payload)
            self._fragments_size += len(payload)
            return None
        whole_opcode = self._fragmented_opcode
        assert whole_opcode is not None
        if self._fragments:
            self._fragments.append(payload)
            payload = b"".join(self._fragments)
            self._fragments = []
            self._fragments_size = 0
        self._fragmented_opcode = None
        return Message(whole_opcode, payload)


class MessageTooLong(Exception):
    """A message is longer than the decoder accepts."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"A message is at most {limit} bytes.")
        self.limit = limit
