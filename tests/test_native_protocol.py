"""The native door on StringTransport: every frame type and every error code."""

import json
import os
from typing import ClassVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from glozi.domain import chat as chat_module
from glozi.domain.chat import ChatServer, Participant
from glozi.domain.errors import ERROR_CODES
from glozi.domain.events import (
    AdminChanged,
    Event,
    IdleWarning,
    Invited,
    Joined,
    Killed,
    Left,
    MemberAway,
    MemberInfo,
    MemberInvited,
    MemberJoined,
    MemberLeft,
    MemberRenamed,
    Message,
    ModeChanged,
    PrivateMessage,
    RealNameChanged,
    ServerClosing,
    ServerCounts,
    SessionAdded,
    SessionChanged,
    SessionCtcp,
    SessionInfo,
    SessionRemoved,
    SessionTagMessage,
    TopicChanged,
    UserInfo,
    Wallops,
)
from glozi.domain.files import FileSharing
from glozi.domain.history import MessageIds
from glozi.domain.operators import OperatorAccount, Operators
from glozi.domain.serverpassword import ServerPassword
from glozi.domain.whowas import PastUser
from glozi.doors.native import wire
from glozi.doors.native.protocol import NativeFactory, NativeProtocol
from glozi.doors.tracking import ConnectionLimits
from glozi.storage.passwords import hash_password
from glozi.storage.store import MemoryStore, SharedFile, StoreError
from tests.helpers import SESSION_LIST_EVENTS, TEST_EXIT_CODE, BrokenStore, quick_passwords

DOCS = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "protocol.md")


class Client:
    """One protocol instance on a StringTransport, read back with the server's own parser."""

    def __init__(self, factory: NativeFactory, host: str = "127.0.0.1") -> None:
        self.clock = factory.chat.clock
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", host, 40000))
        self.protocol: NativeProtocol = factory.buildProtocol(self.transport.getPeer())
        self.protocol.makeConnection(self.transport)
        self.welcome = self.frames()[0]

    def send(self, frame: dict | bytes) -> list[dict]:
        line = frame if isinstance(frame, bytes) else json.dumps(frame).encode()
        # A person's pace (4 lines a second), inside the flood budget.
        self.clock.advance(0.25)
        self.protocol.dataReceived(line + b"\n")
        return self.frames()

    def frames(self, *, session_list: bool = False) -> list[dict]:
        """What the server wrote since the last call; the session-list events
        (pushed to everyone at the list, checked by their own tests) only with ``session_list``."""
        data = self.transport.value()
        self.transport.clear()
        frames = [wire.parse_frame(line) for line in data.splitlines()]
        return frames if session_list else [f for f in frames if f["type"] not in SESSION_LIST_EVENTS]

    def one(self, frame: dict | bytes) -> dict:
        [answer] = self.send(frame)
        return answer

    def error_code(self, frame: dict | bytes) -> str:
        answer = self.one(frame)
        self.test_case.assertEqual(answer["type"], "error", answer)
        return answer["code"]

    @property
    def closed(self) -> bool:
        return self.transport.disconnecting


class ProtocolTestCase(SynchronousTestCase):
    def join_many(self, client: "Client", count: int, username: str = "roamer") -> list[dict]:
        """``client`` joins the 9 built-in sessions, then creates more, up to ``count`` joins in all;
        the answers, one per join (the join budget is waited for)."""
        answers = []
        for number in range(1, count + 1):
            self.clock.advance(3)
            frame = (
                {"type": "join", "session": number, "username": username}
                if number <= 9
                else {"type": "create", "name": f"room{number}", "username": username}
            )
            answers.append(client.send(frame)[-1])
        return answers

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_764_000_000)
        self.exits: list[bool] = []
        self.chat = ChatServer(
            self.clock, exit_code=TEST_EXIT_CODE, passwords=quick_passwords(), idle_timeout=240,
            on_exit=lambda: self.exits.append(True), message_ids=MessageIds("m"),
        )
        self.factory = NativeFactory(self.chat, "testbox")

    def client(self, host: str = "127.0.0.1") -> Client:
        client = Client(self.factory, host)
        client.test_case = self
        return client


class FrameTests(ProtocolTestCase):
    def test_welcome_on_connect(self) -> None:
        """The server greets first with its protocol version and limits."""
        welcome = self.client().welcome
        self.assertEqual(welcome["type"], "welcome")
        self.assertEqual(welcome["protocol"], 1)
        self.assertEqual((welcome["name"], welcome["max_line"]), ("testbox", wire.MAX_LINE_BYTES))
        self.assertEqual(welcome["description"], "GloziChat LAN chat server")

    def test_hello(self) -> None:
        """hello with our version is answered by welcome carrying the request id."""
        answer = self.client().one({"type": "hello", "protocol": 1, "id": 7})
        self.assertEqual((answer["type"], answer["id"]), ("welcome", 7))

    def test_hello_other_version_closes(self) -> None:
        """hello with another version gets unsupported_protocol and the connection closes."""
        client = self.client()
        self.assertEqual(client.error_code({"type": "hello", "protocol": 2}), "unsupported_protocol")
        self.assertTrue(client.closed)

    def test_list(self) -> None:
        """list answers with every session and never a password."""
        alice = self.client()
        alice.one({"type": "create", "name": "garden", "username": "alice", "password": "12345"})
        created = self.clock.seconds()
        answer = self.client().one({"type": "list", "id": "l"})
        self.assertEqual(answer["id"], "l")
        self.assertEqual(len(answer["sessions"]), 10)
        garden = answer["sessions"][-1]
        self.assertEqual(
            garden,
            {
                "id": 10,
                "name": "garden",
                "members": 1,
                "created": created,
                "creator": "alice",
                "locked": True,
                "admin": "alice",
                "topic": "",
                "modes": "+ntk",
                "limit": None,
            },
        )
        self.assertNotIn(b"12345", json.dumps(answer).encode())

    def test_create_and_join(self) -> None:
        """create makes you admin; join tells the members and answers with joined."""
        alice, bob = self.client(), self.client()
        created = alice.one({"type": "create", "name": "garden", "username": "alice", "password": "12345"})
        self.assertEqual(created["type"], "joined")
        self.assertEqual(created["members"], [{"name": "alice", "joined": self.clock.seconds(), "admin": True, "voiced": False, "away": None}])
        self.assertIsNone(created["idle_timeout"])
        joined = bob.one({"type": "join", "session": 10, "username": "bob", "password": "12345", "id": 1})
        self.assertEqual((joined["type"], joined["you"], joined["id"]), ("joined", "bob", 1))
        self.assertEqual(joined["idle_timeout"], 240)
        [event] = alice.frames()
        self.assertEqual(event["type"], "member_joined")
        self.assertEqual(event["name"], "bob")

    def test_say(self) -> None:
        """say: the others get message, the sender gets ack with the same timestamp."""
        alice, bob = self.client(), self.client()
        alice.one({"type": "join", "session": 1, "username": "alice"})
        bob.one({"type": "join", "session": 1, "username": "bob"})
        alice.frames()
        ack = bob.one({"type": "say", "text": "héllo ✓", "id": "s1"})
        self.assertEqual(ack, {"type": "ack", "session": 1, "ts": self.clock.seconds(), "msgid": "m1", "id": "s1"})
        [message] = alice.frames()
        self.assertEqual(
            message,
            {"type": "message", "session": 1, "from": "bob", "text": "héllo ✓", "ts": self.clock.seconds(), "msgid": "m1"},
        )

    def test_broadcast_bytes_identical(self) -> None:
        """Every recipient of a message gets byte-for-byte the same line."""
        clients = [self.client() for _ in range(4)]
        for i, c in enumerate(clients):
            c.one({"type": "join", "session": 2, "username": f"user{i}"})
        for c in clients:
            c.frames()
        clients[0].one({"type": "say", "text": "same bytes"})
        lines = {c.transport.value() for c in clients[1:]}
        self.assertEqual(len(lines), 1)

    def test_commands(self) -> None:
        """Each command answers with a reply naming it."""
        alice = self.client()
        alice.one({"type": "create", "name": "garden", "username": "alice"})
        for name, args in (("help", ""), ("/quote", ""), ("TIME", ""), ("echo", "  hi there ")):
            reply = alice.one({"type": "command", "name": name, "args": args})
            self.assertEqual((reply["type"], reply["command"]), ("reply", name.strip("/").lower()))
        self.assertEqual(alice.one({"type": "command", "name": "echo", "args": "hi"})["text"], "hi")
        help_text = alice.one({"type": "command", "name": "help"})["text"]
        self.assertIn("/kick NAME [REASON] - remove NAME from the session (admin only)", help_text)

    def test_quit_then_rejoin(self) -> None:
        """/quit sends left then the reply; the connection can join again."""
        alice = self.client()
        alice.one({"type": "join", "session": 1, "username": "alice"})
        left, reply = alice.send({"type": "command", "name": "quit"})
        self.assertEqual((left["type"], left["reason"], left["name"]), ("left", "quit", "avocado"))
        self.assertEqual(reply["type"], "reply")
        self.assertEqual(alice.one({"type": "join", "session": 2, "username": "alice"})["type"], "joined")

    def test_kick_and_close(self) -> None:
        """kick and close produce left events with who did it."""
        alice, bob, carol = self.client(), self.client(), self.client()
        alice.one({"type": "create", "name": "garden", "username": "alice"})
        bob.one({"type": "join", "session": 10, "username": "bob"})
        carol.one({"type": "join", "session": 10, "username": "carol"})
        alice.frames()
        bob.frames()
        alice.send({"type": "command", "name": "kick", "args": "bob"})
        [left] = bob.frames()
        self.assertEqual((left["type"], left["reason"], left["by"]), ("left", "kicked", "alice"))
        self.assertEqual(left["message"], "You were kicked from garden by alice.")
        [gone] = carol.frames()
        self.assertEqual((gone["type"], gone["name"], gone["reason"]), ("member_left", "bob", "kicked"))
        alice.send({"type": "command", "name": "close"})
        [closed] = carol.frames()
        self.assertEqual((closed["type"], closed["reason"], closed["by"]), ("left", "closed", "alice"))

    def test_admin_changed_and_disconnect(self) -> None:
        """A dropped admin connection: member_left (disconnected) then admin_changed."""
        alice, bob = self.client(), self.client()
        alice.one({"type": "create", "name": "garden", "username": "alice"})
        bob.one({"type": "join", "session": 10, "username": "bob"})
        alice.protocol.connectionLost(None)
        left, changed = bob.frames()
        self.assertEqual((left["type"], left["reason"]), ("member_left", "disconnected"))
        self.assertEqual(changed, {"type": "admin_changed", "session": 10, "admin": "bob", "by": None})

    def test_idle_warning_and_timeout(self) -> None:
        """The idle warning and the timeout arrive as frames."""
        alice = self.client()
        alice.one({"type": "join", "session": 1, "username": "alice"})
        self.clock.advance(120)
        self.assertEqual(alice.frames(), [{"type": "idle_warning", "session": 1, "seconds_left": 120.0}])
        self.clock.advance(120)
        [left] = alice.frames()
        self.assertEqual((left["type"], left["reason"]), ("left", "timeout"))

    def test_ping(self) -> None:
        """ping answers pong."""
        self.assertEqual(self.client().one({"type": "ping", "id": 3}), {"type": "pong", "id": 3})

    def test_exit_code(self) -> None:
        """The right exit code: server_closing to all, connections closed, exit requested."""
        alice, bob = self.client(), self.client()
        bob.one({"type": "join", "session": 1, "username": "bob"})
        self.assertEqual(alice.one({"type": "exit", "code": TEST_EXIT_CODE})["type"], "server_closing")
        self.assertEqual(bob.frames()[-1]["type"], "server_closing")
        self.assertTrue(alice.closed and bob.closed)
        self.assertEqual(self.exits, [True])

    def test_blank_lines_and_crlf(self) -> None:
        """Blank lines are ignored and CRLF line ends work."""
        client = self.client()
        self.assertEqual(client.send(b"\r"), [])
        self.assertEqual(client.send(b'{"type":"ping"}\r')[0]["type"], "pong")


