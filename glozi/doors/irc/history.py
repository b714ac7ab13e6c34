"""IRCv3 ``draft/chathistory`` on the IRC door: CHATHISTORY lines in, batches out,
and a session's history on joining (docs/irc.md, "History").

``parse_chathistory`` turns a CHATHISTORY line's parameters into a typed
request (``HistoryRequest``, ``TargetsRequest``) or a ``HistoryFailure``,
the standard reply (``FAIL CHATHISTORY …``) the client gets instead;
``parse_timestamp`` reads the spec's one timestamp format,
``YYYY-MM-DDThh:mm:ss.sssZ`` (``wire.server_time`` writes it);
``history_lines`` turns stored messages into lines. Those are pure
functions; ``ChatHistory`` is the connection's side (the command, the join
scrollback).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.python.failure import Failure

from glozi.domain.errors import ChatError
from glozi.domain.events import Message
from glozi.domain.history import HISTORY_LIMIT, TARGETS_LIMIT, Anchor, Direction, HistoryQuery
from glozi.doors.irc import wire
from glozi.doors.irc.caps import TAGGED, Cap
from glozi.doors.irc.connection import IRCConnection

__all__ = [
    "ISUPPORT_TOKENS",
    "ChatHistory",
    "HistoryFailure",
    "HistoryRequest",
    "TargetsRequest",
    "parse_chathistory",
    "parse_timestamp",
]

ISUPPORT_TOKENS = (f"CHATHISTORY={HISTORY_LIMIT}", "MSGREFTYPES=msgid,timestamp")
"""What the welcome's ``005`` says of history: the most messages a request answers, and how a point is named."""

MILLISECOND = 0.001
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
_LIMIT = re.compile(r"[0-9]{1,9}")
# wire.server_time shows a time rounded to the microsecond, then cut to the
# millisecond: a message shows T when it was sent in [T - 0.5 µs, T + 1 ms - 0.5 µs).
_HALF_MICROSECOND = 0.5e-6
_WHOLE_MILLISECOND = MILLISECOND - _HALF_MICROSECOND

# Parameters after each subcommand: target, point(s), limit (the others are named as a Direction is).
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
    """An exclusive lower bound: a timestamp excludes every message its
    ``server-time`` shows with it, so paging forward by the last time seen repeats none."""
    if anchor.time is None:
        return anchor
    return Anchor(time=anchor.time + _WHOLE_MILLISECOND)


def _before(anchor: Anchor) -> Anchor:
    """An exclusive upper bound, the same way: before every message shown with that time."""
    if anchor.time is None:
        return anchor
    return Anchor(time=anchor.time - _HALF_MICROSECOND)


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
    direction = Direction(subcommand.lower())
    if subcommand == "LATEST" and rest[1] == "*":
        return HistoryRequest(subcommand, target, HistoryQuery(direction, limit))
    start = _point(subcommand, rest[1])
    if isinstance(start, HistoryFailure):
        return start
    if subcommand != "BETWEEN":
        if subcommand in ("LATEST", "AFTER"):
            start = _after(start)
        elif subcommand == "BEFORE":
            start = _before(start)
        return HistoryRequest(subcommand, target, HistoryQuery(direction, limit, start))
    end = _point(subcommand, rest[2])
    if isinstance(end, HistoryFailure):
        return end
    if start.time is not None and end.time is not None:
        start, end = (_after(start), _before(end)) if start.time <= end.time else (_before(start), _after(end))
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
    return TargetsRequest(earlier + _WHOLE_MILLISECOND, later - _HALF_MICROSECOND, limit)


CHATHISTORY_BATCH = "chathistory"
TARGETS_BATCH = "draft/chathistory-targets"


def history_lines(messages: Sequence[Message], target: str, caps: int, web: str = "") -> bytes:
    """Stored messages to ``target`` from their senders (PRIVMSG, a ``/me``
    as CTCP ACTION), each with the tags ``caps`` (``Cap`` bits) asked for, as live ones have
    them: ``time`` (server-time: the stored time) and ``msgid`` (message-tags)."""
    variant = caps & TAGGED
    return b"".join(
        wire.tag_event(
            wire.said_lines(
                message.sender, target, wire.shown_text(message, web), notice=message.notice, action=message.action
            ),
            message, variant, message.sent_at,
        )
        for message in messages
    )  # fmt: skip


