"""What the chat domain asks of its storage, and an in-memory implementation.

The domain never sees SQL: at start it restores a ``Snapshot`` (every created
session and the recent history of every session), and while it runs it hands
the store plain records. Each write returns a Deferred that fires once the
write is durable (committed), or fails when it could not be. Writes are
applied in the order they were made, so a committed message implies its
session's creation was committed too. ``glozi/storage/sqlitestore.py`` is the
SQLite implementation, ``glozi/storage/pgstore.py`` the PostgreSQL one (a
``SequencedStore``: it numbers each session's messages); ``MemoryStore``
keeps everything in this process (unit tests), numbered too.
"""

import json
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

from twisted.internet.defer import Deferred, succeed

from glozi.storage.history import Anchor, Direction, HistoryQuery

FIRST_CREATED_SESSION_ID = 10
"""Ids 1-9 are the built-in sessions; created sessions start here."""
DEFAULT_RETENTION = 10_000
"""Messages kept per session; the oldest go first."""
POSTGRES_URL_PREFIXES = ("postgresql://", "postgres://")


def is_postgres_url(db: str) -> bool:
    """Whether ``--db`` names a PostgreSQL database (``glozi/storage/pgstore.py``) rather than a SQLite file."""
    return db.startswith(POSTGRES_URL_PREFIXES)


class StoreError(Exception):
    """A write could not be committed (the transaction was rolled back), or a read failed."""


class NewerSchemaError(Exception):
    """The database was written by a newer GloziChat; refuse to touch it."""


@dataclass(frozen=True, slots=True)
class SharedFile:
    """A file a message announces (docs/files.md): what members are shown,
    and ``source``, the uploader's address (for the per-user quota; never shown)."""

    name: str
    size: int
    media_type: str
    hash: str
    """SHA-256 of the bytes uploaded, 64 lower-case hex digits."""
    width: int | None = None
    """An image's width as served; ``None`` for a plain file (as the three below)."""
    height: int | None = None
    thumbnail_width: int | None = None
    thumbnail_height: int | None = None
    source: str = ""

    @property
    def is_image(self) -> bool:
        return self.width is not None

    def to_json(self) -> str:
        """The record as kept in a database column."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> "SharedFile | None":
        """The record kept by ``to_json``; ``None`` for a message without a file."""
        return None if text is None else cls(**json.loads(text))


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One chat message as kept: who said what, when, in which session, and
    whether it was a ``/me`` action."""

    session_id: int
    sender: str
    text: str
    sent_at: float
    action: bool = False
    msgid: str = ""
    """The id the message was sent with (glozi/domain/history.py); unique in the store."""
    file: SharedFile | None = None
    """The file this message announces, if it does."""


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A created session as kept (the built-in sessions 1-9 are not stored).

    ``password_hash`` is a ``glozi.storage.passwords`` hash, never the password.
    """

    id: int
    name: str
    created_at: float
    creator: str
    password_hash: str | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a server restores at start.

    ``history`` maps a session id (built-in or created) to its most recent
    messages, oldest first. ``last_session_id`` is the highest id ever
    given, so ids are never reused, even for sessions since deleted.
    """

    sessions: tuple[StoredSession, ...] = ()
    history: dict[int, tuple[StoredMessage, ...]] = field(default_factory=dict)
    last_session_id: int = 0


class Store(Protocol):
    """Durable sessions and messages. Every write fires when committed."""

    def add_session(self, session: StoredSession) -> "Deferred[None]":
        """Keep a newly created session (and remember its id as used), or a
        kept one's new record (its new password hash): the same id replaces it."""

    def delete_session(self, session_id: int) -> "Deferred[None]":
        """Forget a session and all of its messages."""

    def add_message(self, message: StoredMessage) -> "Deferred[int | None]":
        """Keep a message; the oldest messages past the retention limit go.

        Fires with the message's sequence number in its session (1, 2, 3 …,
        never given twice, not even after trimming) where the store keeps one
        (PostgreSQL, ``MemoryStore``), else with ``None`` (SQLite)."""

    def read_history(self, session_id: int, query: HistoryQuery) -> "Deferred[list[StoredMessage]]":
        """The session's kept messages that ``query`` asks for, oldest first
        (glozi/domain/history.py says what each direction means). Messages are
        ordered as they were stored; a time bound compares ``sent_at``. A read
        sees every write made before it (queued writes are committed first)."""

    def history_targets(
        self, session_ids: Sequence[int], after: float, before: float, limit: int
    ) -> "Deferred[list[tuple[int, float]]]":
        """Of ``session_ids``, those with a kept message sent strictly between
        ``after`` and ``before`` (either order), with the time of the newest
        (last stored) such message; the ``limit`` most recent, newest first."""

    def kept_files(self, file_hash: str | None = None) -> "Deferred[list[tuple[int, SharedFile]]]":
        """Every kept message's file as ``(session id, file)``, or only those
        with the hash ``file_hash`` (downloads, quotas and the files
        directory's clean-up read them; docs/files.md)."""

    def close(self) -> "Deferred[None]":
        """Commit what is queued, then release the storage."""


class SequencedStore(Store, Protocol):
    """A ``Store`` that numbers each session's messages, and reads them back by number (cluster mode)."""

    def messages_after(self, session_id: int, seq: int, limit: int) -> "Deferred[list[tuple[int, StoredMessage]]]":
        """The first ``limit`` kept messages of the session numbered above ``seq``, ascending, with their
        numbers (trimmed ones are gone: a gap older than the retention cannot be filled)."""

    def last_sequences(self) -> "Deferred[dict[int, int]]":
        """Each session's highest number given (sessions with no message yet are absent)."""


