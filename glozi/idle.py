"""The inactivity timer of one session member: warn, then expire."""

from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime


class InactivityTimer:
    """Calls ``on_warn`` after half of ``timeout`` seconds of silence and
    ``on_expire`` after all of it; ``touch`` starts the silence over.

    Two delayed calls per member, re-armed with ``reset`` on activity, so an
    idle check costs nothing while nobody is idle.
    """

    __slots__ = ("_clock", "_expire_call", "_on_expire", "_on_warn", "_warn_call", "timeout", "warn_after")

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

    def start(self) -> None:
        """Begin (or restart) counting silence from now."""
        self.touch()

    def touch(self) -> None:
        """Record activity now."""
        if self._warn_call is not None and self._warn_call.active():
            self._warn_call.reset(self.warn_after)
        else:
            self._warn_call = self._clock.callLater(self.warn_after, self._warn)
        if self._expire_call is not None and self._expire_call.active():
            self._expire_call.reset(self.timeout)
        else:
            self._expire_call = self._clock.callLater(self.timeout, self._expire)

    def stop(self) -> None:
        """Cancel both calls; the timer can be started again later."""
        for call in (self._warn_call, self._expire_call):
            if call is not None and call.active():
                call.cancel()
        self._warn_call = self._expire_call = None

    def _warn(self) -> None:
        self._on_warn(self.timeout - self.warn_after)

    def _expire(self) -> None:
        if self._warn_call is not None and self._warn_call.active():
            self._warn_call.cancel()
        self._warn_call = self._expire_call = None
        self._on_expire()
