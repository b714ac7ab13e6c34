"""Limits on guessing secrets (5-digit session passwords, the 10-digit exit code).

A 5-digit password has 100,000 values, so an attacker needs 50,000 guesses on
average. The limits below make that take years; docs/security.md shows the
arithmetic. ``Backoff`` gives growing delays per key (a connection, a source
address); ``GuessGuard`` combines the scopes for one kind of secret;
``source_group`` says which addresses count as one source.
"""

import ipaddress
from collections import OrderedDict, deque
from dataclasses import dataclass

from twisted.internet.interfaces import IReactorTime

from glozi.domain.errors import ChatError
from glozi.limits.ratelimit import TokenBucket, retry_after

SOURCE_MEMORY = 30 * 24 * 3600.0
IPV6_SOURCE_PREFIX = 64


def source_group(host: str) -> str:
    """The source a peer address is limited as.

    An IPv4 address is itself. An IPv6 address counts as its /64: a LAN
    segment is one /64, and a host on it can take any of its 2^64 addresses
    at will, so counting addresses would multiply an attacker's guesses. An
    IPv4-mapped IPv6 address is its IPv4 address; anything that is not an IP
    address (a UNIX socket) is its own source.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        host_bits = 128 - IPV6_SOURCE_PREFIX
        return str(ipaddress.IPv6Network((int(address) >> host_bits << host_bits, IPV6_SOURCE_PREFIX)))
    return str(address)


@dataclass
class _Record:
    failures: int = 0
    blocked_until: float = 0.0
    last_failure: float = 0.0


class Backoff:
    """Per-key growing delays: after ``free`` failures, each further failure
    blocks the key for ``base`` seconds, doubling up to ``ceiling``.

    A key is forgotten ``forget_after`` seconds after its last failure, and at
    most ``max_keys`` keys are remembered (the oldest go first), so memory
    stays bounded whatever an attacker does.
    """

    def __init__(
        self,
        clock: IReactorTime,
        *,
        free: int,
        base: float,
        ceiling: float,
        forget_after: float = 24 * 3600.0,
        max_keys: int = 100_000,
    ) -> None:
        self._clock = clock
        self.free = free
        self.base = base
        self.ceiling = ceiling
        self.forget_after = forget_after
        self.max_keys = max_keys
        self._records: OrderedDict[object, _Record] = OrderedDict()

    def _record(self, key: object) -> _Record | None:
        record = self._records.get(key)
        if record is not None and self._clock.seconds() - record.last_failure > self.forget_after:
            del self._records[key]
            return None
        return record

    def failures(self, key: object) -> int:
        """How many failures ``key`` has on record."""
        record = self._record(key)
        return record.failures if record else 0

    def wait(self, key: object) -> float:
        """Seconds until ``key`` may try again (0 when it may now)."""
        record = self._record(key)
        if record is None:
            return 0.0
        return max(0.0, record.blocked_until - self._clock.seconds())

    def failed(self, key: object) -> None:
        """Record a failure for ``key`` and block it if it is past its free ones."""
        now = self._clock.seconds()
        record = self._record(key) or _Record()
        record.failures += 1
        record.last_failure = now
        excess = record.failures - self.free
        if excess > 0:
            record.blocked_until = now + min(self.ceiling, self.base * 2 ** min(excess - 1, 32))
        self._records[key] = record
        self._records.move_to_end(key)
        while len(self._records) > self.max_keys:
            self._records.popitem(last=False)

    def forget(self, key: object) -> None:
        """Drop ``key``'s record (a right guess, or a connection that closed)."""
        self._records.pop(key, None)


class RecentCount:
    """At most ``limit`` events in any ``seconds``: the times of the last
    ``limit`` of them, so memory stays bounded."""

    __slots__ = ("_clock", "_times", "seconds")

    def __init__(self, clock: IReactorTime, limit: int, seconds: float) -> None:
        self._clock = clock
        self.seconds = seconds
        self._times: deque[float] = deque(maxlen=limit)

    def wait(self) -> float:
        """Seconds until one more event may happen (0 when it may now)."""
        if len(self._times) < self._times.maxlen:
            return 0.0
        return max(0.0, self._times[0] + self.seconds - self._clock.seconds())

    def add(self) -> None:
        """Count one event, now."""
        self._times.append(self._clock.seconds())



class GuessGuard:
    """All the limits on guessing one kind of secret.

    - per connection: ``connection_free`` wrong guesses, then growing delays;
    - per source address: ``source_free`` wrong guesses, then delays doubling
      from 2 s to at most an hour, forgotten after 30 days without failures;
    - per target (a session): guesses from sources that already failed share a
      budget of ``target_per_hour`` an hour, so a storm cannot go fast by
      spreading over addresses, while members joining from clean addresses are
      never held up by someone else's storm;
    - server-wide: at most ``server_per_minute`` wrong guesses in any minute,
      counted when each is found wrong. Guesses being checked do not count:
      right passwords in flight (a busy server's members joining) must never
      be refused for someone else's storm.
    """

    def __init__(
        self,
        clock: IReactorTime,
        *,
        what: str,
        connection_free: int = 3,
        source_free: int = 3,
        target_per_hour: float = 3,
        server_per_minute: int = 60,
    ) -> None:
        self._clock = clock
        self.what = what
        self.connections = Backoff(clock, free=connection_free, base=2.0, ceiling=600.0)
        self.sources = Backoff(clock, free=source_free, base=2.0, ceiling=3600.0, forget_after=SOURCE_MEMORY)
        self.target_per_hour = target_per_hour
        self._targets: OrderedDict[object, TokenBucket] = OrderedDict()
        self._server = RecentCount(clock, server_per_minute, 60.0)

    def _target_bucket(self, target: object) -> TokenBucket:
        bucket = self._targets.get(target)
        if bucket is None:
            bucket = self._targets[target] = TokenBucket(
                self._clock, self.target_per_hour, self.target_per_hour / 3600
            )
            while len(self._targets) > 10_000:
                self._targets.popitem(last=False)
        return bucket

    def _refuse(self, seconds: float) -> ChatError:
        wait = retry_after(seconds)
        return ChatError(
            "too_many_attempts", f"Too many wrong {self.what}s; try again in {wait} s.", retry_after=wait
        )

    def allow(self, connection: object, source: object, target: object = None) -> None:
        """Raise ``too_many_attempts`` if a guess from here may not be checked now."""
        wait = max(self.connections.wait(connection), self.sources.wait(source))
        if wait > 0:
            raise self._refuse(wait)
        if self._server.wait() > 0:
            raise self._refuse(self._server.wait())
        if self.sources.failures(source) > 0:
            bucket = self._target_bucket(target)
            if not bucket.try_take():
                raise self._refuse(bucket.seconds_until())

    def failed(self, connection: object, source: object) -> None:
        """Record a wrong guess."""
        self.connections.failed(connection)
        self.sources.failed(source)
        self._server.add()

    def failed_elsewhere(self, source: object) -> None:
        """Another server of the cluster had a wrong guess from ``source``: it counts here too."""
        self.sources.failed(source)
        self._server.add()

    def succeeded(self, connection: object, source: object) -> None:
        """A right guess clears the caller's record."""
        self.connections.forget(connection)
        self.sources.forget(source)

    def target_gone(self, target: object) -> None:
        """``target`` (a closed session) cannot be guessed any more; its budget goes."""
        self._targets.pop(target, None)

    def disconnected(self, connection: object) -> None:
        """``connection`` is gone. Its own record cannot matter any more (its
        source's record stays, so reconnecting still does not help), and
        keeping it would keep the whole closed connection in memory."""
        self.connections.forget(connection)
