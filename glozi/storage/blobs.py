"""The files directory: shared files kept once each, named by their SHA-256 (docs/files.md).

``HASH`` is a plain file's bytes; ``HASH.image`` and ``HASH.thumbnail`` an
image's cleaned copy and thumbnail. Uploads arrive in ``.upload-*``
temporary files in the same directory and are renamed into place once
checked and synced, so a name never holds half a file. No name ever comes
from a client. The blocking parts (``keep``) run in a thread.
"""

import hashlib
import os
import tempfile
from collections.abc import Callable
from typing import IO

Cleaner = Callable[[str, str, str], tuple[int, int, int, int]]
"""Reads an upload (its path) and writes its clean copy and thumbnail (two
paths); returns their sizes. Raises to refuse it (glozi/files/images.py)."""

TEMPORARY_PREFIX = ".upload-"
IMAGE_SUFFIX = ".image"
THUMBNAIL_SUFFIX = ".thumbnail"


class Upload:
    """One upload being written: a temporary file, its running SHA-256 and size."""

    def __init__(self, directory: str) -> None:
        self._file: IO[bytes] = tempfile.NamedTemporaryFile(dir=directory, prefix=TEMPORARY_PREFIX, delete=False)  # noqa: SIM115 (closed by close or discard)
        self.path = self._file.name
        self._sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._sha256.update(data)
        self.size += len(data)

    def seek(self, offset: int, whence: int = 0) -> None:
        """Twisted rewinds a request's body before rendering; the upload is only ever written."""

    def read(self, size: int = -1) -> bytes:
        return b""

    def tell(self) -> int:
        return self.size

    @property
    def hash(self) -> str:
        return self._sha256.hexdigest()

    def close(self) -> None:
        self._file.close()

    def discard(self) -> None:
        """A cancelled or refused upload: its bytes go."""
        self._file.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


class Blobs:
    """The files directory (created mode 0700)."""

    def __init__(self, directory: str) -> None:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self.directory = directory

    def new_upload(self) -> Upload:
        return Upload(self.directory)

    def file_path(self, file_hash: str) -> str:
        return os.path.join(self.directory, file_hash)

    def image_path(self, file_hash: str) -> str:
        return os.path.join(self.directory, file_hash + IMAGE_SUFFIX)

    def thumbnail_path(self, file_hash: str) -> str:
        return os.path.join(self.directory, file_hash + THUMBNAIL_SUFFIX)

    def keep(self, upload: Upload, clean: Cleaner | None) -> tuple[int, int, int, int] | None:
        r"""Sync and rename the finished ``upload`` into place (blocking: call
        it in a thread). An image is ``clean``\ ed first (which may raise to
        refuse it) and only its clean copy and thumbnail are kept; returns
        their sizes (width, height, thumbnail width, thumbnail height), ``None``
        for a plain file (no ``clean``)."""
        upload.close()
        file_hash = upload.hash
        try:
            if clean is None:
                _sync(upload.path)
                os.replace(upload.path, self.file_path(file_hash))
                return None
            temporary_image = upload.path + IMAGE_SUFFIX
            temporary_thumbnail = upload.path + THUMBNAIL_SUFFIX
            try:
                sizes = clean(upload.path, temporary_image, temporary_thumbnail)
                for temporary, final in (
                    (temporary_image, self.image_path(file_hash)),
                    (temporary_thumbnail, self.thumbnail_path(file_hash)),
                ):
                    _sync(temporary)
                    os.replace(temporary, final)
            finally:
                for temporary in (temporary_image, temporary_thumbnail):
                    if os.path.exists(temporary):
                        os.unlink(temporary)
            return sizes
        finally:
            if os.path.exists(upload.path):
                os.unlink(upload.path)
            _sync_directory(self.directory)

    def sweep(self, keep: set[str], *, temporary_too: bool = False) -> list[str]:
        """Delete every kept file whose hash is not in ``keep`` (and, at start,
        ``temporary_too``, any leftover upload); returns the names deleted."""
        deleted = []
        for name in os.listdir(self.directory):
            if name.startswith(TEMPORARY_PREFIX):
                if not temporary_too:
                    continue
            elif name.split(".", 1)[0] in keep:
                continue
            try:
                os.unlink(os.path.join(self.directory, name))
            except FileNotFoundError:
                continue
            deleted.append(name)
        return deleted


def _sync(path: str) -> None:
    with open(path, "rb") as written:
        os.fsync(written.fileno())


def _sync_directory(directory: str) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
