"""Emoji in Tk: inline images in a ``Text``, copied as their characters, and the emoji picker.

``EmojiImages`` puts the images ``glozi.client.emoji`` draws into a Text
where the characters were: each image's Tk name spells the characters it
shows, so ``selected_text`` gives them back, and copying (Ctrl+C) a selection
puts the original characters on the clipboard. A selected image shows the
selection colour through its transparent pixels (Tk draws the tag background
under an embedded image). ``EmojiPicker`` is the small grid of common emoji
opened by the button by the message field.
"""

import itertools
import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Callable
from tkinter import ttk

from PIL import ImageTk

from glozi.client import palette as p
from glozi.client.emoji import CACHE_ENTRIES, EmojiRenderer, pieces

_IMAGE_PREFIX = "emoji"
_names = itertools.count(1)
_renderers: dict[tuple[int, int, int], EmojiRenderer] = {}


def shared_renderer(colour: tuple[int, int, int]) -> EmojiRenderer:
    """One renderer (and one fontconfig look-up, one image cache) per text colour for the whole client."""
    if colour not in _renderers:
        _renderers[colour] = EmojiRenderer(colour=colour)
    return _renderers[colour]


def _image_name(prefix: str, cluster: str, height: int) -> str:
    return "_".join((prefix, *(f"{ord(c):x}" for c in cluster), str(height)))


def characters_of(image_name: str) -> str | None:
    """The characters an emoji image made by ``EmojiImages`` shows, from its name; None for other images."""
    parts = image_name.split("_")
    if len(parts) < 3 or not parts[0].startswith(_IMAGE_PREFIX):
        return None
    try:
        return "".join(chr(int(code, 16)) for code in parts[1:-1])
    except ValueError:
        return None


def selected_text(text_widget: tk.Text, start: str, end: str) -> str:
    """The text from ``start`` to ``end``, each emoji image given back as the characters it shows."""
    copied = []
    for kind, value, index in text_widget.dump(start, end, text=True, image=True):
        if kind == "text":
            copied.append(value)
        else:
            characters = characters_of(str(text_widget.image_cget(index, "image")))
            copied.append(characters or "")
    return "".join(copied)


def _copy_selection(event: tk.Event) -> str | None:
    """<<Copy>> anywhere in a window whose selection is in a Text: its characters, emoji included."""
    widget = event.widget
    owner = widget.tk.call("selection", "own", "-displayof", widget)
    if not owner:
        return None
    text_widget = widget.nametowidget(str(owner))
    if not isinstance(text_widget, tk.Text) or not text_widget.tag_ranges("sel"):
        return None
    text_widget.clipboard_clear()
    text_widget.clipboard_append(selected_text(text_widget, "sel.first", "sel.last"))
    return "break"


def bind_copy(top: tk.Misc) -> None:
    """Make <<Copy>> (Ctrl+C) in ``top`` copy a Text's selection with its emoji as characters.

    Bound on the toplevel, because a disabled Text does not take the focus on
    X11: the key goes to the message field, whose own copy finds no selection
    (the Text owns it) and leaves the event to the window. Bound once per window.
    """
    if _copy_selection.__name__ not in top.bind("<<Copy>>"):
        top.bind("<<Copy>>", _copy_selection, add="+")


def _rgb(widget: tk.Misc, colour: str) -> tuple[int, int, int]:
    red, green, blue = widget.winfo_rgb(colour)
    return red >> 8, green >> 8, blue >> 8


class EmojiImages:
    """The emoji images of one Text, each drawn once per cluster and height.

    Images stay alive while the Text shows them; past ``CACHE_ENTRIES`` distinct
    ones, those no longer shown are released, so a flood of different emoji
    costs no more than the transcript holds.
    """

    def __init__(self, widget: tk.Text, renderer: EmojiRenderer | None = None) -> None:
        self._widget = widget
        self.height = tkfont.Font(widget, font=widget.cget("font")).metrics("linespace")
        """Height of the images: the line height of the Text's font."""
        self._renderer = renderer or shared_renderer(_rgb(widget, str(widget.cget("foreground"))))
        self._prefix = f"{_IMAGE_PREFIX}{next(_names)}"
        self._photos: dict[tuple[str, int], ImageTk.PhotoImage] = {}
        bind_copy(widget.winfo_toplevel())

    def photo(self, cluster: str, height: int | None = None) -> ImageTk.PhotoImage:
        """The Tk image of ``cluster``, ``height`` pixels high (the line height by default)."""
        height = height or self.height
        key = (cluster, height)
        found = self._photos.get(key)
        if found is None:
            if len(self._photos) >= CACHE_ENTRIES:
                self._release_unshown()
            found = ImageTk.PhotoImage(
                self._renderer.image(cluster, height),
                master=self._widget,
                name=_image_name(self._prefix, cluster, height),
            )
            self._photos[key] = found
        return found

    def _release_unshown(self) -> None:
        shown = {
            str(self._widget.image_cget(index, "image"))
            for _, _, index in self._widget.dump("1.0", "end", image=True)
        }
        for key, photo in list(self._photos.items()):
            if str(photo) not in shown:
                del self._photos[key]

    def insert(self, text_widget: tk.Text, index: str, text: str, tags: tuple[str, ...]) -> None:
        """Insert ``text`` at ``index`` with ``tags``, each emoji (or character Tk cannot draw) as an image."""
        # A right-gravity mark moves past each piece, so the pieces land in order at any index.
        text_widget.mark_set("emoji_insert", index)
        text_widget.mark_gravity("emoji_insert", "right")
        for piece in pieces(text):
            if not piece.drawn:
                text_widget.insert("emoji_insert", piece.text, tags)
                continue
            embedded = text_widget.image_create("emoji_insert", image=self.photo(piece.text), align="center")
            for tag in tags:
                text_widget.tag_add(tag, embedded)
        text_widget.mark_unset("emoji_insert")


