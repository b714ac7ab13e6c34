"""Emoji, and every other character Tk 8.6 cannot draw, found in text and drawn with Pillow.

Tk 8.6 draws no colour glyphs and no character beyond the Basic Multilingual
Plane, so flags, skin tones and joined sequences come out as boxes or not at
all. ``pieces`` splits a text into plain runs, which Tk draws, and *drawn*
clusters (an emoji as people mean it, or a character beyond the BMP), which
``EmojiRenderer`` draws as RGBA images: colour emoji from Noto Color Emoji,
other characters from a font fontconfig says has them, and a visible box when
no font has them. No Tk here.
"""

import bisect
import math
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import regex
from PIL import Image, ImageDraw, ImageFont, features
from twisted.logger import Logger

EMOJI_FONT_FAMILY = "Noto Color Emoji"
BITMAP_EMOJI_PIXELS = 109
"""The one size at which Pillow loads Noto Color Emoji, a CBDT bitmap font; its images are scaled from there."""
CACHE_ENTRIES = 512
"""Images kept per renderer (cluster and height), least recently used dropped first."""
FONT_LOOKUPS = 512
"""Fontconfig answers kept (which font has these characters)."""
OVERSAMPLING = 4
"""A monochrome glyph is drawn this many times larger than asked, then scaled down, for smooth edges."""

_CLUSTER = regex.compile(r"\X")
_PRESENTATION = regex.compile(r"\p{Emoji_Presentation}")
_EMOJI = regex.compile(r"\p{Emoji}")
_PICTOGRAPHIC = regex.compile(r"\p{Extended_Pictographic}")
_KEYCAP_BASES = frozenset("0123456789#*")
_VS15, _VS16, _ZWJ, _KEYCAP = "\ufe0e", "\ufe0f", "\u200d", "\u20e3"
_LAST_BMP = 0xFFFF

_log = Logger()


@dataclass(frozen=True)
class Piece:
    """A run of ``text``; ``drawn`` when it is one cluster shown as an image instead of by Tk."""

    text: str
    drawn: bool


def is_emoji(cluster: str) -> bool:
    """Whether the grapheme cluster ``cluster`` is an emoji as people mean it.

    An emoji-presentation character (😀, 🎉, a regional-indicator flag 🇫🇷,
    with any skin tone, ZWJ or tag sequence after it), a character that has a
    text presentation by default (❤, ™, ©, a digit) followed by VS16, or a
    keycap (1️⃣, #⃣). VS15 asks for text presentation, so ``⌚︎`` is text; a
    bare ``1``, ``#``, ``™`` or ``©`` is text.
    """
    if _VS15 in cluster:
        return False
    first = cluster[0]
    if _PRESENTATION.match(first):
        return True
    if _KEYCAP in cluster and first in _KEYCAP_BASES:
        return True
    if _VS16 in cluster and _EMOJI.match(first):
        return True
    return _ZWJ in cluster and bool(_PICTOGRAPHIC.match(first))


def needs_drawing(cluster: str) -> bool:
    """Whether Tk cannot show ``cluster`` itself: an emoji, or a character beyond the BMP (𝄞)."""
    return is_emoji(cluster) or any(ord(character) > _LAST_BMP for character in cluster)


def pieces(text: str) -> list[Piece]:
    """``text`` as plain runs (merged) and drawn clusters, in order; joined, they give ``text`` back."""
    if text.isascii():
        # No ASCII character is drawn (a digit or # is an emoji only with VS16 or a keycap after it).
        return [Piece(text, drawn=False)] if text else []
    result: list[Piece] = []
    plain: list[str] = []
    for cluster in _CLUSTER.findall(text):
        if needs_drawing(cluster):
            if plain:
                result.append(Piece("".join(plain), drawn=False))
                plain = []
            result.append(Piece(cluster, drawn=True))
        else:
            plain.append(cluster)
    if plain:
        result.append(Piece("".join(plain), drawn=False))
    return result


