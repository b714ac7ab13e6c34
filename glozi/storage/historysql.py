"""History reads in SQL, the same for both database stores (SQLite and PostgreSQL).

``answer_history`` (glozi/storage/store.py) says what each request means;
these are the same answers read from the ``messages`` table, in the database
thread, through a DB-API cursor. Every read walks one session's rows through
the (session, storage order) index (the primary key on PostgreSQL), or finds
a message by its id through the unique ``msgid`` index: never the whole table.
A time bound is checked on the rows that index walks, so a read's cost is at
most the session's kept messages (the retention), and on the newest or oldest
end it is the few rows it returns.
"""

import json
from collections.abc import Sequence
from typing import Any

from glozi.storage.history import Anchor, Direction, HistoryQuery
from glozi.storage.store import SharedFile, StoredMessage

Condition = tuple[str, Any]
"""A comparison on one column, with ``?`` for its value, and that value."""


class _Bound:
    """Where an ``Anchor`` falls: at a kept message (its place in storage
    order) or at a time. ``key`` orders two bounds."""

    __slots__ = ("column", "key", "value")

    def __init__(self, column: str, value: Any, key: tuple[float, float]) -> None:
        self.column = column
        self.value = value
        self.key = key

    def before(self) -> Condition:
        return f"{self.column} < ?", self.value

    def after(self) -> Condition:
        return f"{self.column} > ?", self.value

    def from_here(self) -> Condition:
        return f"{self.column} >= ?", self.value


class HistoryReads:
    """The history reads of a ``messages`` table whose storage order is the
    column ``order`` (SQLite's row id, PostgreSQL's per-session ``seq``), in
    the engine's parameter style (``?`` or ``%s``)."""

    def __init__(self, order: str, parameter: str) -> None:
        self.order = order
        self.parameter = parameter

    def _sql(self, text: str) -> str:
        return text.replace("?", self.parameter)

    def _select(
        self, cursor: Any, session_id: int, conditions: Sequence[Condition], newest: bool, limit: int
    ) -> list[StoredMessage]:
        """The session's messages meeting every condition: the first ``limit``
        of them, or the last when ``newest``; oldest first either way."""
        where = "".join(f" AND {comparison}" for comparison, _ in conditions)
        cursor.execute(
            self._sql(
                f"SELECT sender, text, sent_at, action, msgid, file FROM messages WHERE session_id = ?{where}"
                f" ORDER BY {self.order}{' DESC' if newest else ''} LIMIT ?"
            ),
            (session_id, *(value for _, value in conditions), limit),
        )
        rows = cursor.fetchall()
        if newest:
            rows.reverse()
        return [
            StoredMessage(session_id, sender, text, sent_at, bool(action), msgid, SharedFile.from_json(file))
            for sender, text, sent_at, action, msgid, file in rows
        ]

    def _bound(self, cursor: Any, session_id: int, anchor: Anchor) -> _Bound | None:
        if anchor.msgid is None:
            assert anchor.time is not None
            return _Bound("sent_at", anchor.time, (anchor.time, -1))
        cursor.execute(
            self._sql(f"SELECT {self.order}, sent_at FROM messages WHERE msgid = ? AND session_id = ?"),
            (anchor.msgid, session_id),
        )
        row = cursor.fetchone()
        return None if row is None else _Bound(self.order, row[0], (row[1], row[0]))

    def read(self, cursor: Any, session_id: int, query: HistoryQuery) -> list[StoredMessage]:
        """``Store.read_history``, in the database thread."""
        limit = query.limit
        if limit <= 0:
            return []
        if query.direction is Direction.LATEST and query.start is None:
            return self._select(cursor, session_id, (), True, limit)
        assert query.start is not None
        start = self._bound(cursor, session_id, query.start)
        if start is None:
            return []
        if query.direction is Direction.LATEST:
            return self._select(cursor, session_id, (start.after(),), True, limit)
        if query.direction is Direction.AFTER:
            return self._select(cursor, session_id, (start.after(),), False, limit)
        if query.direction is Direction.BEFORE:
            return self._select(cursor, session_id, (start.before(),), True, limit)
        if query.direction is Direction.AROUND:
            before = self._select(cursor, session_id, (start.before(),), True, limit // 2) if limit // 2 else []
            return before + self._select(cursor, session_id, (start.from_here(),), False, limit - len(before))
        assert query.end is not None
        end = self._bound(cursor, session_id, query.end)
        if end is None:
            return []
        low, high = (start, end) if start.key <= end.key else (end, start)
        return self._select(cursor, session_id, (low.after(), high.before()), low is not start, limit)

    def files(self, cursor: Any, file_hash: str | None) -> list[tuple[int, SharedFile]]:
        """``Store.kept_files``, in the database thread, through the index on ``file_hash``."""
        if file_hash is None:
            cursor.execute("SELECT session_id, file FROM messages WHERE file_hash IS NOT NULL")
        else:
            cursor.execute(self._sql("SELECT session_id, file FROM messages WHERE file_hash = ?"), (file_hash,))
        return [(session_id, SharedFile(**json.loads(file))) for session_id, file in cursor.fetchall()]

    def targets(
        self, cursor: Any, session_ids: Sequence[int], after: float, before: float, limit: int
    ) -> list[tuple[int, float]]:
        """``Store.history_targets``, in the database thread: one query per
        session (a user is in few), each walking back from the session's
        newest message to the first inside the window."""
        low, high = min(after, before), max(after, before)
        newest = []
        sql = self._sql(
            f"SELECT sent_at FROM messages WHERE session_id = ? AND sent_at > ? AND sent_at < ?"
            f" ORDER BY {self.order} DESC LIMIT 1"
        )
        for session_id in session_ids:
            cursor.execute(sql, (session_id, low, high))
            row = cursor.fetchone()
            if row is not None:
                newest.append((session_id, row[0]))
        newest.sort(key=lambda pair: pair[1], reverse=True)
        return newest[:limit]
