"""The load generator's WebSocket framing (benchmarks/websocket.py) and its web-door client, without a server.

The literal frames are RFC 6455's own examples (section 5.7); wsproto, the
library under Twisted's WebSocket server, checks the same bytes independently.
"""

import asyncio
import json
from collections.abc import Callable

from twisted.trial.unittest import SynchronousTestCase
from wsproto.frame_protocol import FrameProtocol, Opcode

from benchmarks import websocket
from benchmarks.loadgen import Run, Scenario, WebClient

# RFC 6455, 5.7.
RFC_MASKED_HELLO = bytes.fromhex("818537fa213d7f9f4d5158")
RFC_MASK_KEY = bytes.fromhex("37fa213d")
RFC_UNMASKED_HELLO = bytes.fromhex("810548656c6c6f")
RFC_FRAGMENTED_HELLO = (bytes.fromhex("010348656c"), bytes.fromhex("80026c6f"))
RFC_PING_HELLO = bytes.fromhex("890548656c6c6f")


def server_frame(payload: bytes, opcode: int = websocket.TEXT, final: bool = True) -> bytes:
    """A server's (unmasked) frame, built by hand with the length forms of RFC 6455, 5.2."""
    first = (0x80 if final else 0) | opcode
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size < 1 << 16:
        return bytes((first, 126)) + size.to_bytes(2, "big") + payload
    return bytes((first, 127)) + size.to_bytes(8, "big") + payload


def read_by_server(data: bytes) -> list[tuple[Opcode, str | bytes, bool]]:
    """The frames a WebSocket server (wsproto) reads from ``data``: (opcode, payload, message finished)."""
    reader = FrameProtocol(client=False, extensions=[])
    reader.receive_bytes(data)
    return [(f.opcode, f.payload, f.message_finished) for f in reader.received_frames()]


