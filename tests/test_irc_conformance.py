"""The conformance checklist (docs/irc-conformance.md) pinned: one test per row
or group of rows of the modern irctest suite, with the numerics and parameter
positions those tests expect, on the IRC door as irctest configures a server
(named My.Little.Server, one operator operuser / operpassword)."""

from glozi.domain.chat import ChatServer
from glozi.domain.operators import Operators
from glozi.doors.irc.protocol import IRCFactory
from tests.helpers import TEST_EXIT_CODE, quick_passwords
from tests.test_irc_protocol import DoorTestCase, IRCClient
from tests.test_operators import cheap_account

SERVER = "My.Little.Server"


def replies(lines: list) -> list[tuple[str, list[str]]]:
    return [(line.command, line.params) for line in lines]


class ConformanceCase(DoorTestCase):
    def fresh_server(self) -> None:
        super().fresh_server()
        self.chat = ChatServer(self.clock, exit_code=TEST_EXIT_CODE, passwords=quick_passwords(), idle_timeout=240)
        operators = Operators(self.chat, [cheap_account("operuser", "operpassword")])
        self.factory = IRCFactory(self.chat, SERVER, self.clock, operators=operators, description="test server")

    def user(self, nick: str, user_name: str | None = None) -> IRCClient:
        client = self.connect()
        lines = client.send(f"NICK {nick}", f"USER {user_name or nick} 0 * :Realname")
        self.assertEqual(lines[0].command, "001")
        return client

    def quit(self, client: IRCClient) -> None:
        client.send("QUIT :bye")
        client.protocol.connectionLost(None)


class LusersTests(ConformanceCase):
    def lusers(self, client: IRCClient) -> dict[str, list[str]]:
        return {line.command: line.params for line in client.send("LUSERS")}

    def test_lusers_counts_registered_users_only(self) -> None:
        """lusers::LusersUnregisteredTestCase: a connection that sent NICK only is 253, not a user in 251/255/265/266."""
        bar = self.user("bar")
        qux = self.connect()
        qux.send("NICK qux")
        numbers = self.lusers(bar)
        self.assertEqual(numbers["251"], ["bar", "There are 1 users and 0 invisible on 1 servers"])
        self.assertEqual(numbers["253"][:2], ["bar", "1"])
        self.assertEqual(numbers["255"], ["bar", "I have 1 clients and 0 servers"])
        self.assertEqual(numbers["265"][:3], ["bar", "1", "1"])
        self.assertEqual(numbers["266"][:3], ["bar", "1", "1"])
        qux.send("USER u s e r")
        numbers = self.lusers(bar)
        self.assertEqual(numbers["253"][:2], ["bar", "0"])
        self.assertEqual(numbers["266"][:3], ["bar", "2", "2"])

    def test_lusers_after_a_quit(self) -> None:
        """lusers::BasicLusersTestCase::testLusersFull: 1 user (max 1), 2 (max 2), after a QUIT 1 (max 2); nick first."""
        bar = self.user("bar")
        self.assertEqual(self.lusers(bar)["265"][:3], ["bar", "1", "1"])
        qux = self.user("qux")
        numbers = self.lusers(qux)
        self.assertEqual(numbers["265"][:3], ["qux", "2", "2"])
        self.assertTrue(all(params[0] == "qux" for params in numbers.values()))
        self.quit(qux)
        numbers = self.lusers(bar)
        self.assertEqual((numbers["265"][:3], numbers["266"][:3]), (["bar", "1", "2"], ["bar", "1", "2"]))
        self.assertEqual(numbers["253"][:2], ["bar", "0"])
