"""ClusterRecord against a real PostgreSQL: each call, the races two nodes can run, a restarted database."""

import json
from collections.abc import Callable
from typing import Any

import psycopg
from twisted.enterprise.adbapi import ConnectionLost
from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredList, gatherResults, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from glozi.cluster.record import (
    SCHEMA_VERSION,
    ClusterMember,
    ClusterNick,
    ClusterRecord,
    NickTaken,
    RecordedSession,
    SessionNameTaken,
    Swept,
)
from glozi.domain.names import name_key
from glozi.storage.pgstore import open_store
from glozi.storage.store import NewerSchemaError, StoredMessage, StoredSession, StoreError
from tests.realthings import Postgres, fresh_database

LOCK_WAIT_POLLS = 200
LOCK_WAIT_POLL_SECONDS = 0.05


class RecordTestCase(TestCase):
    def setUp(self) -> Any:
        self.dsn = fresh_database(self)
        self.record = self.new_record()
        return self.record.open()

    def new_record(self) -> ClusterRecord:
        record = ClusterRecord(reactor, self.dsn)
        self.addCleanup(record.close)
        return record

    def query(self, sql: str, *parameters: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn) as db:
            return db.execute(sql, parameters).fetchall()


class ClusterRecordTests(RecordTestCase):
    @inlineCallbacks
    def test_a_new_database_gets_the_store_and_record_schema(self) -> Any:
        """``open`` on an empty database creates the store's tables and the record's, versions in ``meta``."""
        versions = dict(self.query("SELECT key, value FROM meta WHERE key IN ('schema_version', 'cluster_schema_version')"))
        self.assertEqual(versions, {"schema_version": 3, "cluster_schema_version": SCHEMA_VERSION})
        yield self.new_record().open()
        self.assertEqual(self.query("SELECT count(*) FROM meta WHERE key = 'cluster_schema_version'"), [(1,)])

    @inlineCallbacks
    def test_a_newer_record_schema_is_refused(self) -> Any:
        """A record written by a newer GloziChat: ``open`` fails with ``NewerSchemaError``."""
        self.query("UPDATE meta SET value = %s WHERE key = 'cluster_schema_version' RETURNING value", SCHEMA_VERSION + 1)
        yield self.assertFailure(self.new_record().open(), NewerSchemaError)

    @inlineCallbacks
    def test_sessions_are_numbered_from_10(self) -> Any:
        """``reserve_session`` gives 10, then 11; both kept with their name key and the highest id used."""
        first = yield self.record.reserve_session("Garden", "alice", 1.0, None)
        second = yield self.record.reserve_session("shed", "bob", 2.0, "scrypt$2$1$1$c2FsdA$aGFzaA")
        self.assertEqual((first, second), (10, 11))
        self.assertEqual(
            self.query("SELECT id, name, name_key, creator, password_hash FROM sessions ORDER BY id"),
            [(10, "Garden", "garden", "alice", None), (11, "shed", "shed", "bob", "scrypt$2$1$1$c2FsdA$aGFzaA")],
        )
        self.assertEqual(self.query("SELECT value FROM meta WHERE key = 'last_session_id'"), [(11,)])

    @inlineCallbacks
    def test_a_taken_session_name_is_refused(self) -> Any:
        """A name with the key of a kept session (``GARDEN`` after ``garden``) fails with ``SessionNameTaken``."""
        yield self.record.reserve_session("garden", "alice", 1.0, None)
        error = yield self.assertFailure(self.record.reserve_session("GARDEN", "bob", 2.0, None), SessionNameTaken)
        self.assertEqual(error.name, "GARDEN")
        self.assertEqual(self.query("SELECT name FROM sessions"), [("garden",)])

    @inlineCallbacks
    def test_a_reserved_session_is_the_stores_session(self) -> Any:
        """The store writing the reserved session (``add_session`` with its id) keeps one row, and restores it."""
        session_id = yield self.record.reserve_session("garden", "alice", 1.0, None)
        store, _ = open_store(self.dsn, reactor, history_limit=5, name_key=name_key)
        yield store.add_session(StoredSession(session_id, "garden", 1.0, "alice", "scrypt$2$1$1$c2FsdA$aGFzaA"))
        yield store.close()
        _, snapshot = open_store(self.dsn, reactor, history_limit=5, name_key=name_key)
        self.assertEqual(snapshot.sessions, (StoredSession(10, "garden", 1.0, "alice", "scrypt$2$1$1$c2FsdA$aGFzaA"),))
        self.assertEqual(snapshot.last_session_id, 10)

    @inlineCallbacks
    def test_a_nick_is_one_nodes(self) -> Any:
        """``claim_nick``: free is ours, ours again is ours (new spelling kept), another node's is refused."""
        self.assertTrue((yield self.record.claim_nick("alice", "alice", "a")))
        self.assertTrue((yield self.record.claim_nick("alice", "Alice", "a")))
        self.assertFalse((yield self.record.claim_nick("alice", "ALICE", "b")))
        self.assertEqual(self.query("SELECT key, nick, node FROM cluster_nicks"), [("alice", "Alice", "a")])

    @inlineCallbacks
    def test_only_the_holding_node_releases_a_nick(self) -> Any:
        """``release_nick`` from another node leaves the nick; from its node frees it for anyone."""
        yield self.record.claim_nick("alice", "alice", "a")
        yield self.record.release_nick("alice", "b")
        self.assertFalse((yield self.record.claim_nick("alice", "alice", "b")))
        yield self.record.release_nick("alice", "a")
        self.assertTrue((yield self.record.claim_nick("alice", "alice", "b")))

    @inlineCallbacks
    def test_user_details_are_kept(self) -> Any:
        """``update_user`` keeps the user name, real name and away message; ``None`` is back."""
        yield self.record.claim_nick("alice", "alice", "a")
        yield self.record.update_user("alice", "a", "al", "Alice Liddell", "tea")
        self.assertEqual((yield self.record.load()).nicks, (ClusterNick("alice", "alice", "a", "al", "Alice Liddell", "tea"),))
        yield self.record.update_user("alice", "a", "al", "Alice Liddell", None)
        self.assertEqual((yield self.record.load()).nicks[0].away, None)

    @inlineCallbacks
    def test_members_join_and_leave(self) -> Any:
        """``member_joined`` keeps a member (again: replaced), ``member_left`` forgets it; other sessions keep theirs."""
        yield self.record.claim_nick("alice", "alice", "a")
        yield self.record.claim_nick("bob", "bob", "b")
        yield self.record.member_joined(1, "alice", "alice", "a", 5.0)
        yield self.record.member_joined(2, "alice", "alice", "a", 6.0)
        yield self.record.member_joined(1, "bob", "bob", "b", 7.0)
        yield self.record.member_joined(1, "alice", "Alice", "a", 8.0)
        yield self.record.member_left(2, "alice", "a")
        state = yield self.record.load()
        self.assertEqual(
            state.members, (ClusterMember(1, "bob", "bob", "b", 7.0), ClusterMember(1, "alice", "Alice", "a", 8.0))
        )

    @inlineCallbacks
    def test_only_the_node_holding_the_nick_keeps_its_memberships(self) -> Any:
        """Two users took alice at once and the record gave her to a: b's join of her changes nothing,
        and neither does b's leave of her; a's leave does."""
        yield self.record.claim_nick("alice", "alice", "a")
        yield self.record.member_joined(1, "alice", "alice", "a", 5.0)
        yield self.record.member_joined(1, "alice", "alice", "b", 6.0)
        yield self.record.member_left(1, "alice", "b")
        self.assertEqual((yield self.record.load()).members, (ClusterMember(1, "alice", "alice", "a", 5.0),))
        yield self.record.member_left(1, "alice", "a")
        self.assertEqual((yield self.record.load()).members, ())

    @inlineCallbacks
    def test_a_rename_moves_the_nick_and_every_membership(self) -> Any:
        """``member_renamed``: the nick row (user name, real name, away kept) and both memberships take the new key."""
        yield self.record.claim_nick("alice", "alice", "a")
        yield self.record.update_user("alice", "a", "al", "Alice", "tea")
        yield self.record.member_joined(1, "alice", "alice", "a", 5.0)
        yield self.record.member_joined(12, "alice", "alice", "a", 6.0)
        yield self.record.member_renamed("alice", "rabbit", "Rabbit", "a")
        state = yield self.record.load()
        self.assertEqual(state.nicks, (ClusterNick("rabbit", "Rabbit", "a", "al", "Alice", "tea"),))
        self.assertEqual(
            [(m.session_id, m.key, m.name) for m in state.members], [(1, "rabbit", "Rabbit"), (12, "rabbit", "Rabbit")]
        )
        self.assertTrue((yield self.record.claim_nick("alice", "alice", "b")), "the old nick is free")

    @inlineCallbacks
    def test_a_rename_onto_a_nick_claimed_first_by_the_same_node(self) -> Any:
        """The node claimed the new nick before renaming: the rename moves onto it."""
        yield self.record.claim_nick("alice", "alice", "a")
        yield self.record.member_joined(1, "alice", "alice", "a", 5.0)
        yield self.record.claim_nick("rabbit", "rabbit", "a")
        yield self.record.member_renamed("alice", "rabbit", "rabbit", "a")
        state = yield self.record.load()
        self.assertEqual([n.key for n in state.nicks], ["rabbit"])
        self.assertEqual([m.key for m in state.members], ["rabbit"])

    @inlineCallbacks
    def test_a_rename_onto_another_nodes_nick_changes_nothing(self) -> Any:
        """The new nick is held on node b: ``NickTaken``, and the nick row and memberships stay as they were."""
        yield self.record.claim_nick("alice", "alice", "a")
        yield self.record.member_joined(1, "alice", "alice", "a", 5.0)
        yield self.record.claim_nick("rabbit", "rabbit", "b")
        error = yield self.assertFailure(self.record.member_renamed("alice", "rabbit", "Rabbit", "a"), NickTaken)
        self.assertEqual(error.nick, "Rabbit")
        state = yield self.record.load()
        self.assertEqual([(n.key, n.node) for n in state.nicks], [("alice", "a"), ("rabbit", "b")])
        self.assertEqual([m.key for m in state.members], ["alice"])

    @inlineCallbacks
    def test_load_reads_everything_shared(self) -> Any:
        """``load``: created sessions with their state (or ``None``), built-in sessions' states, members,
        nicks and each session's last message number."""
        garden = yield self.record.reserve_session("garden", "alice", 1.0, None)
        yield self.record.reserve_session("shed", "bob", 2.0, None)
        rules = json.dumps({"topic": "roses", "admin": "alice", "voiced": []})
        yield self.record.session_state(garden, json.dumps({"topic": "old"}))
        yield self.record.session_state(garden, rules)
        yield self.record.session_state(1, json.dumps({"topic": "lobby"}))
        yield self.record.claim_nick("alice", "alice", "a")
        yield self.record.member_joined(garden, "alice", "alice", "a", 3.0)
        store, _ = open_store(self.dsn, reactor, history_limit=5, name_key=name_key)
        self.addCleanup(store.close)
        yield gatherResults([store.add_message(StoredMessage(session, "alice", "hi", 4.0)) for session in (garden, garden, 1)])
        state = yield self.record.load()
        self.assertEqual(
            state.sessions,
            (
                RecordedSession(StoredSession(10, "garden", 1.0, "alice", None), rules),
                RecordedSession(StoredSession(11, "shed", 2.0, "bob", None), None),
            ),
        )
        self.assertEqual(state.built_in_states, {1: json.dumps({"topic": "lobby"})})
        self.assertEqual(state.members, (ClusterMember(10, "alice", "alice", "a", 3.0),))
        self.assertEqual(state.nicks, (ClusterNick("alice", "alice", "a", "", "", None),))
        self.assertEqual(state.last_seq, {10: 2, 1: 1})

    @inlineCallbacks
    def test_a_deleted_session_takes_its_members_and_state(self) -> Any:
        """The store deleting a session (closed, or its last member gone) removes its members and rules too."""
        garden = yield self.record.reserve_session("garden", "alice", 1.0, None)
        yield self.record.session_state(garden, "{}")
        yield self.record.claim_nick("alice", "alice", "a")
        yield self.record.member_joined(garden, "alice", "alice", "a", 3.0)
        yield self.record.member_joined(1, "alice", "alice", "a", 3.0)
        store, _ = open_store(self.dsn, reactor, history_limit=5, name_key=name_key)
        self.addCleanup(store.close)
        yield store.delete_session(garden)
        state = yield self.record.load()
        self.assertEqual((state.sessions, [m.session_id for m in state.members]), ((), [1]))
        self.assertEqual(self.query("SELECT count(*) FROM cluster_session_state"), [(0,)])

    @inlineCallbacks
    def test_a_sweep_takes_a_nodes_members_and_nicks(self) -> Any:
        """``sweep("b")`` deletes and returns b's members and nicks; a's stay; a second sweep finds nothing."""
        yield self.fill_two_nodes()
        swept = yield self.record.sweep("b")
        self.assertEqual(
            swept,
            Swept(
                members=(ClusterMember(1, "bob", "bob", "b", 2.0), ClusterMember(10, "bob", "bob", "b", 4.0)),
                nicks=(ClusterNick("bob", "bob", "b", "", "", None),),
            ),
        )
        state = yield self.record.load()
        self.assertEqual({m.node for m in state.members} | {n.node for n in state.nicks}, {"a"})
        self.assertEqual((yield self.record.sweep("b")), Swept((), ()))

    @inlineCallbacks
    def test_a_closed_record_refuses_calls(self) -> Any:
        """After ``close`` (which lets the calls made finish) a call fails with ``StoreError``."""
        claimed = self.record.claim_nick("alice", "alice", "a")
        yield self.record.close()
        self.assertTrue((yield claimed))
        yield self.assertFailure(self.record.claim_nick("bob", "bob", "a"), StoreError)

    @inlineCallbacks
    def fill_two_nodes(self) -> Any:
        for nick, node, joined in (("alice", "a", 1.0), ("bob", "b", 2.0)):
            yield self.record.claim_nick(nick, nick, node)
            yield self.record.member_joined(1, nick, nick, node, joined)
            yield self.record.member_joined(10, nick, nick, node, joined + 2)


