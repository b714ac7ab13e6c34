"""Reading a session's stored messages: message ids and history requests.

Every chat message gets an id when it is sent (``MessageIds``), the same in
every door and, in a cluster, on every node (it travels in the envelope); the
store keeps it, so a client can page through a session's history by id or by
time (IRC's CHATHISTORY, the native ``history`` command). A ``HistoryQuery``
is one such request, already validated by the door; the store answers it
(``Store.read_history``) and the domain checks who may ask
(``Participant.read_history``).
"""

import os
from dataclasses import dataclass
from enum import StrEnum
from itertools import count

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


class Direction(StrEnum):
    """What a history request asks for, named as IRC's CHATHISTORY subcommands."""

    LATEST = "latest"
    """The newest ``limit`` messages, or those after ``start`` when it is given."""
    BEFORE = "before"
    """The ``limit`` messages just before ``start``."""
    AFTER = "after"
    """The ``limit`` messages just after ``start``."""
    AROUND = "around"
    """Up to ``limit`` messages centred on ``start`` (the one it names included)."""
    BETWEEN = "between"
    """Messages strictly between ``start`` and ``end``, the ``limit`` nearest ``start`` (which may be the later one)."""


@dataclass(frozen=True, slots=True)
class Anchor:
    """A point in a session's history: a message (by id) or a time (seconds since the epoch)."""

    msgid: str | None = None
    time: float | None = None


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """One request for a session's stored messages; the answer is always oldest first.

    A point named by ``msgid`` that the session's history does not hold
    answers with no messages (a message the retention has dropped, or another
    session's). Bounds are exclusive, but ``AROUND`` includes its anchor."""

    direction: Direction
    limit: int
    start: Anchor | None = None
    end: Anchor | None = None
