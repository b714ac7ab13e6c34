"""The native wire format: one UTF-8 JSON object per line (docs/protocol.md).

``parse_request`` turns a received line into a typed request or raises
``ChatError`` with a frame-level code; ``encode_frame`` and ``encode_event``
turn replies and domain events into bytes. Tests read what the server wrote
with ``parse_frame``.
"""

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from glozi.domain.errors import ChatError
from glozi.domain.events import (
    IRC_ONLY_EVENTS,
    AdminChanged,
    Event,
    IdleWarning,
    Invited,
    Joined,
    Killed,
    Left,
    MemberAway,
    MemberInfo,
    MemberJoined,
    MemberLeft,
    MemberRenamed,
    Message,
    ModeChanged,
    PrivateMessage,
    ServerClosing,
    ServerCounts,
    SessionAdded,
    SessionChanged,
    SessionInfo,
    SessionRemoved,
    TopicChanged,
    UserInfo,
    Wallops,
)
from glozi.domain.files import (
    FILE_NAME_RULE,
    download_path,
    thumbnail_path,
    valid_file_name,
    valid_media_type,
)
from glozi.domain.history import HISTORY_LIMIT, TARGETS_LIMIT, Anchor, Direction, HistoryQuery
from glozi.domain.names import (
    AWAY_MAX_LENGTH,
    EXIT_CODE_RULE,
    KILL_REASON_MAX_LENGTH,
    OPER_PASSWORD_MAX_LENGTH,
    PASSWORD_RULE,
    SESSION_NAME_RULE,
    USERNAME_RULE,
    is_reserved_username,
    is_valid_exit_code,
    is_valid_password,
    is_valid_session_name,
    is_valid_username,
    reserved_username_message,
)
from glozi.domain.whowas import PastUser
from glozi.storage.store import SharedFile

PROTOCOL_VERSION = 1
MAX_LINE_BYTES = 4096
MAX_TEXT_CHARS = 2000
MAX_ID_CHARS = 64
MAX_COMMAND_NAME_CHARS = 32
MAX_NESTING = 100
MAX_SECONDS = 2**53
"""A time in a ``history`` request is a number of seconds from 0 up to (not including) this."""
"""Arrays and objects nested deeper than this are ``bad_json``."""
ACTIVITY_TYPES = frozenset({"say", "command"})
"""Frames that count as activity for the inactivity timer, even when malformed."""
_CACHE_KEY = "native/1"

RequestId = str | int | None


@dataclass(frozen=True)
class Hello:
    protocol: int
    password: str | None = None
    """The server password (``--password``); ignored by a server that has none."""
    request_id: RequestId = None


@dataclass(frozen=True)
class ListSessions:
    request_id: RequestId = None


@dataclass(frozen=True)
class CreateSession:
    name: str
    username: str
    password: str | None
    request_id: RequestId = None


@dataclass(frozen=True)
class JoinSession:
    session_id: int
    username: str
    password: str | None
    request_id: RequestId = None


@dataclass(frozen=True)
class Say:
    text: str
    session_id: int | None = None
    request_id: RequestId = None
    action: bool = False
    notice: bool = False


@dataclass(frozen=True)
class RunCommand:
    name: str
    args: str
    session_id: int | None = None
    request_id: RequestId = None


@dataclass(frozen=True)
class ChangeNick:
    name: str
    request_id: RequestId = None


@dataclass(frozen=True)
class SendPrivate:
    to: str
    text: str
    request_id: RequestId = None
    action: bool = False
    notice: bool = False


@dataclass(frozen=True)
class RequestUpload:
    """``upload``: a token to share one file with a session or one person (docs/files.md)."""

    session_id: int | None
    to: str | None
    name: str
    size: int
    media_type: str
    request_id: RequestId = None


@dataclass(frozen=True)
class SetAway:
    message: str | None
    request_id: RequestId = None


@dataclass(frozen=True)
class Whois:
    name: str
    request_id: RequestId = None


@dataclass(frozen=True)
class Oper:
    name: str
    password: str
    wallops: bool | None = None
    request_id: RequestId = None


@dataclass(frozen=True)
class Who:
    mask: str
    request_id: RequestId = None


@dataclass(frozen=True)
class Stats:
    request_id: RequestId = None


