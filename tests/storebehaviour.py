"""What every ``Store`` on a real database must do: the shared store test suite.

``tests/test_sqlitestore.py`` and ``tests/test_pgstore.py`` run it, each on
its own database: a test case mixes ``StoreBehaviour`` in and says how to
open its store and read back what it kept.
"""

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import gatherResults, inlineCallbacks
from twisted.internet.task import deferLater

from glozi.storage.history import Anchor, Direction, HistoryQuery
from glozi.storage.store import MemoryStore, SharedFile, StoredMessage, StoredSession, StoreError


def message(session_id: int, n: int) -> StoredMessage:
    return StoredMessage(session_id, "alice", f"message {n}", 1_764_000_000.0 + n, msgid=f"{session_id:x}f{n:x}")


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
    def test_a_file_announcement_is_kept_with_its_file(self) -> Any:
        """A message announcing a file comes back with it, in the snapshot, the history and ``kept_files``."""
        picture = SharedFile("a.jpg", 2_146_304, "image/jpeg", "ab" * 32, 640, 480, 320, 240, "192.168.1.23")
        notes = SharedFile("notes.pdf", 48_213, "application/pdf", "cd" * 32, source="192.168.1.24")
        store, _ = self.open()
        yield store.add_message(StoredMessage(1, "alice", "shared a.jpg (2.1 MB)", 8.0, True, "m1", picture))
        yield store.add_message(StoredMessage(2, "bob", "shared notes.pdf (48.2 kB)", 9.0, True, "m2", notes))
        yield store.add_message(StoredMessage(2, "bob", "plain", 10.0, msgid="m3"))
        page = yield store.read_history(2, HistoryQuery(Direction.LATEST, 10))
        self.assertEqual([m.file for m in page], [notes, None])
        self.assertEqual(sorted((yield store.kept_files()), key=lambda pair: pair[0]), [(1, picture), (2, notes)])
        self.assertEqual((yield store.kept_files("cd" * 32)), [(2, notes)])
        self.assertEqual((yield store.kept_files("ef" * 32)), [])
        yield store.close()
        _, snapshot = self.open()
        self.assertEqual(snapshot.history[1][0].file, picture)

    @inlineCallbacks
    def test_a_file_goes_with_its_message(self) -> Any:
        """Deleting a session, or the retention dropping the announcement, drops the file from ``kept_files``."""
        store, _ = self.open(retention=10)
        shared = SharedFile("a.bin", 5, "application/octet-stream", "ab" * 32)
        yield store.add_session(StoredSession(10, "garden", 1.0, "alice", None))
        yield store.add_message(StoredMessage(10, "alice", "shared a.bin (5 B)", 2.0, True, "f10", shared))
        yield store.add_message(StoredMessage(3, "alice", "shared a.bin (5 B)", 2.0, True, "f3", shared))
        self.assertEqual(len((yield store.kept_files(shared.hash))), 2)
        yield store.delete_session(10)
        self.assertEqual((yield store.kept_files(shared.hash)), [(3, shared)])
        yield gatherResults([store.add_message(message(3, n)) for n in range(10)])
        yield store.close()
        store, _ = self.open(retention=10)
        self.assertEqual((yield store.kept_files()), [])

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

    @inlineCallbacks
    def kept(self, store: Any, session_id: int, count: int) -> Any:
        """``count`` messages written to ``session_id`` (``message(session_id, n)``, n from 0), with every
        other session's 7 messages in between; the same messages in a ``MemoryStore``, the reference."""
        reference = MemoryStore()
        writes = []
        for n in range(count):
            writes.append(store.add_message(message(session_id, n)))
            reference.add_message(message(session_id, n))
            if n % 7 == 0:
                writes.append(store.add_message(message(session_id + 1, n)))
        yield gatherResults(writes)
        return reference

    @inlineCallbacks
    def test_each_history_request_agrees_with_the_reference(self) -> Any:
        """Every direction, by id and by time, BETWEEN both ways and mixed, answers what ``answer_history``
        answers from the same messages; an id not in the session answers nothing."""
        store, _ = self.open()
        reference = yield self.kept(store, 2, 40)
        at = message(2, 0).sent_at
        queries = [HistoryQuery(Direction.LATEST, limit) for limit in (0, 1, 10, 100)]
        for start in (Anchor(msgid="2f14"), Anchor(time=at + 20), Anchor(time=at + 19.5), Anchor(msgid="2f0")):
            for direction in (Direction.LATEST, Direction.BEFORE, Direction.AFTER, Direction.AROUND):
                queries += [HistoryQuery(direction, limit, start) for limit in (1, 5, 6, 100)]
        for start, end in [
            (Anchor(msgid="2f5"), Anchor(msgid="2f20")),
            (Anchor(time=at + 5), Anchor(time=at + 20)),
            (Anchor(msgid="2f5"), Anchor(time=at + 20.5)),
        ]:
            queries += [HistoryQuery(Direction.BETWEEN, limit, *ends) for limit in (3, 100) for ends in ((start, end), (end, start))]
        queries += [
            HistoryQuery(Direction.BEFORE, 5, Anchor(msgid="nobody's")),
            HistoryQuery(Direction.AFTER, 5, Anchor(msgid="3f7")),
            HistoryQuery(Direction.BETWEEN, 5, Anchor(msgid="2f5"), Anchor(msgid="3f7")),
        ]
        for query in queries:
            answered = yield store.read_history(2, query)
            expected = yield reference.read_history(2, query)
            self.assertEqual(answered, expected, query)

    @inlineCallbacks
    def test_history_requests_answer_as_documented(self) -> Any:
        """Pinned: BEFORE and AFTER exclude their bound, AROUND includes its message, BETWEEN takes those
        nearest its start (either way), a time bound excludes a message sent at that very time."""
        store, _ = self.open()
        yield self.kept(store, 2, 30)
        at = message(2, 0).sent_at

        @inlineCallbacks
        def texts(query: HistoryQuery) -> Any:
            return [m.text.removeprefix("message ") for m in (yield store.read_history(2, query))]

        self.assertEqual((yield texts(HistoryQuery(Direction.LATEST, 3))), ["27", "28", "29"])
        self.assertEqual((yield texts(HistoryQuery(Direction.LATEST, 5, Anchor(msgid="2f1a")))), ["27", "28", "29"])
        self.assertEqual((yield texts(HistoryQuery(Direction.BEFORE, 2, Anchor(msgid="2fa")))), ["8", "9"])
        self.assertEqual((yield texts(HistoryQuery(Direction.AFTER, 2, Anchor(msgid="2fa")))), ["11", "12"])
        self.assertEqual((yield texts(HistoryQuery(Direction.BEFORE, 2, Anchor(time=at + 10)))), ["8", "9"])
        self.assertEqual((yield texts(HistoryQuery(Direction.AFTER, 2, Anchor(time=at + 10)))), ["11", "12"])
        self.assertEqual((yield texts(HistoryQuery(Direction.AROUND, 3, Anchor(msgid="2fa")))), ["9", "10", "11"])
        self.assertEqual((yield texts(HistoryQuery(Direction.AROUND, 3, Anchor(msgid="2f0")))), ["0", "1", "2"])
        forward = HistoryQuery(Direction.BETWEEN, 2, Anchor(msgid="2f2"), Anchor(time=at + 8))
        backward = HistoryQuery(Direction.BETWEEN, 2, Anchor(time=at + 8), Anchor(msgid="2f2"))
        self.assertEqual(((yield texts(forward)), (yield texts(backward))), (["3", "4"], ["6", "7"]))

    @inlineCallbacks
    def test_a_message_the_retention_dropped_answers_nothing(self) -> Any:
        """With a retention of 20, of 45 messages the first 25 are gone: a request from one of their ids
        answers nothing, one from a kept id (or a time before them all) answers kept messages only."""
        store, _ = self.open(retention=20)
        for batch in range(3):
            yield gatherResults([store.add_message(message(3, batch * 15 + n)) for n in range(15)])
        yield store.close()
        store, _ = self.open(retention=20)
        self.assertEqual((yield store.read_history(3, HistoryQuery(Direction.AFTER, 5, Anchor(msgid="3f3")))), [])
        after = yield store.read_history(3, HistoryQuery(Direction.AFTER, 100, Anchor(time=0.0)))
        self.assertEqual([m.text for m in after], [f"message {n}" for n in range(25, 45)])
        before = yield store.read_history(3, HistoryQuery(Direction.BEFORE, 100, Anchor(msgid="3f1b")))
        self.assertEqual([m.text for m in before], [f"message {n}" for n in range(25, 27)])

    @inlineCallbacks
    def test_paging_through_a_thousand_messages_both_ways_has_no_gap_and_no_duplicate(self) -> Any:
        """1,000 messages read 100 at a time, BEFORE the oldest seen back from the newest, then AFTER the
        newest seen on from the oldest: each way, every message once, in order."""
        store, _ = self.open(retention=10_000)
        yield self.kept(store, 4, 1000)
        every = [message(4, n) for n in range(1000)]
        backwards = yield store.read_history(4, HistoryQuery(Direction.LATEST, 100))
        for _ in range(20):
            page = yield store.read_history(4, HistoryQuery(Direction.BEFORE, 100, Anchor(msgid=backwards[0].msgid)))
            if not page:
                break
            self.assertEqual(len(page), 100)
            backwards = page + backwards
        self.assertEqual(backwards, every)
        forwards = yield store.read_history(4, HistoryQuery(Direction.AFTER, 100, Anchor(time=0.0)))
        for _ in range(20):
            page = yield store.read_history(4, HistoryQuery(Direction.AFTER, 100, Anchor(msgid=forwards[-1].msgid)))
            if not page:
                break
            forwards += page
        self.assertEqual(forwards, every)

    @inlineCallbacks
    def test_a_read_sees_every_write_made_before_it(self) -> Any:
        """Written, not yet committed, then read in the same turn: the read answers after those writes
        are committed, with them; so does a read after writes waiting for the commit in flight."""
        store, _ = self.open()
        writes = [store.add_message(message(5, n)) for n in range(3)]
        first = store.read_history(5, HistoryQuery(Direction.LATEST, 100))
        writes += [store.add_message(message(5, n)) for n in range(3, 6)]
        second = store.read_history(5, HistoryQuery(Direction.LATEST, 100))
        self.assertEqual([m.text for m in (yield first)], [f"message {n}" for n in range(3)])
        self.assertEqual([m.text for m in (yield second)], [f"message {n}" for n in range(6)])
        self.assertTrue(all(write.called for write in writes))

    @inlineCallbacks
    def test_targets_are_the_sessions_with_messages_in_the_window_newest_first(self) -> Any:
        """TARGETS: of the sessions asked about, those with a message strictly inside the window (given
        either way round), with that newest message's time, newest first, at most ``limit``."""
        store, _ = self.open()
        at = message(1, 0).sent_at
        yield gatherResults([store.add_message(message(session, n)) for n, session in enumerate([6, 7, 8, 6, 9, 7])])
        targets = yield store.history_targets([6, 7, 8, 9, 12], at - 1, at + 100, 100)
        self.assertEqual(targets, [(7, at + 5), (9, at + 4), (6, at + 3), (8, at + 2)])
        self.assertEqual((yield store.history_targets([6, 7, 8, 9], at + 100, at - 1, 2)), [(7, at + 5), (9, at + 4)])
        inside = yield store.history_targets([6, 7, 8, 9], at + 2, at + 5, 100)
        self.assertEqual(inside, [(9, at + 4), (6, at + 3)], "both bounds are exclusive")
        self.assertEqual((yield store.history_targets([8, 9], at + 100, at - 1, 100)), [(9, at + 4), (8, at + 2)])
        self.assertEqual((yield store.history_targets([], at - 1, at + 100, 100)), [])

    @inlineCallbacks
    def test_a_message_written_without_an_id_gets_one_of_its_own(self) -> Any:
        """A message written with no id is given one by the store: unique, kept across reopening,
        and a history request can start from it."""
        store, _ = self.open()
        yield gatherResults([store.add_message(StoredMessage(1, "alice", f"old {n}", float(n))) for n in range(3)])
        yield store.add_message(message(1, 9))
        yield store.close()
        store, snapshot = self.open()
        ids = [m.msgid for m in snapshot.history[1]]
        self.assertEqual(len(set(ids)), 4)
        self.assertNotIn("", ids)
        self.assertEqual(ids[-1], "1f9")
        after = yield store.read_history(1, HistoryQuery(Direction.AFTER, 10, Anchor(msgid=ids[0])))
        self.assertEqual([m.msgid for m in after], ids[1:])

    @inlineCallbacks
    def test_a_read_on_a_closed_store_fails(self) -> Any:
        """After ``close`` a history read fails with ``StoreError`` instead of waiting for ever."""
        store, _ = self.open()
        yield store.close()
        yield self.assertFailure(store.read_history(1, HistoryQuery(Direction.LATEST, 10)), StoreError)
        yield self.assertFailure(store.history_targets([1], 0.0, 1.0, 10), StoreError)
