"""Sharing files in the client's view-model, without Tk (StringTransport, task.Clock, a fake web
port): attaching asks for a token then uploads with progress; refusals and cancels fail the line
with the server's words; files others share become cards; downloads save with progress."""

import os
from typing import Any

from twisted.internet.defer import CancelledError, Deferred

from glozi.client.state import Delivery, LineKind, SharedFile, TransferState
from glozi.client.transfers import TransferFailed
from tests import test_client_viewmodel
from tests.test_client_viewmodel import WELCOME, ViewModelTestCase

DOWNLOAD_TOKEN = "D" * 43
UPLOAD_TOKEN = "U" * 43
FILES_WELCOME = {
    **WELCOME,
    "web_port": 8080,
    "web_tls": False,
    "files": {"download_token": DOWNLOAD_TOKEN, "max_file_size": 26214400},
}
PHOTO = {
    "name": "holiday.jpg",
    "size": 2146304,
    "media_type": "image/jpeg",
    "hash": "9f" * 32,
    "url": "/files/" + "9f" * 32 + "/holiday.jpg",
    "width": 4032,
    "height": 3024,
    "thumbnail": {"url": "/thumbnails/" + "9f" * 32, "width": 320, "height": 240},
}


class FakeWebFiles:
    """Records each transfer asked for and hands out Deferreds the test fires (or sees cancelled)."""

    def __init__(self) -> None:
        self.bases: list[str] = []
        self.calls: list[tuple[str, tuple[Any, ...], Deferred[Any]]] = []
        self.cancelled: list[str] = []

    def __call__(self, base: str) -> "FakeWebFiles":
        self.bases.append(base)
        return self

    def _call(self, kind: str, *args: Any) -> "Deferred[Any]":
        waiting: Deferred[Any] = Deferred(lambda _: self.cancelled.append(kind))
        self.calls.append((kind, args, waiting))
        return waiting

    def upload(self, token: str, path: str, progress: Any, where: str) -> "Deferred[Any]":
        return self._call("upload", token, path, progress, where)

    def download(self, path: str, token: str, target: str, progress: Any, limit: int) -> "Deferred[Any]":
        return self._call("download", path, token, target, progress, limit)

    def fetch(self, path: str, token: str, limit: int) -> "Deferred[Any]":
        return self._call("fetch", path, token, limit)


class SharingTestCase(ViewModelTestCase):
    def setUp(self) -> None:
        self.patch(test_client_viewmodel, "WELCOME", FILES_WELCOME)
        super().setUp()
        self.web = FakeWebFiles()
        self.model.web_files = self.web
        self.dir = self.mktemp()
        os.mkdir(self.dir)

    def a_file(self, name: str = "notes.pdf", size: int = 48213) -> str:
        path = os.path.join(self.dir, name)
        with open(path, "wb") as out:
            out.write(b"x" * size)
        return path

    def own_file_line(self):
        return next(line for line in reversed(self.model.chat.lines) if line.upload)

    def upload_ready(self, asked: dict[str, Any]) -> None:
        """The server's ``upload_ready`` for the session-10 request ``asked``, with UPLOAD_TOKEN, for 300 s."""
        self.answer(
            {"type": "upload_ready", "session": 10, "path": "/upload", "token": UPLOAD_TOKEN, "expires_in": 300},
            asked,
        )

    def attach_in_garden(self, name: str = "notes.pdf", size: int = 48213) -> dict[str, Any]:
        self.in_garden()
        self.sent()
        self.assertTrue(self.model.attach(self.a_file(name, size)))
        (asked,) = self.sent()
        return asked