def covered_codepoints(cluster: str) -> tuple[int, ...]:
    """The code points of ``cluster`` a font must have to draw it: not ZWJ, variation selectors or tags,
    which a font may leave out of its character map and still shape."""
    return tuple(
        sorted(
            {
                ord(c)
                for c in cluster
                if c != _ZWJ and not 0xFE00 <= ord(c) <= 0xFE0F and not 0xE0020 <= ord(c) <= 0xE007F
            }
        )
    )


class Charset:
    """The characters a font has, from fontconfig's ``%{charset}`` (``"20 2a 30-39 a9"``, hexadecimal)."""

    def __init__(self, charset: str) -> None:
        ranges = sorted(
            (int(low, 16), int(high or low, 16))
            for low, _, high in (item.partition("-") for item in charset.split())
        )
        self._lows = [low for low, _ in ranges]
        self._highs = [high for _, high in ranges]

    def covers(self, codepoints: Sequence[int]) -> bool:
        """Whether the font has every one of ``codepoints``."""
        for code in codepoints:
            place = bisect.bisect_right(self._lows, code) - 1
            if place < 0 or code > self._highs[place]:
                return False
        return True


@dataclass(frozen=True)
class FontFile:
    """One font fontconfig knows: its file, its family names and its characters."""

    path: str
    families: tuple[str, ...]
    charset: Charset


