"""The client's view-model, without Tk: protocols on StringTransport, time on a Clock."""

from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone, ConnectionLost, ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from glozi.client import palette
from glozi.client.protocol import ClientListener, ClientProtocol
from glozi.client.viewmodel import (
    HISTORY_DIVIDER,
    RECONNECT_MAX_DELAY,
    RECONNECT_MAX_TRIES,
    Aspect,
    ChatLine,
    ClientViewModel,
    FieldState,
    LineKind,
    Screen,
    ServerAddress,
    Tone,
    check_exit_code,
    check_name,
    check_password,
    fits,
    parse_port,
)
from glozi.native import wire

WELCOME = {
    "type": "welcome",
    "protocol": 1,
    "server": "GloziChat",
    "version": "0.1.0",
    "name": "lab",
    "max_line": 4096,
    "max_text": 2000,
}
SERVER = ServerAddress("127.0.0.1", 7557)


def session(
    sid: int, name: str, *, locked: bool = False, members: int = 0, creator: str = "server"
) -> dict[str, Any]:
    return {
        "id": sid,
        "name": name,
        "members": members,
        "created": 1000.0,
        "creator": creator,
        "locked": locked,
        "admin": None if creator == "server" else creator,
    }


SESSIONS = [session(1, "avocado"), session(10, "garden", locked=True, members=1, creator="alice")]


class RecordingView:
    """A ClientView that records what it was asked to draw."""

    def __init__(self) -> None:
        self.rendered: list[Aspect] = []
        self.lines: list[ChatLine] = []

    def render(self, aspect: Aspect) -> None:
        self.rendered.append(aspect)

    def add_chat_line(self, line: ChatLine) -> None:
        self.lines.append(line)


class FakeNetwork:
    """A connector handing out ClientProtocols on StringTransports, welcomed at once."""

    def __init__(self) -> None:
        self.protocols: list[ClientProtocol] = []
        self.refuse = False
        self.hold = False
        self.pending: list[Deferred[ClientProtocol]] = []
        self.cancelled: list[Deferred[ClientProtocol]] = []

    def __call__(self, address: ServerAddress, listener: ClientListener) -> "Deferred[ClientProtocol]":
        if self.refuse:
            return fail(ConnectionRefusedError("refused"))
        if self.hold:
            waiting: Deferred[ClientProtocol] = Deferred(self.cancelled.append)
            self.pending.append(waiting)
            return waiting
        protocol = ClientProtocol(listener)
        protocol.makeConnection(StringTransport())
        protocol.dataReceived(wire.encode_frame(WELCOME))
        self.protocols.append(protocol)
        return succeed(protocol)


class ViewModelTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(5000)
        self.network = FakeNetwork()
        self.found: list[ServerAddress] = []
        self.model = ClientViewModel(self.clock, self.network, lambda: succeed(list(self.found)), SERVER)
        self.view = RecordingView()
        self.model.view = self.view

    @property
    def protocol(self) -> ClientProtocol:
        return self.network.protocols[-1]

    def sent(self) -> list[dict[str, Any]]:
        """Frames the client sent on the current connection since the last call."""
        transport = self.protocol.transport
        frames = [wire.parse_frame(line) for line in transport.value().splitlines()]
        transport.clear()
        return frames

    def answer(self, frame: dict[str, Any], request: dict[str, Any]) -> None:
        self.protocol.dataReceived(wire.encode_frame({**frame, "id": request["id"]}))

    def event(self, frame: dict[str, Any]) -> None:
        self.protocol.dataReceived(wire.encode_frame(frame))

    def at_lobby(self) -> None:
        self.model.start()
        (listing,) = self.sent()
        self.answer({"type": "sessions", "sessions": SESSIONS}, listing)

    def in_garden(self, you: str = "bob") -> None:
        self.at_lobby()
        self.model.open_join(10)
        self.model.submit_join(you, "12345")
        (join,) = self.sent()
        members = [
            {"name": "alice", "joined": 1000.0, "admin": True},
            {"name": you, "joined": 1010.0, "admin": False},
        ]
        self.answer(
            {
                "type": "joined",
                "session": {**SESSIONS[1], "members": 2},
                "you": you,
                "members": members,
                "idle_timeout": 240.0,
            },
            join,
        )


