"""The client's view-model, without Tk: protocols on StringTransport, time on a Clock."""

from typing import Any
from unittest import mock

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone, ConnectionLost, ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from glozi.client import palette
from glozi.client.chatroom import HISTORY_DIVIDER
from glozi.client.connecting import RECONNECT_MAX_DELAY, RECONNECT_MAX_TRIES
from glozi.client.fields import (
    check_exit_code,
    check_password,
    check_session_name,
    check_username,
    fits,
    parse_port,
)
from glozi.client.protocol import ClientListener, ClientProtocol
from glozi.client.state import Aspect, ChatLine, Delivery, FieldState, LineKind, Screen, ServerAddress, Tone
from glozi.client.texts import browser_text, duration_text
from glozi.client.viewmodel import ClientViewModel
from glozi.doors.native import wire
from glozi.limits.flood import FloodControl, Verdict

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
    """A ClientView that records what it was asked to draw: ``lines`` in every
    conversation but the date lines, which ``days`` has (conversation key, line)."""

    def __init__(self) -> None:
        self.rendered: list[Aspect] = []
        self.lines: list[ChatLine] = []
        self.keys: list[str] = []
        self.days: list[tuple[str, ChatLine]] = []
        self.updates: list[ChatLine] = []
        self.prepended: list[tuple[str, list[ChatLine], int]] = []
        self.older: list[str] = []
        self.transfers: list[Any] = []

    def render(self, aspect: Aspect) -> None:
        self.rendered.append(aspect)

    def add_chat_line(self, key: str, line: ChatLine) -> None:
        if line.kind is LineKind.DAY:
            self.days.append((key, line))
        else:
            self.lines.append(line)
            self.keys.append(key)

    def update_chat_line(self, key: str, line: ChatLine) -> None:
        self.updates.append(line)

    def prepend_chat_lines(self, key: str, lines: list[ChatLine], replaced: int) -> None:
        self.prepended.append((key, lines, replaced))

    def older_changed(self, key: str) -> None:
        self.older.append(key)

    def transfer_changed(self, transfer: Any) -> None:
        self.transfers.append(transfer)


