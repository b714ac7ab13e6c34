"""The SQLite store against a real database file: durability, group commit, retention, migrations."""

import os
import sqlite3
import stat
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import gatherResults, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from glozi.storage.sqlitestore import MIGRATIONS, SCHEMA_VERSION, NewerSchemaError, StoreError, open_store
from glozi.storage.store import StoredMessage, StoredSession


def message(session_id: int, n: int) -> StoredMessage:
    return StoredMessage(session_id, "alice", f"message {n}", 1_764_000_000.0 + n)


class SQLiteStoreTests(TestCase):
    def setUp(self) -> None:
        self.path = os.path.abspath(self.mktemp())

    def open(self, **kwargs: Any) -> Any:
        kwargs.setdefault("history_limit", 50)
        store, snapshot = open_store(self.path, reactor, **kwargs)
        self.addCleanup(store.close)
        return store, snapshot

    @inlineCallbacks
    def test_sessions_and_messages_survive_reopening(self) -> Any:
        """What was committed is read back after reopening: sessions, the last N messages, the id counter."""
        store, snapshot = self.open()
        self.assertEqual((snapshot.sessions, snapshot.history, snapshot.last_session_id), ((), {}, 0))
        garden = StoredSession(12, "garden", 1_764_000_000.0, "alice", "scrypt$2$1$1$c2FsdA$aGFzaA")
        yield store.add_session(garden)
        yield store.add_session(StoredSession(13, "shed", 1_764_000_001.0, "bob", None))
        yield store.delete_session(13)
        yield gatherResults([store.add_message(message(12, n)) for n in range(80)])
        yield store.add_message(message(2, 1000))
        yield store.close()

        _, snapshot = self.open(history_limit=50)
        self.assertEqual(snapshot.sessions, (garden,))
        self.assertEqual(snapshot.last_session_id, 13, "a deleted session's id stays used")
        self.assertEqual(snapshot.history[12], tuple(message(12, n) for n in range(30, 80)))
        self.assertEqual(snapshot.history[2], (message(2, 1000),))

    @inlineCallbacks
    def test_writes_of_one_turn_share_one_transaction(self) -> Any:
        """Group commit: 200 messages written in one reactor turn are committed together, in order."""
        store, _ = self.open()
        yield store.add_message(message(1, -1))
        before = store.transactions
        committed: list[int] = []
        writes = [store.add_message(message(1, n)).addCallback(lambda _, n=n: committed.append(n)) for n in range(200)]
        self.assertEqual(committed, [], "nothing is acknowledged before the commit")
        yield gatherResults(writes)
        self.assertEqual(committed, list(range(200)))
        self.assertEqual(store.transactions - before, 1)

    @inlineCallbacks
    def test_writes_during_a_commit_go_into_the_next(self) -> Any:
        """Writes made while a transaction commits wait, all together, for the next one."""
        store, _ = self.open()
        first = [store.add_message(message(1, n)) for n in range(10)]
        # The flush starts on the next turn; this runs in that same turn, while it is in flight.
        yield deferLater(reactor, 0, lambda: None)
        second = [store.add_message(message(1, 100 + n)) for n in range(10)]
        yield gatherResults(first + second)
        self.assertEqual(store.transactions, 2)

    @inlineCallbacks
    def test_deleting_a_session_deletes_its_history(self) -> Any:
        """/close and the last member leaving delete the session's messages too."""
        store, _ = self.open()
        yield store.add_session(StoredSession(10, "garden", 1.0, "alice", None))
        yield gatherResults([store.add_message(message(10, n)) for n in range(5)])
        yield store.delete_session(10)
        yield store.close()
        _, snapshot = self.open()
        self.assertEqual((snapshot.sessions, snapshot.history), ((), {}))

    @inlineCallbacks
    def test_retention_drops_the_oldest(self) -> Any:
        """A session keeps at most ``retention`` messages: the newest."""
        store, _ = self.open(retention=20)
        for batch in range(3):
            yield gatherResults([store.add_message(message(3, batch * 15 + n)) for n in range(15)])
        yield store.close()
        with sqlite3.connect(self.path) as db:
            rows = db.execute("SELECT text FROM messages WHERE session_id = 3 ORDER BY id").fetchall()
        self.assertEqual([r[0] for r in rows], [f"message {n}" for n in range(25, 45)])

    @inlineCallbacks
    def test_lowered_retention_applies_at_start(self) -> Any:
        """Restarting with a smaller retention trims what was kept before."""
        store, _ = self.open(retention=100)
        yield gatherResults([store.add_message(message(4, n)) for n in range(50)])
        yield store.close()
        _, snapshot = self.open(retention=10, history_limit=100)
        self.assertEqual(snapshot.history[4], tuple(message(4, n) for n in range(40, 50)))

    @inlineCallbacks
    def test_a_failed_transaction_fails_each_write_in_it(self) -> Any:
        """A rolled-back transaction fails every write it carried (none is acknowledged); later writes work."""
        store, _ = self.open()
        good = store.add_message(message(5, 1))
        bad = store.add_session(StoredSession(11, None, 1.0, "alice", None))  # type: ignore[arg-type]
        yield self.assertFailure(good, StoreError)
        yield self.assertFailure(bad, StoreError)
        self.flushLoggedErrors(sqlite3.IntegrityError)
        yield store.add_message(message(5, 2))
        yield store.close()
        _, snapshot = self.open()
        self.assertEqual(snapshot.history[5], (message(5, 2),))

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
            {10: (StoredMessage(10, "alice", "hi", 6.0),), 1: (StoredMessage(1, "carol", "yo", 8.0),)},
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
        self.assertEqual(snapshot.history, {1: (StoredMessage(1, "carol", "yo", 8.0, False),)})
        yield store.add_message(StoredMessage(1, "carol", "waves", 9.0, True))
        yield store.close()
        store, snapshot = open_store(self.path, reactor, history_limit=50)
        self.addCleanup(store.close)
        self.assertEqual([m.action for m in snapshot.history[1]], [False, True])

    def test_newer_schema_is_refused(self) -> None:
        """A database from a newer GloziChat is not touched."""
        with sqlite3.connect(self.path) as db:
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        db.close()
        self.assertRaises(NewerSchemaError, open_store, self.path, reactor, history_limit=50)
