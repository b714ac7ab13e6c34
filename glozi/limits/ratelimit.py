"""A token bucket that takes its time from an injected clock, and the
``retry_after`` a refused client is told."""

import math

from twisted.internet.interfaces import IReactorTime

# A clock near 2**31 s (a timestamp of today) counts in steps of 2**-22 s, so a
# wait of exactly 3 s can come out a few steps over; this much over is on time.
_CLOCK_SLACK = 0.001


def retry_after(seconds: float) -> int:
    """The whole number of seconds after which an action refused for
    ``seconds`` more may succeed: rounded up (rounded to the nearest, a client
    that waited as told would be refused again), and at least 1."""
    return max(1, math.ceil(seconds - _CLOCK_SLACK))


class TokenBucket:
    """Allows bursts of ``capacity`` actions, refilled at ``rate`` per second."""

    __slots__ = ("_clock", "_tokens", "_updated", "capacity", "rate")

    def __init__(self, clock: IReactorTime, capacity: float, rate: float) -> None:
        if capacity <= 0 or rate <= 0:
            raise ValueError("capacity and rate must be positive")
        self._clock = clock
        self.capacity = capacity
        self.rate = rate
        self._tokens = capacity
        self._updated = clock.seconds()

    def _refill(self) -> None:
        now = self._clock.seconds()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def try_take(self, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens if there are enough; report whether it did."""
        self._refill()
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        return False

    def forfeit(self, seconds: float) -> None:
        """Give up what ``seconds`` of refilling brought: time the tokens could not really be spent in."""
        if seconds <= 0:
            return
        self._refill()
        self._tokens = max(0.0, self._tokens - seconds * self.rate)

    def seconds_until(self, cost: float = 1.0) -> float:
        """How long until ``cost`` tokens are available (0 when they are now)."""
        self._refill()
        return max(0.0, (cost - self._tokens) / self.rate)
