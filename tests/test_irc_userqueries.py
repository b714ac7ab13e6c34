"""USER fields in WHOIS and WHO, WHO masks, LUSERS, ISON and USERHOST, with
the literals of docs/irc.md."""

from tests.test_irc_protocol import SERVER, DoorTestCase


class UserFieldTests(DoorTestCase):
    def test_user_fields_in_whois_and_who(self) -> None:
        """USER's user name (as ~user) and real name are shown in 311 and 352; a native user's are their nick."""
        alice = self.connect()
        alice.send("NICK alice", "USER al 0 * :Alice Liddell", "JOIN #kiwi")
        self.native(session=2, username="bob")
        alice.received()
        whois = alice.send("WHOIS alice")[0]
        self.assertEqual(whois.params[1:], ["alice", "~al", "glozichat", "*", "Alice Liddell"])
        who = {p.params[5]: p.params[1:] for p in alice.send("WHO #kiwi") if p.command == "352"}
        self.assertEqual(who["alice"], ["#kiwi", "~al", "glozichat", SERVER, "alice", "H", "0 Alice Liddell"])
        self.assertEqual(who["bob"], ["#kiwi", "~bob", "glozichat", SERVER, "bob", "H", "0 bob"])

    def test_user_name_is_cut_and_cleaned(self) -> None:
        """USERLEN=10: a longer user name is cut to 10; characters no nick has are dropped."""
        alice = self.connect()
        lines = alice.send("NICK alice", "USER a!b@c#defghijklmno 0 * :\x02Bold\x02 name")
        tokens = [t for p in lines if p.command == "005" for t in p.params]
        self.assertIn("USERLEN=10", tokens)
        whois = alice.send("WHOIS alice")[0]
        self.assertEqual((whois.params[2], whois.params[5]), ("~abcdefghij", "Bold name"))

    def test_native_whois_shows_user_fields(self) -> None:
        """The native user frame has user_name and real_name."""
        ircbob = self.connect()
        ircbob.send("NICK ircbob", "USER robert 0 * :Robert Tables")
        [user] = self.native().send(type="whois", name="ircbob")
        self.assertEqual((user["user_name"], user["real_name"]), ("robert", "Robert Tables"))


class WhoMaskTests(DoorTestCase):
    def test_a_mask_matches_everyone_but_the_invisible_you_share_nothing_with(self) -> None:
        """WHO a* lists the users matching by nick; one who set +i (IRC `MODE nick +i`, native `modes` invisible)
        only if they share a session with you."""
        alice = self.member("alice", "#kiwi")
        anna = self.member("anna", "#kiwi")
        andy = self.member("andy", "#papaya")
        self.native(session=2, username="arthur")
        amy = self.native(session=4, username="amy")
        lines = alice.send("WHO a*")
        self.assertEqual(sorted(p.params[5] for p in lines if p.command == "352"), ["alice", "amy", "andy", "anna", "arthur"])
        self.assertEqual(lines[-1].params[1:], ["a*", "End of WHO list"])
        for irc in (anna, andy):
            self.assertEqual(irc.send(f"MODE {irc.protocol.nick} +i")[-1].params[1:], ["+i"])
        amy.send(type="modes", invisible=True)
        lines = alice.send("WHO a*")
        self.assertEqual(sorted(p.params[5] for p in lines if p.command == "352"), ["alice", "anna", "arthur"])

    def test_a_mask_matches_user_real_name_host_and_server(self) -> None:
        """A mask is tried on nick, user name, host, server and real name, with ? for one character."""
        alice = self.connect()
        alice.send("NICK alice", "USER al 0 * :Alice Liddell", "JOIN #kiwi")
        for mask in ("*Liddell", "al", "glozichat", SERVER, "ALIC?", "*"):
            lines = alice.send(f"WHO {mask}")
            self.assertEqual([p.command for p in lines], ["352", "315"], mask)
        self.assertEqual([p.command for p in alice.send("WHO b?b")], ["315"])

    def test_exact_nick_and_operators(self) -> None:
        """WHO nick answers whoever holds it, +i or not; WHO mask o lists no one (no operators); WHO 0 is WHO *."""
        alice = self.user("alice")
        bob = self.user("bob")
        self.assertEqual([p.params[5] for p in alice.send("WHO 0") if p.command == "352"], ["alice", "bob"])
        bob.send("MODE bob +i")
        self.assertEqual([p.command for p in alice.send("WHO bob")], ["352", "315"])
        self.assertEqual([p.command for p in alice.send("WHO * o")], ["315"])
        self.assertEqual([p.params[5] for p in alice.send("WHO 0") if p.command == "352"], ["alice"])


