"""The chat domain: sessions, members, admins, inactivity and shutdown.

Plain Python with no sockets. Each connection (of any door) implements
``Connection`` and gets a ``Participant`` from ``ChatServer.connect``; it calls
the participant's methods with values already validated at its edge and
receives events through ``Connection.deliver``. Time comes from an injected
``IReactorTime``.
"""

import hmac
import random
from collections.abc import Callable, Sequence
from typing import Protocol

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from glozi import commands
from glozi.errors import ChatError
from glozi.events import (
    AdminChanged,
    Event,
    IdleWarning,
    Joined,
    LeaveReason,
    Left,
    MemberInfo,
    MemberJoined,
    MemberLeft,
    Message,
    ServerClosing,
    SessionInfo,
)
from glozi.exitcode import ExitCodeGuard
from glozi.fanout import Fanout, LocalFanout
from glozi.guessing import GuessGuard
from glozi.idle import InactivityTimer
from glozi.names import name_key
from glozi.quotes import QUOTES, Quote
from glozi.ratelimit import TokenBucket

DEFAULT_SESSIONS = (
    "avocado",
    "kiwi",
    "pineapple",
    "krembo",
    "watermelon",
    "papaya",
    "coconut",
    "passiflora",
    "cactus",
)
SERVER_CREATOR = "server"
DEFAULT_IDLE_TIMEOUT = 240.0
# Joins and creations per connection: a burst of 10, then one every 3 s.
JOIN_BURST, JOIN_RATE = 10, 1 / 3
# Admin commands (kick, close) per connection: a burst of 10, then one a second.
ADMIN_BURST, ADMIN_RATE = 10, 1.0


class Connection(Protocol):
    """What the domain needs from a connection, whatever its door."""

    def deliver(self, event: Event) -> None:
        """Send ``event`` to the peer."""

    def close(self) -> None:
        """Close the connection after what was delivered has been sent."""


class Member:
    """A participant's presence in one session."""

    def __init__(self, participant: "Participant", session: "Session", name: str, joined_at: float):
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
    """A chat room: its members in join order, its admin and its password."""

    def __init__(
        self,
        session_id: int,
        name: str,
        created_at: float,
        creator: str,
        password: str | None,
        permanent: bool,
    ) -> None:
        self.id = session_id
        self.name = name
        self.created_at = created_at
        self.creator = creator
        self._password = password
        self.permanent = permanent
        self.members: dict[str, Member] = {}
        self.admin: Member | None = None

    @property
    def locked(self) -> bool:
        return self._password is not None

    def password_matches(self, password: str) -> bool:
        """Compare in constant time, so timing tells nothing about the password."""
        assert self._password is not None
        return hmac.compare_digest(password.encode(), self._password.encode())

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


