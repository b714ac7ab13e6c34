"""Guessing limits: growing delays, scopes, and the brute-force arithmetic."""

import gc
import weakref

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from glozi.domain.errors import ChatError
from glozi.domain.exitcode import ExitCodeGuard
from glozi.limits.guessing import Backoff, GuessGuard
from tests.helpers import connect, done, make_server

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
