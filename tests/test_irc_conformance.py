"""The conformance checklist (docs/irc-conformance.md) pinned: one test per row
or group of rows of the modern irctest suite, with the numerics and parameter
positions those tests expect, on the IRC door as irctest configures a server
(named My.Little.Server, one operator operuser / operpassword, and
--no-builtin-sessions, as benchmarks/conformance/controllers.py starts it)."""

from glozi.domain.chat import ChatServer
from glozi.domain.operators import Operators
from glozi.domain.serverpassword import ServerPassword
from glozi.doors.irc.protocol import IRCFactory
from glozi.doors.native.protocol import NativeFactory
from glozi.storage.passwords import hash_password
from tests.helpers import TEST_EXIT_CODE, quick_passwords
from tests.test_irc_protocol import DoorTestCase, IRCClient
from tests.test_irc_queries import listed
from tests.test_operators import cheap_account

SERVER = "My.Little.Server"
PASSWORD = "testpassword"


def replies(lines: list) -> list[tuple[str, list[str]]]:
    return [(line.command, line.params) for line in lines]


class ConformanceCase(DoorTestCase):
    def fresh_server(self) -> None:
        super().fresh_server()
        self.chat = ChatServer(
            self.clock, exit_code=TEST_EXIT_CODE, passwords=quick_passwords(), idle_timeout=240, builtin_sessions=False
        )
        operators = Operators(self.chat, [cheap_account("operuser", "operpassword")])
        self.factory = IRCFactory(self.chat, SERVER, self.clock, operators=operators, description="test server")
        self.native_factory = NativeFactory(self.chat, SERVER, operators=operators)

    def user(self, nick: str, user_name: str | None = None) -> IRCClient:
        client = self.connect()
        lines = client.send(f"NICK {nick}", f"USER {user_name or nick} 0 * :Realname")
        self.assertEqual(lines[0].command, "001")
        return client

    def minutes_pass(self, minutes: int, *clients: IRCClient) -> None:
        """Let time go by as irctest's _sleep_minutes does: its clients answer every PING."""
        for _ in range(minutes):
            self.clock.advance(60)
            for client in clients:
                client.send(f"PONG {SERVER}")

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


class TopicTests(ConformanceCase):
    def test_topic_privileges(self) -> None:
        """topic::testTopicPrivileges: the op sets it under +t; a member and a voiced member get 482; a joiner gets 332 and one 333."""
        bar = self.member("bar", "#chan")
        self.assertNotIn("482", [line.command for line in bar.send("MODE #chan +t")])
        self.assertEqual(replies(bar.send("TOPIC #chan :new topic")), [("TOPIC", ["#chan", "new topic"])])
        qux = self.member("qux", "#chan")
        self.assertEqual([line.command for line in qux.send("TOPIC #chan :new topic")], ["482"])
        bar.received()
        self.assertEqual([line.command for line in bar.send("MODE #chan +v qux")], ["MODE"])
        qux.received()
        self.assertEqual([line.command for line in qux.send("TOPIC #chan :new topic")], ["482"])
        joined = self.user("buzz").send("JOIN #chan")
        self.assertEqual([line.params for line in joined if line.command == "332"], [["buzz", "#chan", "new topic"]])
        self.assertEqual([line.command for line in joined].count("333"), 1)

    def test_unset_topic_responses(self) -> None:
        """topic::testUnsetTopicResponses and testTopicMode: no 331 on JOIN, 331 when asked; set, cleared and -t topics reach both."""
        bar = self.member("bar", "#test")
        baz = self.user("baz")
        self.assertNotIn("331", [line.command for line in baz.send("JOIN #test")])
        self.assertEqual([line.command for line in baz.send("TOPIC #test")], ["331"])
        bar.received()
        for text in ("new topic", ""):
            self.assertEqual(replies(bar.send(f"TOPIC #test :{text}")), [("TOPIC", ["#test", text])])
            self.assertEqual(replies(baz.received()), [("TOPIC", ["#test", text])])
        bar.send("MODE #chan -t", "MODE #test -t")
        baz.received()
        baz.send("TOPIC #test :T0P1C")
        self.assertEqual(replies(bar.received()), [("TOPIC", ["#test", "T0P1C"])])