class ConnectingTests(ViewModelTestCase):
    def test_start_connects_and_lists_sessions(self) -> None:
        """With an address, the client connects, shows the lobby and asks for the session list."""
        self.model.start()
        self.assertIs(self.model.screen, Screen.LOBBY)
        self.assertEqual(self.model.server_name, "lab")
        (listing,) = self.sent()
        self.assertEqual(listing["type"], "list")
        self.answer({"type": "sessions", "sessions": SESSIONS}, listing)
        self.assertEqual(
            [(s.id, s.name, s.locked) for s in self.model.sessions],
            [(1, "avocado", False), (10, "garden", True)],
        )
        self.assertIn(Aspect.SESSIONS, self.view.rendered)

    def test_refused_connection_shows_no_server(self) -> None:
        """A refused connection leads to the no-server screen with the reason."""
        self.network.refuse = True
        self.model.start()
        self.assertIs(self.model.screen, Screen.NO_SERVER)
        self.assertIn("Could not connect to 127.0.0.1:7557", self.model.status)

    def test_discovery_outcomes(self) -> None:
        """No server: the no-server screen; one: connect to it; several: let the user pick."""
        model = ClientViewModel(self.clock, self.network, lambda: succeed(list(self.found)))
        model.start()
        self.assertIs(model.screen, Screen.NO_SERVER)
        self.found = [ServerAddress("10.0.0.5", 7557, "lab"), ServerAddress("10.0.0.6", 7557, "den")]
        model.retry()
        self.assertIs(model.screen, Screen.PICK_SERVER)
        self.assertEqual([s.label for s in model.servers], ["lab (10.0.0.5:7557)", "den (10.0.0.6:7557)"])
        self.found = self.found[:1]
        model.retry()
        self.assertIs(model.screen, Screen.LOBBY)
        self.assertEqual(model.address, self.found[0])

    def test_typed_address_must_be_valid(self) -> None:
        """A typed host and port connect; a bad port is refused with a hint and nothing is tried."""
        self.network.refuse = True
        self.model.start()
        self.assertFalse(self.model.connect_typed("box", "70000"))
        self.assertIn("port between 1 and 65535", self.model.status)
        self.network.refuse = False
        self.assertTrue(self.model.connect_typed(" 127.0.0.1 ", "7600"))
        self.assertEqual(self.model.address, ServerAddress("127.0.0.1", 7600))
        self.assertIs(self.model.screen, Screen.LOBBY)

    def test_close_cancels_a_pending_connection(self) -> None:
        """Closing the window while connecting cancels the attempt."""
        self.network.hold = True
        self.model.start()
        self.model.close()
        self.assertEqual(self.network.cancelled, self.network.pending)
        self.assertIs(self.model.screen, Screen.CONNECTING)

    def test_close_disconnects_cleanly(self) -> None:
        """Closing the window closes the connection on purpose, without a disconnected screen."""
        self.at_lobby()
        protocol = self.protocol
        self.model.close()
        self.assertTrue(protocol.transport.disconnecting)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertIs(self.model.screen, Screen.LOBBY)


