"""Group commit: the write path both database stores share (SQLite and PostgreSQL).

Writes are queued in the reactor thread, and the queue is written in one
transaction on the next reactor turn, through ``twisted.enterprise.adbapi`` on
one connection in one database thread, so writes are applied in the order they
were made. While a transaction is being committed, new writes wait for the next
one, so under load each transaction carries everything that arrived during the
previous commit. Each write's Deferred fires after the transaction holding it
is committed (with what the engine's transaction gave for it: PostgreSQL, a
message's sequence number), or fails with ``StoreError`` when it was rolled back.
"""

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from twisted.enterprise import adbapi
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from glozi.storage.history import HistoryQuery
from glozi.storage.historysql import HistoryReads
from glozi.storage.store import SharedFile, StoredMessage, StoredSession, StoreError

COMMIT_INTERVAL = 0.005
"""A server alone starts at most one transaction per this many seconds. Its
deliveries do not wait for the commit (only the acknowledgements do), and a
server that keeps up with its clients would otherwise commit every message on
its own: one transaction per message, where a few milliseconds gather dozens."""

Operation = tuple[str, Any]
"""``("session", StoredSession)``, ``("delete", session_id)`` or ``("message", StoredMessage)``."""


class GroupCommitStore:
    """A ``Store`` on an adbapi pool of one connection, with group commit.

    ``transaction`` writes one batch of operations in the database thread and
    returns one result per operation (what its write's Deferred fires with);
    adbapi commits after it, or rolls back if it raised.
    """

    transaction: Callable[[Any, Iterable[Operation], int, Iterable[int]], Sequence[int | None]]
    history: HistoryReads
    """The engine's history reads (``read_history``, ``history_targets``)."""

    log = Logger()

    def __init__(self, pool: adbapi.ConnectionPool, clock: IReactorTime, retention: int) -> None:
        self._pool = pool
        self._clock = clock
        self.retention = retention
        self._queue: list[tuple[Operation, Deferred[Any]]] = []
        self._scheduled: Any = None
        self._in_flight: Deferred[Any] | None = None
        self.commit_interval = 0.0
        """Seconds from one transaction's start to the next's at the least
        (``makeService`` sets ``COMMIT_INTERVAL`` for a server alone)."""
        self._next_start = 0.0
        self._closed = False
        # Messages written per session since its last retention trim: a trim
        # walks the session's index, so it runs once per tenth of the
        # retention, not in every commit (and for every session at close).
        self._untrimmed: Counter[int] = Counter()
        self._trim_every = max(1, retention // 10)
        self.answers: AbstractContextManager[object] = nullcontext()
        """Entered while a commit's writers hear back: the doors' write batch,
        so the acknowledgements of one commit go out in one write per connection."""
        self.transactions = 0
        """Transactions committed so far (for tests and the benchmark)."""

    def add_session(self, session: StoredSession) -> "Deferred[None]":
        return self._enqueue(("session", session))

    def delete_session(self, session_id: int) -> "Deferred[None]":
        return self._enqueue(("delete", session_id))

    def add_message(self, message: StoredMessage) -> "Deferred[int | None]":
        return self._enqueue(("message", message))

    def read_history(self, session_id: int, query: HistoryQuery) -> "Deferred[list[StoredMessage]]":
        return self._read(self.history.read, session_id, query)

    def history_targets(
        self, session_ids: Sequence[int], after: float, before: float, limit: int
    ) -> "Deferred[list[tuple[int, float]]]":
        return self._read(self.history.targets, list(session_ids), after, before, limit)

    def kept_files(self, file_hash: str | None = None) -> "Deferred[list[tuple[int, SharedFile]]]":
        return self._read(self.history.files, file_hash)

    @staticmethod
    def cursor(connection: Any) -> Any:
        """The cursor a read uses on the pool's connection."""
        return connection.cursor()

    def _read(self, query: Callable[..., Any], *arguments: Any) -> "Deferred[Any]":
        """``query(cursor, *arguments)`` in the database thread, in its own
        transaction, after every write queued before it; fails with ``StoreError``.

        The pool's one thread runs what it is given in order, so a read handed
        to it after a flush sees that flush committed. Writes still queued are
        flushed first; writes waiting for the commit in flight are flushed as
        soon as it ends, and the read goes after them."""
        if self._closed:
            return fail(StoreError("the store is closed"))
        if self._queue and self._in_flight is not None:
            return self._after(self._in_flight, lambda: self._read(query, *arguments))
        if self._queue:
            if self._scheduled is not None:
                self._scheduled.cancel()
            self._flush()

        def failed(reason: Failure) -> Failure:
            self.log.failure("A read failed", reason)
            return Failure(StoreError(f"the database read failed: {reason.getErrorMessage()}"))

        def read(connection: Any) -> Any:
            return query(self.cursor(connection), *arguments)

        reading: Deferred[Any] = self._pool.runWithConnection(read)
        return reading.addErrback(failed)

    def close(self) -> "Deferred[None]":
        """Commit what is queued, then close the database connection."""
        if self._closed:
            return succeed(None)
        self._closed = True
        if self._scheduled is not None and self._scheduled.active():
            self._scheduled.cancel()
        self._scheduled = None
        done: Deferred[None] = self._drain()

        def close_pool(result: object) -> object:
            self._pool.close()
            return result

        return done.addBoth(close_pool)

    def _drain(self) -> "Deferred[None]":
        """Fires once the queue is empty, every session is trimmed and nothing is being written."""
        if self._in_flight is not None:
            return self._after(self._in_flight, self._drain)
        if self._queue or self._untrimmed:
            return self._after(self._flush(), self._drain)
        return succeed(None)

    @staticmethod
    def _after(waiting: "Deferred[Any]", then: Callable[[], "Deferred[None]"]) -> "Deferred[None]":
        follow: Deferred[None] = Deferred()
        waiting.addBoth(lambda _: then().chainDeferred(follow))
        return follow

    def _enqueue(self, operation: Operation) -> "Deferred[Any]":
        written: Deferred[Any] = Deferred()
        if self._closed:
            written.errback(StoreError("the store is closed"))
            return written
        self._queue.append((operation, written))
        if self._in_flight is None and self._scheduled is None:
            # Everything queued during this reactor turn goes into one transaction.
            self._scheduled = self._clock.callLater(self._wait_to_start(), self._flush)
        return written

    def _wait_to_start(self) -> float:
        return max(0.0, self._next_start - self._clock.seconds())

    def _sessions_to_trim(self, operations: list[Operation]) -> list[int]:
        for kind, value in operations:
            if kind == "message":
                self._untrimmed[value.session_id] += 1
            elif kind == "delete":
                self._untrimmed.pop(value, None)
        due = [s for s, n in self._untrimmed.items() if n >= self._trim_every or self._closed]
        for session_id in due:
            del self._untrimmed[session_id]
        return due

    def _flush(self) -> "Deferred[Sequence[int | None]]":
        self._scheduled = None
        self._next_start = self._clock.seconds() + self.commit_interval
        batch, self._queue = self._queue, []
        operations = [operation for operation, _ in batch]
        trim = self._sessions_to_trim(operations)
        flushing: Deferred[Sequence[int | None]] = self._pool.runWithConnection(
            self.transaction, operations, self.retention, trim
        )
        self._in_flight = flushing

        def committed(results: Sequence[int | None]) -> None:
            self.transactions += 1
            with self.answers:
                for (_, written), result in zip(batch, results, strict=True):
                    written.callback(result)

        def failed(reason: Failure) -> None:
            self.log.failure("A transaction of {n} writes failed", reason, n=len(batch))
            error = StoreError(f"the database write failed: {reason.getErrorMessage()}")
            with self.answers:
                for _, written in batch:
                    written.errback(error)

        def next_batch(_: object) -> None:
            self._in_flight = None
            if self._queue and not self._closed:
                self._scheduled = self._clock.callLater(self._wait_to_start(), self._flush)

        # The in-flight marker is cleared before the writers hear back, so a
        # write they make in reaction starts the next batch.
        flushing.addBoth(lambda result: (next_batch(result), result)[1])
        flushing.addCallbacks(committed, failed)
        return flushing
