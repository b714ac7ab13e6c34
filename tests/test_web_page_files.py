"""The page's file sharing (glozi/webclient/files.js) in a real headless Chromium, without a server: the
view-model driven with a fake connection and a fake XMLHttpRequest, as tests/test_web_model.py does."""

from typing import Any

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from tests import test_web_model

FILES = """
const files = await import("/files.js");
class FakeRequest {
  constructor() { this.upload = {}; this.headers = {}; FakeRequest.made.push(this); }
  open(method, path) { this.method = method; this.path = path; }
  setRequestHeader(name, value) { this.headers[name] = value; }
  send(body) { this.body = body; }
  abort() { this.aborted = true; this.onabort(); }
  answer(status, answer) { this.status = status; this.responseText = JSON.stringify(answer); this.onload(); }
}
FakeRequest.made = [];
const chat = await inGarden();
model.files = { download_token: "D".repeat(43), max_file_size: 26214400 };
const sharing = new files.FileSharing(model, () => new FakeRequest());
const ownLine = () => chat.lines.filter((line) => line.file).at(-1);
const ready = { type: "upload_ready", session: 10, path: "/upload", token: "U".repeat(43), expires_in: 300 };
"""


class PageFilesTests(TestCase):
    timeout = 120
    setUp = test_web_model.WebModelTests.setUp
    run_js = test_web_model.WebModelTests.run_js

    def files_js(self, body: str) -> "defer.Deferred[Any]":
        return self.run_js(FILES + body)

    @defer.inlineCallbacks
    def test_attach_asks_for_a_token_then_puts_the_bytes_with_progress(self) -> Any:
        """``upload`` with the session, name, size and type; PUT /upload with the Bearer token; progress in
        whole percents; the 201 answer marks the line sent with the stored file; the token goes only to
        paths on this server."""
        result = yield self.files_js(
            """
            sharing.attach(new File(["x".repeat(1000)], "notes.pdf", { type: "application/pdf" }));
            const asked = connection.sent.at(-1);
            const pending = [ownLine().text, ownLine().delivery];
            await connection.answer("upload", ready);
            const put = FakeRequest.made[0];
            put.upload.onprogress({ loaded: 505 });
            const progress = ownLine().progress;
            put.answer(201, { session: 10, msgid: "m1", ts: 5.0, file: { name: "notes.pdf", url: "/files/ab/notes.pdf" } });
            await settle();
            return [asked, pending, put.method, put.path, put.headers.Authorization, put.body.size, progress,
                    ownLine().delivery, ownLine().file.url, sharing.link(ownLine().file.url),
                    ["//evil.example/x", "http://evil.example/x", "@evil.example"].map((url) => sharing.link(url))];
            """
        )
        asked, pending, *rest = result
        self.assertEqual(
            {k: asked[k] for k in ("type", "session", "name", "size", "media_type")},
            {"type": "upload", "session": 10, "name": "notes.pdf", "size": 1000, "media_type": "application/pdf"},
        )
        self.assertEqual(pending, ["shared notes.pdf (1.0 kB)", "pending"])
        self.assertEqual(
            rest,
            ["PUT", "/upload", "Bearer " + "U" * 43, 1000, 50, "sent", "/files/ab/notes.pdf",
             "/files/ab/notes.pdf?token=" + "D" * 43, ["", "", ""]],
        )

    @defer.inlineCallbacks
    def test_refusals_and_cancel_fail_the_line_with_the_servers_words(self) -> Any:
        """A 422 ``not_an_image``, a refused token, a cancel: each line says why; a file over the default
        26,214,400 bytes is refused before asking, in the server's sentence; sizes as docs/files.md writes them."""
        result = yield self.files_js(
            """
            sharing.attach(new File(["nope"], "fake.png", { type: "image/png" }));
            await connection.answer("upload", ready);
            FakeRequest.made[0].answer(422, { code: "not_an_image", message: "The file is not a PNG image." });
            await settle();
            const notImage = ownLine().note;
            sharing.attach(new File(["x"], "a.bin"));
            await connection.answer("upload", { type: "error", code: "too_many_uploads", message: "Too many uploads at once." });
            const refused = ownLine().note;
            sharing.attach(new File(["x"], "b.bin"));
            await connection.answer("upload", ready);
            sharing.cancel(ownLine().serial);
            await settle();
            const cancelled = [FakeRequest.made[1].aborted, ownLine().note];
            const before = connection.sent.length;
            sharing.attach(new Blob([new Uint8Array(26214401)]), "big.bin");
            const sizes = [512, 48213, 2146304, 26214400].map(files.sizeText);
            return [notImage, refused, cancelled, connection.sent.length - before, chat.lines.at(-1).text, sizes];
            """
        )
        self.assertEqual(
            result,
            [
                "Not sent: The file is not a PNG image.",
                "Not sent: Too many uploads at once.",
                [True, "Not sent: Cancelled."],
                0,
                "Not sent: The file is 26,214,401 bytes; this server takes files up to 26,214,400 bytes.",
                ["512 B", "48.2 kB", "2.1 MB", "26.2 MB"],
            ],
        )
