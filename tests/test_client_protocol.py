"""The client protocol: requests and answers, events, and the connection's end."""

from typing import Any

from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from glozi.client.protocol import (
    MAX_SERVER_LINE_BYTES,
    ClientProtocol,
    FrameTooLong,
    ProtocolViolation,
    ServerError,
    connect,
    pace_for,
    parse_server_frame,
)
from glozi.domain.chat import ChatServer
from glozi.doors.native import wire
from glozi.doors.native.protocol import NativeFactory
from glozi.limits.flood import FloodControl, Verdict
from tests.helpers import quick_passwords

WELCOME = {"type": "welcome", "protocol": 1, "server": "GloziChat", "version": "0.1.0", "name": "lab"}


class Recorder:
    """A ClientListener that remembers what it was told."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.lost: list[bool] = []
        self.queued: list[int] = []

    def frame_received(self, protocol: ClientProtocol, frame: dict[str, Any]) -> None:
        self.frames.append(frame)

    def connection_lost(self, protocol: ClientProtocol, clean: bool) -> None:
        self.lost.append(clean)

    def queue_changed(self, protocol: ClientProtocol) -> None:
        self.queued.append(protocol.queued)


def sent(transport: StringTransport) -> list[dict[str, Any]]:
    """The frames the client wrote, read with the server's own parser."""
    return [wire.parse_frame(line) for line in transport.value().splitlines()]


def feed(protocol: ClientProtocol, frame: dict[str, Any]) -> None:
    protocol.dataReceived(wire.encode_frame(frame))


class ClientProtocolTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.listener = Recorder()
        self.clock = Clock()
        self.protocol = ClientProtocol(self.listener, clock=self.clock)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)

    def test_welcome_fires_welcomed_and_is_not_an_event(self) -> None:
        """The server's welcome fires ``welcomed`` and is kept, not passed on as an event."""
        feed(self.protocol, WELCOME)
        self.assertEqual(self.successResultOf(self.protocol.welcomed)["name"], "lab")
        self.assertEqual(self.listener.frames, [])

    def test_request_is_one_json_line_with_an_id(self) -> None:
        """A request is written as one line the server's parser accepts, with a fresh id each time."""
        self.protocol.request("join", session=3, username="alice")
        self.protocol.request("list")
        first, second = sent(self.transport)
        self.assertEqual(first, {"type": "join", "session": 3, "username": "alice", "id": 1})
        self.assertEqual(second, {"type": "list", "id": 2})
        self.assertIsInstance(wire.parse_request(self.transport.value().splitlines()[0]), wire.JoinSession)

    def test_answer_fires_its_own_request(self) -> None:
        """Answers are matched to requests by id, whatever their order."""
        first = self.protocol.request("list")
        second = self.protocol.request("ping")
        feed(self.protocol, {"type": "pong", "id": 2})
        feed(self.protocol, {"type": "sessions", "sessions": [], "id": 1})
        self.assertEqual(self.successResultOf(first)["type"], "sessions")
        self.assertEqual(self.successResultOf(second)["type"], "pong")

    def test_error_answer_fails_with_server_error(self) -> None:
        """An error frame fails the request with its code and message."""
        answer = self.protocol.request("join", session=9, username="bob", password="11111")
        feed(
            self.protocol, {"type": "error", "code": "wrong_password", "message": "Wrong password.", "id": 1}
        )
        error = self.failureResultOf(answer, ServerError).value
        self.assertEqual((error.code, error.message), ("wrong_password", "Wrong password."))

    def test_frames_without_id_are_events(self) -> None:
        """Events (no id) go to the listener in order; a CRLF line ending and blank lines are fine."""
        self.protocol.dataReceived(b'{"type":"member_joined","name":"bob","session":1,"joined":1.0}\r\n\n')
        feed(self.protocol, {"type": "message", "from": "bob", "text": "hi", "session": 1, "ts": 2.0})
        self.assertEqual([f["type"] for f in self.listener.frames], ["member_joined", "message"])

    def test_connection_lost_fails_pending_requests(self) -> None:
        """Requests still waiting when the connection drops fail with ConnectionLost; the listener hears it."""
        answer = self.protocol.request("list")
        self.protocol.connectionLost(Failure(ConnectionLost()))
        self.failureResultOf(answer, ConnectionLost)
        self.failureResultOf(self.protocol.welcomed, ConnectionLost)
        self.assertEqual(self.listener.lost, [False])

    def test_disconnect_is_clean(self) -> None:
        """Closing on purpose tells the listener the end was clean."""
        feed(self.protocol, WELCOME)
        self.protocol.disconnect()
        self.assertTrue(self.transport.disconnecting)
        self.protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.listener.lost, [True])

    def test_garbage_drops_the_connection(self) -> None:
        """A line that is not a JSON object with a type closes the connection."""
        self.protocol.dataReceived(b"not json\n")
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.listener.frames, [])

    def test_overlong_line_drops_the_connection(self) -> None:
        """A server line longer than the client's limit closes the connection."""
        self.protocol.dataReceived(b"x" * (MAX_SERVER_LINE_BYTES + 1))
        self.assertTrue(self.transport.disconnecting)

    def test_answer_to_no_request_is_ignored(self) -> None:
        """An answer with an unknown id changes nothing and is not treated as an event."""
        feed(self.protocol, {"type": "pong", "id": 77})
        self.assertEqual(self.listener.frames, [])
        self.assertFalse(self.transport.disconnecting)

    def test_parse_server_frame_requires_a_type(self) -> None:
        """parse_server_frame accepts an object with a string type and nothing else."""
        self.assertEqual(parse_server_frame(b'{"type":"pong"}'), {"type": "pong"})
        for line in (b"[]", b'{"type":3}', b"\xff", b"{"):
            with self.subTest(line=line), self.assertRaises(ProtocolViolation):
                parse_server_frame(line)