class ChatHistory(IRCConnection):
    """CHATHISTORY (a member's sessions only; a nick answers nothing, as private
    messages are never stored) and the history a JOIN sends."""

    def _fail_line(self, failure: HistoryFailure) -> bytes:
        return wire.line(self.factory.server, "FAIL", *failure.params)

    def _fail(self, failure: HistoryFailure) -> None:
        self.send(self._fail_line(failure))

    def irc_CHATHISTORY(self, params: list[str]) -> None:
        request = parse_chathistory(params)
        if isinstance(request, HistoryFailure):
            self._fail(request)
        elif isinstance(request, TargetsRequest):
            targets = maybeDeferred(self.participant.history_targets, request.after, request.before, request.limit)
            self._answer(targets.addCallbacks(self._targets_answer, self._unread_answer, errbackArgs=("TARGETS", "*")))
        elif wire.session_of(request.target) is None:
            # Private messages are never stored (a later holder of the nick must not read them).
            self.send(self.open_batch(CHATHISTORY_BATCH, b"", wire.echo(request.target)))
        else:
            session_id = self._my_session(request.target)
            if session_id is None:
                self._fail(HistoryFailure("INVALID_TARGET", (request.subcommand, wire.echo(request.target)), NOT_RETRIEVED))
                return
            read = maybeDeferred(self.participant.read_history, session_id, request.query)
            read.addCallbacks(
                self._history_answer, self._unread_answer, callbackArgs=(self.channels[session_id],),
                errbackArgs=(request.subcommand, request.target),
            )  # fmt: skip
            self._answer(read)

    def _answer(self, answer: "Deferred[bytes]") -> None:
        """Send what ``answer`` gives: at once when it has it already (a
        labeled response gathers it as it gathers any line), else when the store
        has answered, as the held labeled response when the line had a label."""
        if answer.called:
            answer.addCallback(self.send).addErrback(self._answer_failed)
            return
        response = self.hold_response()

        def send(data: bytes) -> None:
            if response is None:
                self.send(data)
            else:
                response.send(data)
                self.finish_response(response)

        answer.addCallback(send).addErrback(self._answer_failed)

    def _answer_failed(self, reason: Failure) -> None:
        self.log.failure("Answering IRC CHATHISTORY failed", reason)

    def _history_answer(self, messages: list[Message], channel: str) -> bytes:
        return self.open_batch(CHATHISTORY_BATCH, history_lines(messages, channel, self.caps, self.factory.web()), channel)

    def _targets_answer(self, targets: list[tuple[int, float]]) -> bytes:
        body = b"".join(
            wire.line(self.factory.server, "CHATHISTORY", "TARGETS", channel, wire.server_time(newest))
            for session_id, newest in targets
            if (channel := self.channels.get(session_id)) is not None
        )
        return self.open_batch(TARGETS_BATCH, body)

    def _unread_answer(self, reason: Failure, subcommand: str, target: str) -> bytes:
        """The store failed (``MESSAGE_ERROR``), or the member left while it read (``INVALID_TARGET``)."""
        error = reason.value
        code = "MESSAGE_ERROR"
        if isinstance(error, ChatError) and error.code != "not_stored":
            code = "INVALID_TARGET"
        elif not isinstance(error, ChatError):
            self.log.failure("Reading history for IRC CHATHISTORY failed", reason)
        return self._fail_line(HistoryFailure(code, (subcommand, wire.echo(target)), NOT_RETRIEVED))

    def _send_join_history(self, messages: Sequence[Message], channel: str) -> None:
        """A JOIN's scrollback: a ``chathistory`` batch to a client with batch
        and server-time, plain lines with their times to one with server-time
        alone, today's NOTICEs to the others; nothing to a client that asked for
        draft/chathistory, which asks for what it wants (CHATHISTORY LATEST)."""
        caps = self.caps
        if caps & Cap.CHATHISTORY:
            return
        if caps & Cap.SERVER_TIME:
            self.send(self._history_answer(messages, channel))
        else:
            self.send(wire.encode_history(messages, channel, self.factory.server, self.factory.web()))
