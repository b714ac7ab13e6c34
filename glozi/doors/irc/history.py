"""IRCv3 ``draft/chathistory`` at the edge: CHATHISTORY lines in, batches out.

``parse_chathistory`` turns a CHATHISTORY line's parameters into a typed
request (``HistoryRequest``, ``TargetsRequest``) or a ``HistoryFailure``,
the standard reply (``FAIL CHATHISTORY …``) the client gets instead;
``server_time`` and ``parse_timestamp`` are the spec's one timestamp format,
``YYYY-MM-DDThh:mm:ss.sssZ``. Pure functions, no sockets (docs/irc.md,
"History: CHATHISTORY").
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from glozi.domain.history import HISTORY_LIMIT, TARGETS_LIMIT, Anchor, Direction, HistoryQuery

__all__ = [
    "ISUPPORT_TOKENS",
    "HistoryFailure",
    "HistoryRequest",
    "TargetsRequest",
    "parse_chathistory",
    "parse_timestamp",
    "server_time",
]

ISUPPORT_TOKENS = (f"CHATHISTORY={HISTORY_LIMIT}", "MSGREFTYPES=msgid,timestamp")
"""What the welcome's ``005`` says of history: the most messages a request answers, and how a point is named."""

MILLISECOND = 0.001
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
_LIMIT = re.compile(r"[0-9]{1,9}")
# Past the last millisecond a timestamp names, less than the float error at today's times.
_WHOLE_MILLISECOND = MILLISECOND - 1e-6

_SUBCOMMANDS = {
    "LATEST": Direction.LATEST,
    "BEFORE": Direction.BEFORE,
    "AFTER": Direction.AFTER,
    "AROUND": Direction.AROUND,
    "BETWEEN": Direction.BETWEEN,
}
# Parameters after the subcommand: target, point(s), limit.
_PARAMS_AFTER = {"LATEST": 3, "BEFORE": 3, "AFTER": 3, "AROUND": 3, "BETWEEN": 4, "TARGETS": 3}

UNKNOWN_COMMAND = "Unknown command"
MISSING_PARAMETERS = "Missing parameters"
INVALID_PARAMETERS = "Invalid parameters"
NOT_RETRIEVED = "Messages could not be retrieved"


@dataclass(frozen=True, slots=True)
class HistoryFailure:
    """A CHATHISTORY the server refuses: ``FAIL CHATHISTORY <code> <context…> :<description>``."""

    code: str
    context: tuple[str, ...]
    description: str

    @property
    def params(self) -> tuple[str, ...]:
        """The FAIL line's parameters after ``FAIL``."""
        return ("CHATHISTORY", self.code, *self.context, self.description)


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    """CHATHISTORY LATEST/BEFORE/AFTER/AROUND/BETWEEN: one target's messages."""

    subcommand: str
    target: str
    query: HistoryQuery


@dataclass(frozen=True, slots=True)
class TargetsRequest:
    """CHATHISTORY TARGETS: the channels with messages strictly between two times."""

    after: float
    before: float
    limit: int


