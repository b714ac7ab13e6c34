"""The write path (glozi/doors/directwrite.py): one send when nothing waits,
Twisted's buffer for the rest, the order of bytes kept throughout."""

import errno
import os
import socket
from typing import Any

from twisted.internet import defer, reactor, ssl, tcp
from twisted.internet.endpoints import (
    SSL4ClientEndpoint,
    TCP4ClientEndpoint,
    connectProtocol,
    serverFromString,
)
from twisted.internet.error import ConnectionLost
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactor, StringTransport
from twisted.protocols.basic import LineReceiver
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.trial.unittest import SynchronousTestCase, TestCase

from glozi.domain.chat import ChatServer
from glozi.doors.directwrite import DirectWriter
from glozi.doors.irc.protocol import IRCFactory
from glozi.doors.native.protocol import NativeFactory
from tests.certs import make_self_signed
from tests.helpers import TEST_EXIT_CODE, done, quick_passwords
from tests.realserver import FrameClient


class _Socket:
    """A non-blocking socket that takes what ``accept`` says, then refuses (EAGAIN)."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.accept: list[int | OSError] = []
        """What each next send takes: a byte count, or an error it raises; empty: everything."""

    def setblocking(self, flag: bool) -> None:
        pass

    def fileno(self) -> int:
        return 99

    def send(self, data: memoryview) -> int:
        if not self.accept:
            self.sent.append(bytes(data))
            return len(data)
        taken = self.accept.pop(0)
        if isinstance(taken, OSError):
            raise taken
        self.sent.append(bytes(data[:taken]))
        return taken

    def received(self) -> bytes:
        return b"".join(self.sent)


class _Recorder(Protocol):
    lost: object = None

    def connectionLost(self, reason: object = None) -> None:
        self.lost = reason


class DirectWriteTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = MemoryReactor()
        self.socket = _Socket()
        self.protocol = _Recorder()
        self.connection = tcp.Connection(self.socket, self.protocol, self.reactor)  # type: ignore[arg-type]
        self.connection.connected = 1
        self.writer = DirectWriter(self.connection, 1_048_576, self.fail)

    def _reactor_pass(self) -> object:
        """What the reactor does when the socket is writable: Twisted's own send."""
        self.assertIn(self.connection, self.reactor.getWriters())
        return self.connection.doWrite()

    def test_empty_buffer_one_send_no_registration(self) -> None:
        """With nothing waiting, a write is one send and the socket is never registered for writing."""
        self.writer.write(b"hello\n")
        self.assertEqual(self.socket.sent, [b"hello\n"])
        self.assertEqual(self.reactor.getWriters(), [])
        self.writer.write(b"again\n")
        self.assertEqual(self.socket.sent, [b"hello\n", b"again\n"])
        self.assertEqual(self.reactor.getWriters(), [])

    def test_partial_send_rest_buffered_in_order(self) -> None:
        """A partial send leaves the rest to Twisted; later writes queue behind it, never overtaking."""
        self.socket.accept = [4]
        self.writer.write(b"0123456789")
        self.assertEqual(self.socket.received(), b"0123")
        self.writer.write(b"abc")
        # Not sent while the rest of the first write waits, even though the socket would take it.
        self.assertEqual(self.socket.received(), b"0123")
        self.assertIsNone(self._reactor_pass())
        self.assertEqual(self.socket.received(), b"0123456789abc")
        # Buffer empty again: unregistered, and the next write is direct once more.
        self.assertEqual(self.reactor.getWriters(), [])
        self.writer.write(b"xyz")
        self.assertEqual(self.socket.received(), b"0123456789abcxyz")

    def test_eagain_everything_buffered(self) -> None:
        """A full kernel buffer (EAGAIN): the whole write waits in Twisted's buffer for the next pass."""
        self.socket.accept = [errno_error(errno.EAGAIN)]
        self.writer.write(b"line one\n")
        self.writer.write(b"line two\n")
        self.assertEqual(self.socket.received(), b"")
        self._reactor_pass()
        self.assertEqual(self.socket.received(), b"line one\nline two\n")

    def test_peer_gone_closes_through_twisted(self) -> None:
        """A send to a peer that is gone hands the bytes to Twisted, whose next pass reports the loss."""
        self.socket.accept = [errno_error(errno.EPIPE), errno_error(errno.ECONNRESET)]
        self.writer.write(b"lost\n")
        result = self._reactor_pass()
        self.assertIsInstance(result, ConnectionLost)

    def test_closing_connection_not_written_directly(self) -> None:
        """Once the connection is closing, bytes go through Twisted, which sends them before it closes."""
        self.connection.loseConnection()
        self.writer.write(b"last words\n")
        self.assertEqual(self.socket.received(), b"")
        self._reactor_pass()
        self.assertEqual(self.socket.received(), b"last words\n")

    def test_large_write_partly_taken(self) -> None:
        """A kernel that takes 128 KiB of a 256 KiB write: the rest goes out on Twisted's later passes, in order."""
        data = bytes(range(256)) * 1024
        self.socket.accept = [128 * 1024, errno_error(errno.EAGAIN)]
        self.writer.write(data)
        self.assertEqual(len(self.socket.received()), 128 * 1024)
        self.writer.write(b"after")
        passes = 0
        while self.connection in self.reactor.getWriters() and passes < 10:
            self._reactor_pass()
            passes += 1
        self.assertEqual(self.socket.received(), data + b"after")

    def test_written_through_a_plain_wrapper(self) -> None:
        """The web door's connection counting wraps the transport; writes still go straight to the socket."""
        socket = _Socket()
        connection = tcp.Connection(socket, _Recorder(), self.reactor)  # type: ignore[arg-type]
        connection.connected = 1
        wrapper = ProtocolWrapper(WrappingFactory(None), Protocol())  # type: ignore[arg-type]
        wrapper.makeConnection(connection)
        DirectWriter(wrapper, 1_048_576, self.fail).write(b"through\n")
        self.assertEqual(socket.sent, [b"through\n"])
        self.assertEqual(self.reactor.getWriters(), [])

    def test_not_a_socket_written_through_the_transport(self) -> None:
        """A transport that is no TCP socket (a test's, a pipe) gets the bytes by its own write."""
        transport = StringTransport()
        DirectWriter(transport, 1_048_576, self.fail).write(b"plain\n")
        self.assertEqual(transport.value(), b"plain\n")