class ChatServer:
    """All sessions of one server and everyone connected to it."""

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        *,
        exit_code: str,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        fanout: Fanout | None = None,
        quotes: Sequence[Quote] = QUOTES,
        rng: random.Random | None = None,
        on_exit: Callable[[], None] = lambda: None,
    ) -> None:
        self.clock = clock
        self.idle_timeout = idle_timeout
        self.fanout = fanout if fanout is not None else LocalFanout()
        self.quotes = quotes
        self.rng = rng if rng is not None else random.Random()
        self.exit_guard = ExitCodeGuard(exit_code, clock)
        self.password_guard = GuessGuard(clock, what="password")
        self._on_exit = on_exit
        self.sessions: dict[int, Session] = {}
        self._sessions_by_name: dict[str, Session] = {}
        self.participants: set[Participant] = set()
        self._last_session_id = 0
        self.closing = False
        for name in DEFAULT_SESSIONS:
            self._add_session(name, SERVER_CREATOR, None, permanent=True)

    def connect(self, connection: Connection, source: str = "unknown") -> "Participant":
        """Register a new connection from address ``source``; it starts at the session list."""
        participant = Participant(self, connection, source)
        if self.closing:
            connection.deliver(ServerClosing(reason="The server is shutting down."))
            connection.close()
            return participant
        self.participants.add(participant)
        return participant

    def list_sessions(self) -> list[SessionInfo]:
        """Every session, in id order."""
        return [session.info() for session in self.sessions.values()]

    def shutdown(self, reason: str) -> None:
        """Tell every connection the server is closing, then close them all."""
        self.closing = True
        event = ServerClosing(reason=reason)
        for participant in list(self.participants):
            if participant.member is not None:
                self._detach(participant.member)
            self.participants.discard(participant)
            participant.connection.deliver(event)
            participant.connection.close()

    def request_exit(self) -> None:
        """The right exit code was given: shut down and stop the process."""
        self.log.warn("The server exit code was entered: shutting down.")
        self.shutdown("The server was closed with its exit code.")
        self._on_exit()

    def _add_session(self, name: str, creator: str, password: str | None, permanent: bool) -> Session:
        self._last_session_id += 1
        session = Session(self._last_session_id, name, self.clock.seconds(), creator, password, permanent)
        self.sessions[session.id] = session
        self._sessions_by_name[name_key(name)] = session
        return session

    def _remove_session(self, session: Session) -> None:
        del self.sessions[session.id]
        del self._sessions_by_name[name_key(session.name)]

    def _admit(self, participant: "Participant", session: Session, username: str) -> Joined:
        member = Member(participant, session, username, self.clock.seconds())
        self.fanout.publish(
            session, MemberJoined(session_id=session.id, name=username, joined_at=member.joined_at)
        )
        session.members[name_key(username)] = member
        participant.member = member
        if session.admin is None and not session.permanent:
            session.admin = member
        else:
            self._start_timer(member)
        return Joined(
            session=session.info(),
            you=username,
            members=tuple(m.info() for m in session.members.values()),
            idle_timeout=None if member.is_admin else self.idle_timeout,
        )

    def _start_timer(self, member: Member) -> None:
        def warn(seconds_left: float) -> None:
            member.deliver(IdleWarning(session_id=member.session.id, seconds_left=seconds_left))

        def expire() -> None:
            self.remove_member(member, LeaveReason.TIMEOUT)

        member.timer = InactivityTimer(self.clock, self.idle_timeout, warn, expire)
        member.timer.start()

    def _detach(self, member: Member) -> Session:
        """Take ``member`` out of its session's books, telling nobody."""
        session = member.session
        del session.members[name_key(member.name)]
        if member.timer is not None:
            member.timer.stop()
            member.timer = None
        member.participant.member = None
        return session

    def remove_member(self, member: Member, reason: str, by: str | None = None) -> None:
        """``member`` leaves its session; the others are told, and the admin
        role passes to the longest-present member when the admin leaves."""
        session = self._detach(member)
        if reason != LeaveReason.DISCONNECTED:
            member.deliver(Left(session_id=session.id, session_name=session.name, reason=reason, by=by))
        self.fanout.publish(
            session, MemberLeft(session_id=session.id, name=member.name, reason=reason, by=by)
        )
        if session.admin is member:
            session.admin = None
            if session.members:
                heir = next(iter(session.members.values()))
                session.admin = heir
                if heir.timer is not None:
                    heir.timer.stop()
                    heir.timer = None
                self.fanout.publish(session, AdminChanged(session_id=session.id, admin=heir.name))
        if not session.members and not session.permanent:
            self._remove_session(session)

    def close_session(self, session: Session, by: str) -> None:
        """Every member is told and sent back to the list; the session goes."""
        event = Left(session_id=session.id, session_name=session.name, reason=LeaveReason.CLOSED, by=by)
        members = list(session.members.values())
        for member in members:
            self._detach(member)
        session.admin = None
        for member in members:
            member.deliver(event)
        self._remove_session(session)

    def create_session(
        self, participant: "Participant", name: str, username: str, password: str | None
    ) -> Joined:
        if name_key(name) in self._sessions_by_name:
            raise ChatError("session_exists", f"A session named {name!r} already exists.")
        session = self._add_session(name, username, password, permanent=False)
        self.log.info("Session {name} ({id}) created by {creator}", name=name, id=session.id, creator=username)
        return self._admit(participant, session, username)

    def join_session(
        self, participant: "Participant", session_id: int, username: str, password: str | None
    ) -> Joined:
        session = self.sessions.get(session_id)
        if session is None:
            raise ChatError("no_such_session", f"There is no session {session_id}.")
        if session.locked:
            if password is None:
                raise ChatError("password_required", f"Session {session.name} needs a password.")
            guard = self.password_guard
            guard.allow(participant, participant.source, session.id)
            if not session.password_matches(password):
                guard.failed(participant, participant.source)
                raise ChatError("wrong_password", f"Wrong password for session {session.name}.")
            guard.succeeded(participant, participant.source)
        if session.member_named(username) is not None:
            raise ChatError("name_taken", f"The name {username!r} is taken in {session.name}.")
        return self._admit(participant, session, username)


