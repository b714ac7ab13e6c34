"""The PostgreSQL ``Store``: sessions and messages in a database several servers can share (issue 15).

The same contract as the SQLite store (``glozi/storage/sqlitestore.py``),
and the same machinery: start-up (``open_store``) is synchronous, before the
reactor serves anyone; from then on writes are group-committed through
``twisted.enterprise.adbapi`` on one connection in one database thread, so
they are applied in the order they were made and each write's Deferred fires
once the transaction holding it is committed (or fails with ``StoreError``).
psycopg 3 in a thread rather than its asyncio mode: that would need the
asyncio reactor under the whole server, for no gain over one writing thread.

Every message gets a per-session sequence number (1, 2, ...) in the
transaction that stores it, and ``add_message`` fires with it. The counter
row of the session stays locked until that transaction commits, so writers
of one session (on any server) commit in sequence order: whoever sees message
N committed can read every message before it (``messages_after``).

Session names are unique by their key (``glozi.domain.names.name_key``,
which the store is given, as it imports nothing outside glozi/storage/):
a unique index on ``sessions.name_key``. Ids in a cluster come from the
``session_ids`` sequence (``glozi/cluster/record.py``); a session a single
server numbered itself moves the sequence past its id.

The schema version is the ``schema_version`` row of ``meta``;
``MIGRATIONS[i]`` takes a database from version ``i`` to ``i + 1``. Servers
starting together take an advisory lock, so one of them migrates.
"""

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import psycopg
from twisted.enterprise import adbapi
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from glozi.storage.groupcommit import GroupCommitStore, Operation
from glozi.storage.historysql import HistoryReads
from glozi.storage.store import (
    DEFAULT_RETENTION,
    NewerSchemaError,
    SharedFile,
    Snapshot,
    StoredMessage,
    StoredSession,
)

MIGRATION_LOCK = 0x6C0215
"""The advisory lock key held while the schema is checked or migrated."""
CONNECT_TIMEOUT = 5
"""Seconds to wait for PostgreSQL to answer a new connection: an unreachable
database fails each write instead of holding the database thread."""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL)",
        "INSERT INTO meta (key, value) VALUES ('last_session_id', 0)",
        # Ids 1-9 are the built-in sessions (FIRST_CREATED_SESSION_ID in store.py).
        "CREATE SEQUENCE session_ids AS BIGINT START WITH 10 MINVALUE 10",
        """CREATE TABLE sessions (
            id BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            creator TEXT NOT NULL,
            password_hash TEXT
        )""",
        "CREATE UNIQUE INDEX sessions_by_name_key ON sessions (name_key)",
        "CREATE TABLE session_sequences (session_id BIGINT PRIMARY KEY, last_seq BIGINT NOT NULL)",
        """CREATE TABLE messages (
            session_id BIGINT NOT NULL,
            seq BIGINT NOT NULL,
            sender TEXT NOT NULL,
            text TEXT NOT NULL,
            sent_at DOUBLE PRECISION NOT NULL,
            action BOOLEAN NOT NULL DEFAULT FALSE,
            PRIMARY KEY (session_id, seq)
        )""",
    ),
    # 2: each message keeps the id it was sent with (unique, read by id for
    # history paging). One stored before (or written without one) gets "p",
    # its session and its number: never given twice, and the ids the server
    # gives are hex, so the two never meet.
    (
        "ALTER TABLE messages ADD COLUMN msgid TEXT",
        "UPDATE messages SET msgid = 'p' || session_id || '-' || seq",
        "ALTER TABLE messages ALTER COLUMN msgid SET NOT NULL",
        "CREATE UNIQUE INDEX messages_by_msgid ON messages (msgid)",
    ),
    # 3: a message may announce a file (docs/files.md): its record as JSON, and
    # its hash apart, indexed, for downloads and the files directory's clean-up.
    (
        "ALTER TABLE messages ADD COLUMN file TEXT",
        "ALTER TABLE messages ADD COLUMN file_hash TEXT",
        "CREATE INDEX messages_by_file_hash ON messages (file_hash) WHERE file_hash IS NOT NULL",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(connection: psycopg.Connection[Any]) -> int:
    """Bring the schema up to ``SCHEMA_VERSION`` in one transaction; returns the version found.
    Raises ``NewerSchemaError`` for a future schema."""
    return upgrade(connection, "schema_version", MIGRATIONS, "the database")


def upgrade(
    connection: psycopg.Connection[Any], key: str, migrations: Sequence[Sequence[str]], what: str
) -> int:
    """In one transaction under the advisory lock, run the ``migrations`` (one list of statements
    per version) past the version kept in ``meta`` under ``key``, and keep the new one; returns
    the version found. Raises ``NewerSchemaError`` naming ``what`` for a future schema."""
    latest = len(migrations)
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        exists = connection.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()
        found = 0
        if exists and exists[0]:
            row = connection.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
            found = int(row[0]) if row else 0
        if found > latest:
            raise NewerSchemaError(f"{what} has schema version {found}; this server knows up to {latest}")
        for version in range(found, latest):
            for statement in migrations[version]:
                connection.execute(statement)
        if found < latest:
            connection.execute(
                "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (key, latest),
            )
    return found


def _trim(cursor: Any, session_id: int, retention: int) -> None:
    cursor.execute(
        "DELETE FROM messages WHERE session_id = %s AND seq <= "
        "(SELECT seq FROM messages WHERE session_id = %s ORDER BY seq DESC LIMIT 1 OFFSET %s)",
        (session_id, session_id, retention),
    )


def read_snapshot(connection: psycopg.Connection[Any], history_limit: int) -> Snapshot:
    """The sessions, the last ``history_limit`` messages of each session and the highest id ever given."""
    sessions = tuple(
        StoredSession(*row)
        for row in connection.execute(
            "SELECT id, name, created_at, creator, password_hash FROM sessions ORDER BY id"
        )
    )
    row = connection.execute("SELECT value FROM meta WHERE key = 'last_session_id'").fetchone()
    last_session_id = int(row[0]) if row else 0
    history: dict[int, tuple[StoredMessage, ...]] = {}
    if history_limit > 0:
        rows = connection.execute(
            "SELECT session_id, sender, text, sent_at, action, msgid, file FROM ("
            " SELECT *, row_number() OVER (PARTITION BY session_id ORDER BY seq DESC) AS newness FROM messages"
            ") AS recent WHERE newness <= %s ORDER BY session_id, seq",
            (history_limit,),
        ).fetchall()
        for session_id, sender, text, sent_at, action, msgid, file in rows:
            history.setdefault(session_id, ())
            stored = StoredMessage(session_id, sender, text, sent_at, action, msgid, SharedFile.from_json(file))
            history[session_id] += (stored,)
    return Snapshot(sessions=sessions, history=history, last_session_id=last_session_id)


def _load(dsn: str, history_limit: int, retention: int) -> Snapshot:
    with psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT) as connection:
        migrate(connection)
        # Tidy what a crash may have left: messages of deleted sessions, and
        # sessions over the (possibly lowered) retention.
        with connection.transaction():
            connection.execute(
                "DELETE FROM messages WHERE session_id > 9 AND session_id NOT IN (SELECT id FROM sessions)"
            )
            cursor = connection.cursor()
            for (session_id,) in connection.execute("SELECT DISTINCT session_id FROM messages").fetchall():
                _trim(cursor, session_id, retention)
        return read_snapshot(connection, history_limit)


