"""The token bucket every rate limit is made of, and the retry_after a refused client is told."""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from glozi.limits.ratelimit import TokenBucket, retry_after


class RetryAfterTests(SynchronousTestCase):
    """docs/protocol.md: ``retry_after`` is the whole number of seconds after which the request may succeed."""

    def test_a_wait_is_rounded_up(self) -> None:
        """1.25 s and 1.5 s left are 2 s (after 1 s the client would be refused again); 0.2 s is 1 s."""
        self.assertEqual([retry_after(s) for s in (1.25, 1.5, 1.99, 0.2)], [2, 2, 2, 1])

    def test_a_whole_wait_is_itself(self) -> None:
        """2 s and 3600 s are told as they are, even a clock step over (timestamps of today count in steps of
        2**-22 s)."""
        self.assertEqual([retry_after(s) for s in (2.0, 3600.0, 3 + 2**-22)], [2, 3600, 3])

    def test_never_less_than_1(self) -> None:
        """A refusal with almost nothing left still says 1, never 0."""
        self.assertEqual([retry_after(s) for s in (0.0005, 0.0)], [1, 1])


class TokenBucketTests(SynchronousTestCase):
    def test_a_burst_of_capacity_then_rate_a_second(self) -> None:
        """A bucket of 10 at 2 a second: 10 at once, not an 11th; half a second brings exactly one back."""
        clock = Clock()
        bucket = TokenBucket(clock, 10, 2.0)
        self.assertEqual([bucket.try_take() for _ in range(11)], [True] * 10 + [False])
        clock.advance(0.5)
        self.assertEqual([bucket.try_take() for _ in range(2)], [True, False])

    def test_never_more_than_capacity(self) -> None:
        """An hour of quiet refills the bucket to its capacity, no more."""
        clock = Clock()
        bucket = TokenBucket(clock, 3, 1.0)
        clock.advance(3600)
        self.assertEqual([bucket.try_take() for _ in range(4)], [True] * 3 + [False])

    def test_seconds_until(self) -> None:
        """With the bucket empty, a token is 0.5 s away at 2 a second, 2 tokens 1 s, and 0.25 s later a token
        0.25 s; 0 when there are tokens."""
        clock = Clock()
        bucket = TokenBucket(clock, 2, 2.0)
        self.assertEqual(bucket.seconds_until(), 0)
        bucket.try_take(2)
        self.assertEqual((bucket.seconds_until(), bucket.seconds_until(2)), (0.5, 1.0))
        clock.advance(0.25)
        self.assertEqual(bucket.seconds_until(), 0.25)

    def test_a_refused_take_costs_nothing(self) -> None:
        """Asking for more than there is takes nothing: the tokens are still there for a smaller take."""
        clock = Clock()
        bucket = TokenBucket(clock, 3, 1.0)
        self.assertFalse(bucket.try_take(4))
        self.assertEqual([bucket.try_take() for _ in range(4)], [True] * 3 + [False])

    def test_forfeit_gives_up_what_the_seconds_brought(self) -> None:
        """Forfeiting 1 s at 2 a second takes 2 tokens, down to 0 at most; forfeiting 0 s or less takes none."""
        clock = Clock()
        bucket = TokenBucket(clock, 5, 2.0)
        bucket.forfeit(1)
        self.assertEqual([bucket.try_take() for _ in range(4)], [True] * 3 + [False])
        bucket.forfeit(100)
        clock.advance(0.5)
        self.assertTrue(bucket.try_take())
        bucket.forfeit(0)
        bucket.forfeit(-3)
        clock.advance(0.5)
        self.assertEqual([bucket.try_take() for _ in range(2)], [True, False])

    def test_capacity_and_rate_must_be_positive(self) -> None:
        """A bucket of no capacity or no rate is refused when it is made."""
        for capacity, rate in ((0, 1.0), (1, 0.0), (-1, 1.0)):
            self.assertRaises(ValueError, TokenBucket, Clock(), capacity, rate)
        TokenBucket(Clock(), 0.5, 0.01)
