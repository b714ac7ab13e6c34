"""The conformance checklist (docs/irc-conformance.md) pinned: one test per row
or group of rows of the modern irctest suite, with the numerics and parameter
positions those tests expect, on the IRC door as irctest configures a server
(named My.Little.Server, one operator operuser / operpassword)."""

from glozi.domain.chat import ChatServer
from glozi.domain.operators import Operators
from glozi.doors.irc.protocol import IRCFactory
from glozi.doors.native.protocol import NativeFactory
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
        self.native_factory = NativeFactory(self.chat, SERVER, operators=operators)

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


class ChannelOperatorModeTests(ConformanceCase):
    def setUp(self) -> None:
        super().setUp()
        self.chanop = self.member("chanop", "#chan")
        self.unprivileged = self.member("unprivileged", "#chan")
        self.unrelated = self.member("unrelated", "#unrelated")
        self.unprivileged.send("JOIN #unrelated")
        self.chanop.received()
        self.unrelated.received()

    def test_refusals_are_one_line_each(self) -> None:
        """chmodes/operator: 482 (not op), 441 (not in it), 401 (no such nick), 403 (no such channel), 442 (not yours)."""
        self.assertEqual(self.unprivileged.one("MODE #chan +o unprivileged").command, "482")
        self.assertEqual(self.chanop.one("MODE #chan +o unrelated").command, "441")
        self.assertEqual(self.chanop.one("MODE #chan +o nobody").params[:2], ["chanop", "nobody"])
        self.assertEqual(self.chanop.one("MODE #chan +o nobody").command, "401")
        self.assertEqual(self.chanop.one("MODE #nonexistentchan +o chanop").command, "403")
        self.assertIn(self.chanop.one("MODE #nonexistentchan +o nobody").command, ["403", "442", "401", "441"])
        self.assertIn(self.chanop.one("MODE #unrelated +o unprivileged").command, ["442", "482"])
        self.assertIn(self.chanop.one("MODE #unrelated +o chanop").command, ["442", "482", "441"])

    def test_voice_for_no_such_nick_is_401(self) -> None:
        """MODE #chan +v nobody: 401 like +o, not 441."""
        self.assertEqual(self.chanop.one("MODE #chan +v nobody").command, "401")

    def test_handing_op_on_also_takes_it_from_the_giver(self) -> None:
        """chmodes/operator success (rule: one admin per session): `+o-o unprivileged chanop` to both, not `+o unprivileged`."""
        expected = ("MODE", ["#chan", "+o-o", "unprivileged", "chanop"])
        self.assertEqual(replies(self.chanop.send("MODE #chan +o unprivileged")), [expected])
        self.assertEqual(replies(self.unprivileged.received()), [expected])


class KeyTests(ConformanceCase):
    def test_invalid_keys_get_one_696_with_a_star(self) -> None:
        """chmodes/key::testKeyValidation: a key with spaces, of 400 characters or empty: one `696 bar #chan k *`."""
        bar = self.member("bar", "#chan")
        for key in ("passphrase with spaces", "long" * 100, ""):
            [refusal] = bar.send(f"MODE #chan +k :{key}")
            self.assertEqual((refusal.command, refusal.params[:4]), ("696", ["bar", "#chan", "k", "*"]))
        self.assertEqual(self.user("foo").send("JOIN #chan")[0].params, ["#chan"])

    def test_a_key_not_of_5_digits_is_refused(self) -> None:
        """chmodes/key::testKeyNormal (rule: a key is 5 digits): `+k beer` gets 696 and the channel stays open."""
        bar = self.member("bar", "#chan")
        self.assertEqual(bar.one("MODE #chan +k beer").command, "696")
        self.assertEqual(self.user("qux").send("JOIN #chan")[0].command, "JOIN")


class WhowasTests(ConformanceCase):
    def setUp(self) -> None:
        super().setUp()
        self.nick1 = self.user("nick1")
        self.quit(self.user("nick2", "ident2"))
        self.clock.advance(5)
        self.quit(self.user("nick3", "ident3"))

    def test_several_nicks_newest_first_then_one_369(self) -> None:
        """whowas::testWhowasMultiTarget: `WHOWAS nick2,nick3` and `nick3,nick2`: nick3's 314 (newest), nick2's, then `369 nick1 <as sent>`."""
        for targets in ("nick2,nick3", "nick3,nick2"):
            lines = [line for line in self.nick1.send(f"WHOWAS {targets}") if line.command != "312"]
            self.assertEqual(
                replies(lines),
                [
                    ("314", ["nick1", "nick3", "~ident3", "glozichat", "*", "Realname"]),
                    ("314", ["nick1", "nick2", "~ident2", "glozichat", "*", "Realname"]),
                    ("369", ["nick1", targets, "End of WHOWAS"]),
                ],
            )

    def test_a_nick_nobody_had_among_others(self) -> None:
        """`WHOWAS nick2,nick9`: nick2's entry, `406 nick1 nick9`, then one 369 naming both."""
        lines = self.nick1.send("WHOWAS nick2,nick9")
        self.assertEqual([line.command for line in lines], ["314", "312", "406", "369"])
        self.assertEqual(lines[2].params[:2], ["nick1", "nick9"])
        self.assertEqual(lines[3].params[:2], ["nick1", "nick2,nick9"])

    def test_targmax_says_whowas_takes_five(self) -> None:
        """005 advertises TARGMAX …WHOWAS:5, which irctest needs to run the multi-target test."""
        lines = self.connect().send("NICK alice", "USER alice 0 * :Alice")
        tokens = dict(t.partition("=")[::2] for line in lines if line.command == "005" for t in line.params[1:-1])
        self.assertIn("WHOWAS:5", tokens["TARGMAX"].split(","))


