"""Hostile and careless clients: floods, slow readers, idle sockets, limits, odd text."""

import gc
import json
import socket
import weakref
from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.address import IPv4Address
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.error import ConnectionLost
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from glozi.domain.chat import GUESS_REFUSALS_BEFORE_CLOSE, ChatServer
from glozi.doors.native import wire
from glozi.doors.native.protocol import NativeFactory
from glozi.doors.tracking import ConnectionLimits
from glozi.storage.store import MemoryStore
from tests.helpers import TEST_EXIT_CODE, done, quick_passwords
from tests.realserver import FrameClient
from tests.test_native_protocol import Client, ProtocolTestCase


class NativeHardeningTests(ProtocolTestCase):
    def test_slow_reader_dropped_others_unaffected(self) -> None:
        """A member whose transport stays paused is dropped past the limit; the rest keep getting messages."""
        self.factory.max_send_queue = 10_000
        alice, slow, bob = self.client(), self.client(), self.client()
        for c, name in ((alice, "alice"), (slow, "slow"), (bob, "bob")):
            c.one({"type": "join", "session": 4, "username": name})
        alice.frames()
        slow.frames()
        slow.protocol._send_queue.pauseProducing()
        for n in range(40):
            alice.one({"type": "say", "text": f"{n:04d}" + "x" * 500})
        self.assertTrue(slow.transport.disconnected or slow.transport.disconnecting)
        self.assertEqual(len([f for f in bob.frames() if f["type"] == "message"]), 40)

    def test_lobby_idle_after_leaving(self) -> None:
        """In a session there is no lobby timeout; after leaving, silence at the list closes the connection."""
        alice = self.client()
        alice.one({"type": "create", "name": "garden", "username": "alice"})
        self.clock.advance(self.factory.lobby_idle * 2)
        self.assertFalse(alice.closed)
        alice.send({"type": "command", "name": "quit"})
        self.clock.advance(self.factory.lobby_idle - 1)
        self.assertFalse(alice.closed)
        self.clock.advance(1)
        self.assertEqual(alice.frames()[-1]["code"], "idle")
        self.assertTrue(alice.closed)

    def test_total_connection_limit(self) -> None:
        """Past max_connections in all, new connections are refused with a reason."""
        self.factory.max_connections = 2
        self.client()
        self.client()
        transport = StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.7", 1))
        self.factory.buildProtocol(transport.getPeer()).makeConnection(transport)
        frame = wire.parse_frame(transport.value())
        self.assertEqual(frame["code"], "too_many_connections")
        self.assertIn("full", frame["message"])

    def test_limits_free_up_on_close(self) -> None:
        """Closed connections no longer count against the per-address limit."""
        self.factory.max_per_source = 1
        first = self.client()
        first.protocol.connectionLost(None)
        second = self.client()
        self.assertEqual(second.welcome["type"], "welcome")

    def test_retry_after(self) -> None:
        """Guessing refusals say when to try again, as a number."""
        owner = self.client()
        owner.one({"type": "create", "name": "vault", "username": "owner", "password": "31415"})
        guesser = self.client()
        for guess in range(4):
            guesser.one({"type": "join", "session": 10, "username": "guess", "password": f"0000{guess}"})
        answer = guesser.one({"type": "join", "session": 10, "username": "guess", "password": "00009"})
        self.assertEqual(answer["code"], "too_many_attempts")
        self.assertIsInstance(answer["retry_after"], int)
        self.assertGreaterEqual(answer["retry_after"], 1)

    def test_odd_text(self) -> None:
        """Lone surrogates, C1 controls and line separators are refused; the sender stays connected."""
        alice, bob = self.client(), self.client()
        alice.one({"type": "join", "session": 1, "username": "alice"})
        bob.one({"type": "join", "session": 1, "username": "bob"})
        alice.frames()
        for text in ("x\ud800y", "a\u0085b", "a\u2028b", "a\x7fb"):
            line = json.dumps({"type": "say", "text": text}).encode()
            self.assertEqual(bob.one(line)["code"], "bad_field", repr(text))
        self.assertEqual(bob.one(b'{"type":"ping","id":"\\udc00"}')["code"], "bad_field")
        self.assertEqual(bob.one({"type": "say", "text": "tabs\tand émoji 🎉 are fine"})["type"], "ack")
        self.assertEqual(alice.frames()[-1]["text"], "tabs\tand émoji 🎉 are fine")

    def test_crlf_line_at_limit(self) -> None:
        """A line of exactly the maximum is accepted with either line end; one byte more is not."""
        for ending in (b"\n", b"\r\n"):
            client = Client(self.factory)
            padding = wire.MAX_LINE_BYTES - len(b'{"type":"ping","id":""}')
            line = b'{"type":"ping","id":"' + b"x" * 0 + b'"}' + b" " * padding
            self.assertEqual(len(line), wire.MAX_LINE_BYTES)
            client.protocol.dataReceived(line + ending)
            self.assertEqual(client.frames()[0]["type"], "pong")
            client.protocol.dataReceived(line + b" " + ending)
            self.assertEqual(client.frames()[0]["code"], "line_too_long")