class MemoryStore:
    """A ``Store`` that keeps everything in this process; every write
    succeeds at once. ``snapshot`` reads back what a restart would restore."""

    def __init__(self, retention: int = DEFAULT_RETENTION) -> None:
        self.retention = retention
        self.sessions: dict[int, StoredSession] = {}
        self.messages: defaultdict[int, deque[StoredMessage]] = defaultdict(lambda: deque(maxlen=retention))
        self.last_session_id = 0
        self.sequences: Counter[int] = Counter()
        """Each session's highest message number given."""
        self.closed = False

    def add_session(self, session: StoredSession) -> "Deferred[None]":
        self.sessions[session.id] = session
        self.last_session_id = max(self.last_session_id, session.id)
        return succeed(None)

    def delete_session(self, session_id: int) -> "Deferred[None]":
        self.sessions.pop(session_id, None)
        self.messages.pop(session_id, None)
        self.sequences.pop(session_id, None)
        return succeed(None)

    def add_message(self, message: StoredMessage) -> "Deferred[int | None]":
        self.messages[message.session_id].append(message)
        self.sequences[message.session_id] += 1
        return succeed(self.sequences[message.session_id])

    def messages_after(self, session_id: int, seq: int, limit: int) -> "Deferred[list[tuple[int, StoredMessage]]]":
        kept = self.messages.get(session_id, ())
        # The kept messages are the newest, numbered up to the session's last number.
        first = self.sequences[session_id] - len(kept) + 1
        numbered = ((first + index, message) for index, message in enumerate(kept))
        return succeed([pair for pair in numbered if pair[0] > seq][:limit])

    def last_sequences(self) -> "Deferred[dict[int, int]]":
        return succeed(dict(self.sequences))

    def read_history(self, session_id: int, query: HistoryQuery) -> "Deferred[list[StoredMessage]]":
        return succeed(answer_history(list(self.messages.get(session_id, ())), query))

    def history_targets(
        self, session_ids: Sequence[int], after: float, before: float, limit: int
    ) -> "Deferred[list[tuple[int, float]]]":
        low, high = min(after, before), max(after, before)
        newest = []
        for session_id in session_ids:
            times = [m.sent_at for m in self.messages.get(session_id, ()) if low < m.sent_at < high]
            if times:
                newest.append((session_id, times[-1]))
        newest.sort(key=lambda pair: pair[1], reverse=True)
        return succeed(newest[:limit])

    def kept_files(self, file_hash: str | None = None) -> "Deferred[list[tuple[int, SharedFile]]]":
        return succeed(
            [
                (session_id, m.file)
                for session_id, messages in self.messages.items()
                for m in messages
                if m.file is not None and file_hash in (None, m.file.hash)
            ]
        )

    def close(self) -> "Deferred[None]":
        self.closed = True
        return succeed(None)

    def snapshot(self, history_limit: int) -> Snapshot:
        """What a server started on this store would restore."""
        history = {
            session_id: tuple(messages)[-history_limit:] if history_limit else ()
            for session_id, messages in self.messages.items()
            if messages
        }
        return Snapshot(
            sessions=tuple(self.sessions[key] for key in sorted(self.sessions)),
            history=history,
            last_session_id=self.last_session_id,
        )


class _Bound:
    """Where an ``Anchor`` falls in a session's kept messages: at a kept
    message (its index) or at a time; ``key`` orders two bounds."""

    __slots__ = ("index", "key", "time")

    def __init__(self, time: float, index: int | None) -> None:
        self.time = time
        self.index = index
        self.key = (time, -1 if index is None else index)

    def before(self, index: int, message: StoredMessage) -> bool:
        return index < self.index if self.index is not None else message.sent_at < self.time

    def after(self, index: int, message: StoredMessage) -> bool:
        return index > self.index if self.index is not None else message.sent_at > self.time


def answer_history(kept: list[StoredMessage], query: HistoryQuery) -> list[StoredMessage]:
    """``query`` answered from a session's kept messages, oldest first (the
    in-memory reference the SQL stores must agree with: tests/storebehaviour.py).

    A bound is a kept message (by storage order) or a time (compared with
    ``sent_at``), exclusive both ways; ``AROUND`` takes up to half its limit
    before its bound, then the rest from the bound on (a message it names included)."""

    def bound(anchor: Anchor) -> _Bound | None:
        if anchor.msgid is None:
            assert anchor.time is not None
            return _Bound(anchor.time, None)
        for index, message in enumerate(kept):
            if message.msgid == anchor.msgid:
                return _Bound(message.sent_at, index)
        return None

    limit = query.limit
    if limit <= 0:
        return []
    if query.direction is Direction.LATEST and query.start is None:
        return kept[-limit:]
    assert query.start is not None
    start = bound(query.start)
    if start is None:
        return []
    numbered = list(enumerate(kept))
    if query.direction is Direction.LATEST:
        return [m for index, m in numbered if start.after(index, m)][-limit:]
    if query.direction is Direction.AFTER:
        return [m for index, m in numbered if start.after(index, m)][:limit]
    if query.direction is Direction.BEFORE:
        return [m for index, m in numbered if start.before(index, m)][-limit:]
    if query.direction is Direction.AROUND:
        before = [m for index, m in numbered if start.before(index, m)][-(limit // 2) :] if limit // 2 else []
        return before + [m for index, m in numbered if not start.before(index, m)][: limit - len(before)]
    assert query.end is not None
    end = bound(query.end)
    if end is None:
        return []
    low, high = (start, end) if start.key <= end.key else (end, start)
    inside = [m for index, m in numbered if low.after(index, m) and high.before(index, m)]
    return inside[:limit] if low is start else inside[-limit:]
