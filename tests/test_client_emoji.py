"""Finding emoji in text and drawing them with Pillow (glozi/client/emoji.py), no display needed.

The drawing tests use the fonts installed here through fontconfig, as the
client does: Noto Color Emoji (Debian ``fonts-noto-color-emoji``) and Symbola
(``fonts-symbola``, which has 𝄞 U+1D11E).
"""

from collections.abc import Sequence

from PIL import Image, ImageChops, features
from twisted.trial.unittest import TestCase

from glozi.client.emoji import (
    CACHE_ENTRIES,
    Charset,
    EmojiRenderer,
    Fontconfig,
    Piece,
    covered_codepoints,
    is_emoji,
    pieces,
)
from glozi.client.emojitk import utf16_slice

FAMILY = "👨\u200d👩\u200d👧\u200d👦"
SCOTLAND = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
G_CLEF = "\U0001d11e"
WHITE = (255, 255, 255)


def drawn(text: str) -> list[str]:
    """The clusters of ``text`` shown as images."""
    return [piece.text for piece in pieces(text) if piece.drawn]


class FindingEmojiTests(TestCase):
    def test_single_emoji_are_drawn(self) -> None:
        """😀 🎉 👍 are each one drawn cluster."""
        for emoji in ("😀", "🎉", "👍"):
            self.assertEqual(pieces(emoji), [Piece(emoji, drawn=True)], emoji)

    def test_vs16_turns_a_text_character_into_an_emoji(self) -> None:
        """❤ alone is text, ❤️ (with VS16) an emoji; the same for ™ and ©, which are text by default."""
        for character in ("\u2764", "\u2122", "\u00a9"):
            self.assertEqual(pieces(character), [Piece(character, drawn=False)], character)
            self.assertEqual(drawn(character + "\ufe0f"), [character + "\ufe0f"], character)

    def test_vs15_asks_for_text(self) -> None:
        """⌚ is an emoji by default; ⌚︎ (VS15) is text."""
        self.assertEqual(drawn("\u231a"), ["\u231a"])
        self.assertEqual(drawn("\u231a\ufe0e"), [])

    def test_keycaps_are_one_emoji_and_bare_digits_are_text(self) -> None:
        """1️⃣ and #️⃣ are one emoji each; a bare 1, # or * is text, also inside a number."""
        self.assertEqual(drawn("1\ufe0f\u20e3 #\ufe0f\u20e3"), ["1\ufe0f\u20e3", "#\ufe0f\u20e3"])
        self.assertEqual(drawn("1\u20e3"), ["1\u20e3"], "a keycap without VS16 is still a keycap")
        self.assertEqual(pieces("call 112 # or *"), [Piece("call 112 # or *", drawn=False)])

    def test_a_pair_of_regional_indicators_is_one_flag(self) -> None:
        """🇫🇷🇩🇪 is two flags, not four letters."""
        self.assertEqual(drawn("🇫🇷🇩🇪"), ["🇫🇷", "🇩🇪"])

    def test_skin_tone_stays_with_its_emoji(self) -> None:
        """👍🏽 is one emoji."""
        self.assertEqual(drawn("👍🏽👍"), ["👍🏽", "👍"])

    def test_zwj_sequence_is_one_emoji(self) -> None:
        """The family 👨‍👩‍👧‍👦 (four people joined by ZWJ) is one emoji."""
        self.assertEqual(drawn(f"a {FAMILY} b"), [FAMILY])

    def test_tag_sequence_is_one_emoji(self) -> None:
        """The flag of Scotland (🏴 and tag characters) is one emoji."""
        self.assertEqual(drawn(SCOTLAND + "!"), [SCOTLAND])

    def test_characters_beyond_the_bmp_are_drawn_too(self) -> None:
        """𝄞 (U+1D11E) is no emoji, but Tk cannot draw it: it is drawn as well."""
        self.assertFalse(is_emoji(G_CLEF))
        self.assertEqual(drawn(f"la {G_CLEF} la"), [G_CLEF])

    def test_plain_text_is_one_piece(self) -> None:
        """Plain text, accents and BMP symbols Tk draws (★ ◌ ✕ é) stay one plain piece; empty text is none."""
        self.assertEqual(pieces("héllo ★ ◌ ✕ wörld"), [Piece("héllo ★ ◌ ✕ wörld", drawn=False)])
        self.assertEqual(pieces(""), [])

    def test_mixed_text_keeps_every_character_in_order(self) -> None:
        """Joined again, the pieces of mixed text are the text; plain runs between emoji are kept whole."""
        text = f"hi 😀🎉 ok 🇫🇷 👍🏽 {G_CLEF} {FAMILY} ™ ❤️ 1️⃣ end"
        parts = pieces(text)
        self.assertEqual("".join(piece.text for piece in parts), text)
        self.assertEqual(
            drawn(text), ["😀", "🎉", "🇫🇷", "👍🏽", G_CLEF, FAMILY, "❤\ufe0f", "1\ufe0f\u20e3"]
        )
        self.assertEqual(parts[0], Piece("hi ", drawn=False))
        self.assertEqual(parts[3], Piece(" ok ", drawn=False))
        self.assertEqual(parts[-1], Piece(" end", drawn=False))


