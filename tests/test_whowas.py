"""The bounded history of let-go nicks, with the bounds docs/irc.md states."""

from twisted.trial.unittest import SynchronousTestCase

from glozi.domain.whowas import NickHistory, PastUser


def past(nick: str, n: int) -> PastUser:
    return PastUser(nick, "u", "r", float(n))


class NickHistoryTests(SynchronousTestCase):
    def test_the_last_200_are_kept(self) -> None:
        """201 different nicks: the oldest is forgotten, the other 200 kept."""
        history = NickHistory()
        for n in range(201):
            history.record(past(f"user{n}", n))
        self.assertEqual(history.lookup("user0"), [])
        self.assertEqual(len(history.lookup("user1")), 1)

    def test_at_most_10_per_nick(self) -> None:
        """A nick let go 11 times keeps its newest 10, newest first; others are not pushed out."""
        history = NickHistory()
        history.record(past("other", -1))
        for n in range(11):
            history.record(past("Loop", n))
        self.assertEqual([p.left_at for p in history.lookup("loop")], [float(n) for n in range(10, 0, -1)])
        self.assertEqual(len(history.lookup("OTHER")), 1)
        self.assertEqual(len(history.lookup("loop", 2)), 2)

    def test_a_mask_finds_every_nick_it_matches_newest_first(self) -> None:
        """`*ck2` and `NICK?` are masks (RFC 2812): the entries of every nick they match, any case, newest
        first, `count` of them all; a nick of the same letters without a wildcard is looked up as itself."""
        history = NickHistory()
        for n, nick in enumerate(("nick2", "nick3", "bob", "Nick2", "nick22")):
            history.record(past(nick, n))
        self.assertEqual([(p.nick, p.left_at) for p in history.lookup("*ck2")], [("Nick2", 3.0), ("nick2", 0.0)])
        self.assertEqual([p.left_at for p in history.lookup("NICK?")], [3.0, 1.0, 0.0])
        self.assertEqual([p.left_at for p in history.lookup("nick?", 2)], [3.0, 1.0])
        self.assertEqual([p.nick for p in history.lookup("*k22")], ["nick22"])
        self.assertEqual(history.lookup("*zz*"), [])
        self.assertEqual([p.left_at for p in history.lookup("nick2")], [3.0, 0.0])