class SessionListPushTests(ProtocolTestCase):
    def test_welcome_tells_the_flood_limits(self) -> None:
        """The welcome carries the server's own flood limits: 20 at once then 5 a second by default, else the options'."""
        self.assertEqual(self.client().welcome["flood"], {"burst": 20, "per_second": 5.0})
        other = NativeFactory(self.chat, "testbox", limits=ConnectionLimits(flood_burst=7.0, flood_rate=2.0))
        self.assertEqual(Client(other).welcome["flood"], {"burst": 7, "per_second": 2.0})

    def test_connections_at_the_list_hear_of_new_changed_and_removed_sessions(self) -> None:
        """Without asking, a connection at the session list learns that garden was created, who
        joined and left it (member count, admin), and that it is gone; members of a session hear nothing."""
        alice, bob, carol = self.client(), self.client(), self.client()
        alice.one({"type": "create", "name": "garden", "username": "alice", "password": "12345"})
        created = {"id": 10, "name": "garden", "members": 1, "created": self.clock.seconds(), "creator": "alice",
                   "locked": True, "admin": "alice", "topic": "", "modes": "+ntk", "limit": None}
        self.assertEqual(carol.frames(session_list=True), [{"type": "session_added", "session": created}])
        self.assertEqual(bob.frames(session_list=True), [{"type": "session_added", "session": created}])
        bob.one({"type": "join", "session": 10, "username": "bob", "password": "12345"})
        self.assertEqual(
            carol.frames(session_list=True), [{"type": "session_changed", "session": {**created, "members": 2}}]
        )
        self.assertEqual([f["type"] for f in alice.frames(session_list=True)], ["member_joined"])
        alice.protocol.dataReceived(b'{"type":"command","name":"quit"}\n')
        self.assertEqual(
            carol.frames(session_list=True),
            [{"type": "session_changed", "session": {**created, "members": 1, "admin": "bob"}}],
        )
        self.assertEqual(
            [f["type"] for f in alice.frames(session_list=True)],
            ["left", "session_changed", "reply"],
            "who left is at the list again, and hears of it",
        )
        bob.send({"type": "command", "name": "quit"})
        gone = {"type": "session_removed", "session": 10, "name": "garden"}
        self.assertEqual(carol.frames(session_list=True), [gone])
        self.assertEqual(alice.frames(session_list=True), [gone])

    def test_built_in_sessions_are_pushed_too_and_a_dropped_connection_hears_nothing(self) -> None:
        """Joining avocado changes its member count at the list; a closed connection is told nothing."""
        alice, bob, carol = self.client(), self.client(), self.client()
        carol.protocol.connectionLost(None)
        carol.frames(session_list=True)
        alice.one({"type": "join", "session": 1, "username": "alice"})
        [changed] = bob.frames(session_list=True)
        self.assertEqual((changed["type"], changed["session"]["name"], changed["session"]["members"]),
                         ("session_changed", "avocado", 1))
        self.assertEqual(carol.frames(session_list=True), [])

    def test_a_change_is_encoded_once_for_every_connection_at_the_list(self) -> None:
        """One encoding per change, the same bytes to each of the connections at the list."""
        watchers = [self.client() for _ in range(3)]
        encoded: list[str] = []
        real_encode = wire.encode_frame

        def counting(frame: dict) -> bytes:
            encoded.append(frame["type"])
            return real_encode(frame)

        self.patch(wire, "encode_frame", counting)
        self.client().one({"type": "create", "name": "garden", "username": "alice"})
        self.assertEqual(encoded.count("session_added"), 1)
        self.assertEqual(len({w.transport.value() for w in watchers}), 1)

    def test_nothing_is_built_when_nobody_is_at_the_list(self) -> None:
        """With every connection in a session, joins and leaves build no session-list event."""
        alice, bob = self.client(), self.client()
        alice.one({"type": "create", "name": "garden", "username": "alice"})
        built: list[object] = []
        real = chat_module.SessionChanged
        self.patch(chat_module, "SessionChanged", lambda **fields: built.append(fields) or real(**fields))
        bob.one({"type": "join", "session": 10, "username": "bob"})
        self.client().one({"type": "join", "session": 1, "username": "carol"})
        self.assertEqual(built, [])
        bob.send({"type": "command", "name": "quit"})
        self.assertEqual(len(built), 1, "bob is back at the list: he hears of his own leave")


class ErrorCodeTests(ProtocolTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.seen: set[str] = set()

    def check(self, client: Client, frame: dict | bytes, code: str) -> None:
        self.assertEqual(client.error_code(frame), code)
        self.seen.add(code)

    def test_every_error_code(self) -> None:
        """Each documented error code is produced by some input, and the connection stays usable."""
        alice, bob = self.client(), self.client()
        self.check(alice, b"{nope", "bad_json")
        self.check(alice, b"NaN", "bad_json")
        self.check(alice, b"\xff\xfe", "bad_utf8")
        self.check(alice, b"[1,2]", "not_object")
        self.check(alice, {"type": "dance"}, "unknown_type")
        self.check(alice, {"session": 1}, "missing_field")
        self.check(alice, {"type": "join", "username": "alice"}, "missing_field")
        self.check(alice, {"type": 5}, "bad_field")
        self.check(alice, {"type": "join", "session": "1", "username": "alice"}, "bad_field")
        self.check(alice, {"type": "join", "session": True, "username": "alice"}, "bad_field")
        self.check(alice, {"type": "ping", "id": [1]}, "bad_field")
        self.check(alice, {"type": "join", "session": 1, "username": "1alice"}, "invalid_name")
        self.check(alice, {"type": "create", "name": "ab", "username": "alice"}, "invalid_name")
        self.check(alice, {"type": "create", "name": "gar_den", "username": "alice"}, "invalid_name")
        self.check(alice, {"type": "join", "session": 1, "username": "-alice"}, "invalid_name")
        self.check(alice, {"type": "create", "name": "garden", "username": "alice", "password": "1234"}, "invalid_password")
        self.check(alice, {"type": "create", "name": "garden", "username": "alice", "password": "abcde"}, "invalid_password")
        self.check(alice, {"type": "exit", "code": "123"}, "invalid_exit_code")
        self.check(alice, {"type": "say", "text": "hi"}, "wrong_state")
        self.check(alice, {"type": "join", "session": 42, "username": "alice"}, "no_such_session")
        alice.one({"type": "create", "name": "garden", "username": "alice", "password": "12345"})
        self.check(bob, {"type": "join", "session": 10, "username": "bob"}, "password_required")
        self.check(bob, {"type": "join", "session": 10, "username": "bob", "password": "11111"}, "wrong_password")
        self.check(bob, {"type": "join", "session": 10, "username": "Alice", "password": "12345"}, "name_taken")
        self.check(bob, {"type": "create", "name": "Garden", "username": "bob"}, "session_exists")
        bob.one({"type": "join", "session": 10, "username": "bob", "password": "12345"})
        alice.frames()
        self.check(bob, {"type": "join", "session": 1, "username": "robert"}, "username_mismatch")
        self.check(alice, {"type": "join", "session": 10, "username": "alice"}, "already_in_session")
        self.check(alice, {"type": "say", "text": "hi", "session": 3}, "not_in_session")
        self.check(alice, {"type": "private", "to": "nobody", "text": "hi"}, "no_such_user")
        upload = {"type": "upload", "session": 10, "name": "a.bin", "media_type": "application/octet-stream"}
        self.check(alice, {**upload, "size": 5}, "files_unavailable")
        self.chat.files = FileSharing(self.chat, self.clock, user_quota=10, files_quota=14)
        self.check(alice, {**upload, "size": 26_214_401}, "file_too_large")
        self.check(alice, {**upload, "size": 11}, "user_quota_exceeded")
        self.assertEqual(alice.one({**upload, "size": 10})["type"], "upload_ready")
        dora = self.client("127.0.0.2")
        dora.one({"type": "nick", "name": "dora"})
        private = {"type": "upload", "to": "alice", "name": "a.bin", "media_type": "text/plain"}
        self.check(dora, {**private, "size": 5}, "files_quota_exceeded")
        for _ in range(4):
            self.assertEqual(dora.one({**private, "size": 1})["type"], "upload_ready")
        self.check(dora, {**private, "size": 1}, "too_many_uploads")
        dora.protocol.connectionLost(None)
        self.chat.files = None
        roamer = self.client()
        self.assertEqual(self.join_many(roamer, 21)[-1]["code"], "too_many_sessions")
        self.seen.add("too_many_sessions")
        self.check(alice, {"type": "say", "text": "   "}, "bad_field")
        self.check(alice, {"type": "say", "text": "two\nlines"}, "bad_field")
        self.check(alice, {"type": "say", "text": "x" * (wire.MAX_TEXT_CHARS + 1)}, "bad_field")
        self.check(alice, {"type": "command", "name": "a b"}, "bad_field")
        self.check(alice, {"type": "command", "name": "dance"}, "unknown_command")
        self.check(alice, {"type": "command", "name": "time", "args": "now"}, "bad_arguments")
        self.check(bob, {"type": "command", "name": "close"}, "not_admin")
        self.check(alice, {"type": "command", "name": "kick", "args": "nobody"}, "no_such_member")
        self.check(alice, {"type": "command", "name": "kick", "args": "alice"}, "cannot_kick_self")
        self.check(alice, {"type": "command", "name": "mode", "args": "+x"}, "unknown_mode")

        def admin(args: str, name: str = "mode") -> dict:
            answer = alice.send({"type": "command", "name": name, "args": args})[-1]
            bob.frames()
            return answer

        admin("+m")
        self.check(bob, {"type": "say", "text": "hi"}, "moderated")
        admin("+il-m 2")
        dave = self.client()
        self.check(dave, {"type": "join", "session": 10, "username": "dave", "password": "12345"}, "invite_only")
        admin("-i")
        self.check(dave, {"type": "join", "session": 10, "username": "dave", "password": "12345"}, "session_full")
        admin("-l")
        dave.one({"type": "join", "session": 10, "username": "dave", "password": "12345"})
        admin("dave", name="ban")
        dave.frames()
        self.check(dave, {"type": "join", "session": 10, "username": "dave", "password": "12345"}, "banned")
        bans = " ".join(f"m{i}" for i in range(50))
        self.assertEqual(admin(f"+{'b' * 50} {bans}")["code"], "too_many_bans")
        self.seen.add("too_many_bans")
        carol = self.client()
        self.check(carol, {"type": "exit", "code": "0000000000"}, "wrong_exit_code")
        for _ in range(3):
            self.client().one({"type": "exit", "code": "0000000001"})
        self.check(carol, {"type": "exit", "code": "0000000002"}, "too_many_attempts")
        self.check(self.client(), {"type": "hello", "protocol": 99}, "unsupported_protocol")
        hopper = self.client()
        codes = []
        for _ in range(20):
            answer = hopper.one({"type": "join", "session": 3, "username": "hopper"})
            codes.append(answer.get("code"))
            if answer["type"] == "joined":
                hopper.send({"type": "command", "name": "quit"})
        self.assertIn("rate_limited", codes)
        self.seen.add("rate_limited")
        flooder = self.client()
        flooder.protocol.dataReceived(b'{"type":"ping"}\n' * 25)
        self.assertEqual(flooder.frames()[-1]["code"], "flood")
        self.seen.add("flood")
        idler = self.client()
        self.clock.advance(self.factory.login_grace)
        self.assertEqual(idler.frames()[0]["code"], "idle")
        self.assertTrue(idler.closed)
        self.seen.add("idle")
        self.factory.max_per_source = len(self.factory.connections)
        refused = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40001))
        self.factory.buildProtocol(refused.getPeer()).makeConnection(refused)
        self.assertEqual(wire.parse_frame(refused.value())["code"], "too_many_connections")
        self.assertTrue(refused.disconnecting)
        self.seen.add("too_many_connections")
        self.factory.max_per_source = 100
        dave = self.client()
        self.assertEqual(dave.send(b"x" * (wire.MAX_LINE_BYTES + 1))[0]["code"], "line_too_long")
        self.assertTrue(dave.closed)
        self.seen.add("line_too_long")
        self.chat.store = BrokenStore()
        self.assertEqual(alice.one({"type": "say", "text": "lost"})["code"], "not_stored")
        self.seen.add("not_stored")
        self.flushLoggedErrors(StoreError)
        self.chat.store = MemoryStore()
        self.assertEqual(alice.one({"type": "say", "text": "still fine"})["type"], "ack")
        self.assertEqual(bob.frames()[-1]["text"], "still fine")
        self.check(alice, {"type": "kill", "name": "bob", "reason": "bye"}, "not_operator")
        self.check(alice, {"type": "oper", "name": "root", "password": "secret"}, "bad_oper_password")
        self.factory.operators = Operators(self.chat, [OperatorAccount("root", hash_password("secret", n=2, r=1, p=1))])
        alice.one({"type": "oper", "name": "root", "password": "secret"})
        self.check(alice, {"type": "command", "name": "close", "session": 1}, "builtin_session")
        passworded = NativeFactory(
            self.chat, "testbox", server_password=ServerPassword(self.chat, hash_password("sesame", n=2, r=1, p=1))
        )
        self.factory = passworded
        self.check(self.client(), {"type": "hello", "protocol": 1}, "server_password_required")
        self.check(self.client(), {"type": "hello", "protocol": 1, "password": "nope"}, "bad_server_password")
        self.assertEqual(self.seen | {"internal_error"}, set(ERROR_CODES))

    def test_internal_error_is_contained(self) -> None:
        """A bug in a handler answers internal_error; the connection keeps working."""
        client = self.client()

        def broken(participant: Participant) -> list:
            raise RuntimeError("bug")

        self.patch(Participant, "list_sessions", broken)
        self.assertEqual(client.error_code({"type": "list", "id": 9}), "internal_error")
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertEqual(client.one({"type": "ping"})["type"], "pong")

    def test_errors_echo_id(self) -> None:
        """An error answering a request carries its id."""
        answer = self.client().one({"type": "join", "session": 77, "username": "alice", "id": "j1"})
        self.assertEqual((answer["code"], answer["id"]), ("no_such_session", "j1"))

    def test_three_wrong_exit_codes_disconnect(self) -> None:
        """The third wrong exit code closes the connection."""
        client = self.client()
        for _ in range(2):
            self.assertEqual(client.error_code({"type": "exit", "code": "9999999999"}), "wrong_exit_code")
            self.assertFalse(client.closed)
        self.assertEqual(client.error_code({"type": "exit", "code": "9999999999"}), "wrong_exit_code")
        self.assertTrue(client.closed)

    def test_every_code_documented(self) -> None:
        """docs/protocol.md lists every error code and every frame type."""
        with open(DOCS, encoding="utf-8") as doc:
            text = doc.read()
        for code in ERROR_CODES:
            self.assertIn(f"| `{code}` |", text, f"error code {code} is not in docs/protocol.md")
        for frame_type in (
            "hello", "list", "create", "join", "say", "command", "exit", "ping", "nick", "private", "away", "whois",
            "history", "history_targets",
        ):
            self.assertIn(f"| `{frame_type}` |", text, f"client frame {frame_type} is not documented")
        for frame_type in (
            "welcome", "sessions", "joined", "ack", "reply", "pong", "error", "member_joined",
            "member_left", "admin_changed", "message", "idle_warning", "left", "server_closing",
            "session_added", "session_changed", "session_removed", "nick_changed", "presence", "user",
            "member_renamed", "member_away", "private_message", "messages", "targets", "history",
        ):
            self.assertIn(f"- `{frame_type}`:", text, f"server frame {frame_type} is not documented")


