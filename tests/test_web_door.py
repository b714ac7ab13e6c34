"""The web door on StringTransport: WebSocket framing, the native protocol through it, and its HTTP side."""

import base64
import json
import os
from unittest import mock

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from glozi.domain.chat import ChatServer
from glozi.domain.history import MessageIds
from glozi.doors.native import wire
from glozi.doors.native.protocol import NativeFactory
from glozi.doors.web import connection as web_connection
from glozi.doors.web.connection import WebSocketFactory
from glozi.doors.web.frames import (
    FrameDecoder,
    MessageTooLong,
    ProtocolViolation,
    accept_key,
    close_frame,
    frame,
    is_valid_key,
    text_messages,
)
from glozi.doors.web.site import make_site
from tests.helpers import SESSION_LIST_EVENTS, TEST_EXIT_CODE, quick_passwords
from tests.wsframes import BINARY, CLOSE, PING, PONG, TEXT, masked_frame, parse_head, server_messages

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
    " object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
)
"""docs/security.md's Content-Security-Policy, literally."""
SECURITY_HEADERS = {
    "content-security-policy": [CSP],
    "x-frame-options": ["DENY"],
    "x-content-type-options": ["nosniff"],
    "referrer-policy": ["no-referrer"],
}
WELCOME_FLOOD = {"burst": 20, "per_second": 5.0}


class WebTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_764_000_000)
        self.chat = ChatServer(
            self.clock, exit_code=TEST_EXIT_CODE, passwords=quick_passwords(), idle_timeout=240,
            message_ids=MessageIds("m"),
        )  # fmt: skip
        self.native = NativeFactory(self.chat, "testbox", writes=None)
        self.websockets = WebSocketFactory(self.chat, "testbox", writes=self.native.writes)


class WebSocketPeer:
    """A WebSocketConnection on a StringTransport, read back as (opcode, payload) messages."""

    def __init__(self, factory: WebSocketFactory, host: str = "127.0.0.1") -> None:
        self.clock = factory.chat.clock
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", host, 40000))
        self.protocol = factory.buildProtocol(self.transport.getPeer())
        self.protocol.makeConnection(self.transport)
        [self.welcome] = self.frames()

    def feed(self, *frames: bytes) -> None:
        self.clock.advance(0.25)
        self.protocol.dataReceived(b"".join(frames))

    def send(self, frame: dict) -> list[dict]:
        self.feed(masked_frame(TEXT, json.dumps(frame).encode()))
        return self.frames()

    def messages(self) -> list[tuple[int, bytes]]:
        messages, rest = server_messages(self.transport.value())
        assert rest == b"", rest
        self.transport.clear()
        return messages

    def frames(self) -> list[dict]:
        """The text messages since the last read, as frames (session-list events left out)."""
        frames = []
        for opcode, payload in self.messages():
            assert opcode == TEXT, (opcode, payload)
            frame = wire.parse_frame(payload)
            if frame["type"] not in SESSION_LIST_EVENTS:
                frames.append(frame)
        return frames