PICKER_EMOJI = (
    "😀😃😄😁😆😅😂🤣😊😇🙂🙃😉😌😍🥰😘😋😛😜🤪🤨🧐🤓😎🥳😏😒😞😔😟😕🙁😣😖😫😩🥺😢😭😤😠😡🤯😳😱😨😰🤗🤔🤭🤫😶😐😑😬🙄😯😴🤤😪😵🤐🥴🤢🤮🤧😷🤒🤕",
    "👍👎👌✌️🤞🤟🤘👋👏🙌🙏💪👍🏻👍🏽👍🏿🎉🎊🎂🎁🔥✨⭐💯✅❌❓❗💡📌☕🍕🍺🚀💻📎",
    "❤️🧡💛💚💙💜🖤🤍💔🐶🐱🦊🐻🐼🐸🌈☀️🌧️❄️🌍🇫🇷🇩🇪🇬🇧🇺🇸🇪🇸🇮🇹🇯🇵🇧🇷🇺🇦🇪🇺🏳️‍🌈👨‍👩‍👧‍👦",
)
"""The picker's rows of emoji (faces; hands and things; hearts, nature and flags), as their characters."""
PICKER_COLUMNS = 12
PICKER_PIXELS = 24


class EmojiPicker:
    """A small window of common emoji beside ``anchor``; a click hands one to ``on_pick`` and closes it.

    Escape, or a click outside it (the window losing the focus), closes it too.
    """

    def __init__(self, anchor: tk.Misc, images: EmojiImages, on_pick: Callable[[str], None]) -> None:
        self._on_pick = on_pick
        self.top = tk.Toplevel(anchor, name="emoji_picker", background=p.SURFACE)
        self.top.withdraw()
        self.top.overrideredirect(True)
        self.top.transient(anchor.winfo_toplevel())
        grid = ttk.Frame(self.top, name="grid", style="Chat.TFrame", padding=6)
        grid.pack()
        self.buttons: dict[str, tk.Label] = {}
        """The picker's buttons by the emoji they insert."""
        first_row = 0
        for row_of_emoji in PICKER_EMOJI:
            clusters = [piece.text for piece in pieces(row_of_emoji)]
            for place, cluster in enumerate(clusters):
                button = tk.Label(
                    grid,
                    image=images.photo(cluster, PICKER_PIXELS),
                    background=p.CHAT,
                    padx=3,
                    pady=3,
                    cursor="hand2",
                )
                button.grid(row=first_row + place // PICKER_COLUMNS, column=place % PICKER_COLUMNS)
                button.bind("<Button-1>", lambda _, chosen=cluster: self.pick(chosen))
                button.bind("<Enter>", lambda _, b=button: b.configure(background=p.HOVER))
                button.bind("<Leave>", lambda _, b=button: b.configure(background=p.CHAT))
                self.buttons[cluster] = button
            first_row += -(-len(clusters) // PICKER_COLUMNS)
        self.top.bind("<Escape>", lambda _: self.close())
        self.top.bind("<FocusOut>", self._focus_out)
        self._place(anchor)

    def _place(self, anchor: tk.Misc) -> None:
        """Open just above ``anchor``, its right edge at the anchor's right edge."""
        self.top.update_idletasks()
        x = anchor.winfo_rootx() + anchor.winfo_width() - self.top.winfo_reqwidth()
        y = anchor.winfo_rooty() - self.top.winfo_reqheight() - 4
        self.top.geometry(f"+{max(0, x)}+{max(0, y)}")
        self.top.deiconify()
        self.top.lift()
        self.top.focus_force()

    def _focus_out(self, event: tk.Event) -> None:
        if event.widget is self.top:
            self.close()

    def pick(self, cluster: str) -> None:
        """Hand ``cluster`` on and close."""
        self.close()
        self._on_pick(cluster)

    def exists(self) -> bool:
        return bool(self.top.winfo_exists())

    def close(self) -> None:
        if self.top.winfo_exists():
            self.top.destroy()

