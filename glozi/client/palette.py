"""The client's colours and fonts: one dark palette for every window.

Plain constants and pure functions, no Tk, so the view-model can pick a
user's colour and tests can check it.
"""

import hashlib

from glozi.domain.names import name_key

WINDOW = "#1e1f22"
"""The darkest layer: window background, title bars, the member list."""
SURFACE = "#2b2d31"
"""Panels and the session list."""
CHAT = "#313338"
"""The message area."""
INPUT = "#383a40"
"""Entries and other fields the user types into."""
SELECTED = "#404249"
HOVER = "#35373c"
BORDER = "#3f4147"
TEXT = "#dbdee1"
TEXT_BRIGHT = "#f2f3f5"
MUTED = "#949ba4"
ACCENT = "#5865f2"
ACCENT_ACTIVE = "#4752c4"
ACCENT_TEXT = "#ffffff"
VALID = "#23a55a"
INVALID = "#f23f43"
"""Red for borders and marks; text uses the lighter ``ERROR_TEXT`` to stay readable."""
ERROR_TEXT = "#ff7b7e"
WARNING = "#f0b232"
ADMIN = "#f0b232"
SYSTEM = "#9ba7b4"
LINK = "#8ea1ff"
"""Links in messages: the accent, light enough to read on ``CHAT`` (and on ``MENTION_LINE``)."""
MENTION_LINE = "#393730"
"""The tint behind a message that names you."""
MENTION = "#3d4270"
"""Behind your name where a message names you."""

FONT_FAMILY = "DejaVu Sans"
FONT_SIZE = 11
FONT = (FONT_FAMILY, FONT_SIZE)
FONT_BOLD = (FONT_FAMILY, FONT_SIZE, "bold")
FONT_SMALL = (FONT_FAMILY, FONT_SIZE - 2)
FONT_TITLE = (FONT_FAMILY, FONT_SIZE + 4, "bold")
FONT_HEADING = (FONT_FAMILY, FONT_SIZE + 1, "bold")
FONT_ITALIC = (FONT_FAMILY, FONT_SIZE - 1, "italic")

USER_COLOURS = (
    "#5fb7ff",
    "#ff9f5a",
    "#7ee081",
    "#e879f9",
    "#ffd166",
    "#4dd4c6",
    "#ff7aa2",
    "#a78bfa",
    "#b5e255",
)
"""Name colours of clearly different hues, each with a contrast ratio of at least 4.5 on ``CHAT``."""


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