class FakeNetwork:
    """A connector handing out ClientProtocols on StringTransports, welcomed at once."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
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
        protocol = ClientProtocol(listener, clock=self.clock)
        protocol.makeConnection(StringTransport())
        protocol.dataReceived(wire.encode_frame(WELCOME))
        self.protocols.append(protocol)
        return succeed(protocol)


def waiting_now(model: ClientViewModel, text: str) -> ChatLine:
    """The transcript line of your message ``text`` as it is now."""
    assert model.chat is not None
    return next(line for line in reversed(model.chat.lines) if line.own and line.text == text)


class ViewModelTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(5000)
        self.network = FakeNetwork(self.clock)
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

    def test_the_browser_url_comes_from_the_welcome(self) -> None:
        """The welcome's ``web_port`` (and ``web_tls``) on the host connected to make the About box's URL;
        none, ``null`` or a bad one: no browser client."""
        for fields, url in (
            ({"web_port": 8080}, "http://127.0.0.1:8080/"),
            ({"web_port": 8443, "web_tls": True}, "https://127.0.0.1:8443/"),
            ({"web_port": 80, "web_tls": False}, "http://127.0.0.1/"),
            ({}, None),
            ({"web_port": None}, None),
            ({"web_port": "8080"}, None),
            ({"web_port": True}, None),
            ({"web_port": 70000}, None),
        ):
            with mock.patch.dict(WELCOME, fields):
                model = ClientViewModel(self.clock, self.network, lambda: succeed([]), SERVER)
                model.view = RecordingView()
                model.start()
            self.assertEqual(model.web_url, url, fields)
        self.assertEqual(browser_text("http://127.0.0.1:8080/"), "Browser: http://127.0.0.1:8080/ (open it on any device of the network)")
        self.assertEqual(browser_text(None), "Browser: this server has no browser client.")

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
        self.assertTrue(self.model.submit_exit_code("00000"))
        (exit_request,) = self.sent()
        self.assertEqual(exit_request["code"], "00000")
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
        missed = self.model.chat.lines[-2]
        self.assertEqual((missed.kind, missed.earlier), (LineKind.MESSAGE, True), "styled like a live message")
        self.assertEqual(self.model.chat.members[0].name, "bob")
        self.assertIn(Aspect.CONNECTION, self.view.rendered)

    def test_typed_while_disconnected_is_sent_after_rejoining(self) -> None:
        """A message typed while disconnected is marked as waiting, then sent once rejoined."""
        self.in_garden()
        self.protocol.connectionLost(Failure(ConnectionLost()))
        self.assertTrue(self.model.send("anyone?"))
        waiting = self.model.chat.lines[-1]
        self.assertEqual((waiting.text, waiting.delivery), ("anyone?", Delivery.PENDING))
        self.assertIn("sent once reconnected", waiting.note)
        self.assertFalse(self.model.send("/help"), "commands do not wait")
        self.clock.advance(0.5)
        (join,) = self.sent()
        self.rejoined(join, [])
        (say,) = self.sent()
        self.assertEqual((say["type"], say["text"]), ("say", "anyone?"))
        self.assertEqual(self.texts()[-1], "Reconnected.")
        self.answer({"type": "ack", "ts": 2100.0}, say)
        self.assertEqual(waiting_now(self.model, "anyone?").delivery, Delivery.SENT)

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
        """A join's history is shown as earlier messages, then the divider, then the welcome lines."""
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
        kinds = [(line.kind, line.earlier) for line in self.view.lines]
        self.assertEqual(
            kinds[:4],
            [(LineKind.MESSAGE, True), (LineKind.MESSAGE, True), (LineKind.DIVIDER, False), (LineKind.SYSTEM, False)],
        )
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


    def test_glozi_serv_is_marked_invalid(self) -> None:
        """The username field marks GloziServ, in any case, invalid, and the dialog cannot be sent with it."""
        self.at_lobby()
        self.model.open_create()
        for username in ("GloziServ", "gloziserv"):
            self.assertIs(check_username(username), FieldState.INVALID, username)
            self.assertFalse(self.model.can_create("garden", username, ""), username)
        self.assertIs(check_username("GloziServ2"), FieldState.VALID)

    def test_irc_style_usernames_but_plain_session_names(self) -> None:
        """Your name takes IRC's fallback characters (bob_, _ab, [a]); a session name and a leading - or digit do not."""
        self.at_lobby()
        self.model.open_create()
        for username in ("bob_", "a__", "_ab", "[a]", "x`y", "abcdefghijk_"):
            self.assertTrue(self.model.can_create("garden", username, ""), username)
            self.assertIs(check_username(username), FieldState.VALID, username)
        for username in ("-ab", "1ab", "a_", "abcdefghijk__", "bob~"):
            self.assertFalse(self.model.can_create("garden", username, ""), username)
            self.assertIs(check_username(username), FieldState.INVALID, username)
        self.assertFalse(self.model.can_create("gar_den", "alice", ""))
        self.assertIs(check_session_name("gar_den"), FieldState.INVALID)
        self.model.close_dialog()
        self.model.open_join(10)
        self.assertTrue(self.model.submit_join("bob_", "12345"))
        (join,) = self.sent()
        self.assertEqual(join["username"], "bob_")


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

    def test_me_sends_an_action_and_actions_are_marked(self) -> None:
        """/me waves is sent as a say with "action": true and shown at once as an action; an action from someone
        else (live or in the history) is marked too; /me with nothing after it is a usage error, not sent."""
        self.in_garden()
        self.sent()
        self.assertTrue(self.model.send("/me waves"))
        line = self.view.lines[-1]
        self.assertEqual((line.kind, line.sender, line.text, line.action), (LineKind.MESSAGE, "bob", "waves", True))
        (say,) = self.sent()
        self.assertEqual((say["type"], say["text"], say["action"]), ("say", "waves", True))
        self.event({"type": "message", "session": 10, "from": "alice", "text": "grins", "ts": 5001.0, "action": True})
        self.assertEqual((self.view.lines[-1].text, self.view.lines[-1].action), ("grins", True))
        self.event({"type": "message", "session": 10, "from": "alice", "text": "plain", "ts": 5002.0})
        self.assertIs(self.view.lines[-1].action, False)
        self.assertFalse(self.model.send("/me   "))
        self.assertEqual(self.sent(), [])
        self.assertEqual(self.view.lines[-1].kind, LineKind.ERROR)

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
        self.assertIn("removed in 2 min unless", texts[5])
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
        from glozi.client.state import MAX_CHAT_LINES

        self.in_garden()
        for n in range(MAX_CHAT_LINES + 10):
            self.event({"type": "message", "session": 10, "from": "alice", "text": f"m{n}", "ts": 1.0})
        self.assertEqual(len(self.model.chat.lines), MAX_CHAT_LINES)
        self.assertEqual(self.model.chat.lines[-1].text, f"m{MAX_CHAT_LINES + 9}")