class NativeThroughWebSocketTests(WebTestCase):
    def test_welcome_is_the_native_welcome_in_one_text_message(self) -> None:
        """The first message is the native door's welcome, the same frame, as one text message."""
        peer = WebSocketPeer(self.websockets)
        self.assertEqual(peer.welcome["type"], "welcome")
        self.assertEqual(peer.welcome["flood"], WELCOME_FLOOD)
        # A connection's own part (files: its download token, null here) comes on top of the factory's.
        self.assertEqual(peer.welcome, {**self.native.welcome(), "files": None})

    def test_each_text_message_is_one_frame_answered_by_one_message(self) -> None:
        """A ping with an id in one text message gets one pong text message with that id, no newline."""
        peer = WebSocketPeer(self.websockets)
        peer.feed(masked_frame(TEXT, b'{"type":"ping","id":1}'), masked_frame(TEXT, b'{"type":"ping","id":2}'))
        self.assertEqual(peer.messages(), [(TEXT, b'{"type":"pong","id":1}'), (TEXT, b'{"type":"pong","id":2}')])

    def test_a_fragmented_text_message_is_one_frame(self) -> None:
        """A text message in three fragments (with a ping between them) is one frame."""
        peer = WebSocketPeer(self.websockets)
        peer.feed(
            masked_frame(TEXT, b'{"type":', final=False),
            masked_frame(PING, b"are you there"),
            masked_frame(0x0, b'"ping",', final=False),
            masked_frame(0x0, b'"id":"f"}'),
        )
        self.assertEqual(peer.messages(), [(PONG, b"are you there"), (TEXT, b'{"type":"pong","id":"f"}')])

    def test_two_objects_in_one_message_are_bad_json(self) -> None:
        """A message holds exactly one frame: two objects in it are bad_json, and the connection stays."""
        peer = WebSocketPeer(self.websockets)
        peer.feed(masked_frame(TEXT, b'{"type":"ping"}{"type":"ping"}'))
        [refused] = peer.frames()
        self.assertEqual(refused["code"], "bad_json")
        self.assertFalse(peer.transport.disconnecting)

    def test_binary_message_is_bad_json_and_spends_the_budget(self) -> None:
        """A binary message gets bad_json (no id); 21 in a burst: the 21st gets the native door's flood error."""
        peer = WebSocketPeer(self.websockets)
        peer.protocol.dataReceived(masked_frame(BINARY, b'{"type":"ping","id":3}') * 21)
        answers = peer.frames()
        self.assertEqual([frame["code"] for frame in answers], ["bad_json"] * 20 + ["flood"])
        self.assertNotIn("id", answers[0])

    def test_invalid_utf8_in_a_text_message_is_bad_utf8(self) -> None:
        """The bytes of a text message are checked as a native line is: bad_utf8, and the connection stays."""
        peer = WebSocketPeer(self.websockets)
        peer.feed(masked_frame(TEXT, b'{"type":"say","text":"\xff"}'))
        [refused] = peer.frames()
        self.assertEqual(refused["code"], "bad_utf8")
        self.assertFalse(peer.transport.disconnecting)

    def test_flood_answers_are_the_native_doors(self) -> None:
        """20 pings then 50 more in one read: the same answers as the native door gives, frame for frame:
        ``flood`` for the 21st (with its id, no ``retry_after``), then ``flood`` for the 70th and the close."""
        lines = [{"type": "ping"}] * 20 + [{"type": "ping", "id": f"over{n}"} for n in range(1, 51)]
        peer = WebSocketPeer(self.websockets)
        peer.protocol.dataReceived(b"".join(masked_frame(TEXT, json.dumps(line).encode()) for line in lines))
        messages = peer.messages()
        self.assertEqual(messages[-1][0], CLOSE)
        web_answers = [wire.parse_frame(payload) for opcode, payload in messages if opcode == TEXT]
        native = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.2", 40000))
        native_protocol = self.native.buildProtocol(native.getPeer())
        native_protocol.makeConnection(native)
        native.clear()
        native_protocol.dataReceived(b"".join(json.dumps(line).encode() + b"\n" for line in lines))
        native_answers = [wire.parse_frame(line) for line in native.value().splitlines()]
        self.assertEqual(web_answers, native_answers)
        errors = [frame for frame in web_answers if frame["type"] == "error"]
        self.assertEqual(
            errors,
            [
                {"type": "error", "code": "flood", "message": "You are sending too fast; lines are being dropped.", "id": "over1"},
                {"type": "error", "code": "flood", "message": "You kept sending too fast; closing the connection.", "id": "over50"},
            ],
        )
        self.assertTrue(peer.transport.disconnecting)

    def test_4096_bytes_are_a_frame_4097_close_with_line_too_long(self) -> None:
        """A 4,096-byte message is handled; a longer one is refused from its header alone:
        ``line_too_long``, a close frame with 1009, the connection closed."""
        peer = WebSocketPeer(self.websockets)
        padded = b'{"type":"ping","id":1' + b" " * (4096 - 22) + b"}"
        self.assertEqual(len(padded), 4096)
        self.assertEqual(peer.send(json.loads(padded)), [{"type": "pong", "id": 1}])
        peer.feed(masked_frame(TEXT, padded))
        self.assertEqual(peer.frames(), [{"type": "pong", "id": 1}])
        # Only the header of a 1 MB message: it is refused before its bytes come.
        peer.feed(masked_frame(TEXT, b"x" * (1 << 20))[:14])
        [(_, error), (opcode, close)] = peer.messages()
        self.assertEqual(wire.parse_frame(error)["code"], "line_too_long")
        self.assertEqual((opcode, close[:2]), (CLOSE, (1009).to_bytes(2, "big")))
        self.assertTrue(peer.transport.disconnecting)

    def test_4097_bytes_ending_in_cr_are_a_frame_4097_others_close(self) -> None:
        """4,097 bytes are a frame when the last is a \r, as a native line's; 4,097 other bytes: line_too_long, 1009."""
        peer = WebSocketPeer(self.websockets)
        head = b'{"type":"ping","id":1}'
        peer.feed(masked_frame(TEXT, head + b" " * (4096 - len(head)) + b"\r"))
        self.assertEqual(peer.frames(), [{"type": "pong", "id": 1}])
        peer.feed(masked_frame(TEXT, head + b" " * (4097 - len(head))))
        [(_, error), (opcode, close)] = peer.messages()
        self.assertEqual((wire.parse_frame(error)["code"], opcode, close), ("line_too_long", CLOSE, b"\x03\xf1"))
        self.assertTrue(peer.transport.disconnecting)

    def test_a_ping_is_answered_with_a_pong_of_the_same_bytes(self) -> None:
        """A ping control frame gets a pong (opcode 10) with its payload; a pong gets nothing."""
        peer = WebSocketPeer(self.websockets)
        peer.feed(masked_frame(PING, b"hello?"), masked_frame(PONG, b"unasked"))
        self.assertEqual(peer.messages(), [(0xA, b"hello?")])

    def test_frames_before_a_too_long_one_in_the_same_read_are_answered(self) -> None:
        """As native lines before an over-long line: a ping in the same read is answered, then line_too_long."""
        peer = WebSocketPeer(self.websockets)
        peer.feed(masked_frame(TEXT, b'{"type":"ping","id":1}'), masked_frame(TEXT, b" " * 5000))
        [(_, pong), (_, error), (opcode, _)] = peer.messages()
        self.assertEqual((wire.parse_frame(pong), wire.parse_frame(error)["code"], opcode), ({"type": "pong", "id": 1}, "line_too_long", CLOSE))

    def test_nothing_follows_the_close_frame(self) -> None:
        """A member whose connection is closing gets no more messages after its close frame, not even a broadcast."""
        alice, bob = WebSocketPeer(self.websockets), WebSocketPeer(self.websockets)
        alice.send({"type": "join", "session": 2, "username": "alice"})
        bob.send({"type": "join", "session": 2, "username": "bob"})
        alice.frames()
        bob.feed(masked_frame(CLOSE, (1000).to_bytes(2, "big")))
        self.assertEqual([opcode for opcode, _ in bob.messages()], [CLOSE])
        alice.send({"type": "say", "text": "still there?"})
        self.assertEqual(bob.transport.value(), b"")

    def test_fragments_over_the_limit_together_are_refused(self) -> None:
        """Fragments of 3,000 bytes each: the second one makes the message too long."""
        peer = WebSocketPeer(self.websockets)
        peer.feed(masked_frame(TEXT, b" " * 3000, final=False), masked_frame(0x0, b" " * 3000, final=False))
        self.assertEqual(wire.parse_frame(peer.messages()[0][1])["code"], "line_too_long")
        self.assertTrue(peer.transport.disconnecting)

    def test_unmasked_frame_closes_with_protocol_error(self) -> None:
        """A client frame without a mask breaks RFC 6455: close frame 1002, connection closed, no answer."""
        peer = WebSocketPeer(self.websockets)
        peer.feed(bytes((0x81, 15)) + b'{"type":"ping"}')
        [(opcode, payload)] = peer.messages()
        self.assertEqual((opcode, payload[:2]), (CLOSE, (1002).to_bytes(2, "big")))
        self.assertTrue(peer.transport.disconnecting)

    def test_close_from_the_client_is_answered_and_the_member_leaves(self) -> None:
        """A close frame is answered with one, the connection closes, and the other members see the leaver go."""
        alice, bob = WebSocketPeer(self.websockets), WebSocketPeer(self.websockets)
        alice.send({"type": "join", "session": 2, "username": "alice"})
        bob.send({"type": "join", "session": 2, "username": "bob"})
        alice.frames()
        bob.feed(masked_frame(CLOSE, (1000).to_bytes(2, "big")))
        self.assertEqual(bob.messages(), [(CLOSE, b"\x03\xe8")])
        self.assertTrue(bob.transport.disconnecting)
        bob.protocol.connectionLost(None)
        [left] = alice.frames()
        self.assertEqual((left["type"], left["name"]), ("member_left", "bob"))

    def test_a_broadcast_is_framed_once_for_every_web_member(self) -> None:
        """Three web members and a native one: one line said is framed once; the web members get the same bytes."""
        members = [WebSocketPeer(self.websockets) for _ in range(3)]
        native = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.2", 40000))
        native_protocol = self.native.buildProtocol(native.getPeer())
        native_protocol.makeConnection(native)
        native_protocol.dataReceived(b'{"type":"join","session":2,"username":"nat"}\n')
        for number, member in enumerate(members):
            member.send({"type": "join", "session": 2, "username": f"web{number}"})
        for member in members:
            member.frames()
        native.clear()
        with mock.patch.object(web_connection, "text_messages", wraps=web_connection.text_messages) as framing:
            members[0].feed(masked_frame(TEXT, b'{"type":"say","text":"once"}'))
        self.assertEqual(framing.call_count, 2)  # the broadcast once, the sender's ack once
        received = [member.transport.value() for member in members[1:]]
        self.assertEqual(received[0], received[1])
        [message] = [wire.parse_frame(payload) for _, payload in server_messages(received[0])[0]]
        self.assertEqual((message["from"], message["text"]), ("web0", "once"))
        self.assertEqual(wire.parse_frame(native.value())["text"], "once")

    def test_one_transport_write_per_read(self) -> None:
        """Ten pings in one read are answered in one write to the transport."""
        peer = WebSocketPeer(self.websockets)
        with mock.patch.object(peer.transport, "write", wraps=peer.transport.write) as write:
            peer.protocol.dataReceived(masked_frame(TEXT, b'{"type":"ping"}') * 10)
        self.assertEqual(write.call_count, 1)
        self.assertEqual(len(peer.messages()), 10)

    def test_too_many_from_one_source_get_the_native_refusal(self) -> None:
        """Past --max-per-source (20) from one address, a WebSocket gets ``too_many_connections``
        as a text message, then a close frame, and is closed; another address is still served."""
        peers = [WebSocketPeer(self.websockets, "192.0.2.7") for _ in range(20)]
        self.assertEqual(len(peers), 20)
        transport = StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.7", 40000))
        refused = self.websockets.buildProtocol(transport.getPeer())
        refused.makeConnection(transport)
        [(opcode, payload), (last, _)] = server_messages(transport.value())[0]
        self.assertEqual((opcode, wire.parse_frame(payload)["code"], last), (TEXT, "too_many_connections", CLOSE))
        self.assertTrue(transport.disconnecting)
        self.assertEqual(WebSocketPeer(self.websockets, "192.0.2.8").welcome["type"], "welcome")

    def test_a_reader_that_stops_is_dropped_past_the_send_queue(self) -> None:
        """Once the transport says its buffer is full, more than --max-send-queue bytes queued drop the connection."""
        websockets = WebSocketFactory(self.chat, "testbox")
        websockets.max_send_queue = 10_000
        peer = WebSocketPeer(websockets)
        peer.transport.producer.pauseProducing()
        for _ in range(200):
            peer.feed(masked_frame(TEXT, b'{"type":"ping","id":"' + b"p" * 60 + b'"}'))
        self.assertTrue(peer.transport.disconnecting)


