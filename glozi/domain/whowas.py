"""Who held a nick before: a bounded history of nicks that were let go, for
IRC's WHOWAS and the native ``whowas``.

A nick is let go when its holder disconnects or takes another one. The
history keeps the newest ``WHOWAS_ENTRIES`` of those, at most
``WHOWAS_PER_NICK`` for any one nick, so a user who renames in a loop pushes
out only their own past.
"""

from collections import deque
from dataclasses import dataclass

from glozi.domain.masks import matches
from glozi.domain.names import name_key

WHOWAS_ENTRIES = 200
"""How many let-go nicks the server remembers, all nicks together."""
WHOWAS_PER_NICK = 10
"""How many of those one nick may have."""


@dataclass(frozen=True, slots=True)
class PastUser:
    """Someone who held ``nick`` until ``left_at``, with their user and real name."""

    nick: str
    user_name: str
    real_name: str
    left_at: float


class NickHistory:
    """The let-go nicks, newest last, bounded as the module says."""

    def __init__(self, limit: int = WHOWAS_ENTRIES, per_nick: int = WHOWAS_PER_NICK) -> None:
        self.per_nick = per_nick
        self._entries: deque[PastUser] = deque(maxlen=limit)

    def record(self, past: PastUser) -> None:
        key = name_key(past.nick)
        same = [entry for entry in self._entries if name_key(entry.nick) == key]
        if len(same) >= self.per_nick:
            self._entries.remove(same[0])
        self._entries.append(past)

    def lookup(self, nick: str, count: int | None = None) -> list[PastUser]:
        """Who held ``nick`` (any case), newest first; at most ``count`` of them
        when given. A ``nick`` with ``*`` (any run) or ``?`` (one character) is
        a mask: who held any nick it matches, newest first, ``count`` of all."""
        if "*" in nick or "?" in nick:
            found = [entry for entry in reversed(self._entries) if matches(nick, entry.nick)]
        else:
            key = name_key(nick)
            found = [entry for entry in reversed(self._entries) if name_key(entry.nick) == key]
        return found[:count] if count is not None else found
