"""Emoji in real client windows under Xvfb, with the real server: pixels on screen, copy, the picker."""

import os
import tkinter as tk
from typing import Any

from PIL import Image, ImageChops, ImageGrab, ImageStat
from twisted.internet.defer import inlineCallbacks

from glozi.client.emoji import CACHE_ENTRIES, EmojiRenderer
from glozi.client.emojitk import EmojiIcons, EmojiImages, selected_text
from tests.guitools import GuiTestCase, insert, replace_text, transcript_of, tree_rows

MESSAGE = "body.chat.main.compose.message"
FAMILY = "👨\u200d👩\u200d👧\u200d👦"
SENT = f"😀 🎉 🇫🇷 👍🏽 \U0001d11e {FAMILY}"
CLUSTERS = ["😀", "🎉", "🇫🇷", "👍🏽", "\U0001d11e", FAMILY]
MEAN_TOLERANCE = 4.0
"""Mean difference per channel (of 255) allowed between the screen and Pillow's drawing."""


def rgb(widget: tk.Misc, colour: str) -> tuple[int, int, int]:
    red, green, blue = widget.winfo_rgb(colour)
    return red >> 8, green >> 8, blue >> 8


def emoji_on_screen(text_widget: tk.Text) -> list[tuple[str, str]]:
    """Each image in ``text_widget`` as (the characters it stands for, its index)."""
    return [
        (selected_text(text_widget, index, f"{index}+1c"), index)
        for _, _, index in text_widget.dump("1.0", "end", image=True)
    ]


def screen_area(text_widget: tk.Text, index: str) -> Image.Image:
    """What the X server shows where the character or image at ``index`` is."""
    x, y, width, height = text_widget.bbox(index)
    left, top = text_widget.winfo_rootx() + x, text_widget.winfo_rooty() + y
    grabbed = ImageGrab.grab(bbox=(left, top, left + width, top + height), xdisplay=os.environ["DISPLAY"])
    return grabbed.convert("RGB")