class LimitTests(ConformanceCase):
    def test_limit_set_full_changed_and_removed(self) -> None:
        """chmodes/limit: `+l 2` echoed; the 3rd joiner gets only `471 user3 #chan`; `+l 3` and `-l` echoed, then joins work."""
        chanop = self.member("chanop", "#chan")
        self.assertEqual(replies(chanop.send("MODE #chan +l 2")), [("MODE", ["#chan", "+l", "2"])])
        self.member("user2", "#chan")
        self.assertEqual([(line.command, line.params[:2]) for line in self.user("user3").send("JOIN #chan")],
                         [("471", ["user3", "#chan"])])
        chanop.received()
        self.assertEqual(replies(chanop.send("MODE #chan +l 3")), [("MODE", ["#chan", "+l", "3"])])
        self.member("user4", "#chan")
        chanop.received()
        self.assertEqual(replies(chanop.send("MODE #chan -l")), [("MODE", ["#chan", "-l"])])
        self.member("user5", "#chan")

    def test_limit_below_the_members_and_invalid_values(self) -> None:
        """testLimitDecrease and testLimitInvalidValues: `+l 1` keeps everyone; `0`, `-1`, `abc`, empty get one `696 chanop #chan l`."""
        chanop = self.member("chanop", "#chan")
        user2 = self.member("user2", "#chan")
        chanop.received()
        for value in ("0", "-1", "abc", ""):
            [refusal] = chanop.send(f"MODE #chan +l :{value}")
            self.assertEqual((refusal.command, refusal.params[:3]), ("696", ["chanop", "#chan", "l"]))
        self.member("user3", "#chan")
        chanop.send("MODE #chan +l 1")
        chanop.received()
        user2.send("PRIVMSG #chan :still here")
        self.assertEqual(replies(chanop.received()), [("PRIVMSG", ["#chan", "still here"])])
        self.assertEqual(self.user("user4").send("JOIN #chan")[0].command, "471")

    def test_an_invitation_passes_the_limit(self) -> None:
        """testLimitWithInvite: under a full `+l 1`, `INVITE user2 #chan` lets user2 join."""
        chanop = self.member("chanop", "#chan")
        chanop.send("MODE #chan +l 1")
        user2 = self.user("user2")
        self.assertEqual(user2.send("JOIN #chan")[0].command, "471")
        chanop.send("INVITE user2 #chan")
        user2.received()
        self.assertEqual(user2.send("JOIN #chan")[0].command, "JOIN")


class InviteTests(ConformanceCase):
    def test_invites(self) -> None:
        """invite::testInvites: 401 for a nick not there, 473 under +i, `341 foo bar #chan`, `:foo!… INVITE bar #chan`, then the JOIN."""
        foo = self.member("foo", "#chan")
        self.assertEqual(replies(foo.send("MODE #chan +i")), [("MODE", ["#chan", "+i"])])
        self.assertEqual(foo.one("INVITE bar #chan").command, "401")
        bar = self.user("bar")
        self.assertEqual(bar.one("JOIN #chan").command, "473")
        self.assertEqual(replies(foo.send("INVITE bar #chan")), [("341", ["foo", "bar", "#chan"])])
        [invite] = bar.received()
        self.assertEqual((invite.prefix.split("!")[0], invite.command, invite.params), ("foo", "INVITE", ["bar", "#chan"]))
        self.assertEqual(bar.send("JOIN #chan")[0].command, "JOIN")

    def test_invite_refusals_and_silence(self) -> None:
        """invite: `442 foo #chan` from outside (bar hears nothing), `443 baz bar #chan`; other members are not told."""
        baz = self.member("baz", "#chan")
        foo, bar = self.user("foo"), self.member("bar", "#chan")
        baz.received()
        self.assertEqual(foo.one("INVITE bar #chan").params[:2], ["foo", "#chan"])
        self.assertEqual(bar.received(), [])
        self.assertEqual(baz.one("INVITE bar #chan").params[:3], ["baz", "bar", "#chan"])
        self.assertEqual(baz.one("INVITE foo #chan").command, "341")
        self.assertEqual(bar.received(), [])

    def test_deopping_yourself_is_refused(self) -> None:
        """invite::testInviteUnopped / testInviteInviteOnly need `MODE #chan -o foo` (rule: a session always has one admin): 696."""
        foo = self.member("foo", "#chan")
        self.assertEqual(foo.one("MODE #chan -o foo").command, "696")


class ModesTests(ConformanceCase):
    def test_no_external_messages_mode(self) -> None:
        """chmodes/no_external::testNoExternalMessagesMode: under +n baz's PRIVMSG gets 404 and chanop hears nothing;
        `MODE #chan -n` is echoed `MODE #chan -n`; then chanop gets `PRIVMSG #chan :hi again from baz`."""
        chanop = self.member("chanop", "#chan")
        chanop.send("MODE #chan +n")
        baz = self.user("baz")
        self.assertIn("404", [line.command for line in baz.send("PRIVMSG #chan :hi from baz")])
        self.assertEqual(chanop.received(), [])
        mode_lines = [line for line in chanop.send("MODE #chan -n") if line.command == "MODE"]
        self.assertEqual(mode_lines[0].params, ["#chan", "-n"])
        baz.send("PRIVMSG #chan :hi again from baz")
        relays = chanop.received()
        self.assertEqual((relays[0].command, relays[0].params), ("PRIVMSG", ["#chan", "hi again from baz"]))

    def test_channel_mode_is(self) -> None:
        """chmodes/modeis::testChannelModeIs: after +int, 324 `+int` and 329; `-int` takes all three off
        (each its own MODE line, where the test wants one `-int`); then `324 chanop #chan +` exactly."""
        chanop = self.member("chanop", "#chan")
        chanop.send("MODE #chan +int")
        shown = chanop.send("MODE #chan")
        self.assertEqual({line.command for line in shown}, {"324", "329"})
        self.assertEqual(shown[0].params, ["chanop", "#chan", "+int"])
        lines = chanop.send("MODE #chan -int")
        self.assertEqual([(line.command, line.params) for line in lines], [("MODE", ["#chan", f"-{letter}"]) for letter in "int"])
        shown = chanop.send("MODE #chan")
        self.assertEqual({line.command for line in shown}, {"324", "329"})
        self.assertEqual(shown[0].params, ["chanop", "#chan", "+"])

    def test_moderated_and_ban_join(self) -> None:
        """chmodes/moderated and ban::testBanJoin: +m gives a member 404 until +v; `+b bar!*@*` gives Bar 474 first, `-b` lets Bar in."""
        chanop = self.member("chanop", "#chan")
        baz = self.member("baz", "#chan")
        chanop.send("MODE #chan +m")
        baz.received()
        self.assertEqual(baz.one("PRIVMSG #chan :hi").params[:2], ["baz", "#chan"])
        chanop.send("MODE #chan +v baz")
        baz.received()
        self.assertEqual(baz.send("PRIVMSG #chan :hi"), [])
        chanop.received()
        self.assertEqual([line.command for line in chanop.send("MODE #chan +b bar!*@*")], ["MODE"])
        bar = self.user("Bar")
        self.assertEqual(bar.send("JOIN #chan")[0].command, "474")
        self.assertEqual(replies(chanop.send("MODE #chan +b"))[0], ("367", ["chanop", "#chan", "bar!*@*"]))
        chanop.send("MODE #chan -b bar!*@*")
        self.assertEqual(bar.send("JOIN #chan")[0].command, "JOIN")