class ServerGoneTests(ViewModelTestCase):
    def test_lost_connection_at_the_list_reconnects_by_itself(self) -> None:
        """At the session list, a lost connection is retried with growing delays, then the list is back."""
        self.at_lobby()
        self.network.refuse = True
        self.protocol.connectionLost(Failure(ConnectionLost()))
        self.assertIs(self.model.screen, Screen.DISCONNECTED)
        self.assertEqual(self.model.status, "The connection to lab was lost. Reconnecting in 1 s...")
        self.clock.advance(0.5)
        self.assertEqual(self.model.status, "The connection to lab was lost. Reconnecting in 1 s...")
        self.clock.advance(0.8)
        self.assertIn("Reconnecting in 2 s", self.model.status)
        self.network.refuse = False
        self.clock.advance(1.28)
        self.assertIs(self.model.screen, Screen.LOBBY)
        self.assertEqual(self.model.notice.text, "Reconnected.")
        self.assertEqual(len(self.network.protocols), 2)

    def test_gives_up_after_the_last_try(self) -> None:
        """After the last automatic attempt the window offers Reconnect, and it works."""
        self.at_lobby()
        self.network.refuse = True
        self.protocol.connectionLost(Failure(ConnectionLost()))
        self.clock.pump([RECONNECT_MAX_DELAY] * (RECONNECT_MAX_TRIES + 1))
        self.assertFalse(self.model.reconnecting)
        self.assertIn(f"Reconnecting failed {RECONNECT_MAX_TRIES} times", self.model.status)
        self.network.refuse = False
        self.model.reconnect()
        self.assertIs(self.model.screen, Screen.LOBBY)

    def test_server_closing_reason_is_shown(self) -> None:
        """A server_closing event's reason is what the disconnected screen says."""
        self.at_lobby()
        self.event({"type": "server_closing", "reason": "The server was closed with its exit code."})
        self.protocol.connectionLost(Failure(ConnectionDone()))
        self.assertTrue(
            self.model.status.startswith("The server closed: The server was closed with its exit code."),
            self.model.status,
        )

    def test_idle_close_is_explained(self) -> None:
        """The server's unsolicited error before it closes (idle at the list) is what the window says."""
        self.at_lobby()
        self.event({"type": "error", "code": "idle", "message": "Closing: nothing was received for too long."})
        self.assertEqual(self.model.notice.text, "Closing: nothing was received for too long.")
        self.protocol.connectionLost(Failure(ConnectionDone()))
        self.assertIs(self.model.screen, Screen.DISCONNECTED)
        self.assertEqual(self.model.status, "Closing: nothing was received for too long.")

    def test_idle_close_is_not_retried(self) -> None:
        """Closed by the server on purpose (idle at the list): no automatic reconnection."""
        self.at_lobby()
        self.event({"type": "error", "code": "idle", "message": "Closing: idle."})
        self.protocol.connectionLost(Failure(ConnectionDone()))
        self.clock.advance(60)
        self.assertEqual(len(self.network.protocols), 1)

    def test_reconnect_rediscovers_when_the_old_address_fails(self) -> None:
        """A discovered server that is gone for good leads to a new search."""
        self.found = [SERVER]
        model = ClientViewModel(self.clock, self.network, lambda: succeed(list(self.found)))
        model.start()
        self.network.protocols[-1].connectionLost(Failure(ConnectionLost()))
        self.network.refuse = True
        self.found = []
        model.reconnect()
        self.assertIs(model.screen, Screen.NO_SERVER)
        self.assertEqual(model.status, "No server found on your network.")

    def test_exit_code(self) -> None:
        """A malformed exit code is not sent; the server's refusal is shown next to the field."""
        self.at_lobby()
        self.assertFalse(self.model.submit_exit_code("123"))
        self.assertEqual(self.sent(), [])
        self.assertIs(self.model.exit_feedback.tone, Tone.ERROR)
        self.assertTrue(self.model.submit_exit_code("0000000000"))
        (exit_request,) = self.sent()
        self.assertEqual(exit_request["code"], "0000000000")
        self.answer(
            {"type": "error", "code": "wrong_exit_code", "message": "Wrong exit code (2 attempts left)."},
            exit_request,
        )
        self.assertEqual(self.model.exit_feedback.text, "Wrong exit code (2 attempts left).")