class FrameDecoderTests(SynchronousTestCase):
    def test_rfc_6455_accept_key(self) -> None:
        """The accept key of RFC 6455's own example."""
        self.assertEqual(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

    def test_a_frame_split_anywhere_is_read_once_whole(self) -> None:
        """Fed a byte at a time, a 300-byte message (two-byte length) comes out once, whole."""
        decoder = FrameDecoder(4097)
        data = masked_frame(TEXT, b"y" * 300)
        messages = [message for byte in data for message in decoder.feed(bytes([byte]))[0]]
        self.assertEqual([(m.opcode, m.payload) for m in messages], [(TEXT, b"y" * 300)])

    def test_breaches_of_the_rfc_are_refused(self) -> None:
        """Reserved bits, an unknown opcode, a stray continuation, a long or fragmented control frame:
        a ``ProtocolViolation``, after the messages that came before it."""
        for data in (
            bytes((0xC1, 0x80)) + b"\0\0\0\0",
            masked_frame(0x3, b""),
            masked_frame(0x0, b"x"),
            masked_frame(PING, b"x" * 126),
            masked_frame(PING, b"x", final=False),
            masked_frame(TEXT, b"a", final=False) + masked_frame(TEXT, b"b"),
        ):
            messages, error = FrameDecoder(4097).feed(masked_frame(TEXT, b"before") + data)
            self.assertEqual([m.payload for m in messages], [b"before"])
            self.assertIsInstance(error, ProtocolViolation)

    def test_an_eight_byte_length_is_refused_from_the_header(self) -> None:
        """A frame announcing 2**40 bytes is refused from its ten header bytes."""
        header = bytes((0x81, 0x80 | 127)) + (1 << 40).to_bytes(8, "big")
        self.assertEqual(FrameDecoder(4097).feed(header)[0], [])
        self.assertIsInstance(FrameDecoder(4097).feed(header)[1], MessageTooLong)


class SiteTestCase(WebTestCase):
    """A real ``Site`` (the door's) on StringTransports, on the test's clock."""

    def setUp(self) -> None:
        super().setUp()
        self.files = os.path.abspath(self.mktemp())
        os.makedirs(os.path.join(self.files, "icons"))
        for name, content in (
            ("index.html", b"<!DOCTYPE html><title>page</title>"),
            ("app.js", b"export const x = 1;"),
            ("style.css", b"body {}"),
            ("icons/chat.svg", b"<svg/>"),
            (".hidden", b"secret"),
        ):
            with open(os.path.join(self.files, name), "wb") as f:
                f.write(content)
        outside = os.path.join(os.path.dirname(self.files), "outside.txt")
        with open(outside, "wb") as f:
            f.write(b"outside")
        os.symlink(outside, os.path.join(self.files, "link.txt"))
        self.site = make_site(self.websockets, self.files, reactor=self.clock)
        self.site.startFactory()
        self.addCleanup(self.site.stopFactory)

    def connect(self) -> tuple[object, StringTransport]:
        transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40000), hostAddress=IPv4Address("TCP", "127.0.0.1", 8080))
        channel = self.site.buildProtocol(transport.getPeer())
        channel.makeConnection(transport)
        return channel, transport

    def exchange(self, request: bytes) -> tuple[int, dict[str, list[str]], bytes, StringTransport]:
        channel, transport = self.connect()
        channel.dataReceived(request)
        head, _, body = transport.value().partition(b"\r\n\r\n")
        status, headers = parse_head(head)
        return status, headers, body, transport

    def get(self, path: str, extra: str = "") -> tuple[int, dict[str, list[str]], bytes]:
        status, headers, body, _ = self.exchange(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n{extra}\r\n".encode())
        return status, headers, body

    def assert_security_headers(self, headers: dict[str, list[str]]) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.assertEqual(headers.get(name), value, name)
        self.assertNotIn("set-cookie", headers)

    def upgrade(self, origin: str | None = "http://127.0.0.1:8080", host: str = "127.0.0.1:8080", version: str = "13") -> tuple[int, dict[str, list[str]], bytes, StringTransport]:
        lines = [
            "GET /ws HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: keep-alive, Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", f"Sec-WebSocket-Version: {version}",
        ]  # fmt: skip
        if origin is not None:
            lines.append(f"Origin: {origin}")
        return self.exchange(("\r\n".join(lines) + "\r\n\r\n").encode())


class SiteTests(SiteTestCase):
    def test_the_page_at_the_root(self) -> None:
        """``GET /`` is index.html as HTML, with every security header and no cookie."""
        status, headers, body = self.get("/")
        self.assertEqual((status, headers["content-type"], body), (200, ["text/html; charset=utf-8"], b"<!DOCTYPE html><title>page</title>"))
        self.assert_security_headers(headers)

    def test_static_files_and_their_content_types(self) -> None:
        """Under /static/: .js is text/javascript, .css text/css, .svg in a folder image/svg+xml."""
        for path, content_type in (
            ("/static/app.js", "text/javascript; charset=utf-8"),
            ("/static/style.css", "text/css; charset=utf-8"),
            ("/static/icons/chat.svg", "image/svg+xml"),
        ):
            status, headers, _ = self.get(path)
            self.assertEqual((status, headers["content-type"]), (200, [content_type]), path)
            self.assert_security_headers(headers)

    def test_head_has_no_body(self) -> None:
        """HEAD / answers the headers of GET / and no body."""
        status, headers, body, _ = self.exchange(b"HEAD / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n")
        self.assertEqual((status, body), (200, b""))
        self.assert_security_headers(headers)

    def test_nothing_else_is_served(self) -> None:
        """404, with the security headers, for other paths, a folder (no listing), hidden files, and any
        way out (``..``, encoded or not, an encoded ``/``, a link to a file outside the folder)."""
        for path in (
            "/nothing", "/index.html", "/static", "/static/", "/static/icons", "/static/icons/",
            "/static/missing.js", "/static/.hidden", "/static/../outside.txt", "/static/%2e%2e/outside.txt",
            "/static/..%2Foutside.txt", "/static/icons/..%2F..%2Foutside.txt", "/static/%00app.js", "/ws/x",
            "/static/link.txt",
        ):  # fmt: skip
            status, headers, body = self.get(path)
            self.assertEqual(status, 404, path)
            self.assertNotIn(b"outside", body)
            self.assert_security_headers(headers)

    def test_a_request_with_a_body_is_refused_with_413(self) -> None:
        """The page only reads: a POST with a body (length or chunked) gets 413 and the connection closes."""
        for request in (
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 5\r\n\r\nhello",
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ):
            status, headers, _, transport = self.exchange(request)
            self.assertEqual(status, 413)
            self.assert_security_headers(headers)
            self.assertTrue(transport.disconnecting)

    def test_oversized_headers_are_refused(self) -> None:
        """Headers over 16 KiB in all get 400 and the connection closes; one line over 16 KiB closes it at once."""
        many = b"".join(b"X-Header-%d: %s\r\n" % (number, b"a" * 1000) for number in range(17))
        status, _, _, transport = self.exchange(b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        self.assertEqual(status, 400)
        self.assertTrue(transport.disconnecting)
        channel, transport = self.connect()
        channel.dataReceived(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 17000)
        self.assertEqual(transport.value(), b"")
        self.assertTrue(transport.disconnecting)

    def test_a_silent_http_connection_is_closed_after_30_seconds(self) -> None:
        """An HTTP connection that sends nothing is timed out at 30 s (and aborted if it does not go)."""
        _, transport = self.connect()
        self.clock.advance(29)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(1)
        self.assertTrue(transport.disconnecting)


class FrameCodecEdgeTests(SynchronousTestCase):
    """RFC 6455's framing at its edges, with the RFC's own numbers (section 5.2, 5.5)."""

    def test_payload_length_forms_at_125_126_65535_and_65536_bytes(self) -> None:
        """Up to 125 bytes the length is in the second byte; 126 to 65,535 in two more bytes; then in eight."""
        self.assertEqual(frame(0x1, b""), b"\x81\x00")
        self.assertEqual(frame(0x1, b"a" * 125)[:2], b"\x81\x7d")
        self.assertEqual(frame(0x1, b"a" * 126)[:4], b"\x81\x7e\x00\x7e")
        self.assertEqual(frame(0x1, b"a" * 65535)[:4], b"\x81\x7e\xff\xff")
        self.assertEqual(frame(0x1, b"a" * 65536)[:10], b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00")
        for size, header in ((125, 2), (126, 4), (65535, 4), (65536, 10)):
            self.assertEqual(frame(0x2, b"b" * size)[header:], b"b" * size, size)

    def test_close_frame_carries_its_code_and_reason(self) -> None:
        """A close frame is opcode 8 with the status code in two bytes, then the reason."""
        self.assertEqual(close_frame(1000), b"\x88\x02\x03\xe8")
        self.assertEqual(close_frame(1002, "bad"), b"\x88\x05\x03\xeabad")

    def test_a_long_close_reason_is_cut_to_a_125_byte_payload(self) -> None:
        """A control frame's payload is at most 125 bytes: a longer reason is cut there."""
        data = close_frame(1002, "r" * 200)
        self.assertEqual(data[:2], b"\x88\x7d")
        self.assertEqual(data[2:], b"\x03\xea" + b"r" * 123)

    def test_each_native_line_is_one_text_message_without_its_newline(self) -> None:
        """One line is one text message; two lines are two, in order."""
        self.assertEqual(text_messages(b'{"a":1}\n'), b'\x81\x07{"a":1}')
        self.assertEqual(text_messages(b"ab\ncd\n"), b"\x81\x02ab\x81\x02cd")

    def test_a_key_is_16_bytes_in_strict_base64(self) -> None:
        """RFC 6455's example key is one; 15 or 17 bytes, or a character outside base64, are not."""
        self.assertTrue(is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="))
        self.assertFalse(is_valid_key(base64.b64encode(b"x" * 15)))
        self.assertFalse(is_valid_key(base64.b64encode(b"x" * 17)))
        self.assertFalse(is_valid_key(b"dGhlIHNhbXBs!ZSBub25jZQ=="))
        self.assertFalse(is_valid_key(b"not base64"))

    def test_each_reserved_bit_is_refused(self) -> None:
        """RSV1, RSV2 and RSV3 (0x40, 0x20, 0x10) are each a protocol violation with code 1002."""
        for bit in (0x40, 0x20, 0x10):
            data = bytearray(masked_frame(TEXT, b"x"))
            data[0] |= bit
            messages, error = FrameDecoder(4097).feed(bytes(data))
            self.assertEqual(messages, [], bit)
            self.assertIsInstance(error, ProtocolViolation)
            self.assertEqual(error.code, 1002)

    def test_every_violation_closes_with_1002(self) -> None:
        """An unmasked frame, an unknown opcode, a stray continuation, a long or fragmented control frame: 1002."""
        for data in (
            bytes((0x81, 0x01)) + b"x",
            masked_frame(0x3, b""),
            masked_frame(0xB, b""),
            masked_frame(0x0, b"x"),
            masked_frame(PING, b"x" * 126),
            masked_frame(CLOSE, b"x", final=False),
        ):
            error = FrameDecoder(4097).feed(data)[1]
            self.assertIsInstance(error, ProtocolViolation, data[:2])
            self.assertEqual(error.code, 1002)

    def test_control_frame_of_125_bytes_is_read(self) -> None:
        """A ping of 125 bytes is a control frame like any; 126 is refused."""
        messages, error = FrameDecoder(4097).feed(masked_frame(PING, b"p" * 125))
        self.assertEqual(([(m.opcode, m.payload) for m in messages], error), ([(PING, b"p" * 125)], None))

    def test_a_message_at_the_limit_is_read_one_byte_more_is_too_long(self) -> None:
        """A decoder for 4,097 bytes reads a 4,097-byte message and refuses a 4,098-byte one from its header."""
        messages, error = FrameDecoder(4097).feed(masked_frame(TEXT, b"z" * 4097))
        self.assertEqual(([m.payload for m in messages], error), ([b"z" * 4097], None))
        messages, error = FrameDecoder(4097).feed(masked_frame(TEXT, b"z" * 4098)[:8])
        self.assertEqual(messages, [])
        self.assertIsInstance(error, MessageTooLong)
        self.assertEqual(error.limit, 4097)
        self.assertEqual(str(error), "A message is at most 4097 bytes.")

    def test_fragments_are_counted_per_message(self) -> None:
        """Two fragmented messages of 3,000 bytes each, one after the other, are both read: the count starts again."""
        decoder = FrameDecoder(4097)
        one = masked_frame(TEXT, b"a" * 1500, final=False) + masked_frame(0x0, b"b" * 1500)
        messages, error = decoder.feed(one + one)
        self.assertEqual(error, None)
        self.assertEqual([m.payload for m in messages], [b"a" * 1500 + b"b" * 1500] * 2)

    def test_fragments_exactly_at_the_limit_together_are_read(self) -> None:
        """Fragments making 4,097 bytes in all are one message; one byte more in the last one is too long."""
        fragments = masked_frame(TEXT, b"a" * 4000, final=False) + masked_frame(0x0, b"b" * 97)
        messages, error = FrameDecoder(4097).feed(fragments)
        self.assertEqual(([len(m.payload) for m in messages], error), ([4097], None))
        over = masked_frame(TEXT, b"a" * 4000, final=False) + masked_frame(0x0, b"b" * 98)
        self.assertIsInstance(FrameDecoder(4097).feed(over)[1], MessageTooLong)

    def test_after_a_fragmented_message_the_next_has_the_whole_limit(self) -> None:
        """After a message in fragments, the next one may again be 4,097 bytes in fragments, and no more."""
        first = masked_frame(TEXT, b"a" * 10, final=False) + masked_frame(0x0, b"b")
        at_limit = masked_frame(TEXT, b"c" * 4000, final=False) + masked_frame(0x0, b"d" * 97)
        messages, error = FrameDecoder(4097).feed(first + at_limit)
        self.assertEqual(([len(m.payload) for m in messages], error), ([11, 4097], None))
        over = masked_frame(TEXT, b"c" * 4000, final=False) + masked_frame(0x0, b"d" * 98)
        messages, error = FrameDecoder(4097).feed(first + over)
        self.assertEqual([len(m.payload) for m in messages], [11])
        self.assertIsInstance(error, MessageTooLong)

    def test_a_binary_message_in_fragments_keeps_its_opcode(self) -> None:
        """A fragmented message is of its first fragment's opcode."""
        data = masked_frame(BINARY, b"\x00\x01", final=False) + masked_frame(0x0, b"\x02")
        [message] = FrameDecoder(4097).feed(data)[0]
        self.assertEqual((message.opcode, message.payload), (BINARY, b"\x00\x01\x02"))

    def test_an_eight_byte_length_frame_split_in_its_header_is_read_whole(self) -> None:
        """A 65,536-byte message (eight-byte length), its header fed a byte at a time, comes out once."""
        decoder = FrameDecoder(70_000)
        data = masked_frame(BINARY, b"q" * 65536)
        messages = [m for byte in data[:14] for m in decoder.feed(bytes([byte]))[0]]
        messages += decoder.feed(data[14:] + masked_frame(TEXT, b"next"))[0]
        self.assertEqual([(m.opcode, m.payload) for m in messages], [(BINARY, b"q" * 65536), (TEXT, b"next")])

    def test_a_frame_is_refused_from_its_first_two_bytes(self) -> None:
        """An unmasked frame, or a ping in fragments, is refused from the two bytes that say so."""
        self.assertIsInstance(FrameDecoder(4097).feed(b"\x81\x05")[1], ProtocolViolation)
        self.assertIsInstance(FrameDecoder(4097).feed(b"\x09\x80")[1], ProtocolViolation)

    def test_a_two_byte_length_too_long_is_refused_from_its_four_header_bytes(self) -> None:
        """A message announcing 5,000 bytes is refused once its four header bytes are in, before any mask or payload."""
        messages, error = FrameDecoder(4097).feed(b"\x81\xfe" + (5000).to_bytes(2, "big"))
        self.assertEqual(messages, [])
        self.assertIsInstance(error, MessageTooLong)

    def test_every_byte_of_an_eight_byte_length_counts(self) -> None:
        """A length of 2^56 + 5 is too long, not 5: the most significant byte is read too."""
        header = bytes((0x81, 0x80 | 127)) + ((1 << 56) + 5).to_bytes(8, "big")
        self.assertIsInstance(FrameDecoder(4097).feed(header + b"\0\0\0\0" + b"x" * 5)[1], MessageTooLong)

    def test_a_second_frame_cut_anywhere_in_its_header_waits_for_the_rest(self) -> None:
        """After a whole frame, the next one's first 1, 3 or 9 bytes (in each length form) wait for the rest."""
        for size in (1, 126, 65536):
            second = masked_frame(TEXT, b"s" * size)
            for cut in (1, 3, 9)[: 2 if size == 1 else 3]:
                decoder = FrameDecoder(70_000)
                messages, error = decoder.feed(masked_frame(TEXT, b"first") + second[:cut])
                self.assertEqual(([m.payload for m in messages], error), ([b"first"], None), (size, cut))
                self.assertEqual([m.payload for m in decoder.feed(second[cut:])[0]], [b"s" * size], (size, cut))

    def test_a_two_byte_length_frame_split_in_its_header_is_read_whole(self) -> None:
        """A 126-byte message (two-byte length) whose header comes in two reads is read once."""
        decoder = FrameDecoder(4097)
        data = masked_frame(TEXT, b"t" * 126)
        self.assertEqual(decoder.feed(data[:3]), ([], None))
        [message] = decoder.feed(data[3:])[0]
        self.assertEqual(message.payload, b"t" * 126)


class UpgradeTests(SiteTestCase):
    def test_own_origin_is_upgraded_and_welcomed(self) -> None:
        """The page's own Origin: 101 with RFC 6455's accept key and the security headers, then the welcome."""
        status, headers, rest, _ = self.upgrade()
        self.assertEqual(status, 101)
        self.assertEqual(headers["sec-websocket-accept"], ["s3pPLMBiTxaQ9kYGzzhZRbK+xOo="])
        self.assert_security_headers(headers)
        [(opcode, welcome)] = server_messages(rest)[0]
        self.assertEqual((opcode, wire.parse_frame(welcome)["type"]), (TEXT, "welcome"))

    def test_default_ports_compare_equal(self) -> None:
        """``Host: lanbox`` with ``Origin: http://lanbox:80`` (and the other way round) is the same page."""
        self.assertEqual(self.upgrade("http://lanbox:80", host="lanbox")[0], 101)
        self.assertEqual(self.upgrade("http://LANBOX", host="lanbox:80")[0], 101)

    def test_other_origins_and_none_are_refused_with_403(self) -> None:
        """Another host or port, https for this http page, ``null``, two Origins, or none: 403 with the headers."""
        for origin in (
            "http://evil.example:8080", "http://127.0.0.1:8081", "https://127.0.0.1:8080", "null",
            "http://127.0.0.1:8080\r\nOrigin: http://127.0.0.1:8080", None,
        ):  # fmt: skip
            status, headers, body, _ = self.upgrade(origin)
            self.assertEqual(status, 403, origin)
            self.assert_security_headers(headers)
            self.assertNotIn(b"welcome", body)
        self.assertEqual(self.websockets.connections, set())

    def test_other_websocket_versions_get_426(self) -> None:
        """A version other than 13 gets 426 naming version 13."""
        status, headers, _, _ = self.upgrade(version="8")
        self.assertEqual((status, headers["sec-websocket-version"]), (426, ["13"]))

    def test_a_bad_handshake_gets_400(self) -> None:
        """GET /ws without the upgrade headers, or with a key that is not 16 bytes, gets 400."""
        status, _, _ = self.get("/ws", "Origin: http://127.0.0.1:8080\r\nSec-WebSocket-Version: 13\r\n")
        self.assertEqual(status, 400)
        key = base64.b64encode(b"short").decode()
        status, _, _ = self.get(
            "/ws",
            "Origin: http://127.0.0.1:8080\r\nSec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n",
        )
        self.assertEqual(status, 400)

    def test_an_upgraded_connection_outlives_the_http_timeout(self) -> None:
        """After the upgrade the HTTP timeout no longer applies: after a frame, 60 s of quiet keep it open."""
        _, _, _, transport = self.upgrade()
        [connection] = self.websockets.connections
        connection.dataReceived(masked_frame(TEXT, b'{"type":"ping"}'))
        self.clock.advance(60)
        self.assertFalse(transport.disconnecting)


class HTTPConnectionLimitTests(SiteTestCase):
    def connect_from(self, host: str) -> tuple[object, StringTransport]:
        transport = StringTransport(peerAddress=IPv4Address("TCP", host, 40000))
        connection = self.site.buildProtocol(transport.getPeer())
        connection.makeConnection(transport)
        return connection, transport

    def test_past_20_http_connections_from_one_address_get_503(self) -> None:
        """20 HTTP connections from one address are served; the 21st gets 503 (with the security headers)
        and is closed; another address is served; a closed one frees its place."""
        held = [self.connect_from("192.0.2.7") for _ in range(20)]
        self.assertFalse(any(transport.value() for _, transport in held))
        _, refused = self.connect_from("192.0.2.7")
        head, _, body = refused.value().partition(b"\r\n\r\n")
        status, headers = parse_head(head)
        self.assertEqual((status, body), (503, b"Too many connections from 192.0.2.7 (at most 20).\n"))
        self.assert_security_headers(headers)
        self.assertTrue(refused.disconnecting)
        _, other = self.connect_from("192.0.2.8")
        self.assertEqual(other.value(), b"")
        connection, _ = held[0]
        connection.connectionLost(None)
        _, again = self.connect_from("192.0.2.7")
        self.assertEqual(again.value(), b"")

    def test_an_upgraded_connection_counts_as_a_websocket_not_as_http(self) -> None:
        """After 20 WebSocket upgrades from one address, HTTP is still served to it, and the
        21st WebSocket gets the native door's ``too_many_connections`` message."""
        for _ in range(20):
            status, _, _, _ = self.upgrade()
            self.assertEqual(status, 101)
        self.assertEqual(self.get("/")[0], 200)
        _, _, rest, transport = self.upgrade()
        [(opcode, payload), (last, _)] = server_messages(rest)[0]
        self.assertEqual((opcode, wire.parse_frame(payload)["code"], last), (TEXT, "too_many_connections", CLOSE))
        self.assertTrue(transport.disconnecting)
