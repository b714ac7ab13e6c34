"""The server exit code (glozi/domain/exitcode.py) at the edges docs/security.md ("Exit code") states."""

import secrets

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from glozi.domain.errors import ChatError
from glozi.domain.exitcode import ExitCodeGuard, new_exit_code

CODE = "2468013579"
WRONG = "1111111111"


class NewExitCodeTests(SynchronousTestCase):
    def test_a_code_is_any_of_the_10_10_codes_written_with_10_digits(self) -> None:
        """Drawn from secrets below 10,000,000,000 and written with leading zeros: 0 is 0000000000."""
        bounds: list[int] = []

        def drawn(answer: int):
            def randbelow(bound: int) -> int:
                bounds.append(bound)
                return answer if answer >= 0 else bound + answer

            return randbelow

        self.patch(secrets, "randbelow", drawn(0))
        self.assertEqual(new_exit_code(), "0000000000")
        self.patch(secrets, "randbelow", drawn(-1))
        self.assertEqual(new_exit_code(), "9999999999")
        self.assertEqual(bounds, [10_000_000_000, 10_000_000_000])


class ExitCodeGuardTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.guard = ExitCodeGuard(CODE, self.clock)

    def refusal(self, attempt: str, source: str = "10.0.0.66") -> ChatError:
        return self.assertRaises(ChatError, self.guard.check, attempt, 0, source)

    def test_wrong_codes_on_another_node_count_here(self) -> None:
        """Three wrong codes from an address on other nodes are its free ones; a fourth blocks it here for 2 s,
        the right code too; another address is not held up."""
        for _ in range(4):
            self.guard.failed_elsewhere("10.0.0.66")
        error = self.refusal(CODE)
        self.assertEqual((error.code, error.retry_after), ("too_many_attempts", 2))
        self.guard.check(CODE, 0, "10.0.0.67")
        self.clock.advance(2)
        self.guard.check(CODE, 0, "10.0.0.66")

    def test_three_wrong_codes_elsewhere_are_the_free_ones(self) -> None:
        """Three wrong codes on other nodes: the next code here is still checked (and a wrong one starts the delay)."""
        for _ in range(3):
            self.guard.failed_elsewhere("10.0.0.66")
        self.assertEqual(self.refusal(WRONG).code, "wrong_exit_code")
        self.assertEqual(self.refusal(CODE).retry_after, 2)

    def test_under_a_second_left_is_retry_after_1(self) -> None:
        """With 0.4 s of the 2 s delay left, the refusal says 1 s (never 0), and it is no wrong code."""
        for _ in range(4):
            self.refusal(WRONG)
        self.clock.advance(1.6)
        error = self.refusal(CODE)
        self.assertEqual((error.code, error.retry_after), ("too_many_attempts", 1))
        self.assertEqual(error.message, "Too many wrong exit codes from your address; try again in 1 s.")
        self.clock.advance(0.4)
        self.guard.check(CODE, 0, "10.0.0.66")
