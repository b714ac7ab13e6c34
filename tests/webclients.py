"""Hand-written HTTP and WebSocket clients for the web door's tests, over a real TCP (or TLS) connection."""

import base64
import json
import os
from typing import Any

from twisted.internet import defer, protocol, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, wrapClientTLS
from twisted.trial.unittest import TestCase

from tests.realserver import FrameQueue, close_at_cleanup
from tests.wsframes import TEXT, masked_frame, parse_head, server_messages


class WebSocketClient(FrameQueue, protocol.Protocol):
    """Opens ``/ws`` with ``origin`` (``None``: no Origin header) and queues
    every text message as a frame; ``messages`` keeps every (opcode, payload)."""

    def __init__(self, host: str, origin: str | None, *, session_list: bool = False, path: str = "/ws") -> None:
        super().__init__(session_list=session_list)
        self.host = host
        self.origin = origin
        self.path = path
        self.handshake: defer.Deferred[tuple[int, dict[str, list[str]], bytes]] = defer.Deferred()
        self.messages: list[tuple[int, bytes]] = []
        self.upgraded = False
        self.status: int | None = None
        """The handshake's HTTP status (101 when upgraded), and its headers (names lower case)."""
        self.headers: dict[str, list[str]] = {}
        self._buffer = b""

    def connectionMade(self) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {self.path} HTTP/1.1",
            f"Host: {self.host}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if self.origin is not None:
            lines.append(f"Origin: {self.origin}")
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        if not self.upgraded:
            head, found, rest = self._buffer.partition(b"\r\n\r\n")
            if not found:
                return
            status, headers = parse_head(head)
            self.status, self.headers = status, headers
            self.upgraded = status == 101
            self._buffer = rest
            if not self.handshake.called:
                self.handshake.callback((status, headers, rest))
            if not self.upgraded:
                return
        self._read_frames()

    def _read_frames(self) -> None:
        messages, self._buffer = server_messages(self._buffer)
        for opcode, payload in messages:
            self._message(opcode, payload)

    def _message(self, opcode: int, payload: bytes) -> None:
        self.messages.append((opcode, payload))
        if opcode == TEXT:
            self.frame_received(json.loads(payload))

    def connectionLost(self, reason: Any = None) -> None:
        if not self.handshake.called:
            self.handshake.errback(RuntimeError("closed before answering the handshake"))
        self.lost.callback(None)

    def send_message(self, opcode: int, payload: bytes, **options: Any) -> None:
        self.transport.write(masked_frame(opcode, payload, **options))

    def send_text(self, text: str | bytes) -> None:
        self.send_message(TEXT, text.encode() if isinstance(text, str) else text)

    def send(self, **frame: Any) -> None:
        self.send_text(json.dumps(frame))


def _endpoint(port: int, tls: Any) -> Any:
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=10)
    return endpoint if tls is None else wrapClientTLS(tls, endpoint)


@defer.inlineCallbacks
def open_websocket(
    test: TestCase, port: int, *, origin: str | None = "", tls: Any = None, session_list: bool = False
) -> Any:
    """Open a WebSocket to the web door on ``port`` and close it at cleanup;
    ``origin`` defaults to the page's own; ``tls`` (client TLS options) makes it wss. Returns the client after the
    handshake's answer (upgraded or not: see ``client.status``)."""
    host = f"127.0.0.1:{port}"
    if origin == "":
        origin = f"{'http' if tls is None else 'https'}://{host}"
    client = WebSocketClient(host, origin, session_list=session_list)
    yield connectProtocol(_endpoint(port, tls), client)
    close_at_cleanup(test, client)
    yield client.handshake.addTimeout(10.0, reactor)
    return client


@defer.inlineCallbacks
def connect_web_client(test: TestCase, port: int, **options: Any) -> Any:
    """A WebSocket through the web door, its welcome read (as ``connect_client`` does natively)."""
    client = yield open_websocket(test, port, **options)
    test.assertTrue(client.upgraded)
    welcome = yield client.next()
    test.assertEqual(welcome["type"], "welcome")
    return client


class _HTTPAnswer(protocol.Protocol):
    def __init__(self, request: bytes) -> None:
        self.request = request
        self.data = b""
        self.done: defer.Deferred[bytes] = defer.Deferred()

    def connectionMade(self) -> None:
        self.transport.write(self.request)

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Any = None) -> None:
        self.done.callback(self.data)


@defer.inlineCallbacks
def http_exchange(port: int, request: bytes, *, tls: Any = None) -> Any:
    """Send raw ``request`` bytes and return all the server answers until it closes."""
    answer = _HTTPAnswer(request)
    yield connectProtocol(_endpoint(port, tls), answer)
    data = yield answer.done.addTimeout(10.0, reactor)
    return data


@defer.inlineCallbacks
def http_get(port: int, path: str, *, method: str = "GET", tls: Any = None, headers: str = "") -> Any:
    """``(status, headers, body)`` of one request on its own connection."""
    request = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{headers}\r\n"
    data = yield http_exchange(port, request.encode(), tls=tls)
    head, _, body = data.partition(b"\r\n\r\n")
    status, fields = parse_head(head)
    return status, fields, body