class ReconnectInSessionTests(ViewModelTestCase):
    def lose_and_come_back(self) -> dict[str, Any]:
        """The connection drops in garden; half a second later the client is connected again."""
        self.protocol.connectionLost(Failure(ConnectionLost()))
        self.assertIs(self.model.screen, Screen.CHAT, "the transcript stays while reconnecting")
        self.assertTrue(self.model.reconnecting)
        self.clock.advance(0.5)
        (join,) = self.sent()
        return join

    def rejoined(self, join: dict[str, Any], history: list[dict[str, Any]]) -> None:
        members = [{"name": "bob", "joined": 2000.0, "admin": True}]
        self.answer(
            {
                "type": "joined",
                "session": {**SESSIONS[1], "members": 1},
                "you": "bob",
                "members": members,
                "idle_timeout": None,
                "history": len(history),
            },
            join,
        )
        for frame in history:
            self.event({"type": "history", "session": 10, **frame})

    def texts(self) -> list[str]:
        assert self.model.chat is not None
        return [line.text for line in self.model.chat.lines]

    def test_rejoins_with_the_same_name_and_password(self) -> None:
        """After the server comes back the client rejoins by itself and says so; missed messages show as history."""
        self.in_garden()
        join = self.lose_and_come_back()
        self.assertEqual(
            (join["type"], join["session"], join["username"], join["password"]), ("join", 10, "bob", "12345")
        )
        self.rejoined(join, [{"from": "alice", "text": "while you were away", "ts": 1500.0}])
        self.assertFalse(self.model.reconnecting)
        self.assertEqual(self.texts()[-2:], ["while you were away", "Reconnected."])
        self.assertIs(self.model.chat.lines[-2].kind, LineKind.HISTORY)
        self.assertEqual(self.model.chat.members[0].name, "bob")
        self.assertIn(Aspect.CONNECTION, self.view.rendered)

    def test_typed_while_disconnected_is_sent_after_rejoining(self) -> None:
        """A message typed while disconnected is marked as waiting, then sent once rejoined."""
        self.in_garden()
        self.protocol.connectionLost(Failure(ConnectionLost()))
        self.assertTrue(self.model.send("anyone?"))
        self.assertIn("will be sent once reconnected", self.texts()[-1])
        self.assertFalse(self.model.send("/help"), "commands do not wait")
        self.clock.advance(0.5)
        (join,) = self.sent()
        self.rejoined(join, [])
        (say,) = self.sent()
        self.assertEqual((say["type"], say["text"]), ("say", "anyone?"))
        self.assertEqual(self.texts()[-2:], ["Reconnected.", "anyone?"])

    def test_unacknowledged_message_is_sent_again_only_if_missing(self) -> None:
        """Messages whose ack the drop cut off: one the history shows was stored is not sent twice; the other is."""
        self.in_garden()
        self.model.send("stored before the crash")
        self.model.send("lost in the crash")
        self.sent()
        join = self.lose_and_come_back()
        self.rejoined(join, [{"from": "bob", "text": "stored before the crash", "ts": 1600.0}])
        self.assertEqual([f["text"] for f in self.sent()], ["lost in the crash"])
        self.assertEqual(self.texts().count("lost in the crash"), 1, "shown once, when first typed")

    def test_refused_rejoin_lists_what_was_not_sent(self) -> None:
        """If the session is gone after the restart, the list says so and names the unsent messages."""
        self.in_garden()
        self.protocol.connectionLost(Failure(ConnectionLost()))
        self.model.send("hello?")
        self.clock.advance(0.5)
        (join,) = self.sent()
        self.protocol.dataReceived(
            wire.encode_frame({"type": "error", "code": "no_such_session", "message": "There is no session 10.", "id": join["id"]})
        )
        self.assertIs(self.model.screen, Screen.LOBBY)
        self.assertEqual(
            self.model.notice.text,
            "Reconnected, but could not rejoin garden: There is no session 10. Not sent: \u201chello?\u201d.",
        )


class HistoryOnJoinTests(ViewModelTestCase):
    def test_history_above_a_divider(self) -> None:
        """A join's history is shown greyed, then the divider, then the welcome lines."""
        self.at_lobby()
        self.model.open_join(10)
        self.model.submit_join("bob", "12345")
        (join,) = self.sent()
        self.answer(
            {
                "type": "joined",
                "session": {**SESSIONS[1], "members": 2},
                "you": "bob",
                "members": [{"name": "alice", "joined": 1.0, "admin": True}, {"name": "bob", "joined": 2.0, "admin": False}],
                "idle_timeout": 240.0,
                "history": 2,
            },
            join,
        )
        self.assertEqual(self.view.lines, [], "nothing is shown before the history")
        for n in range(2):
            self.event({"type": "history", "session": 10, "from": "alice", "text": f"earlier {n}", "ts": 100.0 + n})
        kinds = [line.kind for line in self.view.lines]
        self.assertEqual(kinds[:4], [LineKind.HISTORY, LineKind.HISTORY, LineKind.DIVIDER, LineKind.SYSTEM])
        self.assertEqual(self.view.lines[2].text, HISTORY_DIVIDER)
        self.assertEqual((self.view.lines[0].sender, self.view.lines[0].ts), ("alice", 100.0))