class UploadTests(SharingTestCase):
    def test_attach_asks_for_a_token_and_shows_the_file_pending(self) -> None:
        """An ``upload`` request with the session, name, size and media type; the line reads like
        the server's announcement ("shared notes.pdf (48.2 kB)") and is pending."""
        asked = self.attach_in_garden()
        self.assertEqual(
            {k: asked[k] for k in ("type", "session", "name", "size", "media_type")},
            {
                "type": "upload",
                "session": 10,
                "name": "notes.pdf",
                "size": 48213,
                "media_type": "application/pdf",
            },
        )
        line = self.own_file_line()
        self.assertEqual(
            (line.text, line.action, line.delivery), ("shared notes.pdf (48.2 kB)", True, Delivery.PENDING)
        )
        self.assertEqual(self.model.transfers[line.upload].state, TransferState.WAITING)

    def test_upload_goes_to_the_web_port_with_the_token_and_reports_progress(self) -> None:
        """upload_ready: the bytes go to the welcome's web port with the token; the view hears of each
        whole percent; the 201 answer marks the line sent with the stored file and msgid."""
        asked = self.attach_in_garden(size=1000)
        self.upload_ready(asked)
        self.assertEqual(self.web.bases, ["http://127.0.0.1:8080"])
        ((kind, (token, path, progress, where), uploading),) = self.web.calls
        self.assertEqual((kind, token, os.path.basename(path), where), ("upload", UPLOAD_TOKEN, "notes.pdf", "/upload"))
        changes = len(self.view.transfers)
        progress(5)
        progress(9)
        self.assertEqual(len(self.view.transfers), changes, "under a whole percent more: not redrawn")
        progress(500)
        transfer = self.model.transfers[self.own_file_line().upload]
        self.assertEqual(
            (transfer.done, transfer.fraction, transfer.state), (500, 0.5, TransferState.RUNNING)
        )
        self.assertEqual(len(self.view.transfers), changes + 1)
        stored = {
            **PHOTO,
            "name": "notes.pdf",
            "size": 1000,
            "media_type": "application/pdf",
            "width": None,
            "height": None,
            "thumbnail": None,
        }
        uploading.callback({"session": 10, "msgid": "m9", "ts": 5000.0, "file": stored})
        line = self.own_file_line()
        self.assertEqual((line.delivery, line.msgid, line.file.url), (Delivery.SENT, "m9", stored["url"]))
        self.assertEqual(self.view.updates[-1], line)
        self.assertEqual(transfer.state, TransferState.DONE)

    def test_a_private_chat_names_the_recipient(self) -> None:
        """In a private chat the ``upload`` request carries ``to``."""
        self.in_garden()
        self.model.open_private("alice")
        self.sent()
        self.assertTrue(self.model.attach(self.a_file()))
        (asked,) = self.sent()
        self.assertEqual((asked["to"], "session" in asked), ("alice", False))

    def test_refused_token_fails_the_line_with_the_servers_words(self) -> None:
        """``user_quota_exceeded`` (or any refusal of the token): the line fails with the server's message."""
        asked = self.attach_in_garden()
        quota = "You have 104,856,600 bytes of files kept; a file of 48,213 bytes would pass your quota of 104,857,600 bytes."
        self.answer({"type": "error", "code": "user_quota_exceeded", "message": quota, "session": 10}, asked)
        line = self.own_file_line()
        self.assertEqual((line.delivery, line.note), (Delivery.FAILED, f"Not sent: {quota}"))
        self.assertEqual(self.web.calls, [])

    def test_refused_upload_fails_the_line_and_the_chat_goes_on(self) -> None:
        """A 422 ``not_an_image`` after the body: the line says "The file is not a PNG image."; typing still works."""
        asked = self.attach_in_garden("fake.png")
        self.assertEqual(asked["media_type"], "image/png")
        self.upload_ready(asked)
        self.web.calls[0][2].errback(TransferFailed("not_an_image", "The file is not a PNG image."))
        line = self.own_file_line()
        self.assertEqual(
            (line.delivery, line.note), (Delivery.FAILED, "Not sent: The file is not a PNG image.")
        )
        self.assertTrue(self.model.send("still here"))
        self.assertEqual(self.sent()[0]["text"], "still here")

    def test_cancel_stops_the_upload(self) -> None:
        """Cancel while uploading: the HTTP transfer is cancelled and the line says so."""
        asked = self.attach_in_garden()
        self.upload_ready(asked)
        self.web.calls[0][2].addErrback(lambda reason: reason.trap(CancelledError) and None)
        transfer_id = self.own_file_line().upload
        self.model.cancel_transfer(transfer_id)
        self.assertEqual(self.web.cancelled, ["upload"])
        self.assertEqual(self.model.transfers[transfer_id].state, TransferState.CANCELLED)
        self.assertEqual(self.own_file_line().note, "Not sent: Cancelled.")

    def test_cancel_before_the_token_uploads_nothing(self) -> None:
        """Cancelled while the token is on its way: when it comes, nothing is uploaded."""
        asked = self.attach_in_garden()
        self.model.cancel_transfer(self.own_file_line().upload)
        self.upload_ready(asked)
        self.assertEqual(self.web.calls, [])
        self.assertEqual(self.own_file_line().delivery, Delivery.FAILED)

    def test_a_file_over_the_limit_is_refused_before_asking(self) -> None:
        """26,214,401 bytes with the default 26,214,400: the server's own sentence, nothing sent."""
        self.in_garden()
        self.sent()
        path = os.path.join(self.dir, "big.bin")
        with open(path, "wb") as out:
            out.truncate(26214401)
        self.assertFalse(self.model.attach(path))
        self.assertEqual(self.sent(), [])
        self.assertEqual(
            self.model.chat.lines[-1].text,
            "Not sent: The file is 26,214,401 bytes; this server takes files up to 26,214,400 bytes.",
        )
        with open(path, "wb") as out:
            out.truncate(26214400)
        self.assertTrue(self.model.attach(path))

    def test_a_server_without_files_says_so(self) -> None:
        """``files: null`` in the welcome: attaching says the server shares no files."""
        self.patch(test_client_viewmodel, "WELCOME", {**WELCOME, "files": None, "web_port": None})
        self.in_garden()
        self.assertFalse(self.model.attach(self.a_file()))
        self.assertEqual(
            (self.model.chat.lines[-1].kind, self.model.chat.lines[-1].text),
            (
                LineKind.ERROR,
                "Not sent: This server does not share files (its web door is off, or it is a cluster).",
            ),
        )


