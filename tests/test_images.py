"""Uploaded pictures: checked against their claimed type, bombs refused, metadata stripped, thumbnails made."""

import io
import os
import struct
import zlib

from PIL import Image
from twisted.trial.unittest import TestCase

from glozi.files.images import ImageRefused, clean_image

GPS_LATITUDE = 2


def jpeg_with_gps(width: int = 640, height: int = 480, orientation: int = 1) -> bytes:
    """A JPEG photo carrying a GPS position (and an orientation) in its EXIF."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x8825] = {1: "N", GPS_LATITUDE: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb made small)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


class CleanImageTests(TestCase):
    def setUp(self) -> None:
        self.directory = self.mktemp()
        os.makedirs(self.directory)

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def clean(self, data: bytes, media_type: str):  # type: ignore[no-untyped-def]
        with open(self.path("upload"), "wb") as upload:
            upload.write(data)
        return clean_image(self.path("upload"), media_type, self.path("image"), self.path("thumbnail"))

    def refused(self, data: bytes, media_type: str) -> ImageRefused:
        with self.assertRaises(ImageRefused) as caught:
            self.clean(data, media_type)
        return caught.exception

    def test_gps_position_is_not_in_the_served_image(self) -> None:
        """A photo's EXIF, GPS position included, is gone from the served image and its thumbnail."""
        with Image.open(io.BytesIO(jpeg_with_gps())) as original:
            self.assertIn(0x8825, original.getexif())
        result = self.clean(jpeg_with_gps(), "image/jpeg")
        for name in ("image", "thumbnail"):
            with Image.open(self.path(name)) as served:
                self.assertEqual(served.format, "JPEG")
                self.assertEqual(dict(served.getexif()), {})
                self.assertNotIn("exif", served.info)
        self.assertEqual((result.media_type, result.width, result.height), ("image/jpeg", 640, 480))

    def test_thumbnail_fits_in_320_pixels_keeping_proportions(self) -> None:
        """A 640 x 480 photo gets a 320 x 240 thumbnail."""
        result = self.clean(jpeg_with_gps(), "image/jpeg")
        self.assertEqual((result.thumbnail_width, result.thumbnail_height), (320, 240))
        with Image.open(self.path("thumbnail")) as thumbnail:
            self.assertEqual(thumbnail.size, (320, 240))

    def test_orientation_is_applied_before_stripping(self) -> None:
        """A photo taken sideways (EXIF orientation 6) is served upright: 480 x 640."""
        result = self.clean(jpeg_with_gps(orientation=6), "image/jpeg")
        self.assertEqual((result.width, result.height), (480, 640))
        self.assertEqual((result.thumbnail_width, result.thumbnail_height), (240, 320))

    def test_a_small_image_keeps_its_size_as_thumbnail(self) -> None:
        """A thumbnail is never larger than its image."""
        out = io.BytesIO()
        Image.new("RGBA", (40, 30)).save(out, "PNG")
        result = self.clean(out.getvalue(), "image/png")
        self.assertEqual((result.media_type, result.thumbnail_width, result.thumbnail_height), ("image/png", 40, 30))

    def test_gif_and_webp_are_served_as_png(self) -> None:
        """Every image type but JPEG is re-encoded as PNG."""
        for media_type, pillow_format in (("image/gif", "GIF"), ("image/webp", "WEBP")):
            out = io.BytesIO()
            Image.new("RGB", (10, 10), (0, 0, 255)).save(out, pillow_format)
            self.assertEqual(self.clean(out.getvalue(), media_type).media_type, "image/png")
            with Image.open(self.path("image")) as served:
                self.assertEqual(served.format, "PNG")

    def test_a_fake_png_is_refused(self) -> None:
        """Text claiming to be a PNG: not_an_image, "The file is not a PNG image." """
        refusal = self.refused(b"this is not a picture at all", "image/png")
        self.assertEqual((refusal.code, refusal.message), ("not_an_image", "The file is not a PNG image."))

    def test_a_jpeg_claimed_as_png_is_refused(self) -> None:
        """The content must be of the claimed type: a JPEG sent as image/png is refused."""
        self.assertEqual(self.refused(jpeg_with_gps(), "image/png").code, "not_an_image")

    def test_a_truncated_image_is_refused(self) -> None:
        """Half a JPEG is not an image."""
        data = jpeg_with_gps()
        self.assertEqual(self.refused(data[: len(data) // 2], "image/jpeg").code, "not_an_image")

    def test_a_decompression_bomb_is_refused_before_decoding(self) -> None:
        """A small PNG claiming 100,000 x 100,000 pixels: image_too_large."""
        refusal = self.refused(png_header_claiming(100_000, 100_000), "image/png")
        self.assertEqual(refusal.code, "image_too_large")
        self.assertEqual(refusal.message, "The image is larger than 40,000,000 pixels; this server takes no more.")

    def test_pixel_limit_is_40_million(self) -> None:
        """40,000,000 pixels pass the size check (this one then fails to decode); 40,000,001 are too large."""
        self.assertEqual(self.refused(png_header_claiming(8000, 5000), "image/png").code, "not_an_image")
        self.assertEqual(self.refused(png_header_claiming(40_000_001, 1), "image/png").code, "image_too_large")
