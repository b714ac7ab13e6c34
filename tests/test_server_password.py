"""The server password (--password, --password-file): asked by both doors
before anything else, kept hashed, one try a connection, guessing limits."""

import gc
import io
import json
import os
import weakref
from typing import Any

from twisted.application.service import IServiceCollection
from twisted.internet.defer import Deferred, succeed
from twisted.internet.testing import StringTransport
from twisted.python import usage
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from glozi import tap
from glozi.client.protocol import ClientListener, ClientProtocol
from glozi.client.state import Screen, ServerAddress
from glozi.discovery.cli import format_server
from glozi.discovery.client import FoundServer
from glozi.discovery.probe import decode_answer, encode_probe, new_probe
from glozi.discovery.service import DiscoveryService
from glozi.domain.serverpassword import ServerPassword
from glozi.doors.irc.protocol import IRCFactory
from glozi.doors.native import wire as native_wire
from glozi.doors.native.protocol import NativeFactory
from glozi.process.service import ChatService
from glozi.storage.passwords import hash_password, verify_password
from tests.discovery_fakes import UDPMemoryReactor
from tests.helpers import connect, late_passwords, make_server
from tests.test_client_viewmodel import SESSIONS, WELCOME, FakeNetwork, ViewModelTestCase
from tests.test_discovery_responder import CLIENT, make_responder
from tests.test_irc_protocol import DoorTestCase, IRCClient, NativeClient
from tests.test_native_protocol import Client

PASSWORD = "testpassword"


class PasswordOptionTests(SynchronousTestCase):
    def parse(self, *args: str) -> tap.Options:
        options = tap.Options()
        options.parseOptions(list(args))
        return options

    def test_no_password_by_default(self) -> None:
        """Without --password nothing is asked."""
        self.assertIsNone(self.parse()["password-hash"])

    def test_password_is_kept_hashed(self) -> None:
        """--password PASSWORD keeps a scrypt hash of it, never the password."""
        options = self.parse("--password", PASSWORD)
        self.assertNotIn(PASSWORD, repr(dict(options)))
        self.assertTrue(verify_password(PASSWORD, options["password-hash"]))

    def test_password_rule(self) -> None:
        """1 to 100 characters with no spaces or control characters: 100 accepted, 101, empty or with a space refused,
        and the message never repeats the password."""
        self.assertTrue(verify_password("p" * 100, self.parse("--password", "p" * 100)["password-hash"]))
        for bad in ("p" * 101, "", "two words", "tab\there"):
            with self.assertRaises(usage.UsageError) as raised:
                self.parse("--password", bad)
            self.assertIn("1 to 100 characters with no spaces or control characters", str(raised.exception))
            if bad:
                self.assertNotIn(bad, str(raised.exception))

    def test_password_file(self) -> None:
        """--password-file: the first line that is not blank or a # comment; mode 0600 needed; given twice refused."""
        path = self.mktemp()
        with open(path, "w", encoding="utf-8") as secrets:
            secrets.write("# the LAN party\n\n  sesame  \nignored\n")
        os.chmod(path, 0o600)
        self.assertTrue(verify_password("sesame", self.parse("--password-file", path)["password-hash"]))
        self.assertRaises(usage.UsageError, self.parse, "--password-file", path, "--password", PASSWORD)
        os.chmod(path, 0o644)
        with self.assertRaises(usage.UsageError) as raised:
            self.parse("--password-file", path)
        self.assertIn("other users may read it (mode 0644); chmod 600 it", str(raised.exception))
        empty = self.mktemp()
        with open(empty, "w", encoding="utf-8") as secrets:
            secrets.write("# nothing\n")
        os.chmod(empty, 0o600)
        self.assertRaises(usage.UsageError, self.parse, "--password-file", empty)


    def test_every_door_asks_for_it(self) -> None:
        """makeService gives the one password to every door (native, IRC, the web door's WebSockets):
        whatever one door requires the others do."""
        options = self.parse("--password", PASSWORD, "--db", ":memory:", "--no-sniff", "--exit-code-file", self.mktemp())
        top = tap.makeService(options, reactor=UDPMemoryReactor(), announce_to=io.StringIO())
        [chat_service] = [service for service in IServiceCollection(top) if isinstance(service, ChatService)]
        native, irc, web = chat_service.factories
        self.assertEqual([type(f).__name__ for f in (native, irc, web)], ["NativeFactory", "IRCFactory", "WebSocketFactory"])
        self.assertIs(native.server_password, irc.server_password)
        self.assertIs(native.server_password, web.server_password)
        self.assertTrue(native.server_password.required)


