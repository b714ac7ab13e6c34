"""NAMES of several channels, LIST's search terms (ELIST), INFO, LINKS and the
005 lines (docs/irc.md)."""

from twisted.trial.unittest import SynchronousTestCase

from glozi.domain.masks import matches
from glozi.doors.irc.protocol import IRCFactory
from tests.test_irc_protocol import SERVER, DoorTestCase


def listed(lines: list) -> set[str]:
    return {line.params[1] for line in lines if line.command == "322"}


class NamesTests(DoorTestCase):
    def test_names_of_two_channels_ends_with_one_366(self) -> None:
        """NAMES #chan1,#chan2: a 353 for each, then one 366 naming #chan1,#chan2."""
        alice = self.member("alice", "#chan1")
        alice.send("JOIN #chan2")
        lines = alice.send("NAMES #chan1,#chan2")
        self.assertEqual(
            [(line.command, line.params) for line in lines],
            [
                ("353", ["alice", "=", "#chan1", "@alice"]),
                ("353", ["alice", "=", "#chan2", "@alice"]),
                ("366", ["alice", "#chan1,#chan2", "End of /NAMES list"]),
            ],
        )

    def test_names_lists_a_channel_once_and_only_yours(self) -> None:
        """A channel named twice is listed once; a channel you are not in adds no 353."""
        alice = self.member("alice", "#chan1")
        lines = alice.send("NAMES #chan1,#CHAN1,#kiwi,#nope")
        self.assertEqual([line.command for line in lines], ["353", "366"])
        self.assertEqual(lines[1].params[1], "#chan1,#CHAN1,#kiwi,#nope")

    def test_names_alone_ends_with_one_366_star(self) -> None:
        """NAMES alone: a 353 for each of your channels, then one 366 naming *."""
        alice = self.member("alice", "#chan1")
        alice.send("JOIN #chan2")
        lines = alice.send("NAMES")
        self.assertEqual([line.command for line in lines], ["353", "353", "366"])
        self.assertEqual(lines[-1].params[1], "*")

    def test_targmax_and_elist_are_advertised(self) -> None:
        """005 says TARGMAX=KICK:4,NAMES:,NOTICE:1,PRIVMSG:1,WHOWAS:5 and ELIST=CMNTU, at most 13 tokens a line."""
        client = self.connect()
        lines = client.send("NICK alice", "USER alice 0 * :Alice")
        isupport = [line for line in lines if line.command == "005"]
        tokens = dict(token.partition("=")[::2] for line in isupport for token in line.params[1:-1])
        self.assertEqual(tokens["TARGMAX"], "KICK:4,NAMES:,NOTICE:1,PRIVMSG:1,WHOWAS:5")
        self.assertEqual(tokens["ELIST"], "CMNTU")
        for line in isupport:
            self.assertLessEqual(len(line.params), 15)


