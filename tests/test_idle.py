"""A member's inactivity timer (glozi/domain/idle.py): with the default 240 s, a warning after 120 s of silence
(120 s left), removal after 240 s (docs/protocol.md, inactivity). ``Clock.advance`` runs the calls due at its
end, so a test advances to each moment it reads the time of."""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from glozi.domain.idle import InactivityTimer


class InactivityTimerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_764_000_000)
        self.warnings: list[tuple[float, float]] = []
        self.expiries: list[float] = []
        self.timer = InactivityTimer(
            self.clock,
            240,
            lambda left: self.warnings.append((self.clock.seconds() - 1_764_000_000, left)),
            lambda: self.expiries.append(self.clock.seconds() - 1_764_000_000),
        )

    def test_silence_warns_at_120_s_with_120_s_left_and_expires_at_240_s(self) -> None:
        """Nothing at 119.9 s; the warning at 120 s says 120 s are left; nothing more until 240 s, then expiry."""
        self.timer.start()
        self.clock.advance(119.9)
        self.assertEqual(self.warnings, [])
        self.clock.advance(0.1)
        self.assertEqual(self.warnings, [(120, 120)])
        self.clock.advance(119.9)
        self.assertEqual(self.expiries, [])
        self.clock.advance(0.1)
        self.assertEqual(self.expiries, [240])
        self.assertEqual(self.warnings, [(120, 120)], "one warning per silence")

    def test_activity_starts_the_silence_over(self) -> None:
        """Activity at 100 s: the warning comes at 220 s and the expiry at 340 s, not before."""
        self.timer.start()
        self.clock.advance(100)
        self.timer.touch()
        self.clock.advance(119.9)
        self.assertEqual(self.warnings, [])
        self.clock.advance(0.1)
        self.assertEqual(self.warnings, [(220, 120)])
        self.clock.advance(119.9)
        self.assertEqual(self.expiries, [])
        self.clock.advance(0.1)
        self.assertEqual(self.expiries, [340])

    def test_each_silence_after_a_warning_gets_its_own_warning(self) -> None:
        """Warned at 120 s, active at 200 s: warned again at 320 s, expired at 440 s."""
        self.timer.start()
        self.clock.advance(120)
        self.clock.advance(80)
        self.timer.touch()
        self.clock.advance(120)
        self.assertEqual(self.warnings, [(120, 120), (320, 120)])
        self.clock.advance(119.9)
        self.assertEqual(self.expiries, [])
        self.clock.advance(0.1)
        self.assertEqual(self.expiries, [440])

    def test_a_chatty_member_keeps_two_delayed_calls(self) -> None:
        """Activity only notes the time: a member speaking every second has the same two delayed calls."""
        self.timer.start()
        self.assertEqual(len(self.clock.getDelayedCalls()), 2)
        for _ in range(300):
            self.clock.advance(1)
            self.timer.touch()
        self.assertEqual(len(self.clock.getDelayedCalls()), 2)
        self.assertEqual((self.warnings, self.expiries), ([], []))

    def test_expiry_leaves_no_call_behind(self) -> None:
        """Warned, active again at 230 s (a new warning armed), silent to 470 s: expired with no call left."""
        self.timer.start()
        self.clock.advance(120)
        self.clock.advance(110)
        self.timer.touch()
        self.clock.advance(120)
        self.clock.advance(120)
        self.assertEqual(self.expiries, [470])
        self.assertEqual(self.warnings, [(120, 120), (350, 120)])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stop_cancels_both_and_start_counts_from_then(self) -> None:
        """Stopped, nothing fires; started again at 1000 s, it warns at 1120 s and expires at 1240 s."""
        self.timer.start()
        self.clock.advance(10)
        self.timer.stop()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(990)
        self.timer.start()
        self.clock.advance(120)
        self.clock.advance(120)
        self.assertEqual((self.warnings, self.expiries), ([(1120, 120)], [1240]))

    def test_a_stopped_timer_stays_quiet_when_touched(self) -> None:
        """Stopped after its warning (the member became admin, say), activity arms nothing: no second warning."""
        self.timer.start()
        self.clock.advance(120)
        self.timer.stop()
        self.timer.touch()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(1000)
        self.assertEqual((self.warnings, self.expiries), ([(120, 120)], []))

    def test_start_again_replaces_the_running_calls(self) -> None:
        """Starting a running timer again restarts it: still two calls, and the silence counts from the restart."""
        self.timer.start()
        self.clock.advance(100)
        self.timer.start()
        self.assertEqual(len(self.clock.getDelayedCalls()), 2)
        self.clock.advance(239.9)
        self.assertEqual(self.expiries, [])
        self.clock.advance(0.1)
        self.assertEqual(self.expiries, [340])

    def test_another_timeout_warns_at_its_half(self) -> None:
        """A 60 s timeout (--idle-timeout 60) warns at 30 s with 30 s left."""
        timer = InactivityTimer(self.clock, 60, lambda left: self.warnings.append((0, left)), lambda: None)
        timer.start()
        self.clock.advance(30)
        self.assertEqual(self.warnings, [(0, 30)])
