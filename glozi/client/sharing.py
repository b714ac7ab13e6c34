"""Sharing files and pictures in a conversation (docs/files.md), with no Tk in it.

Attaching a file asks the chat connection for an upload token (``upload``),
then sends the bytes over the web port (``WebFiles.upload``); the file shows
at once as your own message, pending, with the upload's progress, and is
marked sent when the server answers 201 (or failed, with the server's words).
Files others share arrive as messages with a ``file``; downloading one saves
it where the user chose, with progress; thumbnails and images to show are
fetched into memory. Every transfer can be cancelled.
"""

import mimetypes
import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from twisted.internet.defer import CancelledError, Deferred, fail
from twisted.internet.error import ConnectionLost
from twisted.python.failure import Failure

from glozi.client.chatroom import Chatroom
from glozi.client.protocol import Frame, ServerError
from glozi.client.state import (
    ChatLine,
    ChatState,
    Conversation,
    Delivery,
    FilesAccess,
    LineKind,
    SharedFile,
    Transfer,
    TransferState,
    is_server_path,
    shared_file,
)
from glozi.client.transfers import TooLarge, TransferFailed, WebFiles, web_base
from glozi.domain.names import share_text

MAX_THUMBNAIL_BYTES = 4 * 1024 * 1024
"""The most a thumbnail (320 x 320 at most) may take when fetched."""
MAX_IMAGE_BYTES = 256 * 1024 * 1024
"""The most a served image may take: re-encoded as PNG, 40,000,000 pixels can outgrow the upload."""
NO_FILES = "This server does not share files (its web door is off, or it is a cluster)."
CANCELLED_NOTE = "Cancelled."
UPLOAD_PATH = "/upload"
"""Where the bytes go when the ``upload_ready`` names no path on the server (docs/files.md)."""

WebFilesMaker = Callable[[str], WebFiles]


def files_access(welcome: Frame, host: str) -> FilesAccess | None:
    """What a welcome says of the server's files; ``None`` when it shares none (``files`` null)."""
    files, port = welcome.get("files"), welcome.get("web_port")
    if not isinstance(files, dict) or not isinstance(port, int):
        return None
    token, largest = files.get("download_token"), files.get("max_file_size")
    if not isinstance(token, str) or not isinstance(largest, int):
        return None
    return FilesAccess(web_base(host, port, welcome.get("web_tls") is True), token, largest)


def too_large_text(size: int, largest: int) -> str:
    """The server's own ``file_too_large`` message (docs/files.md), said before asking it."""
    return f"The file is {size:,} bytes; this server takes files up to {largest:,} bytes."