@dataclass(frozen=True)
class Whowas:
    name: str
    count: int | None = None
    request_id: RequestId = None


@dataclass(frozen=True)
class SetModes:
    wallops: bool | None
    operator: bool | None
    invisible: bool | None = None
    request_id: RequestId = None


@dataclass(frozen=True)
class Kill:
    name: str
    reason: str
    request_id: RequestId = None


@dataclass(frozen=True)
class SendWallops:
    text: str
    request_id: RequestId = None


@dataclass(frozen=True)
class Quit:
    comment: str | None
    request_id: RequestId = None


@dataclass(frozen=True)
class SubmitExitCode:
    code: str
    request_id: RequestId = None


@dataclass(frozen=True)
class Ping:
    request_id: RequestId = None


@dataclass(frozen=True)
class ReadHistory:
    session_id: int
    query: HistoryQuery
    request_id: RequestId = None


@dataclass(frozen=True)
class HistoryTargets:
    after: float
    before: float
    limit: int
    request_id: RequestId = None


Request = (
    Hello
    | ListSessions
    | CreateSession
    | JoinSession
    | Say
    | RunCommand
    | SubmitExitCode
    | Ping
    | ChangeNick
    | SendPrivate
    | RequestUpload
    | SetAway
    | Whois
    | Oper
    | SetModes
    | Kill
    | SendWallops
    | Whowas
    | Who
    | Stats
    | Quit
    | ReadHistory
    | HistoryTargets
)


class FrameError(ChatError):
    """A frame-level error that still knows the request id and the frame's
    type, when they could be read."""

    def __init__(
        self,
        code: str,
        message: str,
        request_id: RequestId = None,
        *,
        frame_type: str | None = None,
        disconnect: bool = False,
    ):
        super().__init__(code, message, disconnect=disconnect)
        self.request_id = request_id
        self.frame_type = frame_type


class _Fields:
    """Typed access to a frame's fields, raising the standard errors."""

    def __init__(self, frame: dict[str, Any], request_id: RequestId, frame_type: str) -> None:
        self._frame = frame
        self.request_id = request_id
        self.frame_type = frame_type

    def _fail(self, code: str, message: str) -> FrameError:
        return FrameError(code, message, self.request_id, frame_type=self.frame_type)

    def string(self, key: str, *, optional: bool = False) -> str | None:
        value = self._frame.get(key)
        if value is None:
            if optional:
                return None
            raise self._fail("missing_field", f"The field {key!r} is required.")
        if not isinstance(value, str):
            raise self._fail("bad_field", f"The field {key!r} must be a string.")
        return value

    def value(self, key: str) -> object:
        """A field as decoded, ``None`` when absent: for the few fields of their own shape."""
        return self._frame.get(key)

    def required_string(self, key: str) -> str:
        value = self.string(key)
        assert value is not None
        return value

    def flag(self, key: str) -> bool | None:
        """An optional boolean: ``None`` when absent or ``null``."""
        value = self._frame.get(key)
        if value is not None and not isinstance(value, bool):
            raise self._fail("bad_field", f"The field {key!r} must be true or false.")
        return value

    def integer(self, key: str) -> int:
        value = self._frame.get(key)
        if value is None:
            raise self._fail("missing_field", f"The field {key!r} is required.")
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._fail("bad_field", f"The field {key!r} must be an integer.")
        return value

    def optional_integer(self, key: str) -> int | None:
        return None if self._frame.get(key) is None else self.integer(key)

    def username(self, key: str = "username") -> str:
        """A username: its rule, then not one of the reserved names."""
        value = self.name(key, is_valid_username, USERNAME_RULE)
        if is_reserved_username(value):
            raise self._fail("invalid_name", reserved_username_message(value))
        return value

    def text(self, key: str = "text") -> str:
        """Chat text: 1 to ``MAX_TEXT_CHARS`` printable characters, not only spaces."""
        text = self.required_string(key)
        if not text.strip():
            raise self._fail("bad_field", f"The {key} must not be empty.")
        if len(text) > MAX_TEXT_CHARS:
            raise self._fail("bad_field", f"The {key} is longer than {MAX_TEXT_CHARS} characters.")
        if not is_printable(text):
            raise self._fail("bad_field", f"The {key} must not contain control characters such as newlines.")
        return text

    def name(self, key: str, is_valid: Callable[[str], bool], rule: str) -> str:
        value = self.required_string(key)
        if not is_valid(value):
            raise self._fail("invalid_name", f"The {key} must be {rule}.")
        return value

    def password(self, key: str = "password") -> str | None:
        value = self.string(key, optional=True)
        if value is None or value == "":
            return None
        if not is_valid_password(value):
            raise self._fail("invalid_password", f"The password must be {PASSWORD_RULE}.")
        return value