class WhoTests(ConformanceCase):
    def setUp(self) -> None:
        super().setUp()
        self.cool = self.connect()
        self.cool.send("NICK coolNick", "USER myusernam 0 * :My UniqueReal Name", "JOIN #chan")
        self.other = self.member("otherNick", "#chan")
        self.cool.received()

    def who(self, mask: str) -> list[tuple[str, list[str]]]:
        return replies(self.other.send(f"WHO {mask}"))

    def cool_reply(self, flags: str) -> tuple[str, list[str]]:
        return ("352", ["otherNick", "#chan", "~myusernam", "glozichat", SERVER, "coolNick", flags, "0 My UniqueReal Name"])

    def test_who_nick_and_mask(self) -> None:
        """who::testWhoNick / testWhoStar: one 352 per user (`H@` for the op), `315` naming the mask as sent."""
        for mask in ("coolNick", "coolnick", "coolni*"):
            self.assertEqual(self.who(mask), [self.cool_reply("H@"), ("315", ["otherNick", mask, "End of WHO list"])])
        star = self.who("*")
        self.assertEqual(len(star), 3)
        self.assertIn(self.cool_reply("H@"), star)
        self.assertEqual(star[-1][1][:2], ["otherNick", "*"])

    def test_who_away_and_oper_flags(self) -> None:
        """who::testWhoNickAway / Oper / AwayAndOper / testWhoChan: `G@`, `H*@`, `G*@`; `WHO #CHAN` 2 × 352 then 315 #CHAN."""
        self.cool.send("AWAY :be right back")
        self.assertEqual(self.who("coolni*")[0], self.cool_reply("G@"))
        self.cool.send("AWAY")
        self.assertEqual([line.command for line in self.cool.send("OPER operuser operpassword")], ["381", "MODE"])
        self.assertEqual(self.who("coolNick")[0], self.cool_reply("H*@"))
        self.cool.send("AWAY :be right back")
        channel = self.who("#CHAN")
        self.assertEqual(channel[0], self.cool_reply("G*@"))
        self.assertEqual((channel[1][1][5:7], channel[2]), (["otherNick", "H"], ("315", ["otherNick", "#CHAN", "End of WHO list"])))

    def test_whois_user_fields(self) -> None:
        """whois::testWhoisUser: first reply `311 otherNick coolNick ~myusernam <host> * :My UniqueReal Name`, in the 3 forms."""
        for line in ("WHOIS coolNick", f"WHOIS {SERVER} coolNick", "WHOIS coolNick coolNick"):
            first = self.other.send(line)[0]
            self.assertEqual(
                (first.command, first.params),
                ("311", ["otherNick", "coolNick", "~myusernam", "glozichat", "*", "My UniqueReal Name"]),
            )

    def test_userhost_here_and_away(self) -> None:
        """away::testAwayUserhost: `302 :coolNick=+…` here, `=-` away."""
        self.assertEqual(self.other.one("USERHOST coolNick").params[1], "coolNick=+coolNick@glozichat")
        self.cool.send("AWAY :gone")
        self.assertEqual(self.other.one("USERHOST coolNick").params[1], "coolNick=-coolNick@glozichat")


class ReasonTests(ConformanceCase):
    def test_part_and_quit_reasons_reach_the_others(self) -> None:
        """part::testPartMessage and quit::testQuit: `PART #chan :bye everyone` to both; `QUIT :qux out` reaches bar with the reason."""
        bar = self.member("bar", "#chan")
        qux = self.member("qux", "#chan")
        bar.received()
        self.assertEqual(replies(qux.send("PART #chan :bye everyone")), [("PART", ["#chan", "bye everyone"])])
        self.assertEqual(replies(bar.received()), [("PART", ["#chan", "bye everyone"])])
        qux.send("JOIN #chan")
        bar.received()
        qux.send("QUIT :qux out")
        qux.protocol.connectionLost(None)
        [quit] = bar.received()
        self.assertEqual((quit.prefix.split("!")[0], quit.command), ("qux", "QUIT"))
        self.assertIn("qux out", quit.params[0])


