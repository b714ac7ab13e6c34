"""What the chat domain tells connections, as plain immutable values.

The domain hands the same event object to every recipient; a protocol turns it
into bytes once and stores them in the event's ``encoded`` cache, keyed by the
protocol, so a broadcast to N members costs one encoding per door, not N.
"""

from dataclasses import dataclass, field
from typing import Any

from glozi.storage.store import SharedFile


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of all events; ``encoded`` caches each door's bytes for this event."""

    encoded: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """A session member as others see it; ``away`` is their away message, or ``None`` when present."""

    name: str
    joined_at: float
    is_admin: bool
    voiced: bool = False
    away: str | None = None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session as the session list shows it (never its password)."""

    id: int
    name: str
    member_count: int
    created_at: float
    creator: str
    locked: bool
    admin: str | None
    topic: str = ""
    topic_by: str | None = None
    topic_at: float | None = None
    modes: str = "+nt"
    """The modes in force without their parameters (``+intkl``; see glozi/domain/rules.py)."""
    limit: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Joined(Event):
    """You are now in ``session`` as ``you``; ``members`` includes you;
    ``history`` is the session's most recent messages, oldest first."""

    session: SessionInfo
    you: str
    members: tuple[MemberInfo, ...]
    idle_timeout: float | None
    history: tuple["Message", ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberJoined(Event):
    """Someone joined the session you are in."""

    session_id: int
    name: str
    joined_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberLeft(Event):
    """Someone left the session you are in; ``reason`` is a ``LeaveReason``,
    ``comment`` the words given with it (a kick's reason, an operator's KILL
    reason, the leaver's own PART or QUIT message), if any."""

    session_id: int
    name: str
    reason: str
    by: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminChanged(Event):
    """The session you are in has a new admin: handed on by the admin ``by``,
    or (``by`` is ``None``) the longest-present member after the admin left."""

    session_id: int
    admin: str
    by: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Message(Event):
    """A chat message from ``sender``, stamped with the server's clock;
    ``notice`` when it was sent as an IRC NOTICE (never to be answered),
    ``action`` when it is a ``/me`` action (IRC's CTCP ACTION)."""

    session_id: int
    sender: str
    text: str
    sent_at: float
    notice: bool = False
    action: bool = False
    msgid: str = ""
    """The message's id (glozi/domain/history.py), the same in every door and on every node."""
    client_tags: str = ""
    """The sender's IRCv3 client-only tags as sent on (``+draft/reply=abc``): never stored, only IRC shows them."""
    file: SharedFile | None = None
    """The file this message shares (docs/files.md), if it does."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionCtcp(Event):
    """An IRC CTCP request (or, with ``notice``, reply) other than ACTION from
    ``sender`` to the session, under ``-C``; ``body`` is what goes between the
    marks (``PING 12345``). Never stored; only IRC members are shown it (a
    native client speaks no CTCP)."""

    session_id: int
    sender: str
    body: str
    notice: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionTagMessage(Event):
    """An IRCv3 ``TAGMSG`` from ``sender`` to the session: ``client_tags`` and
    no text. Never stored; only IRC members who asked for message tags see it."""

    session_id: int
    sender: str
    client_tags: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RealNameChanged(Event):
    """A member of the session you are in set a new real name (IRCv3's
    ``SETNAME``); one change reaches each of its sessions as its own event,
    all with the same ``change`` number, as ``MemberAway`` does."""

    session_id: int
    name: str
    real_name: str
    change: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberInvited(Event):
    """The admin ``by`` invited ``nick`` to the session you are in (IRCv3's invite-notify)."""

    session_id: int
    by: str
    nick: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberRenamed(Event):
    """A member of the session you are in changed nick from ``old`` to ``new``.

    One rename reaches each session its user is in as its own event, all with
    the same ``change`` number, so a door that shows a rename once per person
    (IRC's NICK) can tell them apart from the next rename.
    """

    session_id: int
    old: str
    new: str
    change: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberAway(Event):
    """A member of the session you are in went away with the message ``away``,
    or (``None``) is back; also sent right after ``MemberJoined`` when the
    joiner is away already.

    As with ``MemberRenamed``, one change reaches each session its user is in
    as its own event, all with the same ``change`` number, so a door that
    tells it once per person (IRCv3's away-notify) can tell them apart from
    the next change.
    """

    session_id: int
    name: str
    away: str | None
    change: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PrivateMessage(Event):
    """``text`` from ``sender`` to you alone, not stored; ``notice`` when it
    was sent as an IRC NOTICE (which is never answered automatically),
    ``action`` for a ``/me`` action. ``ctcp`` marks an IRC CTCP request or
    reply other than ACTION (``text`` is its body, as ``VERSION``): only IRC
    users are sent those, since the IRC door answers for native users."""

    sender: str
    text: str
    sent_at: float
    notice: bool = False
    action: bool = False
    ctcp: bool = False
    msgid: str = ""
    """An id of its own (never stored): IRC's ``msgid`` tag, the same for the sender's echo and the recipient."""
    client_tags: str = ""
    """The sender's IRCv3 client-only tags, as on ``Message``."""
    tags_only: bool = False
    """An IRCv3 ``TAGMSG``: ``client_tags`` and no text, only between IRC users."""
    file: SharedFile | None = None
    """The file this message shares (docs/files.md), if it does."""


@dataclass(frozen=True, slots=True)
class ServerCounts:
    """What IRC's LUSERS tells (the native ``stats``): users holding a nick,
    server operators among them, sessions, the most users at once since the
    server started, the connections still registering (IRC's 253), and the
    users among them who are invisible (``+i``, IRC's 251)."""

    users: int
    operators: int
    sessions: int
    most_users: int
    unregistered: int = 0
    invisible: int = 0


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A connected user as WHOIS shows them: their sessions (by name, in the
    order joined), away message, idle seconds (since they last spoke anywhere),
    when they connected, and their user name and real name (IRC's USER; the
    nick for a native user)."""

    name: str
    sessions: tuple[SessionInfo, ...]
    away: str | None
    idle_seconds: int
    connected_at: float
    user_name: str
    real_name: str
    operator: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class IdleWarning(Event):
    """You will be removed for inactivity in ``seconds_left`` seconds."""

    session_id: int
    seconds_left: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Left(Event):
    """You are no longer in the session and are back at the session list;
    ``comment`` is the words given with it (a kick's reason, or your own
    words when you left with some: ``/quit REASON``), if any."""

    session_id: int
    session_name: str
    reason: str
    by: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerClosing(Event):
    """The server is shutting down; the connection closes next."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionAdded(Event):
    """A session was created (for connections at the session list)."""

    session: SessionInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionChanged(Event):
    """A listed session's member count, admin or lock changed (for connections at the session list)."""

    session: SessionInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRemoved(Event):
    """A session is gone (for connections at the session list)."""

    session_id: int
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Killed(Event):
    """A server operator (``by``, their nick) disconnected you for ``reason``;
    the connection closes next."""

    by: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Wallops(Event):
    """A server operator's message to every user who asked for them."""

    sender: str
    text: str
    sent_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicChanged(Event):
    """``by`` set the topic of the session you are in (``""``: cleared) at ``at``."""

    session_id: int
    topic: str
    by: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ModeChanged(Event):
    """``by`` changed one mode of the session you are in: ``mode`` is its sign
    and letter (``+l``), ``parameter`` what it took (``10``, a ban mask, a
    member's name, the new key), if any."""

    session_id: int
    by: str
    mode: str
    parameter: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Invited(Event):
    """The admin ``by`` invited you to the session ``session_name``: you may join it once, past ``+i``."""

    session_id: int
    session_name: str
    by: str


class LeaveReason:
    """Why a member left a session (the ``reason`` of ``Left``/``MemberLeft``)."""

    QUIT = "quit"
    KICKED = "kicked"
    CLOSED = "closed"
    TIMEOUT = "timeout"
    DISCONNECTED = "disconnected"
    KILLED = "killed"
    SHUTDOWN = "shutdown"


IRC_ONLY_EVENTS = (SessionCtcp, SessionTagMessage, RealNameChanged, MemberInvited)
"""Events of session members that only IRC shows (a native client has no such frame)."""
