"""IRC lines in and out: pure functions, no sockets.

``parse_line`` turns a received line into a ``ParsedLine`` with
``twisted.words.protocols.irc.parsemsg``; ``line`` builds one outgoing line;
``encode_event`` turns a domain event into the lines every IRC member of the
session receives, encoded once and cached on the event. Tests read what the
server wrote with ``parse_line`` too.
"""

import functools
import math
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from twisted.words.protocols.irc import IRCBadMessage, parsemsg

from glozi.domain.events import (
    AdminChanged,
    Event,
    IdleWarning,
    LeaveReason,
    MemberAway,
    MemberInvited,
    MemberJoined,
    MemberLeft,
    Message,
    ModeChanged,
    PrivateMessage,
    RealNameChanged,
    ServerClosing,
    SessionCtcp,
    SessionInfo,
    SessionTagMessage,
    TopicChanged,
    Wallops,
)
from glozi.domain.files import download_path
from glozi.doors.irc import tags
from glozi.doors.irc.caps import TAGGED, Cap

MAX_LINE_BYTES = 512
"""Longest line either side may send, CR LF included (RFC 1459 section 2.3)."""
USER_HOST = "glozichat"
SERVICE_NICK = "GloziServ"
CHANNEL_PREFIX = "#"
MAX_ECHO_CHARS = 64
"""How much of a client's own token (a nick, a channel) is echoed back in an error."""
CACHE_KEY = "irc"
"""Where a shared event's IRC bytes are cached (``Event.encoded``)."""

