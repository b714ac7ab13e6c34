"""The SQLite store against a real database file: the shared store suite, WAL, file mode, migrations."""

import os
import sqlite3
import stat
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import gatherResults, inlineCallbacks
from twisted.trial.unittest import TestCase

from glozi.storage.history import Anchor, Direction, HistoryQuery
from glozi.storage.sqlitestore import MIGRATIONS, SCHEMA_VERSION, open_store
from glozi.storage.store import NewerSchemaError, StoredMessage, StoredSession, StoreError
from tests.storebehaviour import StoreBehaviour, message


class SQLiteStoreTests(StoreBehaviour, TestCase):
    """The shared store suite on a SQLite file, and what only SQLite does."""

    integrity_error = sqlite3.IntegrityError

    def setUp(self) -> None:
        self.path = os.path.abspath(self.mktemp())

    def open(self, **kwargs: Any) -> Any:
        kwargs.setdefault("history_limit", 50)
        store, snapshot = open_store(self.path, reactor, **kwargs)
        self.addCleanup(store.close)
        return store, snapshot

    def stored_texts(self, session_id: int) -> list[str]:
        with sqlite3.connect(self.path) as db:
            rows = db.execute("SELECT text FROM messages WHERE session_id = ? ORDER BY id", (session_id,)).fetchall()
        db.close()
        return [text for (text,) in rows]

    def test_database_file_is_private_and_in_wal_mode(self) -> None:
        """The file holds history and password hashes: mode 0600; WAL journal; the current schema."""
        self.open()
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o600)
        with sqlite3.connect(self.path) as db:
            self.assertEqual(db.execute("PRAGMA journal_mode").fetchone()[0], "wal")
            self.assertEqual(db.execute("PRAGMA user_version").fetchone()[0], SCHEMA_VERSION)

    @inlineCallbacks
    def test_memory_database_works_and_keeps_nothing(self) -> Any:
        """``:memory:`` is a throwaway store: writes commit, nothing is restored."""
        store, snapshot = open_store(":memory:", reactor, history_limit=50)
        yield store.add_session(StoredSession(10, "garden", 1.0, "alice", None))
        yield store.add_message(message(10, 1))
        yield store.close()
        self.assertEqual(snapshot.sessions, ())


    @inlineCallbacks
    def test_start_up_deletes_the_messages_of_sessions_gone_and_keeps_the_built_in_ones(self) -> Any:
        """Messages left for a session no longer stored (an older server's, or a crash's) are deleted at start:
        session 10's go; built-in cactus's (9) are kept though no session 9 is stored, and so are session 11's."""
        store, _ = self.open()
        yield store.add_session(StoredSession(10, "garden", 1.0, "alice", None))
        yield store.add_session(StoredSession(11, "shed", 1.0, "bob", None))
        yield gatherResults([store.add_message(message(session_id, 1)) for session_id in (9, 10, 11)])
        yield store.close()
        with sqlite3.connect(self.path) as db:
            db.execute("DELETE FROM sessions WHERE id = 10")
        db.close()
        _, snapshot = self.open()
        self.assertEqual(sorted(snapshot.history), [9, 11])
        self.assertEqual(self.stored_texts(10), [])
        self.assertEqual(self.stored_texts(9), ["message 1"])

    @inlineCallbacks
    def test_a_failed_read_fails_with_store_error_and_the_next_is_answered(self) -> Any:
        """A read the database refuses (its table gone under it) fails with ``StoreError``
        (the domain's ``not_stored``); once the table is back, reads are answered again."""
        store, _ = self.open()
        yield store.add_message(message(1, 1))
        with sqlite3.connect(self.path) as db:
            db.execute("ALTER TABLE messages RENAME TO elsewhere")
        db.close()
        yield self.assertFailure(store.read_history(1, HistoryQuery(Direction.LATEST, 10)), StoreError)
        self.assertEqual(len(self.flushLoggedErrors(sqlite3.OperationalError)), 1)
        with sqlite3.connect(self.path) as db:
            db.execute("ALTER TABLE elsewhere RENAME TO messages")
        db.close()
        self.assertEqual((yield store.read_history(1, HistoryQuery(Direction.LATEST, 10))), [message(1, 1)])