class MalformedInputTests(ProtocolTestCase):
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        st.one_of(
            st.binary(max_size=300),
            st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
            st.dictionaries(
                st.sampled_from(["type", "id", "session", "username", "name", "password", "text", "args", "code"]),
                st.one_of(
                    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
                    st.sampled_from(["join", "create", "say", "command", "exit", "list", "hello", "ping"]),
                    st.lists(st.integers(), max_size=3),
                ),
            ).map(lambda d: json.dumps(d).encode()),
        )
    )
    def test_garbage_never_breaks_anyone(self, line: bytes) -> None:
        """Any line from one client: one answer at most, no crash, the others unaffected."""
        attacker, alice, bob = self.client(), self.client(), self.client()
        # History frames follow the joined answer (the session keeps earlier examples' messages).
        alice.send({"type": "join", "session": 5, "username": "alice"})
        bob.send({"type": "join", "session": 5, "username": "bob"})
        alice.frames()
        for part in line.split(b"\n"):
            attacker.send(part)
        self.assertEqual(self.flushLoggedErrors(), [])
        self.assertEqual(alice.one({"type": "say", "text": "ok?"})["type"], "ack")
        self.assertEqual(bob.frames()[-1]["text"], "ok?")
        for c in (attacker, alice, bob):
            c.protocol.connectionLost(None)

    def test_thousand_malformed_lines(self) -> None:
        """1,000 malformed lines at typing pace get 1,000 errors; the other clients chat on."""
        self.chat.idle_timeout = 3600
        attacker, alice, bob = self.client(), self.client(), self.client()
        # History frames follow the joined answer (the session keeps earlier examples' messages).
        alice.send({"type": "join", "session": 5, "username": "alice"})
        bob.send({"type": "join", "session": 5, "username": "bob"})
        alice.frames()
        garbage = [b"{", b"[]", b'{"type":"nope"}', b"\xc3\x28", b'{"type":"say"}'] * 200
        answers = []
        for line in garbage:
            answers += attacker.send(line)
        self.assertEqual(len(answers), 1000)
        self.assertTrue(all(a["type"] == "error" for a in answers))
        self.assertFalse(attacker.closed)
        self.assertEqual(alice.one({"type": "say", "text": "unaffected"})["type"], "ack")
        self.assertEqual(bob.frames(), [{"type": "message", "session": 5, "from": "alice",
                                         "text": "unaffected", "ts": self.clock.seconds(), "msgid": "m1"}])

    def test_thousand_malformed_lines_at_once(self) -> None:
        """1,000 malformed lines in one burst: a few errors, a flood error, then the connection ends."""
        attacker, alice, bob = self.client(), self.client(), self.client()
        # History frames follow the joined answer (the session keeps earlier examples' messages).
        alice.send({"type": "join", "session": 5, "username": "alice"})
        bob.send({"type": "join", "session": 5, "username": "bob"})
        alice.frames()
        attacker.protocol.dataReceived(b"{\n" * 1000)
        answers = attacker.frames()
        self.assertEqual([a["code"] for a in answers], ["bad_json"] * 20 + ["flood", "flood"])
        self.assertTrue(attacker.closed)
        self.assertEqual(alice.one({"type": "say", "text": "unaffected"})["type"], "ack")
        self.assertEqual(bob.frames()[-1]["text"], "unaffected")


class AnswerIdTests(ProtocolTestCase):
    """Every error answering a frame carries that frame's id, whatever is wrong with the rest of it."""

    def test_lone_surrogate_error_carries_the_id(self) -> None:
        """A lone surrogate escape in the text or in any other field: bad_field with the frame's id."""
        alice = self.client()
        alice.one({"type": "join", "session": 1, "username": "alice"})
        answer = alice.one(b'{"type":"say","text":"a\\ud800b","id":"ls"}')
        self.assertEqual((answer["code"], answer.get("id")), ("bad_field", "ls"))
        answer = alice.one(b'{"type":"ping","extra":["\\udc00"],"id":5}')
        self.assertEqual((answer["code"], answer.get("id")), ("bad_field", 5))

    def test_bad_fields_carry_the_id(self) -> None:
        """Missing, mistyped or malformed fields: the error carries the id."""
        client = self.client()
        for frame, code in (
            ({"type": "join", "id": "a"}, "missing_field"),
            ({"type": "join", "session": "1", "username": "bob", "id": "b"}, "bad_field"),
            ({"type": "exit", "code": "12345", "id": "c"}, "invalid_exit_code"),
            ({"type": 7, "id": "d"}, "bad_field"),
        ):
            answer = client.one(frame)
            self.assertEqual((answer["code"], answer.get("id")), (code, frame["id"]))

    def test_nesting_over_100_levels_is_bad_json_with_the_id(self) -> None:
        """100 levels of nesting (the frame itself is one) are fine; 101 get bad_json with the id, \\u escapes or not."""
        client = self.client()
        fine = b'{"type":"ping","id":1,"x":' + b"[" * 99 + b"]" * 99 + b"}"
        self.assertEqual(client.one(fine), {"type": "pong", "id": 1})
        for inner in (b"", b'"\\u00e9"'):
            deep = b'{"type":"ping","id":"deep","x":' + b"[" * 100 + inner + b"]" * 100 + b"}"
            answer = client.one(deep)
            self.assertEqual((answer["code"], answer.get("id")), ("bad_json", "deep"))
        very_deep = b'{"type":"ping","id":"d5","x":' + b"[" * 500 + b'"\\u00e9"' + b"]" * 500 + b"}"
        answer = client.one(very_deep)
        self.assertEqual((answer["code"], answer.get("id")), ("bad_json", "d5"))
        self.assertEqual(self.flushLoggedErrors(), [])

    def test_flood_error_carries_the_overflowing_lines_id(self) -> None:
        """The flood error answers the first line over budget, and the closing one the 50th, with their ids."""
        client = self.client()
        ping = b'{"type":"ping"}\n'
        over = [b'{"type":"ping","id":"over%d"}\n' % n for n in range(1, 51)]
        client.protocol.dataReceived(ping * 20 + b"".join(over))
        errors = [f for f in client.frames() if f["type"] == "error"]
        self.assertEqual([(f["code"], f.get("id")) for f in errors], [("flood", "over1"), ("flood", "over50")])
        self.assertTrue(client.closed)

    def test_closing_password_refusal_has_retry_after(self) -> None:
        """The refused guess that closes the connection still says when to try again."""
        owner = self.client()
        owner.one({"type": "create", "name": "vault", "username": "owner", "password": "31415"})
        guesser = self.client()
        answers = []
        for guess in range(60):
            if guesser.closed:
                break
            answers += guesser.send({"type": "join", "session": 10, "username": "guess", "password": f"{guess:05d}"})
        closing = answers[-1]
        self.assertTrue(guesser.closed)
        self.assertEqual(closing["code"], "too_many_attempts")
        self.assertIn("Closing the connection.", closing["message"])
        self.assertIsInstance(closing["retry_after"], int)
        self.assertGreaterEqual(closing["retry_after"], 1)


class DocumentedBehaviourTests(ProtocolTestCase):
    def test_welcome_says_exit_code_digits(self) -> None:
        """The welcome frame carries "exit_code_digits": 10."""
        self.assertEqual(self.client().welcome["exit_code_digits"], 10)

    def test_exit_code_is_exactly_10_digits(self) -> None:
        """9 or 11 digits are invalid_exit_code and no attempt; 10 wrong digits are a wrong code."""
        client = self.client()
        for code in ("123456789", "12345678901", "12345"):
            self.assertEqual(client.error_code({"type": "exit", "code": code}), "invalid_exit_code")
        answer = client.one({"type": "exit", "code": "1234567890"})
        self.assertEqual((answer["code"], answer["message"]), ("wrong_exit_code", "Wrong exit code (2 attempts left)."))

    def test_usernames_take_irc_fallback_characters(self) -> None:
        """bob_, a__, _ab, [a] and 12 characters join; -ab, 1ab and 13 characters are invalid_name with the rule."""
        for index, username in enumerate(("bob_", "a__", "_ab", "[a]", "x`y", "c\\d^{}|", "abcdefghijk-")):
            answer = self.client().one({"type": "join", "session": index + 1, "username": username})
            self.assertEqual((answer["type"], answer["you"]), ("joined", username))
        client = self.client()
        for username in ("-ab", "1ab", "abcdefghijk__", "bob~"):
            answer = client.one({"type": "join", "session": 1, "username": username})
            self.assertEqual(answer["code"], "invalid_name")
            self.assertEqual(
                answer["message"],
                "The username must be 3 to 12 letters, digits or _ - [ ] \\ ^ { } | `, not starting with a digit or -.",
            )

    def test_session_names_stay_letters_and_digits(self) -> None:
        """A session name with an IRC fallback character (gar_den) is invalid_name, with the session rule."""
        answer = self.client().one({"type": "create", "name": "gar_den", "username": "bob_"})
        self.assertEqual(
            (answer["code"], answer["message"]),
            ("invalid_name", "The name must be 3 to 12 letters or digits (A-Z, a-z, 0-9), not starting with a digit."),
        )

    def test_session_exists_names_the_session(self) -> None:
        """session_exists names the existing session as it is stored."""
        self.client().one({"type": "create", "name": "Garden", "username": "alice"})
        answer = self.client().one({"type": "create", "name": "GARDEN", "username": "bob"})
        self.assertEqual((answer["code"], answer["message"]), ("session_exists", "A session named Garden exists."))

    def test_password_to_unlocked_session_is_checked_for_shape_then_ignored(self) -> None:
        """A malformed password is invalid_password even for an open session; a well-formed one is ignored."""
        client = self.client()
        self.assertEqual(
            client.error_code({"type": "join", "session": 1, "username": "alice", "password": "12"}), "invalid_password"
        )
        self.assertEqual(client.one({"type": "join", "session": 1, "username": "alice", "password": "12345"})["type"], "joined")

    def test_one_join_in_flight(self) -> None:
        """While a join or create waits for its password hash, another join, create or exit gets wrong_state; once answered, the next join is taken."""
        pending: list = []

        class SlowPasswords:
            def hash(self, password: str):
                pending.append(Deferred())
                return pending[-1]

        self.chat.passwords = SlowPasswords()
        alice = self.client()
        self.assertEqual(alice.send({"type": "create", "name": "garden", "username": "alice", "password": "12345", "id": 1}), [])
        for frame in (
            {"type": "join", "session": 1, "username": "alice", "id": 2},
            {"type": "create", "name": "other", "username": "alice", "id": 3},
            {"type": "exit", "code": TEST_EXIT_CODE, "id": 4},
        ):
            answer = alice.one(frame)
            self.assertEqual((answer["code"], answer["id"]), ("wrong_state", frame["id"]))
            self.assertEqual(answer["message"], "A join is already in progress; wait for its answer.")
        pending[0].callback("scrypt$2$1$1$AA$AA")
        self.assertEqual(alice.frames()[0]["id"], 1)
        self.assertEqual(self.exits, [])
        self.assertEqual(alice.one({"type": "join", "session": 1, "username": "alice", "id": 5})["type"], "joined")


