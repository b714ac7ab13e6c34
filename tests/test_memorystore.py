"""MemoryStore, the unit tests' store: it numbers each session's messages as PostgreSQL does."""

from twisted.trial.unittest import SynchronousTestCase

from glozi.storage.store import MemoryStore, StoredMessage


def message(session_id: int, n: int) -> StoredMessage:
    return StoredMessage(session_id, "alice", f"message {n}", float(n))


class MemoryStoreSequenceTests(SynchronousTestCase):
    def test_each_message_gets_the_next_number_of_its_session(self) -> None:
        """``add_message`` fires with 1, 2, 3 … per session."""
        store = MemoryStore()
        numbers = [self.successResultOf(store.add_message(message(1 + n % 2, n))) for n in range(5)]
        self.assertEqual(numbers, [1, 1, 2, 2, 3])
        self.assertEqual(self.successResultOf(store.last_sequences()), {1: 3, 2: 2})

    def test_messages_after_a_number_survive_the_retention(self) -> None:
        """With a retention of 5, of 12 messages numbers 8 to 12 are kept; ``messages_after(s, 9, 2)`` is 10 and 11."""
        store = MemoryStore(retention=5)
        for n in range(1, 13):
            store.add_message(message(3, n))
        self.assertEqual(self.successResultOf(store.messages_after(3, 9, 2)), [(10, message(3, 10)), (11, message(3, 11))])
        self.assertEqual([seq for seq, _ in self.successResultOf(store.messages_after(3, 0, 100))], [8, 9, 10, 11, 12])
        self.assertEqual(self.successResultOf(store.messages_after(4, 0, 100)), [])

    def test_a_deleted_session_has_no_numbers(self) -> None:
        """Deleting a session forgets its counter."""
        store = MemoryStore()
        store.add_message(message(10, 1))
        store.delete_session(10)
        self.assertEqual(self.successResultOf(store.last_sequences()), {})
