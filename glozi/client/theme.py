"""The ttk theme (dark or light, from the palette in use) and the button icons: everything Tk needs from the palette."""

import tkinter as tk
from collections.abc import Callable
from importlib import resources
from tkinter import ttk

from PIL import Image, ImageTk

from glozi.client import palette as p

ICON_NAMES = ("reload", "create", "info", "check", "lock", "send", "leave", "app", "logo")
INK_ICONS = ("reload", "info", "check", "leave")
"""White glyphs on plain buttons: drawn in the palette's text colour, so they show on light buttons too."""


def choose_palette(theme: str, desktop_preference: Callable[[], str | None]) -> str:
    """The palette for the ``theme`` setting: ``dark``, ``light``, or for ``system`` what
    ``desktop_preference`` reads from the desktop, dark when it cannot tell."""
    if theme in p.PALETTES:
        return theme
    return desktop_preference() or "dark"


def _edges(color: str) -> dict[str, str]:
    """A ttk border drawn in one colour: clam shades it with three (border, light, dark)."""
    return {"bordercolor": color, "lightcolor": color, "darkcolor": color}


def icon_images() -> dict[str, Image.Image]:
    """The PNG icons shipped in ``glozi/assets`` as Pillow images, ``INK_ICONS`` in ``TEXT_BRIGHT``."""
    images = {}
    folder = resources.files("glozi") / "assets"
    for name in ICON_NAMES:
        with (folder / f"{name}.png").open("rb") as stream:
            image = Image.open(stream)
            image.load()
        if name in INK_ICONS:
            ink = Image.new("RGBA", image.size, p.TEXT_BRIGHT)
            ink.putalpha(image.convert("RGBA").getchannel("A"))
            image = ink
        images[name] = image
    return images


def load_icons(master: tk.Misc) -> dict[str, ImageTk.PhotoImage]:
    """The icons (``icon_images``) as Tk images.

    Keep the returned dict alive as long as the widgets using them: Tk drops
    an image once Python no longer references it.
    """
    return {name: ImageTk.PhotoImage(image, master=master) for name, image in icon_images().items()}