def server_time(seconds: float) -> str:
    """A stored time as IRCv3 writes it (``server-time``): UTC, cut (not rounded) to the millisecond,
    so that a message is never later than its time stamp says."""
    # To the microsecond first: 0.123 is stored as 0.12299999…, and is shown as .123.
    whole, micros = divmod(round(seconds * 1_000_000), 1_000_000)
    return datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{micros // 1000:03d}Z"


def parse_timestamp(text: str) -> float | None:
    """``YYYY-MM-DDThh:mm:ss.sssZ`` (UTC) as seconds since the epoch, or ``None`` for anything else."""
    if not _TIMESTAMP.fullmatch(text):
        return None
    try:
        moment = datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return moment.timestamp() + int(text[20:23]) / 1000


def _invalid(subcommand: str, param: str, why: str) -> HistoryFailure:
    return HistoryFailure("INVALID_PARAMS", (subcommand, param[:64] or "*"), f"{INVALID_PARAMETERS}: {why}")


def _point(subcommand: str, param: str, *, timestamps_only: bool = False) -> Anchor | HistoryFailure:
    kind, _, value = param.partition("=")
    kind = kind.lower()
    if kind == "timestamp":
        seconds = parse_timestamp(value)
        if seconds is None:
            return _invalid(subcommand, param, "a timestamp is timestamp=YYYY-MM-DDThh:mm:ss.sssZ (UTC)")
        return Anchor(time=seconds)
    if kind == "msgid" and value and not timestamps_only:
        return Anchor(msgid=value)
    if timestamps_only:
        return _invalid(subcommand, param, "TARGETS takes two timestamp=YYYY-MM-DDThh:mm:ss.sssZ")
    return _invalid(subcommand, param, "a point is msgid=ID or timestamp=YYYY-MM-DDThh:mm:ss.sssZ")


def _limit(subcommand: str, param: str, most: int) -> int | HistoryFailure:
    """A positive number; over ``most`` it is cut to ``most`` (the ISUPPORT ``CHATHISTORY`` value)."""
    if not _LIMIT.fullmatch(param) or int(param) == 0:
        return _invalid(subcommand, param, f"the limit is a number of 1 to 9 digits, not 0 (over {most}, {most} are sent)")
    return min(int(param), most)


def _after(anchor: Anchor) -> Anchor:
    """An exclusive lower bound: a timestamp excludes every message of its millisecond, as its
    ``server-time`` shows them, so paging forward by the last time seen repeats none."""
    if anchor.time is None:
        return anchor
    return Anchor(time=anchor.time + _WHOLE_MILLISECOND)


def parse_chathistory(params: list[str]) -> HistoryRequest | TargetsRequest | HistoryFailure:
    """A CHATHISTORY line's parameters as a request, or the FAIL that refuses it.

    ``LATEST <target> <* | msgid=… | timestamp=…> <limit>``, ``BEFORE``,
    ``AFTER``, ``AROUND`` (``<target> <msgid=… | timestamp=…> <limit>``),
    ``BETWEEN <target> <point> <point> <limit>`` and ``TARGETS
    <timestamp=…> <timestamp=…> <limit>``; the subcommand in any case.
    A limit over ``HISTORY_LIMIT`` (``TARGETS_LIMIT``) is cut to it. Bounds
    are exclusive; a timestamp bound below the messages asked for excludes
    its whole millisecond. Refusals: no or an unknown subcommand
    (``UNKNOWN_COMMAND``), too few parameters (``NEED_MORE_PARAMS``), a
    point, limit or extra parameter the spec does not allow
    (``INVALID_PARAMS``).
    """
    if not params or not params[0]:
        return HistoryFailure("NEED_MORE_PARAMS", ("*",), MISSING_PARAMETERS)
    subcommand = params[0].upper()
    wanted = _PARAMS_AFTER.get(subcommand)
    if wanted is None:
        return HistoryFailure("UNKNOWN_COMMAND", (params[0][:64],), UNKNOWN_COMMAND)
    rest = params[1:]
    if len(rest) < wanted:
        return HistoryFailure("NEED_MORE_PARAMS", (subcommand,), MISSING_PARAMETERS)
    if len(rest) > wanted:
        return _invalid(subcommand, rest[wanted], "too many parameters")
    if subcommand == "TARGETS":
        return _targets(rest)
    target = rest[0]
    most = HISTORY_LIMIT
    limit = _limit(subcommand, rest[-1], most)
    if isinstance(limit, HistoryFailure):
        return limit
    direction = _SUBCOMMANDS[subcommand]
    if subcommand == "LATEST" and rest[1] == "*":
        return HistoryRequest(subcommand, target, HistoryQuery(direction, limit))
    start = _point(subcommand, rest[1])
    if isinstance(start, HistoryFailure):
        return start
    if subcommand != "BETWEEN":
        if subcommand in ("LATEST", "AFTER"):
            start = _after(start)
        return HistoryRequest(subcommand, target, HistoryQuery(direction, limit, start))
    end = _point(subcommand, rest[2])
    if isinstance(end, HistoryFailure):
        return end
    if start.time is not None and end.time is not None:
        start, end = (_after(start), end) if start.time <= end.time else (start, _after(end))
    return HistoryRequest(subcommand, target, HistoryQuery(direction, limit, start, end))


def _targets(rest: list[str]) -> TargetsRequest | HistoryFailure:
    first = _point("TARGETS", rest[0], timestamps_only=True)
    if isinstance(first, HistoryFailure):
        return first
    second = _point("TARGETS", rest[1], timestamps_only=True)
    if isinstance(second, HistoryFailure):
        return second
    limit = _limit("TARGETS", rest[2], TARGETS_LIMIT)
    if isinstance(limit, HistoryFailure):
        return limit
    assert first.time is not None and second.time is not None
    earlier, later = sorted((first.time, second.time))
    return TargetsRequest(earlier + _WHOLE_MILLISECOND, later, limit)
