"""Guessing limits: growing delays, scopes, and the brute-force arithmetic."""

import gc
import weakref

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from glozi.domain.errors import ChatError
from glozi.domain.exitcode import ExitCodeGuard
from glozi.limits.guessing import Backoff, GuessGuard, source_group
from tests.helpers import connect, done, late_passwords, make_server

DAY = 24 * 3600.0
YEAR = 365 * DAY
AVERAGE_GUESSES_NEEDED = 50_000


def guesses_in(clock: Clock, seconds: float, attempt) -> int:
    """How many guesses a patient attacker gets checked in ``seconds``,
    always retrying exactly when the server says it may."""
    end = clock.seconds() + seconds
    checked = 0
    while clock.seconds() < end:
        try:
            attempt()
        except ChatError as error:
            if error.code == "too_many_attempts":
                wait = float(error.message.split("try again in ")[1].split(" s")[0])
                clock.advance(wait)
                continue
            checked += 1
    return checked


class BackoffTests(SynchronousTestCase):
    def test_delays_double_to_ceiling(self) -> None:
        """After the free failures each one doubles the delay, up to the ceiling."""
        clock = Clock()
        backoff = Backoff(clock, free=2, base=2.0, ceiling=10.0)
        waits = []
        for _ in range(6):
            backoff.failed("k")
            waits.append(backoff.wait("k"))
        self.assertEqual(waits, [0, 0, 2.0, 4.0, 8.0, 10.0])
        backoff.forget("k")
        self.assertEqual(backoff.wait("k"), 0)

    def test_forgets_and_bounds_memory(self) -> None:
        """Keys are forgotten after a quiet day, and at most max_keys are kept."""
        clock = Clock()
        backoff = Backoff(clock, free=0, base=1.0, ceiling=1.0, forget_after=100, max_keys=3)
        for key in range(5):
            backoff.failed(key)
        self.assertEqual([backoff.failures(k) for k in range(5)], [0, 0, 1, 1, 1])
        clock.advance(101)
        self.assertEqual(backoff.failures(4), 0)


    def test_a_thousand_failures_still_wait_the_ceiling(self) -> None:
        """However many failures a key has, its delay is the ceiling (no overflow past 2**1024)."""
        clock = Clock()
        backoff = Backoff(clock, free=3, base=2.0, ceiling=3600.0)
        for _ in range(1100):
            backoff.failed("k")
        self.assertEqual((backoff.failures("k"), backoff.wait("k")), (1100, 3600.0))

    def test_100000_keys_are_remembered(self) -> None:
        """By default 100,000 keys are kept: the 100,001st pushes out the first, not the second."""
        backoff = Backoff(Clock(), free=0, base=1.0, ceiling=1.0)
        for key in range(100_001):
            backoff.failed(key)
        self.assertEqual([backoff.failures(key) for key in (0, 1, 100_000)], [0, 1, 1])

    def test_the_key_that_failed_last_is_kept_longest(self) -> None:
        """With room for 3 keys, a key that fails again goes to the back: a 4th key pushes out the next oldest."""
        backoff = Backoff(Clock(), free=0, base=1.0, ceiling=1.0, max_keys=3)
        for key in ("a", "b", "c", "a", "d"):
            backoff.failed(key)
        self.assertEqual([backoff.failures(k) for k in "abcd"], [2, 0, 1, 1])


class PasswordGuessingTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server, self.clock = make_server()
        owner, _ = connect(self.server, "10.0.0.1")
        done(owner.create("vault", "owner", "31415"))

    def test_storm_does_not_lock_out_members(self) -> None:
        """A wrong-password storm from one address: it is slowed, a member from elsewhere joins at once."""
        attacker, _ = connect(self.server, "10.0.0.66")
        codes = []
        for guess in range(10):
            try:
                done(attacker.join(10, "mallory", f"{guess:05d}"))
            except ChatError as error:
                codes.append(error.code)
        self.assertEqual(codes[:3], ["wrong_password"] * 3)
        self.assertIn("too_many_attempts", codes)
        friend, _ = connect(self.server, "10.0.0.2")
        self.assertEqual(done(friend.join(10, "friend", "31415")).you, "friend")

    def test_reconnecting_does_not_reset(self) -> None:
        """A new connection from the same address inherits its delays."""
        for guess in range(4):
            guesser, _ = connect(self.server, "10.0.0.66")
            # A name is one connection's at a time, so each connection takes its own.
            self.assertRaises(ChatError, done, guesser.join(10, f"mallory{guess}", f"{guess:05d}"))
        fresh, _ = connect(self.server, "10.0.0.66")
        error = self.assertRaises(ChatError, done, fresh.join(10, "mallory", "99999"))
        self.assertEqual(error.code, "too_many_attempts")

    def test_closed_guesser_is_not_kept_in_memory(self) -> None:
        """A connection that guessed wrong and left is freed; its address still waits."""
        for guess in range(4):
            guesser, _ = connect(self.server, "10.0.0.66")
            self.assertRaises(ChatError, done, guesser.join(10, "mallory", f"{guess:05d}"))
            gone = weakref.ref(guesser)
            guesser.disconnected()
            del guesser
            gc.collect()
            self.assertIsNone(gone())
        fresh, _ = connect(self.server, "10.0.0.66")
        error = self.assertRaises(ChatError, done, fresh.join(10, "mallory", "99999"))
        self.assertEqual(error.code, "too_many_attempts")

    def test_closed_session_budget_is_forgotten(self) -> None:
        """A storm's budget for a session goes with the session (its id is never given again)."""
        guard = self.server.password_guard
        for guess in range(4):
            attacker, _ = connect(self.server, "10.0.0.66")
            self.assertRaises(ChatError, done, attacker.join(10, f"mallory{guess}", f"{guess:05d}"))
        self.assertIn(10, guard._targets)
        self.server.close_session(self.server.sessions[10], by="owner")
        self.assertNotIn(10, guard._targets)

    def test_one_address_needs_over_a_year(self) -> None:
        """From one address, a year of patient guessing checks far fewer than 50,000 passwords."""
        guesser, _ = connect(self.server, "10.0.0.66")
        guesses = iter(range(1, 100_000))
        checked = guesses_in(self.clock, YEAR, lambda: done(guesser.join(10, "mallory", f"{next(guesses):05d}")))
        self.assertLess(checked, AVERAGE_GUESSES_NEEDED)
        self.assertGreater(checked, 1000)

    def test_many_addresses_need_over_a_year(self) -> None:
        """254 addresses (a whole /24) together check under 50,000 passwords a year.

        Simulated over 61 days (past the 30 days after which an address's record
        is forgotten) and scaled to a year.
        """
        guard = GuessGuard(self.clock, what="password")
        sources = [f"10.0.0.{n}" for n in range(1, 255)]

        def one_round() -> None:
            for source in sources:
                try:
                    guard.allow(source, source, "vault")
                except ChatError:
                    continue
                guard.failed(source, source)
                raise ChatError("wrong_password", "no")
            raise ChatError("too_many_attempts", "try again in 600 s")

        days = 61
        checked = guesses_in(self.clock, days * 24 * 3600.0, one_round)
        self.assertLess(checked * 365 / days, AVERAGE_GUESSES_NEEDED)


def refusal(guard: GuessGuard, connection: object, source: object, target: object = None) -> int | None:
    """The ``retry_after`` of a guess ``guard`` refuses now, or ``None`` when it lets it be checked."""
    try:
        guard.allow(connection, source, target)
    except ChatError as error:
        assert error.code == "too_many_attempts", error.code
        return error.retry_after
    return None