class ServerPasswordCheckTests(SynchronousTestCase):
    """``ServerPassword.check`` itself, the one check both doors use."""

    def setUp(self) -> None:
        self.chat, self.clock = make_server()
        self.password = ServerPassword(self.chat, hash_password(PASSWORD, n=2, r=1, p=1))

    def attempt(self, password: str, source: str = "192.0.2.7") -> "Failure | None":
        user, _ = connect(self.chat, source)
        outcome: list[Any] = []
        self.password.check(user, password).addBoth(outcome.append)
        user.disconnected()
        return outcome[0]

    def test_no_password_asked_lets_anything_through(self) -> None:
        """A server without --password: the check succeeds whatever is given (nothing at all too)."""
        open_server = ServerPassword(self.chat)
        user, _ = connect(self.chat)
        self.assertIsNone(self.successResultOf(open_server.check(user, None)))
        self.assertIsNone(self.successResultOf(open_server.check(user, "anything")))

    def test_a_right_password_clears_the_address_record(self) -> None:
        """3 wrong passwords from an address are its free ones; after a right one the next wrong one is checked
        again (and refused as wrong) rather than starting the 2 s delay."""
        for _ in range(3):
            self.assertEqual(self.attempt("nope").value.code, "bad_server_password")
        self.assertIsNone(self.attempt(PASSWORD))
        self.assertEqual(self.attempt("nope").value.code, "bad_server_password")

    def test_a_checked_connection_leaves_no_record(self) -> None:
        """One try a connection: once its password is checked, right or wrong, nothing of the connection is
        kept (its address's record is what counts), so a closed connection is not held in memory."""
        kept: list[weakref.ref[Any]] = []
        for password in ("nope", PASSWORD):
            user, _ = connect(self.chat, "192.0.2.8")
            self.password.check(user, password).addErrback(lambda failure: None)
            user.disconnected()
            kept.append(weakref.ref(user))
            del user
        gc.collect()
        self.assertEqual([ref() for ref in kept], [None, None])


class PasswordedDoorCase(DoorTestCase):
    def fresh_server(self) -> None:
        super().fresh_server()
        self.server_password = ServerPassword(self.chat, hash_password(PASSWORD, n=2, r=1, p=1))
        self.factory = IRCFactory(self.chat, "testbox", self.clock, server_password=self.server_password)
        self.native_factory = NativeFactory(self.chat, "testbox", server_password=self.server_password)


class IRCPasswordTests(PasswordedDoorCase):
    def test_the_last_pass_counts_and_pass_after_registration_is_462(self) -> None:
        """Of several PASS lines the last counts; once registered, PASS gets 462."""
        client = self.connect()
        self.assertEqual(client.send("PASS wrong", f"PASS {PASSWORD}", "NICK foo", "USER u * * :R")[0].command, "001")
        self.assertEqual(client.one(f"PASS {PASSWORD}").command, "462")

    def test_registration_waits_for_the_check(self) -> None:
        """The password is checked off the reactor: 001 comes when the check answers, and LUSERS counts the
        connection as unknown (253) meanwhile."""
        passwords, runner = late_passwords()
        self.chat.passwords = passwords
        client = self.connect()
        self.assertEqual(client.send(f"PASS {PASSWORD}", "NICK foo", "USER u * * :R"), [])
        self.assertEqual(self.chat.counts().unregistered, 1)
        runner.finish()
        self.assertEqual(client.received()[0].command, "001")

    def test_guessing_limits(self) -> None:
        """From one address 3 wrong passwords are free and the 4th starts a 2 s delay: the 5th try within it gets
        `464 … :Too many wrong server passwords; try again in 2 s.` without a check. Sources that failed share 3
        checks an hour, used up by now: 20 minutes later the right password is checked and accepted."""
        for number in range(4):
            self.assertEqual(self.connect().send("PASS nope", f"NICK foo{number}", "USER u * * :R")[0].command, "464")
        lines = self.connect().send(f"PASS {PASSWORD}", "NICK foo", "USER u * * :R")
        self.assertEqual(lines[0].params[-1], "Too many wrong server passwords; try again in 2 s.")
        self.clock.advance(2)
        self.assertEqual(self.connect().send(f"PASS {PASSWORD}", "NICK bar", "USER u * * :R")[0].command, "464")
        self.clock.advance(1200)
        self.assertEqual(self.connect().send(f"PASS {PASSWORD}", "NICK baz", "USER u * * :R")[0].command, "001")