class DialogTests(ViewModelTestCase):
    def test_join_locked_session_needs_password(self) -> None:
        """A locked session's dialog asks for the password and cannot be sent without a valid one."""
        self.at_lobby()
        self.model.open_join(10)
        self.assertTrue(self.model.dialog.needs_password)
        self.assertFalse(self.model.can_join("bob", ""))
        self.assertFalse(self.model.can_join("9bob", "12345"))
        self.assertFalse(self.model.submit_join("bob", "123"))
        self.assertEqual(self.sent(), [])
        self.assertTrue(self.model.submit_join("bob", "12345"))
        (join,) = self.sent()
        self.assertEqual(
            {k: join[k] for k in ("session", "username", "password")},
            {"session": 10, "username": "bob", "password": "12345"},
        )
        self.assertTrue(self.model.dialog.busy)

    def test_open_session_sends_no_password(self) -> None:
        """An open session's dialog has no password and sends none."""
        self.at_lobby()
        self.model.open_join(1)
        self.assertFalse(self.model.dialog.needs_password)
        self.model.submit_join("bob")
        (join,) = self.sent()
        self.assertNotIn("password", join)

    def test_refusal_stays_in_the_dialog(self) -> None:
        """The server's refusal is shown in the dialog, which stays open and can be sent again."""
        self.at_lobby()
        self.model.open_join(10)
        self.model.submit_join("bob", "11111")
        (join,) = self.sent()
        self.answer(
            {"type": "error", "code": "wrong_password", "message": "Wrong password for session garden."}, join
        )
        self.assertEqual(self.model.dialog.error, "Wrong password for session garden.")
        self.assertFalse(self.model.dialog.busy)
        self.assertIs(self.model.screen, Screen.LOBBY)
        self.assertTrue(self.model.can_join("bob", "12345"))

    def test_gone_session_reloads_the_list(self) -> None:
        """Joining a session that is gone says so and reloads the list."""
        self.at_lobby()
        self.model.open_join(10)
        self.model.submit_join("bob", "12345")
        (join,) = self.sent()
        self.answer({"type": "error", "code": "no_such_session", "message": "No session 10."}, join)
        self.assertEqual(self.model.dialog.error, "This session is gone. The list was reloaded.")
        self.assertEqual([f["type"] for f in self.sent()], ["list"])

    def test_create_with_optional_password(self) -> None:
        """Create sends the password only when one was typed, and refuses a malformed one."""
        self.at_lobby()
        self.model.open_create()
        self.assertFalse(self.model.can_create("garden", "alice", "12"))
        self.assertTrue(self.model.can_create("garden", "alice", ""))
        self.model.submit_create("garden", "alice")
        (create,) = self.sent()
        self.assertEqual(
            (create["name"], create["username"], "password" in create), ("garden", "alice", False)
        )


