"""How the transcript shows lines (``glozi.client.transcript``): a real Tk ``Text`` under Xvfb,
fed ``ChatLine``s made here, read back as its text and tags, clicked and right-clicked."""

import tkinter as tk
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.trial.unittest import SynchronousTestCase, TestCase

from glozi.client import palette as p
from glozi.client import transcript
from glozi.client.emojitk import selected_text
from glozi.client.links import LinkNotOpened
from glozi.client.state import ChatLine, Delivery, LineKind
from glozi.client.texts import clock_text
from glozi.client.theme import apply_theme
from glozi.client.transcript import TranscriptView
from tests.guitools import keep_until_exit, use_test_display
from tests.realthings import mark_display_used

TS = 1764590000.0
"""A Monday afternoon (1 December 2025, UTC): the lines' time."""
TIME = clock_text(TS)


def message(text: str, sender: str = "bob", **fields: Any) -> ChatLine:
    return ChatLine(LineKind.MESSAGE, text, TS, sender=sender, **fields)


class ColourTests(SynchronousTestCase):
    def test_links_and_mentions_read_in_both_themes(self) -> None:
        """Links, text and names reach WCAG AA (4.5) on the chat and on a mention's tint; your
        highlighted name too."""
        for colours in (p.DARK, p.LIGHT):
            for background in ("CHAT", "MENTION_LINE"):
                for colour in (colours["LINK"], colours["TEXT"], *colours["USER_COLOURS"]):
                    with self.subTest(colour=colour, background=background, light=colours is p.LIGHT):
                        self.assertGreaterEqual(p.contrast_ratio(colour, colours[background]), 4.5)
            self.assertGreaterEqual(p.contrast_ratio(colours["TEXT_BRIGHT"], colours["MENTION"]), 4.5)


class TranscriptTestCase(TestCase):
    """One transcript in a shown window; ``opened`` lists the links it was asked to open."""

    def setUp(self) -> None:
        use_test_display(self)
        self.root = tk.Tk(className="GloziTranscriptTest")
        mark_display_used()
        errors: list[BaseException] = []
        self.root.report_callback_exception = lambda kind, value, tb: errors.append(value)  # type: ignore[method-assign]
        self.addCleanup(self._stop_tk, errors)
        apply_theme(self.root)
        self.root.geometry("800x600+0+0")
        self.opened: list[str] = []
        self.open_result: Deferred[None] | None = None
        self.resent: list[int] = []
        self.view = TranscriptView(
            self.root, "transcript", self.resent.append, nick=lambda: "alice", open_link=self.open_link
        )
        self.view.frame.pack(fill="both", expand=True)
        self.text = self.view.text
        self.root.update()

    def _stop_tk(self, errors: list[BaseException]) -> None:
        self.root.destroy()
        keep_until_exit(self.root)
        if errors:
            raise errors[0]

    def open_link(self, url: str) -> "Deferred[None]":
        self.opened.append(url)
        return self.open_result or succeed(None)

    def add(self, *lines: ChatLine) -> None:
        for line in lines:
            self.view.add_line(line)
        self.root.update()

    def rows(self) -> list[str]:
        return self.text.get("1.0", "end-1c").split("\n")

    def tags_at(self, row: int, needle: str = "") -> tuple[str, ...]:
        """The tags on the first character of ``needle`` in text row ``row`` (1-based; the row's start when "")."""
        column = self.rows()[row - 1].index(needle)
        return self.text.tag_names(f"{row}.{column}")

    def tagged(self, tag: str) -> list[str]:
        """The text of each range tagged ``tag``."""
        ranges = self.text.tag_ranges(tag)
        return [self.text.get(start, end) for start, end in zip(ranges[::2], ranges[1::2])]

    def styled_rows(self) -> list[list[tuple[str, tuple[str, ...]]]]:
        """Each row as its characters with their tags (sorted): how it looks, character by character."""
        return [
            [
                (char, tuple(sorted(self.text.tag_names(f"{number}.{column}"))))
                for column, char in enumerate(row)
            ]
            for number, row in enumerate(self.rows(), 1)
        ]

    def point(self, row: int, needle: str) -> tuple[int, int]:
        """Window coordinates of the middle of the first character of ``needle`` in row ``row``."""
        column = self.rows()[row - 1].index(needle)
        self.text.see(f"{row}.{column}")
        self.root.update()
        x, y, width, height = self.text.bbox(f"{row}.{column}")
        return x + width // 2, y + height // 2

    def click(self, row: int, needle: str) -> None:
        """Move the pointer onto ``needle`` in row ``row`` (tag bindings follow it) and click."""
        x, y = self.point(row, needle)
        self.text.event_generate("<Motion>", x=x, y=y)
        self.text.event_generate("<Button-1>", x=x, y=y)
        self.text.event_generate("<ButtonRelease-1>", x=x, y=y)
        self.root.update()

    def right_click(self, row: int, needle: str) -> list[str]:
        """Right-click on ``needle`` in row ``row``; the labels of the menu that opens."""
        x, y = self.point(row, needle)
        self.view.menu.delete(0, "end")
        self.text.event_generate("<Button-3>", x=x, y=y, rootx=x, rooty=y)
        self.root.update()
        menu = self.view.menu
        self.addCleanup(menu.grab_release)
        self.addCleanup(menu.unpost)
        last = menu.index("end")
        return [] if last is None else [menu.entrycget(i, "label") for i in range(last + 1)]

    def choose(self, label: str) -> str:
        """Choose ``label`` in the open menu; what the clipboard then holds."""
        menu = self.view.menu
        menu.invoke(label)
        # What Tk does when the user picks an entry: tk_popup's grab goes with the menu.
        menu.unpost()
        menu.grab_release()
        self.root.update()
        return self.root.clipboard_get()


