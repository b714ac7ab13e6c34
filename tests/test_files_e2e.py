"""Sharing files through the real ``twistd -n glozichat``: a token over the native
protocol, the bytes over HTTP on the web port, the announcement, the download."""

import http.client
import io
import json
import os
import re
import socket
from typing import Any

from PIL import Image
from twisted.internet import defer, reactor
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from tests.realserver import connect_client, start_server
from tests.test_images import jpeg_with_gps, png_header_claiming
from tests.test_people_e2e import connect_irc
from tests.webclients import connect_web_client


def http_call(port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
    """One HTTP request to the loopback web port (in a thread): status, headers, body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@defer.inlineCallbacks
def next_of(client: Any, frame_type: str) -> Any:
    """The next frame of ``frame_type`` the client receives (the events before it skipped)."""
    for _ in range(50):
        frame = yield client.next()
        if frame["type"] == frame_type:
            return frame
    raise AssertionError(f"no {frame_type} in 50 frames")


class FilesEndToEndTests(TestCase):
    timeout = 120

    @defer.inlineCallbacks
    def welcome_token(self, server: Any) -> Any:
        client = yield connect_client(self, server.port)
        hello = yield client.request(type="hello", protocol=1)
        return client, hello["files"]["download_token"]

    @defer.inlineCallbacks
    def test_a_file_is_shared_downloaded_byte_identical_and_refused_to_others(self) -> None:
        """alice uploads 10 MB to her session; bob gets the announcement and downloads the same bytes;
        carol, in no session, is refused with not_allowed; once alice kicks bob, so is he."""
        server = yield start_server(self, irc_port="none")
        alice, _ = yield self.welcome_token(server)
        bob, bob_token = yield self.welcome_token(server)
        _, carol_token = yield self.welcome_token(server)
        joined = yield alice.request(type="create", name="garden", username="alice")
        garden = joined["session"]["id"]
        yield bob.request(type="join", session=garden, username="bob")
        yield next_of(alice, "member_joined")
        data = os.urandom(10_000_000)
        ready = yield alice.request(type="upload", session=garden, name="data.bin", size=len(data),
                                    media_type="application/octet-stream", id=5)  # fmt: skip
        self.assertEqual((ready["type"], ready["path"], ready["expires_in"], ready["id"]), ("upload_ready", "/upload", 300, 5))
        status, _, body = yield deferToThread(
            http_call, server.web_port, "PUT", "/upload", data, {"Authorization": f"Bearer {ready['token']}"}
        )
        self.assertEqual(status, 201)
        answer = json.loads(body)
        announced = yield next_of(bob, "message")
        self.assertEqual((announced["from"], announced["text"], announced["action"]),
                         ("alice", "shared data.bin (10.0 MB)", True))  # fmt: skip
        self.assertEqual((announced["msgid"], announced["file"]), (answer["msgid"], answer["file"]))
        self.assertEqual(announced["file"]["url"], f"/files/{announced['file']['hash']}/data.bin")
        status, headers, body = yield deferToThread(
            http_call, server.web_port, "GET", announced["file"]["url"], b"", {"Authorization": f"Bearer {bob_token}"}
        )
        self.assertEqual(status, 200)
        self.assertEqual(body, data)
        self.assertEqual(headers["Content-Disposition"], "attachment; filename*=UTF-8''data.bin")
        self.assertEqual(headers["Content-Type"], "application/octet-stream")
        self.assertEqual(headers["X-Content-Type-Options"], "nosniff")
        self.assertIn("default-src 'self'", headers["Content-Security-Policy"])
        status, _, body = yield deferToThread(
            http_call, server.web_port, "GET", announced["file"]["url"] + f"?token={carol_token}"
        )
        self.assertEqual((status, json.loads(body)["code"]), (403, "not_allowed"))
        yield alice.request(type="command", name="kick", args="bob")
        status, _, body = yield deferToThread(
            http_call, server.web_port, "GET", announced["file"]["url"] + f"?token={bob_token}"
        )
        self.assertEqual((status, json.loads(body)["code"]), (403, "not_allowed"))

    @defer.inlineCallbacks
    def test_a_cancelled_upload_leaves_nothing(self) -> None:
        """An upload whose connection closes halfway: no file is kept, nothing is announced, the token is spent."""
        server = yield start_server(self, irc_port="none")
        alice, _ = yield self.welcome_token(server)
        bob, _ = yield self.welcome_token(server)
        yield alice.request(type="join", session=2, username="alice")
        yield bob.request(type="join", session=2, username="bob")
        yield next_of(alice, "member_joined")
        ready = yield alice.request(type="upload", session=2, name="big.bin", size=1_000_000, media_type="text/plain")

        def half_then_close() -> bytes:
            with socket.create_connection(("127.0.0.1", server.web_port), timeout=10) as raw:
                raw.sendall(
                    f"PUT /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ready['token']}\r\n"
                    "Content-Length: 1000000\r\nExpect: 100-continue\r\n\r\n".encode()
                )
                # 100 Continue: the headers were accepted, so the token is spent.
                interim = raw.recv(100)
                raw.sendall(b"x" * 500_000)
                return interim

        interim = yield deferToThread(half_then_close)
        self.assertTrue(interim.startswith(b"HTTP/1.1 100 Continue"), interim)
        status, _, body = yield deferToThread(
            http_call, server.web_port, "PUT", "/upload", b"x" * 1_000_000, {"Authorization": f"Bearer {ready['token']}"}
        )
        self.assertEqual((status, json.loads(body)["code"]), (401, "bad_token"))
        files = os.path.join(server.workdir, "files")
        for _ in range(100):
            if not os.listdir(files):
                break
            yield deferLater(reactor, 0.05, lambda: None)
        self.assertEqual(os.listdir(files), [])
        ack = yield bob.request(type="say", text="after")
        self.assertEqual(ack["type"], "ack")

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

        def too_large_with_expect() -> bytes:
            with socket.create_connection(("127.0.0.1", server.web_port), timeout=10) as raw:
                raw.sendall(
                    f"PUT /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ready['token']}\r\n"
                    "Content-Length: 26214401\r\nExpect: 100-continue\r\n\r\n".encode()
                )
                return raw.recv(4096)

        # Refused from the headers: no 100 Continue, so no client sends the body.
        ready = yield alice.request(type="upload", session=2, name="a.txt", size=10, media_type="text/plain")
        answer = yield deferToThread(too_large_with_expect)
        self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), answer)
        self.assertEqual(json.loads(answer.split(b"\r\n\r\n", 1)[1])["code"], "file_too_large")

    @defer.inlineCallbacks
    def test_a_photo_reaches_every_door_without_its_gps_position(self) -> None:
        """A JPEG with GPS data shared by a native member: the web member gets the message with its thumbnail,
        the IRC member an ACTION with the link, which serves it (with the IRC user's token) with no EXIF."""
        server = yield start_server(self)
        alice, _ = yield self.welcome_token(server)
        web = yield connect_web_client(self, server.web_port)
        irc = yield connect_irc(self, server.irc_port, "ircdora")
        yield alice.request(type="join", session=2, username="alice")
        yield web.request(type="join", session=2, username="bob")
        irc.sendLine(b"JOIN #kiwi")
        yield irc.expect("366", "ircdora", "#kiwi")
        photo = jpeg_with_gps()
        alice.send(type="upload", session=2, name="photo.jpg", size=len(photo), media_type="image/jpeg")
        ready = yield next_of(alice, "upload_ready")
        status, _, body = yield deferToThread(
            http_call, server.web_port, "PUT", "/upload", photo, {"Authorization": f"Bearer {ready['token']}"}
        )
        self.assertEqual(status, 201, body)
        seen = yield next_of(web, "message")
        shared = seen["file"]
        self.assertEqual((shared["width"], shared["height"], shared["media_type"]), (640, 480, "image/jpeg"))
        self.assertEqual(shared["thumbnail"], {"url": f"/thumbnails/{shared['hash']}", "width": 320, "height": 240})
        line = yield irc.expect("PRIVMSG", "#kiwi")
        link = f"http://127.0.0.1:{server.web_port}/files/{shared['hash']}/photo.jpg"
        self.assertEqual(line.params[-1], f"\x01ACTION shared photo.jpg ({shared['size'] / 1000:.1f} kB) {link}\x01")
        irc.sendLine(b"PRIVMSG GloziServ :files")
        notice = yield irc.expect("NOTICE", "ircdora")
        token = re.search(r"token is (\S+) ", notice.params[-1]).group(1)
        for path, size in ((shared["url"], (640, 480)), (shared["thumbnail"]["url"], (320, 240))):
            status, headers, body = yield deferToThread(http_call, server.web_port, "GET", f"{path}?token={token}")
            self.assertEqual((status, headers["Content-Type"]), (200, "image/jpeg"))
            self.assertTrue(headers["Content-Disposition"].startswith("inline; "))
            with Image.open(io.BytesIO(body)) as served:
                self.assertEqual(served.size, size)
                self.assertEqual(dict(served.getexif()), {})

    @defer.inlineCallbacks
    def test_a_bomb_and_a_fake_png_are_refused_and_the_chat_goes_on(self) -> None:
        """A PNG claiming 100,000 x 100,000 pixels is 422 image_too_large, text sent as image/png 422
        not_an_image; nothing is announced and the session still works."""
        server = yield start_server(self, irc_port="none")
        alice, _ = yield self.welcome_token(server)
        bob, _ = yield self.welcome_token(server)
        yield alice.request(type="join", session=2, username="alice")
        yield bob.request(type="join", session=2, username="bob")
        yield alice.next()
        for data, code in ((png_header_claiming(100_000, 100_000), "image_too_large"), (b"not a picture", "not_an_image")):
            ready = yield alice.request(type="upload", session=2, name="x.png", size=len(data), media_type="image/png")
            status, _, body = yield deferToThread(
                http_call, server.web_port, "PUT", "/upload", data, {"Authorization": f"Bearer {ready['token']}"}
            )
            self.assertEqual((status, json.loads(body)["code"]), (422, code))
        ack = yield alice.request(type="say", text="still here")
        self.assertEqual(ack["type"], "ack")
        message = yield bob.next()
        self.assertEqual((message["type"], message["text"]), ("message", "still here"))
        self.assertEqual(sorted(os.listdir(os.path.join(server.workdir, "files"))), [])