class OperatorTests(ConformanceCase):
    def test_oper(self) -> None:
        """oper: `381 baz` and one `MODE baz +o`; a wrong password or name `464 baz`; one parameter 461; never 381."""
        baz = self.user("baz")
        for line in ("OPER operuser nope", "OPER nobody operpassword"):
            self.assertEqual(baz.one(line).params[:2], ["baz", "Password incorrect"])
        self.assertEqual(baz.one("OPER operuser").command, "461")
        self.assertEqual(replies(baz.send("OPER operuser operpassword")),
                         [("381", ["baz", "You are now an IRC operator"]), ("MODE", ["baz", "+o"])])

    def test_kill_and_wallops(self) -> None:
        """kill and wallops: a non-oper's KILL and WALLOPS get `481`; the oper's KILL drops its target; WALLOPS reaches +w only."""
        nick1, nick2, nick3 = self.user("nick1"), self.user("nick2"), self.user("nick3")
        self.assertEqual(nick1.one("KILL nick2 :go").params[0], "nick1")
        self.assertEqual(nick1.one("WALLOPS :hi everyone").command, "481")
        self.assertFalse(nick2.closed)
        nick1.send("OPER operuser operpassword")
        nick2.send("MODE nick2 -w")
        nick3.send("MODE nick3 +w")
        self.assertEqual(nick1.send("WALLOPS :hi everyone"), [])
        self.assertEqual(replies(nick3.received()), [("WALLOPS", ["hi everyone"])])
        self.assertEqual(nick2.received(), [])
        nick1.send("KILL nick2 :go")
        self.assertTrue(nick2.closed)

    def test_info_after_oper(self) -> None:
        """info: after OPER, `INFO` and `INFO My.Little.Server` are 371 lines then 374; another server `402 nick target`."""
        nick = self.user("nick")
        nick.send("OPER operuser operpassword")
        for line in ("INFO", f"INFO {SERVER}"):
            commands = [reply.command for reply in nick.send(line)]
            self.assertEqual((set(commands[:-1]), commands[-1]), ({"371"}, "374"))
        for target in ("invalid.server.example", "invalidserver"):
            self.assertEqual(nick.send(f"INFO {target}")[0].params[:2], ["nick", target])


class WhowasCountTests(WhowasTests):
    def test_counts(self) -> None:
        """whowas::testWhowasCount*: `WHOWAS nick2 1` one entry; `2`, `0`, `-1` all of them, newest first; `406` then `369` for nobody."""
        self.quit(self.user("nick2", "ident4"))
        for count, idents in (("1", ["~ident4"]), ("2", ["~ident4", "~ident2"]), ("0", ["~ident4", "~ident2"]),
                              ("-1", ["~ident4", "~ident2"])):
            lines = self.nick1.send(f"WHOWAS nick2 {count}")
            self.assertEqual([line.params[2] for line in lines if line.command == "314"], idents)
            self.assertEqual(lines[-1].params[:2], ["nick1", "nick2"])
        self.assertEqual([line.command for line in self.nick1.send("WHOWAS nick9")], ["406", "369"])


class SecretTests(ConformanceCase):
    def test_names_of_a_secret_channel_has_the_at_symbol(self) -> None:
        """names::testNames2812Secret: after `MODE #chan +s`, `353 nick1 @ #chan :@nick1` then 366; a later joiner's 353s have `@` too."""
        nick1 = self.member("nick1", "#chan")
        nick1.send("MODE #chan +s")
        [names, end] = nick1.send("NAMES #chan")
        self.assertEqual(replies([names]), [("353", ["nick1", "@", "#chan", "@nick1"])])
        self.assertEqual((end.command, end.params[:2]), ("366", ["nick1", "#chan"]))
        joined = self.user("nick2").send("JOIN #chan")
        namreplies = [line for line in joined if line.command == "353"]
        self.assertNotEqual(namreplies, [])
        self.assertTrue(all(line.params[:3] == ["nick2", "@", "#chan"] for line in namreplies))

    def test_list_and_whois_show_a_secret_channel_to_its_members_only(self) -> None:
        """chmodes/secret::testSecretChannelListCommand (with --no-builtin-sessions): after `+s` LIST shows exactly `#gen` to
        its member, nothing to another user, exactly `#gen` once they join; WHOIS 319 hides it from others."""
        first = self.member("first", "#gen")
        self.assertEqual(replies(first.send("MODE #gen +s")), [("MODE", ["#gen", "+s"])])
        listed = [line.params[:2] for line in first.send("LIST") if line.command == "322"]
        self.assertEqual(listed, [["first", "#gen"]])
        second = self.user("second")
        self.assertEqual([line for line in second.send("LIST") if line.command == "322"], [])
        self.assertNotIn("319", [line.command for line in second.send("WHOIS first")])
        self.assertEqual(second.send("JOIN #gen")[0].command, "JOIN")
        self.assertEqual([line.params[:2] for line in second.send("LIST") if line.command == "322"], [["second", "#gen"]])
        [channels] = [line for line in second.send("WHOIS first") if line.command == "319"]
        self.assertEqual(channels.params[:2], ["second", "first"])
        self.assertEqual(channels.params[2].split(), ["@#gen"])


    def test_names_alone_leaves_out_a_secret_channel_you_are_not_in(self) -> None:
        """names::testNamesNoArgumentPrivate2812: nick2's `MODE #chan2 +sp` (p is no GloziChat mode: 472 after +s is
        set); nick1's NAMES is `353 nick1 = #chan1 @nick1`, then `366 nick1 * :…`."""
        nick1 = self.user("nick1")
        nick1.send("JOIN #chan1")
        nick2 = self.user("nick2")
        nick2.send("JOIN #chan2")
        self.assertEqual(
            replies(nick2.send("MODE #chan2 +sp")),
            [("472", ["nick2", "p", "is unknown mode char to me"]), ("MODE", ["#chan2", "+s"])],
        )
        self.assertEqual(
            replies(nick1.send("NAMES")),
            [("353", ["nick1", "=", "#chan1", "@nick1"]), ("366", ["nick1", "*", "End of /NAMES list"])],
        )