class Participant:
    """One connection's side of the chat: at the session list, or in one session."""

    def __init__(self, server: ChatServer, connection: Connection, source: str) -> None:
        self.server = server
        self.connection = connection
        self.source = source
        self.member: Member | None = None
        self.exit_code_failures = 0
        self.joins = TokenBucket(server.clock, JOIN_BURST, JOIN_RATE)
        self.admin_actions = TokenBucket(server.clock, ADMIN_BURST, ADMIN_RATE)

    def _limit_joins(self) -> None:
        if not self.joins.try_take():
            wait = max(1, round(self.joins.seconds_until()))
            raise ChatError("rate_limited", f"Too many joins; try again in {wait} s.", retry_after=wait)

    def _require_lobby(self) -> None:
        if self.member is not None:
            raise ChatError(
                "wrong_state",
                f"You are in session {self.member.session.name}; /quit it first.",
            )

    def _require_member(self) -> Member:
        if self.member is None:
            raise ChatError("wrong_state", "You are not in a session; join or create one first.")
        return self.member

    def list_sessions(self) -> list[SessionInfo]:
        return self.server.list_sessions()

    def current_session(self) -> SessionInfo | None:
        """The session this participant is in now, or ``None`` at the session list.

        Doors whose clients ask for state at any time (IRC's MODE, TOPIC) read
        it here; the native door learns it from events instead.
        """
        return self.member.session.info() if self.member is not None else None

    def session_members(self) -> tuple[MemberInfo, ...]:
        """Everyone in this participant's session now, longest-present first
        (IRC's NAMES and WHO); raises ``wrong_state`` outside a session."""
        member = self._require_member()
        return tuple(m.info() for m in member.session.members.values())

    def join(self, session_id: int, username: str, password: str | None = None) -> Joined:
        """Join an existing session; raises ``ChatError`` with the reason on refusal."""
        self._require_lobby()
        self._limit_joins()
        return self.server.join_session(self, session_id, username, password)

    def create(self, session_name: str, username: str, password: str | None = None) -> Joined:
        """Create a session and join it as its admin."""
        self._require_lobby()
        self._limit_joins()
        return self.server.create_session(self, session_name, username, password)

    def say(self, text: str) -> float:
        """Send ``text`` to everyone else in the session; returns its timestamp."""
        member = self._require_member()
        self._touch(member)
        sent_at = self.server.clock.seconds()
        session = member.session
        self.server.fanout.publish(
            session,
            Message(session_id=session.id, sender=member.name, text=text, sent_at=sent_at),
            exclude=member,
        )
        return sent_at

    def run_command(self, name: str, args: str) -> str:
        """Run a slash command; returns the text to show the caller."""
        member = self._require_member()
        self._touch(member)
        return commands.run(member, name, args)

    def submit_exit_code(self, code: str) -> None:
        """Shut the server down if ``code`` is its exit code."""
        self._require_lobby()
        try:
            self.server.exit_guard.check(code, self.exit_code_failures, self.source)
        except ChatError as error:
            if error.code == "wrong_exit_code":
                self.exit_code_failures += 1
                self.server.log.warn("A wrong server exit code was entered.")
            raise
        self.server.request_exit()

    def disconnected(self) -> None:
        """The connection is gone: leave any session quietly for us, loudly for others."""
        if self.member is not None:
            self.server.remove_member(self.member, LeaveReason.DISCONNECTED)
        self.server.participants.discard(self)
        self.server.password_guard.disconnected(self)

    @staticmethod
    def _touch(member: Member) -> None:
        if member.timer is not None:
            member.timer.touch()
