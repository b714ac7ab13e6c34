"""The web door's file transfers: ``PUT /upload``, ``GET /files/HASH/NAME``, ``GET /thumbnails/HASH``.

docs/files.md is the contract. An upload is refused on its headers, before
any of its body is read; otherwise its body goes to a temporary file as it
arrives (``Upload``), then the file is checked and kept off the reactor
(images take a while to decode) and announced by the domain's rules
(glozi/domain/files.py). Downloads stream from the disk with ``FileSender``.
"""

import json
import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any
from urllib.parse import quote, unquote

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.logger import Logger
from twisted.protocols.basic import FileSender
from twisted.python.failure import Failure
from twisted.web import http, server

from glozi.domain.errors import ChatError, TransferError
from glozi.domain.files import FileSharing, UploadGrant
from glozi.files.images import ImageRefused, clean_image, is_image_type, served_type
from glozi.storage.blobs import Blobs, Upload
from glozi.storage.store import SharedFile

_HASH = re.compile(r"^[0-9a-f]{64}$")
_BEARER = re.compile(rb"^bearer +([A-Za-z0-9_-]{1,100})$", re.IGNORECASE)

_STATUS_OF = {
    "bad_token": http.UNAUTHORIZED,
    "length_required": http.LENGTH_REQUIRED,
    "file_too_large": http.REQUEST_ENTITY_TOO_LARGE,
    "size_mismatch": http.CONFLICT,
    "incomplete": http.BAD_REQUEST,
    "not_an_image": 422,
    "image_too_large": 422,
    "not_in_session": http.FORBIDDEN,
    "no_such_user": http.NOT_FOUND,
    "not_stored": http.SERVICE_UNAVAILABLE,
    "not_allowed": http.FORBIDDEN,
    "no_such_file": http.NOT_FOUND,
    "bad_method": http.NOT_ALLOWED,
}
"""Each refusal's HTTP status (docs/files.md)."""


def _clean(media_type: str, source: str, image_path: str, thumbnail_path: str) -> tuple[int, int, int, int]:
    clean = clean_image(source, media_type, image_path, thumbnail_path)
    return clean.width, clean.height, clean.thumbnail_width, clean.thumbnail_height


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"code": code, "message": message}).encode("utf-8")


def status_of(code: str) -> int:
    return _STATUS_OF.get(code, http.BAD_REQUEST)


def bearer_token(request: server.Request) -> str | None:
    """The token of the request's ``Authorization: Bearer``, else ``None``."""
    value = request.getHeader(b"authorization")
    match = _BEARER.match(value.strip()) if value else None
    return match.group(1).decode("ascii") if match else None


