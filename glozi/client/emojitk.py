"""Emoji in Tk: inline images in a ``Text``, copied as their characters, and the emoji picker.

``EmojiImages`` puts the images ``glozi.client.emoji`` draws into a Text
where the characters were: each image's Tk name spells the characters it
shows, so ``selected_text`` gives them back, and copying (Ctrl+C) a selection
puts the original characters on the clipboard (and the PRIMARY selection,
for middle-click paste, gives them too). A selected image shows the
selection colour through its transparent pixels (Tk draws the tag background
under an embedded image). ``EmojiPicker`` is the panel of common emoji opened
by the button by the message field.
"""

import itertools
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from PIL import ImageTk

from glozi.client import palette as p
from glozi.client.emoji import CACHE_ENTRIES, EmojiRenderer, pieces

_IMAGE_PREFIX = "emoji"
_LAST_BMP = 0xFFFF
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


def utf16_slice(text: str, offset: int, length: int) -> str:
    """The characters of ``text`` from ``offset`` for at most ``length``, both counted as Tcl 8.6 counts
    (a character beyond the BMP is two), never splitting one: what a selection handler returns."""
    start = 0
    units = 0
    while start < len(text) and units < offset:
        units += 2 if ord(text[start]) > _LAST_BMP else 1
        start += 1
    end, taken = start, 0
    while end < len(text):
        width = 2 if ord(text[end]) > _LAST_BMP else 1
        if taken + width > length:
            break
        taken += width
        end += 1
    return text[start:end]


def export_selection(text_widget: tk.Text) -> None:
    """Make the PRIMARY selection of ``text_widget`` (middle-click paste) give emoji as their characters."""

    def handle(offset: str, length: str) -> str:
        if not text_widget.tag_ranges("sel"):
            return ""
        return utf16_slice(selected_text(text_widget, "sel.first", "sel.last"), int(offset), int(length))

    for kind in ("STRING", "UTF8_STRING"):
        text_widget.selection_handle(handle, type=kind)


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


class EmojiIcons:
    """Emoji images for widgets other than a Text (the emoji button, the picker): drawn once, kept."""

    def __init__(self, master: tk.Misc) -> None:
        self._master = master
        self._renderer = shared_renderer(_rgb(master, p.TEXT))
        self._prefix = f"{_IMAGE_PREFIX}{next(_names)}"
        self._icons: dict[tuple[str, int], ImageTk.PhotoImage] = {}

    def icon(self, cluster: str, height: int) -> ImageTk.PhotoImage:
        """The Tk image of ``cluster``, ``height`` pixels high."""
        key = (cluster, height)
        if key not in self._icons:
            self._icons[key] = ImageTk.PhotoImage(
                self._renderer.image(cluster, height),
                master=self._master,
                name=_image_name(self._prefix, cluster, height),
            )
        return self._icons[key]


