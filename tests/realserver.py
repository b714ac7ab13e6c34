"""Run the real ``twistd -n glozichat`` in a subprocess and talk to it over TCP."""

import json
import os
import re
import shutil
import sys
from collections import deque
from typing import Any

from twisted.internet import defer, protocol, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.protocols.basic import LineReceiver
from twisted.trial.unittest import TestCase

from tests.helpers import SESSION_LIST_EVENTS

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
_LISTENING = re.compile(rb"native protocol listening on 127\.0\.0\.1:(\d+)")
_IRC_LISTENING = re.compile(rb"GloziChat IRC listening on [^:\s]+:(\d+)")
_WEB_LISTENING = re.compile(rb"GloziChat web listening on [^:\s]+:(\d+)")
_EXIT_CODE = re.compile(rb"^exit code: (\d{10})$", re.MULTILINE)
STARTUP_TIMEOUT = 30.0


def twistd_command() -> list[str]:
    """The twistd executable, or the same entry point through this interpreter."""
    twistd = shutil.which("twistd")
    if twistd:
        return [twistd]
    return [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]


class ServerProcess(protocol.ProcessProtocol):
    """A running server: its ports, exit code, output so far, and exit status.

    ``irc_port`` stays ``None`` when the server was started with ``--irc-port none``,
    ``web_port`` with ``--web-port none``.
    """

    def __init__(self, expect_irc: bool = True, expect_web: bool = True) -> None:
        self.output = b""
        self.port: int | None = None
        self.irc_port: int | None = None
        self.web_port: int | None = None
        self.expect_irc = expect_irc
        self.expect_web = expect_web
        self.exit_code: str | None = None
        self.ready: defer.Deferred[None] = defer.Deferred()
        self.ended: defer.Deferred[int] = defer.Deferred()
        self.status: int | None = None
        self.signal_number: int | None = None
        self.exited = False

    def outReceived(self, data: bytes) -> None:
        self.output += data
        if self.port is None and (match := _LISTENING.search(self.output)):
            self.port = int(match.group(1))
        if self.irc_port is None and (match := _IRC_LISTENING.search(self.output)):
            self.irc_port = int(match.group(1))
        if self.web_port is None and (match := _WEB_LISTENING.search(self.output)):
            self.web_port = int(match.group(1))
        if self.exit_code is None and (match := _EXIT_CODE.search(self.output)):
            self.exit_code = match.group(1).decode()
        irc_ready = self.irc_port is not None or not self.expect_irc
        web_ready = self.web_port is not None or not self.expect_web
        if self.port is not None and irc_ready and web_ready and self.exit_code is not None and not self.ready.called:
            self.ready.callback(None)

    errReceived = outReceived

    def processEnded(self, reason: Any) -> None:
        self.exited = True
        self.status = reason.value.exitCode
        self.signal_number = reason.value.signal
        if not self.ready.called:
            self.ready.errback(RuntimeError(f"server exited early:\n{self.output.decode(errors='replace')}"))
        self.ended.callback(self.status)

    def signal(self, name: str) -> None:
        if not self.exited:
            self.transport.signalProcess(name)


@defer.inlineCallbacks
def start_server(
    test: TestCase,
    *extra: str,
    irc_port: str = "tcp:0:interface=127.0.0.1",
    web_port: str = "tcp:0:interface=127.0.0.1",
) -> Any:
    """Start ``twistd -n glozichat`` on free loopback ports; stop it at cleanup.

    ``irc_port`` and ``web_port`` are the ``--irc-port`` and ``--web-port``
    endpoints (``"none"`` for no IRC, no web door); the ports the server got
    are ``server.port``, ``server.irc_port`` and ``server.web_port``.
    """
    workdir = os.path.abspath(test.mktemp())
    os.makedirs(workdir)
    server = ServerProcess(expect_irc=irc_port.lower() != "none", expect_web=web_port.lower() != "none")
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, PYTHONUNBUFFERED="1")
    args = [
        *twistd_command(),
        "-n",
        "--pidfile=",
        "glozichat",
        "--port",
        "tcp:0:interface=127.0.0.1",
        "--irc-port",
        irc_port,
        "--web-port",
        web_port,
        "--exit-code-file",
        os.path.join(workdir, "exit-code"),
        # Self-contained: no fixed discovery port, no sniffing on the host.
        "--no-sniff",
        "--discovery-port",
        "0",
        *extra,
    ]
    reactor.spawnProcess(server, args[0], args, env=env, path=workdir)
    server.workdir = workdir

    def stop() -> defer.Deferred[int] | None:
        if not server.exited:
            server.signal("TERM")
            return server.ended
        return None

    test.addCleanup(stop)
    timeout = reactor.callLater(STARTUP_TIMEOUT, lambda: server.signal("KILL"))
    try:
        yield server.ready
    finally:
        if timeout.active():
            timeout.cancel()
    return server


