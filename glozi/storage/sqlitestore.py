"""The SQLite ``Store``: sessions and messages in one WAL-mode database file.

Start-up (``open_store``) is synchronous and happens before the reactor
serves anyone: it creates or migrates the schema and reads the ``Snapshot``
to restore. From then on every write goes through
``twisted.enterprise.adbapi`` on one database thread, so the reactor never
waits on the disk.

Writes are group-committed (``glozi/storage/groupcommit.py``): each write's
Deferred fires after the transaction holding it is committed (with
``synchronous=FULL``: the WAL is fsynced first), or fails with ``StoreError``
when it was rolled back. SQLite keeps no per-session sequence number, so
``add_message`` fires with ``None``. History reads (glozi/storage/historysql.py)
go through the same pool, after the writes queued before them.

The schema is versioned with ``PRAGMA user_version``; ``MIGRATIONS[i]``
takes a database from version ``i`` to ``i + 1``, each in one transaction.
"""

import os
import sqlite3
from collections.abc import Iterable
from typing import Any

from twisted.enterprise import adbapi

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

MEMORY = ":memory:"
DEFAULT_DB_FILE = "glozichat.db"
BUSY_TIMEOUT_MS = 5000

_NAME_THE_UNNAMED = "UPDATE messages SET msgid = 's' || id WHERE msgid IS NULL"
"""Gives each message kept without an id one from its row id."""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the first schema. The next session id was one past the highest
    # stored, which reused the id of a deleted newest session.
    (
        """CREATE TABLE sessions (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            created_at REAL NOT NULL,
            creator TEXT NOT NULL,
            password_hash TEXT
        )""",
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id INTEGER NOT NULL,
            sender TEXT NOT NULL,
            text TEXT NOT NULL,
            sent_at REAL NOT NULL
        )""",
    ),
    # 2: the highest id ever given is kept, so ids are never reused; messages
    # are indexed by session for scrollback and trimming.
    (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        """INSERT INTO meta (key, value) VALUES ('last_session_id', MAX(
            COALESCE((SELECT MAX(id) FROM sessions), 0),
            COALESCE((SELECT MAX(session_id) FROM messages), 0)))""",
        "CREATE INDEX messages_by_session ON messages (session_id, id)",
    ),
    # 3: a message may be a /me action; every message stored before was none.
    ("ALTER TABLE messages ADD COLUMN action INTEGER NOT NULL DEFAULT 0",),
    # 4: each message keeps the id it was sent with (unique, read by id for
    # history paging). One stored before gets "s" and its row id (as one
    # written without an id does: ``_write``): row ids are never given twice,
    # and the ids the server gives are hex, so the two never meet.
    (
        "ALTER TABLE messages ADD COLUMN msgid TEXT",
        _NAME_THE_UNNAMED,
        "CREATE UNIQUE INDEX messages_by_msgid ON messages (msgid)",
    ),
    # 5: a message may announce a file (docs/files.md): its record as JSON, and
    # its hash apart, indexed, for downloads and the files directory's clean-up.
    (
        "ALTER TABLE messages ADD COLUMN file TEXT",
        "ALTER TABLE messages ADD COLUMN file_hash TEXT",
        "CREATE INDEX messages_by_file_hash ON messages (file_hash) WHERE file_hash IS NOT NULL",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(connection: sqlite3.Connection) -> int:
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def migrate(connection: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the schema up to version ``target``, one transaction per step;
    returns the version found. Raises ``NewerSchemaError`` for a future schema."""
    found = schema_version(connection)
    if found > SCHEMA_VERSION:
        raise NewerSchemaError(
            f"the database has schema version {found}; this server knows up to {SCHEMA_VERSION}"
        )
    for version in range(found, target):
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[version]:
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {version + 1}")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    return found


def _configure(connection: sqlite3.Connection) -> None:
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    connection.execute("PRAGMA journal_mode = WAL")
    # FULL: a commit is on disk (the WAL fsynced) before its writes are acknowledged.
    connection.execute("PRAGMA synchronous = FULL")
    # Messages are appended, rarely read: a small page cache is enough, and
    # keeps the server's memory flat (SQLite's default is 2 MiB).
    connection.execute("PRAGMA cache_size = -512")


class _Connection(sqlite3.Connection):
    """A connection that writes through one cursor for its whole life.

    A new cursor per transaction leaves a dead weak reference in the
    connection's cursor list until CPython prunes it (every 200 cursors):
    a few hundred small objects made during a load peak and kept after it.
    """

    _writing_cursor: sqlite3.Cursor | None = None

    def writer(self) -> sqlite3.Cursor:
        if self._writing_cursor is None:
            self._writing_cursor = self.cursor()
        return self._writing_cursor


def _create_private(path: str) -> None:
    """Create the database file readable by its owner only (it holds the
    history and the password hashes); SQLite gives its -wal and -shm files
    the same mode."""
    if path != MEMORY and not os.path.exists(path):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def _trim(cursor: Any, session_id: int, retention: int) -> None:
    cursor.execute(
        "DELETE FROM messages WHERE session_id = ? AND id <= "
        "(SELECT id FROM messages WHERE session_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
        (session_id, session_id, retention),
    )