class ConnectTests(SynchronousTestCase):
    def test_connect_fires_after_welcome(self) -> None:
        """connect() fires with the protocol only once the welcome arrived."""
        reactor = MemoryReactorClock()
        connecting = connect(reactor, "127.0.0.1", 7557, Recorder())
        host, port, factory = reactor.tcpClients[0][:3]
        self.assertEqual((host, port), ("127.0.0.1", 7557))
        wrapper = factory.buildProtocol(None)
        wrapper.makeConnection(StringTransport())
        self.assertNoResult(connecting)
        wrapper.dataReceived(wire.encode_frame(WELCOME))
        protocol = self.successResultOf(connecting)
        self.assertIsInstance(protocol, ClientProtocol)
        self.assertEqual(protocol.welcome["name"], "lab")
        self.assertEqual(reactor.getDelayedCalls(), [])

    def test_connect_gives_up_without_welcome(self) -> None:
        """A peer that never sends the welcome is dropped after the welcome timeout."""
        reactor = MemoryReactorClock()
        connecting = connect(reactor, "127.0.0.1", 7557, Recorder(), welcome_timeout=3)
        factory = reactor.tcpClients[0][2]
        protocol = factory.buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        reactor.advance(3)
        self.assertTrue(transport.disconnecting)
        protocol.connectionLost(Failure(ConnectionLost()))
        self.failureResultOf(connecting, ConnectionLost)

    def test_cancel_while_waiting_for_welcome_drops_the_connection(self) -> None:
        """Cancelling connect() after the TCP connection but before the welcome closes it and its timer."""
        reactor = MemoryReactorClock()
        connecting = connect(reactor, "127.0.0.1", 7557, Recorder())
        protocol = reactor.tcpClients[0][2].buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        connecting.cancel()
        self.failureResultOf(connecting)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(reactor.getDelayedCalls(), [])


