"""Uploaded pictures checked, cleaned and made small, with Pillow (docs/files.md, *Images*).

Pure functions over paths: no reactor, no network. They are slow (decoding a
photo takes tens of milliseconds), so the server calls them in a thread
(``glozi/files/sharing.py``); they touch nothing but the files they are given.
"""

import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
"""The media types that make a file an image, and the Pillow format its bytes must be."""
FORMAT_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "GIF": "GIF", "WEBP": "WebP"}
MAX_IMAGE_PIXELS = 40_000_000
"""Width times height an image may declare (docs/files.md); checked before anything is decoded."""
THUMBNAIL_SIDE = 320
"""A thumbnail fits in a square this many pixels wide."""
JPEG_QUALITY = 90


class ImageRefused(Exception):
    """The upload is no image of its claimed type, or too large: ``code`` and a message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class CleanImage:
    """What was written: the served image's media type and size, and the thumbnail's size."""

    media_type: str
    width: int
    height: int
    thumbnail_width: int
    thumbnail_height: int


def is_image_type(media_type: str) -> bool:
    """Whether files of ``media_type`` (lower case) are decoded as images."""
    return media_type in IMAGE_FORMATS


def served_type(media_type: str) -> str:
    """The media type an image of ``media_type`` is served as: JPEG stays JPEG, the rest become PNG."""
    return "image/jpeg" if media_type == "image/jpeg" else "image/png"


def _too_large(max_pixels: int) -> ImageRefused:
    return ImageRefused("image_too_large", f"The image is larger than {max_pixels:,} pixels; this server takes no more.")


def _opened(source: str, media_type: str, max_pixels: int) -> Image.Image:
    expected = IMAGE_FORMATS[media_type]
    not_image = ImageRefused("not_an_image", f"The file is not a {FORMAT_NAMES[expected]} image.")
    with warnings.catch_warnings():
        # Our own limit is checked below, before decoding; Pillow's guard only warns under twice its own.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(source, formats=[expected])
        except Image.DecompressionBombError:
            raise _too_large(max_pixels) from None
        except (OSError, ValueError, SyntaxError):
            raise not_image from None
        width, height = image.size
        if width * height > max_pixels:
            image.close()
            raise _too_large(max_pixels)
        try:
            image.seek(0)
            image.load()
        except Image.DecompressionBombError:
            image.close()
            raise _too_large(max_pixels) from None
        except (OSError, ValueError, SyntaxError, EOFError):
            image.close()
            raise not_image from None
    return image


def _without_metadata(image: Image.Image, media_type: str) -> Image.Image:
    """The pixels only, upright: EXIF orientation applied, then every piece of metadata dropped."""
    upright = ImageOps.exif_transpose(image) or image.copy()
    if media_type == "image/jpeg":
        if upright.mode not in ("RGB", "L"):
            upright = upright.convert("RGB")
    elif upright.mode not in ("RGB", "RGBA", "L", "LA"):
        upright = upright.convert("RGBA")
    # A new image from the bytes alone: no EXIF (GPS), no ICC profile, no comments, nothing but pixels.
    return Image.frombytes(upright.mode, upright.size, upright.tobytes())


def _save(image: Image.Image, path: str, media_type: str) -> None:
    if media_type == "image/jpeg":
        image.save(path, "JPEG", quality=JPEG_QUALITY)
    else:
        image.save(path, "PNG")


def clean_image(
    source: str, media_type: str, image_path: str, thumbnail_path: str, max_pixels: int = MAX_IMAGE_PIXELS
) -> CleanImage:
    """Check the upload at ``source`` claimed as ``media_type`` (one of
    ``IMAGE_FORMATS``), write its upright, metadata-free re-encoding to
    ``image_path`` and its thumbnail to ``thumbnail_path``.

    Raises ``ImageRefused``: ``image_too_large`` when the header declares more
    than ``max_pixels`` (nothing is decoded then), ``not_an_image`` when the
    bytes are not a whole image of the claimed format."""
    with _opened(source, media_type, max_pixels) as image:
        clean = _without_metadata(image, media_type)
    kind = served_type(media_type)
    _save(clean, image_path, kind)
    thumbnail = clean.copy()
    thumbnail.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    _save(thumbnail, thumbnail_path, kind)
    return CleanImage(kind, clean.width, clean.height, thumbnail.width, thumbnail.height)