def read_snapshot(connection: sqlite3.Connection, history_limit: int) -> Snapshot:
    """The sessions, the last ``history_limit`` messages of each session and
    the highest id ever given."""
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
        session_ids = [r[0] for r in connection.execute("SELECT DISTINCT session_id FROM messages")]
        for session_id in session_ids:
            rows = connection.execute(
                "SELECT session_id, sender, text, sent_at, action, msgid, file FROM messages WHERE session_id = ?"
                " ORDER BY id DESC LIMIT ?",
                (session_id, history_limit),
            ).fetchall()
            history[session_id] = tuple(
                StoredMessage(sid, sender, text, sent_at, bool(action), msgid, SharedFile.from_json(file))
                for sid, sender, text, sent_at, action, msgid, file in reversed(rows)
            )
    return Snapshot(sessions=sessions, history=history, last_session_id=last_session_id)


def _load(path: str, history_limit: int, retention: int) -> Snapshot:
    _create_private(path)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        _configure(connection)
        migrate(connection)
        # Tidy what a crash or an older server may have left: messages of
        # deleted sessions, and sessions over the (possibly lowered) retention.
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(
            "DELETE FROM messages WHERE session_id > 9 AND session_id NOT IN (SELECT id FROM sessions)"
        )
        for (session_id,) in connection.execute("SELECT DISTINCT session_id FROM messages").fetchall():
            _trim(connection, session_id, retention)
        connection.execute("COMMIT")
        return read_snapshot(connection, history_limit)
    finally:
        connection.close()


def _write_through(
    connection: Any, operations: Iterable[Operation], retention: int, trim: Iterable[int]
) -> list[None]:
    """``_write`` on the connection's one writing cursor; adbapi commits after
    it, or rolls back if it raised. No write has a result to give."""
    operations = list(operations)
    _write(connection.writer(), operations, retention, trim)
    return [None] * len(operations)


def _write(cursor: Any, operations: Iterable[Operation], retention: int, trim: Iterable[int]) -> None:
    """One transaction (in the database thread): the operations in order,
    consecutive messages in one ``executemany``; then the retention trim of
    the sessions in ``trim``."""
    messages: list[tuple[int, str, str, float, bool, str | None, str | None, str | None]] = []
    unnamed = False

    def write_messages() -> None:
        if messages:
            cursor.executemany(
                "INSERT INTO messages (session_id, sender, text, sent_at, action, msgid, file, file_hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                messages,
            )
            messages.clear()

    for kind, value in operations:
        if kind == "message":
            # No id (""): one from its row id, once the batch is in (the server always gives one).
            unnamed = unnamed or not value.msgid
            shared = value.file
            messages.append(
                (
                    value.session_id, value.sender, value.text, value.sent_at, value.action, value.msgid or None,
                    None if shared is None else shared.to_json(), None if shared is None else shared.hash,
                )
            )  # fmt: skip
            continue
        write_messages()
        if kind == "session":
            cursor.execute(
                "INSERT OR REPLACE INTO sessions (id, name, created_at, creator, password_hash)"
                " VALUES (?, ?, ?, ?, ?)",
                (value.id, value.name, value.created_at, value.creator, value.password_hash),
            )
            cursor.execute(
                "UPDATE meta SET value = MAX(value, ?) WHERE key = 'last_session_id'", (value.id,)
            )
        elif kind == "delete":
            cursor.execute("DELETE FROM messages WHERE session_id = ?", (value,))
            cursor.execute("DELETE FROM sessions WHERE id = ?", (value,))
        else:
            raise ValueError(f"unknown store operation {kind!r}")
    write_messages()
    if unnamed:
        cursor.execute(_NAME_THE_UNNAMED)
    for session_id in trim:
        _trim(cursor, session_id, retention)


class SQLiteStore(GroupCommitStore):
    """A ``Store`` on SQLite through adbapi, with group commit; reads go
    through the same connection and cursor, after the writes queued before them."""

    transaction = staticmethod(_write_through)
    history = HistoryReads("id", "?")

    @staticmethod
    def cursor(connection: Any) -> Any:
        return connection.writer()


def _open_connection(connection: sqlite3.Connection) -> None:
    """Each pool connection: WAL, FULL sync, and (for ``:memory:``, whose
    database is new on every connection) the schema."""
    _configure(connection)
    migrate(connection)


def open_store(
    path: str, reactor: Any, *, history_limit: int, retention: int = DEFAULT_RETENTION
) -> tuple[SQLiteStore, Snapshot]:
    """Open (creating or migrating) the database at ``path`` (``":memory:"``
    for a throwaway one) and read what to restore.

    Blocking: call it before the reactor serves anyone. Raises
    ``sqlite3.Error`` or ``NewerSchemaError`` when the file is unusable.
    """
    snapshot = Snapshot() if path == MEMORY else _load(path, history_limit, retention)
    pool = adbapi.ConnectionPool(
        "sqlite3",
        path,
        check_same_thread=False,
        factory=_Connection,
        cp_min=1,
        cp_max=1,
        cp_openfun=_open_connection,
        cp_reactor=reactor,
        cp_noisy=False,
    )
    return SQLiteStore(pool, reactor, retention), snapshot
