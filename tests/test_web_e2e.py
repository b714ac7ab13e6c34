"""The web door of the real ``twistd -n glozichat``: the page over HTTP and the
native protocol over a WebSocket, next to native and IRC members."""

import json
import os
import re

from twisted.internet import defer, reactor, ssl
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from glozi.discovery.client import discover
from tests.certs import make_self_signed
from tests.realserver import connect_client, start_server
from tests.test_people_e2e import connect_irc
from tests.webclients import connect_web_client, http_get, open_websocket
from tests.wsframes import BINARY, CLOSE, TEXT, masked_frame


class _PlainClient(Protocol):
    def __init__(self) -> None:
        self.data = b""
        self.done: defer.Deferred[bytes] = defer.Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: object = None) -> None:
        self.done.callback(self.data)


class WebDoorEndToEndTests(TestCase):
    timeout = 60

    @defer.inlineCallbacks
    def test_a_broadcast_reaches_native_web_and_irc_members(self) -> None:
        """A web member joins kiwi and says a line; a native member, another web
        member and an IRC member each get it; a native line reaches the web members."""
        server = yield start_server(self)
        web_alice = yield connect_web_client(self, server.web_port)
        web_bob = yield connect_web_client(self, server.web_port)
        native = yield connect_client(self, server.port)
        irc = yield connect_irc(self, server.irc_port, "ircdora")

        joined = yield web_alice.request(type="join", session=2, username="alice", id=1)
        self.assertEqual((joined["type"], joined["id"], joined["session"]["name"]), ("joined", 1, "kiwi"))
        joined = yield native.request(type="join", session=2, username="carol")
        self.assertEqual(joined["type"], "joined")
        joined = yield web_bob.request(type="join", session=2, username="bob")
        self.assertEqual([member["name"] for member in joined["members"]], ["alice", "carol", "bob"])
        irc.sendLine(b"JOIN #kiwi")
        yield irc.expect("366", "ircdora", "#kiwi")
        for member in (web_alice, native, web_bob):
            while True:
                seen = yield member.next()
                if (seen["type"], seen.get("name")) == ("member_joined", "ircdora"):
                    break

        ack = yield web_alice.request(type="say", text="hello from a browser", id="m1")
        self.assertEqual((ack["type"], ack["id"], ack["session"]), ("ack", "m1", 2))
        for member in (native, web_bob):
            message = yield member.next()
            self.assertEqual((message["type"], message["from"], message["text"]), ("message", "alice", "hello from a browser"))
        line = yield irc.expect("PRIVMSG", "#kiwi")
        self.assertEqual(line.params[-1], "hello from a browser")

        native.send(type="say", text="and back")
        for member in (web_alice, web_bob):
            message = yield member.next()
            self.assertEqual((message["from"], message["text"]), ("carol", "and back"))
        # Each frame came as one text message and nothing else did.
        self.assertEqual({opcode for opcode, _ in web_bob.messages}, {TEXT})

    @defer.inlineCallbacks
    def test_the_page_and_its_files_are_served(self) -> None:
        """``/`` is index.html, ``/static/app.js`` is JavaScript; both carry the security headers."""
        server = yield start_server(self, irc_port="none")
        status, headers, body = yield http_get(server.web_port, "/")
        self.assertEqual((status, headers["content-type"]), (200, ["text/html; charset=utf-8"]))
        self.assertIn(b"<!DOCTYPE html>", body)
        self.assertEqual(headers["x-frame-options"], ["DENY"])
        status, headers, _ = yield http_get(server.web_port, "/static/app.js")
        self.assertEqual((status, headers["content-type"]), (200, ["text/javascript; charset=utf-8"]))

    @defer.inlineCallbacks
    def test_another_origin_or_none_is_refused_with_403(self) -> None:
        """A WebSocket opened from another page's Origin, or with no Origin at all, gets 403 and no welcome."""
        server = yield start_server(self, irc_port="none")
        for origin in (f"http://evil.example:{server.web_port}", "http://127.0.0.1", None):
            client = yield open_websocket(self, server.web_port, origin=origin)
            self.assertEqual(client.status, 403, origin)
            self.assertEqual(client.headers["content-security-policy"][0].split(";")[0], "default-src 'self'")
            self.assertFalse(client.upgraded)

    @defer.inlineCallbacks
    def test_binary_messages_and_bad_json_get_the_native_errors(self) -> None:
        """A binary message and a text message that is not JSON are answered ``bad_json``,
        a text message that is not an object ``not_object``; the connection stays open."""
        server = yield start_server(self, irc_port="none")
        client = yield connect_web_client(self, server.web_port)
        client.send_message(BINARY, b'{"type":"ping"}')
        refused = yield client.next()
        self.assertEqual((refused["type"], refused["code"]), ("error", "bad_json"))
        client.send_text("{not json")
        refused = yield client.next()
        self.assertEqual((refused["type"], refused["code"]), ("error", "bad_json"))
        client.send_text("[1, 2]")
        refused = yield client.next()
        self.assertEqual((refused["type"], refused["code"]), ("error", "not_object"))
        pong = yield client.request(type="ping", id=7)
        self.assertEqual(pong, {"type": "pong", "id": 7})

    @defer.inlineCallbacks
    def test_over_long_message_is_line_too_long_and_closes(self) -> None:
        """A text message of 4,097 bytes gets ``line_too_long`` and a close frame; 4,096 bytes is still a frame."""
        server = yield start_server(self, irc_port="none")
        client = yield connect_web_client(self, server.web_port)
        padded = '{"type":"ping","id":1' + " " * (4096 - len('{"type":"ping","id":1}')) + "}"
        self.assertEqual(len(padded), 4096)
        client.send_text(padded)
        answer = yield client.next()
        self.assertEqual(answer, {"type": "pong", "id": 1})
        client.send_text(" " * 4097 + "{}")
        refused = yield client.next()
        self.assertEqual(refused["code"], "line_too_long")
        yield client.lost
        self.assertEqual(client.messages[-1][0], CLOSE)

    @defer.inlineCallbacks
    def test_flood_through_the_web_door_is_the_native_doors(self) -> None:
        """20 pings then 50 more in one burst: ``flood`` answers the 21st with its id and no
        ``retry_after``, the 70th closes the connection, exactly as through the native door."""
        server = yield start_server(self, irc_port="none")
        web = yield connect_web_client(self, server.web_port)
        lines = [{"type": "ping"}] * 20 + [{"type": "ping", "id": f"over{n}"} for n in range(1, 51)]
        web.transport.write(b"".join(masked_frame(TEXT, json.dumps(line).encode()) for line in lines))
        yield web.lost
        web_errors = [frame for frame in web.frames if frame["type"] == "error"]
        native = yield connect_client(self, server.port)
        native.transport.write(b"".join(json.dumps(line).encode() + b"\n" for line in lines))
        yield native.lost
        native_errors = [frame for frame in native.frames if frame["type"] == "error"]
        self.assertEqual(
            web_errors,
            [
                {"type": "error", "code": "flood", "message": "You are sending too fast; lines are being dropped.", "id": "over1"},
                {"type": "error", "code": "flood", "message": "You kept sending too fast; closing the connection.", "id": "over50"},
            ],
        )
        self.assertEqual(web_errors, native_errors)

    @defer.inlineCallbacks
    def test_web_port_none_serves_nothing(self) -> None:
        """With ``--web-port none`` nothing listens for HTTP and the welcome says ``web_port: null``."""
        server = yield start_server(self, irc_port="none", web_port="none")
        self.assertNotIn(b"GloziChat web", server.output)
        self.assertNotIn(b"web client:", server.output)
        native = yield connect_client(self, server.port)
        hello = yield native.request(type="hello", protocol=1)
        self.assertEqual((hello["web_port"], hello["web_tls"]), (None, False))

    @defer.inlineCallbacks
    def test_ssl_web_port_serves_https_and_wss(self) -> None:
        """With an ``ssl:`` web port the page comes over https and the WebSocket over wss
        (Origin ``https://...``); the log gives the https URL and the welcome ``web_tls: true``."""
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        key, cert = make_self_signed(directory)
        server = yield start_server(
            self, irc_port="none", web_port=f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"
        )
        self.assertIn(f"web client: https://127.0.0.1:{server.web_port}/".encode(), server.output)
        with open(cert) as f:
            authority = ssl.Certificate.loadPEM(f.read())
        options = ssl.optionsForClientTLS("localhost", trustRoot=authority)
        status, headers, body = yield http_get(server.web_port, "/", tls=options)
        self.assertEqual((status, headers["content-type"]), (200, ["text/html; charset=utf-8"]))
        self.assertIn(b"<!DOCTYPE html>", body)
        web = yield connect_web_client(self, server.web_port, tls=options)
        pong = yield web.request(type="ping", id="tls")
        self.assertEqual(pong, {"type": "pong", "id": "tls"})
        welcome = yield web.request(type="hello", protocol=1)
        self.assertEqual((welcome["web_port"], welcome["web_tls"]), (server.web_port, True))
        refused = yield open_websocket(self, server.web_port, origin=f"http://127.0.0.1:{server.web_port}", tls=options)
        self.assertEqual(refused.status, 403)
        # Plain HTTP on the TLS port gets nothing it could read as a page.
        plain = _PlainClient()
        yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", server.web_port), plain)
        plain.transport.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = yield plain.done.addTimeout(10, reactor)
        self.assertNotIn(b"<!DOCTYPE html>", data)

    @defer.inlineCallbacks
    def test_discovery_and_the_welcome_give_the_web_port(self) -> None:
        """The server logs ``web client: http://127.0.0.1:PORT/``; a discovery answer and the native
        welcome carry ``web_port`` (the port really bound) and ``web_tls: false``."""
        server = yield start_server(self, irc_port="none")
        self.assertIn(f"web client: http://127.0.0.1:{server.web_port}/".encode(), server.output)
        listening = re.compile(rb"Discovery responder listening on UDP \*:(\d+)")
        # The responder starts after the listeners; its line may come a moment after them (at most 10 s here).
        for _ in range(100):
            if listening.search(server.output):
                break
            yield deferLater(reactor, 0.1)
        discovery_port = int(listening.search(server.output).group(1))
        [found] = yield discover(reactor, targets=["127.0.0.1"], discovery_port=discovery_port, methods=("udp",), timeout=0.5)
        self.assertEqual((found.web_port, found.web_tls), (server.web_port, False))
        native = yield connect_client(self, server.port)
        welcome = yield native.request(type="hello", protocol=1)
        self.assertEqual((welcome["web_port"], welcome["web_tls"]), (server.web_port, False))
