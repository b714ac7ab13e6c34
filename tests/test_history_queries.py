"""History requests answered from the in-memory reference (glozi/storage/store.py ``answer_history``)
and the domain's rule that only a member reads a session's history."""

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from glozi.domain.chat import ChatServer
from glozi.domain.errors import ChatError
from glozi.domain.history import Anchor, Direction, HistoryQuery, MessageIds
from glozi.storage.store import MemoryStore, StoredMessage, StoreError, answer_history
from tests.helpers import RecordingConnection

KEPT = [StoredMessage(3, "alice", f"m{n}", 100.0 + n, msgid=f"id{n}") for n in range(10)]


def texts(query: HistoryQuery) -> list[str]:
    return [m.text for m in answer_history(KEPT, query)]


class AnswerHistoryTests(SynchronousTestCase):
    def test_latest_is_the_newest_oldest_first(self) -> None:
        self.assertEqual(texts(HistoryQuery(Direction.LATEST, 3)), ["m7", "m8", "m9"])

    def test_latest_after_a_message_stops_at_it(self) -> None:
        self.assertEqual(texts(HistoryQuery(Direction.LATEST, 5, Anchor(msgid="id7"))), ["m8", "m9"])

    def test_before_and_after_exclude_their_anchor(self) -> None:
        self.assertEqual(texts(HistoryQuery(Direction.BEFORE, 2, Anchor(msgid="id5"))), ["m3", "m4"])
        self.assertEqual(texts(HistoryQuery(Direction.AFTER, 2, Anchor(msgid="id5"))), ["m6", "m7"])

    def test_a_time_anchor_falls_between_messages(self) -> None:
        self.assertEqual(texts(HistoryQuery(Direction.BEFORE, 2, Anchor(time=105.0))), ["m3", "m4"])
        self.assertEqual(texts(HistoryQuery(Direction.AFTER, 2, Anchor(time=104.5))), ["m5", "m6"])

    def test_around_includes_its_anchor(self) -> None:
        self.assertEqual(texts(HistoryQuery(Direction.AROUND, 3, Anchor(msgid="id5"))), ["m4", "m5", "m6"])

    def test_between_takes_those_nearest_its_start_either_way(self) -> None:
        forward = HistoryQuery(Direction.BETWEEN, 2, Anchor(msgid="id2"), Anchor(msgid="id8"))
        backward = HistoryQuery(Direction.BETWEEN, 2, Anchor(msgid="id8"), Anchor(msgid="id2"))
        self.assertEqual((texts(forward), texts(backward)), (["m3", "m4"], ["m6", "m7"]))

    def test_an_unknown_id_answers_nothing(self) -> None:
        self.assertEqual(texts(HistoryQuery(Direction.BEFORE, 5, Anchor(msgid="gone"))), [])


class ReadHistoryTests(SynchronousTestCase):
    def test_a_member_reads_the_messages_with_their_ids_and_an_outsider_may_not(self) -> None:
        server = ChatServer(Clock(), exit_code="12345", store=MemoryStore(), message_ids=MessageIds("p"))
        alice = server.connect(RecordingConnection())
        alice.create("garden", "alice")
        session_id = next(iter(alice.members))
        alice.say("hello")
        alice.say("again")
        read = self.successResultOf(alice.read_history(session_id, HistoryQuery(Direction.LATEST, 100)))
        self.assertEqual([(m.text, m.msgid) for m in read], [("hello", "p1"), ("again", "p2")])
        bob = server.connect(RecordingConnection())
        bob.join(1, "bob")
        error = self.assertRaises(ChatError, bob.read_history, session_id, HistoryQuery(Direction.LATEST, 1))
        self.assertEqual(error.code, "not_in_session")


