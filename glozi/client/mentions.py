"""Where a message names you: the rule the view-model counts mentions by and
the transcript highlights by, so the two never disagree."""

import re
from functools import lru_cache

from glozi.domain.names import USERNAME_SPECIALS

_NAME_CHAR = rf"A-Za-z0-9{re.escape(USERNAME_SPECIALS)}"


def mention_spans(text: str, nick: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` offsets in ``text`` where ``nick`` appears as a
    whole name, in any case (A-Z only fold, as names do): "bob," and "@Bob"
    name bob, "bobby" and "bob_" do not."""
    if not nick:
        return []
    return [match.span() for match in _whole_name(nick).finditer(text)]


@lru_cache(maxsize=8)
def _whole_name(nick: str) -> re.Pattern[str]:
    # Built once per nick: every arriving message is checked against yours.
    return re.compile(rf"(?<![{_NAME_CHAR}]){re.escape(nick)}(?![{_NAME_CHAR}])", re.IGNORECASE | re.ASCII)


def mentions(text: str, nick: str) -> bool:
    """Whether ``text`` names ``nick`` (see ``mention_spans``)."""
    return bool(mention_spans(text, nick))