class CountTests(DoorTestCase):
    def test_lusers(self) -> None:
        """LUSERS: 251, 252 (0 operators), 253 (connections registering), 254 (sessions), 255, 265 and 266 with the most users at once."""
        alice = self.user("alice")
        bob = self.user("bob")
        self.native(session=2, username="carol")
        bob.protocol.connectionLost(None)
        lines = alice.send("LUSERS")
        self.assertEqual(
            [(p.command, p.params[1:]) for p in lines],
            [
                ("251", ["There are 2 users and 0 invisible on 1 servers"]),
                ("252", ["0", "operator(s) online"]),
                ("253", ["0", "unknown connection(s)"]),
                ("254", ["9", "channels formed"]),
                ("255", ["I have 2 clients and 0 servers"]),
                ("265", ["2", "3", "Current local users 2, max 3"]),
                ("266", ["2", "3", "Current global users 2, max 3"]),
            ],
        )

    def test_ison(self) -> None:
        """ISON answers 303 with the nicks that are on, as their holders spell them."""
        alice = self.user("alice")
        self.native(session=2, username="Carol")
        ison = alice.one("ISON carol nobody ALICE")
        self.assertEqual((ison.command, ison.params[1]), ("303", "Carol alice"))
        self.assertEqual(alice.one("ISON :nobody").params[1], "")
        self.assertEqual(alice.one("ISON").command, "461")

    def test_userhost(self) -> None:
        """USERHOST: nick=+nick@glozichat, - when away, up to five nicks."""
        alice = self.user("alice")
        bob = self.user("bob")
        bob.send("AWAY :out")
        reply = alice.one("USERHOST alice bob nobody")
        self.assertEqual((reply.command, reply.params[1]), ("302", "alice=+alice@glozichat bob=-bob@glozichat"))
        six = alice.one("USERHOST nobody nobody nobody nobody nobody alice")
        self.assertEqual(six.params[1], "")


class WhowasTests(DoorTestCase):
    def test_whowas_after_a_disconnect_and_a_rename(self) -> None:
        """WHOWAS: 314 and 312 for each past holder, newest first, then 369."""
        bob = self.connect()
        bob.send("NICK bob", "USER robert 0 * :Robert Tables")
        self.clock.advance(10)
        bob.send("NICK bobby")
        self.clock.advance(10)
        bob.protocol.connectionLost(None)
        alice = self.user("alice")
        lines = alice.send("WHOWAS bob")
        self.assertEqual([p.command for p in lines], ["314", "312", "369"])
        self.assertEqual(lines[0].params[1:], ["bob", "~robert", "glozichat", "*", "Robert Tables"])
        self.assertEqual(lines[1].params[1:], ["bob", SERVER, "2025-11-24 16:00 UTC"])
        self.assertEqual(lines[2].params[1:], ["bob", "End of WHOWAS"])
        self.assertEqual([p.command for p in alice.send("WHOWAS BOBBY")], ["314", "312", "369"])

    def test_whowas_count_unknown_and_missing(self) -> None:
        """WHOWAS nick 1 gives the newest only; nobody: 406 then 369; no nick: 431."""
        for _ in range(3):
            self.user("carol").protocol.connectionLost(None)
        alice = self.user("alice")
        self.assertEqual(len([p for p in alice.send("WHOWAS carol") if p.command == "314"]), 3)
        self.assertEqual([p.command for p in alice.send("WHOWAS carol 1")], ["314", "312", "369"])
        self.assertEqual([p.command for p in alice.send("WHOWAS nobody")], ["406", "369"])
        self.assertEqual(alice.one("WHOWAS").command, "431")

    def test_native_whowas(self) -> None:
        """The native whowas answers was with the entries, newest first; none is an empty list."""
        self.native(session=2, username="dave").protocol.connectionLost(None)
        native = self.native()
        [was] = native.send(type="whowas", name="DAVE")
        self.assertEqual(was, {"type": "was", "entries": [
            {"name": "dave", "user_name": "dave", "real_name": "dave", "left": 1_764_000_000.0}]})
        self.assertEqual(native.send(type="whowas", name="nobody")[0]["entries"], [])
        self.assertEqual(native.send(type="whowas", name="dave", count=0)[0]["code"], "bad_field")


class NativeWhoAndStatsTests(DoorTestCase):
    def test_native_who_and_stats(self) -> None:
        """Native who: a mask over nick, user name and real name among those not invisible or sharing a session with
        you (an exact nick whoever holds it), answered users; stats: users, operators, sessions and the most users at once."""
        self.member("alice", "#kiwi")
        self.member("alfred", "#garden").send("MODE alfred +i")
        bob = self.native(session=2, username="bob")
        [users] = bob.send(type="who", mask="AL*")
        self.assertEqual(users["type"], "users")
        self.assertEqual([user["name"] for user in users["users"]], ["alice"])
        self.assertEqual(users["users"][0]["real_name"], "alice tester")
        [exact] = bob.send(type="who", mask="alfred")
        self.assertEqual([user["name"] for user in exact["users"]], ["alfred"])
        [stats] = bob.send(type="stats")
        self.assertEqual(
            {key: stats[key] for key in ("type", "users", "operators", "most_users")},
            {"type": "stats", "users": 3, "operators": 0, "most_users": 3},
        )
        self.assertEqual(stats["sessions"], len(self.chat.sessions))
        [error] = bob.send(type="who", mask="")
        self.assertEqual(error["code"], "bad_field")