class SizeTextTests(SharingTestCase):
    def test_sizes_read_as_the_servers_announcement_writes_them(self) -> None:
        """docs/files.md: 512 B, 48.2 kB, 2.1 MB, 26.2 MB, 1.1 GB."""
        from glozi.domain.names import format_size as size_text

        self.assertEqual(
            [size_text(n) for n in (512, 48213, 2146304, 26214400, 1073741824)],
            ["512 B", "48.2 kB", "2.1 MB", "26.2 MB", "1.1 GB"],
        )


class SharedByOthersTests(SharingTestCase):
    def test_a_message_with_a_file_carries_it(self) -> None:
        """A ``message`` with ``file``: the line has the file (name, size, url, thumbnail), an image."""
        self.in_garden()
        self.event(
            {
                "type": "message",
                "session": 10,
                "from": "alice",
                "text": "shared holiday.jpg (2.1 MB)",
                "ts": 5001.0,
                "msgid": "m1",
                "action": True,
                "file": PHOTO,
            }
        )
        line = self.model.chat.lines[-1]
        self.assertEqual((line.file.name, line.file.size, line.file.image), ("holiday.jpg", 2146304, True))
        self.assertEqual((line.file.thumbnail.width, line.file.thumbnail.height), (320, 240))

    def test_a_file_elsewhere_is_a_plain_message(self) -> None:
        """A ``file`` whose url is not a path on the server (it would send the token there): no card."""
        self.in_garden()
        for url in ("//evil.example/x", "@evil.example/x", "http://evil.example/x"):
            self.event(
                {"type": "message", "session": 10, "from": "alice", "text": "shared x", "ts": 5001.0,
                 "file": {**PHOTO, "url": url}}
            )
            self.assertIsNone(self.model.chat.lines[-1].file, url)

    def test_a_malformed_file_is_a_plain_message(self) -> None:
        """A ``file`` without its fields: the message shows, without a card."""
        self.in_garden()
        self.event(
            {
                "type": "message",
                "session": 10,
                "from": "alice",
                "text": "shared x",
                "ts": 5001.0,
                "file": {"name": "x"},
            }
        )
        self.assertEqual((self.model.chat.lines[-1].text, self.model.chat.lines[-1].file), ("shared x", None))

    def test_download_saves_with_the_download_token_and_progress(self) -> None:
        """Download: the file's url with the welcome's download token, progress, then "Saved as …"."""
        self.in_garden()
        shared = SharedFile(
            "notes.pdf", 1000, "application/pdf", "ab" * 32, "/files/" + "ab" * 32 + "/notes.pdf"
        )
        target = os.path.join(self.dir, "notes.pdf")
        transfer = self.model.download(shared, target)
        ((kind, (path, token, saved_as, progress, limit), getting),) = self.web.calls
        self.assertEqual(
            (kind, path, token, saved_as, limit), ("download", shared.url, DOWNLOAD_TOKEN, target, 1000)
        )
        progress(250)
        self.assertEqual(transfer.fraction, 0.25)
        getting.callback(target)
        self.assertEqual((transfer.state, transfer.note), (TransferState.DONE, f"Saved as {target}."))

    def test_refused_download_says_why(self) -> None:
        """403 ``not_allowed`` (no longer a member): the card says the server's words."""
        self.in_garden()
        shared = SharedFile("notes.pdf", 1000, "application/pdf", "ab" * 32, "/files/x/notes.pdf")
        transfer = self.model.download(shared, os.path.join(self.dir, "n.pdf"))
        self.web.calls[0][2].errback(TransferFailed("not_allowed", "You may not read this file."))
        self.assertEqual(
            (transfer.state, transfer.note),
            (TransferState.FAILED, "Not downloaded: You may not read this file."),
        )

    def test_thumbnail_is_fetched_with_the_download_token(self) -> None:
        """The thumbnail's url, the download token, a bounded size."""
        self.in_garden()
        photo = SharedFile("a.jpg", 10, "image/jpeg", "9f" * 32, PHOTO["url"], thumbnail=None)
        self.model.fetch_image(photo)
        ((kind, (path, token, _limit), _),) = self.web.calls
        self.assertEqual((kind, path, token), ("fetch", PHOTO["url"], DOWNLOAD_TOKEN))
