"""The chat server and each connection's side of it: joining, speaking, admins,
inactivity and shutdown.

Plain Python with no sockets. Each connection (of any door) implements
``Connection`` (glozi/domain/sessions.py, with ``Session`` and ``Member``) and gets a ``Participant`` from ``ChatServer.connect``; it calls
the participant's methods with values already validated at its edge and
receives events through ``Connection.deliver``. Time comes from an injected
``IReactorTime``. Sessions and messages are handed to a ``Store``
(glozi/storage/store.py) and restored from its ``Snapshot``; a message is
acknowledged once the store committed it. Password hashing goes through a
``PasswordHasher`` (off the reactor), so joining and creating return Deferreds.
"""

import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, NoReturn, Protocol

from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from glozi.domain import commands, rules
from glozi.domain.errors import ChatError
from glozi.domain.events import (
    AdminChanged,
    Event,
    IdleWarning,
    Joined,
    LeaveReason,
    Left,
    MemberAway,
    MemberInfo,
    MemberJoined,
    MemberLeft,
    MemberRenamed,
    Message,
    PrivateMessage,
    RealNameChanged,
    ServerClosing,
    ServerCounts,
    SessionAdded,
    SessionChanged,
    SessionCtcp,
    SessionInfo,
    SessionRemoved,
    SessionTagMessage,
    UserInfo,
)
from glozi.domain.exitcode import ExitCodeGuard
from glozi.domain.history import HISTORY_LIMIT, TARGETS_LIMIT, HistoryQuery, MessageIds, as_event
from glozi.domain.idle import InactivityTimer
from glozi.domain.masks import matches
from glozi.domain.names import is_reserved_username, name_key, reserved_username_message
from glozi.domain.quotes import QUOTES, Quote
from glozi.domain.replication import ALONE, Replication
from glozi.domain.sessions import DEFAULT_SCROLLBACK, Connection, Member, Session
from glozi.domain.whowas import NickHistory, PastUser
from glozi.fanout.interface import Fanout
from glozi.fanout.local import LocalFanout
from glozi.limits.guessing import GuessGuard
from glozi.limits.ratelimit import TokenBucket, retry_after
from glozi.storage.passwords import PasswordHasher, ScryptPasswords
from glozi.storage.store import MemoryStore, SharedFile, Snapshot, Store, StoredMessage

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
DEFAULT_MAX_SESSIONS_PER_USER = 20
"""Sessions one connection may be a member of at once (``--max-sessions-per-user``)."""
# Password guesses refused in a row ("try again in N s") before the connection is closed.
GUESS_REFUSALS_BEFORE_CLOSE = 10


class _Closed:
    """Where a participant's events go once its connection is gone."""

    def deliver(self, event: Event) -> None:
        pass

    def close(self) -> None:
        pass


CLOSED: Connection = _Closed()

SessionListEvent = SessionAdded | SessionChanged | SessionRemoved


