"""The PostgreSQL store against a real PostgreSQL: the shared store suite, sequence numbers, two servers on one database."""

import io
from typing import Any

import psycopg
from twisted.application.service import IServiceCollection
from twisted.enterprise.adbapi import ConnectionLost
from twisted.internet import reactor
from twisted.internet.defer import gatherResults, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from glozi import tap
from glozi.domain.names import name_key
from glozi.storage.history import Anchor, Direction, HistoryQuery
from glozi.storage.pgstore import MIGRATIONS, SCHEMA_VERSION, PostgresStore, open_store, upgrade
from glozi.storage.store import NewerSchemaError, StoredMessage, StoredSession, StoreError, is_postgres_url
from tests.discovery_fakes import UDPMemoryReactor
from tests.realthings import fresh_database
from tests.storebehaviour import StoreBehaviour, message


class PostgresStoreTests(StoreBehaviour, TestCase):
    """The shared store suite, and what the cluster will need of PostgreSQL, each test on a new database."""

    integrity_error = psycopg.IntegrityError

    def setUp(self) -> None:
        self.dsn = fresh_database(self)

    def open(self, **kwargs: Any) -> Any:
        kwargs.setdefault("history_limit", 50)
        store, snapshot = open_store(self.dsn, reactor, name_key=name_key, **kwargs)
        self.addCleanup(store.close)
        return store, snapshot

    def query(self, sql: str, *parameters: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn) as db:
            return db.execute(sql, parameters).fetchall()

    def cut_connections(self) -> None:
        """End every other connection to the test's database (as a PostgreSQL restart does)."""
        with psycopg.connect(self.dsn, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )

    def stored_texts(self, session_id: int) -> list[str]:
        return [text for (text,) in self.query("SELECT text FROM messages WHERE session_id = %s ORDER BY seq", session_id)]

    @inlineCallbacks
    def test_messages_are_numbered_per_session(self) -> Any:
        """Each session's messages are numbered 1, 2, 3 … in the order written, across reopening too."""
        store, _ = self.open()
        yield gatherResults([store.add_message(message(1 + n % 2, n)) for n in range(6)])
        yield store.close()
        store, _ = self.open()
        yield store.add_message(message(2, 6))
        rows = self.query("SELECT session_id, seq, text FROM messages ORDER BY session_id, seq")
        self.assertEqual(
            rows,
            [
                (1, 1, "message 0"),
                (1, 2, "message 2"),
                (1, 3, "message 4"),
                (2, 1, "message 1"),
                (2, 2, "message 3"),
                (2, 3, "message 5"),
                (2, 4, "message 6"),
            ],
        )

    @inlineCallbacks
    def test_a_committed_message_fires_with_its_number(self) -> Any:
        """``add_message`` fires with the number the commit gave it, per session, in one batch and across batches."""
        store, _ = self.open()
        first = yield gatherResults([store.add_message(message(1 + n % 2, n)) for n in range(5)])
        self.assertEqual(first, [1, 1, 2, 2, 3])
        later = yield store.add_message(message(2, 5))
        self.assertEqual(later, 3)

    @inlineCallbacks
    def test_messages_after_a_number_come_in_order(self) -> Any:
        """``messages_after(session, 3, 4)``: messages 4 to 7 of that session only, ascending, with their numbers."""
        store, _ = self.open()
        yield gatherResults([store.add_message(message(1 + n % 2, n)) for n in range(20)])
        after = yield store.messages_after(1, 3, 4)
        self.assertEqual(after, [(4, message(1, 6)), (5, message(1, 8)), (6, message(1, 10)), (7, message(1, 12))])
        self.assertEqual((yield store.messages_after(1, 10, 100)), [])
        self.assertEqual((yield store.messages_after(4, 0, 100)), [], "a session with no messages")

    @inlineCallbacks
    def test_last_sequences_are_each_sessions_highest_number(self) -> Any:
        """``last_sequences``: every session that has messages, with its highest number; a deleted session is gone."""
        store, _ = self.open()
        self.assertEqual((yield store.last_sequences()), {})
        yield store.add_session(StoredSession(10, "garden", 1.0, "alice", None))
        yield gatherResults([store.add_message(message(session, n)) for n in range(3) for session in (1, 10, 2)])
        yield store.add_message(message(2, 9))
        self.assertEqual((yield store.last_sequences()), {1: 3, 2: 4, 10: 3})
        yield store.delete_session(10)
        self.assertEqual((yield store.last_sequences()), {1: 3, 2: 4})

    @inlineCallbacks
    def test_reads_on_a_closed_store_fail(self) -> Any:
        """After ``close`` a read fails with ``StoreError`` instead of waiting for ever."""
        store, _ = self.open()
        yield store.close()
        yield self.assertFailure(store.messages_after(1, 0, 10), StoreError)
        yield self.assertFailure(store.last_sequences(), StoreError)

    @inlineCallbacks
    def test_session_names_are_unique_by_key(self) -> Any:
        """Two sessions whose names differ only in case cannot both be kept: the second write fails."""
        store, _ = self.open()
        yield store.add_session(StoredSession(10, "Garden", 1.0, "alice", None))
        yield self.assertFailure(store.add_session(StoredSession(11, "gARDEN", 2.0, "bob", None)), StoreError)
        self.flushLoggedErrors(psycopg.errors.UniqueViolation)
        self.assertEqual(self.query("SELECT id, name, name_key FROM sessions"), [(10, "Garden", "garden")])

    @inlineCallbacks
    def test_a_session_numbered_here_moves_the_id_sequence_past_it(self) -> Any:
        """The id sequence starts at 10; a session a single server numbered itself (say 14) is never given again."""
        store, _ = self.open()
        self.assertEqual(self.query("SELECT nextval('session_ids')"), [(10,)])
        yield store.add_session(StoredSession(14, "garden", 1.0, "alice", None))
        yield store.add_session(StoredSession(12, "shed", 1.0, "alice", None))
        self.assertEqual(self.query("SELECT nextval('session_ids')"), [(15,)])

    @inlineCallbacks
    def test_numbers_go_on_after_the_retention_trim(self) -> Any:
        """Trimming old messages never makes a number be given again."""
        store, _ = self.open(retention=20)
        for batch in range(3):
            yield gatherResults([store.add_message(message(3, batch * 15 + n)) for n in range(15)])
        yield store.close()
        seqs = [seq for (seq,) in self.query("SELECT seq FROM messages WHERE session_id = 3 ORDER BY seq")]
        self.assertEqual(seqs, list(range(26, 46)))

    @inlineCallbacks
    def test_two_servers_share_one_database(self) -> Any:
        """Two stores on one database (two nodes): sessions of both are restored, numbers are never given twice."""
        first, _ = self.open()
        second, _ = self.open()
        yield first.add_session(StoredSession(10, "garden", 1.0, "alice", None))
        yield second.add_session(StoredSession(11, "shed", 2.0, "bob", None))
        yield gatherResults(
            [store.add_message(message(10, n + offset)) for n in range(50) for store, offset in ((first, 0), (second, 50))]
        )
        yield gatherResults([first.close(), second.close()])
        seqs = [seq for (seq,) in self.query("SELECT seq FROM messages WHERE session_id = 10 ORDER BY seq")]
        self.assertEqual(seqs, list(range(1, 101)))
        _, snapshot = self.open()
        self.assertEqual([s.name for s in snapshot.sessions], ["garden", "shed"])
        self.assertEqual(snapshot.last_session_id, 11)

    @inlineCallbacks
    def test_the_server_restores_from_postgres(self) -> Any:
        """``--db postgresql://…``: makeService opens the PostgreSQL store and restores its sessions."""
        store, _ = self.open()
        yield store.add_session(StoredSession(17, "garden", 5.0, "alice", None))
        yield store.close()
        options = tap.Options()
        options.parseOptions(["--db", self.dsn, "--exit-code-file", self.mktemp(), "--no-sniff", "--irc-port", "none"])
        top = tap.makeService(options, reactor=UDPMemoryReactor(), announce_to=io.StringIO())
        chat = next(iter(IServiceCollection(top))).chat
        self.assertIsInstance(chat.store, PostgresStore)
        self.assertEqual([(s.id, s.name) for s in chat.list_sessions()][-1], (17, "garden"))

    @inlineCallbacks
    def test_a_lost_connection_fails_its_writes_and_the_next_reconnects(self) -> Any:
        """The database connection is cut (PostgreSQL restarted, say): the writes in flight fail
        (none acknowledged), and the next write reconnects by itself and is committed."""
        store, _ = self.open()
        yield store.add_message(message(7, 1))
        self.cut_connections()
        yield self.assertFailure(store.add_message(message(7, 2)), StoreError)
        # adbapi logs the failed rollback (the psycopg error), the store the lost connection; nothing else.
        self.flushLoggedErrors(psycopg.OperationalError, ConnectionLost)
        yield store.add_message(message(7, 3))
        self.assertEqual(self.stored_texts(7), ["message 1", "message 3"])

    @inlineCallbacks
    def test_a_lost_connection_fails_a_history_read_and_the_next_reconnects(self) -> Any:
        """PostgreSQL restarted under a reader: the read in flight fails with ``StoreError``
        (the domain's ``not_stored``), the next one reconnects and is answered."""
        store, _ = self.open()
        yield store.add_message(message(7, 1))
        self.cut_connections()
        yield self.assertFailure(store.read_history(7, HistoryQuery(Direction.LATEST, 10)), StoreError)
        self.flushLoggedErrors(psycopg.OperationalError, ConnectionLost)
        read = yield store.read_history(7, HistoryQuery(Direction.LATEST, 10))
        self.assertEqual(read, [message(7, 1)])

    @inlineCallbacks
    def test_messages_after_a_number_carry_their_ids(self) -> Any:
        """The cluster's gap fill reads each message with the id it was sent with."""
        store, _ = self.open()
        yield gatherResults([store.add_message(message(1, n)) for n in range(3)])
        self.assertEqual([m.msgid for _, m in (yield store.messages_after(1, 1, 10))], ["1f1", "1f2"])

    @inlineCallbacks
    def test_a_transaction_takes_the_session_counters_in_id_order(self) -> Any:
        """Two servers' transactions can never deadlock on the counters: a batch of messages to sessions
        2 then 1 waits for session 1's counter before it holds session 2's."""
        store, _ = self.open()
        yield gatherResults([store.add_message(message(1, 0)), store.add_message(message(2, 0))])
        with psycopg.connect(self.dsn) as other_server, psycopg.connect(self.dsn, autocommit=True) as probe:
            other_server.execute("UPDATE session_sequences SET last_seq = last_seq WHERE session_id = 1")
            written = gatherResults([store.add_message(message(2, 1)), store.add_message(message(1, 1))])
            for _ in range(200):
                waiting = probe.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"
                ).fetchone()
                if waiting and waiting[0]:
                    break
                yield deferLater(reactor, 0.05, lambda: None)
            self.assertEqual(waiting, (1,), "the store's transaction waits for session 1's counter")
            with probe.transaction():
                locked = probe.execute(
                    "SELECT session_id FROM session_sequences WHERE session_id = 2 FOR UPDATE SKIP LOCKED"
                ).fetchall()
            self.assertEqual(locked, [(2,)], "session 2's counter is not held while waiting for session 1's")
            other_server.commit()
        yield written
        self.assertEqual(self.stored_texts(2), ["message 0", "message 1"])

    def test_schema_is_current(self) -> None:
        """A new database gets the current schema, recorded in ``meta``."""
        self.open()
        self.assertEqual(self.query("SELECT value FROM meta WHERE key = 'schema_version'"), [(SCHEMA_VERSION,)])

    @inlineCallbacks
    def test_migration_from_schema_1_gives_each_kept_message_an_id(self) -> Any:
        """A schema-1 database gains message ids: each kept message gets "p", its session and its number
        (stable, readable by), unique; a new message keeps the id it was sent with."""
        with psycopg.connect(self.dsn) as db:
            upgrade(db, "schema_version", MIGRATIONS[:1], "the database")
            for seq in (1, 2):
                db.execute(
                    "INSERT INTO messages (session_id, seq, sender, text, sent_at) VALUES (3, %s, 'carol', %s, %s)",
                    (seq, f"m{seq}", float(seq)),
                )
            db.execute("INSERT INTO session_sequences VALUES (3, 2)")
        store, snapshot = self.open()
        self.assertEqual([m.msgid for m in snapshot.history[3]], ["p3-1", "p3-2"])
        yield store.add_message(StoredMessage(3, "carol", "new", 9.0, msgid="a41f09c3e2b71"))
        after = yield store.read_history(3, HistoryQuery(Direction.AFTER, 10, Anchor(msgid="p3-1")))
        self.assertEqual([(m.text, m.msgid) for m in after], [("m2", "p3-2"), ("new", "a41f09c3e2b71")])
        self.assertEqual(self.query("SELECT value FROM meta WHERE key = 'schema_version'"), [(3,)])
        with self.assertRaises(psycopg.errors.UniqueViolation):
            self.query("UPDATE messages SET msgid = 'p3-1' WHERE msgid = 'p3-2'")

    def test_newer_schema_is_refused(self) -> None:
        """A database from a newer GloziChat is not touched."""
        self.open()
        with psycopg.connect(self.dsn) as db:
            db.execute("UPDATE meta SET value = %s WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,))
        self.assertRaises(NewerSchemaError, open_store, self.dsn, reactor, history_limit=50, name_key=name_key)


class DsnTests(TestCase):
    def test_postgres_urls_are_recognised(self) -> None:
        """``--db postgresql://…`` (or ``postgres://…``) is PostgreSQL; anything else is a SQLite path."""
        self.assertTrue(is_postgres_url("postgresql://glozi@db.example/glozi"))
        self.assertTrue(is_postgres_url("postgres://glozi@db.example/glozi"))
        self.assertFalse(is_postgres_url("glozichat.db"))
        self.assertFalse(is_postgres_url(":memory:"))
