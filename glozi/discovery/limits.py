"""Bounded bookkeeping for the responder: per-source rate limits and seen nonces.

Small pure objects with an injected clock (anything with ``seconds()``, such
as the reactor or ``twisted.internet.task.Clock``).  Both tables have a hard
size bound so a flood of spoofed sources cannot grow them without limit.
"""

from __future__ import annotations

from collections import OrderedDict

from twisted.internet.interfaces import IReactorTime

from glozi.limits.ratelimit import TokenBucket

DEFAULT_ANSWER_RATE = 1.0
"""Answers per second each source address earns, after its burst is spent."""
DEFAULT_ANSWER_BURST = 6
"""Answers a source address may get at once: a client sends up to 3 probes per path."""
MAX_TRACKED_SOURCES = 4096
NONCE_MEMORY_SECONDS = 30.0
MAX_REMEMBERED_NONCES = 4096


class SourceRateLimiter:
    """A ``glozi.limits.ratelimit.TokenBucket`` per source key.

    Each key may spend ``burst`` answers at once, refilled at ``rate`` per
    second.  When more than ``max_sources`` keys are tracked, the least
    recently used one is forgotten (it gets a fresh bucket next time, which
    errs towards answering, never towards growing).
    """

    def __init__(
        self,
        clock: IReactorTime,
        rate: float = DEFAULT_ANSWER_RATE,
        burst: int = DEFAULT_ANSWER_BURST,
        max_sources: int = MAX_TRACKED_SOURCES,
    ) -> None:
        if rate <= 0 or burst < 1 or max_sources < 1:
            raise ValueError("rate, burst and max_sources must be positive")
        self._clock = clock
        self._rate = rate
        self._burst = burst
        self._max_sources = max_sources
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def allow(self, key: str) -> bool:
        """Spend one token of ``key``'s bucket; ``False`` if it is empty."""
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = TokenBucket(self._clock, capacity=self._burst, rate=self._rate)
        self._buckets[key] = bucket
        while len(self._buckets) > self._max_sources:
            self._buckets.popitem(last=False)
        return bucket.try_take()


class NonceMemory:
    """Remembers nonces for ``lifetime`` seconds to drop repeated probes.

    A probe is seen twice on a loopback capture and once per path when a
    client sends both kinds; it must be answered once.  At most
    ``max_entries`` nonces are kept, oldest forgotten first.
    """

    def __init__(
        self,
        clock: IReactorTime,
        lifetime: float = NONCE_MEMORY_SECONDS,
        max_entries: int = MAX_REMEMBERED_NONCES,
    ) -> None:
        self._clock = clock
        self._lifetime = lifetime
        self._max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, nonce: str) -> bool:
        """Record ``nonce``; ``True`` only if it was not seen within the lifetime."""
        now = self._clock.seconds()
        while self._seen:
            oldest, seen_at = next(iter(self._seen.items()))
            if now - seen_at < self._lifetime:
                break
            del self._seen[oldest]
        if nonce in self._seen:
            return False
        self._seen[nonce] = now
        while len(self._seen) > self._max_entries:
            self._seen.popitem(last=False)
        return True