LISTING = (
    "DejaVu Sans\t/f/DejaVuSans.ttf\t20-7e a0-17f 1f600-1f64f\n"
    "Noto Color Emoji\t/f/emoji dir/NotoColorEmoji.ttf\t20 23 2a 30-39 a9 1f300-1f64f 1f680-1f6ff\n"
    "Symbola\t/f/Symbola.ttf\t20-7e 1d100-1d1ff 1f300-1f6ff\n"
)
"""What ``fc-match --all`` answers: family, file and characters of each font, preferred first."""


class FontconfigTests(TestCase):
    def test_charset(self) -> None:
        """Fontconfig's charset text says which code points a font has, single ones and ranges."""
        charset = Charset("20 2a 30-39 a9 1f600-1f64f")
        for code in (0x20, 0x2A, 0x30, 0x35, 0x39, 0xA9, 0x1F600, 0x1F64F):
            self.assertTrue(charset.covers((code,)), hex(code))
        for code in (0x1F, 0x21, 0x2B, 0x3A, 0xAA, 0x1F650, 0x1D11E):
            self.assertFalse(charset.covers((code,)), hex(code))
        self.assertTrue(charset.covers(covered_codepoints("😀")))
        self.assertFalse(charset.covers((0x30, 0x1D11E)), "all of them, not one")
        self.assertFalse(Charset("").covers((0x20,)))

    def test_joiners_and_selectors_need_no_glyph(self) -> None:
        """ZWJ, VS16 and tag characters are not asked of a font; the emoji around them are."""
        self.assertEqual(covered_codepoints("❤\ufe0f"), (0x2764,))
        self.assertEqual(covered_codepoints(FAMILY), (0x1F466, 0x1F467, 0x1F468, 0x1F469))
        self.assertEqual(covered_codepoints(SCOTLAND), (0x1F3F4,))

    def test_fontconfig_is_asked_once_for_every_font(self) -> None:
        """One ``fc-match --all`` run lists every font with its characters; later look-ups ask nothing."""
        calls: list[tuple[str, ...]] = []

        def run(args: Sequence[str]) -> str:
            calls.append(tuple(args))
            return LISTING

        fonts = Fontconfig(run)
        fonts.font_for((0x1D11E,))
        fonts.font_for((0x41,))
        fonts.emoji_font()
        self.assertEqual(calls, [("fc-match", "--all", "--format", "%{family}\t%{file}\t%{charset}\n", "sans-serif")])

    def test_the_colour_font_is_found_by_family(self) -> None:
        """Noto Color Emoji is found by its family name, never by a fixed path; without it, None."""
        emoji = Fontconfig(lambda args: LISTING).emoji_font()
        self.assertIsNotNone(emoji)
        self.assertEqual(emoji.path, "/f/emoji dir/NotoColorEmoji.ttf")
        self.assertTrue(emoji.charset.covers((0x1F680,)))
        without = "".join(line + "\n" for line in LISTING.splitlines() if "Noto" not in line)
        self.assertIsNone(Fontconfig(lambda args: without).emoji_font())

    def test_a_font_for_characters_is_the_first_that_has_them_all(self) -> None:
        """The preferred font with every one of the characters, never the colour emoji font; none: None."""
        fonts = Fontconfig(lambda args: LISTING)
        self.assertEqual(fonts.font_for((0x1F600,)), "/f/DejaVuSans.ttf")
        self.assertEqual(fonts.font_for((0x1D11E,)), "/f/Symbola.ttf")
        self.assertEqual(fonts.font_for((0x1F680,)), "/f/Symbola.ttf", "not the colour emoji font")
        self.assertEqual(fonts.font_for((0x41, 0x1D11E)), "/f/Symbola.ttf")
        self.assertIsNone(fonts.font_for((0x10FFFD,)))

    def test_without_fontconfig_nothing_is_found(self) -> None:
        """No fontconfig tools (every run answers ""): no emoji font, no font for anything."""
        fonts = Fontconfig(lambda args: "")
        self.assertIsNone(fonts.emoji_font())
        self.assertIsNone(fonts.font_for((0x1F600,)))


