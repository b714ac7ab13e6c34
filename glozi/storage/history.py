"""What a read of a session's stored history asks for (``Store.read_history``).

A ``HistoryQuery`` is one request, already validated by the door that took
it (IRC's CHATHISTORY, the native ``history`` command); glozi/domain/history.py
gives messages their ids and limits what one request may ask.
"""

from dataclasses import dataclass
from enum import StrEnum


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
