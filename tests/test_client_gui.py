"""End-to-end tests of the Tk client: real windows under Xvfb, a real ``twistd glozichat``.

Each test starts its own Xvfb and server (see tests/guitools.py) and reads
what the widgets show, as a user would.
"""

import time
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.protocol import Factory, Protocol

from glozi.client.palette import user_colour
from tests.guitools import GuiTestCase, insert, replace_text, text_of, tree_rows, visible_widget_at

SESSION_ROWS = "body.lobby.table.sessions"
TRANSCRIPT = "body.chat.main.transcript"
MEMBERS = "body.chat.side.members"


def colour_at(text_widget: Any, needle: str) -> str:
    """The foreground colour of the text ``needle`` (its last occurrence) in a Text widget."""
    index = text_widget.search(needle, "end", backwards=True)
    for tag in reversed(text_widget.tag_names(index)):
        colour = text_widget.tag_cget(tag, "foreground")
        if colour:
            return str(colour)
    return ""


class TwoClientsTests(GuiTestCase):
    @inlineCallbacks
    def test_password_session_chat_and_kick(self) -> Any:
        """Alice connects directly, Bob discovers the server; Alice creates a locked session, Bob joins it
        with its password, they talk both ways, and Alice kicks Bob back to the session list."""
        alice = self.open_client("alice", 0, address=self.address)
        bob = self.open_client("bob", 1000, finder=self.loopback_discovery)

        alice_rows = alice.widget(SESSION_ROWS)
        yield self.wait_for("Alice's session list", lambda: len(tree_rows(alice_rows)) == 9)
        self.assertIn(["", "1", "avocado", "0"], [row[:4] for row in tree_rows(alice_rows)])
        self.assertEqual(text_of(alice.widget("header.corner.session_title")), "")

        alice.widget("body.lobby.bar.buttons.create").invoke()
        dialog = yield self.wait_for("the create dialog", lambda: alice.top.children.get("create"))
        name = dialog.nametowidget("body.name")
        submit = dialog.nametowidget("body.buttons.submit")
        insert(name, "9lives")
        self.assertEqual(str(name.cget("style")), "Invalid.TEntry")
        self.assertIn("disabled", submit.state())
        self.assertEqual(replace_text(name, "garden"), "garden")
        self.assertEqual(str(name.cget("style")), "Valid.TEntry")
        self.assertEqual(insert(name, "andmoreletters"), "garden", "a name cannot exceed 12 characters")
        insert(dialog.nametowidget("body.username"), "alice")
        password = dialog.nametowidget("body.password")
        self.assertEqual(insert(password, "12a"), "", "a password takes digits only")
        insert(password, "1234")
        self.assertEqual(str(password.cget("style")), "Invalid.TEntry")
        self.assertEqual(insert(password, "56"), "1234", "a password is at most 5 digits")
        insert(password, "5")
        self.assertEqual(str(password.cget("style")), "Valid.TEntry")
        self.assertNotIn("disabled", submit.state())
        submit.invoke()

        corner = alice.widget("header.corner.session_title")
        yield self.wait_for("Alice in garden", lambda: text_of(corner).strip() == "garden")
        self.assertNotIn("create", alice.top.children)
        self.assertRegex(text_of(alice.widget("header.corner.session_code")), r"^#\d+$")
        self.assertIn("You created garden", text_of(alice.widget(TRANSCRIPT)))
        self.assertEqual(tree_rows(alice.widget(MEMBERS))[0][0], "★ alice (you)")

        bob_rows = bob.widget(SESSION_ROWS)
        yield self.wait_for("Bob's session list", lambda: len(tree_rows(bob_rows)) >= 9)
        bob.widget("body.lobby.bar.buttons.reload").invoke()
        yield self.wait_for(
            "garden in Bob's list", lambda: any(r[2] == "garden" for r in tree_rows(bob_rows))
        )
        garden = next(iid for iid in bob_rows.get_children() if bob_rows.item(iid)["values"][1] == "garden")
        self.assertTrue(bob_rows.item(garden)["image"], "a locked session shows the lock")
        row = next(r for r in tree_rows(bob_rows) if r[2] == "garden")
        self.assertEqual([row[3], row[5]], ["1", "alice"], "members and creator")

        # A real double-click with the mouse, through the X server.
        bob.top.update_idletasks()
        x, y, width, height = bob_rows.bbox(garden)
        yield self.xdotool(
            "mousemove",
            "--sync",
            str(bob_rows.winfo_rootx() + x + width // 2),
            str(bob_rows.winfo_rooty() + y + height // 2),
            "click",
            "--repeat",
            "2",
            "--delay",
            "80",
            "1",
        )
        join = yield self.wait_for("the join dialog", lambda: bob.top.children.get("join"))
        self.assertEqual(text_of(join.nametowidget("body.heading")), "Join garden")
        username, password = join.nametowidget("body.username"), join.nametowidget("body.password")

        # Real keystrokes: focus the dialog and type into its focused field.
        join.update_idletasks()
        username.focus_force()
        yield self.xdotool("windowfocus", "--sync", str(int(join.wm_frame(), 16)))
        yield self.xdotool("type", "--delay", "30", "bob")
        yield self.wait_for("Bob's typed name", lambda: username.get() == "bob")
        self.assertEqual(str(username.cget("style")), "Valid.TEntry")

        insert(password, "11111")
        join.nametowidget("body.buttons.submit").invoke()
        error = join.nametowidget("body.error")
        yield self.wait_for("the refusal in the dialog", lambda: text_of(error))
        self.assertIn("Wrong password", text_of(error))
        self.assertIn("join", bob.top.children, "the dialog stays open after a refusal")

        replace_text(password, "12345")
        password.focus_force()
        yield self.xdotool("key", "--clearmodifiers", "Return")
        bob_corner = bob.widget("header.corner.session_title")
        yield self.wait_for("Bob in garden", lambda: text_of(bob_corner).strip() == "garden")
        self.assertEqual(
            [row[0] for row in tree_rows(bob.widget(MEMBERS))],
            ["★ alice", "bob (you)"],
            "members, admin marked",
        )
        alice_members = alice.widget(MEMBERS)
        yield self.wait_for("Bob in Alice's member list", lambda: len(tree_rows(alice_members)) == 2)
        self.assertEqual(tree_rows(alice_members)[1][0], "bob")
        self.assertIn("bold", str(alice_members.tag_configure("you", "font")))
        self.assertIn("bob joined the session.", text_of(alice.widget(TRANSCRIPT)))

        bob_message = bob.widget("body.chat.main.compose.message")
        insert(bob_message, "hi alice!")
        bob_message.focus_force()
        bob_message.event_generate("<Return>")
        bob_transcript = bob.widget(TRANSCRIPT)
        self.assertIn("bob  hi alice!", text_of(bob_transcript), "your own message shows at once")
        self.assertEqual(bob_message.get(), "")
        alice_transcript = alice.widget(TRANSCRIPT)
        yield self.wait_for("Bob's message at Alice", lambda: "bob  hi alice!" in text_of(alice_transcript))
        self.assertEqual(colour_at(alice_transcript, "bob  hi"), user_colour("bob"))

        alice_message = alice.widget("body.chat.main.compose.message")
        insert(alice_message, "welcome, bob")
        alice.widget("body.chat.main.compose.send").invoke()
        yield self.wait_for(
            "Alice's answer at Bob", lambda: "★ alice  welcome, bob" in text_of(bob_transcript)
        )

        insert(alice_message, "/kick bob")
        alice.widget("body.chat.main.compose.send").invoke()
        notice = bob.widget("body.lobby.notice")
        yield self.wait_for("Bob back at the session list", lambda: "kicked" in text_of(notice))
        self.assertEqual(text_of(notice), "You were kicked from garden by alice.")
        self.assertIs(visible_widget_at(bob_rows), bob_rows, "the session list is on top again")
        self.assertEqual(text_of(bob_corner), "")
        yield self.wait_for(
            "the kick at Alice", lambda: "bob was kicked by alice." in text_of(alice_transcript)
        )
        yield self.wait_for("Bob gone from Alice's list", lambda: len(tree_rows(alice_members)) == 1)
        yield self.wait_for("Alice's kick reply", lambda: "You kicked bob." in text_of(alice_transcript))


class RestartTests(GuiTestCase):
    @inlineCallbacks
    def test_two_clients_are_back_in_their_session_after_a_restart(self) -> Any:
        """The server restarts under two chatting windows: within seconds both say Reconnected, show the
        session and both members again, keep the transcript, and chat on; nobody touches anything."""
        alice = self.open_client("alice", 0, address=self.address)
        bob = self.open_client("bob", 1000, address=self.address)
        for window in (alice, bob):
            rows = window.widget(SESSION_ROWS)
            yield self.wait_for("the session list", lambda rows=rows: len(tree_rows(rows)) >= 9)
        alice.widget("body.lobby.bar.buttons.create").invoke()
        dialog = yield self.wait_for("the create dialog", lambda: alice.top.children.get("create"))
        insert(dialog.nametowidget("body.name"), "garden")
        insert(dialog.nametowidget("body.username"), "alice")
        insert(dialog.nametowidget("body.password"), "12345")
        dialog.nametowidget("body.buttons.submit").invoke()
        yield self.wait_for("Alice in garden", lambda: alice.model.chat is not None)
        garden = alice.model.chat.session.id
        bob.widget("body.lobby.bar.buttons.reload").invoke()
        yield self.wait_for("garden in Bob's list", lambda: bob.model.session_by_id(garden) is not None)
        bob.model.open_join(garden)
        join = yield self.wait_for("the join dialog", lambda: bob.top.children.get("join"))
        insert(join.nametowidget("body.username"), "bob")
        insert(join.nametowidget("body.password"), "12345")
        join.nametowidget("body.buttons.submit").invoke()
        bob_corner = bob.widget("header.corner.session_title")
        yield self.wait_for("Bob in garden", lambda: text_of(bob_corner).strip() == "garden")
        alice_message = alice.widget("body.chat.main.compose.message")
        insert(alice_message, "before the restart")
        alice.widget("body.chat.main.compose.send").invoke()
        bob_transcript, alice_transcript = bob.widget(TRANSCRIPT), alice.widget(TRANSCRIPT)
        yield self.wait_for("the message at Bob", lambda: "alice  before the restart" in text_of(bob_transcript))

        started = time.monotonic()
        yield self.restart_server()
        for window in (alice, bob):
            transcript, members = window.widget(TRANSCRIPT), window.widget(MEMBERS)
            yield self.wait_for(
                "back in garden",
                lambda t=transcript, m=members: "Reconnected." in text_of(t) and len(tree_rows(m)) == 2,
            )
        back_after = time.monotonic() - started
        print(f"\n  both windows back in garden {back_after:.1f} s after the server was told to stop")
        self.assertLess(back_after, 8.0, "back within a few seconds of the stop")
        for window in (alice, bob):
            self.assertEqual(text_of(window.widget("header.corner.session_title")).strip(), "garden")
            self.assertIn("before the restart", text_of(window.widget(TRANSCRIPT)), "the transcript is kept")
            self.assertIn("Connected to", text_of(window.server_label))
        bob_message = bob.widget("body.chat.main.compose.message")
        insert(bob_message, "still here")
        bob.widget("body.chat.main.compose.send").invoke()
        yield self.wait_for("chat goes on", lambda: "bob  still here" in text_of(alice_transcript))


class SilentPeer(Protocol):
    """Accepts a connection and never answers: a stuck or very slow server."""

    def __init__(self) -> None:
        self.closed: Deferred[None] = Deferred()

    def connectionLost(self, reason: object = None) -> None:
        self.closed.callback(None)


class ConnectionTests(GuiTestCase):
    @inlineCallbacks
    def test_exit_code_closes_server_and_clients_say_so(self) -> Any:
        """A wrong exit code is refused in the window; the right one closes the server, and the client says so."""
        alice = self.open_client("alice", 0, address=self.address)
        rows = alice.widget(SESSION_ROWS)
        yield self.wait_for("the session list", lambda: tree_rows(rows))
        code = alice.widget("body.lobby.footer.exit_code")
        feedback = alice.widget("body.lobby.footer.exit_feedback")
        wrong = "0000000000" if self.server.exit_code != "0000000000" else "1111111111"
        insert(code, wrong)
        self.assertEqual(insert(code, "9"), wrong, "an exit code is at most 10 digits")
        code.focus_force()
        code.event_generate("<Return>")
        yield self.wait_for("the refusal", lambda: "Wrong exit code" in text_of(feedback))

        insert(code, self.server.exit_code)
        alice.widget("body.lobby.footer.exit_submit").invoke()
        status = alice.widget("body.status.card.status_text")
        yield self.wait_for("the disconnected screen", lambda: "closed with its exit code" in text_of(status))
        self.assertEqual(text_of(alice.widget("body.status.card.status_title")), "Disconnected")
        reconnect = alice.widget("body.status.card.retry")
        self.assertEqual(text_of(reconnect), "Reconnect")
        self.assertIs(visible_widget_at(status), status)
        status_code = yield self.server.ended
        self.assertEqual(status_code, 0)

        reconnect.invoke()
        yield self.wait_for("the failed reconnect", lambda: "Could not connect" in text_of(status))
        self.assertEqual(text_of(alice.widget("body.status.card.status_title")), "No server found")

    @inlineCallbacks
    def test_window_keeps_repainting_while_server_is_silent(self) -> Any:
        """Connecting to a server that never answers leaves a live window whose status keeps animating."""
        from twisted.internet import reactor

        from glozi.client.viewmodel import ServerAddress

        peers: list[SilentPeer] = []

        def build(addr: object) -> SilentPeer:
            peers.append(SilentPeer())
            return peers[-1]

        factory = Factory()
        factory.buildProtocol = build  # type: ignore[method-assign]
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        window = self.open_client("slow", 0, address=ServerAddress("127.0.0.1", port.getHost().port))
        status = window.widget("body.status.card.status_text")
        yield self.wait_for("the connecting screen", lambda: text_of(status).startswith("Connecting to"))
        seen = {text_of(status)}
        yield self.wait_for(
            "the status to animate", lambda: seen.add(text_of(status)) or len(seen) >= 3, timeout=3
        )
        window.widget("body.status.card.manual.host").insert("end", "x")
        self.assertTrue(
            window.widget("body.status.card.manual.host").get().endswith("x"), "the window takes input"
        )