_FORMATTING = re.compile(
    r"\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_NOT_HOST = re.compile(r"[^A-Za-z0-9.-]+")
_NOT_USER = re.compile(r"[^A-Za-z0-9_.\-\[\]\\^{}|`]+")
USER_NAME_MAX = 10
"""USER's user name is cut to this (``USERLEN``)."""
REAL_NAME_MAX = 100
"""USER's real name is cut to this many characters."""


class ParsedLine(NamedTuple):
    """One IRC line: its source (``""`` when none), upper-cased command and
    parameters, and its IRCv3 tags (values unescaped)."""

    prefix: str
    command: str
    params: list[str]
    tags: Mapping[str, str] = tags.NO_TAGS


INVALID_UTF8_WARNING = "Invalid UTF-8 was replaced with U+FFFD"
"""The text of ``WARN <command> INVALID_UTF8`` (ISUPPORT ``UTF8ONLY``)."""


def is_utf8(raw: bytes) -> bool:
    """Whether a line is valid UTF-8 (most are ASCII, checked without decoding)."""
    if raw.isascii():
        return True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def parse_line(raw: bytes) -> ParsedLine | None:
    """One line (without CR LF) as a ``ParsedLine``, or ``None`` for a blank or
    malformed line, which servers ignore. Invalid UTF-8 becomes U+FFFD; a
    leading ``@tags`` part is read as IRCv3 tags (``tags.parse_tags``)."""
    tag_data = b""
    if raw.startswith(b"@"):
        tag_data, raw = tags.split_tags(raw)
    text = raw.decode("utf-8", errors="replace").strip("\r\n")
    if not text.strip():
        return None
    try:
        prefix, command, params = parsemsg(text)
    except (IRCBadMessage, ValueError, IndexError):
        return None
    if not command:
        return None
    if tag_data:
        return ParsedLine(prefix, command.upper(), params, tags.parse_tags(tag_data.decode("utf-8", errors="replace")))
    return ParsedLine(prefix, command.upper(), params)


def _middle(param: str) -> str:
    param = _CONTROL.sub(" ", param).replace(" ", "_") or "*"
    return "_" + param[1:] if param.startswith(":") else param


def line(prefix: str | None, command: str, *params: str) -> bytes:
    """One CR LF-terminated line; only the last parameter may hold spaces.

    Control characters in parameters become spaces so a value can never end
    the line early; the caller keeps text short enough (see ``split_text``).
    """
    parts = [f":{prefix}"] if prefix else []
    parts.append(command)
    if params:
        parts.extend(_middle(p) for p in params[:-1])
        last = _CONTROL.sub(" ", params[-1])
        parts.append(f":{last}" if not last or " " in last or last.startswith(":") else last)
    return (" ".join(parts) + "\r\n").encode("utf-8")


def user_prefix(nick: str) -> str:
    """The ``nick!user@host`` source of a member, the same whichever door they use."""
    return f"{nick}!{nick}@{USER_HOST}"


def user_fields(user_name: str, real_name: str) -> tuple[str, str]:
    """USER's user name and real name as kept: the user name with only nick
    characters, dots and digits, at most ``USER_NAME_MAX`` long (``user`` when
    nothing is left), the real name one line of at most ``REAL_NAME_MAX``
    characters (the user name when nothing is left)."""
    user = _NOT_USER.sub("", user_name)[:USER_NAME_MAX] or "user"
    real = clean_text(real_name).strip()[:REAL_NAME_MAX] or user
    return user, real


def server_name(name: str) -> str:
    """An IRC server name for the configured server ``name`` (host-name characters, a dot)."""
    cleaned = _NOT_HOST.sub("-", name).strip(".-") or "glozichat"
    return cleaned if "." in cleaned else f"{cleaned}.{USER_HOST}"


def echo(token: str) -> str:
    """A client-supplied token, shortened so an error reply stays one short line."""
    return token[:MAX_ECHO_CHARS] or "*"


def channel_of(session_name: str) -> str:
    """The IRC channel of a session: ``kiwi`` is ``#kiwi``."""
    return CHANNEL_PREFIX + session_name


def session_of(channel: str) -> str | None:
    """The session name a channel names, or ``None`` when it is not a ``#`` channel."""
    if not channel.startswith(CHANNEL_PREFIX):
        return None
    return channel[len(CHANNEL_PREFIX) :]


def clean_text(text: str) -> str:
    """Chat text from IRC as GloziChat accepts it: IRC formatting (colours,
    bold, ...) removed, other control characters but tab removed."""
    return _CONTROL.sub("", _FORMATTING.sub("", text))


def split_text(text: str, budget: int) -> list[str]:
    """``text`` in pieces of at most ``budget`` UTF-8 bytes, one per line of it,
    broken at a space when there is one; empty lines are dropped."""
    pieces: list[str] = []
    for paragraph in text.split("\n"):
        rest = paragraph
        while rest:
            encoded = rest.encode("utf-8")
            if len(encoded) <= budget:
                pieces.append(rest)
                break
            cut = encoded[:budget].decode("utf-8", errors="ignore")
            space = cut.rfind(" ")
            if space > 0 and not rest[len(cut)].isspace():
                cut = cut[:space]
            pieces.append(cut)
            rest = rest[len(cut) :].lstrip(" ")
    return [p for p in pieces if p.strip()]


def text_lines(prefix: str, command: str, target: str, text: str) -> bytes:
    """``text`` as as many ``command`` lines (PRIVMSG, NOTICE) as it needs."""
    if text and "\n" not in text:
        whole = line(prefix, command, target, text)
        # A line that fits is sent as it is: the budget below counts a colon it may not need.
        if len(whole) <= MAX_LINE_BYTES:
            return whole
    overhead = len(f":{prefix} {command} {target} :\r\n".encode())
    return b"".join(
        line(prefix, command, target, piece) for piece in split_text(text, MAX_LINE_BYTES - overhead)
    )


def relayed_bytes(prefix: str, command: str, target: str, text: str, *, action: bool = False) -> int:
    """How long ``text`` from ``prefix`` to ``target`` is as one relayed line, CR LF included."""
    if action:
        return len(f":{prefix} {command} {_middle(target)} :\x01ACTION {_CONTROL.sub(' ', text)}\x01\r\n".encode())
    return len(line(prefix, command, target, text))


def ctcp_line(prefix: str, command: str, target: str, body: str) -> bytes:
    """One CTCP message (``\x01body\x01``) as a ``command`` line (PRIVMSG,
    NOTICE); ``body`` has no control characters and is cut to fit the line."""
    overhead = len(f":{prefix} {command} {target} :\x01\x01\r\n".encode())
    pieces = split_text(body, MAX_LINE_BYTES - overhead) or [""]
    return f":{prefix} {command} {_middle(target)} :\x01{pieces[0]}\x01\r\n".encode()


def action_lines(prefix: str, command: str, target: str, text: str) -> bytes:
    """A ``/me`` action as as many CTCP ACTION lines as ``text`` needs."""
    overhead = len(f":{prefix} {command} {target} :\x01ACTION \x01\r\n".encode())
    return b"".join(
        f":{prefix} {command} {_middle(target)} :\x01ACTION {piece}\x01\r\n".encode()
        for piece in split_text(_CONTROL.sub(" ", text), MAX_LINE_BYTES - overhead)
    )


def said_lines(
    sender: str, target: str, text: str, *, notice: bool = False, action: bool = False, ctcp: bool = False
) -> bytes:
    """What ``sender`` said to ``target`` (a channel or a nick) as PRIVMSG or NOTICE lines: a CTCP
    request, a ``/me`` action, or plain text."""
    prefix, command = user_prefix(sender), "NOTICE" if notice else "PRIVMSG"
    if ctcp:
        return ctcp_line(prefix, command, target, text)
    if action:
        return action_lines(prefix, command, target, text)
    return text_lines(prefix, command, target, text)


def line_with_comment(prefix: str, command: str, *params: str, comment: str | None) -> bytes:
    """A line whose last parameter, ``comment`` (a PART or QUIT message), is
    cut to fit the line; without one, the line ends with ``params``."""
    overhead = len(line(prefix, command, *params, "x")) + 1
    pieces = split_text(comment.replace("\n", " "), MAX_LINE_BYTES - overhead) if comment else []
    return line(prefix, command, *params, *pieces[:1])


def utc_text(seconds: float) -> str:
    """A time stamp as people read it, in UTC so every client sees the same."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def topic(info: SessionInfo) -> str:
    """What LIST shows of a session: its topic, or with none who created it
    and when, and whether it is locked."""
    if info.topic:
        return info.topic
    lock = "locked: JOIN with its 5-digit key" if info.locked else "open"
    return f"Created by {info.creator} on {utc_text(info.created_at)}; {lock}"


def _member_left(event: MemberLeft, channel: str, server: str) -> bytes:
    if event.reason == LeaveReason.KICKED and event.by:
        return line(user_prefix(event.by), "KICK", channel, event.name, event.comment or event.by)
    if event.reason == LeaveReason.TIMEOUT:
        return line(server, "KICK", channel, event.name, "Removed for inactivity")
    if event.reason == LeaveReason.QUIT:
        return line_with_comment(user_prefix(event.name), "PART", channel, comment=event.comment)
    if event.reason == LeaveReason.KILLED:
        return line(user_prefix(event.name), "QUIT", killed_text(event.by or SERVICE_NICK, event.comment or ""))
    if event.comment:
        # As IRC servers do, so that a quit message cannot pass for the server's words.
        return line_with_comment(user_prefix(event.name), "QUIT", comment=f"Quit: {event.comment}")
    return line(user_prefix(event.name), "QUIT", "Connection closed")


def killed_text(by: str, reason: str) -> str:
    """How a kill by operator ``by`` reads in a QUIT and in the ERROR that closes the link."""
    return f"Killed ({by} ({reason}))"


def _wallops(event: Wallops) -> bytes:
    prefix = user_prefix(event.sender)
    overhead = len(f":{prefix} WALLOPS :\r\n".encode())
    return b"".join(line(prefix, "WALLOPS", piece) for piece in split_text(event.text, MAX_LINE_BYTES - overhead))


def shown_text(message: Message | PrivateMessage, web: str) -> str:
    """What IRC users read of a message: its text, and for a shared file its
    download URL on the web door ``web`` (``http://HOST:PORT``; docs/files.md)."""
    if message.file is None or not web:
        return message.text
    return f"{message.text} {web}{download_path(message.file.hash, message.file.name)}"


def _encode(event: Event, channel: str, server: str, web: str) -> bytes:
    match event:
        case Message():
            return said_lines(event.sender, channel, shown_text(event, web), notice=event.notice, action=event.action)
        case SessionCtcp():
            return said_lines(event.sender, channel, event.body, notice=event.notice, ctcp=True)
        case MemberJoined():
            return line(user_prefix(event.name), "JOIN", channel)
        case MemberLeft():
            return _member_left(event, channel, server)
        case AdminChanged() if event.by is not None:
            return line(user_prefix(event.by), "MODE", channel, "+o-o", event.admin, event.by)
        case AdminChanged():
            return line(server, "MODE", channel, "+o", event.admin)
        case TopicChanged():
            return line(user_prefix(event.by), "TOPIC", channel, event.topic)
        case ModeChanged():
            return mode_line(event, channel)
        case IdleWarning():
            seconds = round(event.seconds_left)
            text = f"You will be removed for inactivity in {seconds} s unless you say something."
            return text_lines(server, "NOTICE", channel, text)
        case ServerClosing():
            return line(None, "ERROR", f"Closing Link: {event.reason}")
        case Wallops():
            return _wallops(event)
        case MemberAway() | SessionTagMessage() | RealNameChanged() | MemberInvited():
            # Only clients that asked for a capability get these (encode_variant):
            # the others ask for away state (301, WHO's H and G) or see nothing.
            return b""
    raise TypeError(f"no IRC form for {type(event).__name__}")


def mode_line(event: ModeChanged, channel: str) -> bytes:
    """``:admin!admin@glozichat MODE #kiwi +l 10``: one mode change, as every member sees it."""
    params = (event.mode, event.parameter) if event.parameter is not None else (event.mode,)
    return line(user_prefix(event.by), "MODE", channel, *params)


def history_time(seconds: float) -> str:
    """A history line's time stamp: date and time to the second, in UTC."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def encode_history(messages: Sequence[Message], channel: str, server: str, web: str = "") -> bytes:
    """A session's history as NOTICEs from the server to the channel, between
    a first and a last line that say so."""
    lines = [text_lines(server, "NOTICE", channel, f"--- History: the last {len(messages)} messages (UTC) ---")]
    for message in messages:
        who = f"* {message.sender}" if message.action else f"<{message.sender}>"
        text = f"[{history_time(message.sent_at)}] {who} {shown_text(message, web)}"
        lines.append(text_lines(server, "NOTICE", channel, text))
    lines.append(text_lines(server, "NOTICE", channel, "--- End of history ---"))
    return b"".join(lines)


def encode_event(event: Event, channel: str, server: str, web: str = "") -> bytes:
    """The lines for a shared event, encoded once and cached on the event.

    ``channel`` is the session's channel, the same for every recipient, and
    ``server`` is this server's IRC name and ``web`` its web door's URL
    (for shared files' links); so is the result.
    """
    data = event.encoded.get(CACHE_KEY)
    if data is None:
        data = event.encoded[CACHE_KEY] = _encode(event, channel, server, web)
    return data


_VARIANT_CAPS = {
    MemberJoined: TAGGED | Cap.EXTENDED_JOIN,
    MemberAway: TAGGED | Cap.AWAY_NOTIFY,
    RealNameChanged: TAGGED | Cap.SETNAME,
    MemberInvited: TAGGED | Cap.INVITE_NOTIFY,
}




def variant_key(variant: int) -> str:
    """Where the bytes of a shared event for the clients of ``variant`` are
    cached (``Event.encoded``): ``irc+3``; the events whose bytes depend on
    more than the tagging capabilities (extended-join, away-notify, …) under
    ``irc*…`` instead, so that a client's one key (``irc+`` and its tagging
    bits) never finds bytes made for a client without its other capabilities."""
    return sys.intern(f"{CACHE_KEY}+{variant}")


def variant_of(event: Event, caps: int) -> int:
    """Which of a connection's ``caps`` change ``event``'s bytes: its variant,
    0 when it gets the untagged bytes every other such client gets."""
    return caps & _VARIANT_CAPS.get(type(event), TAGGED)


def server_time(seconds: float) -> str:
    """IRCv3 ``server-time``: ``2026-11-26T02:19:32.123Z`` (UTC, milliseconds):
    the time rounded to the microsecond as ``datetime.fromtimestamp`` rounds it
    (half to even), then cut to the millisecond."""
    fraction, whole = math.modf(seconds)
    micro = round(fraction * 1e6)
    if micro >= 1_000_000:
        whole, micro = whole + 1, micro - 1_000_000
    elif micro < 0:
        whole, micro = whole - 1, micro + 1_000_000
    return f"{_second_text(int(whole))}.{micro // 1000:03d}Z"


@functools.lru_cache(maxsize=64)
def _second_text(second: int) -> str:
    # Formatting a datetime costs several microseconds, and a tagged message
    # needs its time once per variant: the messages of one second share this.
    return f"{datetime.fromtimestamp(second, UTC):%Y-%m-%dT%H:%M:%S}"


def _event_time(event: Event) -> float | None:
    match event:
        case Message() | PrivateMessage() | Wallops():
            return event.sent_at
        case TopicChanged():
            return event.at
        case MemberJoined():
            return event.joined_at
    return None


def tag_event(data: bytes, event: Event, variant: int, now: float) -> bytes:
    """``data`` (the lines of ``event``) with the tags ``variant`` asks for:
    ``time`` (the event's own time, else ``now``) with server-time; with
    message-tags the message's ``msgid`` on its first line and the sender's
    client-only tags on every line, after the server's."""
    every = f"time={server_time(_event_time(event) or now)}" if variant & Cap.SERVER_TIME else ""
    first = ""
    if variant & Cap.MESSAGE_TAGS:
        msgid = getattr(event, "msgid", "")
        first = f"msgid={msgid}" if msgid else ""
        client = getattr(event, "client_tags", "")
        every = f"{every};{client}" if every and client else every or client
    return tags.with_tags(data, every, first=first)


def _encode_variant(event: Event, channel: str, server: str, variant: int, real_name: str, web: str) -> bytes:
    match event:
        case MemberJoined() if variant & Cap.EXTENDED_JOIN:
            # No accounts: the account name is always "*".
            return line(user_prefix(event.name), "JOIN", channel, "*", real_name or event.name)
        case MemberAway() if variant & Cap.AWAY_NOTIFY:
            prefix = user_prefix(event.name)
            return line(prefix, "AWAY", event.away) if event.away else line(prefix, "AWAY")
        case SessionTagMessage() if variant & Cap.MESSAGE_TAGS:
            return line(user_prefix(event.sender), "TAGMSG", channel)
        case RealNameChanged() if variant & Cap.SETNAME:
            return line(user_prefix(event.name), "SETNAME", event.real_name)
        case MemberInvited() if variant & Cap.INVITE_NOTIFY:
            return line(user_prefix(event.by), "INVITE", event.nick, channel)
    return encode_event(event, channel, server, web)


def encode_variant(
    event: Event, channel: str, server: str, variant: int, now: float, real_name: str = "", web: str = ""
) -> bytes:
    """``encode_event`` for the clients of one ``variant`` (``variant_of``):
    encoded once per variant and cached on the event, so every client of a
    variant gets the same bytes; ``now`` times an event that has no time of
    its own, ``real_name`` is the joiner's for extended-join."""
    key = f"{CACHE_KEY}*{variant}" if type(event) in _VARIANT_CAPS else variant_key(variant)
    data = event.encoded.get(key)
    if data is None:
        data = event.encoded[key] = tag_event(
            _encode_variant(event, channel, server, variant, real_name, web), event, variant, now
        )
    return data