class ActivityTests(ProtocolTestCase):
    def test_malformed_say_and_command_count_as_activity_ping_does_not(self) -> None:
        """A refused say or command resets the idle timer; a ping does not."""
        alice = self.client()
        alice.one({"type": "join", "session": 1, "username": "alice"})
        self.clock.advance(100)
        self.assertEqual(alice.error_code({"type": "say"}), "missing_field")
        self.clock.advance(100)
        self.assertEqual(alice.frames(), [])
        self.assertEqual(alice.error_code({"type": "command", "name": "a b"}), "bad_field")
        self.clock.advance(100)
        self.assertEqual(alice.frames(), [])
        self.assertEqual(alice.error_code(b'{"type":"say","text":"a\\ud800"}'), "bad_field")
        self.clock.advance(100)
        self.assertEqual(alice.frames(), [])
        self.assertEqual(alice.one({"type": "ping"})["type"], "pong")
        self.clock.advance(100)
        self.assertEqual(alice.frames(), [{"type": "idle_warning", "session": 1, "seconds_left": 120.0}])


class PeopleTests(ProtocolTestCase):
    """One user per connection: many sessions, one nick, private messages, presence."""

    def test_three_sessions_at_once_each_frame_names_its_session(self) -> None:
        """In 3 sessions: messages, acks, replies and errors each name their session; say must name one."""
        alice, bob = self.client(), self.client()
        for session in (1, 2, 3):
            self.assertEqual(alice.send({"type": "join", "session": session, "username": "alice"})[-1]["type"], "joined")
            bob.send({"type": "join", "session": session, "username": "bob"})
        alice.frames()
        for session in (1, 2, 3):
            ack = bob.one({"type": "say", "session": session, "text": f"in {session}"})
            self.assertEqual((ack["type"], ack["session"]), ("ack", session))
        self.assertEqual(
            [(f["type"], f["session"], f["text"]) for f in alice.frames()],
            [("message", 1, "in 1"), ("message", 2, "in 2"), ("message", 3, "in 3")],
        )
        refused = bob.one({"type": "say", "text": "where?"})
        self.assertEqual(refused["code"], "missing_field")
        self.assertEqual(alice.frames(), [])
        left, reply = bob.send({"type": "command", "session": 2, "name": "quit"})
        self.assertEqual((left["type"], left["session"]), ("left", 2))
        self.assertEqual((reply["type"], reply["session"]), ("reply", 2))
        refused = bob.one({"type": "command", "session": 2, "name": "time", "id": 5})
        self.assertEqual((refused["code"], refused["session"], refused["id"]), ("not_in_session", 2, 5))

    def test_one_session_needs_no_session_field(self) -> None:
        """In exactly one session, say and command work without naming it (protocol 1 clients)."""
        alice = self.client()
        alice.one({"type": "join", "session": 4, "username": "alice"})
        self.assertEqual(alice.one({"type": "say", "text": "hi"})["session"], 4)
        self.assertEqual(alice.one({"type": "command", "name": "echo", "args": "x"})["session"], 4)

    def test_twentieth_session_accepted_twenty_first_refused(self) -> None:
        """A user is in at most 20 sessions: the 20th join is accepted, the 21st gets too_many_sessions."""
        answers = self.join_many(self.client(), 21)
        self.assertEqual([a["type"] for a in answers[:20]], ["joined"] * 20)
        self.assertEqual((answers[20]["type"], answers[20]["code"]), ("error", "too_many_sessions"))

    def test_nick_change_reaches_every_session(self) -> None:
        """nick: the renamer gets nick_changed, each session's members member_renamed; a taken name is refused."""
        alice, bob, carol = self.client(), self.client(), self.client()
        for session in (1, 2):
            alice.send({"type": "join", "session": session, "username": "alice"})
            bob.send({"type": "join", "session": session, "username": "bob"})
        carol.send({"type": "join", "session": 5, "username": "carol"})
        alice.frames(), carol.frames()
        answer = alice.one({"type": "nick", "name": "alicia"})
        self.assertEqual(answer, {"type": "nick_changed", "old": "alice", "name": "alicia"})
        self.assertEqual(
            bob.frames(),
            [
                {"type": "member_renamed", "session": 1, "old": "alice", "name": "alicia"},
                {"type": "member_renamed", "session": 2, "old": "alice", "name": "alicia"},
            ],
        )
        self.assertEqual(carol.frames(), [])
        self.assertEqual(alice.error_code({"type": "nick", "name": "BOB"}), "name_taken")
        self.assertEqual(bob.one({"type": "say", "session": 1, "text": "hi alicia"})["type"], "ack")
        self.assertEqual(alice.frames()[0]["from"], "bob")
        self.assertEqual(bob.one({"type": "command", "session": 1, "name": "echo", "args": "ok"})["text"], "ok")

    def test_later_join_reuses_the_name_and_after_leaving_all_takes_a_new_one(self) -> None:
        """In a session, a join must use the same username; back at the list, a join may give another."""
        alice = self.client()
        alice.one({"type": "join", "session": 1, "username": "alice"})
        self.assertEqual(alice.error_code({"type": "join", "session": 2, "username": "alicia"}), "username_mismatch")
        alice.send({"type": "command", "name": "quit"})
        self.assertEqual(alice.one({"type": "join", "session": 2, "username": "alicia"})["you"], "alicia")
        self.assertEqual(self.client().one({"type": "join", "session": 3, "username": "alice"})["you"], "alice")

    def test_private_message_reaches_only_its_target(self) -> None:
        """private: the target gets private_message (from, text, ts); the sender an ack; nobody else anything."""
        alice, bob, carol = self.client(), self.client(), self.client()
        for client, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
            client.send({"type": "join", "session": 1, "username": name})
        alice.frames(), bob.frames()
        ack = alice.one({"type": "private", "to": "BOB", "text": "psst", "id": "p1"})
        self.assertEqual(ack, {"type": "ack", "to": "BOB", "ts": self.clock.seconds(), "msgid": "m1", "id": "p1"})
        self.assertEqual(
            bob.frames(),
            [{"type": "private_message", "from": "alice", "text": "psst", "ts": self.clock.seconds(), "msgid": "m1",
              "notice": False}],
        )
        self.assertEqual(carol.frames(), [])
        self.assertEqual(list(self.chat.sessions[1].history), [])
        self.assertEqual(alice.error_code({"type": "private", "to": "dave", "text": "hi"}), "no_such_user")
        self.assertEqual(alice.error_code({"type": "private", "to": "bob", "text": "two\nlines"}), "bad_field")

    def test_private_message_is_never_read_by_a_later_holder_of_the_name(self) -> None:
        """Private messages are not stored: who takes the name later gets nothing of them."""
        alice, bob = self.client(), self.client()
        alice.send({"type": "join", "session": 1, "username": "alice"})
        bob.send({"type": "join", "session": 2, "username": "bob"})
        alice.one({"type": "private", "to": "bob", "text": "for bob only"})
        bob.protocol.transport.loseConnection()
        bob.protocol.connectionLost(None)
        later = self.client()
        joined = later.send({"type": "join", "session": 2, "username": "bob"})
        self.assertNotIn("for bob only", json.dumps(joined))
        self.assertEqual(alice.error_code({"type": "private", "to": "bob2", "text": "x"}), "no_such_user")

    def test_away_whois_and_idle(self) -> None:
        """away sets a message (presence answer), shown in the ack of a private message and in whois with idle seconds."""
        alice, bob = self.client(), self.client()
        alice.send({"type": "join", "session": 1, "username": "alice"})
        alice.send({"type": "create", "name": "garden", "username": "alice"})
        bob.send({"type": "join", "session": 1, "username": "bob"})
        alice.send({"type": "say", "session": 1, "text": "brb"})
        spoke = self.clock.seconds()
        self.assertEqual(alice.one({"type": "away", "message": "at lunch"}), {"type": "presence", "away": "at lunch"})
        self.clock.advance(60)
        bob.frames()
        self.assertEqual(bob.one({"type": "private", "to": "alice", "text": "hi"})["away"], "at lunch")
        user = bob.one({"type": "whois", "name": "ALICE"})
        self.assertEqual(
            (user["type"], user["name"], user["sessions"], user["away"]),
            ("user", "alice", [{"id": 1, "name": "avocado"}, {"id": 10, "name": "garden"}], "at lunch"),
        )
        self.assertEqual(user["idle"], int(self.clock.seconds() - spoke))
        self.assertEqual(alice.frames()[-1]["type"], "private_message")
        self.assertEqual(alice.one({"type": "away"}), {"type": "presence", "away": None})
        bob.frames()
        self.assertNotIn("away", bob.one({"type": "private", "to": "alice", "text": "back?"}))
        self.assertEqual(bob.error_code({"type": "whois", "name": "nobody"}), "no_such_user")

    def test_member_away_reaches_the_other_members_of_each_shared_session(self) -> None:
        """away: each other member of each of alice's sessions gets member_away (session, name,
        away), one per session, null when back; alice gets presence only, a stranger nothing."""
        alice, bob, carol, dave = self.client(), self.client(), self.client(), self.client()
        for session in (1, 2):
            alice.send({"type": "join", "session": session, "username": "alice"})
            bob.send({"type": "join", "session": session, "username": "bob"})
        carol.send({"type": "join", "session": 2, "username": "carol"})
        dave.send({"type": "join", "session": 5, "username": "dave"})
        alice.frames(), bob.frames()
        self.assertEqual(alice.send({"type": "away", "message": "at lunch"}), [{"type": "presence", "away": "at lunch"}])
        self.assertEqual(
            bob.frames(),
            [
                {"type": "member_away", "session": 1, "name": "alice", "away": "at lunch"},
                {"type": "member_away", "session": 2, "name": "alice", "away": "at lunch"},
            ],
        )
        self.assertEqual(carol.frames(), [{"type": "member_away", "session": 2, "name": "alice", "away": "at lunch"}])
        self.assertEqual(dave.frames(), [])
        self.assertEqual(alice.send({"type": "away"}), [{"type": "presence", "away": None}])
        self.assertEqual(carol.frames(), [{"type": "member_away", "session": 2, "name": "alice", "away": None}])
        self.assertEqual([f["away"] for f in bob.frames()], [None, None])

    def test_member_away_only_for_a_change(self) -> None:
        """The same away message again, or back when not away (absent, null, "" or spaces), sends
        the others nothing; alice still gets presence each time."""
        alice, bob = self.client(), self.client()
        alice.send({"type": "join", "session": 1, "username": "alice"})
        bob.send({"type": "join", "session": 1, "username": "bob"})
        alice.frames()
        for frame in ({"type": "away"}, {"type": "away", "message": None}, {"type": "away", "message": "  "}):
            self.assertEqual(alice.send(frame), [{"type": "presence", "away": None}])
        self.assertEqual(alice.send({"type": "away", "message": "out"}), [{"type": "presence", "away": "out"}])
        self.assertEqual(bob.frames(), [{"type": "member_away", "session": 1, "name": "alice", "away": "out"}])
        self.assertEqual(alice.send({"type": "away", "message": "out"}), [{"type": "presence", "away": "out"}])
        self.assertEqual(bob.frames(), [])

    def test_joined_members_carry_away(self) -> None:
        """joined lists each member's away message (null when present); an away joiner's
        member_joined is followed by member_away."""
        alice, bob, carol = self.client(), self.client(), self.client()
        alice.send({"type": "join", "session": 1, "username": "alice"})
        alice.send({"type": "away", "message": "at lunch"})
        joined = bob.one({"type": "join", "session": 1, "username": "bob"})
        self.assertEqual([(m["name"], m["away"]) for m in joined["members"]], [("alice", "at lunch"), ("bob", None)])
        carol.send({"type": "away", "message": "brb"})
        carol.send({"type": "join", "session": 1, "username": "carol"})
        self.assertEqual(
            [(f["type"], f["name"], f.get("away")) for f in bob.frames()],
            [("member_joined", "carol", None), ("member_away", "carol", "brb")],
        )

    def test_member_away_is_encoded_once_per_session(self) -> None:
        """One away change costs one encoding per session it reaches, however many members each has."""
        alice, *others = [self.client() for _ in range(4)]
        for session in (1, 2):
            for client, name in zip([alice, *others], ["alice", "bob", "carol", "dave"]):
                client.send({"type": "join", "session": session, "username": name})
        for client in others:
            client.frames()
        encodings = []
        encode = wire.encode_frame

        def counting(frame: dict) -> bytes:
            encodings.append(frame["type"])
            return encode(frame)

        self.patch(wire, "encode_frame", counting)
        alice.send({"type": "away", "message": "at lunch"})
        self.assertEqual(sorted(encodings), ["member_away", "member_away", "presence"])
        self.assertEqual([len(client.frames()) for client in others], [2, 2, 2])

    def test_glozi_serv_is_reserved(self) -> None:
        """GloziServ, in any case, is refused as a username (invalid_name saying it is reserved)."""
        client = self.client()
        for name in ("GloziServ", "gloziserv"):
            for frame in (
                {"type": "join", "session": 1, "username": name},
                {"type": "create", "name": "garden", "username": name},
                {"type": "nick", "name": name},
            ):
                answer = client.one(frame)
                self.assertEqual(answer["code"], "invalid_name", frame)
                self.assertEqual(answer["message"], f"The username {name} is reserved for the server; choose another.")