class FileService:
    """The domain's file rules, the files directory and the thread that checks files."""

    log = Logger()

    def __init__(
        self, sharing: FileSharing, blobs: Blobs, in_thread: Callable[..., "Deferred[Any]"] = deferToThread
    ) -> None:
        self.sharing = sharing
        self.blobs = blobs
        self.in_thread = in_thread
        """Runs the slow part of an upload (syncing, decoding an image) off the reactor."""

    def begin_upload(self, request: server.Request, length: int | None) -> tuple[str, str] | UploadGrant:
        """Check an upload's headers: its grant (spent now), or ``(code, message)`` to refuse it with."""
        token = bearer_token(request)
        grant = self.sharing.grant_for(token) if token is not None else None
        if grant is None:
            return "bad_token", "This upload needs a valid upload token (Authorization: Bearer TOKEN)."
        if length is None or request.requestHeaders.hasHeader(b"transfer-encoding"):
            return "length_required", "An upload needs a Content-Length."
        if length > self.sharing.max_file_size:
            return (
                "file_too_large",
                f"The file is {length:,} bytes; this server takes files up to {self.sharing.max_file_size:,} bytes.",
            )
        if length != grant.size:
            return "size_mismatch", f"The token is for {grant.size:,} bytes, not {length:,}."
        self.sharing.spend(grant)
        return grant

    def finish_upload(self, grant: UploadGrant, upload: Upload) -> "Deferred[dict[str, Any]]":
        """The body is in: keep the file (in a thread), then announce it. Fires
        with the 201 answer; fails with ``ChatError`` or ``TransferError`` (the upload's refusal)."""
        file_hash = upload.hash
        self.sharing.pin(file_hash)
        clean = partial(_clean, grant.media_type) if is_image_type(grant.media_type) else None
        kept: Deferred[Any] = self.in_thread(self.blobs.keep, upload, clean)

        def refused(reason: Failure) -> Failure:
            if reason.check(ImageRefused):
                raise TransferError(reason.value.code, reason.value.message)
            if reason.check(OSError):
                self.log.failure("Keeping an upload failed", reason)
                raise ChatError("not_stored", "The server could not keep the file; nothing was shared.")
            return reason

        def announce(sizes: tuple[int, int, int, int] | None) -> "Deferred[dict[str, Any]]":
            width, height, thumbnail_width, thumbnail_height = sizes if sizes is not None else (None,) * 4
            shared = SharedFile(
                grant.name, grant.size, grant.media_type, file_hash, width, height, thumbnail_width,
                thumbnail_height, grant.uploader.source,
            )  # fmt: skip
            announced = self.sharing.announce(grant, shared)
            return announced.addCallback(lambda answer: {**answer, "file": shared})

        def done(result: Any) -> Any:
            self.sharing.abandon(grant)
            self.sharing.unpin(file_hash)
            return result

        return kept.addErrback(refused).addCallback(announce).addBoth(done)

    def serve(self, request: server.Request, segments: Sequence[bytes]) -> bytes | int:
        """``GET`` (or ``HEAD``) ``/files/HASH/NAME`` or ``/thumbnails/HASH``."""
        kind = segments[0]
        try:
            file_hash = segments[1].decode("ascii")
            name = unquote(segments[2].decode("ascii"), errors="strict") if kind == b"files" else None
        except (UnicodeDecodeError, IndexError):
            return refuse(request, "no_such_file", "No such file is kept.")
        if not _HASH.match(file_hash) or len(segments) != (3 if kind == b"files" else 2):
            return refuse(request, "no_such_file", "No such file is kept.")
        token = bearer_token(request)
        if token is None:
            given = request.args.get(b"token")
            token = given[0].decode("ascii", "replace") if given else None
        if token is None:
            return refuse(request, "bad_token", "A download needs your connection's token (?token=TOKEN).")
        try:
            allowed = self.sharing.may_read(token, file_hash, name)
        except TransferError as error:
            return refuse(request, error.code, error.message)

        def send(shared: SharedFile) -> None:
            if name is None:
                path, media_type, disposition = self.blobs.thumbnail_path(file_hash), served_type(shared.media_type), "inline"
            elif shared.is_image:
                path, media_type, disposition = self.blobs.image_path(file_hash), served_type(shared.media_type), "inline"
            else:
                path, media_type, disposition = self.blobs.file_path(file_hash), "application/octet-stream", "attachment"
            try:
                opened = open(path, "rb")  # noqa: SIM115 (closed once sent)
            except OSError:
                request.write(refuse(request, "no_such_file", "No such file is kept."))
                request.finish()
                return
            request.setHeader(b"content-type", media_type.encode("ascii"))
            encoded = quote(shared.name, safe="")
            request.setHeader(b"content-disposition", f"{disposition}; filename*=UTF-8''{encoded}".encode("ascii"))
            opened.seek(0, 2)
            request.setHeader(b"content-length", str(opened.tell()).encode("ascii"))
            opened.seek(0)
            if request.method == b"HEAD":
                opened.close()
                request.finish()
                return
            sending = FileSender().beginFileTransfer(opened, request)

            def sent(_: object) -> None:
                opened.close()
                if not request.finished and not request._disconnected:
                    request.finish()

            sending.addBoth(sent)

        def failed(reason: Failure) -> None:
            if request._disconnected:
                return
            if reason.check(TransferError):
                request.write(refuse(request, reason.value.code, reason.value.message))
            else:
                self.log.failure("A download failed", reason)
                request.write(refuse(request, "not_stored", "The server could not read the file."))
            request.finish()

        allowed.addCallbacks(send, failed)
        return server.NOT_DONE_YET


def refuse(request: server.Request, code: str, message: str) -> bytes:
    """Answer ``request`` with the refusal ``code`` (its status and JSON body)."""
    request.setResponseCode(status_of(code))
    request.setHeader(b"content-type", b"application/json")
    body = error_body(code, message)
    return b"" if request.method == b"HEAD" else body


def answer_upload(request: server.Request, answered: "Deferred[dict[str, Any]]", file_fields: Any) -> None:
    """Write an upload's answer once it is known: 201 and what was shared, or the refusal."""

    def created(answer: dict[str, Any]) -> None:
        if request._disconnected:
            return
        request.setResponseCode(http.CREATED)
        request.setHeader(b"content-type", b"application/json")
        request.write(json.dumps({**answer, "file": file_fields(answer["file"])}).encode("utf-8"))

    def failed(reason: Failure) -> None:
        if reason.check(ChatError, TransferError):
            code, message = reason.value.code, reason.value.message
        else:
            FileService.log.failure("An upload failed", reason)
            code, message = "not_stored", "The server could not keep the file; nothing was shared."
        if not request._disconnected:
            request.write(refuse(request, code, message))

    def finish(_: object) -> None:
        if not request._disconnected:
            request.finish()

    answered.addCallbacks(created, failed).addBoth(finish)