_LOCK_COUNTERS = (
    "INSERT INTO session_sequences (session_id, last_seq)"
    " SELECT id, 0 FROM unnest(%s::bigint[]) AS id ORDER BY id"
    " ON CONFLICT (session_id) DO UPDATE SET last_seq = session_sequences.last_seq"
    " RETURNING session_id, last_seq"
)
"""Takes (and reads) the counter rows of the given sessions, in id order: two
transactions (two servers) taking them as their writes come could each hold
one the other waits for, and PostgreSQL would abort one of them."""

_SET_COUNTERS = (
    "INSERT INTO session_sequences (session_id, last_seq)"
    " SELECT * FROM unnest(%s::bigint[], %s::bigint[])"
    " ON CONFLICT (session_id) DO UPDATE SET last_seq = EXCLUDED.last_seq"
)

_INSERT_MESSAGE = (
    "INSERT INTO messages (session_id, seq, sender, text, sent_at, action, msgid, file, file_hash)"
    " VALUES (%(session_id)s, %(seq)s, %(sender)s, %(text)s, %(sent_at)s, %(action)s, %(msgid)s, %(file)s,"
    " %(file_hash)s)"
)

_UPSERT_SESSION = (
    "INSERT INTO sessions (id, name, name_key, created_at, creator, password_hash)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, name_key = EXCLUDED.name_key,"
    " created_at = EXCLUDED.created_at, creator = EXCLUDED.creator, password_hash = EXCLUDED.password_hash"
)

_PASS_SESSION_ID = (
    "SELECT setval('session_ids', %(id)s) FROM session_ids"
    " WHERE (CASE WHEN is_called THEN last_value ELSE last_value - 1 END) < %(id)s"
)
"""A session numbered by a single server (not reserved from the sequence):
the sequence goes past it, so a cluster node never reserves its id again."""