class GuessDelayTests(SynchronousTestCase):
    """docs/security.md *Session passwords*: the delays, with the retry_after a client is told."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_764_000_000)
        self.guard = GuessGuard(self.clock, what="password")

    def waits(self, count: int, connection_of, source_of) -> list[int]:
        """The retry_after after each of ``count`` wrong guesses, each waited out; every guess on its own
        session, so that only the connection's and the address's delays apply."""
        waits = []
        for n in range(count):
            self.assertIsNone(refusal(self.guard, connection_of(n), source_of(n), n))
            self.guard.failed(connection_of(n), source_of(n))
            wait = refusal(self.guard, connection_of(n), source_of(n), ("next", n)) or 0
            waits.append(wait)
            self.clock.advance(wait)
        return waits

    def test_per_address_3_free_then_2_s_doubling_up_to_an_hour(self) -> None:
        """From one address (a new connection each time): 3 free, then 2, 4, ... 2048 s, then 3600 s each."""
        waits = self.waits(16, lambda n: n, lambda n: "10.0.0.66")
        self.assertEqual(waits, [0, 0, 0, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600])

    def test_per_connection_3_free_then_2_s_doubling_up_to_10_minutes(self) -> None:
        """One connection hopping addresses: 3 free, then 2, 4, ... 512 s, then 600 s each."""
        waits = self.waits(14, lambda n: "one connection", lambda n: f"10.0.1.{n}")
        self.assertEqual(waits, [0, 0, 0, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600])

    def test_retry_after_is_the_wait_rounded_up(self) -> None:
        """Told 2 s at once, then 2 s after 0.75 s (1.25 s left), 1 s after 1.5 s; after 2 s the guess is checked."""
        for guess in range(4):
            self.guard.failed("guesser", "10.0.0.66")
        told = []
        for elapsed in (0, 0.75, 0.75, 0.5):
            self.clock.advance(elapsed)
            told.append(refusal(self.guard, "guesser", "10.0.0.66", "vault"))
        self.assertEqual(told, [2, 2, 1, None])

    def test_an_address_is_forgotten_30_days_after_its_last_wrong_guess(self) -> None:
        """5 wrong guesses (the 5th waits 4 s); the 6th, 30 days less a second later, waits 8 s; one 30 days
        and a second after the last is free again."""
        for _ in range(5):
            self.guard.failed(object(), "10.0.0.66")
        self.clock.advance(30 * DAY - 1)
        self.guard.failed(object(), "10.0.0.66")
        self.assertEqual(refusal(self.guard, "fresh", "10.0.0.66", "vault"), 8)
        self.clock.advance(30 * DAY + 1)
        self.assertIsNone(refusal(self.guard, "fresh", "10.0.0.66", "vault"))
        self.guard.failed("fresh", "10.0.0.66")
        self.assertIsNone(refusal(self.guard, "fresh", "10.0.0.66", "vault"))

    def test_addresses_that_failed_share_3_guesses_an_hour_a_session(self) -> None:
        """Addresses that failed once get 3 guesses at a session in all; the 4th waits 1200 s (a third of an
        hour), told 1 s when 0.5 s is left; addresses that never failed are never held up by it."""
        for n in range(4):
            self.guard.failed(f"c{n}", f"10.0.0.{n}")
        self.assertEqual([refusal(self.guard, f"c{n}", f"10.0.0.{n}", "vault") for n in range(4)],
                         [None, None, None, 1200])
        self.assertIsNone(refusal(self.guard, "friend", "10.0.9.9", "vault"))
        self.assertIsNone(refusal(self.guard, "c3", "10.0.0.3", "another session"))
        self.clock.advance(1199.5)
        self.assertEqual(refusal(self.guard, "c3", "10.0.0.3", "vault"), 1)
        self.clock.advance(0.5)
        self.assertIsNone(refusal(self.guard, "c3", "10.0.0.3", "vault"))

    def test_a_right_guess_clears_the_connection_and_the_address(self) -> None:
        """After 4 wrong guesses, the 2 s wait and a right guess, the next 3 wrong ones are free again."""
        for _ in range(4):
            self.guard.failed("guesser", "10.0.0.66")
        self.clock.advance(2)
        self.assertIsNone(refusal(self.guard, "guesser", "10.0.0.66", "vault"))
        self.guard.succeeded("guesser", "10.0.0.66")
        for _ in range(3):
            self.assertIsNone(refusal(self.guard, "guesser", "10.0.0.66", "another"))
            self.guard.failed("guesser", "10.0.0.66")
        self.assertEqual(refusal(self.guard, "guesser", "10.0.0.66", "another"), None)
        self.guard.failed("guesser", "10.0.0.66")
        self.assertEqual(refusal(self.guard, "guesser", "10.0.0.66", "another"), 2)

    def test_the_budgets_of_the_last_10000_sessions_are_kept(self) -> None:
        """A session's spent budget is kept while 9,999 other sessions are guessed at; the 10,001st pushes it
        out (memory stays bounded)."""
        guard = GuessGuard(self.clock, what="password", server_per_minute=20_000)
        guard.failed("guesser", "10.0.0.66")
        for _ in range(3):
            self.assertIsNone(refusal(guard, "guesser", "10.0.0.66", 0))
        for target in range(1, 10_000):
            refusal(guard, "guesser", "10.0.0.66", target)
        self.assertEqual(refusal(guard, "guesser", "10.0.0.66", 0), 1200)
        refusal(guard, "guesser", "10.0.0.66", 10_000)
        self.assertIsNone(refusal(guard, "guesser", "10.0.0.66", 0))

    def test_wrong_guesses_at_other_nodes_count_for_the_address(self) -> None:
        """4 wrong guesses from an address reported by other nodes of a cluster: its next guess here waits 2 s."""
        for _ in range(4):
            self.guard.failed_elsewhere("10.0.0.66")
        self.assertEqual(refusal(self.guard, "a new connection", "10.0.0.66", "vault"), 2)

    def test_a_source_is_an_ipv4_address_or_an_ipv6_64(self) -> None:
        """IPv4 is itself, an IPv4-mapped address its IPv4 address, IPv6 its /64, anything else itself."""
        self.assertEqual(source_group("192.0.2.7"), "192.0.2.7")
        self.assertEqual(source_group("::ffff:192.0.2.7"), "192.0.2.7")
        self.assertEqual(source_group("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64")
        self.assertEqual(source_group("2001:db8:1:2::1"), "2001:db8:1:2::/64")
        self.assertEqual(source_group("/run/glozi.sock"), "/run/glozi.sock")


class ServerWideCapTests(SynchronousTestCase):
    """docs/security.md: at most 60 wrong session passwords a minute, server-wide."""

    def setUp(self) -> None:
        self.server, self.clock = make_server()
        owner, _ = connect(self.server, "10.0.0.1")
        done(owner.create("vault", "owner", "31415"))
        self.start = self.clock.seconds()

    def guess(self, source: str, password: str = "00000") -> ChatError:
        guesser, _ = connect(self.server, source)
        return self.assertRaises(ChatError, done, guesser.join(10, f"g{source.replace('.', '_')}", password))

    def test_100_wrong_guesses_from_100_addresses_in_10_s_60_checked(self) -> None:
        """One guess every 0.1 s from 100 fresh addresses: 60 are checked, the other 40 are refused; the 61st
        (6 s in) is told 54 s, the last (9.9 s in) 51 s."""
        answers = []
        for n in range(100):
            self.clock.advance(0 if n == 0 else 0.1)
            answers.append(self.guess(f"10.1.0.{n}"))
        codes = [error.code for error in answers]
        self.assertEqual(codes, ["wrong_password"] * 60 + ["too_many_attempts"] * 40)
        self.assertEqual((answers[60].retry_after, answers[99].retry_after), (54, 51))

    def test_right_passwords_checked_at_once_are_never_refused(self) -> None:
        """With hashing that answers later (as in production): 100 members joining with the right password at
        once are all let in; guesses being checked do not count against the 60 a minute."""
        passwords, runner = late_passwords()
        self.server, self.clock = make_server(passwords=passwords)
        owner, _ = connect(self.server, "10.0.0.1")
        created = owner.create("vault", "owner", "31415")
        runner.finish()
        done(created)
        joins = []
        for n in range(100):
            member, _ = connect(self.server, f"10.1.0.{n}")
            joins.append(member.join(10, f"m{n}", "31415"))
        self.assertFalse(any(join.called for join in joins))
        runner.finish()
        self.assertEqual([done(join).you for join in joins], [f"m{n}" for n in range(100)])

    def test_a_right_password_is_no_wrong_guess(self) -> None:
        """59 wrong guesses and a member's right password leave room for one more wrong guess in the minute."""
        for n in range(59):
            self.guess(f"10.1.0.{n}")
        friend, _ = connect(self.server, "10.2.0.1")
        self.assertEqual(done(friend.join(10, "friend", "31415")).you, "friend")
        self.assertEqual(self.guess("10.1.1.1").code, "wrong_password")
        self.assertEqual(self.guess("10.1.1.2").code, "too_many_attempts")

    def test_the_cap_is_for_any_minute(self) -> None:
        """60 wrong guesses at once: 59.9 s later a guess is told 1 s; at 60 s that minute is over and a guess
        is checked."""
        for n in range(60):
            self.guess(f"10.1.0.{n}")
        self.clock.advance(59.9)
        error = self.guess("10.1.1.1")
        self.assertEqual((error.code, error.retry_after), ("too_many_attempts", 1))
        self.clock.advance(0.1)
        self.assertEqual(self.guess("10.1.1.2").code, "wrong_password")

    def test_wrong_guesses_at_other_nodes_count(self) -> None:
        """60 wrong guesses reported by other nodes of a cluster fill the minute here too."""
        for n in range(60):
            self.server.password_guard.failed_elsewhere(f"10.1.0.{n}")
        error = self.guess("10.1.1.1")
        self.assertEqual((error.code, error.retry_after), ("too_many_attempts", 60))


