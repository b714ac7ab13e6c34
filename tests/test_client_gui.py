"""End-to-end tests of the Tk client: real windows under Xvfb, a real ``twistd glozichat``.

Each test starts its own Xvfb and server (see tests/guitools.py) and reads
what the widgets show, as a user would.
"""

import json
import re
import time
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.protocol import Factory, Protocol

from glozi.client.palette import user_colour
from tests.guitools import (
    GuiTestCase,
    insert,
    replace_text,
    text_of,
    transcript_of,
    tree_rows,
    visible_widget_at,
)
from tests.realthings import start_server

SESSION_ROWS = "body.lobby.table.sessions"
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
        self.assertIn("You created garden", text_of(transcript_of(alice)))
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
        self.assertIn("bob joined the session.", text_of(transcript_of(alice)))

        bob_message = bob.widget("body.chat.main.compose.message")
        insert(bob_message, "hi alice!")
        bob_message.focus_force()
        bob_message.event_generate("<Return>")
        bob_transcript = transcript_of(bob)
        self.assertIn("bob  hi alice!", text_of(bob_transcript), "your own message shows at once")
        self.assertEqual(bob_message.get(), "")
        alice_transcript = transcript_of(alice)
        yield self.wait_for("Bob's message at Alice", lambda: "bob  hi alice!" in text_of(alice_transcript))
        self.assertEqual(colour_at(alice_transcript, "bob  hi"), user_colour("bob"))

        alice_message = alice.widget("body.chat.main.compose.message")
        insert(alice_message, "welcome, bob")
        alice.widget("body.chat.main.compose.send").invoke()
        yield self.wait_for(
            "Alice's answer at Bob", lambda: "★ alice  welcome, bob" in text_of(bob_transcript)
        )
        insert(bob_message, "/me waves")
        bob.widget("body.chat.main.compose.send").invoke()
        self.assertIn("* bob waves", text_of(bob_transcript), "your own action shows at once")
        yield self.wait_for("Bob's action at Alice", lambda: "* bob waves" in text_of(alice_transcript))

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


@inlineCallbacks
def alice_creating_garden(test: Any) -> Any:
    """Alice and Bob at their session lists, and Alice's create dialog filled in for garden (not yet sent)."""
    alice = test.open_client("alice", 0, address=test.address)
    bob = test.open_client("bob", 1000, address=test.address)
    for window in (alice, bob):
        rows = window.widget(SESSION_ROWS)
        yield test.wait_for("the session list", lambda rows=rows: len(tree_rows(rows)) >= 9)
    alice.widget("body.lobby.bar.buttons.create").invoke()
    dialog = yield test.wait_for("the create dialog", lambda: alice.top.children.get("create"))
    insert(dialog.nametowidget("body.name"), "garden")
    insert(dialog.nametowidget("body.username"), "alice")
    return alice, bob, dialog


class RestartTests(GuiTestCase):
    @inlineCallbacks
    def test_two_clients_are_back_in_their_session_after_a_restart(self) -> Any:
        """The server restarts under two chatting windows: within seconds both say Reconnected, show the
        session and both members again, keep the transcript, and chat on; nobody touches anything."""
        alice, bob, dialog = yield alice_creating_garden(self)
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
        bob_transcript, alice_transcript = transcript_of(bob), transcript_of(alice)
        yield self.wait_for("the message at Bob", lambda: "alice  before the restart" in text_of(bob_transcript))

        started = time.monotonic()
        yield self.restart_server()
        for window in (alice, bob):
            transcript, members = transcript_of(window), window.widget(MEMBERS)
            yield self.wait_for(
                "back in garden",
                lambda t=transcript, m=members: "Reconnected." in text_of(t) and len(tree_rows(m)) == 2,
            )
        back_after = time.monotonic() - started
        print(f"\n  both windows back in garden {back_after:.1f} s after the server was told to stop")
        self.assertLess(back_after, 8.0, "back within a few seconds of the stop")
        for window in (alice, bob):
            self.assertEqual(text_of(window.widget("header.corner.session_title")).strip(), "garden")
            self.assertIn("before the restart", text_of(transcript_of(window)), "the transcript is kept")
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
    def test_the_about_window_gives_the_browser_url(self) -> Any:
        """The About window (the info button) gives the browser client's URL on the server connected to."""
        alice = self.open_client("alice", 0, address=self.address)
        yield self.wait_for("the session list", lambda: tree_rows(alice.widget(SESSION_ROWS)))
        alice.widget("body.lobby.bar.buttons.info").invoke()
        about = yield self.wait_for("the about window", lambda: alice.top.children.get("about"))
        url = re.search(rb"web client: (http://127\.0\.0\.1:\d+/)", bytes(self.server.output)).group(1).decode()
        self.assertEqual(
            text_of(about.nametowidget("body.browser")), f"Browser: {url} (open it on any device of the network)"
        )

    @inlineCallbacks
    def test_window_keeps_repainting_while_server_is_silent(self) -> Any:
        """Connecting to a server that never answers leaves a live window whose status keeps animating."""
        from twisted.internet import reactor

        from glozi.client.state import ServerAddress

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


