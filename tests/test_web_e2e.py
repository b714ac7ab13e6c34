"""The web door of the real ``twistd -n glozichat``: the page over HTTP and the
native protocol over a WebSocket, next to native and IRC members."""

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from tests.realserver import connect_client, start_server
from tests.test_people_e2e import connect_irc
from tests.webclients import BINARY, CLOSE, TEXT, connect_web_client, http_get, open_websocket


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