class ExceptionTests(ConformanceCase):
    def registered(self, nick: str) -> tuple[IRCClient, dict[str, str]]:
        """A user and the ISUPPORT tokens its welcome advertised, as irctest reads them."""
        client = self.connect()
        lines = client.send(f"NICK {nick}", f"USER {nick} 0 * :Realname")
        return client, dict(t.partition("=")[::2] for line in lines if line.command == "005" for t in line.params[1:-1])

    def test_ban_exception_lets_the_banned_join(self) -> None:
        """chmodes/ban::testBanException: EXCEPTS and `e` in CHANMODES group A; `+b ba*!*@*` gives Bar 474; `+e *ar!*@*` → MODE; Bar's JOIN works."""
        chanop, tokens = self.registered("chanop")
        self.assertIn("EXCEPTS", tokens)
        self.assertIn("e", tokens["CHANMODES"].split(",")[0])
        chanop.send("JOIN #chan", "MODE #chan +b ba*!*@*")
        bar = self.user("Bar")
        self.assertEqual(bar.send("JOIN #chan")[0].command, "474")
        self.assertEqual(replies(chanop.send("MODE #chan +e *ar!*@*")), [("MODE", ["#chan", "+e", "*ar!*@*"])])
        self.assertEqual(bar.send("JOIN #chan")[0].command, "JOIN")
        chanop.received()
        self.assertEqual(
            replies(chanop.send("MODE #chan e")), [("348", ["chanop", "#chan", "*ar!*@*"]), ("349", ["chanop", "#chan", "End of channel exception list"])]
        )

    def test_invite_exceptions(self) -> None:
        """chmodes/invite_exception (5 tests): INVEX, `I` in CHANMODES group A; under +i, `+I bar!*@*` → MODE and lets Bar (not Baz) in; `+I` lists 346 then 347; `-I` → MODE and Bar gets 473 again; without +i anyone joins."""
        chanop, tokens = self.registered("chanop")
        chanop.send("JOIN #chan")
        self.assertIn("INVEX", tokens)
        self.assertIn("I", tokens["CHANMODES"].split(",")[0])
        self.assertEqual(replies(chanop.send("MODE #chan +I bar!*@*")), [("MODE", ["#chan", "+I", "bar!*@*"])])
        self.assertEqual(self.user("Baz").send("JOIN #chan")[0].command, "JOIN")
        chanop.send("MODE #chan +i")
        bar, qux = self.user("Bar"), self.user("Qux")
        self.assertEqual(bar.send("JOIN #chan")[0].command, "JOIN")
        self.assertEqual(qux.send("JOIN #chan")[0].command, "473")
        chanop.received()
        self.assertEqual(
            replies(chanop.send("MODE #chan +I")),
            [("346", ["chanop", "#chan", "bar!*@*"]), ("347", ["chanop", "#chan", "End of channel invite exception list"])],
        )
        self.assertEqual(replies(chanop.send("MODE #chan +I qux!*@*")), [("MODE", ["#chan", "+I", "qux!*@*"])])
        self.assertEqual(qux.send("JOIN #chan")[0].command, "JOIN")
        bar.send("PART #chan")
        chanop.received()
        self.assertEqual(replies(chanop.send("MODE #chan -I bar!*@*")), [("MODE", ["#chan", "-I", "bar!*@*"])])
        self.assertEqual(bar.send("JOIN #chan")[0].command, "473")