def own_line_states(transcript: Any, marker: str) -> dict[str, str]:
    """For each of your lines containing ``marker`` (e.g. "msg 007"): "pending", "failed" or "sent",
    read from the text tags the window shows it with."""
    states = {}
    for number, row in enumerate(text_of(transcript).split("\n"), 1):
        column = row.find(marker)
        if column < 0:
            continue
        tags = transcript.tag_names(f"{number}.{column}")
        word = row[column:].split("  ")[0].strip(" \u25cc\u2715")
        states[word] = "pending" if "pending" in tags else "failed" if "failed" in tags else "sent"
    return states


class ChatWindowTests(GuiTestCase):
    @inlineCallbacks
    def both_in_garden(self) -> Any:
        """Alice creates garden; it appears in Bob's list by itself (no Reload) and Bob joins it."""
        alice, bob, dialog = yield alice_creating_garden(self)
        bob_rows = bob.widget(SESSION_ROWS)
        dialog.nametowidget("body.buttons.submit").invoke()
        yield self.wait_for(
            "garden pushed to Bob's list", lambda: any(r[2] == "garden" and r[3] == "1" for r in tree_rows(bob_rows))
        )
        garden = next(iid for iid in bob_rows.get_children() if bob_rows.item(iid)["values"][1] == "garden")
        bob.model.open_join(int(garden))
        join = yield self.wait_for("the join dialog", lambda: bob.top.children.get("join"))
        insert(join.nametowidget("body.username"), "bob")
        join.nametowidget("body.buttons.submit").invoke()
        yield self.wait_for("Bob in garden", lambda: bob.model.chat is not None)
        yield self.wait_for("Bob at Alice's", lambda: len(tree_rows(alice.widget(MEMBERS))) == 2)
        return alice, bob

    @inlineCallbacks
    def test_200_pasted_lines_arrive_whole_in_order_and_none_shows_sent_before_its_ack(self) -> Any:
        """Issue 12 item 9 with the real server's default flood limits: 200 lines pasted with Ctrl+V into
        Bob's message field all reach Alice's window in order; Bob's window shows each grey (pending)
        until the server's ack for it arrived, and a "Sending N of 200..." hint while they drain."""
        alice, bob = yield self.both_in_garden()
        protocol = bob.model.protocol
        said: dict[object, str] = {}
        acked: set[str] = set()
        real_write, real_line = protocol.transport.write, protocol.lineReceived

        def write(data: bytes) -> None:
            for line in data.splitlines():
                frame = json.loads(line)
                if frame.get("type") == "say":
                    said[frame["id"]] = frame["text"]
            real_write(data)

        def line_received(line: bytes) -> None:
            frame = json.loads(line)
            if frame.get("type") == "ack":
                acked.add(said[frame["id"]])
            real_line(line)

        protocol.transport.write = write
        protocol.lineReceived = line_received

        texts = [f"msg {n:03}" for n in range(1, 201)]
        bob.top.clipboard_clear()
        bob.top.clipboard_append("\n".join(texts) + "\n")
        message = bob.widget("body.chat.main.compose.message")
        bob.top.update_idletasks()
        message.focus_force()
        yield self.xdotool("windowfocus", "--sync", str(int(bob.top.wm_frame(), 16)))
        yield self.xdotool("key", "--clearmodifiers", "ctrl+v")

        bob_transcript, alice_transcript = transcript_of(bob), transcript_of(alice)
        hint = bob.widget("body.chat.main.sending")
        seen = {"pending": 0, "hints": set()}

        def said_at(transcript: Any) -> list[str]:
            return [row[row.index("msg ") :] for row in text_of(transcript).split("\n") if "msg " in row]

        def check() -> bool:
            states = own_line_states(bob_transcript, "msg ")
            early = [t for t, state in states.items() if state == "sent" and t not in acked]
            self.assertEqual(early, [], "shown as sent before the server acknowledged it")
            self.assertNotIn("failed", states.values())
            seen["pending"] = max(seen["pending"], list(states.values()).count("pending"))
            if hint.winfo_ismapped():
                seen["hints"].add(text_of(hint))
            return len(states) == 200 and "pending" not in states.values() and len(said_at(alice_transcript)) == 200

        yield self.wait_for("all 200 acknowledged and at Alice's", check, timeout=90)
        self.assertEqual(said_at(alice_transcript), texts, "all 200, in order")
        self.assertEqual(text_of(alice_transcript).count("bob  msg "), 1, "grouped under one name")
        self.assertEqual(message.get(), "", "the field is cleared once the paste is sent")
        self.assertGreater(seen["pending"], 150, "lines waited visibly")
        self.assertTrue(any(h.startswith("Sending ") and h.endswith(" of 200...") for h in seen["hints"]), seen)
        self.assertFalse(hint.winfo_ismapped(), "no hint once everything is sent")
        self.assertNotIn("too fast", text_of(bob_transcript))

    @inlineCallbacks
    def test_the_chat_follows_after_a_resize_and_marks_new_messages_below(self) -> Any:
        """Issue 12 item 12: at the bottom, Alice's view keeps following after her window is resized;
        scrolled up with the mouse wheel, a new message shows "New messages below", whose click
        scrolls down and hides it."""
        alice, bob = yield self.both_in_garden()
        transcript = transcript_of(alice)
        marker = alice.widget(f"body.chat.main.session{alice.model.chat.session.id}.new_below")
        self.assertTrue(bob.model.send_lines("\n".join(f"filler {n}" for n in range(30))))
        yield self.wait_for("the filler at Alice's", lambda: "filler 29" in text_of(transcript))
        alice.top.geometry("980x490")
        yield self.wait_for("the smaller window", lambda: alice.top.winfo_height() < 500)
        bob.model.send("after the resize")
        yield self.wait_for("the message at Alice's", lambda: "after the resize" in text_of(transcript))
        yield self.wait_for("the view at the bottom", lambda: transcript.yview()[1] >= 0.999)
        self.assertFalse(marker.winfo_ismapped())

        alice.top.update_idletasks()
        yield self.xdotool(
            "mousemove", "--sync", str(transcript.winfo_rootx() + 200), str(transcript.winfo_rooty() + 100),
            "click", "--repeat", "5", "--delay", "30", "4",
        )
        yield self.wait_for("scrolled up", lambda: transcript.yview()[1] < 0.9)
        bob.model.send("while you read")
        yield self.wait_for("the marker", lambda: marker.winfo_ismapped())
        self.assertLess(transcript.yview()[1], 0.9, "the view stays where the reader is")
        self.assertEqual(text_of(marker), "New messages below \u2193")
        alice.top.update_idletasks()
        yield self.xdotool(
            "mousemove", "--sync", str(marker.winfo_rootx() + marker.winfo_width() // 2),
            str(marker.winfo_rooty() + marker.winfo_height() // 2), "click", "1",
        )
        yield self.wait_for("back at the bottom", lambda: transcript.yview()[1] >= 0.999)
        self.assertFalse(marker.winfo_ismapped())

    @inlineCallbacks
    def test_a_notice_does_not_move_the_session_rows(self) -> Any:
        """Issue 12 item 11: the rows stay put under the pointer when a notice appears above the list."""
        bob = self.open_client("bob", 0, address=self.address)
        rows = bob.widget(SESSION_ROWS)
        yield self.wait_for("the session list", lambda: len(tree_rows(rows)) >= 9)
        bob.top.update_idletasks()
        before = rows.winfo_rooty() + rows.bbox("1")[1]
        bob.model.open_join(1)
        join = yield self.wait_for("the join dialog", lambda: bob.top.children.get("join"))
        insert(join.nametowidget("body.username"), "bob")
        join.nametowidget("body.buttons.submit").invoke()
        yield self.wait_for("Bob in avocado", lambda: bob.model.chat is not None)
        bob.model.send("/quit")
        notice = bob.widget("body.lobby.notice")
        yield self.wait_for("the notice", lambda: notice.winfo_ismapped() and "You left" in text_of(notice))
        yield self.wait_for("the list again", lambda: len(tree_rows(rows)) >= 9)
        bob.top.update_idletasks()
        self.assertEqual(rows.winfo_rooty() + rows.bbox("1")[1], before)


class ServerPasswordTests(GuiTestCase):
    @inlineCallbacks
    def test_the_window_asks_for_the_password_and_gets_in(self) -> Any:
        """A real server with --password: the window says "Password needed"; a wrong password shows "Wrong server
        password." there; the right one, typed and sent with Connect, opens the session list."""
        yield self.server.stop()
        self.server = yield start_server(self.server_dir, extra=("--password", "sesame"))
        window = self.open_client("guest", 0, address=self.address)
        title = window.widget("body.status.card.status_title")
        status = window.widget("body.status.card.status_text")
        yield self.wait_for("the password screen", lambda: text_of(title) == "Password needed")
        self.assertEqual(text_of(status), "This server needs a password.")
        field = window.widget("body.status.card.password_row.password")
        insert(field, "guess")
        window.widget("body.status.card.password_row.give_password").invoke()
        yield self.wait_for("the refusal", lambda: text_of(status) == "Wrong server password.")
        insert(field, "sesame")
        window.widget("body.status.card.password_row.give_password").invoke()
        yield self.wait_for("the session list", lambda: tree_rows(window.widget(SESSION_ROWS)))
