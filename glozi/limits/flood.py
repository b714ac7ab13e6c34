"""Flood control for one connection's incoming lines.

A token bucket sized for people: a burst of ``FLOOD_BURST`` lines, then
``FLOOD_RATE`` lines a second. The first line over the budget is refused with
an error; later ones are dropped silently (an error per line would let a flood
make the server write as much as it reads); ``FLOOD_TOLERANCE`` lines over the
budget in a row end the connection. Any line within budget resets that count.
"""

import enum

from twisted.internet.interfaces import IReactorTime

from glozi.limits.ratelimit import TokenBucket

FLOOD_BURST = 20
FLOOD_RATE = 5.0
FLOOD_TOLERANCE = 50


class Verdict(enum.Enum):
    """What to do with one incoming line."""

    ACCEPT = "accept"
    REFUSE = "refuse"
    DROP = "drop"
    DISCONNECT = "disconnect"


class FloodControl:
    """Decides, line by line, whether a connection is within its budget."""

    __slots__ = ("_bucket", "_excess", "tolerance")

    def __init__(
        self,
        clock: IReactorTime,
        *,
        burst: float = FLOOD_BURST,
        rate: float = FLOOD_RATE,
        tolerance: int = FLOOD_TOLERANCE,
    ) -> None:
        self._bucket = TokenBucket(clock, burst, rate)
        self.tolerance = tolerance
        self._excess = 0

    def check(self) -> Verdict:
        """The verdict for the line that just arrived."""
        if self._bucket.try_take():
            self._excess = 0
            return Verdict.ACCEPT
        self._excess += 1
        if self._excess >= self.tolerance:
            return Verdict.DISCONNECT
        if self._excess == 1:
            return Verdict.REFUSE
        return Verdict.DROP
