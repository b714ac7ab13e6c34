"""Sharing files through the real ``twistd -n glozichat``: a token over the native
protocol, the bytes over HTTP on the web port, the announcement, the download."""

import http.client
import json
import os
from typing import Any

from twisted.internet import defer
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from tests.realserver import connect_client, start_server


def http_call(port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
    """One HTTP request to the loopback web port (in a thread): status, headers, body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


class FilesEndToEndTests(TestCase):
    timeout = 120

    @defer.inlineCallbacks
    def welcome_token(self, server: Any) -> Any:
        client = yield connect_client(self, server.port)
        hello = yield client.request(type="hello", protocol=1)
        return client, hello["files"]["download_token"]

    @defer.inlineCallbacks
    def test_a_file_is_shared_downloaded_byte_identical_and_refused_to_others(self) -> None:
        """alice uploads 1 MB to kiwi; bob gets the announcement and downloads the same bytes;
        carol, in no session, is refused with not_allowed; once bob leaves, so is he."""
        server = yield start_server(self, irc_port="none")
        alice, _ = yield self.welcome_token(server)
        bob, bob_token = yield self.welcome_token(server)
        _, carol_token = yield self.welcome_token(server)
        yield alice.request(type="join", session=2, username="alice")
        yield bob.request(type="join", session=2, username="bob")
        joined = yield alice.next()
        self.assertEqual(joined["type"], "member_joined")
        data = os.urandom(1_000_000)
        ready = yield alice.request(type="upload", session=2, name="data.bin", size=len(data),
                                    media_type="application/octet-stream", id=5)  # fmt: skip
        self.assertEqual((ready["type"], ready["path"], ready["expires_in"], ready["id"]), ("upload_ready", "/upload", 300, 5))
        status, _, body = yield deferToThread(
            http_call, server.web_port, "PUT", "/upload", data, {"Authorization": f"Bearer {ready['token']}"}
        )
        self.assertEqual(status, 201)
        answer = json.loads(body)
        announced = yield bob.next()
        self.assertEqual((announced["type"], announced["from"], announced["text"], announced["action"]),
                         ("message", "alice", "shared data.bin (1.0 MB)", True))  # fmt: skip
        self.assertEqual(announced["msgid"], answer["msgid"])
        self.assertEqual(announced["file"]["url"], f"/files/{announced['file']['hash']}/data.bin")
        status, headers, body = yield deferToThread(
            http_call, server.web_port, "GET", announced["file"]["url"] + f"?token={bob_token}"
        )
        self.assertEqual(status, 200)
        self.assertEqual(body, data)
        self.assertEqual(headers["Content-Disposition"], "attachment; filename*=UTF-8''data.bin")
        self.assertEqual(headers["Content-Type"], "application/octet-stream")
        self.assertEqual(headers["X-Content-Type-Options"], "nosniff")
        status, _, body = yield deferToThread(
            http_call, server.web_port, "GET", announced["file"]["url"] + f"?token={carol_token}"
        )
        self.assertEqual((status, json.loads(body)["code"]), (403, "not_allowed"))
        yield bob.request(type="command", name="quit")
        status, _, body = yield deferToThread(
            http_call, server.web_port, "GET", announced["file"]["url"] + f"?token={bob_token}"
        )
        self.assertEqual((status, json.loads(body)["code"]), (403, "not_allowed"))

    @defer.inlineCallbacks
    def test_a_wrong_length_or_token_is_refused_before_the_body(self) -> None:
        """A Content-Length other than the announced size is 409 size_mismatch; no token is 401 bad_token."""
        server = yield start_server(self, irc_port="none")
        alice, _ = yield self.welcome_token(server)
        yield alice.request(type="join", session=2, username="alice")
        ready = yield alice.request(type="upload", session=2, name="a.txt", size=10, media_type="text/plain")
        status, _, body = yield deferToThread(
            http_call, server.web_port, "PUT", "/upload", b"x" * 11, {"Authorization": f"Bearer {ready['token']}"}
        )
        self.assertEqual((status, json.loads(body)["code"]), (409, "size_mismatch"))
        status, _, body = yield deferToThread(http_call, server.web_port, "PUT", "/upload", b"x" * 10)
        self.assertEqual((status, json.loads(body)["code"]), (401, "bad_token"))
