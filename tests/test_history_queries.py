"""History requests answered from the in-memory reference (glozi/storage/store.py ``answer_history``)
and the domain's rule that only a member reads a session's history."""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from glozi.domain.chat import ChatServer
from glozi.domain.errors import ChatError
from glozi.domain.history import Anchor, Direction, HistoryQuery, MessageIds
from glozi.storage.store import MemoryStore, StoredMessage, answer_history
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