class SlowReaderOverTCPTests(TestCase):
    """The send-queue bound with a real socket and Twisted's own producer calls."""

    timeout = 60

    @defer.inlineCallbacks
    def test_reader_that_stops_is_dropped(self) -> None:
        """A member that stops reading is disconnected; the member who reads gets every message."""
        chat = ChatServer(reactor, exit_code=TEST_EXIT_CODE, passwords=quick_passwords(), idle_timeout=600)
        factory = NativeFactory(chat, "tcp-test", limits=ConnectionLimits(max_send_queue=256 * 1024))
        port = yield TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(factory)
        self.addCleanup(port.stopListening)
        clients = []
        for name in ("reader", "stopper"):
            client = FrameClient()
            yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), client)
            self.addCleanup(client.transport.loseConnection)
            yield client.next()
            joined = yield client.request(type="join", session=1, username=name)
            self.assertEqual(joined["type"], "joined")
            clients.append(client)
        reader, stopper = clients
        yield reader.next()
        # Small kernel buffers on both ends, so the test does not first fill
        # megabytes of loopback autotuned buffers.
        stopper.transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        for protocol in factory.connections:
            protocol.transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        stopper.transport.pauseProducing()
        sender = chat.connect(_Null(), "127.0.0.1")
        done(sender.join(1, "sender"))
        self.addCleanup(sender.disconnected)
        yield reader.next()
        text = "y" * 2000
        count = 0
        # Bounded: at most 20 MB, far past the kernel's loopback buffers plus our limit.
        while count < 10_000 and len(factory.connections) == 2:
            done(sender.say(text))
            count += 1
            if count % 50 == 0:
                yield _turn()
        self.assertEqual(len(factory.connections), 1)
        self.assertLess(count, 10_000)
        received = 0
        while received < count:
            frame = yield reader.next()
            if frame["type"] == "message":
                received += 1
        self.assertEqual(received, count)


class _Null:
    def deliver(self, event: object) -> None:
        pass

    def close(self) -> None:
        pass


def _turn() -> defer.Deferred:
    d: defer.Deferred = defer.Deferred()
    reactor.callLater(0.01, d.callback, None)
    return d


class IRCHardeningTests(SynchronousTestCase):
    """The IRC door keeps the same limits as the native one."""

    def setUp(self) -> None:
        from glozi.doors.irc.protocol import IRCFactory
        from tests.test_irc_protocol import IRCClient

        self.clock = Clock()
        self.chat = ChatServer(self.clock, exit_code=TEST_EXIT_CODE, passwords=quick_passwords(), idle_timeout=240)
        self.factory = IRCFactory(self.chat, "testbox", self.clock)
        self.client_class = IRCClient

    def registered(self, nick: str):
        client = self.client_class(self.factory)
        client.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}")
        return client

    def test_flood_notice_then_excess_flood(self) -> None:
        """At one instant: 20 lines answered, the 21st gets one notice, the 69th is still dropped quietly,
        the 70th ends with ERROR Excess Flood."""
        client = self.registered("flooder")
        self.clock.advance(10)
        lines = client.send(b"PING x\r\n" * 21)
        self.assertEqual([line.command for line in lines], ["PONG"] * 20 + ["NOTICE"])
        self.assertIn("too fast", lines[-1].params[-1])
        self.assertEqual(client.send(b"PING x\r\n" * 48), [])
        self.assertFalse(client.closed)
        lines = client.send(b"PING x\r\n")
        self.assertEqual([line.command for line in lines], ["ERROR"])
        self.assertIn("Excess Flood", lines[-1].params[-1])
        self.assertTrue(client.closed)

    def test_slow_reader_dropped(self) -> None:
        """An IRC member whose transport stays paused is dropped past the send-queue limit."""
        self.factory.max_send_queue = 5_000
        slow = self.registered("slow")
        slow.send("JOIN #kiwi")
        slow.protocol._send_queue.pauseProducing()
        talker = self.registered("talker")
        talker.send("JOIN #kiwi")
        for n in range(20):
            self.clock.advance(1)
            talker.send(f"PRIVMSG #kiwi :{n:03d} " + "z" * 400)
        self.assertTrue(slow.transport.disconnected or slow.transport.disconnecting)

    def test_guessing_through_refusals_closes(self) -> None:
        """A key guesser that keeps going through "try again in N s" gets 475s, then ERROR and is closed."""
        owner = self.registered("owner")
        owner.send("JOIN #vault 24680")
        guesser = self.registered("guesser")
        answers = []
        for guess in range(40):
            self.clock.advance(3.5)
            answers += guesser.send(f"JOIN #vault {guess:05d}")
            if guesser.closed:
                break
        self.assertTrue(guesser.closed)
        self.assertEqual(answers[-1].command, "ERROR")
        self.assertIn("Closing the connection", answers[-1].params[-1])
        self.assertEqual({a.command for a in answers[:-1]}, {"475"})
        self.assertNotIn("JOIN", [a.command for a in answers])

    def test_refusal_is_an_irc_error(self) -> None:
        """Past the per-address limit an IRC client gets ERROR and is closed."""
        self.factory.max_per_source = 1
        self.registered("first")
        transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40001))
        self.factory.buildProtocol(transport.getPeer()).makeConnection(transport)
        self.assertTrue(transport.value().startswith(b"ERROR :Closing Link: Too many connections"))
        self.assertTrue(transport.disconnecting)