class SessionListListener(Protocol):
    """A door that pushes session-list changes to its connections at the list."""

    def watching(self) -> bool:
        """Whether any connection would be told now (when none is, nothing is built)."""

    def session_list_changed(self, event: SessionListEvent) -> None:
        """Tell every connection at the session list about ``event``."""


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
        store: Store | None = None,
        passwords: PasswordHasher | None = None,
        scrollback: int = DEFAULT_SCROLLBACK,
        max_sessions_per_user: int = DEFAULT_MAX_SESSIONS_PER_USER,
        builtin_sessions: bool = True,
        replication: Replication = ALONE,
        message_ids: Callable[[], str] | None = None,
    ) -> None:
        """``builtin_sessions=False`` (``--no-builtin-sessions``) starts without
        the nine built-in sessions; their ids, 1 to 9, stay theirs all the same,
        so history a previous run stored for them is never shown in a created
        session, and comes back with them when they are on again. In a cluster
        ``replication`` tells the other nodes what changes here
        (glozi/domain/replication.py)."""
        self.clock = clock
        self.replication = replication
        self.message_ids: Callable[[], str] = message_ids if message_ids is not None else MessageIds()
        """Gives each message its id (glozi/domain/history.py)."""
        self.idle_timeout = idle_timeout
        self.store: Store = store if store is not None else MemoryStore()
        self.passwords: PasswordHasher = passwords if passwords is not None else ScryptPasswords()
        self.scrollback = scrollback
        self.max_sessions_per_user = max_sessions_per_user
        self.fanout = fanout if fanout is not None else LocalFanout()
        self.quotes = quotes
        self.rng = rng if rng is not None else random.Random()
        self.exit_guard = ExitCodeGuard(exit_code, clock)
        self.password_guard = GuessGuard(clock, what="password")
        self.files: Any = None
        """The file rules (glozi/domain/files.py) when this server shares files, else ``None``."""
        self._on_exit = on_exit
        self.sessions: dict[int, Session] = {}
        self._sessions_by_name: dict[str, Session] = {}
        self.participants: set[Participant] = set()
        self._users: dict[str, Participant] = {}
        """Every nick in use, by ``name_key``: one namespace for every door."""
        self._renames = 0
        self._away_changes = 0
        self.most_users = 0
        """The most registered users at once since the server started (IRC's LUSERS)."""
        self.nick_history = NickHistory()
        """Nicks let go (disconnected or renamed), for WHOWAS."""
        self.session_list_listeners: list[SessionListListener] = []
        self._last_session_id = 0
        self.closing = False
        if builtin_sessions:
            for name in DEFAULT_SESSIONS:
                self._add_session(name, SERVER_CREATOR, None, permanent=True)
        else:
            self._last_session_id = len(DEFAULT_SESSIONS)

    def restore(self, snapshot: Snapshot) -> None:
        """Bring back what a previous run stored: its created sessions (same
        ids, names, creators, times and password hashes, with no members and
        no admin: the first to join becomes admin), every session's recent
        history, and the id counter, so no id is given twice. A stored session
        that clashes with a built-in one (by id, 1 to 9, whether or not they
        are on, or by name) is left in the store, not restored, and logged."""
        for stored in snapshot.sessions:
            if stored.id <= len(DEFAULT_SESSIONS) or name_key(stored.name) in self._sessions_by_name:
                self.log.warn("Not restoring session {id} ({name}): it clashes", id=stored.id, name=stored.name)
                continue
            session = Session(
                stored.id, stored.name, stored.created_at, stored.creator, stored.password_hash,
                permanent=False, scrollback=self.scrollback,
            )
            self._register(session)
            self._last_session_id = max(self._last_session_id, stored.id)
        self._last_session_id = max(self._last_session_id, snapshot.last_session_id)
        self.sessions = dict(sorted(self.sessions.items()))
        for session_id, messages in snapshot.history.items():
            session = self.sessions.get(session_id)
            if session is not None:
                session.history.extend(map(as_event, messages))

    def connect(self, connection: Connection, source: str = "unknown", *, registered: bool = True) -> "Participant":
        """Register a new connection from address ``source``; it starts at the session list.
        A door whose users introduce themselves first (IRC's NICK and USER)
        passes ``registered=False`` and calls ``registration_done`` after."""
        participant = Participant(self, connection, source)
        participant.registered = registered
        if self.closing:
            connection.deliver(ServerClosing(reason="The server is shutting down."))
            connection.close()
            return participant
        self.participants.add(participant)
        return participant

    def list_sessions(self) -> list[SessionInfo]:
        """Every session, in id order."""
        return [session.info() for session in self.sessions.values()]

    def watch_session_list(self, listener: SessionListListener) -> None:
        """Tell ``listener`` from now on when a session is added, changes or goes."""
        self.session_list_listeners.append(listener)

    def _tell_session_list(self, build: Callable[[], SessionListEvent]) -> None:
        # Joins and leaves are frequent under load: build nothing when nobody is at the list.
        watching = [listener for listener in self.session_list_listeners if listener.watching()]
        if watching:
            event = build()
            for listener in watching:
                listener.session_list_changed(event)

    def _session_changed(self, session: Session) -> None:
        # Whoever is at the list is in no session: a secret one is none of theirs.
        if not session.rules.secret:
            self._tell_session_list(lambda: SessionChanged(session=session.info()))

    def secrecy_changed(self, session: Session) -> None:
        """``session`` became secret (``+s``) or stopped being: the connections
        at the session list (members of no session) lose or gain it."""
        if session.rules.secret:
            self._tell_session_list(lambda: SessionRemoved(session_id=session.id, name=session.name))
        else:
            self._tell_session_list(lambda: SessionAdded(session=session.info()))

    def session_named(self, name: str) -> Session | None:
        """The session called ``name`` (any case), secret or not, or ``None``."""
        return self._sessions_by_name.get(name_key(name))

    def shutdown(self, reason: str) -> None:
        """Tell every connection the server is closing, then close them all."""
        self.closing = True
        event = ServerClosing(reason=reason)
        for participant in list(self.participants):
            for member in list(participant.members.values()):
                self._detach(member)
            self.participants.discard(participant)
            participant.connection.deliver(event)
            participant.connection.close()

    def claim_nick(self, participant: "Participant", nick: str) -> None:
        """Make ``nick`` ``participant``'s name, releasing its old one; raises
        ``name_taken`` when someone else holds it or it is reserved. Members'
        names are not changed here: see ``rename``."""
        if participant.nick == nick:
            return
        if is_reserved_username(nick):
            raise ChatError("name_taken", reserved_username_message(nick))
        # Interned, the nick is one string with its key (when lower case) and
        # an IRC user name that repeats it.
        nick = sys.intern(nick)
        key = name_key(nick)
        holder = self._users.get(key)
        if holder is not None and holder is not participant:
            raise ChatError("name_taken", f"The name {holder.nick} is in use on this server.")
        old = participant.nick
        self._let_go(participant)
        self._users[key] = participant
        participant.nick = nick
        self._count_users()
        self.replication.nick_claimed(participant, old)

    def registration_done(self, participant: "Participant") -> None:
        """``participant`` has finished introducing itself: it counts as a user from now on."""
        participant.registered = True
        self._count_users()
        self.replication.user_changed(participant)

    def _count_users(self) -> None:
        self.most_users = max(self.most_users, len(self.registered_users()))

    def release_nick(self, participant: "Participant") -> None:
        """Forget ``participant``'s nick, so someone else may take it; WHOWAS remembers who had it."""
        nick = participant.nick
        if self._let_go(participant) and nick is not None:
            self.replication.nick_released(participant, nick)

    def _let_go(self, participant: "Participant") -> bool:
        nick = participant.nick
        if nick is None or self._users.get(name_key(nick)) is not participant:
            return False
        del self._users[name_key(nick)]
        user_name, real_name = participant.user_name or nick, participant.real_name or nick
        self.nick_history.record(PastUser(nick, user_name, real_name, self.clock.seconds()))
        return True

    def user_named(self, nick: str) -> "Participant | None":
        """Who uses ``nick`` now (any case), or ``None``."""
        return self._users.get(name_key(nick))

    def users(self) -> "list[Participant]":
        """Everyone who holds a nick now, whichever door."""
        return list(self._users.values())

    def registered_users(self) -> "list[Participant]":
        """Those holding a nick who finished registering (an IRC client that sent
        NICK but not yet USER holds its nick but is not counted)."""
        return [user for user in self._users.values() if user.registered]

    def unregistered_connections(self) -> int:
        """Connections still registering, with a nick or not."""
        return sum(1 for participant in self.participants if not participant.registered)

    def counts(self) -> ServerCounts:
        """How many users (registered nicks held), server operators and
        sessions there are, the most users at once, the connections still
        registering, and the invisible users (``+i``)."""
        users = self.registered_users()
        operators = sum(1 for user in users if user.operator is not None)
        invisible = sum(1 for user in users if user.invisible)
        return ServerCounts(
            len(users), operators, len(self.sessions), self.most_users, self.unregistered_connections(), invisible
        )

    def rename(self, participant: "Participant", nick: str) -> str | None:
        """Change ``participant``'s nick to ``nick`` everywhere: each of its
        sessions gets ``MemberRenamed`` (the renamer excluded, whose door
        answers it). Returns the old nick; raises ``name_taken``."""
        old = participant.nick
        self.claim_nick(participant, nick)
        if old is None or old == nick:
            return old
        self._renames += 1
        for member in participant.members.values():
            session = member.session
            # The members keep their join order: the longest-present one is the admin's heir.
            session.members = {
                (name_key(nick) if m is member else key): m for key, m in session.members.items()
            }
            member.name = nick
            self.fanout.publish(
                session,
                MemberRenamed(session_id=session.id, old=old, new=nick, change=self._renames),
                exclude=member,
            )
            if session.admin is member:
                self._session_changed(session)
        return old

    def away_changed(self, participant: "Participant") -> None:
        """``participant`` went away or came back (``participant.away``): the
        other members of each of its sessions get ``MemberAway``."""
        self._tell_away(tuple(participant.members.values()))
        self.replication.user_changed(participant)

    def real_name_changed(self, participant: "Participant") -> None:
        """``participant`` has a new real name: the other members of each of its
        sessions get ``RealNameChanged``, one change number for all."""
        number = self.fresh_change_number()
        for member in tuple(participant.members.values()):
            change = RealNameChanged(
                session_id=member.session.id, name=member.name, real_name=participant.real_name or member.name,
                change=number,
            )  # fmt: skip
            self.fanout.publish(member.session, change, exclude=member)
        self.replication.user_changed(participant)

    def _tell_away(self, members: Sequence[Member]) -> None:
        """The others in each of ``members``' sessions learn its user's away
        message: one change, one event per session."""
        self._away_changes += 1
        for member in members:
            session = member.session
            away = MemberAway(
                session_id=session.id, name=member.name, away=member.participant.away, change=self._away_changes
            )
            self.fanout.publish(session, away, exclude=member)

    def request_exit(self) -> None:
        """The right exit code was given: shut down and stop the process."""
        self.log.warn("The server exit code was entered: shutting down.")
        self.shutdown("The server was closed with its exit code.")
        self._on_exit()

    def _add_session(
        self,
        name: str,
        creator: str,
        password_hash: str | None,
        permanent: bool,
        session_id: int | None = None,
        created_at: float | None = None,
    ) -> Session:
        self._last_session_id = max(self._last_session_id + 1, session_id or 0)
        session = Session(
            session_id or self._last_session_id,
            name,
            self.clock.seconds() if created_at is None else created_at,
            creator,
            password_hash,
            permanent,
            self.scrollback,
        )
        self._register(session)
        if not permanent:
            self._stored(self.store.add_session(session.stored()), "creating session {id}", session.id)
        return session

    def _register(self, session: Session) -> None:
        self.sessions[session.id] = session
        self._sessions_by_name[name_key(session.name)] = session

    def _remove_session(self, session: Session) -> None:
        """Forget a created session and its history, here and in the store."""
        if not session.rules.secret:
            self._tell_session_list(lambda: SessionRemoved(session_id=session.id, name=session.name))
        del self.sessions[session.id]
        del self._sessions_by_name[name_key(session.name)]
        session.history.clear()
        self.password_guard.target_gone(session.id)
        self._stored(self.store.delete_session(session.id), "deleting session {id}", session.id)
        self.replication.session_removed(session)
        if self.files is not None:
            # Reads come after the writes queued before them: the session's files are gone from it.
            self.files.sweep()

    def _stored(self, written: "Deferred[None]", what: str, session_id: int) -> None:
        # Nobody waits on these writes; a failure is logged (the store says why).
        written.addErrback(
            lambda reason: self.log.failure("The store failed " + what, reason, id=session_id)
        )

    def _admit(self, participant: "Participant", session: Session) -> Joined:
        username = participant.nick
        assert username is not None
        member = Member(participant, session, username, self.clock.seconds())
        session.members[name_key(username)] = member
        participant.members[session.id] = member
        if session.admin is None and not session.permanent:
            session.admin = member
        else:
            self.start_idle_timer(member)
        self.fanout.publish(
            session, MemberJoined(session_id=session.id, name=username, joined_at=member.joined_at), exclude=member
        )
        # The members already there learn that the joiner is away as they would any later change.
        if participant.away is not None:
            self._tell_away((member,))
        return Joined(
            session=session.info(),
            you=username,
            members=tuple(m.info() for m in session.members.values()),
            idle_timeout=None if member.is_admin else self.idle_timeout,
            history=tuple(session.history),
        )

    def _still_admissible(self, participant: "Participant", session: Session | None = None) -> None:
        """After waiting for a password hash: the world may have moved on."""
        if self.closing or not participant.connected:
            raise ChatError("wrong_state", "The connection closed before the join finished.")
        if session is not None and self.sessions.get(session.id) is not session:
            raise ChatError("no_such_session", f"The session {session.name} is gone.")

    def start_idle_timer(self, member: Member) -> None:
        """Start ``member``'s inactivity timer; a member connected to another
        node of a cluster has none here (its own node runs it)."""
        if member.participant.remote:
            return

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
        del member.participant.members[session.id]
        return session

    def remove_member(
        self, member: Member, reason: str, by: str | None = None, comment: str | None = None
    ) -> None:
        """``member`` leaves its session; the others are told (with the
        ``comment`` given: a kick's or a kill's reason, the leaver's own words,
        if any), and the admin role passes to the longest-present member when
        the admin leaves."""
        session = self._detach(member)
        # Whoever disconnected or was killed has no session list to go back to.
        if reason not in (LeaveReason.DISCONNECTED, LeaveReason.KILLED):
            member.deliver(
                Left(session_id=session.id, session_name=session.name, reason=reason, by=by, comment=comment)
            )
        self.fanout.publish(
            session, MemberLeft(session_id=session.id, name=member.name, reason=reason, by=by, comment=comment)
        )
        if session.admin is member:
            session.admin = None
            if session.members:
                self._crown(session, next(iter(session.members.values())), None)
        if not session.members and not session.permanent:
            self._remove_session(session)
        else:
            self._session_changed(session)

    def _crown(self, session: Session, heir: Member, by: str | None) -> None:
        session.admin = heir
        if heir.timer is not None:
            heir.timer.stop()
            heir.timer = None
        self.fanout.publish(session, AdminChanged(session_id=session.id, admin=heir.name, by=by))

    def make_admin(self, session: Session, heir: Member, by: str | None) -> None:
        """Hand ``session``'s admin role to its member ``heir``; the old admin
        becomes an ordinary member, with an idle timeout. Everyone is told."""
        old = session.admin
        self._crown(session, heir, by)
        if old is not None:
            self.start_idle_timer(old)
        self._session_changed(session)

    def announce(self, session: Session, event: Event) -> None:
        """Tell every member of ``session`` about ``event`` (a change of its
        rules), and the session list that the session changed."""
        self.fanout.publish(session, event)
        self._session_changed(session)

    def store_session(self, session: Session) -> None:
        """Keep ``session``'s new password hash (the store replaces its record)."""
        self._stored(self.store.add_session(session.stored()), "storing session {id}", session.id)
        self.replication.session_changed(session)

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

    def create_session(self, participant: "Participant", name: str, password: str | None) -> "Deferred[Joined]":
        """Create a session with ``username`` as its admin. With a password the
        session appears once the password's hash is computed (off the reactor)."""
        self._refuse_taken_name(name)
        creator = participant.nick
        assert creator is not None

        def hashed(password_hash: str | None) -> "Deferred[Joined]":
            if password is not None:
                self._still_admissible(participant)
                self._refuse_taken_name(name)
            created_at = self.clock.seconds()
            reserving = self.replication.reserve_session(name, creator, created_at, password_hash)
            return reserving.addCallback(reserved, password_hash, created_at)

        def reserved(session_id: int | None, password_hash: str | None, created_at: float) -> Joined:
            if session_id is not None:
                # The cluster's record answered later: the world may have moved on here too.
                self._still_admissible(participant)
                self._refuse_taken_name(name)
            return self._create(participant, name, password_hash, session_id, created_at)

        hashing: Deferred[str | None] = succeed(None) if password is None else self.passwords.hash(password)
        return hashing.addCallback(hashed)

    def _refuse_taken_name(self, name: str) -> None:
        existing = self._sessions_by_name.get(name_key(name))
        if existing is not None:
            raise ChatError("session_exists", f"A session named {existing.name} exists.")

    def _create(
        self,
        participant: "Participant",
        name: str,
        password_hash: str | None,
        session_id: int | None = None,
        created_at: float | None = None,
    ) -> Joined:
        creator = participant.nick
        assert creator is not None
        session = self._add_session(name, creator, password_hash, False, session_id, created_at)
        self.replication.session_created(session)
        self.log.info("Session {name} ({id}) created by {creator}", name=name, id=session.id, creator=creator)
        joined = self._admit(participant, session)
        self._tell_session_list(lambda: SessionAdded(session=session.info()))
        return joined

    def join_session(self, participant: "Participant", session_id: int, password: str | None) -> "Deferred[Joined]":
        """Join a session. A locked one checks the password (off the reactor)
        before anything else, so a wrong guess learns nothing about the names."""
        session = self.sessions.get(session_id)
        if session is None:
            raise ChatError("no_such_session", f"There is no session {session_id}.")
        if session.id in participant.members:
            raise ChatError("already_in_session", f"You are in session {session.name} already.")
        rules.check_admission(session, participant)
        if not session.locked:
            return succeed(self._admit_joiner(participant, session))
        if password is None:
            raise ChatError("password_required", f"Session {session.name} needs a password.")
        guard = self.password_guard
        try:
            guard.allow(participant, participant.source, session.id)
        except ChatError as refusal:
            participant.refused_guesses += 1
            if participant.refused_guesses < GUESS_REFUSALS_BEFORE_CLOSE:
                raise
            # It keeps guessing through the waits it is told: a script, not a person.
            raise ChatError(
                refusal.code,
                f"{refusal.message} Closing the connection.",
                disconnect=True,
                retry_after=refusal.retry_after,
            ) from None
        participant.refused_guesses = 0
        assert session.password_hash is not None

        def checked(matches: bool) -> Joined:
            if not matches:
                guard.failed(participant, participant.source)
                self.replication.guess_failed(participant.source)
                raise ChatError("wrong_password", f"Wrong password for session {session.name}.")
            guard.succeeded(participant, participant.source)
            self._still_admissible(participant, session)
            # The session's rules may have changed while the key was checked.
            rules.check_admission(session, participant)
            return self._admit_joiner(participant, session)

        return self.passwords.verify(password, session.password_hash).addCallback(checked)

    def _admit_joiner(self, participant: "Participant", session: Session) -> Joined:
        rules.admitted(session, participant)
        joined = self._admit(participant, session)
        self._session_changed(session)
        return joined


    # What another node of the cluster did, applied here (glozi/cluster/replica.py):
    # the changes only, since that node told its own members and kept the record.

    def adopt_user(self, participant: "Participant") -> None:
        """``participant``, connected to another node, holds its nick."""
        assert participant.nick is not None
        self._users[name_key(participant.nick)] = participant
        self._count_users()

    def forget_user(self, participant: "Participant") -> None:
        """``participant``, connected to another node, let go of its nick."""
        self._let_go(participant)

    def adopt_session(self, session: Session) -> None:
        """A session another node created; the session list is told."""
        self._register(session)
        self._last_session_id = max(self._last_session_id, session.id)
        if not session.rules.secret:
            self._tell_session_list(lambda: SessionAdded(session=session.info()))

    def drop_session(self, session: Session) -> None:
        """A session another node removed: its members here leave it quietly
        (they were told by the event that emptied or closed it)."""
        for member in list(session.members.values()):
            self._detach(member)
        session.admin = None
        if self.sessions.get(session.id) is not session:
            return
        if not session.rules.secret:
            self._tell_session_list(lambda: SessionRemoved(session_id=session.id, name=session.name))
        del self.sessions[session.id]
        del self._sessions_by_name[name_key(session.name)]
        session.history.clear()
        self.password_guard.target_gone(session.id)

    def detach(self, member: Member) -> None:
        """Take ``member`` out of its session here, telling nobody."""
        self._detach(member)

    def crowned_elsewhere(self, session: Session, heir: Member | None) -> None:
        """Another node gave ``session``'s admin role to ``heir``: a member
        here who lost it gets an idle timer, one who got it loses its timer."""
        old = session.admin
        if old is heir:
            return
        session.admin = heir
        if heir is not None and heir.timer is not None:
            heir.timer.stop()
            heir.timer = None
        if old is not None and old.session.members.get(name_key(old.name)) is old and old.timer is None:
            self.start_idle_timer(old)

    def tell_session_changed(self, session: Session) -> None:
        """The connections at the session list learn that ``session`` changed."""
        self._session_changed(session)

    def fresh_change_number(self) -> int:
        """A number for a rename or away change no change made here has had."""
        self._renames = self._away_changes = max(self._renames, self._away_changes) + 1
        return self._renames


