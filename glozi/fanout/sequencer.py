"""Each session's messages handed on in the order of their sequence numbers.

In a cluster a session's messages are numbered 1, 2, 3... as they are
committed, but reach a node over the bus from several senders, in whatever
order the network gives. ``Sequencer`` passes each on once, in number order:
one that arrives ahead of a missing one waits; when the missing one has not
come within ``gap_wait`` seconds (or at once, when the bus was lost and is
back), the gap is read from the store. Numbers already handed on are dropped.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Generic, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

Item = TypeVar("Item")

DEFAULT_GAP_WAIT = 0.05
"""Seconds a message ahead of a gap waits for the missing one before the store is read."""
RETRY_WAIT = 1.0
"""Seconds before reading the store again after it failed."""


class _Line(Generic[Item]):
    __slots__ = ("expected", "filling", "held", "timer")

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.held: dict[int, Item] = {}
        self.timer: IDelayedCall | None = None
        self.filling = False


class Sequencer(Generic[Item]):
    """Hands on ``(seq, item)`` per session in ``seq`` order, each once.

    ``fill(session_id, after_seq)`` reads the store's items numbered above
    ``after_seq``, ascending; ``hand_on(session_id, item)`` is where they go.
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        fill: "Callable[[int, int], Deferred[list[tuple[int, Item]]]]",
        hand_on: Callable[[int, Item], None],
        gap_wait: float = DEFAULT_GAP_WAIT,
    ) -> None:
        self.clock = clock
        self.fill = fill
        self.hand_on = hand_on
        self.gap_wait = gap_wait
        self._lines: dict[int, _Line[Item]] = {}
        self.filled = 0
        """Items read from the store to fill gaps (docs/cluster.md)."""
        self.skipped = 0
        """Numbers given up on: the store had no such item (deleted meanwhile)."""
        self.answers: AbstractContextManager[Any] = nullcontext()
        """Held open while what one read of the store filled is handed on: the doors'
        write batch (glozi/doors/writebatch.py), so each connection gets one write per fill."""

    def start(self, session_id: int, last_seq: int) -> None:
        """Session ``session_id``'s messages up to ``last_seq`` were handed on
        already (or are history): the next one expected is ``last_seq + 1``."""
        self.forget(session_id)
        self._lines[session_id] = _Line(last_seq + 1)

    def forget(self, session_id: int) -> None:
        """The session is gone."""
        line = self._lines.pop(session_id, None)
        if line is not None and line.timer is not None and line.timer.active():
            line.timer.cancel()

    def next_expected(self, session_id: int) -> int | None:
        line = self._lines.get(session_id)
        return None if line is None else line.expected

    def arrived(self, session_id: int, seq: int, item: Item) -> None:
        """Item number ``seq`` of session ``session_id`` is here."""
        line = self._lines.get(session_id)
        if line is None:
            # A session this node has not heard of: its numbering starts here.
            line = self._lines[session_id] = _Line(seq)
        if seq < line.expected or seq in line.held:
            return
        line.held[seq] = item
        self._drain(session_id, line)
        if line.held and line.timer is None and not line.filling:
            line.timer = self.clock.callLater(self.gap_wait, self._fill, session_id)

    def fill_all(self) -> None:
        """Read every session's newer items from the store now (the bus was lost and is back)."""
        for session_id in list(self._lines):
            self._fill(session_id)

    def _drain(self, session_id: int, line: _Line[Item]) -> None:
        first = line.expected
        while line.expected in line.held:
            item = line.held.pop(line.expected)
            line.expected += 1
            self.hand_on(session_id, item)
        timer = line.timer
        if timer is None or line.expected == first:
            return
        if not line.held:
            if timer.active():
                timer.cancel()
            line.timer = None
        elif timer.active():
            # The gap waited for came; the one now first is younger: it gets its own wait.
            timer.reset(self.gap_wait)

    def _fill(self, session_id: int) -> None:
        line = self._lines.get(session_id)
        if line is None or line.filling:
            return
        if line.timer is not None and line.timer.active():
            line.timer.cancel()
        line.timer = None
        line.filling = True
        asked_after = line.expected - 1

        def filled(items: list[tuple[int, Item]]) -> None:
            line.filling = False
            if self._lines.get(session_id) is not line:
                return
            with self.answers:
                hand_on_filled(items)

        def hand_on_filled(items: list[tuple[int, Item]]) -> None:
            for seq, item in items:
                if seq >= line.expected and seq not in line.held:
                    line.held[seq] = item
                    self.filled += 1
            self._drain(session_id, line)
            if line.held:
                # Whatever was held is committed, so the store has all before it
                # that it still keeps: the numbers missing are gone for good (retention).
                self.skipped += min(line.held) - line.expected
                line.expected = min(line.held)
                self._drain(session_id, line)

        def failed(reason: object) -> None:
            line.filling = False
            self.log.warn(
                "Could not read session {id}'s messages after {seq}: {reason}", id=session_id, seq=asked_after, reason=reason
            )
            if self._lines.get(session_id) is line and line.timer is None:
                line.timer = self.clock.callLater(RETRY_WAIT, self._fill, session_id)

        self.fill(session_id, asked_after).addCallbacks(filled, failed)