class ClientFrameTests(SynchronousTestCase):
    def test_the_rfc_example_of_a_masked_text_frame(self) -> None:
        """"Hello" with the mask key 37 fa 21 3d is 0x81 0x85 0x37 0xfa 0x21 0x3d 0x7f 0x9f 0x4d 0x51 0x58."""
        self.assertEqual(websocket.client_frame(b"Hello", key=RFC_MASK_KEY), RFC_MASKED_HELLO)

    def test_each_frame_has_a_new_mask_key_and_a_server_reads_the_text(self) -> None:
        """Two frames of the same text differ (a new key each), and a server unmasks both to the text."""
        frame = json.dumps({"type": "say", "text": "zq1 2 3 ✓"}).encode()
        first, second = websocket.client_frame(frame), websocket.client_frame(frame)
        self.assertNotEqual(first[2:6], second[2:6])
        self.assertEqual(
            read_by_server(first + second), [(Opcode.TEXT, frame.decode(), True), (Opcode.TEXT, frame.decode(), True)]
        )

    def test_the_length_takes_7_16_or_64_bits(self) -> None:
        """125 bytes fit the first length byte, 126 and 65,535 take 126 + 16 bits, 65,536 takes 127 + 64 bits."""
        for size, header in (
            (125, bytes((0x81, 0x80 | 125))),
            (126, bytes((0x81, 0xFE, 0x00, 0x7E))),
            (65535, bytes((0x81, 0xFE, 0xFF, 0xFF))),
            (65536, bytes((0x81, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0))),
        ):
            payload = b"0123456789" * (size // 10) + b"x" * (size % 10)
            frame = websocket.client_frame(payload)
            self.assertEqual(frame[: len(header)], header)
            self.assertEqual(len(frame), len(header) + 4 + size)
            self.assertEqual(read_by_server(frame), [(Opcode.TEXT, payload.decode(), True)])

    def test_a_pong_is_a_masked_control_frame(self) -> None:
        """The answer to a ping carries its payload back in a masked pong (opcode 0xA)."""
        self.assertEqual(read_by_server(websocket.client_frame(b"Hello", websocket.PONG)), [(Opcode.PONG, b"Hello", True)])


class FrameReaderTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reader = websocket.FrameReader()

    def feed(self, data: bytes) -> tuple[list[bytes], list[tuple[int, bytes]]]:
        messages, controls = self.reader.feed(data)
        return [bytes(m) for m in messages], controls

    def test_the_rfc_examples_unmasked_fragmented_and_a_ping(self) -> None:
        """0x81 0x05 "Hello" is one message; 0x01 0x03 "Hel" then 0x80 0x02 "lo" is "Hello" once the last
        fragment is in, and a ping between the fragments is a control frame of its own."""
        self.assertEqual(self.feed(RFC_UNMASKED_HELLO), ([b"Hello"], []))
        self.assertEqual(self.feed(RFC_FRAGMENTED_HELLO[0]), ([], []))
        self.assertEqual(self.feed(RFC_PING_HELLO), ([], [(websocket.PING, b"Hello")]))
        self.assertEqual(self.feed(RFC_FRAGMENTED_HELLO[1]), ([b"Hello"], []))

    def test_extended_lengths(self) -> None:
        """A 256-byte text (0x7E and 16 bits of length) and a 65,536-byte one (0x7F and 64 bits) are read whole."""
        medium, large = b"m" * 256, b"L" * 65536
        self.assertEqual(server_frame(medium)[:4], bytes.fromhex("817e0100"))
        self.assertEqual(server_frame(large)[:10], bytes.fromhex("817f0000000000010000"))
        self.assertEqual(self.feed(server_frame(medium) + server_frame(large)), ([medium, large], []))

    def test_frames_split_across_reads_anywhere(self) -> None:
        """Fed one byte at a time, a run of frames of every length form gives the same messages, in order,
        each once its last byte is in."""
        texts = [b"a", b"b" * 125, b"c" * 126, b"d" * 70000, b'{"type":"message","text":"zq1 2 3"}']
        stream = b"".join(map(server_frame, texts))
        got: list[bytes] = []
        for at in range(len(stream)):
            messages, controls = self.feed(stream[at : at + 1])
            self.assertEqual(controls, [])
            got += messages
        self.assertEqual(got, texts)

    def test_many_frames_in_one_read(self) -> None:
        """One read holding many frames and the start of the next gives the whole ones; the rest waits."""
        stream = server_frame(b"one") + server_frame(b"two") + server_frame(b"three" * 30)
        self.assertEqual(self.feed(stream[:-10]), ([b"one", b"two"], []))
        self.assertEqual(self.feed(stream[-10:]), ([b"three" * 30], []))

    def test_wsproto_server_frames_fragmented_and_long(self) -> None:
        """What a wsproto server sends (a long text, a text in three fragments) reads back as the texts."""
        sender = FrameProtocol(client=False, extensions=[])
        long_text = "é" * 40000
        data = bytes(sender.send_data(long_text, fin=True))
        data += bytes(sender.send_data("frag", fin=False) + sender.send_data("men", fin=False))
        data += bytes(sender.send_data("ted", fin=True))
        self.assertEqual(self.feed(data), ([long_text.encode(), b"fragmented"], []))

    def test_a_close_frame_is_a_control(self) -> None:
        """A close frame (0x88) with its status code comes out as a control frame."""
        self.assertEqual(self.feed(server_frame(b"\x03\xe8", websocket.CLOSE)), ([], [(websocket.CLOSE, b"\x03\xe8")]))

    def test_what_a_server_must_not_send_is_an_error(self) -> None:
        """A masked frame, a binary message, a continuation of nothing, a new message inside a
        fragmented one and a fragmented ping each raise WebSocketError."""
        for stream in (
            RFC_MASKED_HELLO,
            server_frame(b"\x00", websocket.BINARY),
            server_frame(b"lo", websocket.CONTINUATION),
            server_frame(b"Hel", final=False) + server_frame(b"lo"),
            server_frame(b"x", websocket.PING, final=False),
        ):
            with self.assertRaises(websocket.WebSocketError):
                websocket.FrameReader().feed(stream)


class UpgradeTests(SynchronousTestCase):
    def test_the_rfc_example_accept_value(self) -> None:
        """The key "dGhlIHNhbXBsZSBub25jZQ==" is accepted with "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" (RFC 6455, 1.3)."""
        self.assertEqual(websocket.accept_value("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

    def test_the_upgrade_comes_from_the_pages_own_origin(self) -> None:
        """GET /ws with Host and Origin both 127.0.0.1 and the port: the origin the server accepts."""
        request = websocket.upgrade_request("127.0.0.1", 8123, "dGhlIHNhbXBsZSBub25jZQ==").decode()
        self.assertTrue(request.startswith("GET /ws HTTP/1.1\r\n"))
        self.assertTrue(request.endswith("\r\n\r\n"))
        for header in (
            "Host: 127.0.0.1:8123",
            "Origin: http://127.0.0.1:8123",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        ):
            self.assertIn(f"\r\n{header}\r\n", request)

    def test_the_answer_must_be_101_with_the_right_accept(self) -> None:
        """101 with the accept value of the key passes; a 403 or a wrong accept value raises WebSocketError."""
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        websocket.check_upgrade_answer(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
            key,
        )
        with self.assertRaises(websocket.WebSocketError) as refused:
            websocket.check_upgrade_answer(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0", key)
        self.assertIn("403 Forbidden", str(refused.exception))
        with self.assertRaises(websocket.WebSocketError):
            websocket.check_upgrade_answer(b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: x", key)


class FakeTransport:
    """What the generator's client uses of an asyncio transport: the peer, writes, abort."""

    def __init__(self) -> None:
        self.written = b""
        self.aborted = False

    def get_extra_info(self, name: str) -> tuple[str, int]:
        assert name == "peername"
        return ("127.0.0.1", 8123)

    def write(self, data: bytes) -> None:
        self.written += data

    def abort(self) -> None:
        self.aborted = True


def drive_web_client(answers: Callable[[bytes], list[bytes]]) -> tuple[WebClient, FakeTransport]:
    """A generator web client (``web_client``) fed, one read each, what ``answers`` makes of its
    upgrade request; the client, and its transport with what it wrote after the request."""

    async def drive() -> tuple[WebClient, FakeTransport]:
        client, transport = web_client()
        request = transport.written
        transport.written = b""
        for data in answers(request):
            client.data_received(data)
        return client, transport

    return asyncio.run(drive())


def web_client() -> tuple[WebClient, FakeTransport]:
    """A generator web client (client 2 of room 0, session 7, of 3 clients), connected; in a running loop."""
    run = Run(Scenario("T", "test", clients=3, rooms=1, senders=1, messages=1), "web")
    run.rooms[0].set_result(7)
    client = WebClient(run, 2)
    transport = FakeTransport()
    client.connection_made(transport)  # type: ignore[arg-type]
    return client, transport


def answer_of(request: bytes) -> bytes:
    """The server's acceptance of the upgrade ``request``."""
    key = next(line.split(": ")[1] for line in request.decode().split("\r\n") if line.startswith("Sec-WebSocket-Key"))
    return f"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: {websocket.accept_value(key)}\r\n\r\n".encode()


class WebClientTests(SynchronousTestCase):
    def test_the_web_client_joins_with_native_frames_and_counts_deliveries(self) -> None:
        """After the upgrade and the welcome, the client sends its join as one masked text message; measuring,
        it counts the stamped messages in whole frames as a native client counts them in lines."""

        async def drive() -> None:
            client, transport = web_client()
            request = transport.written
            self.assertIn(b"Origin: http://127.0.0.1:8123\r\n", request)
            transport.written = b""
            welcome = server_frame(b'{"type":"welcome","version":1}')
            client.data_received(answer_of(request) + welcome[:3])
            self.assertEqual(transport.written, b"")
            client.data_received(welcome[3:])
            await asyncio.sleep(0)  # the join waits on the room's future, whose callbacks run on the next turn
            join = [json.loads(text) for _, text, _ in read_by_server(transport.written)]
            self.assertEqual(join, [{"type": "join", "session": 7, "username": "usr2"}])
            client.data_received(server_frame(b'{"type":"joined","session":{"id":7}}'))
            self.assertTrue(client.joined.done())
            client.measuring = True
            deliveries = [server_frame(f'{{"type":"message","text":"zq{n} 1 {n}"}}'.encode()) for n in (1, 2)]
            stream = b"".join(deliveries)
            client.data_received(stream[:-5])
            self.assertEqual(client.run.received, 1)
            client.data_received(stream[-5:])
            self.assertEqual(client.run.received, 2)
            self.assertEqual(len(client.run.latencies), 2)
            self.assertTrue(client.run.done.is_set())
            self.assertEqual(client.run.errors, [])

        asyncio.run(drive())

    def test_a_refused_upgrade_fails_the_join_with_the_status(self) -> None:
        """A 403 to the upgrade ends that client's setup with the status line, and the connection is dropped."""
        client, transport = drive_web_client(lambda _: [b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"])
        self.assertTrue(transport.aborted)
        self.assertIn("403 Forbidden", str(client.joined.exception()))
        self.assertIn("403 Forbidden", client.run.errors[0])

    def test_a_ping_is_answered_with_a_pong(self) -> None:
        """A ping from the server gets its payload back in a pong."""
        _, transport = drive_web_client(lambda request: [answer_of(request) + RFC_PING_HELLO])
        self.assertEqual(read_by_server(transport.written), [(Opcode.PONG, b"Hello", True)])