def _run_fontconfig(args: Sequence[str]) -> str:
    """Run a fontconfig tool; its output, or "" when fontconfig is missing or fails."""
    program = shutil.which(args[0])
    if program is None:
        return ""
    try:
        done = subprocess.run([program, *args[1:]], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout if done.returncode == 0 else ""


class Fontconfig:
    """Which font files have which characters, as fontconfig says (``fc-match``), in its order of preference
    after ``family``.

    Fontconfig is asked once, for every font with its characters, so finding a
    font for a character never starts a process. ``run`` runs a command line
    and returns its output ("" when it fails); tests pass a stand-in.
    """

    def __init__(self, run: Callable[[Sequence[str]], str] = _run_fontconfig, family: str = "sans-serif") -> None:
        self._run = run
        self._family = family
        self._fonts: list[FontFile] | None = None
        self._found = lru_cache(maxsize=FONT_LOOKUPS)(self._font_for)

    def fonts(self) -> list[FontFile]:
        """Every font, the ones fontconfig prefers for ``family`` first."""
        if self._fonts is None:
            listing = self._run(("fc-match", "--all", "--format", "%{family}\t%{file}\t%{charset}\n", self._family))
            self._fonts = []
            for line in listing.splitlines():
                families, _, rest = line.partition("\t")
                path, _, charset = rest.partition("\t")
                if path:
                    self._fonts.append(FontFile(path, tuple(families.split(",")), Charset(charset)))
        return self._fonts

    def emoji_font(self) -> FontFile | None:
        """Noto Color Emoji, or None when it is not installed."""
        return next((font for font in self.fonts() if EMOJI_FONT_FAMILY in font.families), None)

    def font_for(self, codepoints: tuple[int, ...]) -> str | None:
        """The file of the font fontconfig prefers among those with all of ``codepoints``, other than the
        colour emoji font (a bitmap font, drawn only as emoji); None when no font has them."""
        return self._found(codepoints)

    def _font_for(self, codepoints: tuple[int, ...]) -> str | None:
        for font in self.fonts():
            if EMOJI_FONT_FAMILY not in font.families and font.charset.covers(codepoints):
                return font.path
        return None


def _layout() -> ImageFont.Layout:
    # Raqm (HarfBuzz) shapes a flag, a skin tone or a ZWJ family into one glyph; the basic layout cannot.
    return ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC


class EmojiRenderer:
    """Draws drawn clusters (see ``pieces``) as RGBA images ``height`` pixels high, to sit in a text line.

    Emoji come in colour from Noto Color Emoji. Without it (said once in the
    log), and for characters it lacks (𝄞), they come from a font fontconfig says
    has every one of their characters, in ``colour``; when no font has them, a
    box outline in ``colour``, so something always shows. ``image`` keeps the
    last ``CACHE_ENTRIES`` images it drew.
    """

    def __init__(self, fonts: Fontconfig | None = None, colour: tuple[int, int, int] = (219, 222, 225)) -> None:
        self._fonts = fonts or Fontconfig()
        self._colour = colour
        self._emoji_font: ImageFont.FreeTypeFont | None = None
        self._emoji_charset = Charset("")
        found = self._fonts.emoji_font()
        if found is None:
            _log.warn(
                "No colour emoji font ({family}) found through fontconfig: emoji are drawn from other fonts "
                "in one colour, or as boxes (Debian: apt-get install fonts-noto-color-emoji)",
                family=EMOJI_FONT_FAMILY,
            )
        else:
            self._emoji_charset = found.charset
            self._emoji_font = ImageFont.truetype(found.path, BITMAP_EMOJI_PIXELS, layout_engine=_layout())
        self._fonts_by_path = lru_cache(maxsize=FONT_LOOKUPS)(self._load_font)
        self.image = lru_cache(maxsize=CACHE_ENTRIES)(self._draw)
        """``image(cluster, height)``: the RGBA image of ``cluster``, ``height`` pixels high (cached)."""

    @property
    def colour_emoji(self) -> bool:
        """Whether emoji are drawn in colour (a colour emoji font was found)."""
        return self._emoji_font is not None

    def _load_font(self, path: str, pixels: int) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(path, pixels, layout_engine=_layout())

    def _draw(self, cluster: str, height: int) -> Image.Image:
        codepoints = covered_codepoints(cluster)
        if self._emoji_font is not None and is_emoji(cluster) and self._emoji_charset.covers(codepoints):
            return _scaled(_drawn_glyphs(self._emoji_font, cluster, None), height)
        path = self._fonts.font_for(codepoints) if codepoints else None
        if path is None:
            return self._box(height)
        try:
            font = self._fonts_by_path(path, height * OVERSAMPLING)
        except OSError:
            # A font FreeType cannot load at that size (another bitmap font) draws nothing: the box shows.
            return self._box(height)
        return _scaled(_drawn_glyphs(font, cluster, self._colour), height)

    def _box(self, height: int) -> Image.Image:
        """The box shown for characters no font has: an outline, the width of a wide letter."""
        width = max(3, round(height * 0.6))
        image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        line = max(1, height // 14)
        top = round(height * 0.2)
        ImageDraw.Draw(image).rectangle(
            (line, top, width - 1 - line, height - 1 - top), outline=(*self._colour, 255), width=line
        )
        return image


def _drawn_glyphs(font: ImageFont.FreeTypeFont, cluster: str, colour: tuple[int, int, int] | None) -> Image.Image:
    """``cluster`` drawn at ``font``'s size on a transparent canvas one line box high (ascent to descent),
    wide enough for both its advance and its ink; ``colour`` None draws the font's own colours."""
    ascent, descent = font.getmetrics()
    left, _, right, _ = font.getbbox(cluster)
    # Some glyphs (Symbola's 𝄞) have no advance and draw left of their origin.
    start = min(0, left)
    width = max(1, math.ceil(max(font.getlength(cluster), right) - start))
    image = Image.new("RGBA", (width, ascent + descent), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if colour is None:
        draw.text((-start, 0), cluster, font=font, embedded_color=True)
    else:
        draw.text((-start, 0), cluster, font=font, fill=(*colour, 255))
    return image


def _scaled(image: Image.Image, height: int) -> Image.Image:
    width = max(1, round(image.width * height / image.height))
    return image.resize((width, height), Image.Resampling.LANCZOS)