def pixels(image: Image.Image) -> list[tuple[int, int, int, int]]:
    """The RGBA pixels of ``image``, row by row."""
    access = image.load()
    return [access[x, y] for y in range(image.height) for x in range(image.width)]


def colourful(image: Image.Image) -> bool:
    """Whether ``image`` has clearly coloured (not grey) visible pixels."""
    return any(a > 128 and max(r, g, b) - min(r, g, b) > 40 for r, g, b, a in pixels(image))


def ink(image: Image.Image) -> int:
    """How many pixels of ``image`` are visible."""
    return sum(1 for *_, alpha in pixels(image) if alpha > 128)


class NoFonts(Fontconfig):
    """A fontconfig that finds no font at all."""

    def __init__(self) -> None:
        super().__init__(lambda args: "")


class MonochromeOnly(Fontconfig):
    """The real fontconfig, except that no colour emoji font is installed."""

    def emoji_font(self) -> None:
        return None


class DrawingTests(TestCase):
    def test_raqm_is_there(self) -> None:
        """Pillow has raqm here, which shapes flags, skin tones and ZWJ sequences into one glyph."""
        self.assertTrue(features.check("raqm"))

    def test_emoji_are_drawn_in_colour_at_the_height_asked(self) -> None:
        """Each kind of emoji comes out in colour, as high as asked, about one emoji wide (one glyph):
        the flag, the skin tone, the family and Scotland's flag are shaped into one glyph each."""
        renderer = EmojiRenderer()
        self.assertTrue(renderer.colour_emoji, "Noto Color Emoji is installed (fonts-noto-color-emoji)")
        single = renderer.image("😀", 19)
        self.assertEqual(single.mode, "RGBA")
        self.assertEqual(single.height, 19)
        for emoji in ("😀", "🎉", "🇫🇷", "👍🏽", FAMILY, SCOTLAND, "❤\ufe0f", "1\ufe0f\u20e3"):
            image = renderer.image(emoji, 19)
            self.assertEqual(image.size, single.size, f"{emoji!r} is one glyph")
            # Noto draws the family in greys: it is checked for ink only.
            self.assertTrue(colourful(image) or (emoji == FAMILY and ink(image) > 100), f"{emoji!r} is in colour")

    def test_skin_tone_changes_the_picture(self) -> None:
        """👍🏽 is not 👍 with a square after it: the same size, other pixels."""
        renderer = EmojiRenderer()
        plain, toned = renderer.image("👍", 38), renderer.image("👍🏽", 38)
        self.assertEqual(plain.size, toned.size)
        self.assertIsNotNone(ImageChops.difference(plain, toned).getbbox())

    def test_a_character_no_colour_font_has_comes_from_a_font_that_has_it(self) -> None:
        """𝄞 is drawn in the text colour from a font fontconfig finds for it (Symbola here), not as a box."""
        renderer = EmojiRenderer(colour=WHITE)
        clef = renderer.image(G_CLEF, 38)
        self.assertEqual(clef.height, 38)
        self.assertGreater(ink(clef), 40)
        self.assertNotEqual(clef.tobytes(), renderer._box(38).tobytes(), "the clef itself, not the box")
        colours = {pixel[:3] for pixel in pixels(clef) if pixel[3] > 200}
        self.assertEqual(colours, {WHITE})

    def test_without_the_colour_font_emoji_are_drawn_from_another_font(self) -> None:
        """No Noto Color Emoji (logged): 😀 comes from a monochrome font that has it, in the text colour."""
        logged: list[dict] = []
        from twisted.logger import globalLogPublisher

        globalLogPublisher.addObserver(logged.append)
        self.addCleanup(globalLogPublisher.removeObserver, logged.append)
        renderer = EmojiRenderer(MonochromeOnly(), colour=WHITE)
        self.assertFalse(renderer.colour_emoji)
        self.assertTrue(any("No colour emoji font" in str(event.get("log_format")) for event in logged))
        smile = renderer.image("😀", 38)
        self.assertGreater(ink(smile), 40)
        self.assertFalse(colourful(smile))

    def test_with_no_font_at_all_a_box_shows(self) -> None:
        """A character no font has is a visible box, never nothing."""
        renderer = EmojiRenderer(NoFonts(), colour=WHITE)
        box = renderer.image("😀", 19)
        self.assertEqual(box.height, 19)
        self.assertGreater(ink(box), 10)
        self.assertEqual(renderer.image("\U0010fffd", 19).tobytes(), box.tobytes())

    def test_a_font_that_cannot_be_loaded_at_the_size_gives_the_box(self) -> None:
        """A font fontconfig names that FreeType cannot load at the size needed (a bitmap font: here Noto
        Color Emoji, for 🏳 without VS16, which is text) shows the box instead of failing."""
        emoji_font = Fontconfig().emoji_font()
        assert emoji_font is not None

        class BitmapOnly(NoFonts):
            def font_for(self, codepoints: tuple[int, ...]) -> str:
                return emoji_font.path

        renderer = EmojiRenderer(BitmapOnly(), colour=WHITE)
        self.assertEqual(renderer.image("\U0001f3f3", 19).tobytes(), renderer._box(19).tobytes())

    def test_the_image_cache_is_bounded(self) -> None:
        """The renderer keeps 512 images at most, however many different clusters it is asked for."""
        self.assertEqual(CACHE_ENTRIES, 512)
        renderer = EmojiRenderer(NoFonts())
        for height in range(1, 601):
            renderer.image("😀", height)
        self.assertEqual(renderer.image.cache_info().currsize, 512)
        first = renderer.image("😀", 600)
        self.assertIs(renderer.image("😀", 600), first, "a recent image is kept")


class SelectionChunkTests(TestCase):
    def test_a_selection_handed_out_in_chunks_comes_back_whole(self) -> None:
        """Tk asks for a long selection in chunks counted as Tcl 8.6 counts (two for a character beyond the
        BMP); the chunks never split one and, joined, are the text."""
        text = ("ab😀" + FAMILY + "🇫🇷c") * 50
        for length in (2, 3, 7, 4000):
            chunks, offset = [], 0
            while True:
                chunk = utf16_slice(text, offset, length)
                if not chunk:
                    break
                chunks.append(chunk)
                offset += len(chunk.encode("utf-16-le")) // 2
            self.assertEqual("".join(chunks), text, length)
        self.assertEqual(utf16_slice("a😀b", 1, 1), "", "half of 😀 is not handed out")
        self.assertEqual(utf16_slice("a😀b", 1, 2), "😀")
        self.assertEqual(utf16_slice("a😀b", 3, 5), "b")