class _FillingTransport(StringTransport):
    """A transport that, like Twisted's, pauses its producer once more than
    ``buffer_size`` bytes wait to be written (nothing is ever drained here)."""

    buffer_size = 64 * 1024

    def write(self, data: bytes) -> None:
        super().write(data)
        if len(self.value()) > self.buffer_size and self.producer is not None:
            self.producer.pauseProducing()


class BatchAndSendQueueTests(ProtocolTestCase):
    def test_one_large_batch_is_not_a_slow_reader(self) -> None:
        """A reader handed one batch bigger than the limit is kept; writes after the buffer filled count."""
        self.factory.max_send_queue = 10_000
        transport = _FillingTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40100))
        reader = self.factory.buildProtocol(transport.getPeer())
        reader.makeConnection(transport)
        reader.dataReceived(b'{"type":"join","session":6,"username":"reader"}\n')
        talker = self.client()
        talker.one({"type": "join", "session": 6, "username": "talker"})
        with self.factory.writes:
            for n in range(40):
                talker.protocol.participant.say(f"{n:03d} " + "w" * 1900)
        self.assertFalse(transport.disconnecting or transport.disconnected)
        for n in range(10):
            talker.protocol.participant.say(f"late {n:03d} " + "w" * 1900)
        self.assertTrue(transport.disconnected)


class HashingThreadTests(TestCase):
    """Password hashes run one at a time, so a storm cannot multiply scrypt's 16 MiB."""

    @defer.inlineCallbacks
    def test_one_hash_at_a_time(self) -> None:
        """Several hashes asked for at once never run concurrently."""
        import threading
        import time

        from glozi.storage.passwords import OneHashingThread

        runner = OneHashingThread()
        self.addCleanup(lambda: runner._pool.stop() if runner._pool is not None else None)
        lock = threading.Lock()
        running = [0]
        most = [0]

        def work() -> None:
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.02)
            with lock:
                running[0] -= 1

        yield defer.gatherResults([runner(work) for _ in range(5)])
        self.assertEqual(most[0], 1)


class _HeldStore(MemoryStore):
    """A store whose writes commit only when the test says so."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[defer.Deferred[None]] = []

    def add_message(self, message: Any) -> "defer.Deferred[None]":
        super().add_message(message)
        held: defer.Deferred[None] = defer.Deferred()
        self.held.append(held)
        return held


class LateAnswerTests(SynchronousTestCase):
    """An answer that comes after its connection is gone schedules nothing for it.

    A timer left behind would keep the closed connection's objects alive until
    it fires (half an hour for the session list's idle timeout)."""

    def test_native_ack_after_disconnect(self) -> None:
        clock = Clock()
        store = _HeldStore()
        chat = ChatServer(clock, exit_code=TEST_EXIT_CODE, passwords=quick_passwords(), store=store)
        client = Client(NativeFactory(chat, "testbox"))
        client.test_case = self
        client.one({"type": "join", "session": 1, "username": "alice"})
        client.send({"type": "say", "text": "last words"})
        client.protocol.connectionLost(Failure(ConnectionLost()))
        for held in store.held:
            held.callback(None)
        timers = [
            call for call in clock.getDelayedCalls() if getattr(call.func, "__self__", None) is client.protocol
        ]
        self.assertEqual(timers, [])


class FreedAtOnceTests(SynchronousTestCase):
    """A closed connection's objects are freed when it closes, not at the next
    cycle collection: under load that collection is rare (glozi/process/memory.py),
    and what waits for it raises the server's memory high-water mark."""

    def setUp(self) -> None:
        from glozi.doors.irc.protocol import IRCFactory

        self.clock = Clock()
        self.chat = ChatServer(self.clock, exit_code=TEST_EXIT_CODE, passwords=quick_passwords(), idle_timeout=240)
        self.factories = {"native": NativeFactory(self.chat, "testbox"), "irc": IRCFactory(self.chat, "testbox", self.clock)}
        gc.disable()
        self.addCleanup(gc.enable)

    def closed_and_dropped(self, door: str, lines: list[bytes]) -> list[weakref.ref]:
        transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40000))
        protocol = self.factories[door].buildProtocol(transport.getPeer())
        protocol.makeConnection(transport)
        for line in lines:
            self.clock.advance(0.5)
            protocol.dataReceived(line)
        watched = [weakref.ref(protocol), weakref.ref(protocol.participant), weakref.ref(transport)]
        # What a TCP transport does when the peer goes: stop its producer, then tell the protocol.
        transport.producer.stopProducing()
        protocol.connectionLost(Failure(ConnectionLost()))
        return watched

    def test_native(self) -> None:
        join = json.dumps({"type": "join", "session": 1, "username": "alice"}).encode() + b"\n"
        say = json.dumps({"type": "say", "text": "bye"}).encode() + b"\n"
        watched = self.closed_and_dropped("native", [join, say])
        self.assertEqual([ref() for ref in watched], [None, None, None])

    def test_irc(self) -> None:
        lines = [b"NICK cy\r\nUSER cy 0 * :cy\r\n", b"JOIN #lobby\r\n", b"PRIVMSG #lobby :bye\r\n"]
        watched = self.closed_and_dropped("irc", lines)
        self.assertEqual([ref() for ref in watched], [None, None, None])


