"""The desktop client's file transfers (glozi/client/transfers.py) against a fake web port on
loopback that answers when the test says: the upload's request, progress and cancel, downloads
to disk, refusals as the server's code and message."""

import hashlib
import json
import os
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import CancelledError, Deferred
from twisted.trial.unittest import TestCase
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from glozi.client.transfers import TooLarge, TransferFailed, WebFiles, web_base

TOKEN = "t" * 43
CONTENT = bytes(range(256)) * 4096
"""1 MiB, so the upload takes many pieces."""


class FakeWebPort(Resource):
    """Answers every request the way ``answer`` says (a status and a JSON body, or the raw
    ``body`` to send), or holds it when ``hold``; records what it was sent."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[bytes, bytes, dict[str, Any], bytes]] = []
        self.status = 201
        self.answer: Any = {"session": 10, "msgid": "m1", "ts": 1.0, "file": {"name": "a.bin"}}
        self.body: bytes | None = None
        self.hold = False
        self.held: list[Request] = []
        self.gone: Deferred[None] = Deferred()

    def render(self, request: Request) -> Any:
        headers = {k.decode().lower(): v[0].decode() for k, v in request.requestHeaders.getAllRawHeaders()}
        self.requests.append((request.method, request.uri, headers, request.content.read()))
        request.notifyFinish().addErrback(lambda _: self.gone.callback(None))
        request.setResponseCode(self.status)
        if self.hold:
            if self.body is not None:
                request.setHeader(b"content-length", str(len(self.body)).encode())
                request.write(self.body[: len(self.body) // 4])
            self.held.append(request)
            return NOT_DONE_YET
        if self.body is not None:
            return self.body
        request.setHeader(b"content-type", b"application/json")
        return json.dumps(self.answer).encode()


class TransferTests(TestCase):
    def setUp(self) -> None:
        self.web = FakeWebPort()
        self.port = reactor.listenTCP(0, Site(self.web), interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)
        self.files = WebFiles(reactor, web_base("127.0.0.1", self.port.getHost().port, False))
        self.dir = self.mktemp()
        os.mkdir(self.dir)
        self.source = os.path.join(self.dir, "a.bin")
        with open(self.source, "wb") as out:
            out.write(CONTENT)

    def tearDown(self) -> "Deferred[None]":
        # The client's persistent connections close before the next test.
        return self.files._agent._pool.closeCachedConnections()

    def test_web_base_puts_an_ipv6_host_in_brackets(self) -> None:
        """The web port's URL: http or https, the host as URLs write it."""
        self.assertEqual(web_base("10.0.0.5", 8080, False), "http://10.0.0.5:8080")
        self.assertEqual(web_base("::1", 8443, True), "https://[::1]:8443")

    async def test_upload_puts_the_bytes_with_the_token_and_reports_progress(self) -> None:
        """PUT /upload with the Bearer token and the exact Content-Length; progress grows to the size."""
        seen: list[int] = []
        answer = await self.files.upload(TOKEN, self.source, seen.append)
        self.assertEqual(answer["msgid"], "m1")
        ((method, uri, headers, body),) = self.web.requests
        self.assertEqual((method, uri), (b"PUT", b"/upload"))
        self.assertEqual(headers["authorization"], f"Bearer {TOKEN}")
        self.assertEqual(headers["content-length"], str(len(CONTENT)))
        self.assertEqual(hashlib.sha256(body).digest(), hashlib.sha256(CONTENT).digest())
        self.assertEqual(seen, sorted(seen))
        self.assertGreater(len(seen), 4)
        self.assertEqual(seen[-1], len(CONTENT))

    async def test_upload_refusal_is_the_servers_code_and_message(self) -> None:
        """A 422 answer fails with the server's code and message, as docs/files.md writes them."""
        self.web.status = 422
        self.web.answer = {"code": "not_an_image", "message": "The file is not a PNG image."}
        with self.assertRaises(TransferFailed) as refused:
            await self.files.upload(TOKEN, self.source, lambda done: None)
        self.assertEqual(refused.exception.code, "not_an_image")
        self.assertEqual(refused.exception.message, "The file is not a PNG image.")

    async def test_cancelling_an_upload_closes_its_connection(self) -> None:
        """Cancel: the Deferred fails with CancelledError and the server sees the connection go."""
        self.web.hold = True
        uploading = self.files.upload(TOKEN, self.source, lambda done: None)
        while not self.web.held:
            await _soon()
        uploading.cancel()
        with self.assertRaises(CancelledError):
            await uploading
        await self.web.gone

    async def test_upload_to_no_server_is_a_connection_failure(self) -> None:
        """Nobody listening: a ``connection`` failure with a sentence, not a traceback."""
        await self.port.stopListening()
        with self.assertRaises(TransferFailed) as failed:
            await self.files.upload(TOKEN, self.source, lambda done: None)
        self.assertEqual(failed.exception.code, "connection")
        self.assertTrue(failed.exception.message.startswith("The transfer failed: "))

    async def test_download_writes_the_file_and_reports_progress(self) -> None:
        """GET with the Bearer token; the target holds the bytes exactly, no partial file is left."""
        self.web.status, self.web.body = 200, CONTENT
        target = os.path.join(self.dir, "saved.bin")
        seen: list[int] = []
        got = await self.files.download("/files/abc/a.bin", TOKEN, target, seen.append, len(CONTENT))
        self.assertEqual(got, target)
        ((method, uri, headers, _),) = self.web.requests
        self.assertEqual(
            (method, uri, headers["authorization"]), (b"GET", b"/files/abc/a.bin", f"Bearer {TOKEN}")
        )
        self.assertEqual(_contents(target), CONTENT)
        self.assertEqual(seen[-1], len(CONTENT))
        self.assertEqual(sorted(os.listdir(self.dir)), ["a.bin", "saved.bin"])

    async def test_download_refusal_leaves_no_file(self) -> None:
        """403 not_allowed: the server's message, and nothing written."""
        self.web.status = 403
        self.web.answer = {"code": "not_allowed", "message": "You may not read this file."}
        target = os.path.join(self.dir, "saved.bin")
        with self.assertRaises(TransferFailed) as refused:
            await self.files.download("/files/abc/a.bin", TOKEN, target, lambda done: None, len(CONTENT))
        self.assertEqual(refused.exception.code, "not_allowed")
        self.assertEqual(os.listdir(self.dir), ["a.bin"])

    async def test_cancelling_a_download_removes_the_partial_file(self) -> None:
        """Cancelled half way: the connection closes and neither the target nor its .part stays."""
        self.web.status, self.web.body, self.web.hold = 200, CONTENT, True
        target = os.path.join(self.dir, "saved.bin")
        seen: list[int] = []
        downloading = self.files.download("/files/abc/a.bin", TOKEN, target, seen.append, len(CONTENT))
        while not seen:
            await _soon()
        downloading.cancel()
        with self.assertRaises(CancelledError):
            await downloading
        await self.web.gone
        self.assertEqual(os.listdir(self.dir), ["a.bin"])

    async def test_fetch_takes_no_more_than_its_limit(self) -> None:
        """A thumbnail fetched into memory; a body over the limit fails with TooLarge."""
        self.web.status, self.web.body = 200, CONTENT
        self.assertEqual(await self.files.fetch("/thumbnails/abc", TOKEN, len(CONTENT)), CONTENT)
        with self.assertRaises(TooLarge):
            await self.files.fetch("/thumbnails/abc", TOKEN, len(CONTENT) - 1)


def _contents(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def _soon() -> "Deferred[None]":
    """A turn of the reactor (the loops above wait for the fake server's side, bounded by trial's timeout)."""
    from twisted.internet.task import deferLater

    return deferLater(reactor, 0.01, lambda: None)
