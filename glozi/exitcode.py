"""The server exit code: a secret 5-digit code that shuts the server down.

Guessing is made hopeless by two limits: a connection is dropped after
``FAILURES_PER_CONNECTION`` wrong codes, and the whole server checks at most
``ATTEMPTS_PER_MINUTE`` codes a minute (a burst of that many, then one every
60/ATTEMPTS_PER_MINUTE seconds), whoever sends them.
"""

import hmac
import secrets

from twisted.internet.interfaces import IReactorTime

from glozi.errors import ChatError
from glozi.ratelimit import TokenBucket

FAILURES_PER_CONNECTION = 3
ATTEMPTS_PER_MINUTE = 5


def new_exit_code() -> str:
    """A fresh random 5-digit code, from a cryptographic source."""
    return f"{secrets.randbelow(100_000):05d}"


class ExitCodeGuard:
    """Checks exit-code attempts against the secret, within the limits."""

    def __init__(
        self,
        code: str,
        clock: IReactorTime,
        *,
        attempts_per_minute: float = ATTEMPTS_PER_MINUTE,
        failures_per_connection: int = FAILURES_PER_CONNECTION,
    ) -> None:
        self.code = code
        self.failures_per_connection = failures_per_connection
        self._server_wide = TokenBucket(clock, attempts_per_minute, attempts_per_minute / 60)

    def check(self, attempt: str, failures_so_far: int) -> None:
        """Return if ``attempt`` is the code; raise ``ChatError`` otherwise.

        ``failures_so_far`` is how many wrong codes this connection already
        sent; the error asks for a disconnect when this one is the last allowed.
        """
        if not self._server_wide.try_take():
            wait = self._server_wide.seconds_until()
            raise ChatError(
                "too_many_attempts",
                f"Too many exit-code attempts on this server; try again in {wait:.0f} s.",
            )
        if hmac.compare_digest(attempt.encode(), self.code.encode()):
            return
        failures = failures_so_far + 1
        left = self.failures_per_connection - failures
        if left <= 0:
            raise ChatError(
                "wrong_exit_code",
                "Wrong exit code. Too many wrong codes: disconnecting.",
                disconnect=True,
            )
        raise ChatError("wrong_exit_code", f"Wrong exit code ({left} attempts left).")