class NativePasswordTests(PasswordedDoorCase):
    def client(self) -> tuple[Client, dict]:
        """A native connection from 127.0.0.1 (as the IRC test clients), and the welcome it got."""
        client = Client(self.native_factory)
        return client, client.welcome

    def test_welcome_says_a_password_is_needed(self) -> None:
        """The welcome has `"password_required": true` (false on a server without one)."""
        _, welcome = self.client()
        self.assertIs(welcome["password_required"], True)
        self.assertIs(NativeFactory(self.chat, "testbox").welcome()["password_required"], False)

    def test_hello_with_the_password_answers_the_welcome(self) -> None:
        """`hello` with the right `password` is answered with the welcome; then the session list and joins work."""
        client, welcome = self.client()
        self.assertEqual(client.send({"type": "hello", "protocol": 1, "password": PASSWORD, "id": 1}), [{**welcome, "id": 1}])
        self.assertEqual(client.send({"type": "list"})[0]["type"], "sessions")
        self.assertEqual(client.send({"type": "join", "session": 2, "username": "alice"})[0]["type"], "joined")

    def test_anything_else_first_is_refused_and_closes(self) -> None:
        """Any frame but hello first: `server_password_required`, and the connection closes."""
        client, _ = self.client()
        [error] = client.send({"type": "list", "id": 4})
        self.assertEqual((error["code"], error["message"], error["id"]), (
            "server_password_required", "This server needs a password: send it in a hello first.", 4,
        ))
        self.assertTrue(client.transport.disconnecting)

    def test_hello_without_or_with_a_wrong_password(self) -> None:
        """hello without password: `server_password_required`; with a wrong one: `bad_server_password`
        ("Wrong server password."); both close; a non-string password is bad_field."""
        client, _ = self.client()
        self.assertEqual(client.send({"type": "hello", "protocol": 1})[0]["code"], "server_password_required")
        self.assertTrue(client.transport.disconnecting)
        client, _ = self.client()
        [error] = client.send({"type": "hello", "protocol": 1, "password": "nope"})
        self.assertEqual((error["code"], error["message"]), ("bad_server_password", "Wrong server password."))
        self.assertTrue(client.transport.disconnecting)
        client, _ = self.client()
        self.assertEqual(client.send({"type": "hello", "protocol": 1, "password": 12345})[0]["code"], "bad_field")
        self.assertEqual(client.send({"type": "hello", "protocol": 1, "password": ""})[0]["code"], "bad_field")

    def test_frames_while_the_check_runs(self) -> None:
        """While the password is checked, another frame gets wrong_state and the connection stays; no session-list
        event reaches a connection before its password is accepted."""
        passwords, runner = late_passwords()
        self.chat.passwords = passwords
        client, _ = self.client()
        self.assertEqual(client.send({"type": "hello", "protocol": 1, "password": PASSWORD}), [])
        self.assertEqual(client.send({"type": "ping"})[0]["code"], "wrong_state")
        NativeClient(NativeFactory(self.chat, "testbox")).send(type="create", name="garden", username="bob")
        self.assertEqual(client.transport.value(), b"")
        runner.finish()
        self.assertEqual(client.frames()[0]["type"], "welcome")

    def test_guessing_limits_are_shared_with_irc(self) -> None:
        """4 wrong passwords from one address through IRC, then a native hello within 2 s: too_many_attempts with
        retry_after 2, and closed."""
        for number in range(4):
            IRCClient(self.factory).send("PASS nope", f"NICK foo{number}", "USER u * * :R")
        client, _ = self.client()
        [error] = client.send({"type": "hello", "protocol": 1, "password": PASSWORD})
        self.assertEqual((error["code"], error["retry_after"]), ("too_many_attempts", 2))
        self.assertTrue(client.transport.disconnecting)