class LoopbackTests(TestCase):
    """The client protocol against the real server protocol over real TCP on 127.0.0.1."""

    async def test_create_join_say_and_kick_over_loopback(self) -> None:
        """Two clients create, join, talk and kick over a real socket, as docs/protocol.md says."""
        from twisted.internet import reactor

        chat = ChatServer(Clock(), exit_code="54321", passwords=quick_passwords())
        server_factory = NativeFactory(chat, "loop")
        port = reactor.listenTCP(0, server_factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        number = port.getHost().port
        alice_events, bob_events = Recorder(), Recorder()
        alice = await connect(reactor, "127.0.0.1", number, alice_events)
        bob = await connect(reactor, "127.0.0.1", number, bob_events)
        self.assertEqual(alice.welcome["name"], "loop")

        joined = await alice.request("create", name="garden", username="alice", password="12345")
        self.assertEqual(joined["you"], "alice")
        session = joined["session"]["id"]
        listed = await bob.request("list")
        self.assertIn(("garden", True), [(s["name"], s["locked"]) for s in listed["sessions"]])
        with self.assertRaises(ServerError) as refused:
            await bob.request("join", session=session, username="bob", password="11111")
        self.assertEqual(refused.exception.code, "wrong_password")
        await bob.request("join", session=session, username="bob", password="12345")
        ack = await bob.request("say", text="hi alice!")
        self.assertIsInstance(ack["ts"], float)
        reply = await alice.request("command", name="kick", args="bob")
        self.assertEqual(reply["text"], "You kicked bob.")
        self.assertEqual(
            [f["type"] for f in alice_events.frames], ["member_joined", "message", "member_left"]
        )
        await until(lambda: any(f["type"] == "left" for f in bob_events.frames))
        [left] = [f for f in bob_events.frames if f["type"] == "left"]
        self.assertEqual(left["reason"], "kicked")

        alice.disconnect()
        bob.disconnect()
        await server_factory.when_all_closed()
        await until(lambda: alice_events.lost and bob_events.lost)
        self.assertEqual(alice_events.lost, [True])


async def until(predicate: Any, seconds: float = 5.0) -> None:
    """Let the reactor run until ``predicate()`` is true (at most ``seconds``)."""
    from twisted.internet import reactor

    for _ in range(int(seconds / 0.01)):
        if predicate():
            return
        await deferLater(reactor, 0.01, lambda: None)
    raise AssertionError("condition not met in time")


class PacingTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.listener = Recorder()
        self.protocol = ClientProtocol(self.listener, clock=self.clock)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)

    def welcome(self, **fields: Any) -> None:
        feed(self.protocol, {**WELCOME, **fields})

    def test_two_hundred_lines_pass_the_servers_own_flood_control(self) -> None:
        """Told a budget of 20 at once and 5 a second, 200 requests at once are written in order
        and paced so that the server's flood control (20, 5) accepts every one of them."""
        self.welcome(flood={"burst": 20, "per_second": 5.0})
        server = FloodControl(self.clock, burst=20, rate=5.0)
        verdicts: list[Verdict] = []
        texts: list[str] = []

        def arrive() -> None:
            for frame in sent(self.transport):
                verdicts.append(server.check())
                texts.append(frame["text"])
            self.transport.clear()

        for number in range(200):
            self.protocol.request("say", text=f"line {number}")
        arrive()
        self.assertLess(len(texts), 20, "the burst is used, not all of it")
        self.assertEqual(self.protocol.queued, 200 - len(texts))
        for _ in range(1000):
            if not self.protocol.queued:
                break
            self.clock.advance(0.05)
            arrive()
        self.assertEqual(texts, [f"line {number}" for number in range(200)])
        self.assertEqual(set(verdicts), {Verdict.ACCEPT})
        self.assertEqual(self.listener.queued[-1], 0, "the listener hears that the queue is empty")
        self.assertGreater(self.clock.seconds() - 1000, (200 - 20) / 5.0, "no faster than 5 a second")

    def test_a_busy_reactor_does_not_catch_up_with_a_burst(self) -> None:
        """The window renders 200 pasted lines for 2 s before the reactor runs again: the first
        burst leaves only then, and what follows it must still pass the server's (20, 5)."""
        self.welcome(flood={"burst": 20, "per_second": 5.0})
        server = FloodControl(self.clock, burst=20, rate=5.0)
        for number in range(200):
            self.protocol.request("say", text=f"line {number}")
        self.clock.advance(2.0)
        verdicts = [server.check() for _ in sent(self.transport)]
        self.transport.clear()
        for _ in range(1000):
            if not self.protocol.queued:
                break
            self.clock.advance(0.05)
            verdicts += [server.check() for _ in sent(self.transport)]
            self.transport.clear()
        self.assertEqual(len(verdicts), 200)
        self.assertEqual(set(verdicts), {Verdict.ACCEPT})

    def test_a_smaller_budget_is_kept_too(self) -> None:
        """A server started with --flood-burst 4 --flood-rate 1: the first lines still pass, none is refused."""
        self.welcome(flood={"burst": 4, "per_second": 1.0})
        server = FloodControl(self.clock, burst=4, rate=1.0)
        for number in range(10):
            self.protocol.request("ping")
        verdicts = []
        for _ in range(400):
            verdicts += [server.check() for _ in sent(self.transport)]
            self.transport.clear()
            self.clock.advance(0.05)
        self.assertEqual(verdicts, [Verdict.ACCEPT] * 10)

    def test_without_flood_in_the_welcome_the_documented_budget_is_assumed(self) -> None:
        """An older server that does not say: 20 at once and 5 a second (docs/protocol.md), less our margin."""
        self.assertEqual(pace_for(WELCOME), (18.0, 4.5))
        self.assertEqual(pace_for({**WELCOME, "flood": {"burst": 10, "per_second": 2.0}}), (8.0, 1.8))

    def test_connection_lost_fails_queued_requests_and_stops_writing(self) -> None:
        """Requests still waiting for the budget fail with ConnectionLost and are never written."""
        self.welcome(flood={"burst": 3, "per_second": 1.0})
        answers = [self.protocol.request("ping") for _ in range(5)]
        self.transport.clear()
        self.protocol.connectionLost(Failure(ConnectionLost()))
        for answer in answers:
            self.failureResultOf(answer, ConnectionLost)
        self.clock.advance(60)
        self.assertEqual(self.transport.value(), b"")


class LineLimitTests(SynchronousTestCase):
    def test_request_over_the_line_limit_is_not_sent(self) -> None:
        """A request longer than the server's max_line fails at once and sends nothing (it would cost the connection)."""
        protocol = ClientProtocol(Recorder())
        transport = StringTransport()
        protocol.makeConnection(transport)
        feed(protocol, {**WELCOME, "max_line": 4096})
        text = "€" * 1500
        self.assertFalse(protocol.fits("say", text=text))
        self.failureResultOf(protocol.request("say", text=text), FrameTooLong)
        self.assertEqual(transport.value(), b"")
        self.assertTrue(protocol.fits("say", text="€" * 1000))
