"""The web door's file service: the slow part (syncing, decoding) answers later, off the reactor."""

import os
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from glozi.domain.events import Message
from glozi.domain.files import FileSharing
from glozi.doors.web.files import FileService
from glozi.storage.blobs import Blobs
from tests.helpers import connect, done, make_server
from tests.test_images import jpeg_with_gps


class LaterThread:
    """Stands for ``deferToThread``: each call waits until ``run_next``, as a busy thread would."""

    def __init__(self) -> None:
        self.waiting: list[tuple[Callable[..., Any], tuple[Any, ...], Deferred[Any]]] = []

    def __call__(self, function: Callable[..., Any], *args: Any) -> "Deferred[Any]":
        answered: Deferred[Any] = Deferred()
        self.waiting.append((function, args, answered))
        return answered

    def run_next(self) -> None:
        function, args, answered = self.waiting.pop(0)
        try:
            result = function(*args)
        except Exception as error:  # noqa: BLE001 (handed to the Deferred, as deferToThread does)
            answered.errback(error)
        else:
            answered.callback(result)


class FileServiceTests(TestCase):
    def setUp(self) -> None:
        self.server, self.clock = make_server()
        self.server.files = FileSharing(self.server, self.clock)
        self.directory = self.mktemp()
        self.thread = LaterThread()
        self.service = FileService(self.server.files, Blobs(self.directory), self.thread)
        self.alice, _ = connect(self.server, "192.0.2.1")
        self.bob, self.bob_conn = connect(self.server, "192.0.2.2")
        done(self.alice.join(2, "alice"))
        done(self.bob.join(2, "bob"))

    def uploaded(self, data: bytes, media_type: str) -> "Deferred[dict[str, Any]]":
        grant = done(self.server.files.request_upload(self.alice, 2, None, "photo.jpg", len(data), media_type))
        self.server.files.spend(grant)
        upload = self.service.blobs.new_upload()
        upload.write(data)
        return self.service.finish_upload(grant, upload)

    def test_a_photo_is_announced_once_the_thread_answers(self) -> None:
        """Nothing is announced while the image is being decoded; the chat is not held; then bob gets it."""
        answer = self.uploaded(jpeg_with_gps(), "image/jpeg")
        self.assertNoResult(answer)
        self.assertEqual(self.bob_conn.of_type(Message), [])
        # The chat goes on meanwhile.
        done(self.bob.say("meanwhile"))
        self.thread.run_next()
        result = self.successResultOf(answer)
        announced = self.bob_conn.of_type(Message)[-1]
        self.assertEqual((announced.msgid, announced.file), (result["msgid"], result["file"]))
        self.assertEqual((announced.file.width, announced.file.thumbnail_width), (640, 320))
        self.assertEqual(
            sorted(os.listdir(self.directory)), sorted([f"{announced.file.hash}.image", f"{announced.file.hash}.thumbnail"])
        )

    def test_a_refused_image_answers_its_code_and_keeps_nothing(self) -> None:
        """A fake JPEG: the answer fails with not_an_image once the thread has looked; no file is left."""
        answer = self.uploaded(b"no picture", "image/jpeg")
        self.thread.run_next()
        self.assertEqual(self.failureResultOf(answer).value.code, "not_an_image")
        self.assertEqual(os.listdir(self.directory), [])
        self.assertEqual(self.bob_conn.of_type(Message), [])

    def test_a_plain_file_is_kept_by_its_hash(self) -> None:
        """A plain file is renamed into place under its SHA-256, byte for byte."""
        answer = self.uploaded(b"hello", "text/plain")
        self.thread.run_next()
        shared = self.successResultOf(answer)["file"]
        self.assertEqual(shared.hash, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        with open(os.path.join(self.directory, shared.hash), "rb") as kept:
            self.assertEqual(kept.read(), b"hello")
