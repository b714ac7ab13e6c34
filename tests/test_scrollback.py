"""Scrollback: the last messages of a session, packed into one buffer."""

import gc

from twisted.trial.unittest import SynchronousTestCase

from glozi.domain.events import Message
from glozi.domain.scrollback import Scrollback
from glozi.storage.store import SharedFile


def message(n: int, sender: str = "alice", text: str | None = None) -> Message:
    return Message(
        session_id=3, sender=sender, text=text if text is not None else f"message {n}", sent_at=1000.0 + n / 8,
        msgid=f"4f2a9c{n:x}",
    )


class ScrollbackTests(SynchronousTestCase):
    def test_keeps_the_last_limit_in_order(self) -> None:
        scrollback = Scrollback(3, limit=5)
        scrollback.extend(message(n) for n in range(12))
        self.assertEqual(list(scrollback), [message(n) for n in range(7, 12)])
        self.assertEqual(len(scrollback), 5)

    def test_text_round_trips(self) -> None:
        """Names and text come back exactly: any script, emoji, tabs, the longest text."""
        scrollback = Scrollback(3, limit=10)
        texts = ["héllo ✓", "日本語のテキスト", "tabs\tand émoji 🎉", "x" * 2000, "q"]
        for n, text in enumerate(texts):
            scrollback.append(message(n, sender="Zoë", text=text))
        self.assertEqual([(m.sender, m.text, m.sent_at) for m in scrollback],
                         [("Zoë", t, 1000.0 + n / 8) for n, t in enumerate(texts)])

    def test_each_message_keeps_its_id(self) -> None:
        """A joiner's history carries every message's id (and an action stays one), the longest text too."""
        scrollback = Scrollback(3, limit=10)
        scrollback.append(message(1, text="x" * 2000))
        scrollback.append(Message(session_id=3, sender="bob", text="waves", sent_at=2.0, action=True, msgid="s77"))
        self.assertEqual([(m.msgid, m.action, len(m.text)) for m in scrollback], [("4f2a9c1", False, 2000), ("s77", True, 5)])

    def test_remove_takes_out_that_message_only(self) -> None:
        scrollback = Scrollback(3, limit=10)
        scrollback.extend(message(n) for n in range(4))
        self.assertTrue(scrollback.remove(message(2)))
        self.assertFalse(scrollback.remove(message(2)))
        self.assertFalse(scrollback.remove(message(9)))
        self.assertEqual(list(scrollback), [message(0), message(1), message(3)])
        scrollback.append(message(4))
        self.assertEqual(len(scrollback), 4)

    def test_remove_takes_out_the_newest_copy(self) -> None:
        """A message kept twice (the same record): removing it takes the later copy, the messages around stay."""
        scrollback = Scrollback(3, limit=10)
        scrollback.extend([message(1), message(2), message(1), message(3)])
        self.assertTrue(scrollback.remove(message(1)))
        self.assertEqual(list(scrollback), [message(1), message(2), message(3)])

    def test_a_shared_file_round_trips(self) -> None:
        """A file's announcement comes back with its file (an image's sizes too); a plain message has none."""
        photo = SharedFile("holiday.jpg", 2_146_304, "image/jpeg", "9f" * 32, 4032, 3024, 320, 240, "192.0.2.1")
        shared = Message(session_id=3, sender="alice", text="shared holiday.jpg (2.1 MB)", sent_at=5.0, action=True,
                         msgid="f1", file=photo)
        scrollback = Scrollback(3, limit=10)
        scrollback.extend([message(1), shared, message(2)])
        self.assertEqual([m.file for m in scrollback], [None, photo, None])
        self.assertEqual(list(scrollback)[1], shared)

    def test_none_kept_with_limit_zero(self) -> None:
        scrollback = Scrollback(3, limit=0)
        scrollback.append(message(1))
        self.assertEqual((list(scrollback), len(scrollback)), ([], 0))

    def test_clear(self) -> None:
        scrollback = Scrollback(3, limit=5)
        scrollback.extend(message(n) for n in range(3))
        scrollback.clear()
        self.assertEqual(list(scrollback), [])
        scrollback.append(message(7))
        self.assertEqual(list(scrollback), [message(7)])

    def test_holds_no_objects_per_message(self) -> None:
        """What it keeps is one buffer, not an object (or a string) per message."""
        scrollback = Scrollback(3, limit=50)
        scrollback.extend(message(n) for n in range(80))
        kept = [
            referent
            for referent in gc.get_referents(scrollback)
            if not isinstance(referent, type) and not isinstance(referent, int)
        ]
        self.assertEqual([type(referent) for referent in kept], [bytearray])