class ChatTests(ViewModelTestCase):
    def test_joining_shows_chat_and_members(self) -> None:
        """After joining, the chat shows the session, its members (you and the admin marked) and a notice."""
        self.in_garden()
        self.assertIs(self.model.screen, Screen.CHAT)
        self.assertIsNone(self.model.dialog)
        chat = self.model.chat
        self.assertEqual((chat.session.name, chat.session.id), ("garden", 10))
        self.assertEqual(
            [(m.name, m.admin, m.you) for m in chat.members], [("alice", True, False), ("bob", False, True)]
        )
        self.assertEqual(self.view.lines[0].text, "You joined garden as bob.")
        self.assertIn("4 min", self.view.lines[1].text)

    def test_own_message_shows_at_once(self) -> None:
        """Your message is in the transcript before the server answers, and is sent as a say."""
        self.in_garden()
        self.sent()
        self.assertTrue(self.model.send("hi alice!"))
        line = self.view.lines[-1]
        self.assertEqual(
            (line.kind, line.sender, line.text, line.own, line.ts),
            (LineKind.MESSAGE, "bob", "hi alice!", True, 5000.0),
        )
        (say,) = self.sent()
        self.assertEqual(say["text"], "hi alice!")

    def test_blank_and_overlong_text_is_not_sent(self) -> None:
        """Blank text and text over the limit are not sent."""
        self.in_garden()
        self.sent()
        self.assertFalse(self.model.send("   "))
        self.assertFalse(self.model.send("x" * 2001))
        self.assertEqual(self.sent(), [])

    def test_slash_command_and_reply(self) -> None:
        """A /command is sent as a command frame; its reply and its errors appear in the transcript."""
        self.in_garden()
        self.sent()
        self.model.send("/echo hello there")
        (command,) = self.sent()
        self.assertEqual(
            (command["type"], command["name"], command["args"]), ("command", "echo", "hello there")
        )
        self.answer({"type": "reply", "command": "echo", "text": "hello there"}, command)
        self.assertEqual(
            (self.view.lines[-1].kind, self.view.lines[-1].text), (LineKind.REPLY, "hello there")
        )
        self.model.send("/kick alice")
        (kick,) = self.sent()
        self.answer(
            {"type": "error", "code": "not_admin", "message": "/kick is for the session's admin only."}, kick
        )
        self.assertEqual(
            (self.view.lines[-1].kind, self.view.lines[-1].text),
            (LineKind.ERROR, "/kick is for the session's admin only."),
        )

    def test_events_update_transcript_and_members(self) -> None:
        """Join, message, admin change, leave and idle warning update the members and the transcript."""
        self.in_garden()
        self.event({"type": "member_joined", "session": 10, "name": "carol", "joined": 1020.0})
        self.event({"type": "message", "session": 10, "from": "alice", "text": "hello", "ts": 1030.0})
        message = self.view.lines[-1]
        self.assertEqual(
            (message.sender, message.sender_admin, message.own, message.ts), ("alice", True, False, 1030.0)
        )
        self.event({"type": "member_left", "session": 10, "name": "alice", "reason": "quit", "by": None})
        self.event({"type": "admin_changed", "session": 10, "admin": "bob"})
        self.event({"type": "member_left", "session": 10, "name": "carol", "reason": "kicked", "by": "bob"})
        self.event({"type": "idle_warning", "session": 10, "seconds_left": 120.0})
        texts = [line.text for line in self.view.lines[2:]]
        self.assertEqual(texts[0], "carol joined the session.")
        self.assertEqual(
            texts[2:5],
            ["alice left the session.", "You are now the admin of this session.", "carol was kicked by bob."],
        )
        self.assertIn("removed in 120 s", texts[5])
        self.assertIs(self.view.lines[-1].kind, LineKind.WARNING)
        self.assertEqual([(m.name, m.admin) for m in self.model.chat.members], [("bob", True)])

    def test_kicked_returns_to_lobby_with_reason(self) -> None:
        """Being kicked brings you back to the session list with the reason, and reloads it."""
        self.in_garden()
        self.sent()
        self.event(
            {
                "type": "left",
                "session": 10,
                "name": "garden",
                "reason": "kicked",
                "by": "alice",
                "message": "You were kicked from garden by alice.",
            }
        )
        self.assertIs(self.model.screen, Screen.LOBBY)
        self.assertIsNone(self.model.chat)
        self.assertEqual(
            (self.model.notice.text, self.model.notice.tone),
            ("You were kicked from garden by alice.", Tone.ERROR),
        )
        self.assertEqual([f["type"] for f in self.sent()], ["list"])

    def test_transcript_is_bounded(self) -> None:
        """The transcript keeps at most MAX_CHAT_LINES lines."""
        from glozi.client.viewmodel import MAX_CHAT_LINES

        self.in_garden()
        for n in range(MAX_CHAT_LINES + 10):
            self.event({"type": "message", "session": 10, "from": "alice", "text": f"m{n}", "ts": 1.0})
        self.assertEqual(len(self.model.chat.lines), MAX_CHAT_LINES)
        self.assertEqual(self.model.chat.lines[-1].text, f"m{MAX_CHAT_LINES + 9}")