class FieldRuleTests(SynchronousTestCase):
    def test_live_field_states(self) -> None:
        """Fields are neutral when empty, green when valid, red when not, using glozi.domain.names rules."""
        self.assertEqual(
            [check_username(t) for t in ("", "bob", "9lives", "ab")],
            [FieldState.EMPTY, FieldState.VALID, FieldState.INVALID, FieldState.INVALID],
        )
        self.assertEqual(
            [check_session_name(t) for t in ("", "kiwi", "9lives", "ab")],
            [FieldState.EMPTY, FieldState.VALID, FieldState.INVALID, FieldState.INVALID],
        )
        self.assertEqual(
            [check_password(t) for t in ("", "12345", "1234")],
            [FieldState.EMPTY, FieldState.VALID, FieldState.INVALID],
        )
        self.assertEqual(check_exit_code("5432109876", 10), FieldState.VALID)
        self.assertEqual(check_exit_code("54321", 10), FieldState.INVALID)
        self.assertEqual(check_exit_code("54321", 5), FieldState.VALID)

    def test_field_limits(self) -> None:
        """Names stop at 12 characters; passwords take at most 5 digits."""
        self.assertTrue(fits("name", "a" * 12))
        self.assertFalse(fits("username", "a" * 13))
        self.assertTrue(fits("password", "12345"))
        self.assertFalse(fits("password", "123456"))
        self.assertFalse(fits("password", "12a"))

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


class DeliveryTests(ViewModelTestCase):
    """Issue 12, item 9: your lines are pending until acknowledged, paced, and never lost."""

    def line(self, text: str) -> ChatLine:
        return waiting_now(self.model, text)

    def test_a_message_is_pending_until_its_ack(self) -> None:
        """Shown at once but pending; the ack (matched by id) marks it sent."""
        self.in_garden()
        self.sent()
        self.model.send("first")
        self.model.send("second")
        first, second = self.sent()
        self.assertEqual(self.line("first").delivery, Delivery.PENDING)
        self.answer({"type": "ack", "ts": 5001.0}, second)
        self.assertEqual((self.line("first").delivery, self.line("second").delivery), (Delivery.PENDING, Delivery.SENT))
        self.answer({"type": "ack", "ts": 5001.0}, first)
        self.assertEqual(self.line("first").delivery, Delivery.SENT)
        self.assertEqual([u.delivery for u in self.view.updates], [Delivery.SENT, Delivery.SENT])

    def test_a_refused_message_is_marked_failed_with_the_reason_and_can_be_sent_again(self) -> None:
        """An error answering a say marks that line failed, with the server's reason; resend sends it again."""
        self.in_garden()
        self.sent()
        self.model.send("hello")
        (say,) = self.sent()
        self.answer({"type": "error", "code": "not_stored", "message": "The server could not store your message."}, say)
        failed = self.line("hello")
        self.assertEqual(failed.delivery, Delivery.FAILED)
        self.assertEqual(failed.note, "Not sent: The server could not store your message.")
        self.assertTrue(failed.resendable)
        self.assertTrue(self.model.resend(failed.serial))
        self.assertEqual(self.line("hello").delivery, Delivery.PENDING)
        (again,) = self.sent()
        self.assertEqual((again["type"], again["text"]), ("say", "hello"))
        self.answer({"type": "ack", "ts": 5002.0}, again)
        self.assertEqual(self.line("hello").delivery, Delivery.SENT)
        self.assertFalse(self.model.resend(failed.serial), "only a failed line is sent again")
        self.assertEqual(self.sent(), [])

    def test_a_lost_connection_marks_unacknowledged_lines_failed(self) -> None:
        """Lines whose ack the drop cut off are marked failed, saying the connection was lost."""
        self.in_garden()
        self.sent()
        self.model.send("cut off")
        self.protocol.connectionLost(Failure(ConnectionLost()))
        line = self.line("cut off")
        self.assertEqual(line.delivery, Delivery.FAILED)
        self.assertIn("the connection was lost", line.note)
        self.assertFalse(line.resendable, "it is sent again by itself after the rejoin")

    def test_a_paste_of_200_lines_is_paced_in_order_with_a_progress_hint(self) -> None:
        """200 pasted lines: all shown pending at once, written in order no faster than the server's
        20 at once and 5 a second (its own flood control accepts each), with "Sending N of 200..."
        while they wait; each turns sent only with its ack."""
        self.in_garden()
        self.sent()
        server = FloodControl(self.clock, burst=20, rate=5.0)
        texts = [f"line {n:03}" for n in range(1, 201)]
        self.assertTrue(self.model.send_lines("\n".join(texts) + "\n"))
        self.assertEqual([line.delivery for line in self.view.lines[-200:]], [Delivery.PENDING] * 200)
        self.assertRegex(self.model.sending, r"^Sending \d+ of 200\.\.\.$")
        said: list[dict[str, Any]] = []
        hints = {self.model.sending}
        for _ in range(2000):
            batch = self.sent()
            self.assertEqual({server.check() for _ in batch} - {Verdict.ACCEPT}, set())
            for frame in batch:
                self.assertEqual(self.line(frame["text"]).delivery, Delivery.PENDING, "not sent before its ack")
                self.answer({"type": "ack", "ts": self.clock.seconds()}, frame)
                self.assertEqual(self.line(frame["text"]).delivery, Delivery.SENT)
            said += batch
            if len(said) == 200:
                break
            hints.add(self.model.sending)
            self.clock.advance(0.05)
        self.assertEqual([frame["text"] for frame in said], texts)
        self.assertGreater(len(hints), 100, "the hint counts up")
        self.assertIn("Sending 100 of 200...", hints)
        self.assertEqual(self.model.sending, "", "no hint once the queue is empty")

    def test_a_paste_with_a_line_over_2000_characters_sends_nothing(self) -> None:
        """One line of 2,001 characters refuses the whole paste, before anything is sent, saying which;
        a paste whose longest line has 2,000 is sent whole."""
        self.in_garden()
        self.sent()
        shown = len(self.view.lines)
        self.assertFalse(self.model.send_lines("fine\n" + "x" * 2001 + "\nalso fine"))
        self.assertEqual(self.sent(), [])
        self.assertEqual(len(self.view.lines), shown + 1)
        self.assertEqual(
            self.view.lines[-1].text,
            "Nothing was sent: line 2 of the 3 pasted has 2001 characters, over the limit of 2000.",
        )
        self.assertTrue(self.model.send_lines("fine\r\n" + "x" * 2000 + "\r\n\r\n  \nalso fine"))
        self.assertEqual([f["text"] for f in self.sent()], ["fine", "x" * 2000, "also fine"])

    def test_a_paste_with_control_characters_sends_nothing(self) -> None:
        """A bell character in one line refuses the paste; a pasted "/kick alice" is a message, not a command."""
        self.in_garden()
        self.sent()
        self.assertFalse(self.model.send_lines("ring\n\x07bell"))
        self.assertEqual(self.sent(), [])
        self.assertIn("line 2 of the 2 pasted has control characters", self.view.lines[-1].text)
        self.assertTrue(self.model.send("hello\n/kick alice"))
        self.assertEqual([(f["type"], f["text"]) for f in self.sent()], [("say", "hello"), ("say", "/kick alice")])