class MigrationTests(TestCase):
    def setUp(self) -> None:
        self.path = os.path.abspath(self.mktemp())

    @inlineCallbacks
    def test_migration_from_the_first_schema(self) -> Any:
        """A database of schema 1 is migrated: its data is kept and deleted ids are never given again."""
        with sqlite3.connect(self.path) as db:
            for statement in MIGRATIONS[0]:
                db.execute(statement)
            db.execute("PRAGMA user_version = 1")
            db.execute("INSERT INTO sessions VALUES (10, 'garden', 5.0, 'alice', NULL)")
            db.execute("INSERT INTO messages (session_id, sender, text, sent_at) VALUES (10, 'alice', 'hi', 6.0)")
            # Session 11 was deleted, but a message of it was left behind by a crash.
            db.execute("INSERT INTO messages (session_id, sender, text, sent_at) VALUES (11, 'bob', 'x', 7.0)")
            db.execute("INSERT INTO messages (session_id, sender, text, sent_at) VALUES (1, 'carol', 'yo', 8.0)")
        db.close()
        store, snapshot = open_store(self.path, reactor, history_limit=50)
        self.addCleanup(store.close)
        self.assertEqual([s.name for s in snapshot.sessions], ["garden"])
        self.assertEqual(snapshot.last_session_id, 11)
        self.assertEqual(
            snapshot.history,
            {10: (StoredMessage(10, "alice", "hi", 6.0, msgid="s1"),), 1: (StoredMessage(1, "carol", "yo", 8.0, msgid="s3"),)},
        )
        with sqlite3.connect(self.path) as db:
            self.assertEqual(db.execute("PRAGMA user_version").fetchone()[0], SCHEMA_VERSION)
            indexes = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")]
        db.close()
        self.assertIn("messages_by_session", indexes)
        yield store.add_session(StoredSession(12, "shed", 9.0, "dave", None))

    @inlineCallbacks
    def test_migration_from_schema_2_keeps_messages_as_plain(self) -> Any:
        """A schema-2 database gains the action flag: its messages are plain, and a new action is kept as one."""
        with sqlite3.connect(self.path) as db:
            for statement in (*MIGRATIONS[0], *MIGRATIONS[1]):
                db.execute(statement)
            db.execute("PRAGMA user_version = 2")
            db.execute("INSERT INTO messages (session_id, sender, text, sent_at) VALUES (1, 'carol', 'yo', 8.0)")
        db.close()
        store, snapshot = open_store(self.path, reactor, history_limit=50)
        self.assertEqual(snapshot.history, {1: (StoredMessage(1, "carol", "yo", 8.0, False, "s1"),)})
        yield store.add_message(StoredMessage(1, "carol", "waves", 9.0, True))
        yield store.close()
        store, snapshot = open_store(self.path, reactor, history_limit=50)
        self.addCleanup(store.close)
        self.assertEqual([m.action for m in snapshot.history[1]], [False, True])

    @inlineCallbacks
    def test_migration_from_schema_3_gives_each_kept_message_an_id(self) -> Any:
        """A schema-3 database gains message ids: each kept message gets "s" and its row id (stable across
        restarts, readable by), and the ids are unique; a new message keeps the id it was sent with."""
        with sqlite3.connect(self.path) as db:
            for statement in (*MIGRATIONS[0], *MIGRATIONS[1], *MIGRATIONS[2]):
                db.execute(statement)
            db.execute("PRAGMA user_version = 3")
            for n in range(3):
                db.execute("INSERT INTO messages (session_id, sender, text, sent_at) VALUES (1, 'carol', ?, ?)", (f"m{n}", n))
        db.close()
        store, snapshot = open_store(self.path, reactor, history_limit=50)
        self.assertEqual([m.msgid for m in snapshot.history[1]], ["s1", "s2", "s3"])
        yield store.add_message(StoredMessage(1, "carol", "new", 9.0, msgid="a41f09c3e2b71"))
        after = yield store.read_history(1, HistoryQuery(Direction.AFTER, 10, Anchor(msgid="s2")))
        self.assertEqual([(m.text, m.msgid) for m in after], [("m2", "s3"), ("new", "a41f09c3e2b71")])
        yield store.close()
        store, snapshot = open_store(self.path, reactor, history_limit=50)
        self.addCleanup(store.close)
        self.assertEqual([m.msgid for m in snapshot.history[1]], ["s1", "s2", "s3", "a41f09c3e2b71"])
        with sqlite3.connect(self.path) as db:
            self.assertRaises(
                sqlite3.IntegrityError, db.execute, "UPDATE messages SET msgid = 's1' WHERE msgid = 's2'"
            )
        db.close()

    def test_newer_schema_is_refused(self) -> None:
        """A database from a newer GloziChat is not touched."""
        with sqlite3.connect(self.path) as db:
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        db.close()
        self.assertRaises(NewerSchemaError, open_store, self.path, reactor, history_limit=50)