class FieldRuleTests(SynchronousTestCase):
    def test_live_field_states(self) -> None:
        """Fields are neutral when empty, green when valid, red when not, using glozi.names rules."""
        self.assertEqual(
            [check_name(t) for t in ("", "bob", "9lives", "ab")],
            [FieldState.EMPTY, FieldState.VALID, FieldState.INVALID, FieldState.INVALID],
        )
        self.assertEqual(
            [check_password(t) for t in ("", "12345", "1234")],
            [FieldState.EMPTY, FieldState.VALID, FieldState.INVALID],
        )
        self.assertEqual(check_exit_code("5432109876"), FieldState.VALID)

    def test_field_limits(self) -> None:
        """Names stop at 12 characters; passwords take at most 5 digits."""
        self.assertTrue(fits("name", "a" * 12))
        self.assertFalse(fits("username", "a" * 13))
        self.assertTrue(fits("password", "12345"))
        self.assertFalse(fits("password", "123456"))
        self.assertFalse(fits("password", "12a"))
        self.assertFalse(fits("exit_code", "1 2"))
        self.assertTrue(fits("exit_code", ""))

    def test_parse_port(self) -> None:
        """Ports are 1 to 65535, digits only."""
        self.assertEqual(
            [parse_port(t) for t in ("7557", " 80 ", "0", "65536", "x1", "")],
            [7557, 80, None, None, None, None],
        )


class PaletteTests(SynchronousTestCase):
    def test_user_colour_is_stable_and_case_blind(self) -> None:
        """A name always gets the same colour, whatever its case."""
        self.assertEqual(palette.user_colour("Alice"), palette.user_colour("alice"))
        self.assertEqual(palette.user_colour("bob"), palette.user_colour("bob"))
        self.assertEqual(
            len({palette.user_colour(f"user{n}") for n in range(200)}), len(palette.USER_COLOURS)
        )

    def test_user_colours_are_readable_on_dark(self) -> None:
        """Every name colour and the text colours reach WCAG AA contrast on the chat background."""
        for colour in (
            *palette.USER_COLOURS,
            palette.TEXT,
            palette.SYSTEM,
            palette.WARNING,
            palette.ERROR_TEXT,
        ):
            with self.subTest(colour=colour):
                self.assertGreaterEqual(palette.contrast_ratio(colour, palette.CHAT), 4.5)


class FindServersTests(SynchronousTestCase):
    def test_found_servers_become_addresses(self) -> None:
        """Discovery's answers become addresses to connect to, named as the servers call themselves."""
        from glozi.client.servers import find_servers
        from glozi.discovery.client import FoundServer

        found = [FoundServer("lab", "10.0.0.5", 7557, None, ("udp",), 0.1)]
        calls: list[dict[str, Any]] = []

        def search(reactor: object, **options: Any) -> "Deferred[list[FoundServer]]":
            calls.append(options)
            return succeed(found)

        result = self.successResultOf(find_servers(object(), search=search, targets=["127.0.0.1"]))
        self.assertEqual(result, [ServerAddress("10.0.0.5", 7557, "lab")])
        self.assertEqual(calls, [{"targets": ["127.0.0.1"]}])

    def test_nothing_found_is_an_empty_list(self) -> None:
        """NoServerFound means an empty list (the no-server screen), not an error."""
        from glozi.client.servers import find_servers
        from glozi.discovery.client import NoServerFound

        result = find_servers(
            object(), search=lambda reactor, **_: fail(NoServerFound(2.0, ["10.0.0.255"], []))
        )
        self.assertEqual(self.successResultOf(result), [])
