"""IRC wildcard masks (glozi/domain/masks.py): ``*`` any run, ``?`` one character, any case (docs/irc.md, WHO)."""

from twisted.trial.unittest import SynchronousTestCase

from glozi.domain.masks import matches


class MaskTests(SynchronousTestCase):
    def test_a_mask_without_wildcards_matches_only_the_whole_name(self) -> None:
        """`bob` matches `bob` and `BOB`, not `xbob`, `bobx` or `abob`."""
        self.assertTrue(matches("bob", "bob"))
        self.assertTrue(matches("bob", "BOB"))
        for other in ("xbob", "bobx", "abob", "bo", ""):
            self.assertFalse(matches("bob", other), other)

    def test_a_question_mark_is_exactly_one_character(self) -> None:
        """`b?b` matches `bob` and `bib`, not `bb` or `boob`; `?` alone is no empty name."""
        self.assertTrue(matches("b?b", "bob"))
        self.assertTrue(matches("b?b", "bib"))
        self.assertFalse(matches("b?b", "bb"))
        self.assertFalse(matches("b?b", "boob"))
        self.assertFalse(matches("?", ""))

    def test_a_star_is_any_run_even_an_empty_one(self) -> None:
        """`al*` matches `al` and `alice`; `*ce` matches `alice`; `a*e` matches `ae` and `alice`, not `alicex`."""
        self.assertTrue(matches("al*", "al"))
        self.assertTrue(matches("al*", "alice"))
        self.assertTrue(matches("*ce", "alice"))
        self.assertTrue(matches("a*e", "ae"))
        self.assertTrue(matches("a*e", "alice"))
        self.assertFalse(matches("a*e", "alicex"))
        self.assertTrue(matches("*", ""))
        self.assertTrue(matches("**", "x"))

    def test_a_star_backtracks_to_the_last_possible_place(self) -> None:
        """`*a*b` needs an `a` before a later `b`: `xaxb` and `abab` match, `bxa` does not."""
        self.assertTrue(matches("*a*b", "xaxb"))
        self.assertTrue(matches("*a*b", "abab"))
        self.assertFalse(matches("*a*b", "bxa"))
        self.assertTrue(matches("a*bc", "abxbc"))

    def test_case_folds_for_letters_only(self) -> None:
        """`AL*` matches `alice`; `[a]` and `{a}` stay two names (CASEMAPPING=ascii)."""
        self.assertTrue(matches("AL*", "alice"))
        self.assertTrue(matches("al*", "ALICE"))
        self.assertFalse(matches("[a]", "{a}"))

    def test_a_long_mask_of_stars_answers_at_once(self) -> None:
        """`*a*a*…b` against a long run of `a`s does not match (and does not backtrack for ever)."""
        self.assertFalse(matches("*a" * 30 + "*b", "a" * 200))
