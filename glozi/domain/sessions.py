"""A session and its members: who is in which chat room, who is its admin,
and the rules (topic and modes) it keeps.

A ``Member`` holds its participant through ``Seat`` and reaches the server
through ``Rooms``: the two things ``glozi.domain.chat`` defines, described
here by what sessions, commands and the fan-out use of them, so this module
sits below all three.
"""

import random
import weakref
from collections.abc import Sequence
from typing import Protocol

from twisted.internet.interfaces import IReactorTime

from glozi.domain.events import Event, MemberInfo, SessionInfo
from glozi.domain.idle import InactivityTimer
from glozi.domain.names import name_key
from glozi.domain.quotes import Quote
from glozi.domain.scrollback import Scrollback
from glozi.limits.ratelimit import TokenBucket
from glozi.storage.passwords import PasswordHasher
from glozi.storage.store import StoredSession

DEFAULT_SCROLLBACK = 50
"""Messages a joiner receives as history."""


class Connection(Protocol):
    """What the domain needs from a connection, whatever its door."""

    def deliver(self, event: Event) -> None:
        """Send ``event`` to the peer."""

    def close(self) -> None:
        """Close the connection after what was delivered has been sent."""


class Rooms(Protocol):
    """What a member's commands may ask of the chat server (``glozi.domain.chat.ChatServer``)."""

    clock: IReactorTime
    rng: random.Random
    quotes: Sequence[Quote]

    def remove_member(
        self, member: "Member", reason: str, by: str | None = None, comment: str | None = None
    ) -> None:
        """Take ``member`` out of its session for ``reason`` (a ``LeaveReason``),
        telling everyone, with the leaver's own ``comment`` if any."""

    def close_session(self, session: "Session", by: str) -> None:
        """Send every member of ``session`` back to the list and remove it."""

    # What a session's rules (glozi/domain/rules.py) ask of the server.
    sessions: "dict[int, Session]"
    passwords: PasswordHasher

    def announce(self, session: "Session", event: Event) -> None:
        """Tell every member of ``session`` about ``event``, and the session list that it changed."""

    def user_named(self, nick: str) -> "Seat | None":
        """Who uses ``nick`` now (any case), or ``None``."""

    def store_session(self, session: "Session") -> None:
        """Keep ``session``'s new password hash in the store."""

    def make_admin(self, session: "Session", heir: "Member", by: str | None) -> None:
        """Hand ``session``'s admin role to ``heir``, telling every member."""

    def secrecy_changed(self, session: "Session") -> None:
        """``session`` became secret (``+s``) or stopped being: the session list loses or gains it."""


class Seat(Protocol):
    """A connection's side of the chat as its member sees it (``glozi.domain.chat.Participant``)."""

    connection: Connection
    members: "dict[int, Member]"
    remote: bool
    """Whether the user is connected to another node of the cluster."""
    admin_actions: TokenBucket
    nick: str | None
    away: str | None
    """The away message, or ``None`` when present."""
    operator: str | None
    """The operator name when the user is a server operator."""

    @property
    def server(self) -> Rooms:
        """The chat server the connection belongs to."""


class Member:
    """A participant's presence in one session."""

    __slots__ = ("joined_at", "name", "participant", "session", "timer", "voiced")

    def __init__(self, participant: Seat, session: "Session", name: str, joined_at: float):
        self.participant = participant
        self.session = session
        self.name = name
        self.joined_at = joined_at
        self.timer: InactivityTimer | None = None
        self.voiced = False
        """Whether the admin gave this member voice (``+v``): in a moderated session only they and the admin talk."""

    @property
    def is_admin(self) -> bool:
        return self.session.admin is self

    def deliver(self, event: Event) -> None:
        self.participant.connection.deliver(event)

    def info(self) -> MemberInfo:
        return MemberInfo(self.name, self.joined_at, self.is_admin, self.voiced, self.participant.away)


class Rules:
    """One session's topic and modes (changed by glozi/domain/rules.py). A
    new session is ``+nt`` with no topic."""

    __slots__ = (
        "bans",
        "exceptions",
        "invite_exceptions",
        "invite_only",
        "invited",
        "keying",
        "limit",
        "moderated",
        "no_ctcp",
        "no_external",
        "secret",
        "topic",
        "topic_at",
        "topic_by",
        "topic_locked",
    )

    def __init__(self) -> None:
        self.topic = ""
        self.topic_by: str | None = None
        self.topic_at: float | None = None
        self.topic_locked = True
        self.invite_only = False
        self.invited: weakref.WeakSet[Seat] = weakref.WeakSet()
        """Users invited and not joined since; an invitation lasts until used or the session goes."""
        self.limit: int | None = None
        self.moderated = False
        self.bans: list[str] = []
        """The ban masks (``nick!user@host`` with ``*`` and ``?``), in the order set."""
        self.exceptions: list[str] = []
        """Ban exceptions (``+e``): a user one matches is banned by none."""
        self.invite_exceptions: list[str] = []
        """Invite exceptions (``+I``): a user one matches joins past ``+i`` uninvited."""
        self.no_external = True
        """``+n``: only members talk in the session; with ``-n`` a user outside may send it a message too."""
        self.no_ctcp = False
        """``+C``: a CTCP request other than ACTION to the session is refused (IRC's ``404``)."""
        self.secret = False
        """``+s``: listed (and shown in WHOIS) only to the session's members."""
        self.keying = False
        """A new key is being hashed (one at a time: it bounds the work an admin can queue)."""

    def modes(self, locked: bool) -> str:
        """The mode letters in force, as IRC shows them: ``+nt``, ``+Cimnstkl``..."""
        letters = ("C" if self.no_ctcp else "") + ("i" if self.invite_only else "") + ("m" if self.moderated else "")
        letters += "n" if self.no_external else ""
        letters += ("s" if self.secret else "") + ("t" if self.topic_locked else "") + ("k" if locked else "") + ("l" if self.limit else "")
        return "+" + letters


class Session:
    """A chat room: its members in join order, its admin, its password hash
    and its most recent messages (``history``, oldest first)."""

    def __init__(
        self,
        session_id: int,
        name: str,
        created_at: float,
        creator: str,
        password_hash: str | None,
        permanent: bool,
        scrollback: int = DEFAULT_SCROLLBACK,
    ) -> None:
        self.id = session_id
        self.name = name
        self.created_at = created_at
        self.creator = creator
        self.password_hash = password_hash
        self.permanent = permanent
        self.members: dict[str, Member] = {}
        self.admin: Member | None = None
        self.history = Scrollback(session_id, scrollback)
        self.rules = Rules()

    @property
    def locked(self) -> bool:
        return self.password_hash is not None

    def stored(self) -> StoredSession:
        return StoredSession(self.id, self.name, self.created_at, self.creator, self.password_hash)

    def member_named(self, name: str) -> Member | None:
        return self.members.get(name_key(name))

    def info(self) -> SessionInfo:
        return SessionInfo(
            id=self.id,
            name=self.name,
            member_count=len(self.members),
            created_at=self.created_at,
            creator=self.creator,
            locked=self.locked,
            admin=self.admin.name if self.admin else None,
            topic=self.rules.topic,
            topic_by=self.rules.topic_by,
            topic_at=self.rules.topic_at,
            modes=self.rules.modes(self.locked),
            limit=self.rules.limit,
        )
