"""What every ``Store`` on a real database must do: the shared store test suite.

``tests/test_sqlitestore.py`` and ``tests/test_pgstore.py`` run it, each on
its own database: a test case mixes ``StoreBehaviour`` in and says how to
open its store and read back what it kept.
"""

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import gatherResults, inlineCallbacks
from twisted.internet.task import deferLater

from glozi.storage.store import StoredMessage, StoredSession, StoreError


def message(session_id: int, n: int) -> StoredMessage:
    return StoredMessage(session_id, "alice", f"message {n}", 1_764_000_000.0 + n)


class StoreBehaviour:
    """Mixed into a ``TestCase`` that defines ``open``, ``stored_texts`` and ``integrity_error``."""

    integrity_error: type[Exception]
    """What the database raises for a write breaking a constraint (logged by the store)."""

    def open(self, **kwargs: Any) -> Any:
        """``(store, snapshot)`` of this test's database, opened with ``kwargs``; closed at cleanup."""
        raise NotImplementedError

    def stored_texts(self, session_id: int) -> list[str]:
        """The texts the database holds for ``session_id``, in the order they were written."""
        raise NotImplementedError

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
    def test_a_new_password_hash_replaces_the_kept_one(self) -> Any:
        """``add_session`` with a kept id replaces its record (a /lock or /unlock)."""
        store, _ = self.open()
        yield store.add_session(StoredSession(10, "garden", 1.0, "alice", None))
        locked = StoredSession(10, "garden", 1.0, "alice", "scrypt$2$1$1$c2FsdA$aGFzaA")
        yield store.add_session(locked)
        yield store.close()
        _, snapshot = self.open()
        self.assertEqual(snapshot.sessions, (locked,))

    @inlineCallbacks
    def test_actions_are_kept_as_actions(self) -> Any:
        """A ``/me`` message comes back as an action, a plain one as plain."""
        store, _ = self.open()
        yield store.add_message(StoredMessage(1, "carol", "yo", 8.0))
        yield store.add_message(StoredMessage(1, "carol", "waves", 9.0, True))
        yield store.close()
        _, snapshot = self.open()
        self.assertEqual([m.action for m in snapshot.history[1]], [False, True])

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
        self.assertEqual(self.stored_texts(1), [f"message {n}" for n in range(-1, 200)])

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
        self.assertEqual(self.stored_texts(3), [f"message {n}" for n in range(25, 45)])

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
        bad = store.add_session(StoredSession(11, "shed", 1.0, None, None))  # type: ignore[arg-type]
        yield self.assertFailure(good, StoreError)
        yield self.assertFailure(bad, StoreError)
        self.flushLoggedErrors(self.integrity_error)
        yield store.add_message(message(5, 2))
        yield store.close()
        _, snapshot = self.open()
        self.assertEqual(snapshot.history[5], (message(5, 2),))

    @inlineCallbacks
    def test_a_closed_store_refuses_writes(self) -> Any:
        """After ``close`` (which commits what was queued) a write fails instead of vanishing."""
        store, _ = self.open()
        queued = store.add_message(message(6, 1))
        yield store.close()
        self.assertTrue(queued.called)
        yield self.assertFailure(store.add_message(message(6, 2)), StoreError)
        self.assertEqual(self.stored_texts(6), ["message 1"])
