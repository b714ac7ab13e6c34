"""The mention rule: a whole name, any case."""

from twisted.trial.unittest import SynchronousTestCase

from glozi.client.mentions import mention_spans, mentions


class MentionTests(SynchronousTestCase):
    def test_whole_name_any_case(self) -> None:
        self.assertEqual(mention_spans("bob, look: @BOB!", "bob"), [(0, 3), (12, 15)])

    def test_longer_names_are_not_mentions(self) -> None:
        for text in ("bobby", "bob_", "xbob", "bob[1]", "-bob"):
            self.assertFalse(mentions(text, "bob"), text)

    def test_specials_in_the_nick_are_literal(self) -> None:
        self.assertTrue(mentions("hi al[1] there", "al[1]"))
        self.assertFalse(mentions("hi al1 there", "al[1]"))

    def test_no_nick_no_mention(self) -> None:
        self.assertEqual(mention_spans("anything", ""), [])