class LateStore(MemoryStore):
    """A store whose history reads answer later (a database thread), or fail when ``broken``;
    it keeps each request it was asked."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[Any, ...]] = []
        self.waiting: list[tuple[Deferred[Any], Deferred[Any]]] = []
        self.broken = False

    def _later(self, answer: "Deferred[Any]") -> "Deferred[Any]":
        later: Deferred[Any] = Deferred()
        self.waiting.append((answer, later))
        return later

    def answer(self) -> None:
        """Answer every request waiting, in order: what the memory store says, or a read failure."""
        waiting, self.waiting = self.waiting, []
        for answer, later in waiting:
            if self.broken:
                later.errback(StoreError("disk I/O error"))
            else:
                answer.chainDeferred(later)

    def read_history(self, session_id: int, query: HistoryQuery) -> "Deferred[list[StoredMessage]]":
        self.asked.append((session_id, query))
        return self._later(super().read_history(session_id, query))

    def history_targets(self, session_ids: Any, after: float, before: float, limit: int) -> "Deferred[Any]":
        self.asked.append((tuple(session_ids), after, before, limit))
        return self._later(super().history_targets(session_ids, after, before, limit))


class MemberHistoryTests(SynchronousTestCase):
    """``Participant.read_history`` and ``history_targets`` on a store that answers later."""

    def setUp(self) -> None:
        self.store = LateStore()
        self.clock = Clock()
        self.clock.advance(1_764_000_000)
        self.server = ChatServer(self.clock, exit_code="12345", store=self.store, message_ids=MessageIds("c0"))
        self.alice = self.server.connect(RecordingConnection())
        self.garden = self.successResultOf(self.alice.create("garden", "alice")).session.id
        for n in range(3):
            self.clock.advance(1)
            self.alice.say(f"m{n}")

    def test_a_member_is_answered_when_the_store_answers(self) -> None:
        """Nothing comes before the store answers; then the messages, oldest first, with ids and stored times."""
        read = self.alice.read_history(self.garden, HistoryQuery(Direction.LATEST, 2))
        self.assertNoResult(read)
        self.store.answer()
        self.assertEqual(
            [(m.text, m.msgid, m.sent_at) for m in self.successResultOf(read)],
            [("m1", "c02", 1_764_000_002.0), ("m2", "c03", 1_764_000_003.0)],
        )

    def test_a_limit_of_100_is_asked_as_is_and_101_is_cut_to_100(self) -> None:
        """The most one request reads is 100 messages (ISUPPORT ``CHATHISTORY=100``)."""
        self.alice.read_history(self.garden, HistoryQuery(Direction.LATEST, 100))
        self.alice.read_history(self.garden, HistoryQuery(Direction.BEFORE, 101, Anchor(msgid="c03")))
        self.assertEqual(
            self.store.asked,
            [
                (self.garden, HistoryQuery(Direction.LATEST, 100)),
                (self.garden, HistoryQuery(Direction.BEFORE, 100, Anchor(msgid="c03"))),
            ],
        )

    def test_only_members_read_and_outsiders_ask_the_store_nothing(self) -> None:
        """A user at the session list, or one in another session, is refused at once."""
        bob = self.server.connect(RecordingConnection())
        self.assertEqual(
            self.assertRaises(ChatError, bob.read_history, self.garden, HistoryQuery(Direction.LATEST, 1)).code,
            "wrong_state",
        )
        bob.join(1, "bob")
        self.assertEqual(
            self.assertRaises(ChatError, bob.read_history, self.garden, HistoryQuery(Direction.LATEST, 1)).code,
            "not_in_session",
        )
        self.assertEqual(self.store.asked, [])

    def test_a_failed_read_is_not_stored(self) -> None:
        """The store could not be read: the request fails with ChatError ``not_stored``, targets too."""
        self.store.broken = True
        read = self.alice.read_history(self.garden, HistoryQuery(Direction.LATEST, 10))
        targets = self.alice.history_targets(0.0, 2e9, 10)
        self.store.answer()
        for failed in (read, targets):
            self.assertEqual(self.failureResultOf(failed, ChatError).value.code, "not_stored")

    def test_targets_are_the_members_sessions_only_at_most_100(self) -> None:
        """TARGETS asks about this user's sessions alone, 100 at most; answered when the store answers."""
        self.alice.join(2, "alice")
        self.clock.advance(1)
        self.alice.say("kiwi", 2)
        targets = self.alice.history_targets(0.0, 2e9, 101)
        self.alice.history_targets(0.0, 2e9, 100)
        self.assertNoResult(targets)
        self.store.answer()
        self.assertEqual(self.successResultOf(targets), [(2, 1_764_000_004.0), (self.garden, 1_764_000_003.0)])
        self.assertEqual([asked[3] for asked in self.store.asked], [100, 100])
        self.assertEqual(sorted(self.store.asked[0][0]), sorted([2, self.garden]))

    def test_a_restart_keeps_each_messages_id(self) -> None:
        """After a restart a joiner's history carries the ids the messages were sent with."""
        restarted = ChatServer(self.clock, exit_code="12345", store=MemoryStore())
        restarted.restore(self.store.snapshot(50))
        bob = restarted.connect(RecordingConnection())
        joined = self.successResultOf(bob.join(self.garden, "bob"))
        self.assertEqual([(m.text, m.msgid) for m in joined.history], [("m0", "c01"), ("m1", "c02"), ("m2", "c03")])