class DiscoveryTests(SynchronousTestCase):
    def test_answer_says_a_password_is_needed(self) -> None:
        """A discovery answer carries `"password": true` from a passworded server; absent means false; not a boolean,
        the answer is ignored; glozichat-discover shows ` password` and `"password": true`."""
        responder, transport, _ = make_responder(password_required=True)
        responder.datagramReceived(encode_probe(new_probe(reply_port=50001)), (CLIENT, 40404))
        [(data, _)] = transport.written
        self.assertIs(json.loads(data)["password"], True)
        self.assertTrue(decode_answer(data).password)
        fields = json.loads(data)
        del fields["password"]
        self.assertFalse(decode_answer(json.dumps(fields).encode()).password)
        fields["password"] = "yes"
        self.assertIsNone(decode_answer(json.dumps(fields).encode()))
        found = FoundServer("lanbox", "192.168.1.20", 7557, None, ("udp",), 0.0021, password=True)
        self.assertEqual(format_server(found), '192.168.1.20:7557 password name="lanbox" via=udp time=2ms')
        self.assertIs(json.loads(format_server(found, as_json=True))["password"], True)

    def test_make_service_advertises_it(self) -> None:
        """With --password the server's discovery answers say password true."""
        options = tap.Options()
        options.parseOptions(["--password", PASSWORD, "--db", ":memory:", "--no-sniff", "--exit-code-file", self.mktemp()])
        top = tap.makeService(options, reactor=UDPMemoryReactor(), announce_to=io.StringIO())
        [discovery] = [service for service in IServiceCollection(top) if isinstance(service, DiscoveryService)]
        self.assertTrue(discovery.responder.password_required)


class PasswordedNetwork(FakeNetwork):
    """A FakeNetwork whose server's welcome says a password is required."""

    def __call__(self, address: ServerAddress, listener: ClientListener) -> "Deferred[ClientProtocol]":
        protocol = ClientProtocol(listener, clock=self.clock)
        protocol.makeConnection(StringTransport())
        protocol.dataReceived(native_wire.encode_frame({**WELCOME, "password_required": True}))
        self.protocols.append(protocol)
        return succeed(protocol)


class ClientPasswordTests(ViewModelTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.network = PasswordedNetwork(self.clock)
        self.model._connector = self.network

    def test_the_client_asks_for_the_password_and_gives_it_in_hello(self) -> None:
        """A welcome with password_required: the Password screen ("This server needs a password."), nothing sent;
        the typed password goes in a hello on a new connection, and its welcome leads to the session list."""
        self.model.start()
        self.assertEqual((self.model.screen, self.model.status), (Screen.PASSWORD, "This server needs a password."))
        self.assertEqual(self.sent(), [])
        self.assertTrue(self.protocol.transport.disconnecting)
        self.assertFalse(self.model.give_password(""))
        self.assertTrue(self.model.give_password(PASSWORD))
        [hello] = self.sent()
        self.assertEqual((hello["type"], hello["protocol"], hello["password"]), ("hello", 1, PASSWORD))
        self.answer({**WELCOME, "password_required": True}, hello)
        [listing] = self.sent()
        self.assertEqual(listing["type"], "list")
        self.answer({"type": "sessions", "sessions": SESSIONS}, listing)
        self.assertIs(self.model.screen, Screen.LOBBY)

    def test_a_wrong_password_is_asked_again_with_the_servers_words(self) -> None:
        """bad_server_password: back to the Password screen with "Wrong server password."; the password is forgotten."""
        self.model.start()
        self.model.give_password("nope")
        [hello] = self.sent()
        self.protocol.dataReceived(native_wire.encode_frame(
            {"type": "error", "code": "bad_server_password", "message": "Wrong server password.", "id": hello["id"]}
        ))
        self.assertEqual((self.model.screen, self.model.status), (Screen.PASSWORD, "Wrong server password."))
        self.assertIsNone(self.model.server_password)

    def test_the_password_is_not_offered_to_another_server(self) -> None:
        """A password typed for one server is forgotten when the user connects to another."""
        self.model.start()
        self.model.give_password(PASSWORD)
        self.model.connect_to(ServerAddress("127.0.0.2", 7557))
        self.assertIs(self.model.screen, Screen.PASSWORD)
        self.assertEqual(self.sent(), [])


class GoneDuringTheCheckTests(PasswordedDoorCase):
    def test_a_connection_gone_during_the_check_never_becomes_a_user(self) -> None:
        """An IRC client that hangs up while its password is checked is never registered or counted."""
        passwords, runner = late_passwords()
        self.chat.passwords = passwords
        client = self.connect()
        client.send(f"PASS {PASSWORD}", "NICK foo", "USER u * * :R")
        client.protocol.connectionLost(None)
        runner.finish()
        self.assertEqual((client.received(), self.chat.counts().users, self.chat.most_users), ([], 0, 0))
