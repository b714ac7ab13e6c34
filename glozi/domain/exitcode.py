"""The server exit code: a secret 10-digit code that shuts the server down.

Whoever reads the code on the server's console can always use it: every
limit is per source, so guesses from elsewhere never refuse the right code.
A connection is dropped after ``FAILURES_PER_CONNECTION`` wrong codes; a
source (an IPv4 address, an IPv6 /64: see ``source_group``) gets
``SOURCE_FREE_FAILURES`` wrong codes, then each wrong code blocks it for a
delay doubling from ``SOURCE_FIRST_DELAY`` up to ``SOURCE_MAX_DELAY`` (a day).
So one source gets about one guess a day, and 65,536 sources together
reach a 10^10 code space in about 200 years on average (docs/security.md).
"""

import hmac
import secrets

from twisted.internet.interfaces import IReactorTime

from glozi.domain.errors import ChatError
from glozi.domain.names import EXIT_CODE_LENGTH
from glozi.limits.guessing import SOURCE_MEMORY, Backoff, source_group
from glozi.limits.ratelimit import retry_after

FAILURES_PER_CONNECTION = 3
SOURCE_FREE_FAILURES = 3
SOURCE_FIRST_DELAY = 2.0
SOURCE_MAX_DELAY = 24 * 3600.0


def new_exit_code() -> str:
    """A fresh random 10-digit code, from a cryptographic source."""
    return f"{secrets.randbelow(10**EXIT_CODE_LENGTH):0{EXIT_CODE_LENGTH}d}"


class ExitCodeGuard:
    """Checks exit-code attempts against the secret, within the per-source limits."""

    def __init__(
        self, code: str, clock: IReactorTime, *, failures_per_connection: int = FAILURES_PER_CONNECTION
    ) -> None:
        self.code = code
        self.failures_per_connection = failures_per_connection
        # Remembered for 30 days, far past the longest delay: a source that
        # reached the ceiling keeps it instead of starting afresh.
        self._sources = Backoff(
            clock,
            free=SOURCE_FREE_FAILURES,
            base=SOURCE_FIRST_DELAY,
            ceiling=SOURCE_MAX_DELAY,
            forget_after=SOURCE_MEMORY,
        )

    def failed_elsewhere(self, source: str) -> None:
        """Another server of the cluster had a wrong exit code from ``source``: it counts here too."""
        self._sources.failed(source_group(source))

    def check(self, attempt: str, failures_so_far: int, source: str = "unknown") -> None:
        """Return if ``attempt`` is the code; raise ``ChatError`` otherwise.

        ``failures_so_far`` is how many wrong codes this connection already
        sent; the error asks for a disconnect when this one is the last allowed.
        A source in its delay gets ``too_many_attempts``, which is no attempt.
        """
        key = source_group(source)
        wait = self._sources.wait(key)
        if wait > 0:
            seconds = retry_after(wait)
            raise ChatError(
                "too_many_attempts",
                f"Too many wrong exit codes from your address; try again in {seconds} s.",
                retry_after=seconds,
            )
        if hmac.compare_digest(attempt.encode(), self.code.encode()):
            return
        self._sources.failed(key)
        left = self.failures_per_connection - (failures_so_far + 1)
        if left <= 0:
            raise ChatError(
                "wrong_exit_code",
                "Wrong exit code. Too many wrong codes: disconnecting.",
                disconnect=True,
            )
        raise ChatError("wrong_exit_code", f"Wrong exit code ({left} attempt{'' if left == 1 else 's'} left).")