class FrameQueue:
    """What a test client of the native protocol (over any framing) does with
    the frames it receives: queues them for ``next()`` and ``request()``.
    Subclasses hand each frame to ``frame_received`` and implement ``send``."""

    def __init__(self, *, session_list: bool = False) -> None:
        self.session_list = session_list
        """Whether to keep the session-list events (pushed while at the list); left out by default."""
        self.frames: deque[dict] = deque()
        self.waiting: deque[defer.Deferred[dict]] = deque()
        self.lost: defer.Deferred[None] = defer.Deferred()

    def frame_received(self, frame: dict) -> None:
        if not self.session_list and frame.get("type") in SESSION_LIST_EVENTS:
            return
        if self.waiting:
            self.waiting.popleft().callback(frame)
        else:
            self.frames.append(frame)

    def send(self, **frame: Any) -> None:
        raise NotImplementedError

    def next(self, timeout: float = 10.0) -> "defer.Deferred[dict]":
        """The next frame, failing after ``timeout`` seconds."""
        if self.frames:
            return defer.succeed(self.frames.popleft())
        d: defer.Deferred[dict] = defer.Deferred()
        self.waiting.append(d)
        return d.addTimeout(timeout, reactor)

    @defer.inlineCallbacks
    def request(self, **frame: Any) -> Any:
        """Send a frame and return the next one received."""
        self.send(**frame)
        answer = yield self.next()
        return answer


class FrameClient(FrameQueue, LineReceiver):
    """A native-protocol client for tests: queues every frame it receives."""

    delimiter = b"\n"

    def lineReceived(self, line: bytes) -> None:
        self.frame_received(json.loads(line))

    def connectionLost(self, reason: Any = None) -> None:
        self.lost.callback(None)

    def send(self, **frame: Any) -> None:
        self.sendLine(json.dumps(frame).encode())


class NickHolder(LineReceiver):
    """A bare IRC client that registers one nick and keeps it, so another client finds it taken."""

    def __init__(self, nick: str) -> None:
        self.nick = nick
        self.registered: defer.Deferred[None] = defer.Deferred()
        self.lost: defer.Deferred[None] = defer.Deferred()

    def connectionMade(self) -> None:
        self.sendLine(f"NICK {self.nick}".encode())
        self.sendLine(f"USER {self.nick} 0 * :holds {self.nick}".encode())

    def lineReceived(self, line: bytes) -> None:
        # Tests end long before the server's first keep-alive PING, so only 001 matters.
        if line.split(b" ")[1:2] == [b"001"] and not self.registered.called:
            self.registered.callback(None)

    def connectionLost(self, reason: Any = None) -> None:
        self.lost.callback(None)


def close_at_cleanup(test: TestCase, client: Any) -> None:
    """Close ``client`` (a protocol with a ``lost`` Deferred) when the test ends, and wait for it."""

    def close() -> defer.Deferred[None] | None:
        if not client.lost.called:
            client.transport.loseConnection()
            return client.lost
        return None

    test.addCleanup(close)


@defer.inlineCallbacks
def hold_irc_nick(test: TestCase, irc_port: int, nick: str) -> Any:
    """Register ``nick`` on the server's IRC door and hold it until cleanup."""
    holder = NickHolder(nick)
    yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", irc_port), holder)
    close_at_cleanup(test, holder)
    yield holder.registered.addTimeout(10.0, reactor)
    return holder


@defer.inlineCallbacks
def connect_client(test: TestCase, port: int) -> Any:
    """Connect a FrameClient, read its welcome, and close it at cleanup."""
    client = FrameClient()
    yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
    close_at_cleanup(test, client)
    welcome = yield client.next()
    test.assertEqual(welcome["type"], "welcome")
    return client