def _write_through(
    connection: Any,
    operations: Iterable[Operation],
    retention: int,
    trim: Iterable[int],
    name_key: Callable[[str], str],
) -> list[int | None]:
    """One transaction (in the database thread): the counters of the sessions
    it writes to or deletes taken in id order, then the operations in order,
    consecutive messages in one ``executemany`` (one pipelined round trip),
    the counters moved on; then the retention trim of the sessions in
    ``trim``. Returns each message's number (``None`` for the other writes).
    adbapi commits after it, or rolls back if it raised."""
    operations = list(operations)
    cursor = connection.cursor()
    counted = sorted(
        {value.session_id for kind, value in operations if kind == "message"}
        | {value for kind, value in operations if kind == "delete"}
    )
    last: dict[int, int] = {}
    if counted:
        cursor.execute(_LOCK_COUNTERS, (counted,))
        last = dict(cursor.fetchall())
    moved: dict[int, int] = {}
    results: list[int | None] = []
    messages: list[dict[str, Any]] = []

    def write_messages() -> None:
        if messages:
            cursor.executemany(_INSERT_MESSAGE, messages)
            messages.clear()

    for kind, value in operations:
        if kind == "message":
            seq = moved[value.session_id] = last[value.session_id] = last.get(value.session_id, 0) + 1
            results.append(seq)
            messages.append(
                {
                    "session_id": value.session_id,
                    "seq": seq,
                    "sender": value.sender,
                    "text": value.text,
                    "sent_at": value.sent_at,
                    "action": value.action,
                    # No id (""): one from its number, as migration 2 gave the messages stored before.
                    "msgid": value.msgid or f"p{value.session_id}-{seq}",
                    "file": None if value.file is None else value.file.to_json(),
                    "file_hash": None if value.file is None else value.file.hash,
                }
            )
            continue
        write_messages()
        results.append(None)
        if kind == "session":
            cursor.execute(
                _UPSERT_SESSION,
                (value.id, value.name, name_key(value.name), value.created_at, value.creator, value.password_hash),
            )
            cursor.execute(
                "UPDATE meta SET value = GREATEST(value, %s) WHERE key = 'last_session_id'", (value.id,)
            )
            cursor.execute(_PASS_SESSION_ID, {"id": value.id})
        elif kind == "delete":
            cursor.execute("DELETE FROM messages WHERE session_id = %s", (value,))
            cursor.execute("DELETE FROM session_sequences WHERE session_id = %s", (value,))
            cursor.execute("DELETE FROM sessions WHERE id = %s", (value,))
            last[value] = 0
            moved.pop(value, None)
        else:
            raise ValueError(f"unknown store operation {kind!r}")
    write_messages()
    if moved:
        cursor.execute(_SET_COUNTERS, (list(moved), list(moved.values())))
    for session_id in trim:
        _trim(cursor, session_id, retention)
    return results


def read_last_sequences(cursor: Any) -> dict[int, int]:
    """Each session's highest message number given, by session id."""
    cursor.execute("SELECT session_id, last_seq FROM session_sequences WHERE last_seq > 0")
    return dict(cursor.fetchall())


def _messages_after(cursor: Any, session_id: int, seq: int, limit: int) -> list[tuple[int, StoredMessage]]:
    cursor.execute(
        "SELECT seq, sender, text, sent_at, action, msgid, file FROM messages"
        " WHERE session_id = %s AND seq > %s ORDER BY seq LIMIT %s",
        (session_id, seq, limit),
    )
    return [
        (number, StoredMessage(session_id, sender, text, sent_at, action, msgid, SharedFile.from_json(file)))
        for number, sender, text, sent_at, action, msgid, file in cursor.fetchall()
    ]


class PostgresStore(GroupCommitStore):
    """A ``SequencedStore`` on PostgreSQL through adbapi and psycopg 3, with group commit.

    ``name_key`` gives a session name's unique key (``glozi.domain.names.name_key``).
    """

    history = HistoryReads("seq", "%s")

    def __init__(
        self, pool: adbapi.ConnectionPool, clock: IReactorTime, retention: int, name_key: Callable[[str], str]
    ) -> None:
        super().__init__(pool, clock, retention)
        self._name_key = name_key

    def transaction(
        self, connection: Any, operations: Iterable[Operation], retention: int, trim: Iterable[int]
    ) -> list[int | None]:
        return _write_through(connection, operations, retention, trim, self._name_key)

    def messages_after(self, session_id: int, seq: int, limit: int) -> "Deferred[list[tuple[int, StoredMessage]]]":
        return self._read(_messages_after, session_id, seq, limit)

    def last_sequences(self) -> "Deferred[dict[int, int]]":
        return self._read(read_last_sequences)


def open_store(
    dsn: str,
    reactor: Any,
    *,
    history_limit: int,
    name_key: Callable[[str], str],
    retention: int = DEFAULT_RETENTION,
) -> tuple[PostgresStore, Snapshot]:
    """Open (creating or migrating the schema of) the PostgreSQL database at
    ``dsn`` (``postgresql://…``) and read what to restore; ``name_key`` gives
    a session name's unique key.

    Blocking: call it before the reactor serves anyone. Raises
    ``psycopg.Error`` or ``NewerSchemaError`` when the database is unusable.
    """
    snapshot = _load(dsn, history_limit, retention)
    pool = adbapi.ConnectionPool(
        "psycopg",
        dsn,
        cp_min=1,
        cp_max=1,
        cp_reactor=reactor,
        cp_noisy=False,
        cp_reconnect=True,
        connect_timeout=CONNECT_TIMEOUT,
    )
    return PostgresStore(pool, reactor, retention, name_key), snapshot
