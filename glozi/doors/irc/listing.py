"""LIST's search terms (ISUPPORT ``ELIST=CMNTU``, docs/irc.md "LIST").

``LIST`` takes comma-separated terms: a channel mask (``#ki*``; a plain name
matches that channel only), ``!mask`` for the channels that do not match,
``>n`` / ``<n`` for more / fewer than n members, ``C>n`` / ``C<n`` for
channels created more / less than n minutes ago, ``T>n`` / ``T<n`` the same
for the topic. A channel is listed when it matches one of the masks (if any
is given), none of the ``!`` masks, and every count and time.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from glozi.domain.events import SessionInfo
from glozi.domain.masks import matches
from glozi.doors.irc import wire

ELIST = "CMNTU"
"""The ISUPPORT ``ELIST`` letters: creation time, mask, not-mask, topic time, users."""
USAGE = "masks (#ki*), !mask, <n or >n members, C<n or C>n minutes since created, T<n or T>n since the topic was set"


def topic_set_at(info: SessionInfo) -> float:
    """When a session's topic was last set or cleared (the time ``333`` shows);
    a topic never set counts as set at the epoch, so only ``T>n`` lists it."""
    return info.topic_at if info.topic_at is not None else 0.0


_MEASURES: dict[str, Callable[[SessionInfo, float], float]] = {
    "": lambda info, now: info.member_count,
    "C": lambda info, now: (now - info.created_at) / 60,
    "T": lambda info, now: (now - topic_set_at(info)) / 60,
}
"""What a term's letter compares, from a session and the time now: members, or minutes since."""


class BadListTerm(ValueError):
    """A LIST term that is none of the ELIST forms; the message says which one."""


@dataclass(frozen=True, slots=True)
class _Bound:
    measure: Callable[[SessionInfo, float], float]
    above: bool
    limit: int

    def holds(self, info: SessionInfo, now: float) -> bool:
        value = self.measure(info, now)
        return value > self.limit if self.above else value < self.limit


@dataclass(frozen=True, slots=True)
class ListFilter:
    """Which sessions one LIST shows."""

    masks: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    bounds: tuple[_Bound, ...] = ()

    def admits(self, info: SessionInfo, now: float) -> bool:
        """Whether the session ``info`` is listed at time ``now``."""
        channel = wire.channel_of(info.name)
        if self.masks and not any(matches(mask, channel) for mask in self.masks):
            return False
        if any(matches(mask, channel) for mask in self.excluded):
            return False
        return all(bound.holds(info, now) for bound in self.bounds)


def parse_filter(params: Iterable[str]) -> ListFilter:
    """The filter of a LIST's parameters (each a comma-separated list of
    terms); raises ``BadListTerm`` for a term that is none of the forms."""
    masks: list[str] = []
    excluded: list[str] = []
    bounds: list[_Bound] = []
    for term in (term for param in params for term in param.split(",") if term):
        letter = term[0].upper() if len(term) > 1 and term[1] in "<>" else ""
        comparison = term[len(letter) :]
        if term.startswith("!") and len(term) > 1:
            excluded.append(term[1:])
        elif letter in _MEASURES and comparison[0] in "<>":
            digits = comparison[1:]
            if not (digits.isascii() and digits.isdigit()):
                raise BadListTerm(f"LIST: {wire.echo(term)} is not a search term; use {USAGE}")
            bounds.append(_Bound(_MEASURES[letter], comparison[0] == ">", int(digits)))
        elif term.startswith("!") or letter:
            raise BadListTerm(f"LIST: {wire.echo(term)} is not a search term; use {USAGE}")
        else:
            masks.append(term)
    return ListFilter(tuple(masks), tuple(excluded), tuple(bounds))