class BanTests(ConformanceCase):
    def setUp(self) -> None:
        super().setUp()
        self.chanop = self.member("chanop", "#chan")
        self.bar = self.member("Bar", "#chan")
        self.chanop.received()

    def test_a_banned_member_cannot_talk(self) -> None:
        """chmodes/ban::testBanPrivmsg: after `+b bar!*@*` Bar's PRIVMSG gets exactly `404 Bar #chan`, nobody gets it; after `-b` it is relayed."""
        self.chanop.send("MODE #chan +b bar!*@*")
        self.bar.received()
        [refusal] = self.bar.send("PRIVMSG #chan :hello")
        self.assertEqual((refusal.command, refusal.params[:2]), ("404", ["Bar", "#chan"]))
        self.assertIn("(+b)", refusal.params[2])
        self.assertEqual(self.chanop.received(), [])
        self.chanop.send("MODE #chan -b bar!*@*")
        self.bar.received()
        self.assertEqual(self.bar.send("PRIVMSG #chan :hello"), [])
        self.assertEqual(replies(self.chanop.received()), [("PRIVMSG", ["#chan", "hello"])])

    def test_a_voiced_member_talks_though_banned(self) -> None:
        """A ban does not silence the admin or a voiced member; a banned member's NOTICE is dropped without a reply."""
        self.chanop.send("MODE #chan +b *!*@*", "MODE #chan +v Bar")
        self.bar.received()
        self.assertEqual(self.chanop.send("PRIVMSG #chan :op"), [])
        self.bar.send("PRIVMSG #chan :voiced")
        self.assertEqual([line.params[1] for line in self.chanop.received()], ["voiced"])
        self.chanop.send("MODE #chan -v Bar")
        self.bar.received()
        self.assertEqual(self.bar.send("NOTICE #chan :quiet"), [])
        self.assertEqual(self.chanop.received(), [])

    def test_a_banned_native_member_gets_banned(self) -> None:
        """The same rule in the native door: a say from a member a ban matches gets the error banned."""
        garden = next(session.id for session in self.chat.sessions.values() if session.name == "chan")
        carol = self.native(session=garden, username="carol")
        self.chanop.send("MODE #chan +b carol")
        carol.frames()
        [refusal] = carol.send(type="say", session=garden, text="hi", id=7)
        self.assertEqual((refusal["type"], refusal["code"]), ("error", "banned"))
        self.assertEqual(self.chanop.received(), [])


class KickTests(ConformanceCase):
    def setUp(self) -> None:
        super().setUp()
        self.foo = self.member("foo", "#chan")
        self.bar = self.member("bar", "#chan")
        self.baz = self.member("baz", "#chan")
        self.qux = self.member("qux", "#chan")
        for client in (self.foo, self.bar, self.baz):
            client.received()

    def test_kick_of_two_nicks_is_two_kick_lines(self) -> None:
        """kick::testDoubleKickMessages: `KICK #chan bar,baz :bye` and `KICK #chan,#chan bar,baz :bye`: one KICK line per user."""
        self.foo.send("KICK #chan bar,baz :bye")
        expected = [("KICK", ["#chan", "bar", "bye"]), ("KICK", ["#chan", "baz", "bye"])]
        self.assertEqual(replies(self.qux.received()), expected)
        self.bar.send("JOIN #chan")
        self.baz.send("JOIN #chan")
        self.qux.received()
        self.foo.send("KICK #chan,#chan bar,baz :bye")
        self.assertEqual(replies(self.qux.received()), expected)

    def test_kick_refuses_channels_and_nicks_that_do_not_pair(self) -> None:
        """`KICK #chan,#chan bar,baz,qux`: 461 and nobody kicked; the fifth nick of one line is not kicked."""
        self.assertEqual(self.foo.one("KICK #chan,#chan bar,baz,qux").command, "461")
        self.assertEqual(self.qux.received(), [])
        dave = self.member("dave", "#chan")
        self.qux.received()
        self.foo.send("KICK #chan bar,baz,qux,nobody,dave")
        self.assertEqual([line.params[1] for line in dave.received() if line.command == "KICK"], ["bar", "baz", "qux"])

    def test_kick_privileges(self) -> None:
        """kick::testKickPrivileges: an outsider 442, a member 482, the new op (`MODE +o baz`) kicks bar and foo."""
        carol = self.user("carol")
        self.assertEqual(carol.one("KICK #chan bar").command, "442")
        self.assertEqual(self.baz.one("KICK #chan bar").command, "482")
        self.foo.send("MODE #chan +o baz")
        self.foo.received()
        self.baz.send("KICK #chan bar", "KICK #chan foo")
        self.assertEqual([line.params[1] for line in self.foo.received() if line.command == "KICK"], ["bar", "foo"])