# Control characters (C0 but tab, DEL, C1) and the Unicode line/paragraph
# separators: each would break a line or a display somewhere down the line.
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def is_printable(text: str) -> bool:
    """Whether ``text`` is free of control characters (a tab is allowed): the rule for ``say`` text."""
    return _UNPRINTABLE.search(text) is None


def _is_lone_surrogate_free(text: str) -> bool:
    return not any("\ud800" <= ch <= "\udfff" for ch in text)


def _check_values(frame: dict[str, Any], request_id: RequestId, frame_type: str | None) -> None:
    """Refuse nesting past ``MAX_NESTING`` and strings with lone surrogates.

    The walk keeps its own stack: recursing would fail on the deep nesting
    it is there to refuse.
    """
    pending: list[tuple[object, int]] = [(frame, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if not _is_lone_surrogate_free(value):
                raise FrameError(
                    "bad_field",
                    "Strings must not contain unpaired UTF-16 surrogates.",
                    request_id,
                    frame_type=frame_type,
                )
            continue
        if isinstance(value, dict | list) and depth > MAX_NESTING:
            raise FrameError(
                "bad_json",
                f"The line nests arrays and objects deeper than {MAX_NESTING} levels.",
                request_id,
                frame_type=frame_type,
            )
        if isinstance(value, dict):
            pending.extend((key, depth) for key in value)
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)


def _parse_hello(fields: _Fields) -> Hello:
    password = fields.string("password", optional=True)
    if password is not None and not 1 <= len(password) <= OPER_PASSWORD_MAX_LENGTH:
        raise fields._fail("bad_field", f"The password is 1 to {OPER_PASSWORD_MAX_LENGTH} characters.")
    return Hello(fields.integer("protocol"), password, fields.request_id)


def _parse_list(fields: _Fields) -> ListSessions:
    return ListSessions(fields.request_id)


def _parse_create(fields: _Fields) -> CreateSession:
    return CreateSession(
        fields.name("name", is_valid_session_name, SESSION_NAME_RULE),
        fields.username(),
        fields.password(),
        fields.request_id,
    )


def _parse_join(fields: _Fields) -> JoinSession:
    return JoinSession(
        fields.integer("session"),
        fields.username(),
        fields.password(),
        fields.request_id,
    )


def _parse_say(fields: _Fields) -> Say:
    return Say(
        fields.text(),
        fields.optional_integer("session"),
        fields.request_id,
        fields.flag("action") is True,
        fields.flag("notice") is True,
    )


def _parse_command(fields: _Fields) -> RunCommand:
    name = fields.required_string("name").removeprefix("/")
    if not name or len(name) > MAX_COMMAND_NAME_CHARS or not name.isascii() or not name.isalnum():
        raise fields._fail("bad_field", "The command name must be letters and digits, like 'help'.")
    args = fields.string("args", optional=True) or ""
    if len(args) > MAX_TEXT_CHARS or not is_printable(args):
        raise fields._fail("bad_field", "The command arguments must be one line of printable text.")
    return RunCommand(name, args, fields.optional_integer("session"), fields.request_id)


def _parse_exit(fields: _Fields) -> SubmitExitCode:
    code = fields.required_string("code")
    if not is_valid_exit_code(code):
        raise fields._fail("invalid_exit_code", f"The exit code is {EXIT_CODE_RULE}.")
    return SubmitExitCode(code, fields.request_id)


def _parse_ping(fields: _Fields) -> Ping:
    return Ping(fields.request_id)


def _parse_nick(fields: _Fields) -> ChangeNick:
    return ChangeNick(fields.username("name"), fields.request_id)


def _recipient(fields: _Fields, key: str) -> str:
    # Any string may be asked for: one that is no username is nobody's, so no_such_user answers it.
    value = fields.required_string(key)
    if not value or len(value) > MAX_ID_CHARS:
        raise fields._fail("bad_field", f"The field {key!r} must be a username.")
    return value


def _parse_private(fields: _Fields) -> SendPrivate:
    return SendPrivate(
        _recipient(fields, "to"),
        fields.text(),
        fields.request_id,
        fields.flag("action") is True,
        fields.flag("notice") is True,
    )


def _parse_upload(fields: _Fields) -> RequestUpload:
    name = fields.required_string("name")
    if not valid_file_name(name):
        raise fields._fail("bad_field", FILE_NAME_RULE)
    size = fields.integer("size")
    if size < 1:
        raise fields._fail("bad_field", "The field 'size' must be the file's size in bytes, at least 1.")
    media_type = fields.required_string("media_type")
    if not valid_media_type(media_type):
        raise fields._fail("bad_field", "The field 'media_type' must be a media type such as image/png.")
    has_session = fields.value("session") is not None
    has_to = fields.value("to") is not None
    if has_session == has_to:
        raise fields._fail("bad_field", "Give either 'session' or 'to'.")
    session_id = fields.optional_integer("session")
    to = _recipient(fields, "to") if has_to else None
    return RequestUpload(session_id, to, name, size, media_type.lower(), fields.request_id)


def _parse_away(fields: _Fields) -> SetAway:
    message = fields.string("message", optional=True)
    if message is not None and (len(message) > AWAY_MAX_LENGTH or not is_printable(message)):
        raise fields._fail("bad_field", f"The away message is one line of at most {AWAY_MAX_LENGTH} characters.")
    return SetAway(message if message and message.strip() else None, fields.request_id)


def _parse_whois(fields: _Fields) -> Whois:
    return Whois(_recipient(fields, "name"), fields.request_id)


def _parse_oper(fields: _Fields) -> Oper:
    # Any name may be tried (a wrong one is only a wrong login); the password is never echoed.
    name = _recipient(fields, "name")
    password = fields.required_string("password")
    if not password or len(password) > OPER_PASSWORD_MAX_LENGTH:
        raise fields._fail("bad_field", f"The password is 1 to {OPER_PASSWORD_MAX_LENGTH} characters.")
    return Oper(name, password, fields.flag("wallops"), fields.request_id)


def _parse_modes(fields: _Fields) -> SetModes:
    return SetModes(fields.flag("wallops"), fields.flag("operator"), fields.flag("invisible"), fields.request_id)


def _parse_kill(fields: _Fields) -> Kill:
    reason = fields.required_string("reason")
    if not reason.strip() or len(reason) > KILL_REASON_MAX_LENGTH or not is_printable(reason):
        raise fields._fail(
            "bad_field", f"The reason is one line of 1 to {KILL_REASON_MAX_LENGTH} characters, not only spaces."
        )
    return Kill(_recipient(fields, "name"), reason, fields.request_id)


def _parse_wallops(fields: _Fields) -> SendWallops:
    return SendWallops(fields.text(), fields.request_id)


def _parse_quit(fields: _Fields) -> Quit:
    comment = fields.string("comment", optional=True)
    if comment is not None and (len(comment) > MAX_TEXT_CHARS or not is_printable(comment)):
        raise fields._fail("bad_field", f"The comment is one line of at most {MAX_TEXT_CHARS} characters.")
    return Quit((comment or "").strip() or None, fields.request_id)


def _parse_whowas(fields: _Fields) -> Whowas:
    name = _recipient(fields, "name")
    count = fields.optional_integer("count")
    if count is not None and count < 1:
        raise fields._fail("bad_field", "The count must be at least 1.")
    return Whowas(name, count, fields.request_id)


def _parse_who(fields: _Fields) -> Who:
    mask = fields.required_string("mask")
    if not mask or len(mask) > MAX_ID_CHARS or not is_printable(mask):
        raise fields._fail("bad_field", f"The mask is 1 to {MAX_ID_CHARS} characters, with * and ? as wildcards.")
    return Who(mask, fields.request_id)


def _parse_stats(fields: _Fields) -> Stats:
    return Stats(fields.request_id)


# The directions that need a point to start from (``latest`` may have one).
_ANCHORED = frozenset({Direction.BEFORE, Direction.AFTER, Direction.AROUND, Direction.BETWEEN})
_DIRECTIONS = ", ".join(direction.value for direction in Direction)


def _limit(fields: _Fields, most: int) -> int:
    limit = fields.integer("limit")
    if not 1 <= limit <= most:
        raise fields._fail("bad_field", f"The limit is 1 to {most}.")
    return limit


def _seconds(fields: _Fields, value: object, key: str) -> float:
    if value is None:
        raise fields._fail("missing_field", f"The field {key!r} is required.")
    # The bound also refuses 1e400, which the decoder reads as infinity.
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < MAX_SECONDS:
        raise fields._fail("bad_field", f"The field {key!r} must be a time: seconds since the epoch, at least 0.")
    return float(value)


def _anchor(fields: _Fields, key: str) -> Anchor | None:
    """``{"msgid": …}`` or ``{"ts": …}``, exactly one of them; ``None`` when absent or ``null``."""
    value = fields.value(key)
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) != 1 or not value.keys() <= {"msgid", "ts"}:
        raise fields._fail("bad_field", f"The field {key!r} must be {{\"msgid\": ID}} or {{\"ts\": SECONDS}}.")
    if "ts" in value:
        return Anchor(time=_seconds(fields, value["ts"], f"{key}.ts"))
    msgid = value["msgid"]
    if not isinstance(msgid, str) or not 1 <= len(msgid) <= MAX_ID_CHARS or not is_printable(msgid):
        raise fields._fail("bad_field", f"The field '{key}.msgid' must be a message id: 1 to {MAX_ID_CHARS} characters.")
    return Anchor(msgid=msgid)