class EmojiImages:
    """The emoji images of a Text, each drawn once per cluster at the Text's line height.

    An image stays alive while the Text shows it; past ``CACHE_ENTRIES``
    distinct ones, those no longer shown are released, so a flood of different
    emoji costs no more than the transcript holds.
    """

    def __init__(self, widget: tk.Text, renderer: EmojiRenderer | None = None) -> None:
        self._widget = widget
        # Asked of Tk directly: a tkinter.font.Font would make a named font that outlives the window.
        self.height = int(widget.tk.call("font", "metrics", widget.cget("font"), "-displayof", widget, "-linespace"))
        """Height of the images: the line height of the Text's font."""
        self._renderer = renderer or shared_renderer(_rgb(widget, str(widget.cget("foreground"))))
        self._prefix = f"{_IMAGE_PREFIX}{next(_names)}"
        self._photos: dict[str, ImageTk.PhotoImage] = {}
        self._texts: list[tk.Text] = [widget]
        bind_copy(widget.winfo_toplevel())
        export_selection(widget)

    def photo(self, cluster: str) -> ImageTk.PhotoImage:
        """The Tk image of ``cluster`` at the line height, as ``insert`` puts it in a Text."""
        found = self._photos.get(cluster)
        if found is None:
            if len(self._photos) >= CACHE_ENTRIES:
                self._release_unshown()
            found = self._photos[cluster] = ImageTk.PhotoImage(
                self._renderer.image(cluster, self.height),
                master=self._widget,
                name=_image_name(self._prefix, cluster, self.height),
            )
        return found

    def _release_unshown(self) -> None:
        shown = {
            str(text_widget.image_cget(index, "image"))
            for text_widget in self._texts
            if text_widget.winfo_exists()
            for _, _, index in text_widget.dump("1.0", "end", image=True)
        }
        for cluster, photo in list(self._photos.items()):
            if str(photo) not in shown:
                del self._photos[cluster]

    def insert(self, text_widget: tk.Text, index: str, text: str, tags: tuple[str, ...]) -> None:
        """Insert ``text`` at ``index`` with ``tags``, each emoji (or character Tk cannot draw) as an image."""
        found = pieces(text)
        if not any(piece.drawn for piece in found):
            text_widget.insert(index, text, tags)
            return
        if text_widget not in self._texts:
            self._texts.append(text_widget)
        # A right-gravity mark moves past each piece, so the pieces land in order at any index.
        text_widget.mark_set("emoji_insert", index)
        text_widget.mark_gravity("emoji_insert", "right")
        for piece in found:
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
    """A panel of common emoji just above the top right corner of ``above``, opened and closed by ``button``.

    A click on an emoji hands its characters to ``on_pick`` and closes the
    panel; so does a click anywhere else in the window (the panel just closes)
    and ``close``. It is a frame inside the window rather than a window of its
    own, so it needs nothing from the window manager (no focus, no placing).
    Its emoji are drawn the first time it opens.
    """

    def __init__(
        self,
        parent: tk.Misc,
        above: tk.Misc,
        button: ttk.Button,
        icons: EmojiIcons,
        on_pick: Callable[[str], None],
    ) -> None:
        self._above = above
        self._button = button
        self._icons = icons
        self._on_pick = on_pick
        self.frame = tk.Frame(parent, name="emoji_picker", background=p.BORDER, padx=1, pady=1)
        self._grid = tk.Frame(self.frame, name="grid", background=p.SURFACE, padx=6, pady=6)
        self._grid.pack()
        self.buttons: dict[str, tk.Label] = {}
        """The picker's emoji (labels) by the characters they insert."""
        button.configure(command=self.toggle)
        button.winfo_toplevel().bind("<ButtonPress>", self._pressed, add="+")

    def _fill(self) -> None:
        first_row = 0
        for row_of_emoji in PICKER_EMOJI:
            clusters = [piece.text for piece in pieces(row_of_emoji)]
            for place, cluster in enumerate(clusters):
                label = tk.Label(
                    self._grid,
                    image=self._icons.icon(cluster, PICKER_PIXELS),
                    background=p.SURFACE,
                    padx=3,
                    pady=3,
                    cursor="hand2",
                )
                label.grid(row=first_row + place // PICKER_COLUMNS, column=place % PICKER_COLUMNS)
                label.bind("<Button-1>", lambda _, chosen=cluster: self.pick(chosen))
                label.bind("<Enter>", lambda _, shown=label: shown.configure(background=p.HOVER))
                label.bind("<Leave>", lambda _, shown=label: shown.configure(background=p.SURFACE))
                self.buttons[cluster] = label
            first_row += -(-len(clusters) // PICKER_COLUMNS)

    def is_open(self) -> bool:
        return bool(self.frame.place_info())

    def toggle(self) -> None:
        """Open the panel, or close it when it is open."""
        if self.is_open():
            self.close()
            return
        if not self.buttons:
            self._fill()
        self.frame.place(in_=self._above, relx=1.0, rely=0.0, anchor="se", x=-16, y=-4)
        self.frame.lift()

    def close(self) -> None:
        self.frame.place_forget()

    def pick(self, cluster: str) -> None:
        """Close the panel and hand ``cluster`` on."""
        self.close()
        self._on_pick(cluster)

    def _pressed(self, event: tk.Event) -> None:
        """A click outside the panel closes it; the button's own click toggles it instead."""
        clicked = str(event.widget)
        if self.is_open() and clicked != str(self._button) and not clicked.startswith(str(self.frame)):
            self.close()