class Sharing(Chatroom):
    """Uploads from the conversation shown, downloads of the files others shared."""

    web_files: WebFilesMaker = None  # type: ignore[assignment]
    """Makes the ``WebFiles`` for a web port's address (tests give a fake); by default on the reactor."""

    def _web(self) -> WebFiles:
        assert self.files is not None
        if self.web_files is None:
            return WebFiles(self.clock, self.files.base)
        return self.web_files(self.files.base)

    def _new_transfer(self, upload: bool, name: str, size: int, target: str = "") -> Transfer:
        transfer = Transfer(self._next_transfer, upload, name, size, target=target)
        self._next_transfer += 1
        self.transfers[transfer.id] = transfer
        return transfer

    def _transfer_changed(self, transfer: Transfer) -> None:
        if self.view is not None:
            self.view.transfer_changed(transfer)

    def _progress(self, transfer: Transfer) -> Callable[[int], None]:
        """Progress of ``transfer``: the view is told each time a whole percent more is done."""

        def moved(done: int) -> None:
            shown = int(transfer.fraction * 100)
            transfer.done, transfer.state = done, TransferState.RUNNING
            if int(transfer.fraction * 100) != shown or done == transfer.size:
                self._transfer_changed(transfer)

        return moved

    def attach(self, path: str) -> bool:
        """Share the file at ``path`` in the conversation shown. It appears at once as your
        message with its upload's progress; ``False`` (and a line saying why) when it cannot
        be sent at all: no conversation, a server that shares no files, an unreadable, empty
        or too large file, or no connection."""
        conversation = self.conversation
        if conversation is None:
            return False
        name = os.path.basename(path)
        try:
            size = os.path.getsize(path)
        except OSError as error:
            self._system(f"Could not read {name}: {error.strerror or error}.", LineKind.ERROR)
            return False
        problem = self._unshareable(size)
        if problem:
            self._system(f"Not sent: {problem}", LineKind.ERROR)
            return False
        assert self.protocol is not None
        media_type = (mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream").lower()
        transfer = self._new_transfer(True, name, size)
        serial = self._next_serial
        self._next_serial += 1
        self._add_line(
            conversation,
            ChatLine(
                LineKind.MESSAGE,
                share_text(name, size),
                self.clock.seconds(),
                sender=self.nick or "",
                own=True,
                serial=serial,
                delivery=Delivery.PENDING,
                action=True,
                file=SharedFile(name, size, media_type),
                upload=transfer.id,
            ),
        )
        where: dict[str, Any] = (
            {"session": conversation.session.id}
            if isinstance(conversation, ChatState)
            else {"to": conversation.name}
        )
        asked = self.protocol.request("upload", **where, name=name, size=size, media_type=media_type)
        asked.addCallback(self._upload_ready, conversation, transfer, serial, path)
        asked.addErrback(self._upload_failed, conversation, transfer, serial)
        transfer.cancel = asked.cancel
        return True

    def _unshareable(self, size: int) -> str:
        if self.files is None:
            return NO_FILES
        if self.protocol is None or self.reconnecting:
            return "not connected. Attach it again once reconnected."
        if size == 0:
            return "the file is empty."
        if size > self.files.max_file_size:
            return too_large_text(size, self.files.max_file_size)
        return ""

    def _upload_ready(
        self, frame: Frame, conversation: Conversation, transfer: Transfer, serial: int, path: str
    ) -> "Deferred[Any]":
        transfer.state = TransferState.RUNNING
        self._transfer_changed(transfer)
        where = str(frame.get("path") or "")
        uploading = self._web().upload(
            str(frame["token"]), path, self._progress(transfer), where if is_server_path(where) else UPLOAD_PATH
        )
        transfer.cancel = uploading.cancel
        return uploading.addCallback(self._uploaded, conversation, transfer, serial)

    def _uploaded(
        self, answer: dict[str, Any], conversation: Conversation, transfer: Transfer, serial: int
    ) -> None:
        transfer.state, transfer.done = TransferState.DONE, transfer.size
        self._transfer_changed(transfer)
        found = self._own_line(serial)
        if found is not None and found[0] is conversation:
            line = found[1]
            stored = shared_file(answer.get("file")) or line.file
            conversation.lines[conversation.lines.index(line)] = replace(line, file=stored)
        self._set_delivery(conversation, serial, Delivery.SENT, msgid=str(answer.get("msgid") or ""))

    def _upload_failed(
        self, reason: Failure, conversation: Conversation, transfer: Transfer, serial: int
    ) -> None:
        if reason.check(CancelledError):
            transfer.state, transfer.note = TransferState.CANCELLED, CANCELLED_NOTE
        else:
            transfer.state, transfer.note = TransferState.FAILED, self._why(reason)
        self._transfer_changed(transfer)
        self._set_delivery(conversation, serial, Delivery.FAILED, f"Not sent: {transfer.note}")

    def _why(self, reason: Failure) -> str:
        """A transfer's failure as the user reads it: the server's words when it refused."""
        if reason.check(ServerError, TransferFailed):
            return str(reason.value.message)
        if reason.check(ConnectionLost):
            return "the connection was lost."
        if reason.check(TooLarge):
            return "the server sent more than the file's size."
        self.log.failure("A file transfer failed", reason)
        return "something went wrong (see the log)."

    def cancel_transfer(self, transfer_id: int) -> None:
        """Stop an upload or a download still under way (the server drops a partial upload)."""
        transfer = self.transfers.get(transfer_id)
        if transfer is not None and transfer.active and transfer.cancel is not None:
            transfer.cancel()

    def download(self, file: SharedFile, target: str) -> Transfer | None:
        """Save ``file`` at ``target`` (the user chose it), with progress; ``None`` when the
        server shares no files any more (the transcript says so)."""
        if self.files is None or not file.url:
            self._system(NO_FILES, LineKind.ERROR)
            return None
        transfer = self._new_transfer(False, file.name, file.size, target)
        transfer.state = TransferState.RUNNING
        limit = MAX_IMAGE_BYTES if file.image else file.size
        getting = self._web().download(
            file.url, self.files.download_token, target, self._progress(transfer), limit
        )
        transfer.cancel = getting.cancel

        def saved(_: str) -> None:
            transfer.state = TransferState.DONE
            transfer.note = f"Saved as {target}."
            self._transfer_changed(transfer)

        def failed(reason: Failure) -> None:
            if reason.check(CancelledError):
                transfer.state, transfer.note = TransferState.CANCELLED, CANCELLED_NOTE
            else:
                transfer.state, transfer.note = TransferState.FAILED, f"Not downloaded: {self._why(reason)}"
            self._transfer_changed(transfer)

        getting.addCallbacks(saved, failed)
        self._transfer_changed(transfer)
        return transfer

    def fetch_thumbnail(self, file: SharedFile) -> "Deferred[bytes]":
        """The thumbnail's bytes (PNG or JPEG); fails with ``TransferFailed`` (its ``message`` to show)."""
        return self._fetch(file.thumbnail.url if file.thumbnail else "", MAX_THUMBNAIL_BYTES)

    def fetch_image(self, file: SharedFile) -> "Deferred[bytes]":
        """The full-size image's bytes, as the server serves it (without metadata)."""
        return self._fetch(file.url, MAX_IMAGE_BYTES)

    def _fetch(self, url: str, limit: int) -> "Deferred[bytes]":
        if self.files is None or not url:
            return fail(TransferFailed("files_unavailable", NO_FILES))
        return self._web().fetch(url, self.files.download_token, limit)
