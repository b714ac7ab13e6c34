"""The sidebar in real windows under Xvfb on the real server: several sessions, a private chat,
unread counts, the mention mark, and the title and urgency of a window that is not focused."""

import tkinter as tk
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks

from glozi.client.app import ClientWindow, address_connector, start_client
from glozi.client.desktop import X11Desktop
from glozi.client.viewmodel import ClientViewModel
from tests.guitools import GuiTestCase, insert, text_of, urgency_hint_set, visible_widget_at

SIDEBAR = "body.sidebar.conversations"


class RecordingDesktop:
    """A Desktop that records what the window asked of it, and passes the urgency hint on to
    ``x11`` (the real one, on the test's X display) once it is set."""

    def __init__(self) -> None:
        self.urgent: list[bool] = []
        self.notified: list[tuple[str, str]] = []
        self.x11: X11Desktop | None = None

    def set_urgent(self, urgent: bool) -> None:
        self.urgent.append(urgent)
        if self.x11 is not None:
            self.x11.set_urgent(urgent)

    def notify(self, summary: str, body: str) -> None:
        self.notified.append((summary, body))


def badges(window: ClientWindow) -> dict[str, str]:
    """What the sidebar shows beside each conversation: its name and its badge ("2", "@ 1", "")."""
    sidebar = window.widget(SIDEBAR)
    return {
        str(sidebar.item(iid, "text")): str(sidebar.item(iid, "values")[0])
        for group in sidebar.get_children()
        for iid in sidebar.get_children(group)
    }