class ListTests(DoorTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.alice = self.user("alice")
        # The nine built-in sessions, which LIST always shows (a rule of the original program).
        self.built_in = listed(self.alice.send("LIST"))
        self.alice.send("JOIN #chan1")
        self.clock.advance(120)
        self.alice.send("JOIN #chan2")
        self.member("bob", "#chan2")
        self.clock.advance(60)
        self.carol = self.user("carol")

    def terms(self, terms: str) -> set[str]:
        lines = self.carol.send(f"LIST {terms}")
        self.assertEqual((lines[0].command, lines[-1].command), ("321", "323"))
        return listed(lines) - self.built_in

    def test_masks(self) -> None:
        """ELIST M: LIST *an1 lists #chan1, #c*n2 #chan2, #ch* both, *an3 none."""
        self.assertEqual(listed(self.carol.send("LIST *an1")), {"#chan1"})
        self.assertEqual(listed(self.carol.send("LIST #c*n2")), {"#chan2"})
        self.assertEqual(listed(self.carol.send("LIST #CH?N*")), {"#chan1", "#chan2"})
        self.assertEqual(listed(self.carol.send("LIST *an3")), set())
        self.assertEqual(listed(self.carol.send("LIST #chan1,#chan2")), {"#chan1", "#chan2"})

    def test_not_masks(self) -> None:
        """ELIST N: LIST !*an1 lists #chan2 and the other sessions, !#ch* none of the two."""
        self.assertEqual(self.terms("!*an1"), {"#chan2"})
        self.assertEqual(self.terms("!#ch*"), set())
        self.assertEqual(listed(self.carol.send("LIST #ch*,!*2")), {"#chan1"})

    def test_member_counts(self) -> None:
        """ELIST U: >1 lists #chan2 (2 members), <2 #chan1 and the empty sessions, <1 only the empty ones."""
        self.assertEqual(listed(self.carol.send("LIST >1")), {"#chan2"})
        self.assertEqual(listed(self.carol.send("LIST >0")), {"#chan1", "#chan2"})
        self.assertEqual(self.terms("<2"), {"#chan1"})
        self.assertEqual(self.terms("<1"), set())
        self.assertEqual(listed(self.carol.send("LIST <1")), self.built_in)

    def test_creation_times(self) -> None:
        """ELIST C: #chan1 was created 3 minutes ago, #chan2 1: C>2 lists #chan1, C<2 #chan2, C<0 none."""
        self.assertEqual(self.terms("C>2"), {"#chan1"})
        self.assertEqual(listed(self.carol.send("LIST C<2")), {"#chan2"})
        self.assertEqual(self.terms("c<10"), {"#chan1", "#chan2"})
        self.assertEqual(listed(self.carol.send("LIST C<0")), set())

    def test_topic_times(self) -> None:
        """ELIST T: #chan2's topic was set 1 minute ago, #chan1's never: T<2 lists #chan2, T>2 #chan1 (and the
        built-in sessions, whose topics were never set either), T>0 both."""
        self.alice.send("TOPIC #chan2 :Papayas")
        self.clock.advance(60)
        self.assertEqual(listed(self.carol.send("LIST T<2")), {"#chan2"})
        self.assertEqual(listed(self.carol.send("LIST T>2")), {"#chan1"} | self.built_in)
        self.assertEqual(self.terms("T>0"), {"#chan1", "#chan2"})

    def test_terms_combine(self) -> None:
        """Every count and time must hold, and one of the masks match: #ch*,>0,C<2 lists #chan2."""
        self.assertEqual(listed(self.carol.send("LIST #ch*,>0,C<2")), {"#chan2"})
        self.assertEqual(listed(self.carol.send("LIST #ch* >1")), {"#chan2"})

    def test_a_bad_term_is_explained(self) -> None:
        """A term that starts like an ELIST form but is not one (>x, C>, X<3, !, <-1) gets a notice naming it, and an empty list."""
        for term in (">x", "C>", "X<3", "!", "<-1"):
            lines = self.carol.send(f"LIST #chan1,{term}")
            self.assertEqual([line.command for line in lines], ["NOTICE", "321", "323"], term)
            self.assertIn(f"LIST: {term} is not a search term", lines[0].params[1])


class ServerInfoTests(DoorTestCase):
    def test_info(self) -> None:
        """INFO, INFO with this server's name or a mask of it, or a user's nick: 371 lines, then 374."""
        alice = self.user("alice")
        for line in ("INFO", f"INFO {SERVER}", "INFO *BOX*", "INFO alice"):
            lines = alice.send(line)
            self.assertEqual(lines[-1].command, "374", line)
            self.assertGreaterEqual(len(lines), 2)
            self.assertEqual({answer.command for answer in lines[:-1]}, {"371"})
            self.assertEqual({answer.params[0] for answer in lines}, {"alice"})

    def test_info_of_another_server(self) -> None:
        """INFO invalid.server.example: 402 naming it, and nothing else."""
        alice = self.user("alice")
        for target in ("invalid.server.example", "invalidserver"):
            [answer] = alice.send(f"INFO {target}")
            self.assertEqual((answer.command, answer.params[1]), ("402", target))

    def test_links(self) -> None:
        """LINKS: 364 for this server (hop count 0 and its description), then 365 with mask *."""
        lines = self.user("alice").send("LINKS")
        self.assertEqual(
            [(line.command, line.params) for line in lines],
            [
                ("364", ["alice", SERVER, SERVER, "0 GloziChat LAN chat server"]),
                ("365", ["alice", "*", "End of /LINKS list"]),
            ],
        )

    def test_links_shows_the_description_given(self) -> None:
        """With --description (the factory's description), LINKS and INFO show that line."""
        self.factory = IRCFactory(self.chat, "testbox", self.clock, description="Kiwi's attic server")
        alice = self.user("alice")
        [link, _] = alice.send("LINKS")
        self.assertEqual(link.params[3], "0 Kiwi's attic server")
        self.assertIn("Kiwi's attic server", " ".join(line.params[-1] for line in alice.send("INFO")))

    def test_links_with_a_mask(self) -> None:
        """LINKS *box* lists this server; LINKS other.* nothing but 365; LINKS other.server * is 402."""
        alice = self.user("alice")
        self.assertEqual(alice.commands("LINKS *BOX*"), ["364", "365"])
        [end] = alice.send("LINKS other.*")
        self.assertEqual((end.command, end.params[1]), ("365", "other.*"))
        self.assertEqual(alice.commands("LINKS other.server *"), ["402"])


class MaskTests(SynchronousTestCase):
    def test_wildcards(self) -> None:
        """* matches any run, ? one character, in any case; the rest must be equal."""
        self.assertTrue(matches("#c*n?", "#CHAN1"))
        self.assertTrue(matches("*", ""))
        self.assertTrue(matches("a**b", "ab"))
        self.assertFalse(matches("#c*n?", "#chan12"))
        self.assertFalse(matches("?", ""))

    def test_a_long_mask_is_cheap(self) -> None:
        """A mask of 250 stars and letters against a 13-character name answers (no backtracking blow-up)."""
        self.assertFalse(matches("*a" * 125 + "b", "#aaaaaaaaaaaa"))