class NoCtcpTests(ConformanceCase):
    def test_no_ctcp_mode(self) -> None:
        """chmodes/no_ctcp::testNoctcpMode: `C` in CHANMODES; without +C an ACTION and a PING reach chanop as sent, the sender gets nothing;
        under `+C` the ACTION still does, the PING gets one `404 user #chan :…` and reaches nobody."""
        chanop = self.connect()
        welcome = chanop.send("NICK chanop", "USER chanop 0 * :Realname")
        [chanmodes] = [t for line in welcome if line.command == "005" for t in line.params[1:-1] if t.startswith("CHANMODES=")]
        self.assertIn("C", chanmodes)
        chanop.send("JOIN #chan")
        user = self.member("user", "#chan")
        chanop.received()
        self.assertEqual(user.send("PRIVMSG #chan :\x01ACTION is testing\x01", "PRIVMSG #chan :\x01PING 12345\x01"), [])
        self.assertEqual(
            [(line.command, line.params[1]) for line in chanop.received()],
            [("PRIVMSG", "\x01ACTION is testing\x01"), ("PRIVMSG", "\x01PING 12345\x01")],
        )
        self.assertEqual(replies(chanop.send("MODE #chan +C")), [("MODE", ["#chan", "+C"])])
        user.received()
        self.assertEqual(user.send("PRIVMSG #chan :\x01ACTION is testing\x01"), [])
        [refusal] = user.send("PRIVMSG #chan :\x01PING 12345\x01")
        self.assertEqual((refusal.command, refusal.params[:2]), ("404", ["user", "#chan"]))
        self.assertEqual([(line.command, line.params[1]) for line in chanop.received()], [("PRIVMSG", "\x01ACTION is testing\x01")])
        self.assertEqual(chanop.send("MODE #chan")[0].params[2], "+Cnt")


class ListTests(ConformanceCase):
    """list::* with --no-builtin-sessions: only the channels the test's clients made are listed."""

    def test_list_empty(self) -> None:
        """list::testListEmpty: with no channel, LIST is 321 then 323 and no 322."""
        self.user("foo")
        bar = self.user("bar")
        self.assertEqual([line.command for line in bar.send("LIST")], ["321", "323"])

    def test_list_one(self) -> None:
        """list::testListOne: after foo's JOIN #chan, bar's LIST is 321, one 322 for #chan, 323."""
        self.member("foo", "#chan")
        lines = self.user("bar").send("LIST")
        self.assertEqual([line.command for line in lines], ["321", "322", "323"])
        self.assertEqual(lines[1].params[:2], ["bar", "#chan"])

    def test_list_not_mask(self) -> None:
        """list::testListNotMask: !*an1 → {#chan2}, !*an2 and !#c*n2 → {#chan1}, !*an3 → both, !#ch* → none."""
        foo = self.member("foo", "#chan1")
        foo.send("JOIN #chan2")
        bar = self.user("bar")
        expected = {
            "!*an1": {"#chan2"}, "!*an2": {"#chan1"}, "!#c*n2": {"#chan1"}, "!*an3": {"#chan1", "#chan2"}, "!#ch*": set(),
        }
        for terms, channels in expected.items():
            self.assertEqual(listed(bar.send(f"LIST {terms}")), channels, terms)

    def test_list_users(self) -> None:
        """list::testListUsers: #chan1 has 1 member, #chan2 2: >0 and <100 both, <1 none, >1 #chan2, <2 #chan1."""
        foo = self.member("foo", "#chan1")
        foo.send("JOIN #chan2")
        self.user("bar").send("JOIN #chan2")
        baz = self.user("baz")
        expected = {">0": {"#chan1", "#chan2"}, "<1": set(), "<100": {"#chan1", "#chan2"}, ">1": {"#chan2"}, "<2": {"#chan1"}}
        for terms, channels in expected.items():
            self.assertEqual(listed(baz.send(f"LIST {terms}")), channels, terms)

    def test_list_creation_time(self) -> None:
        """list::FaketimeListTestCase::testListCreationTime: #chan1 made 3 minutes ago, #chan2 1: C>2 → {#chan1},
        C<2 → {#chan2}, C<0 → none, C>0 and C<10 → both."""
        foo = self.member("foo", "#chan1")
        bar = self.user("bar")
        self.minutes_pass(2, foo, bar)
        foo.send("JOIN #chan2")
        self.minutes_pass(1, foo, bar)
        expected = {"C>2": {"#chan1"}, "C<2": {"#chan2"}, "C<0": set(), "C>0": {"#chan1", "#chan2"}, "C<10": {"#chan1", "#chan2"}}
        for terms, channels in expected.items():
            self.assertEqual(listed(bar.send(f"LIST {terms}")), channels, terms)

    def test_list_topic_time(self) -> None:
        """list::FaketimeListTestCase::testListTopicTime: #chan1's topic set 3 minutes ago, #chan2's 1: T>2 → {#chan1},
        T<2 → {#chan2}, T<0 → none, T>0 and T<10 → both."""
        foo = self.member("foo", "#chan1")
        foo.send("JOIN #chan2")
        bar = self.user("bar")
        foo.send("TOPIC #chan1 :First channel")
        self.minutes_pass(2, foo, bar)
        foo.send("TOPIC #chan2 :Second channel")
        self.minutes_pass(1, foo, bar)
        expected = {"T>2": {"#chan1"}, "T<2": {"#chan2"}, "T<0": set(), "T>0": {"#chan1", "#chan2"}, "T<10": {"#chan1", "#chan2"}}
        for terms, channels in expected.items():
            self.assertEqual(listed(foo.send(f"LIST {terms}")), channels, terms)