def apply_theme(root: tk.Misc) -> ttk.Style:
    """Configure every ttk style and Tk option the client uses, in the colours of the palette in use."""
    # Only classic Tk widgets read the option database: set on ttk widgets,
    # these options would override their styles.
    for widget in ("Toplevel", "Text", "Listbox", "Canvas", "Menu"):
        root.option_add(f"*{widget}.background", p.WINDOW)
        root.option_add(f"*{widget}.foreground", p.TEXT)
        root.option_add(f"*{widget}.font", p.FONT)
        root.option_add(f"*{widget}.highlightThickness", 0)
        root.option_add(f"*{widget}.selectBackground", p.ACCENT)
        root.option_add(f"*{widget}.selectForeground", p.ACCENT_TEXT)
    root.option_add("*TCombobox*Listbox.background", p.INPUT)
    if isinstance(root, (tk.Tk, tk.Toplevel)):
        root.configure(background=p.WINDOW)

    style = ttk.Style(root)
    # clam draws every part from style options, so none of its grey survives.
    style.theme_use("clam")
    style.configure(
        ".",
        background=p.WINDOW,
        foreground=p.TEXT,
        fieldbackground=p.INPUT,
        **_edges(p.BORDER),
        troughcolor=p.WINDOW,
        selectbackground=p.ACCENT,
        selectforeground=p.ACCENT_TEXT,
        insertcolor=p.TEXT_BRIGHT,
        focuscolor=p.ACCENT,
        font=p.FONT,
    )
    style.map(".", foreground=[("disabled", p.MUTED)])

    for name, background in (("TFrame", p.WINDOW), ("Surface.TFrame", p.SURFACE), ("Chat.TFrame", p.CHAT)):
        style.configure(name, background=background)
    style.configure("Card.TFrame", background=p.SURFACE, bordercolor=p.BORDER, relief="solid", borderwidth=1)
    style.configure("FileCard.TFrame", background=p.SURFACE, bordercolor=p.BORDER, relief="solid", borderwidth=1)
    style.configure("FileCard.TLabel", background=p.SURFACE, foreground=p.MUTED, font=p.FONT_SMALL)
    style.configure("FileCardName.TLabel", background=p.SURFACE, foreground=p.TEXT_BRIGHT, font=p.FONT_BOLD)

    style.configure("TLabel", background=p.WINDOW, foreground=p.TEXT)
    style.configure("Surface.TLabel", background=p.SURFACE)
    style.configure("Title.TLabel", font=p.FONT_TITLE, foreground=p.TEXT_BRIGHT)
    style.configure("Heading.TLabel", font=p.FONT_HEADING, foreground=p.TEXT_BRIGHT, background=p.SURFACE)
    style.configure("Muted.TLabel", foreground=p.MUTED)
    style.configure("MutedSurface.TLabel", foreground=p.MUTED, background=p.SURFACE, font=p.FONT_SMALL)
    style.configure("Hint.TLabel", foreground=p.MUTED, background=p.SURFACE, font=p.FONT_SMALL)
    style.configure("Info.TLabel", foreground=p.TEXT, background=p.SURFACE)
    style.configure("Error.TLabel", foreground=p.ERROR_TEXT, background=p.SURFACE)
    style.configure("Sending.TLabel", foreground=p.TEXT_BRIGHT, background=p.SELECTED, font=p.FONT_SMALL)
    style.configure("Ok.TLabel", foreground=p.VALID, background=p.SURFACE)
    style.configure("Corner.TLabel", foreground=p.TEXT_BRIGHT, font=p.FONT_HEADING)
    style.configure("Code.TLabel", foreground=p.MUTED, background=p.INPUT, padding=(8, 2))

    style.configure(
        "TButton",
        background=p.INPUT,
        foreground=p.TEXT_BRIGHT,
        **_edges(p.INPUT),
        focuscolor=p.INPUT,
        padding=(12, 6),
        relief="flat",
    )
    style.map(
        "TButton",
        background=[("disabled", p.SURFACE), ("pressed", p.SELECTED), ("active", p.SELECTED)],
        bordercolor=[("focus", p.ACCENT)],
        foreground=[("disabled", p.MUTED)],
    )
    style.configure(
        "Accent.TButton",
        background=p.ACCENT,
        foreground=p.ACCENT_TEXT,
        **_edges(p.ACCENT),
        focuscolor=p.ACCENT,
    )
    style.map(
        "Accent.TButton",
        background=[("disabled", p.SELECTED), ("pressed", p.ACCENT_ACTIVE), ("active", p.ACCENT_ACTIVE)],
        bordercolor=[("disabled", p.SELECTED), ("focus", p.TEXT_BRIGHT)],
        foreground=[("disabled", p.MUTED)],
    )
    style.configure("Icon.TButton", padding=(8, 6))

    entry_colours = (("TEntry", p.BORDER), ("Valid.TEntry", p.VALID), ("Invalid.TEntry", p.INVALID))
    for name, border in entry_colours:
        style.configure(
            name,
            fieldbackground=p.INPUT,
            foreground=p.TEXT_BRIGHT,
            **_edges(border),
            insertcolor=p.TEXT_BRIGHT,
            padding=(8, 6),
        )
    # A parent's state map beats a child's plain option, so each entry style
    # maps its own focus colour: a valid field stays green while focused.
    for name, border in (("TEntry", p.ACCENT), ("Valid.TEntry", p.VALID), ("Invalid.TEntry", p.INVALID)):
        style.map(
            name,
            fieldbackground=[("disabled", p.SURFACE), ("readonly", p.SURFACE)],
            bordercolor=[("focus", border)],
            lightcolor=[("focus", border)],
        )

    style.configure(
        "Treeview",
        background=p.SURFACE,
        fieldbackground=p.SURFACE,
        foreground=p.TEXT,
        **_edges(p.SURFACE),
        rowheight=30,
        font=p.FONT,
    )
    style.map("Treeview", background=[("selected", p.SELECTED)], foreground=[("selected", p.TEXT_BRIGHT)])
    style.configure(
        "Treeview.Heading",
        background=p.WINDOW,
        foreground=p.MUTED,
        **_edges(p.WINDOW),
        relief="flat",
        font=p.FONT_SMALL,
        padding=(6, 6),
    )
    style.map("Treeview.Heading", background=[("active", p.HOVER)])
    style.configure(
        "Members.Treeview",
        background=p.WINDOW,
        fieldbackground=p.WINDOW,
        **_edges(p.WINDOW),
        rowheight=28,
        indent=0,
    )
    # Without a focus ring a selected row does not get a dotted outline.
    style.layout(
        "Treeview.Item",
        [
            (
                "Treeitem.padding",
                {
                    "sticky": "nswe",
                    "children": [
                        ("Treeitem.indicator", {"side": "left", "sticky": ""}),
                        ("Treeitem.image", {"side": "left", "sticky": ""}),
                        ("Treeitem.text", {"side": "left", "sticky": ""}),
                    ],
                },
            )
        ],
    )

    for orient in ("Vertical", "Horizontal"):
        style.configure(
            f"{orient}.TScrollbar",
            background=p.SELECTED,
            troughcolor=p.SURFACE,
            bordercolor=p.SURFACE,
            lightcolor=p.SELECTED,
            darkcolor=p.SELECTED,
            arrowcolor=p.MUTED,
            gripcount=0,
            relief="flat",
        )
        style.map(f"{orient}.TScrollbar", background=[("active", p.MUTED), ("pressed", p.MUTED)])
    style.configure("Chat.Vertical.TScrollbar", troughcolor=p.CHAT, bordercolor=p.CHAT)

    # The preferences dialog's choices, on the dialogs' surface.
    for name in ("TCheckbutton", "TRadiobutton"):
        style.configure(
            name,
            background=p.SURFACE,
            foreground=p.TEXT,
            indicatorbackground=p.INPUT,
            indicatorforeground=p.ACCENT_TEXT,
            upperbordercolor=p.BORDER,
            lowerbordercolor=p.BORDER,
            indicatorsize=15,
            indicatormargin=(0, 0, 8, 0),
            padding=(0, 4),
        )
        style.map(
            name,
            background=[("active", p.SURFACE)],
            indicatorbackground=[("selected", p.ACCENT), ("pressed", p.SELECTED)],
            upperbordercolor=[("focus", p.ACCENT)],
            lowerbordercolor=[("focus", p.ACCENT)],
        )
    # A chosen radio button is a dot in the accent colour: a filled disc with a
    # white centre reads as a ring, like a focus mark.
    style.configure("TRadiobutton", indicatorforeground=p.ACCENT)
    style.map(
        "TRadiobutton",
        indicatorbackground=[("pressed", p.SELECTED)],
        upperbordercolor=[("selected", p.ACCENT), ("focus", p.ACCENT)],
        lowerbordercolor=[("selected", p.ACCENT), ("focus", p.ACCENT)],
    )

    style.configure("TSeparator", background=p.BORDER)
    return style
