"""The web door's connections: the native protocol, one frame per WebSocket text message.

A ``WebSocketConnection`` is a ``NativeProtocol`` on the WebSocket's TCP (or
TLS) transport: every command, limit and error is the native door's. Only the
framing differs: each text message in is handed to ``lineReceived`` as one
line, and each native line out becomes one text message. A broadcast is
framed once (``encode_event``) and the same bytes go to every member.
"""

from glozi.domain.errors import ChatError
from glozi.domain.events import Event
from glozi.doors.native import wire
from glozi.doors.native.protocol import NativeFactory, NativeProtocol
from glozi.doors.web.frames import (
    CLOSE_NORMAL,
    CLOSE_TOO_BIG,
    OPCODE_BINARY,
    OPCODE_CLOSE,
    OPCODE_PING,
    OPCODE_PONG,
    OPCODE_TEXT,
    FrameDecoder,
    MessageTooLong,
    close_frame,
    frame,
    text_messages,
)

_CACHE_KEY = "web/1"
# A message may carry the "\r" a native line may end with, as the native door allows.
MAX_MESSAGE_BYTES = wire.MAX_LINE_BYTES + 1


def _after_close(data: bytes) -> None:
    """What is sent once the close frame is: nothing."""


def encode_event(event: Event) -> bytes:
    """The text message(s) for ``event``, framed once and cached on the event."""
    data = event.encoded.get(_CACHE_KEY)
    if data is None:
        data = event.encoded[_CACHE_KEY] = text_messages(wire.encode_event(event))
    return data


class WebSocketConnection(NativeProtocol):
    """One browser's connection, after the HTTP upgrade (``glozi/doors/web/site.py``)."""

    factory: "WebSocketFactory"
    _close_sent = False
    _close_code = CLOSE_NORMAL
    """The close frame's status: 1009 once a message was too long, else 1000."""

    def connectionMade(self) -> None:
        self._decoder = FrameDecoder(MAX_MESSAGE_BYTES)
        super().connectionMade()

    def send(self, data: bytes) -> None:
        """Send native lines, each as one text message."""
        self.send_encoded(text_messages(data))

    def shared_bytes(self, event: Event) -> bytes | None:
        # Nothing may follow the close frame.
        if self._close_sent:
            return b""
        return super().shared_bytes(event)

    def dataReceived(self, data: bytes) -> None:
        with self.factory.writes:
            messages, error = self._decoder.feed(data)
            for message in messages:
                # As LineReceiver does: nothing after the message that closed the connection.
                if self.transport.disconnecting:
                    return
                if message.opcode == OPCODE_TEXT:
                    self.lineReceived(message.payload)
                elif message.opcode == OPCODE_BINARY:
                    self._binary_received(message.payload)
                elif message.opcode == OPCODE_PING:
                    self.send_encoded(frame(OPCODE_PONG, message.payload))
                elif message.opcode == OPCODE_CLOSE:
                    self._close_with(CLOSE_NORMAL)
            if error is None or self.transport.disconnecting:
                return
            if isinstance(error, MessageTooLong):
                self.lineLengthExceeded(b"")
            else:
                self.log.info("Closing {peer}: {reason}", peer=self.transport.getPeer(), reason=error.reason)
                self._close_with(error.code, error.reason)

    def _binary_received(self, payload: bytes) -> None:
        """A binary message is not a frame: it spends a line of the budget and is answered ``bad_json``."""
        if self.within_line_budget(payload):
            self._send_error(
                ChatError("bad_json", "A frame is a JSON object in a WebSocket text message, not a binary one."), None
            )
            self._watch_idleness()

    def lineLengthExceeded(self, line: bytes) -> None:
        self._close_code = CLOSE_TOO_BIG
        super().lineLengthExceeded(line)

    def close(self) -> None:
        """Close the WebSocket (a close frame) once everything sent so far is written."""
        self._close_with(self._close_code)

    def _close_with(self, code: int, reason: str = "") -> None:
        if not self._close_sent:
            self._close_sent = True
            self.send_encoded(close_frame(code, reason))
            # Nothing may follow the close frame (RFC 6455, 5.5.1), not even a
            # broadcast that comes before the connection is gone; an instance
            # attribute, so every other delivery pays nothing for the check.
            self.send_encoded = _after_close  # type: ignore[method-assign]
        super().close()


class WebSocketFactory(NativeFactory):
    """The native door's factory for WebSocket connections: the same chat,
    limits and welcome; events framed as text messages."""

    protocol = WebSocketConnection
    encode_event = staticmethod(encode_event)

    def refusal_line(self, message: str) -> bytes:
        return text_messages(super().refusal_line(message)) + close_frame(CLOSE_NORMAL)
