"""The client's colours and fonts: a dark and a light palette with the same names.

Plain constants and pure functions, no Tk, so the view-model can pick a
user's colour and tests can check it. The module's constants are the palette
in use (dark until ``use`` picks another); widgets read them when they are
built, so ``use`` comes before the window.
"""

import hashlib

from glozi.domain.names import name_key

DARK = {
    "WINDOW": "#1e1f22",
    "SURFACE": "#2b2d31",
    "CHAT": "#313338",
    "INPUT": "#383a40",
    "SELECTED": "#404249",
    "HOVER": "#35373c",
    "BORDER": "#3f4147",
    "TEXT": "#dbdee1",
    "TEXT_BRIGHT": "#f2f3f5",
    "MUTED": "#949ba4",
    "ACCENT": "#5865f2",
    "ACCENT_ACTIVE": "#4752c4",
    "ACCENT_TEXT": "#ffffff",
    "VALID": "#23a55a",
    "INVALID": "#f23f43",
    "ERROR_TEXT": "#ff7b7e",
    "WARNING": "#f0b232",
    "ADMIN": "#f0b232",
    "SYSTEM": "#9ba7b4",
    "LINK": "#8ea1ff",
    "MENTION_LINE": "#37352f",
    "MENTION": "#3d4270",
    "USER_COLOURS": (
        "#5fb7ff",
        "#ff9f5a",
        "#7ee081",
        "#e879f9",
        "#ffd166",
        "#4dd4c6",
        "#ff7aa2",
        "#a78bfa",
        "#b5e255",
    ),
}
LIGHT = {
    "WINDOW": "#eceef1",
    "SURFACE": "#f6f7f8",
    "CHAT": "#ffffff",
    "INPUT": "#e6e8eb",
    "SELECTED": "#d5d8dd",
    "HOVER": "#eef0f2",
    "BORDER": "#c9cdd2",
    "TEXT": "#2e3338",
    "TEXT_BRIGHT": "#060607",
    "MUTED": "#5c636e",
    "ACCENT": "#4e5bd9",
    "ACCENT_ACTIVE": "#3c47b5",
    "ACCENT_TEXT": "#ffffff",
    "VALID": "#1a7f44",
    "INVALID": "#d92c2f",
    "ERROR_TEXT": "#c4262a",
    "WARNING": "#8a5300",
    "ADMIN": "#8a5300",
    "SYSTEM": "#56606b",
    "LINK": "#4e5bd9",
    "MENTION_LINE": "#fbf4e2",
    "MENTION": "#dbe0ff",
    # The dark theme's hues, darkened until each reads on the chat (white) and
    # on the member list (WINDOW) with a contrast of at least 4.5.
    "USER_COLOURS": (
        "#1a63ab",
        "#b83c0a",
        "#27702b",
        "#a21caf",
        "#7d5800",
        "#0d6b64",
        "#be185d",
        "#6d28d9",
        "#44700d",
    ),
}
PALETTES = {"dark": DARK, "light": LIGHT}

WINDOW = DARK["WINDOW"]
"""The darkest layer (the dimmest in light): window background, title bars, the member list."""
SURFACE = DARK["SURFACE"]
"""Panels and the session list."""
CHAT = DARK["CHAT"]
"""The message area."""
INPUT = DARK["INPUT"]
"""Entries and other fields the user types into."""
SELECTED = DARK["SELECTED"]
HOVER = DARK["HOVER"]
BORDER = DARK["BORDER"]
TEXT = DARK["TEXT"]
TEXT_BRIGHT = DARK["TEXT_BRIGHT"]
MUTED = DARK["MUTED"]
ACCENT = DARK["ACCENT"]
ACCENT_ACTIVE = DARK["ACCENT_ACTIVE"]
ACCENT_TEXT = DARK["ACCENT_TEXT"]
VALID = DARK["VALID"]
INVALID = DARK["INVALID"]
"""Red for borders and marks; text uses ``ERROR_TEXT``, which stays readable on the chat."""
ERROR_TEXT = DARK["ERROR_TEXT"]
WARNING = DARK["WARNING"]
ADMIN = DARK["ADMIN"]
SYSTEM = DARK["SYSTEM"]
LINK = DARK["LINK"]
"""Links in messages: the accent, light enough (in dark) to read on ``CHAT`` and on ``MENTION_LINE``."""
MENTION_LINE = DARK["MENTION_LINE"]
"""The tint behind a message that names you."""
MENTION = DARK["MENTION"]
"""Behind your name where a message names you."""
USER_COLOURS: tuple[str, ...] = DARK["USER_COLOURS"]  # type: ignore[assignment]
"""Name colours of clearly different hues, each with a contrast ratio of at least 4.5 on ``CHAT``."""
theme = "dark"
"""The name of the palette in use."""


def use(name: str) -> None:
    """Make ``name`` (``"dark"`` or ``"light"``) the palette in use; call it before building widgets."""
    globals().update(PALETTES[name], theme=name)


FONT_FAMILY = "DejaVu Sans"
FONT_SIZE = 11
FONT = (FONT_FAMILY, FONT_SIZE)
FONT_BOLD = (FONT_FAMILY, FONT_SIZE, "bold")
FONT_SMALL = (FONT_FAMILY, FONT_SIZE - 2)
FONT_TITLE = (FONT_FAMILY, FONT_SIZE + 4, "bold")
FONT_HEADING = (FONT_FAMILY, FONT_SIZE + 1, "bold")
FONT_ITALIC = (FONT_FAMILY, FONT_SIZE - 1, "italic")

def user_colour(name: str) -> str:
    """The stable colour of the user ``name`` (the same for any case of it).

    A cryptographic digest rather than ``hash()``, whose value changes between
    runs, so a user keeps their colour across restarts and on every client.
    """
    digest = hashlib.sha256(name_key(name).encode("utf-8")).digest()
    return USER_COLOURS[int.from_bytes(digest[:4], "big") % len(USER_COLOURS)]


def relative_luminance(colour: str) -> float:
    """WCAG relative luminance of a ``#rrggbb`` colour."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG contrast ratio between two ``#rrggbb`` colours (1 to 21)."""
    lighter, darker = sorted((relative_luminance(foreground), relative_luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)