def _history_unreadable(reason: Failure) -> NoReturn:
    raise ChatError("not_stored", "The server could not read the history; try again.")


class Participant:
    """One connection's side of the chat: one user, known by one nick on the
    whole server, a member of any number of sessions (up to the server's
    ``max_sessions_per_user``), possibly away."""

    remote = False
    """Whether the user is connected to another node of the cluster (glozi/cluster/replica.py)."""

    # One per connection: slots keep it small (docs/performance.md, I1).
    __slots__ = (
        "__weakref__",
        "admin_actions",
        "away",
        "connected",
        "connected_at",
        "connection",
        "exit_code_failures",
        "invisible",
        "joining",
        "joins",
        "last_spoke",
        "members",
        "nick",
        "operator",
        "real_name",
        "refused_guesses",
        "registered",
        "server",
        "source",
        "user_name",
        "wallops",
    )

    def __init__(self, server: ChatServer, connection: Connection, source: str) -> None:
        self.server = server
        self.connection = connection
        self.source = source
        self.nick: str | None = None
        """The user's name in every session, unique on the server; ``None`` until first set."""
        self.user_name: str | None = None
        self.real_name: str | None = None
        """What an IRC client gave in USER; ``None`` (the nick stands for them) for native users."""
        self.members: dict[int, Member] = {}
        """This user's membership of each session it is in, by session id, in the order joined."""
        self.away: str | None = None
        """The away message, or ``None`` when present."""
        self.operator: str | None = None
        """The operator name this user logged in as (glozi/domain/operators.py), or ``None``."""
        self.wallops = False
        """Whether this user asked for operators' wallops."""
        self.invisible = False
        """IRC's user mode ``+i``: hidden from masks (WHO) and from the member
        lists of sessions this user shares with nobody asking (NAMES)."""
        self.connected = True
        self.registered = True
        """False while its door still waits for it to introduce itself (IRC's NICK and USER)."""
        self.connected_at = self.last_spoke = server.clock.seconds()
        self.joining = False
        """A join or creation is waiting for a password hash."""
        self.exit_code_failures = 0
        self.refused_guesses = 0
        """Password guesses refused for waiting too little, in a row."""
        self.joins = TokenBucket(server.clock, JOIN_BURST, JOIN_RATE)
        self.admin_actions = TokenBucket(server.clock, ADMIN_BURST, ADMIN_RATE)

    def _limit_joins(self) -> None:
        if not self.joins.try_take():
            wait = retry_after(self.joins.seconds_until())
            raise ChatError("rate_limited", f"Too many joins; try again in {wait} s.", retry_after=wait)

    def _require_no_join_in_flight(self) -> None:
        if self.joining:
            raise ChatError("wrong_state", "A join is already in progress; wait for its answer.")

    def _require_lobby(self) -> None:
        if self.members:
            names = ", ".join(member.session.name for member in self.members.values())
            raise ChatError("wrong_state", f"You are in session {names}; /quit it first.")
        self._require_no_join_in_flight()

    def member_of(self, session_id: int | None) -> Member:
        """This user's membership of session ``session_id``; with ``None``, of
        its only session. Raises ``wrong_state`` in no session,
        ``missing_field`` when ``None`` is ambiguous (2 sessions or more) and
        ``not_in_session`` for a session it is not in."""
        if session_id is None:
            if len(self.members) == 1:
                return next(iter(self.members.values()))
            if not self.members:
                raise ChatError("wrong_state", "You are not in a session; join or create one first.")
            raise ChatError(
                "missing_field", "You are in more than one session: the field 'session' must say which."
            )
        member = self.members.get(session_id)
        if member is None:
            if not self.members:
                raise ChatError("wrong_state", "You are not in a session; join or create one first.")
            raise ChatError("not_in_session", f"You are not in session {session_id}.")
        return member

    def list_sessions(self) -> list[SessionInfo]:
        """Every session, in id order, but the secret ones (``+s``) this user is not in."""
        return [
            session.info()
            for session in self.server.sessions.values()
            if not session.rules.secret or session.id in self.members
        ]

    def sessions(self) -> list[SessionInfo]:
        """The sessions this user is in now, in the order joined.

        Doors whose clients ask for state at any time (IRC's MODE, TOPIC) read
        it here; the native door learns it from events instead.
        """
        return [member.session.info() for member in self.members.values()]

    def session_members(self, session_id: int) -> tuple[MemberInfo, ...]:
        """Everyone in session ``session_id`` now, longest-present first (IRC's
        NAMES and WHO); raises as ``member_of`` when this user is not in it."""
        member = self.member_of(session_id)
        return tuple(m.info() for m in member.session.members.values())

    def visible_members(self, session_id: int) -> tuple[MemberInfo, ...]:
        """Who this user may see in session ``session_id`` (IRC's NAMES):
        everyone when it is a member, else the members who are not
        invisible; ``()`` when there is no such session."""
        if session_id in self.members:
            return self.session_members(session_id)
        session = self.server.sessions.get(session_id)
        if session is None:
            return ()
        return tuple(m.info() for m in session.members.values() if not m.participant.invisible)

    def join(self, session_id: int, username: str, password: str | None = None) -> "Deferred[Joined]":
        """Join an existing session as ``username``; fails with ``ChatError`` giving the reason on refusal."""
        return self._enter(username, lambda: self.server.join_session(self, session_id, password))

    def create(self, session_name: str, username: str, password: str | None = None) -> "Deferred[Joined]":
        """Create a session and join it as its admin; fails with ``ChatError`` on refusal."""
        return self._enter(username, lambda: self.server.create_session(self, session_name, password))

    def _use_name(self, username: str) -> None:
        """A join names the user: in no session, ``username`` becomes (or stays)
        the nick; in some, it must be the nick already in use there."""
        if self.members:
            assert self.nick is not None
            if name_key(username) != name_key(self.nick):
                raise ChatError(
                    "username_mismatch",
                    f"You are {self.nick} in your sessions; join as {self.nick}, or change your name first.",
                )
            return
        if self.nick is None or username != self.nick:
            self.server.claim_nick(self, username)

    def _enter(self, username: str, start: Callable[[], "Deferred[Joined]"]) -> "Deferred[Joined]":
        def checked_start() -> "Deferred[Joined]":
            self._require_no_join_in_flight()
            if len(self.members) >= self.server.max_sessions_per_user:
                limit = self.server.max_sessions_per_user
                raise ChatError(
                    "too_many_sessions", f"You are in {limit} sessions, the most one user may be in; leave one first."
                )
            self._use_name(username)
            self._limit_joins()
            return start()

        entering: Deferred[Joined] = maybeDeferred(checked_start)
        if not entering.called:
            # One join at a time per connection: that bounds the hashing work a client can queue.
            self.joining = True

            def finished(result: object) -> object:
                self.joining = False
                return result

            entering.addBoth(finished)
        return entering

    def rename(self, nick: str) -> str | None:
        """Change this user's nick in every session it is in; returns the old
        one. Raises ``name_taken``, or ``wrong_state`` while a join is in flight
        (it was asked under the old name)."""
        self._require_no_join_in_flight()
        return self.server.rename(self, nick)

    def say(
        self, text: str, session_id: int | None = None, *, notice: bool = False, action: bool = False,
        echo: bool = False, client_tags: str = "",
    ) -> "Deferred[Message]":
        """Send ``text`` to everyone else in the session at once (``None``: the
        only one, see ``member_of``), marked as a notice when ``notice``
        (stored like any message), as a ``/me`` action when ``action``; the
        result (the ``Message`` as delivered: its id and time) comes once the message is stored. Fails with
        ``not_stored`` when the store could not commit it; raises
        ``ChatError`` at once when the session is not named or not one of
        this user's, or a ban matches this member or the session is moderated
        (``+m``), and this member is neither its admin nor voiced. A session
        that is ``-n`` takes a message from a user outside it too (named by
        ``session_id``): every member gets it, and a ban matching the sender
        or ``+m`` refuses it. With ``echo`` (IRC's echo-message) the sender's
        own connection is delivered the message too, as every member is: the
        same event, id and time, in the same order. ``client_tags`` are the
        IRCv3 client-only tags it was sent with (``Message.client_tags``)."""
        try:
            member = self.member_of(session_id)
        except ChatError:
            session = self._open_to_outsiders(session_id)
            if session is None or self.nick is None:
                raise
            rules.may_speak_from_outside(session, self.nick)
            return self._send(session, self.nick, text, notice, action, exclude=None, client_tags=client_tags)
        self._touch(member)
        session = member.session
        # Only a moderated session or one with bans can silence anyone: the common case checks nothing more.
        if session.rules.moderated or session.rules.bans:
            rules.may_speak(member)
        return self._send(
            session, member.name, text, notice, action, exclude=None if echo else member, client_tags=client_tags
        )

    def _open_to_outsiders(self, session_id: int | None) -> Session | None:
        """Session ``session_id`` when it takes messages from outside (``-n``)."""
        session = self.server.sessions.get(session_id) if session_id is not None else None
        return None if session is None or session.rules.no_external else session

    def share_file(self, session_id: int, text: str, shared: SharedFile) -> "Deferred[Message]":
        """Announce ``shared`` in session ``session_id`` as the action ``text``
        (glozi/domain/files.py): stored, and sent to every other member, as ``say`` does."""
        member = self.member_of(session_id)
        self._touch(member)
        return self._send(member.session, member.name, text, False, True, exclude=member, shared=shared)

    def _send(
        self, session: Session, sender: str, text: str, notice: bool, action: bool, exclude: Member | None,
        client_tags: str = "", shared: SharedFile | None = None,
    ) -> "Deferred[Message]":
        sent_at = self.last_spoke = self.server.clock.seconds()
        msgid = self.server.message_ids()
        message = Message(
            session_id=session.id, sender=sender, text=text, sent_at=sent_at, notice=notice, action=action,
            msgid=msgid, client_tags=client_tags, file=shared,
        )  # fmt: skip
        fanout = self.server.fanout
        written = self.server.store.add_message(
            StoredMessage(session.id, sender, text, sent_at, action, msgid, shared)
        )
        fanout.publish_message(session, message, written, exclude=exclude)

        def not_stored(reason: object) -> Message:
            session.history.remove(message)
            if fanout.delivers_before_commit:
                raise ChatError(
                    "not_stored",
                    "The server could not store your message: the others saw it, but it is not in the history.",
                )
            raise ChatError("not_stored", "The server could not store your message: nobody got it; send it again.")

        return written.addCallbacks(lambda _: message, not_stored)

    def send_ctcp(self, body: str, session_id: int, *, notice: bool = False) -> bool:
        """Send a CTCP ``body`` other than ACTION to everyone else in session
        ``session_id``, not stored; ``False`` (nothing sent) when the session
        is ``+C``. Raises ``ChatError`` as ``say`` does (not a member,
        ``banned``, ``moderated``). Only the IRC door has CTCP, so ``+C`` is
        no error code of the native protocol."""
        member = self.member_of(session_id)
        self._touch(member)
        session = member.session
        if session.rules.no_ctcp:
            return False
        rules.may_speak(member)
        self.last_spoke = self.server.clock.seconds()
        self.server.fanout.publish(
            session, SessionCtcp(session_id=session.id, sender=member.name, body=body, notice=notice), exclude=member
        )
        return True

    def send_tags(self, client_tags: str, session_id: int, *, echo: bool = False) -> None:
        """Send an IRCv3 ``TAGMSG`` (``client_tags``, no text) to everyone else
        in session ``session_id`` (with ``echo``, to this user too), not
        stored. Raises ``ChatError`` as ``say`` does for a member (not a
        member, ``banned``, ``moderated``)."""
        member = self.member_of(session_id)
        session = member.session
        if session.rules.moderated or session.rules.bans:
            rules.may_speak(member)
        tagged = SessionTagMessage(session_id=session.id, sender=member.name, client_tags=client_tags)
        self.server.fanout.publish(session, tagged, exclude=None if echo else member)

    def send_private(
        self, to: str, text: str, *, notice: bool = False, action: bool = False, ctcp: bool = False,
        client_tags: str = "", tags_only: bool = False,
    ) -> "tuple[PrivateMessage, str | None]":
        """Send ``text`` to the user named ``to`` alone, never stored: a later
        holder of the name must not read it (``action``, ``ctcp``,
        ``client_tags``, ``tags_only``: see ``PrivateMessage``). Returns the message as delivered (its time stamp
        and id) and the recipient's away message (``None`` when present). Raises ``no_such_user`` when nobody
        connected has that name, and ``wrong_state`` before this user has a
        name."""
        if self.nick is None:
            raise ChatError("wrong_state", "You have no name yet; join or create a session first.")
        target = self.server.user_named(to)
        if target is None:
            raise ChatError("no_such_user", f"Nobody named {to} is connected.")
        sent_at = self.last_spoke = self.server.clock.seconds()
        message = PrivateMessage(
            sender=self.nick, text=text, sent_at=sent_at, notice=notice, action=action, ctcp=ctcp,
            msgid=self.server.message_ids(), client_tags=client_tags, tags_only=tags_only,
        )  # fmt: skip
        target.connection.deliver(message)
        return message, target.away

    def read_history(self, session_id: int, query: HistoryQuery) -> "Deferred[list[Message]]":
        """The stored messages of session ``session_id`` that ``query`` asks
        for, oldest first, as ``Message`` events with their ids and stored
        times; at most ``HISTORY_LIMIT``. Raises ``ChatError`` as
        ``member_of`` does: only a member reads a session's history. Fails
        with ``not_stored`` when the store could not be read."""
        self.member_of(session_id)
        if query.limit > HISTORY_LIMIT:
            query = replace(query, limit=HISTORY_LIMIT)

        def as_events(stored: list[StoredMessage]) -> list[Message]:
            return [as_event(m) for m in stored]

        return self.server.store.read_history(session_id, query).addCallbacks(as_events, _history_unreadable)

    def history_targets(self, after: float, before: float, limit: int) -> "Deferred[list[tuple[int, float]]]":
        """The sessions this user is in with a message stored strictly between
        ``after`` and ``before``, each with its newest such message's time,
        newest first; at most ``TARGETS_LIMIT``. Private messages are never
        stored, so no user is among them."""
        limit = min(limit, TARGETS_LIMIT)
        return self.server.store.history_targets(list(self.members), after, before, limit).addErrback(
            _history_unreadable
        )

    def set_real_name(self, real_name: str) -> None:
        """Take ``real_name`` as this user's real name (IRCv3's ``SETNAME``);
        the other members of its sessions are told (``RealNameChanged``)."""
        self.real_name = real_name
        self.server.real_name_changed(self)

    def set_away(self, message: str | None) -> None:
        """Mark this user away with ``message``, or present again with
        ``None``; the other members of its sessions are told (``MemberAway``),
        unless nothing changed."""
        if message == self.away:
            return
        self.away = message
        self.server.away_changed(self)

    def whois(self, nick: str) -> UserInfo:
        """What is known of the connected user ``nick`` (of their secret
        sessions, only those this user shares); raises ``no_such_user``."""
        user = self.server.user_named(nick)
        if user is None or user.nick is None:
            raise ChatError("no_such_user", f"Nobody named {nick} is connected.")
        idle = int(self.server.clock.seconds() - user.last_spoke)
        shown = (m.session for m in user.members.values() if not m.session.rules.secret or m.session.id in self.members)
        return UserInfo(
            user.nick,
            tuple(session.info() for session in shown),
            user.away,
            idle,
            user.connected_at,
            user.user_name or user.nick,
            user.real_name or user.nick,
            operator=user.operator is not None,
        )

    def users_matching(self, mask: str, also: tuple[str, ...] = ()) -> "list[Participant]":
        """The users ``mask`` (``*`` any run, ``?`` one character, any case)
        matches by nick, user name or real name, or by one of ``also`` (what a
        door says of every user, such as IRC's host), among the users who are
        not invisible (IRC's ``+i``), this user, and those sharing a session
        with it. An exact nick is answered whoever holds it."""
        holder = self.server.user_named(mask)
        if holder is not None and holder.nick is not None:
            return [holder]
        everyone = any(matches(mask, word) for word in also)
        found = []
        for user in self.server.users():
            if user.invisible and user is not self and not self.members.keys() & user.members.keys():
                continue
            assert user.nick is not None
            words = (user.nick, user.user_name or user.nick, user.real_name or user.nick)
            if everyone or any(matches(mask, word) for word in words):
                found.append(user)
        return found

    def whowas(self, nick: str, count: int | None = None) -> list[PastUser]:
        """Who held ``nick`` before (disconnected or renamed), newest first; at most ``count``."""
        return self.server.nick_history.lookup(nick, count)

    def run_command(self, name: str, args: str, session_id: int | None = None) -> "str | Deferred[str]":
        """Run a slash command in session ``session_id`` (``None``: the only one,
        see ``member_of``); returns the text to show the caller, or a Deferred
        of it (``/lock`` hashes its key first)."""
        member = self.member_of(session_id)
        self._touch(member)
        return commands.run(member, name, args)

    def touch(self, session_id: int | None = None) -> None:
        """Count activity for the inactivity timer: a door received a ``say``
        or command it refused before the domain saw it (a malformed one), for
        session ``session_id`` or, when it could not tell, for every session."""
        member = self.members.get(session_id) if session_id is not None else None
        for each in (member,) if member is not None else tuple(self.members.values()):
            self._touch(each)

    def submit_exit_code(self, code: str) -> None:
        """Shut the server down if ``code`` is its exit code."""
        self._require_lobby()
        try:
            self.server.exit_guard.check(code, self.exit_code_failures, self.source)
        except ChatError as error:
            if error.code == "wrong_exit_code":
                self.exit_code_failures += 1
                self.server.replication.exit_code_failed(self.source)
                self.server.log.warn("A wrong server exit code was entered.")
            raise
        self.server.request_exit()

    def disconnected(self, comment: str | None = None) -> None:
        """The connection is gone: leave every session quietly for us, loudly
        for others (with the user's parting ``comment``, as IRC's QUIT
        message, if any), and free the nick."""
        self.connected = False
        for member in list(self.members.values()):
            self.server.remove_member(member, LeaveReason.DISCONNECTED, comment=comment)
        self.server.release_nick(self)
        self.server.participants.discard(self)
        self.server.password_guard.disconnected(self)
        if self.server.files is not None:
            self.server.files.forget(self)
        # The connection refers to us too; dropping our side lets both be
        # freed as soon as the door lets go, without the cycle collector.
        self.connection = CLOSED

    @staticmethod
    def _touch(member: Member) -> None:
        if member.timer is not None:
            member.timer.touch()