class ClosingReasonTests(ViewModelTestCase):
    """Issue 12, item 10: the reason shown for a lost connection is the real one."""

    def test_an_old_flood_warning_is_not_the_reason_when_the_server_dies_later(self) -> None:
        """A flood warning, more traffic, then the server is killed: the window says the connection was lost."""
        self.in_garden()
        self.sent()
        self.event({"type": "error", "code": "flood", "message": "You are sending too fast; lines are being dropped."})
        self.event({"type": "message", "session": 10, "from": "alice", "text": "still here", "ts": 5000.0})
        self.clock.advance(60)
        self.protocol.connectionLost(Failure(ConnectionLost()))
        self.assertEqual(self.model.chat.lines[-1].text, "The connection to lab was lost. Reconnecting...")

    def test_a_flood_warning_long_ago_is_not_the_reason_either(self) -> None:
        """Even when nothing came after it, a warning minutes old does not explain a close now."""
        self.at_lobby()
        self.event({"type": "error", "code": "flood", "message": "You are sending too fast; lines are being dropped."})
        self.clock.advance(120)
        self.network.refuse = True
        self.protocol.connectionLost(Failure(ConnectionLost()))
        self.assertEqual(self.model.status, "The connection to lab was lost. Reconnecting in 1 s...")


class SessionListPushTests(ViewModelTestCase):
    """Issue 12, item 11: the list follows the server's pushes; banners last as long as their cause."""

    def test_pushed_changes_update_the_list_without_a_reload(self) -> None:
        """session_added, session_changed and session_removed change the rows, in id order; nothing is asked."""
        self.at_lobby()
        self.event({"type": "session_added", "session": session(11, "orchard", members=1, creator="carol")})
        self.event({"type": "session_changed", "session": session(10, "garden", locked=True, members=3, creator="alice")})
        self.assertEqual(
            [(row.id, row.name, row.members) for row in self.model.sessions],
            [(1, "avocado", 0), (10, "garden", 3), (11, "orchard", 1)],
        )
        self.event({"type": "session_removed", "session": 10, "name": "garden"})
        self.assertEqual([row.id for row in self.model.sessions], [1, 11])
        self.assertEqual(self.sent(), [], "no list request")
        self.assertIn(Aspect.SESSIONS, self.view.rendered)

    def test_the_join_dialog_follows_its_session(self) -> None:
        """The open dialog shows the new member count, and says so when its session is gone."""
        self.at_lobby()
        self.model.open_join(10)
        self.event({"type": "session_changed", "session": session(10, "garden", locked=True, members=4, creator="alice")})
        self.assertEqual(self.model.dialog.session.members, 4)
        self.event({"type": "session_removed", "session": 10, "name": "garden"})
        self.assertEqual(self.model.dialog.error, "The session garden is gone.")

    def test_exit_code_complaint_is_gone_after_a_join_and_a_leave(self) -> None:
        """"The exit code is 5 digits." disappears when you join a session (and stays gone after leaving)."""
        self.at_lobby()
        self.model.submit_exit_code("123")
        self.assertEqual(self.model.exit_feedback.text, "The exit code is 5 digits.")
        self.model.open_join(1)
        self.model.submit_join("bob")
        (join,) = self.sent()
        self.answer(
            {"type": "joined", "session": {**SESSIONS[0], "members": 1}, "you": "bob",
             "members": [{"name": "bob", "joined": 5000.0, "admin": False}], "idle_timeout": 240.0},
            join,
        )
        self.assertEqual(self.model.exit_feedback.text, "")
        self.event({"type": "left", "session": 1, "name": "avocado", "reason": "quit", "by": None, "message": "You left avocado."})
        self.assertEqual(self.model.exit_feedback.text, "")

    def test_exit_code_complaint_is_gone_once_the_field_changes(self) -> None:
        """Editing the field removes a complaint about what was in it."""
        self.at_lobby()
        self.model.submit_exit_code("123")
        self.model.exit_code_edited()
        self.assertEqual(self.model.exit_feedback.text, "")

    def test_checking_lasts_until_the_answer_or_the_connection_end(self) -> None:
        """"Checking the exit code..." goes when the connection ends without an answer (the right code)."""
        self.at_lobby()
        self.model.submit_exit_code("54321")
        self.model.exit_code_edited()
        self.assertEqual(self.model.exit_feedback.text, "Checking the exit code...")
        self.protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.model.exit_feedback.text, "")

    def test_exit_code_length_comes_from_the_welcome(self) -> None:
        """A server whose welcome says exit_code_digits 10: 10 digits are sent, 5 are refused saying 10."""
        self.network_welcome = {**WELCOME, "exit_code_digits": 10}
        self.model.start()
        protocol = self.protocol
        protocol.welcome = self.network_welcome
        self.model._welcomed(protocol, SERVER)
        self.sent()
        self.assertFalse(self.model.submit_exit_code("12345"))
        self.assertEqual(self.model.exit_feedback.text, "The exit code is 10 digits.")
        self.assertTrue(self.model.exit_code_fits("1234567890"))
        self.assertFalse(self.model.exit_code_fits("12345678901"))
        self.assertIs(self.model.check_exit_code("1234567890"), FieldState.VALID)
        self.assertTrue(self.model.submit_exit_code("1234567890"))
        self.assertEqual(self.sent()[0]["code"], "1234567890")


