"""Scrolling to the top of a session in a real window loads the older messages (Xvfb, the real server)."""

from typing import Any

from twisted.internet.defer import inlineCallbacks

from glozi.client.state import Older
from tests.guitools import GuiTestCase, text_of, transcript_of
from tests.realserver import connect_client

MESSAGES = 100
SCROLLBACK = 40
"""Enough for the join's history to fill the window: then the line being read can stay where it is."""


class OlderMessagesGuiTests(GuiTestCase):
    server_options = ("--scrollback", str(SCROLLBACK), "--flood-burst", "1000", "--flood-rate", "1000")

    @inlineCallbacks
    def test_scrolling_to_the_top_shows_older_messages_where_the_reader_was(self) -> Any:
        """Bob joins with the last 40 of 100 messages; wheel up at the top shows the 60 before them above,
        "Start of history" at the very top, and the line he was reading stays on its pixel row."""
        alice = yield connect_client(self, self.server.port)
        yield alice.request(type="join", session=1, username="alice")
        for n in range(MESSAGES):
            yield alice.request(type="say", text=f"garden note {n}")
        bob = self.open_client("bob", 0, address=self.address)
        yield self.wait_for("bob's session list", lambda: bob.model.sessions)
        bob.model.open_join(1)
        bob.model.submit_join("bob")
        yield self.wait_for("bob in avocado", lambda: bob.model.chat is not None and bob.model.chat.history_left == 0)
        text = transcript_of(bob)
        yield self.wait_for("the join's history", lambda: f"garden note {MESSAGES - 1}" in text_of(text))
        self.assertNotIn(f"garden note {MESSAGES - SCROLLBACK - 1}\n", text_of(text))

        reading = f"garden note {MESSAGES - SCROLLBACK + 1}"
        # The scroll to the newest line waits for Tk to be idle: let it run now, not after the move to the top.
        text.update_idletasks()
        text.yview_moveto(0)
        text.update_idletasks()
        before = text.dlineinfo(text.search(reading, "1.0"))
        self.assertIsNotNone(before)
        text.update()
        x, y = text.winfo_rootx() + text.winfo_width() // 2, text.winfo_rooty() + text.winfo_height() // 2
        yield self.xdotool("mousemove", str(x), str(y))
        # Wheel up, one notch at a time, until the view says it reached the top.
        for _ in range(20):
            yield self.xdotool("click", "4")
            if bob.model.chat.older is not Older.IDLE:
                break
        yield self.wait_for("the older messages", lambda: bob.model.chat.older is Older.START)
        shown = text_of(text)
        self.assertTrue(shown.startswith("Start of history\n"), shown[:80])
        notes = [line.split("garden note ")[1] for line in shown.splitlines() if "garden note " in line]
        self.assertEqual(notes, [str(n) for n in range(MESSAGES)], "every message once, in order")
        self.assertEqual(shown.count("Earlier messages above"), 1)
        text.update_idletasks()
        after = text.dlineinfo(text.search(reading, "1.0"))
        # Only the "Loading…" row that appeared at the top (the view was there) moved it, by its height.
        loading_row = self.status_row_height(text)
        self.assertEqual(after[1], before[1] + loading_row)

    def status_row_height(self, text: Any) -> int:
        """The height of the row at the very top ("Start of history"), scrolled to for a moment."""
        first_shown = text.index("@0,0")
        text.yview_moveto(0)
        text.update_idletasks()
        height = text.dlineinfo("1.0")[3]
        text.yview(first_shown)
        text.update_idletasks()
        return height