class RaceTests(RecordTestCase):
    """Two nodes asking at once: each contested row waits behind a third connection's open transaction,
    so both calls are in flight when PostgreSQL decides."""

    @inlineCallbacks
    def race(self, hold: str, call: Callable[[ClusterRecord, str], "Deferred[Any]"]) -> Any:
        """``call(record, node)`` for nodes a and b, each on its own record, while ``hold`` (a statement)
        keeps its transaction open; the ``DeferredList`` results of both, once it rolls back."""
        with psycopg.connect(self.dsn) as blocker:
            blocker.execute(hold)
            both = DeferredList([call(self.new_record(), node) for node in ("a", "b")], consumeErrors=True)
            yield self.wait_for_lock_waiters(2)
            blocker.rollback()
        results = yield both
        return results

    @inlineCallbacks
    def wait_for_lock_waiters(self, count: int) -> Any:
        with psycopg.connect(self.dsn, autocommit=True) as probe:
            for _ in range(LOCK_WAIT_POLLS):
                (waiting,) = probe.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                ).fetchone()
                if waiting == count:
                    return
                yield deferLater(reactor, LOCK_WAIT_POLL_SECONDS, lambda: None)
        self.fail(f"{count} transactions never waited together (last seen: {waiting})")

    @inlineCallbacks
    def test_two_nodes_claiming_one_nick(self) -> Any:
        """Nodes a and b claim ``alice`` at once: one gets True, the other False, and the row is the winner's."""
        results = yield self.race(
            "INSERT INTO cluster_nicks (key, nick, node) VALUES ('alice', 'alice', 'c')",
            lambda record, node: record.claim_nick("alice", "alice", node),
        )
        answers = [value for _, value in results]
        self.assertEqual(sorted(answers), [False, True])
        winner = "a" if answers[0] else "b"
        self.assertEqual(self.query("SELECT node FROM cluster_nicks WHERE key = 'alice'"), [(winner,)])

    @inlineCallbacks
    def test_two_nodes_reserving_one_name(self) -> Any:
        """Nodes a and b create ``garden`` at once: one gets an id, the other ``SessionNameTaken``."""
        results = yield self.race(
            "INSERT INTO sessions (id, name, name_key, created_at, creator) VALUES (999, 'garden', 'garden', 0, 'c')",
            lambda record, node: record.reserve_session("Garden", node, 1.0, None),
        )
        outcomes = sorted((ok, value if ok else value.type) for ok, value in results)
        self.assertEqual(len(outcomes), 2)
        self.assertEqual(outcomes[0], (False, SessionNameTaken))
        self.assertTrue(outcomes[1][0])
        self.assertEqual(self.query("SELECT id, name FROM sessions"), [(outcomes[1][1], "Garden")])

    @inlineCallbacks
    def test_two_nodes_sweeping_one_dead_node(self) -> Any:
        """Nodes a and b sweep dead node c at once: c's rows come back once, all to one of them."""
        yield self.record.claim_nick("carol", "carol", "c")
        for session_id in (1, 2, 10):
            yield self.record.member_joined(session_id, "carol", "carol", "c", 1.0)
        results = yield self.race(
            "SELECT * FROM cluster_members WHERE node = 'c' FOR UPDATE",
            lambda record, node: record.sweep("c"),
        )
        swept = sorted((value for _, value in results), key=lambda found: len(found.members))
        self.assertEqual(swept[0], Swept((), ()))
        self.assertEqual([m.session_id for m in swept[1].members], [1, 2, 10])
        self.assertEqual([n.key for n in swept[1].nicks], ["carol"])


class RestartTests(TestCase):
    """A PostgreSQL of its own, stopped and started under a record."""

    def setUp(self) -> None:
        self.postgres = Postgres()
        self.addCleanup(self.postgres.stop)
        self.dsn = self.postgres.start()

    @inlineCallbacks
    def test_calls_fail_while_postgres_is_down_and_work_once_it_is_back(self) -> Any:
        """PostgreSQL stops between two calls: each call fails with ``StoreError`` (none hangs) while it is
        down; once it is back the next call reconnects by itself and sees what was kept before."""
        record = ClusterRecord(reactor, self.dsn)
        self.addCleanup(record.close)
        yield record.open()
        yield record.claim_nick("alice", "alice", "a")
        self.postgres.halt()
        yield self.assertFailure(record.claim_nick("bob", "bob", "a"), StoreError)
        yield self.assertFailure(record.load(), StoreError)
        # adbapi logs the failed rollback on the cut connection.
        self.flushLoggedErrors(psycopg.OperationalError, ConnectionLost)
        self.postgres.resume()
        self.assertTrue((yield record.claim_nick("bob", "bob", "a")))
        state = yield record.load()
        self.assertEqual([nick.key for nick in state.nicks], ["alice", "bob"])
