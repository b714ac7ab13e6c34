"""The server exit code: a secret 5-digit code that shuts the server down.

Guessing it is hopeless: a connection is dropped after
``FAILURES_PER_CONNECTION`` wrong codes; a source address gets growing delays
after 3 wrong codes (doubling from 2 s to an hour); and the whole server checks
at most ``ATTEMPTS_PER_MINUTE`` codes a minute and, after 10 wrong codes in a
day, blocks everyone for growing delays (doubling from 12 s to an hour). So
past the first few dozen guesses an attacker gets one guess an hour, however
many addresses they use: 50,000 guesses (the average) take over 5 years.
"""

import hmac
import secrets

from twisted.internet.interfaces import IReactorTime

from glozi.errors import ChatError
from glozi.guessing import Backoff
from glozi.ratelimit import TokenBucket

FAILURES_PER_CONNECTION = 3
ATTEMPTS_PER_MINUTE = 5
_EVERYONE = "*"


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
        self._per_minute = TokenBucket(clock, attempts_per_minute, attempts_per_minute / 60)
        self._sources = Backoff(clock, free=3, base=2.0, ceiling=3600.0)
        self._server = Backoff(clock, free=10, base=12.0, ceiling=3600.0)

    def _too_many(self, wait: float) -> ChatError:
        seconds = max(1, round(wait))
        return ChatError(
            "too_many_attempts", f"Too many exit-code attempts; try again in {seconds} s.", retry_after=seconds
        )

    def check(self, attempt: str, failures_so_far: int, source: object = None) -> None:
        """Return if ``attempt`` is the code; raise ``ChatError`` otherwise.

        ``failures_so_far`` is how many wrong codes this connection already
        sent; the error asks for a disconnect when this one is the last allowed.
        """
        wait = max(self._sources.wait(source), self._server.wait(_EVERYONE))
        if wait > 0:
            raise self._too_many(wait)
        if not self._per_minute.try_take():
            raise self._too_many(self._per_minute.seconds_until())
        if hmac.compare_digest(attempt.encode(), self.code.encode()):
            return
        self._sources.failed(source)
        self._server.failed(_EVERYONE)
        left = self.failures_per_connection - (failures_so_far + 1)
        if left <= 0:
            raise ChatError(
                "wrong_exit_code",
                "Wrong exit code. Too many wrong codes: disconnecting.",
                disconnect=True,
            )
        raise ChatError("wrong_exit_code", f"Wrong exit code ({left} attempts left).")