def errno_error(number: int) -> OSError:
    return OSError(number, "test")


class _IRCClient(LineReceiver):
    """Registers and joins one channel, then keeps every line it reads."""

    def __init__(self, nick: str) -> None:
        self.nick = nick
        self.lines: list[bytes] = []
        self.joined: defer.Deferred[None] = defer.Deferred()

    def connectionMade(self) -> None:
        self.sendLine(f"NICK {self.nick}\r\nUSER {self.nick} 0 * :{self.nick}\r\nJOIN #lobby".encode())

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)
        if b" 366 " in line and not self.joined.called:
            self.joined.callback(None)


def _turn() -> defer.Deferred[None]:
    d: defer.Deferred[None] = defer.Deferred()
    reactor.callLater(0.01, d.callback, None)
    return d


class RealSocketTests(TestCase):
    """Every door's connections on real loopback sockets: direct writes on
    plain TCP, Twisted's buffer under TLS, the documented send-queue bound."""

    timeout = 120

    def setUp(self) -> None:
        self.chat = ChatServer(
            reactor, exit_code=TEST_EXIT_CODE, passwords=quick_passwords(), idle_timeout=600
        )
        self.sender = self.chat.connect(_Null(), "127.0.0.1")
        self.addCleanup(self.sender.disconnected)

    @defer.inlineCallbacks
    def _listen(self, factory: Any, tls: bool = False) -> Any:
        if tls:
            directory = os.path.abspath(self.mktemp())
            os.makedirs(directory)
            key, cert = make_self_signed(directory)
            with open(cert) as f:
                self.authority = ssl.Certificate.loadPEM(f.read())
            description = f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"
        else:
            description = "tcp:0:interface=127.0.0.1"
        port = yield serverFromString(reactor, description).listen(factory)
        self.addCleanup(port.stopListening)
        return port.getHost().port

    def _client_endpoint(self, port: int, tls: bool) -> Any:
        if tls:
            options = ssl.optionsForClientTLS("localhost", trustRoot=self.authority)
            return SSL4ClientEndpoint(reactor, "127.0.0.1", port, options)
        return TCP4ClientEndpoint(reactor, "127.0.0.1", port)

    def _closed(self, client: Any) -> "defer.Deferred[None]":
        """Close ``client`` at once (TLS would wait for the peer's close_notify) and wait until it is gone."""
        if not client.lost.called:
            client.transport.abortConnection()
        return client.lost

    @defer.inlineCallbacks
    def _native_member(self, port: int, name: str, tls: bool = False) -> Any:
        client = FrameClient()
        yield connectProtocol(self._client_endpoint(port, tls), client)
        self.addCleanup(self._closed, client)
        yield client.next()
        joined = yield client.request(type="join", session=1, username=name)
        self.assertEqual(joined["type"], "joined")
        return client

    @defer.inlineCallbacks
    def _fill_until_dropped(self, factory: Any, stopper: Any, session: int = 1) -> Any:
        """Say 2,000-character messages until the connection that stopped reading is dropped; the count said."""
        stopper.transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        # The server side of every connection, with a small kernel send buffer:
        # the test fills our queue, not megabytes of loopback buffers.
        for protocol in factory.connections:
            raw = protocol.transport
            while not hasattr(raw, "socket"):
                raw = raw.transport
            raw.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        stopper.transport.pauseProducing()
        self.guards = {protocol: protocol._send_queue for protocol in factory.connections}
        done(self.sender.join(session, "sender"))
        count = 0
        # Bounded: at most 20 MB, far past the kernel's buffers plus the 1 MiB bound.
        while count < 10_000 and len(factory.connections) == 2:
            done(self.sender.say("y" * 2000))
            count += 1
            if count % 50 == 0:
                yield _turn()
        self.assertEqual(len(factory.connections), 1)
        self.assertLess(count, 10_000)
        return count

    def _assert_dropped_at_one_mib(self, factory: Any) -> None:
        """The dropped connection had queued just over 1 MiB (1,048,576 bytes) since its pause, not less."""
        (dropped,) = [guard for protocol, guard in self.guards.items() if protocol not in factory.connections]
        self.assertTrue(dropped.overflowed)
        self.assertGreater(dropped.queued, 1_048_576)
        # At most one message's frame more than the bound.
        self.assertLessEqual(dropped.queued, 1_048_576 + 2_200)

    @defer.inlineCallbacks
    def _messages(self, reader: Any, count: int) -> Any:
        """The texts of the next ``count`` message frames ``reader`` gets."""
        texts = []
        while len(texts) < count:
            frame = yield reader.next()
            if frame["type"] == "message":
                texts.append(frame["text"])
        return texts

    @defer.inlineCallbacks
    def test_native_stopped_reader_dropped_at_one_mib_reader_gets_all(self) -> None:
        factory = NativeFactory(self.chat, "tcp-test")
        port = yield self._listen(factory)
        reader = yield self._native_member(port, "reader")
        stopper = yield self._native_member(port, "stopper")
        yield reader.next()
        for protocol in factory.connections:
            # Plain TCP: written directly.
            self.assertIsNotNone(protocol._writer._socket)
        count = yield self._fill_until_dropped(factory, stopper)
        self._assert_dropped_at_one_mib(factory)
        texts = yield self._messages(reader, count)
        self.assertEqual(texts, ["y" * 2000] * count)

    @defer.inlineCallbacks
    def test_native_over_tls_stopped_reader_dropped_reader_gets_all(self) -> None:
        factory = NativeFactory(self.chat, "tls-test")
        port = yield self._listen(factory, tls=True)
        reader = yield self._native_member(port, "reader", tls=True)
        stopper = yield self._native_member(port, "stopper", tls=True)
        yield reader.next()
        for protocol in factory.connections:
            # TLS: through Twisted's TLS layer, never straight to the socket.
            self.assertIsNone(protocol._writer._socket)
        count = yield self._fill_until_dropped(factory, stopper)
        self._assert_dropped_at_one_mib(factory)
        texts = yield self._messages(reader, count)
        self.assertEqual(len(texts), count)

    @defer.inlineCallbacks
    def test_irc_stopped_reader_dropped_at_one_mib_reader_gets_all(self) -> None:
        factory = IRCFactory(self.chat, "testbox", reactor)
        port = yield self._listen(factory)
        clients = []
        for nick in ("reader", "stopper"):
            client = _IRCClient(nick)
            yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
            self.addCleanup(client.transport.loseConnection)
            yield client.joined
            clients.append(client)
        reader, stopper = clients
        for protocol in factory.connections:
            self.assertIsNotNone(protocol._writer._socket)
        lobby = self.chat.session_named("lobby")
        assert lobby is not None
        count = yield self._fill_until_dropped(factory, stopper, lobby.id)
        self._assert_dropped_at_one_mib(factory)
        # IRC lines are at most 512 bytes: each message comes split into several PRIVMSGs.
        for _ in range(2000):
            if self._irc_text(reader) >= 2000 * count:
                break
            yield _turn()
        self.assertEqual(self._irc_text(reader), 2000 * count)

    def _irc_text(self, client: _IRCClient) -> int:
        """The characters of channel text ``client`` has received."""
        # A last parameter without spaces comes without its ":".
        return sum(
            len(line.partition(b" PRIVMSG #lobby ")[2].removeprefix(b":"))
            for line in client.lines
            if b" PRIVMSG #lobby " in line
        )


class _Null:
    """A connection for the domain's own sender: it drops what it is sent."""

    def deliver(self, event: object) -> None:
        pass

    def close(self) -> None:
        pass