class ExitCodeGuessingTests(SynchronousTestCase):
    def test_one_source_gets_19_codes_the_first_day_and_383_a_year(self) -> None:
        """One address, guessing as fast as it is let, gets 19 codes checked in a day and 383 in a year.

        Those are docs/security.md's figures: 65,536 such addresses check
        25,100,288 codes a year, 0.25 % of the 10^10 codes.
        """
        clock = Clock()
        guard = ExitCodeGuard("9999999999", clock)
        codes = iter(range(10**9))

        def attempt() -> None:
            # Each guess on a new connection: the per-connection limit is no help.
            guard.check(f"{next(codes):010d}", 0, "10.0.0.66")

        first_day = guesses_in(clock, DAY, attempt)
        rest_of_year = guesses_in(clock, YEAR - DAY, attempt)
        self.assertEqual((first_day, first_day + rest_of_year), (19, 383))
        self.assertLess(383 * 65_536 / 10**10, 0.0026)

    def test_a_blocked_source_is_told_the_wait_rounded_up(self) -> None:
        """The 4th wrong code blocks for 2 s: told 2 s at once and 0.75 s later (1.25 s left), 1 s at 1.5 s."""
        clock = Clock()
        guard = ExitCodeGuard("9999999999", clock)
        for _ in range(4):
            self.assertEqual(self.assertRaises(ChatError, guard.check, "0000000000", 0, "10.0.0.66").code,
                             "wrong_exit_code")
        told = []
        for elapsed in (0, 0.75, 0.75):
            clock.advance(elapsed)
            told.append(self.assertRaises(ChatError, guard.check, "9999999999", 0, "10.0.0.66").retry_after)
        self.assertEqual(told, [2, 2, 1])
        clock.advance(0.5)
        guard.check("9999999999", 0, "10.0.0.66")

    def test_delay_grows_to_a_day_and_stays(self) -> None:
        """After 3 free wrong codes each wrong one blocks the address 2 s, 4 s, 8 s ... up to 24 hours."""
        clock = Clock()
        guard = ExitCodeGuard("9999999999", clock)
        waits = []
        for _ in range(40):
            error = self.assertRaises(ChatError, guard.check, "0000000000", 0, "10.0.0.66")
            if error.code == "too_many_attempts":
                waits.append(error.retry_after)
                clock.advance(error.retry_after)
        self.assertEqual(waits, [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]
                         + [86400] * (len(waits) - 16))
        self.assertGreater(len(waits), 16)