class NamesTests(ConformanceCase):
    def test_names_alone_lists_every_public_channel(self) -> None:
        """names::testNamesNoArgumentPublic1459/2812: nick1 in #chan1, nick2 in #chan2 (`MODE #chan2 -sp`): nick1's
        NAMES is `353 nick1 = #chan1 @nick1`, `353 nick1 = #chan2 @nick2`, then `366 nick1 * :…`."""
        nick1 = self.user("nick1")
        nick1.send("JOIN #chan1")
        nick2 = self.user("nick2")
        nick2.send("JOIN #chan2", "MODE #chan2 -sp")
        self.assertEqual(
            replies(nick1.send("NAMES")),
            [
                ("353", ["nick1", "=", "#chan1", "@nick1"]),
                ("353", ["nick1", "=", "#chan2", "@nick2"]),
                ("366", ["nick1", "*", "End of /NAMES list"]),
            ],
        )

    def test_names_leaves_out_the_invisible_of_channels_you_are_not_in(self) -> None:
        """NAMES (alone or #chan2) lists the members of a channel you are not in who are not +i; a channel
        whose members are all +i gets no 353; its own members still see everyone."""
        nick1 = self.member("nick1", "#chan1")
        nick2 = self.member("nick2", "#chan2")
        nick3 = self.member("nick3", "#chan2")
        nick3.send("MODE nick3 +i")
        self.assertEqual(replies(nick1.send("NAMES #chan2"))[0], ("353", ["nick1", "=", "#chan2", "@nick2"]))
        nick2.send("MODE nick2 +i")
        self.assertEqual([line.params[2] for line in nick1.send("NAMES") if line.command == "353"], ["#chan1"])
        self.assertEqual(replies(nick2.send("NAMES #chan2"))[0], ("353", ["nick2", "=", "#chan2", "@nick2 nick3"]))

    def test_lusers_counts_the_invisible(self) -> None:
        """lusers: 251's two numbers add up to the users; `MODE bar +i` moves bar from the first to the second."""
        bar = self.user("bar")
        self.user("qux")
        bar.send("MODE bar +i")
        [luserclient] = [line for line in bar.send("LUSERS") if line.command == "251"]
        self.assertEqual(luserclient.params, ["bar", "There are 1 users and 1 invisible on 1 servers"])


class Utf8Tests(ConformanceCase):
    def test_utf8only_warns_of_invalid_utf8_and_still_relays(self) -> None:
        """utf8::testUtf8Validation: 005 has UTF8ONLY; `PRIVMSG bar hi` reaches bar; `PRIVMSG bar hi\\xaa` is answered
        first with `WARN PRIVMSG INVALID_UTF8 :…`, and bar still gets it with U+FFFD (docs/irc.md, Bad input)."""
        foo = self.connect()
        lines = foo.send("NICK foo", "USER foo 0 * :Realname")
        self.assertIn("UTF8ONLY", [token for line in lines if line.command == "005" for token in line.params[1:-1]])
        bar = self.user("bar")
        foo.send("PRIVMSG bar hi")
        self.assertEqual([line.params for line in bar.received() if line.command == "PRIVMSG"], [["bar", "hi"]])
        [warning] = foo.send(b"PRIVMSG bar hi\xaa\r\n")
        self.assertEqual(
            (warning.command, warning.params),
            ("WARN", ["PRIVMSG", "INVALID_UTF8", "Invalid UTF-8 was replaced with U+FFFD"]),
        )
        self.assertEqual([line.params for line in bar.received()], [["bar", "hi\ufffd"]])

    def test_valid_utf8_gets_no_warning(self) -> None:
        """Valid UTF-8 beyond ASCII (`héllo`, an emoji) is relayed with no WARN."""
        foo = self.user("foo")
        bar = self.user("bar")
        self.assertEqual(foo.send("PRIVMSG bar :h\u00e9llo \U0001f95d"), [])
        self.assertEqual([line.params for line in bar.received()], [["bar", "h\u00e9llo \U0001f95d"]])


class WhowasWildcardTests(ConformanceCase):
    def test_a_mask_answers_for_the_nicks_it_matches(self) -> None:
        """whowas::testWhowasWildcard: nick2 held twice (ident2, then ident3); `WHOWAS *ck2`: ident3's 314, ident2's,
        then `369 nick1 nick2` (the nick the mask matched, as `WHOWAS nick2` ends)."""
        nick1 = self.user("nick1")
        self.quit(self.user("nick2", "ident2"))
        self.clock.advance(5)
        self.quit(self.user("nick2", "ident3"))
        lines = [line for line in nick1.send("WHOWAS *ck2") if line.command != "312"]
        self.assertEqual(
            replies(lines),
            [
                ("314", ["nick1", "nick2", "~ident3", "glozichat", "*", "Realname"]),
                ("314", ["nick1", "nick2", "~ident2", "glozichat", "*", "Realname"]),
                ("369", ["nick1", "nick2", "End of WHOWAS"]),
            ],
        )

    def test_a_mask_that_matches_nothing_or_several(self) -> None:
        """`WHOWAS nick?,*zz*`: both nicks' entries newest first, `406 nick1 *zz*`, then `369 nick1 nick3,nick2,*zz*`;
        the native whowas takes the same masks, and `count` keeps the newest of all."""
        nick1 = self.user("nick1")
        self.quit(self.user("nick2"))
        self.clock.advance(5)
        self.quit(self.user("nick3"))
        lines = nick1.send("WHOWAS nick?,*zz*")
        self.assertEqual([line.command for line in lines], ["314", "312", "314", "312", "406", "369"])
        self.assertEqual([lines[0].params[1], lines[2].params[1]], ["nick3", "nick2"])
        self.assertEqual(lines[4].params[:2], ["nick1", "*zz*"])
        self.assertEqual(lines[5].params[:2], ["nick1", "nick3,nick2,*zz*"])
        [was] = self.native().send(type="whowas", name="NICK*", count=1)
        self.assertEqual([entry["name"] for entry in was["entries"]], ["nick3"])


