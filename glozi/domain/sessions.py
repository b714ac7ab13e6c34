"""A session and its members: who is in which chat room, and who is its admin.

A ``Member`` holds its participant through ``Seat`` and reaches the server
through ``Rooms``: the two things ``glozi.domain.chat`` defines, described
here by what sessions, commands and the fan-out use of them, so this module
sits below all three.
"""

import random
from collections.abc import Sequence
from typing import Protocol

from twisted.internet.interfaces import IReactorTime

from glozi.domain.events import Event, MemberInfo, SessionInfo
from glozi.domain.idle import InactivityTimer
from glozi.domain.names import name_key
from glozi.domain.quotes import Quote
from glozi.domain.scrollback import Scrollback
from glozi.limits.ratelimit import TokenBucket
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


class Seat(Protocol):
    """A connection's side of the chat as its member sees it (``glozi.domain.chat.Participant``)."""

    connection: Connection
    members: "dict[int, Member]"
    admin_actions: TokenBucket

    @property
    def server(self) -> Rooms:
        """The chat server the connection belongs to."""


class Member:
    """A participant's presence in one session."""

    __slots__ = ("joined_at", "name", "participant", "session", "timer")

    def __init__(self, participant: Seat, session: "Session", name: str, joined_at: float):
        self.participant = participant
        self.session = session
        self.name = name
        self.joined_at = joined_at
        self.timer: InactivityTimer | None = None

    @property
    def is_admin(self) -> bool:
        return self.session.admin is self

    def deliver(self, event: Event) -> None:
        self.participant.connection.deliver(event)

    def info(self) -> MemberInfo:
        return MemberInfo(self.name, self.joined_at, self.is_admin)


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
        )