def _parse_history(fields: _Fields) -> ReadHistory:
    session_id = fields.integer("session")
    raw = fields.required_string("direction")
    try:
        direction = Direction(raw)
    except ValueError:
        raise fields._fail("bad_field", f"The direction is one of {_DIRECTIONS}.") from None
    start = _anchor(fields, "at")
    if start is None and direction in _ANCHORED:
        raise fields._fail("missing_field", f"The field 'at' is required for {direction.value}.")
    end = _anchor(fields, "until")
    if direction is Direction.BETWEEN and end is None:
        raise fields._fail("missing_field", "The field 'until' is required for between.")
    if direction is not Direction.BETWEEN and end is not None:
        raise fields._fail("bad_field", "The field 'until' is for between only.")
    query = HistoryQuery(direction, _limit(fields, HISTORY_LIMIT), start, end)
    return ReadHistory(session_id, query, fields.request_id)


def _parse_history_targets(fields: _Fields) -> HistoryTargets:
    after = _seconds(fields, fields.value("after"), "after")
    before = _seconds(fields, fields.value("before"), "before")
    return HistoryTargets(after, before, _limit(fields, TARGETS_LIMIT), fields.request_id)


_PARSERS: dict[str, Callable[[_Fields], Request]] = {
    "hello": _parse_hello,
    "list": _parse_list,
    "create": _parse_create,
    "join": _parse_join,
    "say": _parse_say,
    "command": _parse_command,
    "exit": _parse_exit,
    "ping": _parse_ping,
    "nick": _parse_nick,
    "private": _parse_private,
    "upload": _parse_upload,
    "away": _parse_away,
    "whois": _parse_whois,
    "oper": _parse_oper,
    "modes": _parse_modes,
    "kill": _parse_kill,
    "wallops": _parse_wallops,
    "whowas": _parse_whowas,
    "who": _parse_who,
    "stats": _parse_stats,
    "quit": _parse_quit,
    "history": _parse_history,
    "history_targets": _parse_history_targets,
}


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