class PasswordedRegistrationTests(ConformanceCase):
    """connection_registration::PasswordedConnectionRegistrationTestCase: the server password is `testpassword`
    (irctest's; `--password-file` in benchmarks/conformance/controllers.py)."""

    def fresh_server(self) -> None:
        super().fresh_server()
        server_password = ServerPassword(self.chat, hash_password(PASSWORD, n=2, r=1, p=1))
        self.factory = IRCFactory(self.chat, SERVER, self.clock, server_password=server_password)

    def test_pass_before_nick_and_user_registers(self) -> None:
        """connection_registration::testPassBeforeNickuser: PASS, NICK, USER gets 001."""
        client = self.connect()
        self.assertEqual(client.send(f"PASS {PASSWORD}", "NICK foo", "USER username * * :Realname")[0].command, "001")

    def test_no_pass_gets_464_and_error(self) -> None:
        """testNoPassword: NICK and USER without PASS: `464 foo :This server needs a password.`, ERROR, closed; no 001."""
        client = self.connect()
        lines = client.send("NICK foo", "USER username * * :Realname")
        self.assertEqual(
            [(line.command, line.params) for line in lines],
            [("464", ["foo", "This server needs a password."]), ("ERROR", ["Closing Link: Bad password"])],
        )
        self.assertTrue(client.closed)

    def test_wrong_pass_gets_464_and_error(self) -> None:
        """testWrongPassword: a wrong PASS: `464 foo :Wrong server password.`, then ERROR, closed."""
        client = self.connect()
        lines = client.send(f"PASS {PASSWORD}garbage", "NICK foo", "USER username * * :Realname")
        self.assertEqual((lines[0].command, lines[0].params[-1]), ("464", "Wrong server password."))
        self.assertEqual(lines[1].command, "ERROR")
        self.assertTrue(client.closed)

    def test_pass_after_nick_and_user_is_too_late(self) -> None:
        """testPassAfterNickuser: NICK, USER, then PASS: 464 and closed already, no 001."""
        client = self.connect()
        lines = client.send("NICK foo", "USER username * * :Realname", f"PASS {PASSWORD}")
        self.assertNotIn("001", [line.command for line in lines])
        self.assertTrue(client.closed)


class BufferingTests(ConformanceCase):
    def test_lines_in_pieces_and_lines_too_long_to_relay(self) -> None:
        """buffering::testNoTags (6 cases): a PRIVMSG arriving whole, char per char or byte per byte, with or without
        `:`, reaches nick2 as one line carrying the payload intact when it fits in 512 bytes with nick1's prefix;
        when it would not, nick1 gets `417` and nick2 nothing (the test accepts 417 for exactly those)."""
        smiley = "\U0001f603"
        for colon in ("", ":"):
            for pieces in ("whole", "char", "byte"):
                with self.subTest(colon=colon, pieces=pieces):
                    self.fresh_server()
                    nick1, nick2 = self.user("nick1"), self.user("nick2")
                    nick1.send(f"PRIVMSG nick2 {colon}a")
                    [probe] = nick2.transport.value().split(b"\r\n")[:1]
                    nick2.transport.clear()
                    overhead = len(probe + b"\r\n") - len(f"PRIVMSG nick2 {colon}a\r\n")
                    line = f"PRIVMSG nick2 {colon}"
                    room = 512 - len(line) - 2
                    size = len(smiley.encode())
                    payloads = [
                        "a", smiley, "a" * room, "a" * (room - size) + smiley,
                        "a" * (room - overhead), "a" * (room - size - overhead) + smiley,
                        "a" * (room - overhead + 1), "a" * (room - size - overhead + 1) + smiley,
                    ]
                    for payload in payloads:
                        data = (line + payload + "\r\n").encode()
                        if pieces == "whole":
                            chunks = [data]
                        elif pieces == "char":
                            chunks = [char.encode() for char in line + payload + "\r\n"]
                        else:
                            chunks = [bytes([byte]) for byte in data]
                        for chunk in chunks:
                            nick1.protocol.dataReceived(chunk)
                        answers = nick1.received()
                        relayed = nick2.transport.value()
                        nick2.transport.clear()
                        if [a.command for a in answers] == ["417"]:
                            self.assertGreater(len(data), 512 - overhead)
                            self.assertEqual(relayed, b"")
                        else:
                            self.assertEqual(answers, [])
                            self.assertLessEqual(len(data), 512 - overhead)
                            [received] = IRCClient.parsed(relayed)
                            self.assertEqual((received.command, received.params), ("PRIVMSG", ["nick2", payload]))
