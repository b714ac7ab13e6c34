"""A real cluster for end-to-end tests: ``twistd glozichat`` nodes on one PostgreSQL and one Redis,
and users of both doors written from docs/protocol.md and docs/irc.md by hand.

Every wait is bounded (``wait_for``); every address is 127.0.0.1.
"""

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from itertools import count
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.protocols.basic import LineReceiver
from twisted.trial.unittest import TestCase

from tests import realserver
from tests.test_client_reconnect import wait_for

PRESENCE_TIMEOUT = 6.0
"""The nodes' ``--presence-timeout`` in these tests: short, so a dead node's users go within seconds."""
FLOOD_RATE = "50"
"""Lines a second a connection may send (``--flood-rate``): the tests' users talk faster than people."""


@inlineCallbacks
def start_node(
    test: TestCase, name: str, db: str, redis_url: str, *extra: str, presence_timeout: float = PRESENCE_TIMEOUT
) -> Any:
    """One node (native and IRC doors on free loopback ports, its own exit-code file), stopped at cleanup."""
    node = yield realserver.start_server(
        test, "--node", name, "--db", db, "--redis", redis_url, "--presence-timeout", str(presence_timeout),
        "--flood-rate", FLOOD_RATE, *extra,
    )
    node.name = name
    return node


def start_nodes(test: TestCase, names: Iterable[str], db: str, redis_url: str, *extra: str) -> "Deferred[list[Any]]":
    """Several nodes, started side by side."""
    return gatherResults([start_node(test, name, db, redis_url, *extra) for name in names], consumeErrors=True)


@inlineCallbacks
def kill_node(node: Any) -> Any:
    """SIGKILL ``node`` and wait for it to be gone."""
    node.signal("KILL")
    yield node.ended


def stored_messages(db: str) -> dict[int, list[tuple[str, str]]]:
    """What PostgreSQL holds: each session's ``(sender, text)`` in sequence order."""
    import psycopg  # the [cluster] extra

    sessions: dict[int, list[tuple[str, str]]] = defaultdict(list)
    with psycopg.connect(db, autocommit=True) as connection:
        for session_id, sender, text in connection.execute(
            "SELECT session_id, sender, text FROM messages ORDER BY session_id, seq"
        ):
            sessions[session_id].append((sender, text))
    return sessions


def others(stored: list[tuple[str, str]], name: str) -> list[tuple[str, str]]:
    """Of ``stored`` messages, the ones ``name`` receives: everyone's but their own."""
    return [(sender, text) for sender, text in stored if sender != name]


def nick_holder(db: str, nick: str) -> str | None:
    """The node the record says holds ``nick`` (``None``: nobody)."""
    import psycopg

    with psycopg.connect(db, autocommit=True) as connection:
        row = connection.execute("SELECT node FROM cluster_nicks WHERE key = %s", (nick.lower(),)).fetchone()
    return None if row is None else str(row[0])


class NativeUser(LineReceiver):
    """A native-protocol user that keeps every frame, with the reactor's time it came at.

    ``messages[session]`` is what others said there, ``(from, text)`` in
    arrival order; ``acked`` the texts the server acknowledged, by session.
    """

    delimiter = b"\n"
    MAX_LENGTH = 65536

    def __init__(self, name: str) -> None:
        self.name = name
        self.frames: list[tuple[float, dict[str, Any]]] = []
        self.messages: dict[int, list[tuple[str, str]]] = defaultdict(list)
        self.acked: dict[int, list[str]] = defaultdict(list)
        self.refused: list[dict[str, Any]] = []
        self.left: dict[int, dict[str, float]] = defaultdict(dict)
        """Per session, who left (``disconnected``) and when, by name."""
        self._ids = count(1)
        self._answers: dict[int, Deferred[dict[str, Any]]] = {}
        self.lost: Deferred[None] = Deferred()
        self.closed = False

    def lineReceived(self, line: bytes) -> None:
        frame = json.loads(line)
        self.frames.append((reactor.seconds(), frame))
        kind = frame.get("type")
        if kind == "message":
            self.messages[frame["session"]].append((frame["from"], frame["text"]))
        elif kind == "member_left" and frame.get("reason") == "disconnected":
            self.left[frame["session"]][frame["name"]] = reactor.seconds()
        answer = self._answers.pop(frame.get("id"), None) if "id" in frame else None
        if answer is not None:
            answer.callback(frame)

    def connectionLost(self, reason: Any = None) -> None:
        self.closed = True
        for answer in self._answers.values():
            answer.errback(reason)
        self._answers.clear()
        self.lost.callback(None)

    def request(self, **frame: Any) -> "Deferred[dict[str, Any]]":
        """Send ``frame`` with a fresh ``id``; fires with its answer (or fails after 10 s)."""
        frame["id"] = number = next(self._ids)
        answer: Deferred[dict[str, Any]] = Deferred()
        self._answers[number] = answer
        self.sendLine(json.dumps(frame).encode())
        return answer.addTimeout(10, reactor)

    @inlineCallbacks
    def join(self, session: int, password: str | None = None) -> Any:
        fields = {"password": password} if password else {}
        answer = yield self.request(type="join", session=session, username=self.name, **fields)
        if answer["type"] != "joined":
            raise AssertionError(f"{self.name} could not join {session}: {answer}")
        return answer

    def say(self, session: int, text: str) -> "Deferred[dict[str, Any]]":
        """Say ``text``; an ``ack`` puts it in ``acked``, an error in ``refused``."""

        def answered(frame: dict[str, Any]) -> dict[str, Any]:
            if frame["type"] == "ack":
                self.acked[session].append(text)
            else:
                self.refused.append(frame)
            return frame

        return self.request(type="say", session=session, text=text).addCallback(answered)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [frame for _, frame in self.frames if frame.get("type") == kind]