class NoExternalTests(ProtocolTestCase):
    def test_say_to_a_session_you_are_not_in(self) -> None:
        """`say` with the session of someone else's: `not_in_session` under +n; after `/mode -n`,
        an ack naming it, and every member gets the message; under +m, `moderated`."""
        alice, bob, carol = self.client(), self.client(), self.client()
        alice.one({"type": "create", "name": "garden", "username": "alice"})
        bob.one({"type": "join", "session": 10, "username": "bob"})
        carol.one({"type": "join", "session": 1, "username": "carol"})
        alice.frames()
        self.assertEqual(carol.error_code({"type": "say", "session": 10, "text": "hi"}), "not_in_session")
        reply = alice.send({"type": "command", "session": 10, "name": "mode", "args": "-n"})[-1]
        self.assertEqual(reply["text"], "Changed: -n")
        bob.frames()
        self.assertEqual(
            carol.one({"type": "say", "session": 10, "text": "hi from carol"}),
            {"type": "ack", "session": 10, "ts": self.clock.seconds(), "msgid": "m1"},
        )
        expected = {
            "type": "message", "session": 10, "from": "carol", "text": "hi from carol", "ts": self.clock.seconds(),
            "msgid": "m1",
        }
        self.assertEqual((alice.frames(), bob.frames()), ([expected], [expected]))
        alice.send({"type": "command", "session": 10, "name": "mode", "args": "+m"})
        self.assertEqual(carol.error_code({"type": "say", "session": 10, "text": "hi"}), "moderated")


class SecretSessionTests(ProtocolTestCase):
    def test_a_secret_session_leaves_the_list_and_comes_back(self) -> None:
        """`/mode +s`: carol at the list gets session_removed, her `list` lacks garden, her join by id works;
        a member's `list` has it; who leaves it is told it is gone from theirs; `-s`: session_added."""
        alice, bob, carol = self.client(), self.client(), self.client()
        alice.one({"type": "create", "name": "garden", "username": "alice"})
        bob.one({"type": "join", "session": 10, "username": "bob"})
        carol.frames(session_list=True)
        reply = alice.send({"type": "command", "session": 10, "name": "mode", "args": "+s"})[-1]
        self.assertEqual(reply["text"], "Changed: +s")
        self.assertEqual(carol.frames(session_list=True), [{"type": "session_removed", "session": 10, "name": "garden"}])
        self.assertNotIn(10, [s["id"] for s in carol.one({"type": "list"})["sessions"]])
        [mine] = [s for s in alice.one({"type": "list"})["sessions"] if s["id"] == 10]
        self.assertEqual(mine["modes"], "+nst")
        self.assertEqual(carol.send({"type": "join", "session": 10, "username": "carol"})[0]["type"], "joined")
        carol.send({"type": "command", "session": 10, "name": "quit"})
        self.assertEqual(bob.frames(session_list=True)[-1]["type"], "member_left")
        bob.protocol.dataReceived(b'{"type":"command","session":10,"name":"quit"}\n')
        self.assertEqual(
            [f["type"] for f in bob.frames(session_list=True)], ["left", "session_removed", "reply"],
            "who left a secret session is at the list again, and told it is not in theirs",
        )
        alice.send({"type": "command", "session": 10, "name": "mode", "args": "-s"})
        [added] = carol.frames(session_list=True)
        self.assertEqual((added["type"], added["session"]["id"], added["session"]["modes"]), ("session_added", 10, "+nt"))

    def test_whois_hides_a_secret_session(self) -> None:
        """whois lists a secret session only to those in it."""
        alice, carol = self.client(), self.client()
        alice.one({"type": "create", "name": "garden", "username": "alice"})
        alice.send({"type": "command", "session": 10, "name": "mode", "args": "+s"})
        carol.one({"type": "join", "session": 1, "username": "carol"})
        self.assertEqual(carol.one({"type": "whois", "name": "alice"})["sessions"], [])
        self.assertEqual(alice.one({"type": "whois", "name": "alice"})["sessions"], [{"id": 10, "name": "garden"}])

    def test_exception_lists_by_mode(self) -> None:
        """`/mode +e bob` and `/mode +I bob`; `/mode e` and `/mode I` answer with them."""
        alice = self.client()
        alice.one({"type": "create", "name": "garden", "username": "alice"})

        def mode(args: str) -> str:
            return alice.send({"type": "command", "session": 10, "name": "mode", "args": args})[-1]["text"]

        self.assertEqual(mode("I"), "No invite exceptions in garden.")
        self.assertEqual(mode("+eI bob carol"), "Changed: +e bob!*@* +I carol!*@*")
        self.assertEqual(mode("e"), "Ban exceptions in garden: bob!*@*")
        self.assertEqual(mode("I"), "Invite exceptions in garden: carol!*@*")
        self.assertEqual(mode("be"), "No bans in garden.\nBan exceptions in garden: bob!*@*")


class UnreadableStore(MemoryStore):
    """A store whose history cannot be read (writes still work)."""

    def read_history(self, session_id: int, query: object) -> "Deferred[list]":
        return fail(StoreError("disk I/O error"))

    def history_targets(self, session_ids: object, after: float, before: float, limit: int) -> "Deferred[list]":
        return fail(StoreError("disk I/O error"))


class MessageIdTests(ProtocolTestCase):
    def test_ack_message_and_history_on_join_carry_the_same_msgid(self) -> None:
        """The sender's ack, the others' message and a later joiner's history frame name the message by one msgid."""
        alice, bob, carol = self.client(), self.client(), self.client()
        alice.one({"type": "join", "session": 1, "username": "alice"})
        bob.one({"type": "join", "session": 1, "username": "bob"})
        alice.frames()
        ack = bob.one({"type": "say", "text": "first", "action": True})
        [message] = alice.frames()
        joined, history = carol.send({"type": "join", "session": 1, "username": "carol"})
        self.assertEqual(joined["history"], 1)
        self.assertEqual((ack["msgid"], message["msgid"], history["msgid"]), ("m1", "m1", "m1"))
        self.assertEqual(
            history,
            {"type": "history", "session": 1, "from": "bob", "text": "first", "ts": ack["ts"], "msgid": "m1", "action": True},
        )


