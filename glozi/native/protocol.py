"""The native door: a ``LineReceiver`` adapting JSON lines to the chat domain."""

from collections.abc import Callable
from typing import Any

from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

import glozi
from glozi.chat import ChatServer, Participant
from glozi.errors import ChatError
from glozi.events import Event
from glozi.native import wire
from glozi.tracking import TrackingFactory


class NativeProtocol(LineReceiver):
    """One client connection speaking docs/protocol.md."""

    delimiter = b"\n"
    MAX_LENGTH = wire.MAX_LINE_BYTES
    log = Logger()

    factory: "NativeFactory"
    participant: Participant

    def connectionMade(self) -> None:
        self.transport.write(wire.encode_frame(self.factory.welcome()))
        self.factory.opened(self)
        self.participant = self.factory.chat.connect(self)
        self._handlers: dict[type, Callable[[Any], dict[str, Any] | None]] = {
            wire.Hello: self._hello,
            wire.ListSessions: self._list,
            wire.CreateSession: self._create,
            wire.JoinSession: self._join,
            wire.Say: self._say,
            wire.RunCommand: self._command,
            wire.SubmitExitCode: self._exit,
            wire.Ping: self._ping,
        }

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.participant.disconnected()
        self.factory.closed(self)

    def deliver(self, event: Event) -> None:
        self.transport.write(wire.encode_event(event))

    def close(self) -> None:
        self.transport.loseConnection()

    def lineReceived(self, line: bytes) -> None:
        line = line.removesuffix(b"\r")
        if not line.strip():
            return
        request_id: wire.RequestId = None
        try:
            request = wire.parse_request(line)
            request_id = request.request_id
            response = self._handlers[type(request)](request)
        except wire.FrameError as error:
            self._send_error(error, error.request_id)
        except ChatError as error:
            self._send_error(error, request_id)
        # A bug in one handler must cost this frame only, never the connection or the server.
        except Exception:  # noqa: BLE001
            self.log.failure("Handling a frame failed")
            self._send_error(ChatError("internal_error", "The server failed to handle that frame."), request_id)
        else:
            if response is not None:
                self.transport.write(wire.encode_frame(wire.with_id(response, request_id)))

    def lineLengthExceeded(self, line: bytes) -> None:
        error = ChatError(
            "line_too_long",
            f"Lines are at most {wire.MAX_LINE_BYTES} bytes; closing the connection.",
            disconnect=True,
        )
        self._send_error(error, None)

    def _send_error(self, error: ChatError, request_id: wire.RequestId) -> None:
        frame = {"type": "error", "code": error.code, "message": error.message}
        self.transport.write(wire.encode_frame(wire.with_id(frame, request_id)))
        if error.disconnect:
            self.transport.loseConnection()

    def _hello(self, request: wire.Hello) -> dict[str, Any]:
        if request.protocol != wire.PROTOCOL_VERSION:
            raise ChatError(
                "unsupported_protocol",
                f"This server speaks protocol {wire.PROTOCOL_VERSION}, not {request.protocol}.",
                disconnect=True,
            )
        return self.factory.welcome()

    def _list(self, request: wire.ListSessions) -> dict[str, Any]:
        sessions = [wire.session_fields(info) for info in self.participant.list_sessions()]
        return {"type": "sessions", "sessions": sessions}

    def _create(self, request: wire.CreateSession) -> dict[str, Any]:
        joined = self.participant.create(request.name, request.username, request.password)
        return wire.event_frame(joined)

    def _join(self, request: wire.JoinSession) -> dict[str, Any]:
        joined = self.participant.join(request.session_id, request.username, request.password)
        return wire.event_frame(joined)

    def _say(self, request: wire.Say) -> dict[str, Any]:
        return {"type": "ack", "ts": self.participant.say(request.text)}

    def _command(self, request: wire.RunCommand) -> dict[str, Any]:
        text = self.participant.run_command(request.name, request.args)
        return {"type": "reply", "command": request.name.lower(), "text": text}

    def _exit(self, request: wire.SubmitExitCode) -> None:
        self.participant.submit_exit_code(request.code)

    def _ping(self, request: wire.Ping) -> dict[str, Any]:
        return {"type": "pong"}


class NativeFactory(TrackingFactory):
    """Serves the native protocol for one ``ChatServer``."""

    protocol = NativeProtocol

    def __init__(self, chat: ChatServer, server_name: str) -> None:
        super().__init__()
        self.chat = chat
        self.server_name = server_name

    def welcome(self) -> dict[str, Any]:
        return {
            "type": "welcome",
            "protocol": wire.PROTOCOL_VERSION,
            "server": "GloziChat",
            "version": glozi.__version__,
            "name": self.server_name,
            "max_line": wire.MAX_LINE_BYTES,
            "max_text": wire.MAX_TEXT_CHARS,
        }