class SidebarTests(GuiTestCase):
    def open_with_desktop(self, name: str, x: int, desktop: RecordingDesktop | None = None) -> ClientWindow:
        top = tk.Toplevel(self.root, name=name)
        window = start_client(top, reactor, self.address, desktop=desktop)
        top.geometry(f"980x640+{x}+0")
        self.addCleanup(lambda: window.top.winfo_exists() and window.close())
        return window

    @inlineCallbacks
    def join(self, window: ClientWindow, session_id: int, name: str) -> Any:
        """Join a built-in session through the join dialog; from a session, through + Join / create."""
        if window.model.conversations:
            window.widget("body.sidebar.join").invoke()
        rows = window.widget("body.lobby.table.sessions")
        yield self.wait_for("the session list", lambda: rows.exists(str(session_id)))
        window.model.open_join(session_id)
        dialog = yield self.wait_for("the join dialog", lambda: window.top.children.get("join"))
        username = dialog.nametowidget("body.username")
        if window.model.conversations:
            self.assertEqual(username.get(), name, "the second join offers the name you have")
        else:
            insert(username, name)
        dialog.nametowidget("body.buttons.submit").invoke()
        yield self.wait_for(f"{name} in session {session_id}", lambda: window.model.current == f"session:{session_id}")

    @inlineCallbacks
    def bob_in(self, *session_ids: int) -> Any:
        """Bob without a window (a window in this test's Tk would take the focus from Alice's)."""
        bob = ClientViewModel(reactor, address_connector(reactor), lambda: None, self.address)
        self.addCleanup(bob.close)
        bob.start()
        for session_id in session_ids:
            if bob.conversations:
                bob.show_sessions()
            yield self.wait_for("Bob's session list", lambda sid=session_id: bob.session_by_id(sid) is not None)
            bob.open_join(session_id)
            bob.submit_join("bob")
            yield self.wait_for("Bob in the session", lambda sid=session_id: bob.current == f"session:{sid}")
        return bob

    @inlineCallbacks
    def focus(self, top: tk.Misc, widget: tk.Misc) -> Any:
        """Give ``top`` the keyboard focus, as a click on it would."""
        top.update_idletasks()
        widget.focus_force()
        yield self.xdotool("windowfocus", "--sync", str(int(top.wm_frame(), 16)))

    @inlineCallbacks
    def click_row(self, window: ClientWindow, iid: str) -> Any:
        sidebar = window.widget(SIDEBAR)
        window.top.update_idletasks()
        x, y, width, height = sidebar.bbox(iid)
        yield self.xdotool(
            "mousemove", "--sync",
            str(sidebar.winfo_rootx() + x + width // 2), str(sidebar.winfo_rooty() + y + height // 2),
            "click", "1",
        )

    @inlineCallbacks
    def test_three_sessions_and_a_private_chat_count_unread_and_mark_mentions(self) -> Any:
        """Alice in three sessions looks at the third: bob's messages elsewhere show as unread counts, the one
        naming her with "@", his private message opens a chat; a click shows a session and clears its count,
        a double-click on bob in its member list shows the private chat with him.
        With her window not focused, a mention and a private message put "(2) GloziChat" in the title and ask
        the desktop for urgency, and focus takes both back."""
        desktop = RecordingDesktop()
        alice = self.open_with_desktop("alice", 0, desktop)
        desktop.x11 = X11Desktop(alice.top, reactor)
        elsewhere = tk.Toplevel(self.root, name="elsewhere")
        elsewhere.geometry("300x100+1000+0")
        other_field = tk.Entry(elsewhere, name="field")
        other_field.pack()
        for session_id in (1, 2, 3):
            yield self.join(alice, session_id, "alice")
        bob = yield self.bob_in(1, 2)
        yield self.focus(alice.top, alice.widget("body.chat.main.compose.message"))
        yield self.wait_for("Alice's window focused", lambda: alice.model.focused)
        names = {key: c.title for key, c in alice.model.conversations.items()}
        first, second, third = names["session:1"], names["session:2"], names["session:3"]
        self.assertEqual(list(badges(alice).values()), ["", "", ""])
        self.assertEqual(alice.widget(SIDEBAR).selection(), ("session:3",), "the one shown is highlighted")

        bob.switch_to("session:1")
        bob.send("hello")
        bob.send("anyone?")
        bob.switch_to("session:2")
        bob.send("Alice, look at this")
        bob.open_private("alice")
        bob.send("psst")
        expected = {first: "2", second: "@ 1", third: "", "bob": "1"}
        yield self.wait_for("the counts in Alice's sidebar", lambda: badges(alice) == expected)
        self.assertEqual(text_of(alice.widget("header.corner.session_title")).strip(), third)
        self.assertEqual(alice.top.title(), "GloziChat", "a focused window asks for nothing")
        self.assertEqual(desktop.urgent, [])

        yield self.click_row(alice, "session:2")
        yield self.wait_for("garden shown", lambda: alice.model.current == "session:2")
        self.assertEqual(badges(alice)[second], "", "looking clears the count and the mark")
        transcript = alice.widget("body.chat.main.session2.text")
        self.assertIs(visible_widget_at(transcript), transcript, "its transcript is on top")
        self.assertIn("Alice, look at this", text_of(transcript))
        members = alice.widget("body.chat.side.members")
        yield self.wait_for("bob in the member list", lambda: members.exists("bob"))
        alice.top.update_idletasks()
        x, y, width, height = members.bbox("bob")
        yield self.xdotool(
            "mousemove", "--sync",
            str(members.winfo_rootx() + x + width // 2), str(members.winfo_rooty() + y + height // 2),
            "click", "--repeat", "2", "--delay", "80", "1",
        )
        yield self.wait_for("the private chat shown", lambda: alice.model.current == "private:bob")
        self.assertEqual(badges(alice)["bob"], "", "a double-click on a member shows the chat with him")
        self.assertEqual(text_of(alice.widget("header.corner.session_title")).strip(), "@bob")
        private = alice.chat.transcript
        self.assertIn("psst", text_of(private.text))

        yield self.focus(elsewhere, other_field)
        yield self.wait_for("Alice's window not focused", lambda: not alice.model.focused)
        bob.switch_to("session:2")
        bob.send("alice: lunch?")
        yield self.wait_for("the title count", lambda: alice.top.title() == "(1) GloziChat")
        self.assertEqual(desktop.urgent, [True])
        self.assertTrue((yield urgency_hint_set(alice.top)), "X has the urgency hint on Alice's window")
        bob.switch_to("private:alice")
        bob.send("are you there?")
        yield self.wait_for("the title count", lambda: alice.top.title() == "(2) GloziChat")
        self.assertEqual(
            desktop.notified, [(f"bob in {second}", "alice: lunch?"), ("bob privately", "are you there?")]
        )

        yield self.focus(alice.top, alice.widget("body.chat.main.compose.message"))
        yield self.wait_for("the plain title again", lambda: alice.top.title() == "GloziChat")
        self.assertEqual(desktop.urgent, [True, False])
        self.assertFalse((yield urgency_hint_set(alice.top)), "and takes it back once she is focused")
        self.assertEqual(badges(alice)["bob"], "", "the private chat shown is read once focused")