class GroupingTests(TranscriptTestCase):
    def test_a_group_shows_name_and_time_once_and_its_lines_under_the_name(self) -> None:
        """The first line: time, ★, name, text; a grouped line: only its text, starting where the names do."""
        self.add(
            message("welcome, bob", "alice", sender_admin=True),
            message("the tomatoes are in", "alice", sender_admin=True, grouped=True),
            message("hi alice!", "bob"),
        )
        self.assertEqual(
            self.rows(),
            [f"{TIME}\t★ alice  welcome, bob", "the tomatoes are in", f"{TIME}\tbob  hi alice!", ""],
        )
        first, grouped = self.tags_at(1, "welcome"), self.tags_at(2)
        self.assertIn("group_start", first)
        self.assertIn("grouped", grouped)
        self.assertNotIn("group_start", grouped)
        self.assertEqual(self.tagged("time"), [TIME, TIME], "no time on the grouped line")
        self.assertEqual(self.tagged("name"), ["alice", "bob"], "no name on the grouped line")
        # The grouped line's text starts exactly where the names start.
        self.root.update()
        self.assertEqual(self.text.bbox("2.0")[0], self.text.bbox(f"1.{self.rows()[0].index('★')}")[0])

    def test_the_name_shows_in_its_colour_and_the_star_in_the_admin_colour(self) -> None:
        self.add(message("welcome, bob", "alice", sender_admin=True))
        colour = next(
            self.text.tag_cget(tag, "foreground")
            for tag in self.tags_at(1, "alice")
            if tag.startswith("sender")
        )
        self.assertEqual(str(colour), message("", "alice").colour)
        self.assertIn("admin", self.tags_at(1, "★"))

    def hover(self, row: int, needle: str) -> str:
        """Move the pointer onto ``needle`` in row ``row``: the time shown in the gutter, "" when none."""
        x, y = self.point(row, needle)
        self.text.event_generate("<Motion>", x=x, y=y)
        self.root.update()
        label = self.view.hover_time
        if not label.winfo_ismapped():
            return ""
        top, height = self.text.bbox(f"{row}.0")[1], self.text.bbox(f"{row}.0")[3]
        self.assertLessEqual(top, label.winfo_y() + label.winfo_height() // 2, "beside its line")
        self.assertLessEqual(label.winfo_y() + label.winfo_height() // 2, top + height)
        return str(label.cget("text"))

    def test_hovering_a_grouped_line_shows_its_own_time_in_the_gutter(self) -> None:
        self.add(
            message("one", "carol"),
            message("two", "carol", grouped=True),
            message("later", "carol", grouped=True),
        )
        self.view.add_line(ChatLine(LineKind.MESSAGE, "three", TS + 3600, sender="carol", grouped=True))
        self.root.update()
        self.assertEqual(self.hover(2, "two"), TIME)
        self.assertEqual(self.hover(4, "three"), clock_text(TS + 3600))
        self.assertEqual(self.hover(1, "one"), "", "a first line shows its own time already")
        self.assertEqual(self.rows()[3], "three", "the hovered time is not part of the text")

    def test_hovered_times_stay_right_after_old_lines_are_dropped(self) -> None:
        """The oldest lines go (here past 2 x 3 lines); the remaining grouped lines keep their times and
        the dropped ones leave nothing behind."""
        self.patch(transcript, "MAX_CHAT_LINES", 3)
        for n in range(12):
            self.view.add_line(
                ChatLine(LineKind.MESSAGE, f"m{n}", TS + 60 * n, sender="carol", grouped=n % 4 != 0)
            )
        self.root.update()
        rows = self.rows()
        self.assertLess(len(rows), 8)
        for row, shown in enumerate(rows, 1):
            if shown.startswith("m"):
                self.assertEqual(self.hover(row, shown), clock_text(TS + 60 * int(shown[1:])))
        self.assertLessEqual(len(self.view._times), 7)

    def test_an_action_is_never_grouped_looking_and_is_in_italics(self) -> None:
        """/me from the same person, even marked grouped, reads "* bob waves" with its time."""
        self.add(message("hi", "bob"), message("waves", "bob", action=True, grouped=True))
        self.assertEqual(self.rows()[1], f"{TIME}\t* bob waves")
        self.assertIn("group_start", self.tags_at(2, "waves"))
        self.assertIn("italic", str(self.text.tag_cget("action", "font")))
        self.assertIn("action", self.tags_at(2, "waves"))
        self.assertIn("action", self.tags_at(2, "*"))

    def test_history_lines_look_exactly_like_live_ones(self) -> None:
        """Earlier lines (the server's scrollback), grouping included, carry the same text and tags."""
        said = [("hello", {}), ("again", {"grouped": True}), ("waves", {"action": True})]
        self.add(*(message(text, "carol", earlier=True, **fields) for text, fields in said))
        earlier = self.styled_rows()
        self.view.clear()
        self.add(*(message(text, "carol", **fields) for text, fields in said))
        self.assertEqual(earlier, self.styled_rows())

    def test_a_grouped_pending_message_turns_sent_in_place_and_stays_grouped(self) -> None:
        self.add(
            message("first", "alice", own=True, serial=1, delivery=Delivery.SENT),
            message("second", "alice", own=True, serial=2, delivery=Delivery.PENDING, grouped=True),
            message("hi", "bob"),
        )
        self.assertEqual(self.rows()[1], "second  ◌")
        self.assertIn("pending", self.tags_at(2, "second"))
        self.view.update_line(
            message("second", "alice", own=True, serial=2, delivery=Delivery.SENT, grouped=True)
        )
        self.assertEqual(self.rows(), [f"{TIME}\talice  first", "second", f"{TIME}\tbob  hi", ""])
        self.assertIn("sent", self.tags_at(2, "second"))
        self.assertIn("grouped", self.tags_at(2, "second"))

    def test_a_failed_message_offers_send_again(self) -> None:
        self.add(
            message(
                "lost",
                "alice",
                own=True,
                serial=3,
                delivery=Delivery.FAILED,
                note="The server did not store it.",
                resendable=True,
            )
        )
        self.assertEqual(self.rows()[0], f"{TIME}\talice  lost  ✕  The server did not store it.  Send again")
        self.assertIn("failed", self.tags_at(1, "lost"))
        self.click(1, "Send again")
        self.assertEqual(self.resent, [3])


class SeparatorTests(TranscriptTestCase):
    def test_a_day_line_is_a_centred_date_between_rules_unlike_the_divider(self) -> None:
        self.add(
            ChatLine(LineKind.DAY, "Sunday 30 November", TS),
            message("morning", earlier=True),
            ChatLine(LineKind.DIVIDER, "Earlier messages above", TS),
        )
        rule = "\u2500" * 16
        self.assertEqual(self.rows()[0], f"{rule}  Sunday 30 November  {rule}")
        self.assertEqual(
            self.rows()[2], "\u2500\u2500\u2500\u2500  Earlier messages above  \u2500\u2500\u2500\u2500"
        )
        self.assertEqual(str(self.text.tag_cget("day", "justify")), "center")
        self.assertIn("rule", self.tags_at(1, "\u2500"))
        self.assertIn("bold", str(self.text.tag_cget("day", "font")))
        self.assertNotIn("divider", self.tags_at(1, "Sunday"))
        self.assertNotIn("day", self.tags_at(3, "Earlier"))
        self.assertEqual(self.tagged("time"), [TIME], "only the message has a time")

    def test_a_command_answer_has_a_header_with_the_command_and_time(self) -> None:
        """ "› /help" and the time head the monospace block of the answer."""
        self.add(ChatLine(LineKind.REPLY, "Commands:\n  /help   this list", TS, command="/help"))
        self.assertEqual(self.rows(), [f"{TIME}\t› /help", " Commands:", "   /help   this list", ""])
        self.assertIn("reply_header", self.tags_at(1, "/help"))
        self.assertIn("command", self.tags_at(1, "/help"))
        self.assertIn("reply", self.tags_at(2, "Commands"))
        self.assertIn("Mono", str(self.text.tag_cget("reply", "font")))
        self.assertEqual(self.tagged("time"), [TIME])

    def test_notices_have_their_time_and_style(self) -> None:
        self.add(
            ChatLine(LineKind.SYSTEM, "bob joined the session.", TS),
            ChatLine(LineKind.WARNING, "You will be removed after 20 s.", TS),
            ChatLine(LineKind.ERROR, "Not sent: too long.", TS),
        )
        self.assertEqual(
            self.rows()[:3],
            [
                f"{TIME}\tbob joined the session.",
                f"{TIME}\tYou will be removed after 20 s.",
                f"{TIME}\tNot sent: too long.",
            ],
        )
        self.assertEqual(
            [style in self.tags_at(row, "o") for row, style in ((1, "system"), (2, "warning"), (3, "error"))],
            [True, True, True],
        )


class LinkTests(TranscriptTestCase):
    def test_links_are_underlined_in_the_link_colour_without_their_punctuation(self) -> None:
        self.add(message("see https://example.org/a_(b)), or www.debian.org."))
        self.assertEqual(self.tagged("link"), ["https://example.org/a_(b)", "www.debian.org"])
        self.assertEqual(str(self.text.tag_cget("link", "foreground")), p.LINK)
        self.assertTrue(int(self.text.tag_cget("link", "underline")))

    def test_clicking_a_link_opens_its_url_with_a_hand_cursor_over_it(self) -> None:
        self.add(message("see https://example.org/x and www.debian.org."))
        x, y = self.point(1, "example")
        self.text.event_generate("<Motion>", x=x, y=y)
        self.root.update()
        self.assertEqual(str(self.text.cget("cursor")), "hand2")
        self.click(1, "example")
        self.click(1, "debian")
        self.assertEqual(self.opened, ["https://example.org/x", "http://www.debian.org"])

    def test_a_link_that_cannot_be_opened_says_why_in_the_transcript(self) -> None:
        self.open_result = fail(
            LinkNotOpened("Could not open https://example.org/: xdg-open is not installed.")
        )
        self.add(message("https://example.org/"))
        self.click(1, "https")
        self.assertIn("Could not open https://example.org/: xdg-open is not installed.", self.rows()[1])
        self.assertIn("error", self.tags_at(2, "Could"))

    def test_links_in_command_answers_and_notices_are_links_too(self) -> None:
        self.add(
            ChatLine(LineKind.SYSTEM, "Topic: plans at https://example.org/plan", TS),
            ChatLine(LineKind.REPLY, "docs: www.example.org/help", TS, command="/help"),
        )
        self.assertEqual(self.tagged("link"), ["https://example.org/plan", "www.example.org/help"])


class MentionTests(TranscriptTestCase):
    def test_your_name_is_highlighted_exactly_and_the_line_tinted(self) -> None:
        """Only the whole name, in any case, is marked; the line gets the mention tint."""
        self.add(message("Alice, ask alice_ or @ALICE about https://example.org/", mentioned=True))
        self.assertEqual(self.tagged("mention"), ["Alice", "ALICE"])
        self.assertEqual(self.tagged("mentioned"), [self.rows()[0] + "\n"])
        self.assertEqual(str(self.text.tag_cget("mentioned", "background")), p.MENTION_LINE)
        self.assertEqual(str(self.text.tag_cget("mention", "background")), p.MENTION)
        self.assertIn("link", self.tags_at(1, "example"))

    def test_a_line_the_view_model_did_not_mark_is_not_highlighted(self) -> None:
        """The view-model decides what is a mention (your own line naming you is not)."""
        self.add(message("alice here", "alice", own=True, serial=1, delivery=Delivery.SENT))
        self.assertEqual(self.tagged("mention"), [])
        self.assertEqual(self.tagged("mentioned"), [])

    def test_a_grouped_line_that_names_you_is_highlighted_too(self) -> None:
        self.add(message("hi"), message("alice?", grouped=True, mentioned=True))
        self.assertEqual(self.tagged("mention"), ["alice"])
        self.assertEqual(self.tagged("mentioned"), ["alice?\n"])


class CopyMenuTests(TranscriptTestCase):
    def test_copy_message_and_copy_name_on_a_message(self) -> None:
        self.add(message("welcome, bob", "alice", sender_admin=True))
        self.assertEqual(self.right_click(1, "welcome"), ["Copy message", "Copy name"])
        self.assertEqual(self.choose("Copy message"), "welcome, bob")
        self.right_click(1, "welcome")
        self.assertEqual(self.choose("Copy name"), "alice")

    def test_a_link_can_be_copied_as_its_address(self) -> None:
        self.add(message("see www.debian.org."))
        self.assertEqual(self.right_click(1, "debian"), ["Copy link", "Copy message", "Copy name"])
        self.assertEqual(self.choose("Copy link"), "http://www.debian.org")
        self.assertEqual(self.right_click(1, "see"), ["Copy message", "Copy name"], "only on the link")

    def test_a_grouped_line_copies_its_own_text_and_the_group_name(self) -> None:
        self.add(message("one", "carol"), message("two", "carol", grouped=True), message("three", "bob"))
        self.right_click(2, "two")
        self.assertEqual(self.choose("Copy message"), "two")
        self.right_click(2, "two")
        self.assertEqual(self.choose("Copy name"), "carol")

    def test_a_notice_has_no_name_to_copy(self) -> None:
        self.add(ChatLine(LineKind.SYSTEM, "bob joined the session.", TS))
        self.assertEqual(self.right_click(1, "bob"), ["Copy message"])
        self.assertEqual(self.choose("Copy message"), "bob joined the session.")

    def test_a_command_answer_copies_as_its_whole_block(self) -> None:
        self.add(ChatLine(LineKind.REPLY, "Commands:\n  /help   this list", TS, command="/help"))
        self.right_click(3, "this")
        self.assertEqual(self.choose("Copy message"), "Commands:\n  /help   this list")
        self.right_click(1, "/help")
        self.assertEqual(self.choose("Copy message"), "Commands:\n  /help   this list")

    def test_the_selection_shows_over_tinted_lines_and_answer_blocks(self) -> None:
        """The selection's colour wins over every background the transcript draws."""
        priority = self.text.tag_names()
        for tinted in ("mentioned", "mention", "reply"):
            self.assertGreater(priority.index("sel"), priority.index(tinted), tinted)

    def test_copy_puts_the_selection_on_the_clipboard(self) -> None:
        self.add(message("hello there", "bob"))
        self.text.tag_add("sel", "1.0 + 2 chars", "1.end - 6 chars")
        self.assertEqual(self.right_click(1, "hello"), ["Copy", "Copy message", "Copy name"])
        self.assertEqual(self.choose("Copy"), self.text.get("1.0 + 2 chars", "1.end - 6 chars"))


class InsertionTests(TranscriptTestCase):
    def test_every_piece_of_text_goes_through_insert_text(self) -> None:
        """The emoji hook sees all the text: what ``_insert_text`` got is what the transcript shows."""
        inserted: list[str] = []
        original = self.view._insert_text

        def record(index: str, text: str, tags: tuple[str, ...]) -> None:
            inserted.append(text)
            original(index, text, tags)

        self.view._insert_text = record  # type: ignore[method-assign]
        self.add(
            ChatLine(LineKind.DAY, "Today", TS),
            message("hi 🎉 https://example.org", "bob", mentioned=True),
            message("alice!", "bob", grouped=True, mentioned=True),
            message("waves", "bob", action=True),
            message("mine", "alice", own=True, serial=1, delivery=Delivery.PENDING),
            ChatLine(LineKind.REPLY, "a\nb", TS, command="/echo a"),
            ChatLine(LineKind.DIVIDER, "Earlier messages above", TS),
            ChatLine(LineKind.SYSTEM, "bob left.", TS),
        )
        self.assertEqual("".join(inserted), selected_text(self.text, "1.0", "end-1c"))
        self.assertNotIn("🎉", self.text.get("1.0", "end-1c"), "the emoji is an image, not a glyph Tk draws")
        inserted.clear()
        self.view.update_line(message("mine", "alice", own=True, serial=1, delivery=Delivery.SENT))
        self.assertEqual("".join(inserted), f"{TIME}\talice  mine\n")


class FollowingTests(TranscriptTestCase):
    def test_a_burst_of_lines_ends_in_view(self) -> None:
        self.add(*(message(f"line {n}") for n in range(80)))
        self.assertGreaterEqual(self.text.yview()[1], 0.999)
        self.assertTrue(self.view.following)

    def test_scrolling_up_while_new_lines_wait_to_be_shown_stays_up(self) -> None:
        """The wheel turned in the same moment lines arrive moves up from the newest line and stays there:
        the next line shows the marker instead of scrolling."""
        self.add(*(message(f"line {n}") for n in range(80)))
        for n in range(80, 90):
            self.view.add_line(message(f"line {n}"))
        for _ in range(3):
            self.text.event_generate("<Button-4>", x=100, y=100)
        self.root.update()
        self.assertLess(self.text.yview()[1], 0.999, "the view stays where the reader scrolled")
        self.assertFalse(self.view.following)
        top = self.text.index("@0,0")
        self.add(message("line 90"))
        self.assertEqual(self.text.index("@0,0"), top)
        self.assertTrue(self.view.new_below.winfo_ismapped())


class ReadOnlyTests(TranscriptTestCase):
    def test_keys_pastes_and_cuts_do_not_change_the_transcript(self) -> None:
        """Typed, pasted, cut or deleted in the transcript, nothing changes; it still selects and copies."""
        self.add(message("hi there"))
        before = self.text.get("1.0", "end")
        self.text.focus_force()
        self.root.update()
        self.text.mark_set("insert", "1.3")
        for key in ("<KeyPress-a>", "<KeyPress-BackSpace>", "<KeyPress-Delete>", "<KeyPress-Return>"):
            self.text.event_generate(key)
        self.root.clipboard_clear()
        self.root.clipboard_append("pasted")
        self.text.event_generate("<<Paste>>")
        self.text.tag_add("sel", "1.0", "1.end")
        for edit in ("<<Cut>>", "<<Clear>>", "<<PasteSelection>>"):
            self.text.event_generate(edit)
        self.root.update()
        self.assertEqual(self.text.get("1.0", "end"), before)
        self.assertEqual(
            self.root.clipboard_get(), self.text.get("1.0", "1.end"), "a cut copies, deleting nothing"
        )


class ThemeTests(TranscriptTestCase):
    def test_every_text_the_transcript_draws_reads_in_both_themes(self) -> None:
        """Each tag's text colour reaches WCAG AA (4.5) on the chat or on the tag's own background, in
        dark and in light ("Send again" was white on white in light); only the date's rules are
        decoration."""
        self.addCleanup(p.use, p.theme)
        for theme in ("dark", "light"):
            p.use(theme)
            view = TranscriptView(self.root, f"transcript_{theme}", print)
            text = view.text
            for tag in text.tag_names():
                colour = str(text.tag_cget(tag, "foreground"))
                background = str(text.tag_cget(tag, "background")) or p.CHAT
                if colour and tag != "rule":
                    self.assertGreaterEqual(p.contrast_ratio(colour, background), 4.5, f"{tag} in {theme}")