class DurationTests(ViewModelTestCase):
    """Issue 12, item 13: durations are written for people."""

    def test_durations_for_people(self) -> None:
        """20 s, 1 min 30 s, 4 min, 1 h, 2 h 5 min."""
        self.assertEqual(
            [duration_text(s) for s in (20, 0.4, 59.6, 90, 240, 3600, 7500)],
            ["20 s", "0 s", "1 min", "1 min 30 s", "4 min", "1 h", "2 h 5 min"],
        )

    def test_an_idle_timeout_of_20_seconds_reads_20_s(self) -> None:
        """--idle-timeout 20: "removed after 20 s"-style wording, never "0.333333 min"."""
        self.at_lobby()
        self.model.open_join(1)
        self.model.submit_join("bob")
        (join,) = self.sent()
        self.answer(
            {"type": "joined", "session": {**SESSIONS[0], "members": 1}, "you": "bob",
             "members": [{"name": "bob", "joined": 5000.0, "admin": False}], "idle_timeout": 20.0},
            join,
        )
        self.assertEqual(
            self.view.lines[1].text, "Members who write nothing for 20 s are removed. /help lists the commands."
        )
        self.event({"type": "idle_warning", "session": 1, "seconds_left": 10.0})
        self.assertIn("removed in 10 s unless", self.view.lines[-1].text)