class OneSessionUnderAttackTests(ProtocolTestCase):
    """A flooder, a password guesser and a member who stops reading, all at
    one session at once: each is cut off, and the two people chatting there
    the whole time lose nothing."""

    def test_attackers_cut_off_people_lose_nothing(self) -> None:
        self.factory.max_send_queue = 10_000
        alice, bob, flooder, stalled = (self.client() for _ in range(4))
        alice.one({"type": "create", "name": "garden", "username": "alice", "password": "24680"})
        for client, name in ((bob, "bob"), (flooder, "flooder"), (stalled, "stalled")):
            joined = client.one({"type": "join", "session": 10, "username": name, "password": "24680"})
            self.assertEqual(joined["type"], "joined")
        stalled.protocol._send_queue.pauseProducing()
        guesser = self.client("192.0.2.66")
        heard: dict[str, list[str]] = {"alice": [], "bob": []}
        acks = 0
        guess_answers: list[dict] = []
        flooder_errors: list[dict] = []

        def collect(name: str, frames: list[dict]) -> None:
            heard[name] += [f["text"] for f in frames if f["type"] == "message" and f["from"] != "flooder"]

        def hang_up_closed() -> None:
            # What TCP does after the server closes a connection: the protocol hears it is gone.
            for client in (flooder, guesser, stalled):
                if client.transport.disconnecting and not client.protocol.gone:
                    if client is flooder:
                        flooder_errors.extend(f for f in client.frames() if f["type"] == "error")
                    client.protocol.connectionLost(Failure(ConnectionLost()))

        for n in range(60):
            for client, name, other in ((alice, "alice", bob), (bob, "bob", alice)):
                frames = client.send({"type": "say", "text": f"{name} {n:02d} " + "z" * 300})
                acks += sum(f["type"] == "ack" for f in frames)
                collect(name, frames)
                collect("bob" if name == "alice" else "alice", other.frames())
            if n == 5 and not flooder.closed:
                flooder.protocol.dataReceived(b'{"type":"say","text":"spam"}\n' * 100)
            if 10 <= n and not guesser.closed:
                answer = guesser.one(
                    {"type": "join", "session": 10, "username": "guess", "password": f"{n:05d}"}
                )
                guess_answers.append(answer)
            hang_up_closed()

        self.assertEqual([f["code"] for f in flooder_errors], ["flood", "flood"])
        self.assertIn("closing the connection", flooder_errors[-1]["message"])
        self.assertTrue(stalled.protocol.gone)
        self.assertTrue(guesser.protocol.gone)
        codes = [answer.get("code", answer["type"]) for answer in guess_answers]
        self.assertEqual(codes[:3], ["wrong_password"] * 3)
        self.assertLessEqual(set(codes), {"wrong_password", "too_many_attempts", "rate_limited"})
        self.assertEqual(codes.count("too_many_attempts"), GUESS_REFUSALS_BEFORE_CLOSE)
        self.assertIn("Closing the connection", guess_answers[-1]["message"])
        self.assertEqual(acks, 120)
        self.assertEqual(heard["alice"], [f"bob {n:02d} " + "z" * 300 for n in range(60)])
        self.assertEqual(heard["bob"], [f"alice {n:02d} " + "z" * 300 for n in range(60)])
        self.assertFalse(alice.closed or bob.closed)