# One decoder and one encoder for every line: json.loads/dumps with options
# build a new one per call, which showed up per message in the profile.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _decode_object(line: bytes) -> dict[str, Any]:
    """Decode one line into a JSON object (values not checked yet), or raise ``FrameError``."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise FrameError("bad_utf8", "The line is not valid UTF-8.") from None
    try:
        frame = _DECODER.decode(text)
    except (ValueError, RecursionError):
        raise FrameError("bad_json", "The line is not valid JSON.") from None
    if not isinstance(frame, dict):
        raise FrameError("not_object", "Each line must be one JSON object.")
    return frame


def _needs_value_check(line: bytes) -> bool:
    # Raw UTF-8 cannot carry a lone surrogate, but a \uD800 escape can, and
    # such a string cannot be encoded again for anyone it is sent to. Nesting
    # needs at least as many brackets as levels. Most lines have neither, so
    # the walk is skipped.
    return b"\\u" in line or line.count(b"[") + line.count(b"{") > MAX_NESTING


def _valid_id(request_id: object) -> RequestId:
    """``request_id`` when it is a usable id, else ``None``."""
    if isinstance(request_id, str) and len(request_id) <= MAX_ID_CHARS and _is_lone_surrogate_free(request_id):
        return request_id
    if isinstance(request_id, int) and not isinstance(request_id, bool) and abs(request_id) < 2**53:
        return request_id
    return None


def parse_frame(line: bytes) -> dict[str, Any]:
    """Decode one line into a JSON object, or raise ``FrameError``."""
    frame = _decode_object(line)
    if _needs_value_check(line):
        _check_values(frame, None, None)
    return frame


def request_id_of(line: bytes) -> RequestId:
    """The valid ``id`` of a line, or ``None``: for answering a line that is
    otherwise not processed (a flooded one)."""
    try:
        frame = _decode_object(line)
    except FrameError:
        return None
    return _valid_id(frame.get("id"))


def parse_request(line: bytes) -> Request:
    """Turn one received line into a typed request, or raise ``FrameError``.

    The line is decoded once; from then on every error carries the frame's
    ``id`` when it is a valid one, and the frame's type when it is a string.
    """
    frame = _decode_object(line)
    raw_id = frame.get("id")
    request_id = _valid_id(raw_id)
    frame_type = frame.get("type")
    known_type = frame_type if isinstance(frame_type, str) else None
    if _needs_value_check(line):
        _check_values(frame, request_id, known_type)
    if raw_id is not None and request_id is None:
        raise FrameError(
            "bad_field",
            f"The id must be a string of at most {MAX_ID_CHARS} characters or an integer.",
            frame_type=known_type,
        )
    if frame_type is None:
        raise FrameError("missing_field", "The field 'type' is required.", request_id)
    if known_type is None:
        raise FrameError("bad_field", "The field 'type' must be a string.", request_id)
    parser = _PARSERS.get(known_type)
    if parser is None:
        raise FrameError("unknown_type", f"Unknown frame type {known_type[:40]!r}.", request_id)
    return parser(_Fields(frame, request_id, known_type))


def encode_frame(frame: dict[str, Any]) -> bytes:
    """One frame as a line of compact UTF-8 JSON."""
    return _ENCODER.encode(frame).encode("utf-8") + b"\n"


def with_id(frame: dict[str, Any], request_id: RequestId) -> dict[str, Any]:
    """``frame`` answering the request ``request_id`` (unchanged when it has none)."""
    if request_id is not None:
        frame["id"] = request_id
    return frame


def session_fields(info: SessionInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "members": info.member_count,
        "created": info.created_at,
        "creator": info.creator,
        "locked": info.locked,
        "admin": info.admin,
        "topic": info.topic,
        "modes": info.modes,
        "limit": info.limit,
    }


def _member_fields(info: MemberInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "joined": info.joined_at,
        "admin": info.is_admin,
        "voiced": info.voiced,
        "away": info.away,
    }


def _joined(event: Joined) -> dict[str, Any]:
    return {
        "type": "joined",
        "session": session_fields(event.session),
        "you": event.you,
        "members": [_member_fields(m) for m in event.members],
        "idle_timeout": event.idle_timeout,
        "history": len(event.history),
    }


def _member_joined(event: MemberJoined) -> dict[str, Any]:
    return {"type": "member_joined", "session": event.session_id, "name": event.name, "joined": event.joined_at}


def _member_left(event: MemberLeft) -> dict[str, Any]:
    frame = {
        "type": "member_left",
        "session": event.session_id,
        "name": event.name,
        "reason": event.reason,
        "by": event.by,
        "comment": event.comment,
    }
    return frame


def _admin_changed(event: AdminChanged) -> dict[str, Any]:
    return {"type": "admin_changed", "session": event.session_id, "admin": event.admin, "by": event.by}


def _topic_changed(event: TopicChanged) -> dict[str, Any]:
    return {"type": "topic_changed", "session": event.session_id, "topic": event.topic, "by": event.by, "ts": event.at}


def _mode_changed(event: ModeChanged) -> dict[str, Any]:
    return {
        "type": "mode_changed",
        "session": event.session_id,
        "by": event.by,
        "mode": event.mode,
        "parameter": event.parameter,
    }


def _invited(event: Invited) -> dict[str, Any]:
    return {"type": "invited", "session": event.session_id, "name": event.session_name, "by": event.by}


def _message(event: Message) -> dict[str, Any]:
    frame = {
        "type": "message",
        "session": event.session_id,
        "from": event.sender,
        "text": event.text,
        "ts": event.sent_at,
        "msgid": event.msgid,
    }
    if event.notice:
        frame["notice"] = True
    # Only an action says so: a plain message's frame stays as protocol 1 had it.
    if event.action:
        frame["action"] = True
    if event.file is not None:
        frame["file"] = file_fields(event.file)
    return frame


def file_fields(shared: SharedFile) -> dict[str, Any]:
    """A shared file as members are shown it (docs/files.md, *The announcement*)."""
    thumbnail = None
    if shared.is_image:
        thumbnail = {
            "url": thumbnail_path(shared.hash),
            "width": shared.thumbnail_width,
            "height": shared.thumbnail_height,
        }
    return {
        "name": shared.name,
        "size": shared.size,
        "media_type": shared.media_type,
        "hash": shared.hash,
        "url": download_path(shared.hash, shared.name),
        "width": shared.width,
        "height": shared.height,
        "thumbnail": thumbnail,
    }


def _member_renamed(event: MemberRenamed) -> dict[str, Any]:
    return {"type": "member_renamed", "session": event.session_id, "old": event.old, "name": event.new}


def _member_away(event: MemberAway) -> dict[str, Any]:
    return {"type": "member_away", "session": event.session_id, "name": event.name, "away": event.away}


def _private_message(event: PrivateMessage) -> dict[str, Any]:
    frame = {
        "type": "private_message",
        "from": event.sender,
        "text": event.text,
        "ts": event.sent_at,
        "msgid": event.msgid,
        "notice": event.notice,
    }
    if event.action:
        frame["action"] = True
    if event.file is not None:
        frame["file"] = file_fields(event.file)
    return frame


def users_fields(infos: "Sequence[UserInfo]") -> dict[str, Any]:
    """The ``users`` answer to ``who``: each user as ``whois`` shows them."""
    return {"type": "users", "users": [{k: v for k, v in user_fields(info).items() if k != "type"} for info in infos]}


def stats_fields(counts: ServerCounts) -> dict[str, Any]:
    """The ``stats`` answer."""
    return {
        "type": "stats",
        "users": counts.users,
        "operators": counts.operators,
        "sessions": counts.sessions,
        "most_users": counts.most_users,
    }


def user_fields(info: UserInfo) -> dict[str, Any]:
    """The ``user`` answer to ``whois``."""
    return {
        "type": "user",
        "name": info.name,
        "sessions": [{"id": session.id, "name": session.name} for session in info.sessions],
        "away": info.away,
        "idle": info.idle_seconds,
        "connected": info.connected_at,
        "operator": info.operator,
        "user_name": info.user_name,
        "real_name": info.real_name,
    }


def was_fields(past: "Sequence[PastUser]") -> dict[str, Any]:
    """The ``was`` answer to ``whowas``, newest first."""
    return {
        "type": "was",
        "entries": [
            {"name": p.nick, "user_name": p.user_name, "real_name": p.real_name, "left": p.left_at} for p in past
        ],
    }


def _history(event: Message) -> dict[str, Any]:
    frame = {
        "type": "history",
        "session": event.session_id,
        "from": event.sender,
        "text": event.text,
        "ts": event.sent_at,
        "msgid": event.msgid,
    }
    if event.action:
        frame["action"] = True
    if event.file is not None:
        frame["file"] = file_fields(event.file)
    return frame


def encode_history(joined: Joined) -> bytes:
    """The ``history`` frames that follow a ``joined`` answer, oldest first."""
    return b"".join(encode_frame(_history(message)) for message in joined.history)


def _stored_fields(message: Message) -> dict[str, Any]:
    fields: dict[str, Any] = {"msgid": message.msgid, "ts": message.sent_at, "from": message.sender, "text": message.text}
    if message.action:
        fields["action"] = True
    if message.file is not None:
        fields["file"] = file_fields(message.file)
    return fields


def messages_fields(session_id: int, messages: "Sequence[Message]", limit: int) -> dict[str, Any]:
    """The ``messages`` answer to ``history``: oldest first; ``more`` when the page is full."""
    return {
        "type": "messages",
        "session": session_id,
        "messages": [_stored_fields(message) for message in messages],
        "more": len(messages) >= limit,
    }


def targets_fields(targets: "Sequence[tuple[int, float]]") -> dict[str, Any]:
    """The ``targets`` answer to ``history_targets``, newest first."""
    return {"type": "targets", "targets": [{"session": session_id, "ts": newest} for session_id, newest in targets]}


def _idle_warning(event: IdleWarning) -> dict[str, Any]:
    return {"type": "idle_warning", "session": event.session_id, "seconds_left": event.seconds_left}


_LEFT_TEXT = {
    "quit": "You left {name}.",
    "kicked": "You were kicked from {name} by {by}.",
    "closed": "{by} closed the session {name}.",
    "timeout": "You were removed from {name} after being inactive.",
}


def _left(event: Left) -> dict[str, Any]:
    message = _LEFT_TEXT.get(event.reason, "You left {name}.").format(name=event.session_name, by=event.by)
    if event.comment:
        message = f"{message[:-1]}: {event.comment}"
    return {
        "type": "left",
        "session": event.session_id,
        "name": event.session_name,
        "reason": event.reason,
        "by": event.by,
        "comment": event.comment,
        "message": message,
    }


def _killed(event: Killed) -> dict[str, Any]:
    return {"type": "killed", "by": event.by, "reason": event.reason}


def _wallops(event: Wallops) -> dict[str, Any]:
    return {"type": "wallops", "from": event.sender, "text": event.text, "ts": event.sent_at}


def _server_closing(event: ServerClosing) -> dict[str, Any]:
    return {"type": "server_closing", "reason": event.reason}


def _session_added(event: SessionAdded) -> dict[str, Any]:
    return {"type": "session_added", "session": session_fields(event.session)}


def _session_changed(event: SessionChanged) -> dict[str, Any]:
    return {"type": "session_changed", "session": session_fields(event.session)}


def _session_removed(event: SessionRemoved) -> dict[str, Any]:
    return {"type": "session_removed", "session": event.session_id, "name": event.name}


_EVENT_FRAMES: dict[type, Callable[[Any], dict[str, Any]]] = {
    Joined: _joined,
    MemberJoined: _member_joined,
    MemberLeft: _member_left,
    AdminChanged: _admin_changed,
    TopicChanged: _topic_changed,
    ModeChanged: _mode_changed,
    Invited: _invited,
    Message: _message,
    MemberRenamed: _member_renamed,
    MemberAway: _member_away,
    PrivateMessage: _private_message,
    IdleWarning: _idle_warning,
    Left: _left,
    ServerClosing: _server_closing,
    Killed: _killed,
    Wallops: _wallops,
    SessionAdded: _session_added,
    SessionChanged: _session_changed,
    SessionRemoved: _session_removed,
}


def event_frame(event: Event) -> dict[str, Any]:
    """The frame (as a dict) for a domain event."""
    return _EVENT_FRAMES[type(event)](event)


def encode_event(event: Event) -> bytes:
    """The line for ``event``, encoded once and cached on the event; nothing
    (``b""``) for an event native clients do not get (IRC's channel CTCP,
    which a native client could not answer, and the other IRC-only events)."""
    line = event.encoded.get(_CACHE_KEY)
    if line is None:
        line = event.encoded[_CACHE_KEY] = b"" if type(event) in IRC_ONLY_EVENTS else encode_frame(event_frame(event))
    return line