def on_background(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """``image`` (RGBA) laid on a plain ``background``, as it shows in the transcript."""
    laid = Image.new("RGBA", image.size, (*background, 255))
    laid.alpha_composite(image)
    return laid.convert("RGB")


def mean_difference(shown: Image.Image, expected: Image.Image) -> float:
    """The mean difference per channel of two images of one size (255 when their sizes differ)."""
    if shown.size != expected.size:
        return 255.0
    return sum(ImageStat.Stat(ImageChops.difference(shown, expected)).mean) / 3


class EmojiWindowTests(GuiTestCase):
    @inlineCallbacks
    def both_in_garden(self) -> Any:
        """Alice creates garden and Bob joins it, through the view-models of two real windows."""
        alice = self.open_client("alice", 0, address=self.address)
        bob = self.open_client("bob", 1000, address=self.address)
        for window in (alice, bob):
            rows = window.widget("body.lobby.table.sessions")
            yield self.wait_for("the session list", lambda rows=rows: len(tree_rows(rows)) >= 9)
        alice.model.open_create()
        alice.model.submit_create("garden", "alice")
        yield self.wait_for("Alice in garden", lambda: alice.model.chat is not None)
        garden = alice.model.chat.session.id
        bob.widget("body.lobby.bar.buttons.reload").invoke()
        yield self.wait_for("garden in Bob's list", lambda: bob.model.session_by_id(garden) is not None)
        bob.model.open_join(garden)
        bob.model.submit_join("bob")
        yield self.wait_for("Bob in garden", lambda: bob.model.chat is not None)
        return alice, bob

    @inlineCallbacks
    def test_emoji_from_bob_show_in_colour_for_both_and_copy_as_the_same_characters(self) -> Any:
        """Bob sends 😀 🎉 🇫🇷 👍🏽 𝄞 and a ZWJ family: in Alice's window and in Bob's own, each shows as an
        image whose pixels on screen are the same emoji drawn by Pillow at the line's height; Alice
        selects them with the mouse, presses Ctrl+C, and the clipboard holds exactly what Bob sent."""
        alice, bob = yield self.both_in_garden()
        message = bob.widget(MESSAGE)
        insert(message, SENT)
        message.focus_force()
        message.event_generate("<Return>")
        alice_text, bob_text = transcript_of(alice), transcript_of(bob)
        yield self.wait_for("the emoji at Alice", lambda: len(emoji_on_screen(alice_text)) == len(CLUSTERS))

        for window, text_widget in ((alice, alice_text), (bob, bob_text)):
            shown = emoji_on_screen(text_widget)
            self.assertEqual([characters for characters, _ in shown], CLUSTERS, window.top.winfo_name())
            height = EmojiImages(text_widget).height
            renderer = EmojiRenderer(colour=rgb(text_widget, str(text_widget.cget("foreground"))))
            background = rgb(text_widget, str(text_widget.cget("background")))
            for characters, index in shown:
                expected = on_background(renderer.image(characters, height), background)
                self.assertEqual(expected.height, height)
                yield self.wait_for(
                    f"{characters!r} drawn in {window.top.winfo_name()}'s window",
                    lambda i=index, e=expected, t=text_widget: mean_difference(screen_area(t, i), e)
                    <= MEAN_TOLERANCE,
                )
            self.assertNotIn("\ufffd", text_widget.get("1.0", "end"))

        first, last = emoji_on_screen(alice_text)[0][1], emoji_on_screen(alice_text)[-1][1]
        alice.top.update_idletasks()
        start_x, start_y, _, start_height = alice_text.bbox(first)
        end_x, end_y, end_width, end_height = alice_text.bbox(last)
        root_x, root_y = alice_text.winfo_rootx(), alice_text.winfo_rooty()
        yield self.xdotool(
            "mousemove", "--sync", str(root_x + start_x + 1), str(root_y + start_y + start_height // 2),
            "mousedown", "1",
            "mousemove", "--sync", str(root_x + end_x + end_width - 1), str(root_y + end_y + end_height // 2),
            "mouseup", "1",
        )
        yield self.wait_for("the selection", lambda: alice_text.tag_ranges("sel"))
        alice.widget(MESSAGE).focus_force()
        yield self.xdotool("windowfocus", "--sync", str(int(alice.top.wm_frame(), 16)))
        alice.top.clipboard_clear()
        yield self.xdotool("key", "--clearmodifiers", "ctrl+c")
        yield self.wait_for("the copy", lambda: _clipboard(alice.top))
        self.assertEqual(_clipboard(alice.top), SENT)
        self.assertEqual(alice.top.selection_get(), SENT, "the PRIMARY selection (middle-click paste) too")

        # Selected, an emoji shows the selection colour through its transparent pixels.
        selection = rgb(alice_text, str(alice_text.cget("inactiveselectbackground")))
        renderer = EmojiRenderer()
        smile = on_background(renderer.image("😀", EmojiImages(alice_text).height), selection)
        yield self.wait_for(
            "the selected 😀 on the selection colour",
            lambda: mean_difference(screen_area(alice_text, first), smile) <= MEAN_TOLERANCE,
        )

    @inlineCallbacks
    def test_the_picker_puts_the_clicked_emoji_at_the_cursor(self) -> Any:
        """The emoji button opens the picker; a real click on 🎉 inserts it at the message field's cursor
        and closes the picker, as does a click elsewhere; the field's limit applies; sent, 🎉 shows as an
        emoji image."""
        alice, _ = yield self.both_in_garden()
        message = alice.widget(MESSAGE)
        insert(message, "party  time")
        message.icursor(6)
        alice.widget("body.chat.main.compose.emoji").invoke()
        picker = alice.widget("body.chat.main.emoji_picker")
        grid = picker.nametowidget("grid")
        yield self.wait_for("the picker on screen", lambda: picker.winfo_viewable())
        self.assertEqual(len(grid.winfo_children()), 137)
        party = next(label for label in grid.winfo_children() if _picks(label) == "🎉")
        alice.top.update_idletasks()
        yield self.xdotool(
            "mousemove", "--sync",
            str(party.winfo_rootx() + party.winfo_width() // 2), str(party.winfo_rooty() + party.winfo_height() // 2),
            "click", "1",
        )
        yield self.wait_for("the emoji in the field", lambda: message.get() == "party 🎉 time")
        self.assertFalse(picker.winfo_ismapped(), "the picker closed")
        alice.widget("body.chat.main.compose.emoji").invoke()
        yield self.wait_for("the picker open again", lambda: picker.winfo_viewable())
        yield self.xdotool(
            "mousemove", "--sync", str(message.winfo_rootx() + 5), str(message.winfo_rooty() + 5), "click", "1"
        )
        yield self.wait_for("the picker closed by a click elsewhere", lambda: not picker.winfo_ismapped())
        self.assertEqual(message.get(), "party 🎉 time")

        # A picked emoji is characters in the field: the 2,000-character limit counts them.
        replace_text(message, "a" * 1999)
        alice.chat.emoji_picker.pick("😀")
        self.assertEqual(message.get(), "a" * 1999 + "😀")
        alice.chat.emoji_picker.pick("🎉")
        self.assertEqual(len(message.get()), 2000, "a 2,001st character is refused")
        replace_text(message, "party 🎉 time")
        message.focus_force()
        message.event_generate("<Return>")
        text_widget = transcript_of(alice)
        yield self.wait_for("the sent emoji", lambda: [c for c, _ in emoji_on_screen(text_widget)] == ["🎉"])

    def test_an_emoji_inserted_anywhere_keeps_its_place_and_tags(self) -> None:
        """Inserted at a fixed index, text and emoji land in order, each image with the run's tags, and
        the text reads back with its emoji."""
        text_widget = tk.Text(self.root)
        images = EmojiImages(text_widget)
        text_widget.insert("end", "[]")
        images.insert(text_widget, "1.1", "a😀b🇫🇷", ("body", "own7"))
        self.assertEqual(selected_text(text_widget, "1.0", "end-1c"), "[a😀b🇫🇷]")
        for _, index in emoji_on_screen(text_widget):
            self.assertEqual(set(text_widget.tag_names(index)), {"body", "own7"})
        ranges = text_widget.tag_ranges("own7")
        text_widget.delete(ranges[0], ranges[-1])
        self.assertEqual(selected_text(text_widget, "1.0", "end-1c"), "[]")

    def test_images_not_shown_any_more_are_released(self) -> None:
        """Past 512 distinct emoji images (600 asked for), those the text does not show are let go; the shown one
        and the icons (picker, button) stay."""
        self.assertEqual(CACHE_ENTRIES, 512)
        text_widget = tk.Text(self.root)
        images = EmojiImages(text_widget)
        images.insert(text_widget, "end", "😀", ())
        shown = str(text_widget.image_cget("1.0", "image"))
        icons = EmojiIcons(self.root)
        icon = str(icons.icon("🎉", 24))
        before = set(self.root.tk.splitlist(self.root.tk.call("image", "names")))
        for code in range(0x1F300, 0x1F300 + 600):
            images.photo(chr(code))
        made = set(self.root.tk.splitlist(self.root.tk.call("image", "names"))) - before
        self.assertLessEqual(len(made), 512)
        self.assertIn(shown, self.root.tk.splitlist(self.root.tk.call("image", "names")))
        self.assertIn(icon, self.root.tk.splitlist(self.root.tk.call("image", "names")), "icons are kept")
        self.assertEqual(selected_text(text_widget, "1.0", "end-1c"), "😀")


def _clipboard(widget: tk.Misc) -> str:
    try:
        return widget.clipboard_get()
    except tk.TclError:
        return ""


def _picks(button: tk.Misc) -> str:
    """The emoji a picker button inserts (the characters its image shows)."""
    from glozi.client.emojitk import characters_of

    return characters_of(str(button.cget("image"))) or ""
