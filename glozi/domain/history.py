"""Reading a session's stored messages: message ids and history requests.

Every chat message gets an id when it is sent (``MessageIds``), the same in
every door and, in a cluster, on every node (it travels in the envelope); the
store keeps it, so a client can page through a session's history by id or by
time (IRC's CHATHISTORY, the native ``history`` command). A ``HistoryQuery``
(glozi/storage/history.py) is one such request, already validated by the
door; the store answers it (``Store.read_history``) and the domain checks who
may ask (``Participant.read_history``).
"""

import os
from itertools import count

from glozi.domain.events import Message
from glozi.storage.history import Anchor, Direction, HistoryQuery
from glozi.storage.store import StoredMessage

__all__ = ["HISTORY_LIMIT", "TARGETS_LIMIT", "Anchor", "Direction", "HistoryQuery", "MessageIds", "as_event"]

HISTORY_LIMIT = 100
"""The most messages one history request returns (IRC's ISUPPORT ``CHATHISTORY=100``)."""
TARGETS_LIMIT = 100
"""The most sessions one ``TARGETS`` request lists."""


class MessageIds:
    """Unique message ids: a random prefix for this process, then a counter.

    The prefix makes ids from two runs, or from two nodes of a cluster, never
    meet; the counter makes them cheap (a message's id is made on the hot path)."""

    def __init__(self, prefix: str | None = None) -> None:
        self.prefix = prefix if prefix is not None else os.urandom(6).hex()
        self._next = count(1).__next__

    def __call__(self) -> str:
        return f"{self.prefix}{self._next():x}"


def as_event(stored: StoredMessage) -> Message:
    """A kept message as the event members are delivered: its id and stored time, as it was sent."""
    return Message(
        session_id=stored.session_id, sender=stored.sender, text=stored.text, sent_at=stored.sent_at,
        action=stored.action, msgid=stored.msgid, file=stored.file,
    )  # fmt: skip
