"""Sequencer: each session's messages handed on once, in number order, gaps filled from the store."""

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from glozi.doors.writebatch import WriteBatch
from glozi.fanout.sequencer import Sequencer


class SequencerTests(TestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.stored: dict[int, list[tuple[int, str]]] = {}
        self.reads: list[tuple[int, int]] = []
        self.handed: list[tuple[int, str]] = []
        self.answer: Deferred | None = None
        self.sequencer: Sequencer[str] = Sequencer(self.clock, self.read, lambda sid, item: self.handed.append((sid, item)))
        self.sequencer.start(1, 0)

    def read(self, session_id: int, after: int) -> "Deferred[list[tuple[int, str]]]":
        self.reads.append((session_id, after))
        if self.answer is not None:
            return self.answer
        return succeed([pair for pair in self.stored.get(session_id, []) if pair[0] > after])

    def test_in_order_messages_go_straight_through(self) -> None:
        for seq in (1, 2, 3):
            self.sequencer.arrived(1, seq, f"m{seq}")
        self.assertEqual(self.handed, [(1, "m1"), (1, "m2"), (1, "m3")])
        self.assertEqual(self.reads, [])

    def test_one_ahead_waits_for_the_missing_one_which_comes_in_time(self) -> None:
        self.sequencer.arrived(1, 2, "m2")
        self.assertEqual(self.handed, [])
        self.clock.advance(0.049)
        self.sequencer.arrived(1, 1, "m1")
        self.assertEqual(self.handed, [(1, "m1"), (1, "m2")])
        self.clock.advance(1)
        self.assertEqual(self.reads, [])

    def test_a_gap_is_read_from_the_store_after_50_ms(self) -> None:
        self.stored[1] = [(1, "m1"), (2, "m2"), (3, "m3")]
        self.sequencer.arrived(1, 3, "m3")
        self.clock.advance(0.049)
        self.assertEqual(self.reads, [])
        self.clock.advance(0.001)
        self.assertEqual(self.reads, [(1, 0)])
        self.assertEqual(self.handed, [(1, "m1"), (1, "m2"), (1, "m3")])
        self.assertEqual(self.sequencer.filled, 2)

    def test_what_a_fill_hands_on_goes_out_inside_the_write_batch(self) -> None:
        """Filled messages reach the connections in one write each: the batch is open around all of them."""
        batch = WriteBatch()
        self.sequencer.answers = batch
        self.sequencer.hand_on = lambda sid, item: self.handed.append((sid, f"{item} open={batch.open}"))
        self.answer = Deferred()
        self.sequencer.arrived(1, 3, "m3")
        self.clock.advance(0.05)
        self.answer.callback([(1, "m1"), (2, "m2"), (3, "m3")])
        self.assertEqual([item for _, item in self.handed], ["m1 open=True", "m2 open=True", "m3 open=True"])
        self.assertFalse(batch.open)

    def test_each_gap_gets_its_own_wait(self) -> None:
        """A stream that is never quite in order reads nothing from the store while each gap closes within 50 ms."""
        self.sequencer.arrived(1, 2, "m2")
        for seq in range(1, 40, 2):
            self.clock.advance(0.04)
            self.sequencer.arrived(1, seq + 3, f"m{seq + 3}")
            self.sequencer.arrived(1, seq, f"m{seq}")
        self.assertEqual(self.reads, [])
        self.assertEqual([item for _, item in self.handed], [f"m{n}" for n in range(1, 41)])

    def test_a_gap_left_open_is_read_50_ms_after_it_became_the_first(self) -> None:
        self.stored[1] = [(n, f"m{n}") for n in range(1, 6)]
        self.sequencer.arrived(1, 2, "m2")
        self.sequencer.arrived(1, 5, "m5")
        self.clock.advance(0.03)
        self.sequencer.arrived(1, 1, "m1")
        self.clock.advance(0.049)
        self.assertEqual(self.reads, [])
        self.clock.advance(0.001)
        self.assertEqual(self.reads, [(1, 2)])
        self.assertEqual([item for _, item in self.handed], [f"m{n}" for n in range(1, 6)])

    def test_duplicates_are_dropped(self) -> None:
        self.sequencer.arrived(1, 1, "m1")
        self.sequencer.arrived(1, 1, "m1 again")
        self.sequencer.arrived(1, 3, "m3")
        self.sequencer.arrived(1, 3, "m3 again")
        self.sequencer.arrived(1, 2, "m2")
        self.assertEqual([item for _, item in self.handed], ["m1", "m2", "m3"])

    def test_a_store_that_fails_is_asked_again_a_second_later(self) -> None:
        self.answer = fail(RuntimeError("down"))
        self.sequencer.arrived(1, 2, "m2")
        self.clock.advance(0.05)
        self.assertEqual(len(self.reads), 1)
        self.answer = None
        self.stored[1] = [(1, "m1"), (2, "m2")]
        self.clock.advance(0.99)
        self.assertEqual(len(self.reads), 1)
        self.clock.advance(0.02)
        self.assertEqual([item for _, item in self.handed], ["m1", "m2"])

    def test_numbers_the_store_no_longer_has_are_skipped(self) -> None:
        self.stored[1] = [(3, "m3")]
        self.sequencer.arrived(1, 3, "m3")
        self.clock.advance(0.05)
        self.assertEqual(self.handed, [(1, "m3")])
        self.assertEqual(self.sequencer.skipped, 2)

    def test_sessions_are_independent_and_a_forgotten_one_is_not_read(self) -> None:
        self.sequencer.start(2, 5)
        self.sequencer.arrived(2, 6, "s2")
        self.sequencer.arrived(1, 2, "m2")
        self.assertEqual(self.handed, [(2, "s2")])
        self.sequencer.forget(1)
        self.clock.advance(1)
        self.assertEqual(self.reads, [])

    def test_fill_all_reads_every_session_at_once(self) -> None:
        self.sequencer.start(2, 0)
        self.stored = {1: [(1, "a")], 2: [(1, "b")]}
        self.sequencer.fill_all()
        self.assertEqual(sorted(self.reads), [(1, 0), (2, 0)])
        self.assertEqual(sorted(self.handed), [(1, "a"), (2, "b")])

    def test_a_message_arriving_while_the_store_answers_is_not_handed_on_twice(self) -> None:
        self.answer = Deferred()
        self.sequencer.arrived(1, 2, "m2")
        self.clock.advance(0.05)
        self.sequencer.arrived(1, 1, "m1")
        self.answer.callback([(1, "m1"), (2, "m2")])
        self.assertEqual([item for _, item in self.handed], ["m1", "m2"])
