"""The inactivity timer of one session member: warn, then expire."""

from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime


class InactivityTimer:
    """Calls ``on_warn`` after half of ``timeout`` seconds of silence and
    ``on_expire`` after all of it; ``touch`` starts the silence over.

    Activity only records the time: the two delayed calls stay where they are
    and, when one fires early because the member spoke since it was set, it
    re-arms itself for the rest of the silence. So a chatty member costs one
    assignment per message, and a quiet one two delayed calls in all.
    """

    __slots__ = (
        "_clock",
        "_expire_call",
        "_last_activity",
        "_on_expire",
        "_on_warn",
        "_warn_call",
        "timeout",
        "warn_after",
    )

    def __init__(
        self,
        clock: IReactorTime,
        timeout: float,
        on_warn: Callable[[float], None],
        on_expire: Callable[[], None],
    ) -> None:
        self._clock = clock
        self.timeout = timeout
        self.warn_after = timeout / 2
        self._on_warn = on_warn
        self._on_expire = on_expire
        self._warn_call: IDelayedCall | None = None
        self._expire_call: IDelayedCall | None = None
        self._last_activity = 0.0

    def start(self) -> None:
        """Begin (or restart) counting silence from now."""
        self.stop()
        self._last_activity = self._clock.seconds()
        self._warn_call = self._clock.callLater(self.warn_after, self._warn)
        self._expire_call = self._clock.callLater(self.timeout, self._expire)

    def touch(self) -> None:
        """Record activity now."""
        self._last_activity = self._clock.seconds()
        if self._warn_call is None and self._expire_call is not None:
            # The warning was given; the next silence deserves one too.
            self._warn_call = self._clock.callLater(self.warn_after, self._warn)

    def stop(self) -> None:
        """Cancel both calls; the timer can be started again later."""
        for call in (self._warn_call, self._expire_call):
            if call is not None and call.active():
                call.cancel()
        self._warn_call = self._expire_call = None

    def _silence(self) -> float:
        return self._clock.seconds() - self._last_activity

    def _warn(self) -> None:
        silence = self._silence()
        if silence < self.warn_after:
            self._warn_call = self._clock.callLater(self.warn_after - silence, self._warn)
            return
        self._warn_call = None
        self._on_warn(self.timeout - self.warn_after)

    def _expire(self) -> None:
        silence = self._silence()
        if silence < self.timeout:
            self._expire_call = self._clock.callLater(self.timeout - silence, self._expire)
            return
        if self._warn_call is not None and self._warn_call.active():
            self._warn_call.cancel()
        self._warn_call = self._expire_call = None
        self._on_expire()