class HistoryRequestTests(ProtocolTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.chat.idle_timeout = 3600
        self.alice, self.bob = self.client(), self.client()
        self.alice.one({"type": "join", "session": 1, "username": "alice"})
        self.bob.send({"type": "join", "session": 1, "username": "bob"})
        self.alice.frames()

    def say(self, count: int) -> list[dict]:
        """``count`` messages from alice, each a person's pace apart; their acks (bob's copies are read away)."""
        acks = [self.alice.one({"type": "say", "text": f"line {n}"}) for n in range(count)]
        self.bob.frames()
        return acks

    def history(self, **fields: object) -> dict:
        return self.bob.one({"type": "history", "session": 1, **fields})

    def test_pages_back_through_every_message_with_no_gap_or_duplicate(self) -> None:
        """latest, then before the oldest shown, again and again: every message once, in order; the last page says no more."""
        acks = self.say(250)
        page = self.history(direction="latest", limit=100, id="h1")
        self.assertEqual((page["type"], page["session"], page["more"], page["id"]), ("messages", 1, True, "h1"))
        pages = [page]
        while pages[-1]["more"]:
            oldest = pages[-1]["messages"][0]["msgid"]
            pages.append(self.history(direction="before", at={"msgid": oldest}, limit=100))
        self.assertEqual([len(p["messages"]) for p in pages], [100, 100, 50])
        seen = [m for p in reversed(pages) for m in p["messages"]]
        self.assertEqual([m["msgid"] for m in seen], [ack["msgid"] for ack in acks])
        self.assertEqual(seen[0], {"msgid": acks[0]["msgid"], "ts": acks[0]["ts"], "from": "alice", "text": "line 0"})

    def test_every_direction_by_msgid_and_by_time(self) -> None:
        """after, around, between and latest-after, by msgid and by ts: bounds exclusive, around includes its anchor."""
        acks = self.say(10)
        ids, times = [a["msgid"] for a in acks], [a["ts"] for a in acks]

        def texts(**fields: object) -> list[str]:
            return [m["text"] for m in self.history(**fields)["messages"]]

        self.assertEqual(texts(direction="after", at={"msgid": ids[7]}, limit=5), ["line 8", "line 9"])
        self.assertEqual(texts(direction="after", at={"ts": times[7] + 0.1}, limit=1), ["line 8"])
        self.assertEqual(texts(direction="after", at={"ts": times[7]}, limit=1), ["line 8"], "a time bound is exclusive")
        self.assertEqual(texts(direction="before", at={"ts": times[2]}, limit=100), ["line 0", "line 1"])
        self.assertEqual(texts(direction="before", at={"ts": times[2] - 0.1}, limit=100), ["line 0", "line 1"])
        self.assertEqual(texts(direction="around", at={"msgid": ids[5]}, limit=3), ["line 4", "line 5", "line 6"])
        self.assertEqual(
            texts(direction="between", at={"msgid": ids[1]}, until={"ts": times[5] - 0.1}, limit=100),
            ["line 2", "line 3", "line 4"],
        )
        self.assertEqual(texts(direction="latest", at={"msgid": ids[6]}, limit=2), ["line 8", "line 9"])
        self.assertEqual(texts(direction="latest", at=None, limit=1), ["line 9"])
        self.assertEqual(self.history(direction="before", at={"msgid": "nosuchid"}, limit=10)["messages"], [])

    def test_more_is_false_on_a_page_that_is_not_full(self) -> None:
        """more is true exactly when the page holds as many messages as the limit."""
        self.say(3)
        self.assertTrue(self.history(direction="latest", limit=3)["more"])
        self.assertFalse(self.history(direction="latest", limit=4)["more"])

    def test_limit_is_1_to_100(self) -> None:
        """A limit of 100 is accepted, 101 and 0 get bad_field with the request id."""
        self.say(2)
        self.assertEqual(self.history(direction="latest", limit=100)["type"], "messages")
        for limit in (101, 0, -1):
            answer = self.history(direction="latest", limit=limit, id=3)
            self.assertEqual((answer["code"], answer["message"], answer["id"]), ("bad_field", "The limit is 1 to 100.", 3))
        self.assertEqual(self.history(direction="latest")["code"], "missing_field")
        self.assertEqual(self.history(direction="latest", limit="5")["code"], "bad_field")

    def test_malformed_requests_are_refused_at_the_edge(self) -> None:
        """Each malformed history request gets the documented error and nothing is read."""
        cases = [
            ({}, "missing_field"),
            ({"direction": "sideways"}, "bad_field"),
            ({"direction": "BEFORE", "at": {"msgid": "m1"}}, "bad_field"),
            ({"direction": "before"}, "missing_field"),
            ({"direction": "before", "at": None}, "missing_field"),
            ({"direction": "between", "at": {"ts": 5}}, "missing_field"),
            ({"direction": "before", "at": {"ts": 5}, "until": {"ts": 9}}, "bad_field"),
            ({"direction": "before", "at": {"msgid": "m1", "ts": 5}}, "bad_field"),
            ({"direction": "before", "at": {}}, "bad_field"),
            ({"direction": "before", "at": {"id": "m1"}}, "bad_field"),
            ({"direction": "before", "at": "m1"}, "bad_field"),
            ({"direction": "before", "at": {"msgid": 5}}, "bad_field"),
            ({"direction": "before", "at": {"msgid": ""}}, "bad_field"),
            ({"direction": "before", "at": {"msgid": "x" * 65}}, "bad_field"),
            ({"direction": "before", "at": {"ts": -1}}, "bad_field"),
            ({"direction": "before", "at": {"ts": True}}, "bad_field"),
            ({"direction": "before", "at": {"ts": "5"}}, "bad_field"),
        ]
        for fields, code in cases:
            answer = self.history(limit=10, id="bad", **fields)
            self.assertEqual((answer["type"], answer["code"], answer["id"]), ("error", code, "bad"), fields)
        self.assertEqual(self.bob.error_code({"type": "history", "direction": "latest", "limit": 1}), "missing_field")
        infinite = b'{"type":"history","session":1,"direction":"before","at":{"ts":1e400},"limit":1}'
        self.assertEqual(self.bob.error_code(infinite), "bad_field")
        self.assertEqual(self.history(direction="before", at={"msgid": "x" * 64}, limit=1)["messages"], [])

    def test_only_a_member_reads_a_sessions_history(self) -> None:
        """A session you are not in answers not_in_session, with its session; the members' history stays theirs."""
        self.say(1)
        carol = self.client()
        carol.one({"type": "join", "session": 2, "username": "carol"})
        answer = carol.one({"type": "history", "session": 1, "direction": "latest", "limit": 5, "id": 4})
        self.assertEqual((answer["code"], answer["session"], answer["id"]), ("not_in_session", 1, 4))
        nowhere = self.client().one({"type": "history", "session": 1, "direction": "latest", "limit": 5})
        self.assertEqual(nowhere["code"], "wrong_state")

    def test_a_store_that_cannot_be_read_answers_not_stored(self) -> None:
        """A failed read is not_stored with the request id; the connection goes on."""
        self.chat.store = UnreadableStore()
        answer = self.history(direction="latest", limit=5, id=8)
        self.assertEqual((answer["code"], answer["id"]), ("not_stored", 8))
        targets = self.bob.one({"type": "history_targets", "after": 0, "before": 2e9, "limit": 5})
        self.assertEqual(targets["code"], "not_stored")
        self.assertEqual(self.bob.one({"type": "ping"})["type"], "pong")

    def test_history_targets_lists_your_sessions_with_messages_between_two_times(self) -> None:
        """history_targets: your sessions with a message strictly between after and before, newest first."""
        self.bob.send({"type": "join", "session": 2, "username": "bob"})
        self.alice.send({"type": "join", "session": 3, "username": "alice"})
        first = self.alice.one({"type": "say", "session": 1, "text": "in one"})
        self.bob.frames()
        second = self.bob.one({"type": "say", "session": 2, "text": "in two"})
        self.alice.one({"type": "say", "session": 3, "text": "bob is not in three"})
        answer = self.bob.one({"type": "history_targets", "after": 0, "before": 2e9, "limit": 100, "id": "t"})
        self.assertEqual(
            answer,
            {"type": "targets", "targets": [{"session": 2, "ts": second["ts"]}, {"session": 1, "ts": first["ts"]}], "id": "t"},
        )
        later = self.bob.one({"type": "history_targets", "after": first["ts"], "before": 2e9, "limit": 100})
        self.assertEqual(later["targets"], [{"session": 2, "ts": second["ts"]}])
        for frame, code in (
            ({"after": 0, "before": 1, "limit": 101}, "bad_field"),
            ({"after": 0, "before": 1, "limit": 0}, "bad_field"),
            ({"after": 0, "limit": 5}, "missing_field"),
            ({"after": "0", "before": 1, "limit": 5}, "bad_field"),
        ):
            self.assertEqual(self.bob.error_code({"type": "history_targets", **frame}), code, frame)


class DocumentedEdgeTests(ProtocolTestCase):
    """The limits of docs/protocol.md at their edges, with the documented literals."""

    def member(self, name: str = "alice") -> Client:
        client = self.client()
        client.one({"type": "join", "session": 1, "username": name})
        return client

    def test_largest_integer_id_accepted_and_2_to_the_53_refused(self) -> None:
        """An integer id from -(2^53-1) to 2^53-1 is echoed (500 too); 2^53 and -(2^53) are bad_field with no id."""
        client = self.client()
        for request_id in (500, 9007199254740991, -9007199254740991, 0):
            self.assertEqual(client.one({"type": "ping", "id": request_id}), {"type": "pong", "id": request_id})
        for request_id in (9007199254740992, -9007199254740992):
            answer = client.one({"type": "ping", "id": request_id})
            self.assertEqual((answer["code"], "id" in answer), ("bad_field", False), request_id)

    def test_an_id_that_is_no_string_or_integer_is_bad_field(self) -> None:
        """true, 1.5 and an object are no id: bad_field without an id; null means none."""
        client = self.client()
        for raw in (b"true", b"1.5", b'{"a":1}'):
            answer = client.one(b'{"type":"ping","id":' + raw + b"}")
            self.assertEqual((answer["code"], "id" in answer), ("bad_field", False), raw)
        self.assertEqual(client.one(b'{"type":"ping","id":null}'), {"type": "pong"})

    def test_64_character_id_accepted_65_refused(self) -> None:
        """A string id of 64 characters is echoed; 65 characters are bad_field with no id."""
        client = self.client()
        self.assertEqual(client.one({"type": "ping", "id": "i" * 64}), {"type": "pong", "id": "i" * 64})
        answer = client.one({"type": "ping", "id": "i" * 65})
        self.assertEqual((answer["code"], "id" in answer), ("bad_field", False))
        self.assertIn("64 characters", answer["message"])

    def test_an_id_with_a_lone_surrogate_is_refused(self) -> None:
        """A string id holding a lone surrogate is no id: bad_field, and nothing is echoed."""
        answer = self.client().one(b'{"type":"ping","id":"a\\udfff"}')
        self.assertEqual((answer["code"], "id" in answer), ("bad_field", False))

    def test_4096_byte_line_accepted_4097_closes_with_line_too_long(self) -> None:
        """A 4,096-byte line (without its line end) is read, with \\n or \\r\\n; 4,097 bytes: line_too_long, closed."""
        head = b'{"type":"ping","id":1}'
        at_limit = head + b" " * (4096 - len(head))
        for ending in (b"\n", b"\r\n"):
            client = self.client()
            client.protocol.dataReceived(at_limit + ending)
            self.assertEqual(client.frames(), [{"type": "pong", "id": 1}])
            client.protocol.dataReceived(at_limit + b" " + ending)
            [answer] = client.frames()
            self.assertEqual(answer["code"], "line_too_long")
            self.assertNotIn("id", answer)
            self.assertTrue(client.closed)

    def test_4096_byte_line_arriving_in_pieces_is_accepted(self) -> None:
        """A line at the limit whose \\r and \\n arrive later is still one line."""
        client = self.client()
        head = b'{"type":"ping","id":2}'
        client.protocol.dataReceived(head + b" " * (4096 - len(head)) + b"\r")
        client.protocol.dataReceived(b"\n")
        self.assertEqual(client.frames(), [{"type": "pong", "id": 2}])
        self.assertFalse(client.closed)

    def test_line_past_4096_bytes_and_a_cr_is_refused_before_it_ends(self) -> None:
        """4,096 bytes and a \r may still end well and wait; one byte more is line_too_long at once."""
        client = self.client()
        client.protocol.dataReceived(b"x" * 4096 + b"\r")
        self.assertEqual((client.frames(), client.closed), ([], False))
        client.protocol.dataReceived(b"x")
        self.assertEqual([f["code"] for f in client.frames()], ["line_too_long"])
        self.assertTrue(client.closed)

    def test_welcome_tells_the_documented_limits(self) -> None:
        """The welcome carries max_line 4096 and max_text 2000."""
        welcome = self.client().welcome
        self.assertEqual((welcome["max_line"], welcome["max_text"]), (4096, 2000))

    def test_2000_character_text_accepted_2001_refused_with_bad_field(self) -> None:
        """say text of 2,000 characters is sent; 2,001 is bad_field."""
        alice, bob = self.member("alice"), self.member("bob")
        alice.frames()
        self.assertEqual(alice.one({"type": "say", "text": "x" * 2000})["type"], "ack")
        self.assertEqual(bob.frames()[-1]["text"], "x" * 2000)
        self.assertEqual(alice.error_code({"type": "say", "text": "x" * 2001}), "bad_field")
        self.assertEqual(bob.frames(), [])

    def test_empty_text_is_bad_field(self) -> None:
        """An empty text, like one of only white space, is bad_field."""
        alice = self.member()
        for text in ("", " \t "):
            self.assertEqual(alice.error_code({"type": "say", "text": text}), "bad_field", repr(text))

    def test_say_without_text_is_missing_field(self) -> None:
        """A say with no text in a session is missing_field (not bad_field), with the id."""
        answer = self.member().one({"type": "say", "id": "s"})
        self.assertEqual((answer["code"], answer["id"]), ("missing_field", "s"))

    def test_text_that_is_no_string_is_bad_field(self) -> None:
        """A number as text is bad_field."""
        self.assertEqual(self.member().error_code({"type": "say", "text": 5}), "bad_field")

    def test_echo_of_2000_characters_accepted_2001_refused(self) -> None:
        """/echo with 2,000 characters of args replies with them; 2,001 is bad_field and echoes nothing."""
        alice = self.member()
        reply = alice.one({"type": "command", "name": "echo", "args": "y" * 2000})
        self.assertEqual((reply["type"], reply["text"]), ("reply", "y" * 2000))
        answer = alice.one({"type": "command", "name": "echo", "args": "y" * 2001, "id": 3})
        self.assertEqual((answer["type"], answer["code"], answer["id"]), ("error", "bad_field", 3))

    def test_echo_with_control_characters_refused(self) -> None:
        """/echo args with a newline, a bell, DEL, a C1 control or U+2028 are bad_field."""
        alice = self.member()
        for args in ("a\nb", "a\x07b", "a\x7fb", "a\x85b", "a\u2028b", "a\u2029b", "\x00"):
            answer = alice.one({"type": "command", "name": "echo", "args": args})
            self.assertEqual((answer["type"], answer.get("code")), ("error", "bad_field"), repr(args))

    def test_echo_of_printable_text_with_a_tab_replies(self) -> None:
        """Printable args (a tab, U+00A0 and U+D7FF included) are echoed back."""
        alice = self.member()
        for args in ("a\tb", "no\u00a0break", "\ud7ff", "\ue000"):
            self.assertEqual(alice.one({"type": "command", "name": "echo", "args": args})["text"], args)

    def test_lone_low_surrogate_is_refused_by_the_parser(self) -> None:
        """A lone \\udfff escape in a say is bad_field with the id: nothing logged, nobody gets it, the sender goes on."""
        alice, bob = self.member("alice"), self.member("bob")
        alice.frames()
        answer = bob.one(b'{"type":"say","text":"a\\udfffb","id":"lone"}')
        self.assertEqual((answer["code"], answer["id"]), ("bad_field", "lone"))
        self.assertIn("surrogate", answer["message"])
        self.assertEqual(self.flushLoggedErrors(), [])
        self.assertEqual(alice.frames(), [])
        self.assertEqual(bob.one({"type": "say", "text": "after"})["type"], "ack")
        self.assertEqual(alice.frames()[-1]["text"], "after")
        joiner = self.client()
        joined = joiner.send({"type": "join", "session": 1, "username": "carol"})
        self.assertEqual([f["text"] for f in joined if f["type"] == "history"], ["after"])

    def test_escaped_surrogate_pair_is_one_character(self) -> None:
        """A pair of surrogate escapes (\\ud83c\\udf89) is one character and is sent as such."""
        alice, bob = self.member("alice"), self.member("bob")
        alice.frames()
        self.assertEqual(bob.one(b'{"type":"say","text":"\\ud83c\\udf89"}')["type"], "ack")
        self.assertEqual(alice.frames()[-1]["text"], "\U0001f389")

    def test_every_surrogate_from_d800_to_dfff_is_refused(self) -> None:
        """Lone surrogates at both ends of the range (U+D800, U+DFFF) are bad_field; U+D7FF and U+E000 are not."""
        client = self.client()
        for escape in (b"\\ud800", b"\\udbff", b"\\udc00", b"\\udfff"):
            answer = client.one(b'{"type":"ping","x":"' + escape + b'","id":7}')
            self.assertEqual((answer["code"], answer["id"]), ("bad_field", 7), escape)
        for escape in (b"\\ud7ff", b"\\ue000"):
            self.assertEqual(client.one(b'{"type":"ping","x":"' + escape + b'","id":7}')["type"], "pong", escape)


class FrameFieldTests(SynchronousTestCase):
    """Each client frame's fields at their documented edges, read by the door's parser (docs/protocol.md)."""

    def parse(self, frame: dict | bytes) -> wire.Request:
        return wire.parse_request(frame if isinstance(frame, bytes) else json.dumps(frame).encode())

    def refusal(self, frame: dict | bytes) -> tuple[str, wire.RequestId]:
        """The error code ``frame`` is refused with, and the id that error carries."""
        with self.assertRaises(wire.FrameError) as raised:
            self.parse(frame)
        return raised.exception.code, raised.exception.request_id

    def assert_refused(self, code: str, *frames: dict | bytes) -> None:
        for frame in frames:
            self.assertEqual(self.refusal(frame)[0], code, frame)

    def test_lines_that_are_no_json_object(self) -> None:
        """NaN, Infinity, -Infinity and a byte-order mark are bad_json; an array, a number, a string not_object."""
        self.assert_refused("bad_json", b"NaN", b'{"type":"ping","x":Infinity}', b'{"type":"ping","x":-Infinity}')
        self.assert_refused("bad_json", b'\xef\xbb\xbf{"type":"ping"}', b'{"type":"ping"} {"type":"ping"}')
        self.assert_refused("not_object", b"[]", b"1", b'"ping"', b"null")
        self.assert_refused("bad_utf8", b'{"type":"say","text":"\xc3"}')
        self.assertEqual(self.parse(b'  {"type":"ping"}  '), wire.Ping())

    def test_type_is_a_known_case_sensitive_string(self) -> None:
        """A missing type is missing_field, a number bad_field, "PING" unknown_type: each with the id."""
        self.assertEqual(self.refusal({"id": 1}), ("missing_field", 1))
        self.assertEqual(self.refusal({"type": 5, "id": 2}), ("bad_field", 2))
        self.assertEqual(self.refusal({"type": "PING", "id": 3}), ("unknown_type", 3))
        self.assertEqual(self.refusal({"type": None, "id": 4}), ("missing_field", 4))

    def test_the_id_is_checked_before_the_type(self) -> None:
        """A bad id and an unknown type: the id's bad_field, carrying no id."""
        self.assertEqual(self.refusal({"type": "dance", "id": "i" * 65}), ("bad_field", None))

    def test_nesting_is_checked_before_the_id(self) -> None:
        """101 levels of nesting and a bad id: bad_json, without an id."""
        deep = b'{"type":"ping","id":"' + b"i" * 65 + b'","x":' + b"[" * 100 + b"]" * 100 + b"}"
        self.assertEqual(self.refusal(deep), ("bad_json", None))

    def test_nesting_of_100_levels_is_read_101_refused(self) -> None:
        """Objects count as levels too: the frame and 99 more are read; 100 more are bad_json with the id."""
        fine = b'{"type":"ping","id":1,"x":' + b'{"a":' * 99 + b"1" + b"}" * 99 + b"}"
        self.assertEqual(self.parse(fine), wire.Ping(1))
        deep = b'{"type":"ping","id":1,"x":' + b'{"a":' * 100 + b"1" + b"}" * 100 + b"}"
        self.assertEqual(self.refusal(deep), ("bad_json", 1))

    def test_100_levels_with_an_escape_are_walked_and_read(self) -> None:
        """A line that must be walked for surrogates (it has a \\u escape) may still nest 100 levels; 101 are bad_json."""
        fine = b'{"type":"ping","id":1,"x":' + b"[" * 99 + b'"\\u00e9"' + b"]" * 99 + b"}"
        self.assertEqual(self.parse(fine), wire.Ping(1))
        deep = b'{"type":"ping","id":1,"x":' + b"[" * 100 + b'"\\u00e9"' + b"]" * 100 + b"}"
        self.assertEqual(self.refusal(deep), ("bad_json", 1))

    def test_json_too_deep_for_the_decoder_is_bad_json_without_the_id(self) -> None:
        """2,000 levels (a line allows 2,047) are more than the decoder reads: bad_json, and no id."""
        line = b'{"type":"ping","id":1,"x":' + b"[" * 2000 + b"]" * 2000 + b"}"
        self.assertLessEqual(len(line), 4096)
        self.assertEqual(self.refusal(line), ("bad_json", None))

    def test_an_empty_session_password_is_none(self) -> None:
        """A create or join with password "" or null has none."""
        for password in ("", None):
            create = self.parse({"type": "create", "name": "garden", "username": "alice", "password": password})
            self.assertEqual(create, wire.CreateSession("garden", "alice", None))
            self.assertEqual(self.parse({"type": "join", "session": 1, "username": "bob", "password": password}).password, None)

    def test_a_lone_surrogate_in_a_key_is_refused(self) -> None:
        """Keys are strings too: a lone surrogate in one is bad_field, with the id."""
        self.assertEqual(self.refusal(b'{"type":"ping","\\udfff":1,"id":1}'), ("bad_field", 1))

    def test_an_unknown_type_is_not_echoed_whole(self) -> None:
        """A 4,000-character type is unknown_type with a short message: the server does not echo it back whole."""
        with self.assertRaises(wire.FrameError) as raised:
            self.parse({"type": "t" * 4000})
        self.assertEqual((raised.exception.code, raised.exception.message), ("unknown_type", f"Unknown frame type {'t' * 40!r}."))

    def test_hello_password_is_1_to_100_characters(self) -> None:
        """A hello's server password of 100 characters is read; "" and 101 characters are bad_field."""
        self.assertEqual(self.parse({"type": "hello", "protocol": 1, "password": "p" * 100}).password, "p" * 100)
        self.assertEqual(self.parse({"type": "hello", "protocol": 1}), wire.Hello(1))
        self.assert_refused(
            "bad_field",
            {"type": "hello", "protocol": 1, "password": ""},
            {"type": "hello", "protocol": 1, "password": "p" * 101},
            {"type": "hello", "protocol": "1"},
        )
        self.assert_refused("missing_field", {"type": "hello"})

    def test_command_name_is_1_to_32_ascii_letters_and_digits_after_one_slash(self) -> None:
        """32 letters and digits, "/help" and "HELP" are names; 33, "", "/", "//help", " help", "hé" are bad_field."""
        self.assertEqual(self.parse({"type": "command", "name": "a1" * 16}).name, "a1" * 16)
        self.assertEqual(self.parse({"type": "command", "name": "/help"}).name, "help")
        self.assertEqual(self.parse({"type": "command", "name": "HELP"}).name, "HELP")
        self.assert_refused(
            "bad_field",
            *({"type": "command", "name": name} for name in ("a" * 33, "", "/", "//help", " help", "hé", "h_p", "ｈelp")),
        )
        self.assert_refused("missing_field", {"type": "command"})

    def test_command_args_absent_or_null_are_none(self) -> None:
        """Absent or null args are none; a number is bad_field."""
        self.assertEqual(self.parse({"type": "command", "name": "help"}).args, "")
        self.assertEqual(self.parse({"type": "command", "name": "help", "args": None}).args, "")
        self.assert_refused("bad_field", {"type": "command", "name": "echo", "args": 5})

    def test_say_flags_are_true_false_or_null(self) -> None:
        """action and notice: true, false or null; anything else is bad_field."""
        say = self.parse({"type": "say", "text": "hi", "action": True, "notice": True, "session": 3, "id": "a"})
        self.assertEqual(say, wire.Say("hi", 3, "a", action=True, notice=True))
        self.assertEqual(self.parse({"type": "say", "text": "hi", "action": False, "notice": None}), wire.Say("hi"))
        self.assert_refused("bad_field", {"type": "say", "text": "hi", "action": 1}, {"type": "say", "text": "hi", "notice": "yes"})
        self.assert_refused("bad_field", {"type": "say", "text": "hi", "session": "3"})

    def test_a_name_asked_for_is_1_to_64_characters(self) -> None:
        """private's to and the name of whois, whowas, kill and oper: 64 characters are read; "" and 65 are bad_field."""
        frames = (
            ({"type": "private", "text": "hi"}, wire.SendPrivate),
            ({"type": "whois"}, wire.Whois),
            ({"type": "whowas"}, wire.Whowas),
            ({"type": "kill", "reason": "bye"}, wire.Kill),
            ({"type": "oper", "password": "secret"}, wire.Oper),
        )
        for frame, request in frames:
            key = "to" if frame["type"] == "private" else "name"
            self.assertIsInstance(self.parse({**frame, key: "n" * 64}), request)
            self.assert_refused("bad_field", {**frame, key: ""}, {**frame, key: "n" * 65})
            self.assert_refused("missing_field", frame)
        self.assertEqual(self.parse({"type": "private", "to": "bob", "text": "hi", "action": True}).action, True)

    def test_away_message_is_one_line_of_at_most_200_characters(self) -> None:
        """200 characters mark you away; 201 or two lines are bad_field; absent, null, "" or spaces mark you back."""
        self.assertEqual(self.parse({"type": "away", "message": "a" * 200}).message, "a" * 200)
        self.assert_refused("bad_field", {"type": "away", "message": "a" * 201}, {"type": "away", "message": "a\nb"})
        for back in ({}, {"message": None}, {"message": ""}, {"message": "   "}):
            self.assertEqual(self.parse({"type": "away", **back}), wire.SetAway(None), back)

    def test_oper_password_is_1_to_100_characters(self) -> None:
        """100 characters are read (with wallops); "" and 101 are bad_field; none is missing_field."""
        oper = self.parse({"type": "oper", "name": "root", "password": "p" * 100, "wallops": True})
        self.assertEqual(oper, wire.Oper("root", "p" * 100, True))
        self.assert_refused(
            "bad_field", {"type": "oper", "name": "root", "password": ""}, {"type": "oper", "name": "root", "password": "p" * 101}
        )
        self.assert_refused("missing_field", {"type": "oper", "name": "root"})

    def test_kill_reason_is_one_line_of_1_to_200_characters(self) -> None:
        """200 characters are read; 201, only spaces, "" or two lines are bad_field."""
        self.assertEqual(self.parse({"type": "kill", "name": "bob", "reason": "r" * 200}), wire.Kill("bob", "r" * 200))
        self.assert_refused(
            "bad_field", *({"type": "kill", "name": "bob", "reason": reason} for reason in ("r" * 201, "  ", "", "a\nb"))
        )
        self.assert_refused("missing_field", {"type": "kill", "name": "bob"})

    def test_quit_comment_is_one_line_of_at_most_2000_characters(self) -> None:
        """2,000 characters are read (trimmed); 2,001 or two lines are bad_field; spaces only are none."""
        self.assertEqual(self.parse({"type": "quit", "comment": "c" * 2000}).comment, "c" * 2000)
        self.assertEqual(self.parse({"type": "quit", "comment": "  bye "}).comment, "bye")
        self.assertEqual(self.parse({"type": "quit", "comment": "   "}).comment, None)
        self.assertEqual(self.parse({"type": "quit"}).comment, None)
        self.assert_refused("bad_field", {"type": "quit", "comment": "c" * 2001}, {"type": "quit", "comment": "a\rb"})

    def test_whowas_count_is_at_least_1(self) -> None:
        """A count of 1 is read, absent is none; 0, -1 and "2" are bad_field."""
        self.assertEqual(self.parse({"type": "whowas", "name": "bob", "count": 1}), wire.Whowas("bob", 1))
        self.assertEqual(self.parse({"type": "whowas", "name": "bob"}), wire.Whowas("bob"))
        self.assert_refused("bad_field", *({"type": "whowas", "name": "bob", "count": c} for c in (0, -1, "2")))

    def test_who_mask_is_1_to_64_characters(self) -> None:
        """A 64-character mask is read; "", 65 characters or a newline are bad_field."""
        self.assertEqual(self.parse({"type": "who", "mask": "*" * 64}), wire.Who("*" * 64))
        self.assert_refused("bad_field", *({"type": "who", "mask": m} for m in ("", "m" * 65, "a\nb")))
        self.assert_refused("missing_field", {"type": "who"})

    def test_frames_without_fields(self) -> None:
        """list, ping and stats take no fields; their id is kept."""
        self.assertEqual(self.parse({"type": "stats", "id": 1}), wire.Stats(1))
        self.assertEqual(self.parse({"type": "list", "id": 2}), wire.ListSessions(2))
        self.assertEqual(self.parse({"type": "ping", "id": 3}), wire.Ping(3))

    def test_modes_flags(self) -> None:
        """modes reads its three optional booleans; a number is bad_field."""
        self.assertEqual(self.parse({"type": "modes", "wallops": True, "operator": False, "invisible": True}),
                         wire.SetModes(True, False, True))
        self.assertEqual(self.parse({"type": "modes"}), wire.SetModes(None, None, None))
        self.assert_refused("bad_field", {"type": "modes", "invisible": 1})

    def test_a_time_is_from_0_to_below_2_to_the_53(self) -> None:
        """history_targets times: 0 and 2^53-1 are read; -1, 2^53, true and "5" are bad_field; none is missing_field."""
        frame = {"type": "history_targets", "after": 0, "before": 9007199254740991, "limit": 100}
        self.assertEqual(self.parse(frame), wire.HistoryTargets(0.0, 9007199254740991.0, 100))
        for before in (-1, 9007199254740992, True, "5"):
            self.assert_refused("bad_field", {**frame, "before": before})
        self.assert_refused("bad_field", {**frame, "limit": 101}, {**frame, "limit": 0})
        self.assert_refused("missing_field", {"type": "history_targets", "before": 1, "limit": 1})

    def test_history_at_a_time_at_the_edges(self) -> None:
        """A history point at 0 or 2^53-1 seconds is read; 2^53 is bad_field."""
        frame = {"type": "history", "session": 1, "direction": "before", "limit": 1}
        self.assertEqual(self.parse({**frame, "at": {"ts": 0}}).query.start.time, 0.0)
        self.assertEqual(self.parse({**frame, "at": {"ts": 9007199254740991}}).query.start.time, 9007199254740991.0)
        self.assert_refused("bad_field", {**frame, "at": {"ts": 9007199254740992}})
        self.assertEqual(self.parse({**frame, "at": {"msgid": "m" * 64}}).query.start.msgid, "m" * 64)
        self.assert_refused("bad_field", {**frame, "at": {"msgid": "a\nb"}})

    def test_upload_fields(self) -> None:
        """An upload names a session or a person, not both nor neither, a size of at least 1; its media type is lower-cased."""
        upload = {"type": "upload", "name": "a.png", "size": 1, "media_type": "IMAGE/PNG"}
        self.assertEqual(self.parse({**upload, "session": 4}), wire.RequestUpload(4, None, "a.png", 1, "image/png"))
        self.assertEqual(self.parse({**upload, "to": "bob"}), wire.RequestUpload(None, "bob", "a.png", 1, "image/png"))
        self.assert_refused(
            "bad_field",
            upload,
            {**upload, "session": 4, "to": "bob"},
            {**upload, "session": 4, "size": 0},
            {**upload, "session": 4, "name": "a/b"},
            {**upload, "session": 4, "media_type": "png"},
            {**upload, "to": ""},
        )


class EventFrameTests(SynchronousTestCase):
    """Each event as the frame docs/protocol.md (*Server frames*) describes, field by field."""

    SESSION = SessionInfo(10, "garden", 2, 1764120100.0, "alice", True, "alice", "roses", modes="+ntl", limit=5)
    SESSION_FIELDS: ClassVar[dict] = {
        "id": 10, "name": "garden", "members": 2, "created": 1764120100.0, "creator": "alice", "locked": True,
        "admin": "alice", "topic": "roses", "modes": "+ntl", "limit": 5,
    }  # fmt: skip

    def frame(self, event: Event) -> dict:
        """The frame for ``event``, also checked to be the one line it is encoded as."""
        line = wire.encode_event(event)
        self.assertEqual(wire.parse_frame(line), wire.event_frame(event))
        self.assertEqual(line.count(b"\n"), 1)
        return wire.event_frame(event)

    def test_session_objects(self) -> None:
        """session_added, session_changed, session_removed carry a session object (or its id and name)."""
        self.assertEqual(self.frame(SessionAdded(session=self.SESSION)), {"type": "session_added", "session": self.SESSION_FIELDS})
        self.assertEqual(self.frame(SessionChanged(session=self.SESSION)), {"type": "session_changed", "session": self.SESSION_FIELDS})
        self.assertEqual(self.frame(SessionRemoved(session_id=10, name="garden")), {"type": "session_removed", "session": 10, "name": "garden"})

    def test_joined(self) -> None:
        """joined: the session, you, the members with admin, voiced and away, the idle timeout, the history count."""
        members = (MemberInfo("alice", 1.0, True), MemberInfo("bob", 2.0, False, voiced=True, away="lunch"))
        history = (Message(session_id=10, sender="alice", text="hi", sent_at=1.5, msgid="m1"),)
        self.assertEqual(
            self.frame(Joined(session=self.SESSION, you="bob", members=members, idle_timeout=240.0, history=history)),
            {
                "type": "joined", "session": self.SESSION_FIELDS, "you": "bob",
                "members": [
                    {"name": "alice", "joined": 1.0, "admin": True, "voiced": False, "away": None},
                    {"name": "bob", "joined": 2.0, "admin": False, "voiced": True, "away": "lunch"},
                ],
                "idle_timeout": 240.0, "history": 1,
            },
        )  # fmt: skip

    def test_member_events(self) -> None:
        """member_joined, member_left, member_renamed, member_away, admin_changed as documented."""
        self.assertEqual(
            self.frame(MemberJoined(session_id=10, name="bob", joined_at=3.0)), {"type": "member_joined", "session": 10, "name": "bob", "joined": 3.0}
        )
        self.assertEqual(
            self.frame(MemberLeft(session_id=10, name="bob", reason="kicked", by="alice", comment="too loud")),
            {"type": "member_left", "session": 10, "name": "bob", "reason": "kicked", "by": "alice", "comment": "too loud"},
        )
        self.assertEqual(
            self.frame(MemberRenamed(session_id=10, old="bob", new="rob", change=1)), {"type": "member_renamed", "session": 10, "old": "bob", "name": "rob"}
        )
        self.assertEqual(
            self.frame(MemberAway(session_id=2, name="bob", away="at lunch", change=1)), {"type": "member_away", "session": 2, "name": "bob", "away": "at lunch"}
        )
        self.assertEqual(
            self.frame(AdminChanged(session_id=10, admin="bob", by="alice")), {"type": "admin_changed", "session": 10, "admin": "bob", "by": "alice"}
        )

    def test_session_rule_events(self) -> None:
        """topic_changed, mode_changed, invited as documented."""
        self.assertEqual(
            self.frame(TopicChanged(session_id=10, topic="roses", by="alice", at=4.0)),
            {"type": "topic_changed", "session": 10, "topic": "roses", "by": "alice", "ts": 4.0},
        )
        self.assertEqual(
            self.frame(ModeChanged(session_id=10, by="alice", mode="+l", parameter="10")),
            {"type": "mode_changed", "session": 10, "by": "alice", "mode": "+l", "parameter": "10"},
        )
        self.assertEqual(
            self.frame(Invited(session_id=10, session_name="garden", by="alice")), {"type": "invited", "session": 10, "name": "garden", "by": "alice"}
        )

    def test_message_carries_notice_and_action_only_when_true(self) -> None:
        """A plain message has neither notice nor action; a notice and an action say so."""
        plain = {"type": "message", "session": 10, "from": "bob", "text": "hi", "ts": 5.0, "msgid": "m2"}
        self.assertEqual(self.frame(Message(session_id=10, sender="bob", text="hi", sent_at=5.0, msgid="m2")), plain)
        self.assertEqual(self.frame(Message(session_id=10, sender="bob", text="hi", sent_at=5.0, notice=True, msgid="m2")), {**plain, "notice": True})
        self.assertEqual(self.frame(Message(session_id=10, sender="bob", text="hi", sent_at=5.0, action=True, msgid="m2")), {**plain, "action": True})

    def test_private_message_always_says_whether_it_is_a_notice(self) -> None:
        """private_message: from, text, ts, msgid, notice; action only when true."""
        plain = {"type": "private_message", "from": "bob", "text": "psst", "ts": 6.0, "msgid": "p1", "notice": False}
        self.assertEqual(self.frame(PrivateMessage(sender="bob", text="psst", sent_at=6.0, msgid="p1")), plain)
        self.assertEqual(self.frame(PrivateMessage(sender="bob", text="psst", sent_at=6.0, notice=True, msgid="p1"))["notice"], True)
        self.assertEqual(self.frame(PrivateMessage(sender="bob", text="psst", sent_at=6.0, action=True, msgid="p1")), {**plain, "action": True})

    def test_a_shared_file_is_announced_with_its_object(self) -> None:
        """A message sharing an image carries file with its thumbnail; a plain file's thumbnail is null."""
        picture = SharedFile("a.jpg", 2146304, "image/jpeg", "ab" * 32, 640, 480, 320, 240)
        frame = self.frame(Message(session_id=10, sender="bob", text="shared a.jpg (2.1 MB)", sent_at=7.0, action=True, msgid="f1", file=picture))
        self.assertEqual(
            frame["file"],
            {
                "name": "a.jpg", "size": 2146304, "media_type": "image/jpeg", "hash": "ab" * 32,
                "url": f"/files/{'ab' * 32}/a.jpg", "width": 640, "height": 480,
                "thumbnail": {"url": f"/thumbnails/{'ab' * 32}", "width": 320, "height": 240},
            },
        )  # fmt: skip
        notes = SharedFile("n.pdf", 5, "application/pdf", "cd" * 32)
        private = self.frame(PrivateMessage(sender="bob", text="shared n.pdf", sent_at=7.0, action=True, msgid="f2", file=notes))
        self.assertEqual((private["file"]["thumbnail"], private["file"]["width"]), (None, None))

    def test_left_says_why_for_people(self) -> None:
        """left: its message for each reason, with the comment when there is one."""
        cases = (
            (Left(session_id=10, session_name="garden", reason="quit"), "You left garden."),
            (Left(session_id=10, session_name="garden", reason="quit", comment="bye"), "You left garden: bye"),
            (Left(session_id=10, session_name="garden", reason="kicked", by="alice"), "You were kicked from garden by alice."),
            (Left(session_id=10, session_name="garden", reason="kicked", by="alice", comment="too loud"), "You were kicked from garden by alice: too loud"),
            (Left(session_id=10, session_name="garden", reason="closed", by="alice"), "alice closed the session garden."),
            (Left(session_id=10, session_name="garden", reason="timeout"), "You were removed from garden after being inactive."),
        )
        for event, message in cases:
            frame = self.frame(event)
            self.assertEqual(
                frame,
                {"type": "left", "session": 10, "name": "garden", "reason": event.reason, "by": event.by,
                 "comment": event.comment, "message": message},
            )  # fmt: skip

    def test_server_wide_events(self) -> None:
        """idle_warning, killed, wallops, server_closing as documented."""
        self.assertEqual(self.frame(IdleWarning(session_id=10, seconds_left=120.0)), {"type": "idle_warning", "session": 10, "seconds_left": 120.0})
        self.assertEqual(self.frame(Killed(by="root", reason="spam")), {"type": "killed", "by": "root", "reason": "spam"})
        self.assertEqual(self.frame(Wallops(sender="root", text="hear", sent_at=8.0)), {"type": "wallops", "from": "root", "text": "hear", "ts": 8.0})
        self.assertEqual(self.frame(ServerClosing(reason="bye")), {"type": "server_closing", "reason": "bye"})

    def test_irc_only_events_are_nothing_to_a_native_client(self) -> None:
        """A channel CTCP, a TAGMSG, a real-name change, an invite notice: no native bytes."""
        for event in (
            SessionCtcp(session_id=10, sender="bob", body="VERSION"), SessionTagMessage(session_id=10, sender="bob", client_tags="+typing=active"),
            RealNameChanged(session_id=10, name="bob", real_name="Bob", change=1), MemberInvited(session_id=10, by="alice", nick="carol"),
        ):  # fmt: skip
            self.assertEqual(wire.encode_event(event), b"", event)

    def test_an_event_is_encoded_once(self) -> None:
        """The second encoding of an event is the same bytes object, not a new one."""
        event = Message(session_id=10, sender="bob", text="hi", sent_at=5.0, msgid="m2")
        self.assertIs(wire.encode_event(event), wire.encode_event(event))

    def test_history_frames_follow_joined_oldest_first(self) -> None:
        """encode_history: one history frame per message, with action only when true."""
        history = (Message(session_id=10, sender="a", text="one", sent_at=1.0, msgid="m1"), Message(session_id=10, sender="b", text="two", sent_at=2.0, action=True, msgid="m2"))
        lines = wire.encode_history(Joined(session=self.SESSION, you="bob", members=(), idle_timeout=None, history=history)).splitlines()
        self.assertEqual(
            [wire.parse_frame(line) for line in lines],
            [
                {"type": "history", "session": 10, "from": "a", "text": "one", "ts": 1.0, "msgid": "m1"},
                {"type": "history", "session": 10, "from": "b", "text": "two", "ts": 2.0, "msgid": "m2", "action": True},
            ],
        )

    def test_answers_built_from_domain_records(self) -> None:
        """messages (more when full), targets, stats, user, users and was, as documented."""
        messages = [Message(session_id=10, sender="a", text="one", sent_at=1.0, msgid="m1"), Message(session_id=10, sender="b", text="two", sent_at=2.0, action=True, msgid="m2")]
        self.assertEqual(
            wire.messages_fields(10, messages, 2),
            {"type": "messages", "session": 10, "more": True, "messages": [
                {"msgid": "m1", "ts": 1.0, "from": "a", "text": "one"},
                {"msgid": "m2", "ts": 2.0, "from": "b", "text": "two", "action": True},
            ]},
        )  # fmt: skip
        self.assertEqual(wire.messages_fields(10, messages, 3)["more"], False)
        self.assertEqual(wire.targets_fields([(10, 2.0)]), {"type": "targets", "targets": [{"session": 10, "ts": 2.0}]})
        self.assertEqual(
            wire.stats_fields(ServerCounts(3, 1, 9, 4)),
            {"type": "stats", "users": 3, "operators": 1, "sessions": 9, "most_users": 4},
        )
        user = UserInfo("bob", (self.SESSION,), "lunch", 7, 1.0, "robert", "Robert T", operator=True)
        user_frame = {
            "name": "bob", "sessions": [{"id": 10, "name": "garden"}], "away": "lunch", "idle": 7, "connected": 1.0,
            "operator": True, "user_name": "robert", "real_name": "Robert T",
        }  # fmt: skip
        self.assertEqual(wire.user_fields(user), {"type": "user", **user_frame})
        self.assertEqual(wire.users_fields([user]), {"type": "users", "users": [user_frame]})
        self.assertEqual(
            wire.was_fields([PastUser("bob", "robert", "Robert T", 9.0)]),
            {"type": "was", "entries": [{"name": "bob", "user_name": "robert", "real_name": "Robert T", "left": 9.0}]},
        )

    def test_with_id_answers_a_request(self) -> None:
        """An answer carries the request's id, 0 included; none, no id."""
        self.assertEqual(wire.with_id({"type": "pong"}, 0), {"type": "pong", "id": 0})
        self.assertEqual(wire.with_id({"type": "pong"}, None), {"type": "pong"})

    def test_frames_are_compact_utf8_json_lines(self) -> None:
        """One line of JSON without spaces, non-ASCII written as UTF-8."""
        self.assertEqual(wire.encode_frame({"type": "x", "text": "été"}), '{"type":"x","text":"été"}\n'.encode())