class IrcUser(LineReceiver):
    """An IRC user: registers, answers PING, and keeps each channel's PRIVMSGs ``(nick, text)`` and the QUITs."""

    delimiter = b"\r\n"
    MAX_LENGTH = 65536

    def __init__(self, nick: str) -> None:
        self.nick = nick
        self.lines: list[str] = []
        self.messages: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.quit: dict[str, float] = {}
        """Who quit (their node went, say) and when."""
        self.quit_messages: dict[str, str] = {}
        self.sent: dict[str, list[str]] = defaultdict(list)
        self.registered: Deferred[None] = Deferred()
        self._names: dict[str, list[str]] = {}
        self._asked: dict[str, list[Deferred[list[str]]]] = defaultdict(list)
        self._listed: set[str] = set()
        self.lost: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        self.sendLine(f"NICK {self.nick}".encode())
        self.sendLine(f"USER {self.nick} 0 * :{self.nick} by hand".encode())

    def lineReceived(self, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace")
        self.lines.append(line)
        prefix, _, rest = line.partition(" ") if line.startswith(":") else ("", "", line)
        command, _, params = rest.partition(" ")
        words = _parameters(params)
        who = prefix[1:].split("!")[0]
        if command == "PING":
            self.sendLine(f"PONG :{words[-1] if words else ''}".encode())
        elif command == "001" and not self.registered.called:
            self.registered.callback(None)
        elif command == "PRIVMSG":
            self.messages[words[0].lower()].append((who, words[1]))
        elif command == "QUIT":
            self.quit[who] = reactor.seconds()
            self.quit_messages[who] = words[-1] if words else ""
        elif command == "353":
            self._names.setdefault(words[2].lower(), []).extend(name.lstrip("@+") for name in words[3].split())
        elif command == "366":
            channel = words[1].lower()
            names = self._names.pop(channel, [])
            self._listed.add(channel)
            for asked in self._asked.pop(channel, []):
                asked.callback(sorted(names))

    def connectionLost(self, reason: Any = None) -> None:
        self.lost.callback(None)

    def listed(self, channel: str) -> Callable[[], bool]:
        """Whether the server has ended a list of ``channel``'s names (as it does after our JOIN)."""
        return lambda: channel.lower() in self._listed

    def say(self, channel: str, text: str) -> None:
        self.sent[channel.lower()].append(text)
        self.sendLine(f"PRIVMSG {channel} :{text}".encode())

    def names(self, channel: str) -> "Deferred[list[str]]":
        """The channel's members, from ``NAMES`` (fails after 10 s)."""
        asked: Deferred[list[str]] = Deferred()
        self._asked[channel.lower()].append(asked)
        self.sendLine(f"NAMES {channel}".encode())
        return asked.addTimeout(10, reactor)


def _parameters(text: str) -> list[str]:
    """An IRC line's parameters: words, then the trailing one after `` :`` (which may have spaces)."""
    if text.startswith(":"):
        return [text[1:]]
    head, colon, trailing = text.partition(" :")
    return head.split() + ([trailing] if colon else [])


def _closer(user: Any) -> Callable[[], Any]:
    def close() -> Any:
        if not user.lost.called:
            user.transport.loseConnection()
            return user.lost
        return None

    return close


@inlineCallbacks
def native_user(test: TestCase, port: int, name: str) -> Any:
    """A native user connected to ``port`` (its welcome read), closed at cleanup."""
    user = NativeUser(name)
    yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), user)
    test.addCleanup(_closer(user))
    yield wait_for(f"{name}'s welcome", lambda: user.of_type("welcome"))
    return user


@inlineCallbacks
def irc_user(test: TestCase, port: int, nick: str, *channels: str) -> Any:
    """An IRC user registered on ``port`` and on ``channels`` (``"#garden 12345"`` gives a key), closed at cleanup."""
    user = IrcUser(nick)
    yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), user)
    test.addCleanup(_closer(user))
    yield user.registered.addTimeout(10, reactor)
    for channel in channels:
        user.sendLine(f"JOIN {channel}".encode())
        name = channel.split()[0].lower()
        yield wait_for(f"{nick} on {name}", user.listed(name))
    return user
