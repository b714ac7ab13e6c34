"""This node's copy of the whole cluster's chat, and what it tells the others.

Every node holds every session, member and user of the cluster in its own
``ChatServer``: a user connected to another node is a ``RemoteParticipant``
whose ``RemoteConnection`` sends what is addressed to it alone (a private
message, a kick's ``Left``) to its node. ``Replica`` is both directions of
the bus: as the domain's ``Replication`` it publishes what changes here
beside the session events (names, sessions, wrong guesses) and keeps the
cluster's record (glozi/cluster/record.py) up to date; as the bus's listener
it applies what the other nodes did, and delivers their events to the
members connected here. Nothing received is decided again here: the node
where an action happened decided it.
"""

import json
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from glozi.cluster.errors import SessionNameTaken
from glozi.domain.chat import ChatServer, Participant
from glozi.domain.errors import ChatError
from glozi.domain.events import (
    AdminChanged,
    Event,
    Invited,
    Killed,
    LeaveReason,
    Left,
    MemberAway,
    MemberJoined,
    MemberLeft,
    MemberRenamed,
)
from glozi.domain.names import name_key
from glozi.domain.sessions import Member, Session
from glozi.fanout.envelope import decode_event, encode_event, message_from, pack, session_state, unpack
from glozi.fanout.redis import ClusterFanout

SERVER_NAME = "server"
"""Who a refusal the cluster makes comes from (``Killed.by``)."""
GONE_ELSEWHERE = "The session was removed on another server of this network as you joined."
_OWN_LEAVES = frozenset({LeaveReason.QUIT, LeaveReason.TIMEOUT, LeaveReason.DISCONNECTED})
"""Leaves a user's own node decides (the others, a kick or a kill, any node decides for anyone)."""


class Record(Protocol):
    """What the replica keeps in the cluster's record (glozi/cluster/record.py)."""

    def reserve_session(
        self, name: str, creator: str, created_at: float, password_hash: str | None
    ) -> "Deferred[int]": ...
    def claim_nick(self, key: str, nick: str, node: str) -> "Deferred[bool]": ...
    def release_nick(self, key: str, node: str) -> "Deferred[None]": ...
    def update_user(
        self, key: str, node: str, user_name: str | None, real_name: str | None, away: str | None
    ) -> "Deferred[None]": ...
    def member_joined(self, session_id: int, key: str, name: str, node: str, joined_at: float) -> "Deferred[None]": ...
    def member_left(self, session_id: int, key: str, node: str) -> "Deferred[None]": ...
    def member_renamed(self, old_key: str, new_key: str, new_name: str, node: str) -> "Deferred[None]": ...
    def session_state(self, session_id: int, state_json: str) -> "Deferred[None]": ...


class RemoteConnection:
    """A user of another node as the domain delivers to it: whatever is
    addressed to this user alone is sent to its node."""

    __slots__ = ("node", "send", "speaks_ctcp", "user")

    def __init__(self, node: str, user: "RemoteParticipant", send: Callable[[dict[str, Any]], None]) -> None:
        self.node = node
        # Not the user itself: a cycle would keep both until the collector ran.
        self.user = weakref.ref(user)
        self.send = send
        self.speaks_ctcp = False
        """Whether the user came through the IRC door of its node (which passes CTCP on)."""

    def _nick(self) -> str | None:
        user = self.user()
        return user.nick if user is not None else None

    def deliver(self, event: Event) -> None:
        self.send({"kind": "to", "to_node": self.node, "nick": self._nick(), "event": encode_event(event)})

    def close(self) -> None:
        self.send({"kind": "close", "to_node": self.node, "nick": self._nick()})


class RemoteParticipant(Participant):
    """A user connected to another node of the cluster."""

    __slots__ = ("node",)
    remote = True

    def __init__(self, chat: ChatServer, node: str, nick: str, send: Callable[[dict[str, Any]], None]) -> None:
        super().__init__(chat, RemoteConnection(node, self, send), f"node {node}")
        self.node = node
        self.nick = nick


def _json_default(value: object) -> object:
    raise TypeError(f"{value!r} does not travel")


class Replica:
    """Both directions of this node's part in the cluster (see the module's doc)."""

    log = Logger()

    def __init__(self, node: str, chat: ChatServer, fanout: ClusterFanout, publish: Callable[[bytes], None], record: Record) -> None:
        self.node = node
        self.chat = chat
        self.fanout = fanout
        self._publish = publish
        self.record = record
        self.keeping_record = True
        """Off once the node is stopping: its record rows are swept as a whole then."""
        self._shadowed: dict[str, RemoteParticipant] = {}
        """Remote claims of a nick a user here holds too, until the record decides between them."""
        self._changes: dict[tuple[str, str, int], int] = {}
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "message": self._message,
            "event": self._event,
            "to": self._to,
            "close": self._close,
            "user": self._user,
            "session_added": self._session_added,
            "session_removed": self._session_removed,
            "session_changed": self._session_changed,
            "guess": lambda envelope: chat.password_guard.failed_elsewhere(str(envelope["source"])),
            "exit": lambda envelope: chat.exit_guard.failed_elsewhere(str(envelope["source"])),
            "node_leaving": lambda envelope: self.drop_node(str(envelope["node"])),
            "roster_request": self._roster_request,
            "roster": self._roster,
        }
        self._told_left: set[tuple[int, str]] = set()
        """Members here another node sent back to the list (a kick, a close) whose session has not yet told us."""
        self.rosters: dict[str, set[int]] = {}
        """The sessions each node's roster listed, since ``ask_rosters``."""
        fanout.published = self._published

    # -- telling the others -------------------------------------------------

    def send(self, envelope: dict[str, Any]) -> None:
        envelope["node"] = self.node
        self._publish(pack(envelope))

    def _keep(self, what: str, write: "Callable[[], Deferred[Any]]") -> None:
        """A write to the record (which applies its calls in the order made); a failure is logged."""
        if self.keeping_record:
            write().addErrback(lambda reason: self.log.failure("The cluster record failed " + what, reason))

    def reserve_session(
        self, name: str, creator: str, created_at: float, password_hash: str | None
    ) -> "Deferred[int | None]":
        def taken(reason: Any) -> None:
            reason.trap(SessionNameTaken)
            raise ChatError("session_exists", f"A session named {name} exists.")

        return self.record.reserve_session(name, creator, created_at, password_hash).addErrback(taken)

    def session_created(self, session: Session) -> None:
        self.fanout.sequencer.start(session.id, 0)
        self.send(
            {
                "kind": "session_added",
                "id": session.id,
                "name": session.name,
                "created_at": session.created_at,
                "creator": session.creator,
                "password_hash": session.password_hash,
            }
        )

    def session_removed(self, session: Session) -> None:
        self.fanout.sequencer.forget(session.id)
        self.send({"kind": "session_removed", "id": session.id})

    def session_changed(self, session: Session) -> None:
        self.send({"kind": "session_changed", "id": session.id, "password_hash": session.password_hash})

    def nick_claimed(self, participant: Any, old: str | None) -> None:
        if participant.remote:
            return
        nick = participant.nick
        self.send({"kind": "user", "op": "claim", "old": old, **self._user_fields(participant)})
        if old is not None and name_key(old) != name_key(nick):
            self._keep("releasing a nick", lambda: self.record.release_nick(name_key(old), self.node))
            self._keep("renaming a member", lambda: self.record.member_renamed(name_key(old), name_key(nick), nick, self.node))

        def decided(ours: bool) -> None:
            if not ours and participant.connected and participant.nick == nick:
                self._lost_name(participant, nick)

        if not self.keeping_record:
            return
        claim = self.record.claim_nick(name_key(nick), nick, self.node)
        claim.addCallbacks(decided, lambda reason: self.log.failure("The cluster record failed claiming a nick", reason))

    def _lost_name(self, participant: Participant, nick: str) -> None:
        """Another node's user took ``nick`` at the same moment, and the record gave it to them."""
        self.log.info("{nick} was claimed on another node at the same moment; disconnecting ours", nick=nick)
        participant.connection.deliver(
            Killed(by=SERVER_NAME, reason=f"The name {nick} was taken on another server of this network at the same moment; connect again with another name.")
        )
        participant.connection.close()

    def nick_released(self, participant: Any, nick: str) -> None:
        if participant.remote:
            return
        key = name_key(nick)
        self.send({"kind": "user", "op": "release", "nick": nick})
        self._keep("releasing a nick", lambda: self.record.release_nick(key, self.node))
        self._adopt_shadow(key)

    def _adopt_shadow(self, key: str) -> None:
        """The name's holder here let it go: another node's user who claimed it at the same time holds
        it now, with the memberships that waited aside."""
        shadow = self._shadowed.pop(key, None)
        if shadow is None or shadow.nick is None or self.chat.user_named(shadow.nick) is not None:
            return
        self.chat.adopt_user(shadow)
        for session_id, member in list(shadow.members.items()):
            session = member.session
            if self.chat.sessions.get(session_id) is not session or session.member_named(member.name) is not None:
                del shadow.members[session_id]
                continue
            session.members[name_key(member.name)] = member
            joined = MemberJoined(session_id=session_id, name=member.name, joined_at=member.joined_at)
            self.fanout.deliver_here(session, joined, member.name)
            self.chat.tell_session_changed(session)

    def user_changed(self, participant: Any) -> None:
        if participant.remote or participant.nick is None:
            return
        self.send({"kind": "user", "op": "update", **self._user_fields(participant)})
        key, user_name, real_name, away = name_key(participant.nick), participant.user_name, participant.real_name, participant.away
        self._keep("updating a user", lambda: self.record.update_user(key, self.node, user_name, real_name, away))

    def reannounce(self) -> None:
        """Tell the others (and the record) again of every user connected here
        and their memberships: whoever missed them adds them, the others change nothing."""
        for user in self.chat.users():
            if user.remote:
                continue
            self.nick_claimed(user, None)
            for member in user.members.values():
                session = member.session
                self.fanout.publish_elsewhere(
                    session, MemberJoined(session_id=session.id, name=member.name, joined_at=member.joined_at), member
                )

    def guess_failed(self, source: str) -> None:
        self.send({"kind": "guess", "source": source})

    def exit_code_failed(self, source: str) -> None:
        self.send({"kind": "exit", "source": source})

    @staticmethod
    def _user_fields(participant: Participant) -> dict[str, Any]:
        return {
            "nick": participant.nick,
            "user_name": participant.user_name,
            "real_name": participant.real_name,
            "away": participant.away,
            "registered": participant.registered,
            "operator": participant.operator,
            "ctcp": bool(getattr(participant.connection, "speaks_ctcp", False)),
        }

    def _published(self, session: Session, event: Event) -> None:
        """The record follows the session events this node published."""
        if isinstance(event, MemberJoined):
            joined = session.member_named(event.name)
            key, name, at = name_key(event.name), event.name, event.joined_at
            if joined is not None and not joined.participant.remote:
                self._keep("adding a member", lambda: self.record.member_joined(session.id, key, name, self.node, at))
        elif isinstance(event, MemberLeft):
            key = name_key(event.name)
            leaver = self.chat.user_named(event.name)
            node = leaver.node if isinstance(leaver, RemoteParticipant) else self.node
            self._keep("removing a member", lambda: self.record.member_left(session.id, key, node))
        if not isinstance(event, MemberLeft | MemberAway) or session.admin is not None:
            self.keep_state(session)

    def keep_state(self, session: Session) -> None:
        state = json.dumps(session_state(session), default=_json_default)
        self._keep("keeping a session's state", lambda: self.record.session_state(session.id, state))

    # -- what the others did ------------------------------------------------

    def received(self, payload: bytes) -> None:
        """One envelope from the bus (the bus's ``on_message``)."""
        try:
            envelope = unpack(payload)
            if envelope["node"] == self.node:
                return
            handler = self._handlers.get(envelope["kind"])
            if handler is None:
                raise ValueError(f"unknown kind {envelope['kind']!r}")
            handler(envelope)
        # One bad envelope (another version's node) must not stop the stream.
        except (KeyError, TypeError, ValueError) as error:
            self.log.warn("Ignoring a bad envelope from the bus: {error}", error=error)

    def _message(self, envelope: dict[str, Any]) -> None:
        seq, message, exclude = message_from(envelope)
        self.fanout.arrived(seq, message, exclude)

    def remote_user(self, nick: str, node: str) -> RemoteParticipant | None:
        user = self.chat.user_named(nick)
        if isinstance(user, RemoteParticipant) and user.node == node:
            return user
        shadow = self._shadowed.get(name_key(nick))
        return shadow if shadow is not None and shadow.node == node else None

    def _user(self, envelope: dict[str, Any]) -> None:
        node, op, nick = str(envelope["node"]), envelope["op"], str(envelope["nick"])
        if op == "release":
            user, key = self.remote_user(nick, node), name_key(nick)
            if user is not None and self._shadowed.get(key) is user:
                del self._shadowed[key]
            elif user is not None:
                self.chat.forget_user(user)
                self._adopt_shadow(key)
            return
        user = self.remote_user(nick, node)
        old = envelope.get("old")
        if user is None and op == "claim" and isinstance(old, str):
            user = self.remote_user(old, node)
            if user is not None:
                self.chat.forget_user(user)
                self._shadowed.pop(name_key(old), None)
                user.nick = nick
        if user is None:
            user = RemoteParticipant(self.chat, node, nick, self.send)
        user.user_name, user.real_name = envelope.get("user_name"), envelope.get("real_name")
        user.away, user.operator = envelope.get("away"), envelope.get("operator")
        user.registered = bool(envelope.get("registered", True))
        user.connection.speaks_ctcp = bool(envelope.get("ctcp"))
        self.hold(user)

    def hold(self, user: RemoteParticipant) -> None:
        assert user.nick is not None
        holder = self.chat.user_named(user.nick)
        if holder is user:
            return
        if holder is not None:
            # Both claimed it at once (here, or on two other nodes; or the holder's node died unnoticed yet):
            # the record decides, the loser is disconnected, and the one who stays takes the name here then.
            self._shadowed[name_key(user.nick)] = user
            return
        self.chat.adopt_user(user)

    def _renumbered(self, node: str, kind: str, change: int) -> int:
        key = (node, kind, change)
        number = self._changes.get(key)
        if number is None:
            if len(self._changes) > 1000:
                self._changes.clear()
            number = self._changes[key] = self.chat.fresh_change_number()
        return number

    def _event(self, envelope: dict[str, Any]) -> None:
        session = self.chat.sessions.get(int(envelope["session"]))
        if session is None:
            return
        node = str(envelope["node"])
        event: Event | None = decode_event(envelope["event"])
        if isinstance(event, MemberJoined):
            event = self._joined(session, event, node)
        elif isinstance(event, MemberLeft):
            member = session.member_named(event.name)
            shadow = self._shadowed.get(name_key(event.name))
            if shadow is not None and shadow.node == node:
                shadow.members.pop(session.id, None)
            if member is None or (event.reason in _OWN_LEAVES and not self._of_node(member, node)):
                event = None
            else:
                self.chat.detach(member)
                self._told_left.discard((session.id, name_key(event.name)))
        elif isinstance(event, MemberRenamed):
            event = self._renamed(session, event, node)
        elif isinstance(event, MemberAway):
            member = session.member_named(event.name)
            if member is None or not self._of_node(member, node):
                event = None
            else:
                if member.participant.remote:
                    member.participant.away = event.away
                event = MemberAway(session_id=session.id, name=event.name, away=event.away, change=self._renumbered(node, "away", event.change))
        if "state" in envelope:
            self.apply_state(session, envelope["state"])
        if event is not None:
            exclude = envelope.get("exclude")
            self.fanout.deliver_here(session, event, exclude if isinstance(exclude, str) else None)
            if isinstance(event, MemberLeft) and not session.members and not session.permanent:
                # Its last two members may have left on two nodes at once, each seeing the other
                # still there: whoever sees it empty removes it (a repeated removal changes nothing).
                self._forget_emptied(session)
            elif not isinstance(event, MemberAway):
                self.chat.tell_session_changed(session)

    def _forget_emptied(self, session: Session) -> None:
        self.chat.drop_session(session)
        self.fanout.sequencer.forget(session.id)
        if self.keeping_record:
            self.chat.store.delete_session(session.id).addErrback(
                lambda reason: self.log.failure("The store failed deleting session {id}", reason, id=session.id)
            )

    def _joined(self, session: Session, event: MemberJoined, node: str) -> MemberJoined | None:
        if session.member_named(event.name) is not None:
            shadow = self._shadowed.get(name_key(event.name))
            if shadow is not None and shadow.node == node:
                # The name is claimed here too: until the record decides, the other's membership waits aside.
                shadow.members[session.id] = Member(shadow, session, event.name, event.joined_at)
            return None
        user = self.remote_user(event.name, node)
        if user is None:
            user = RemoteParticipant(self.chat, node, event.name, self.send)
            self.hold(user)
        member = Member(user, session, event.name, event.joined_at)
        session.members[name_key(event.name)] = member
        user.members[session.id] = member
        return event

    @staticmethod
    def _of_node(member: Member, node: str) -> bool:
        """Whether ``member`` is a user of ``node``: of two users who took one name at once, the
        one the record refused is another node's, and what it does is not ours."""
        participant = member.participant
        return isinstance(participant, RemoteParticipant) and participant.node == node

    def _renamed(self, session: Session, event: MemberRenamed, node: str) -> MemberRenamed | None:
        member = session.member_named(event.old)
        if member is None or not self._of_node(member, node):
            return None
        old_key, new_key = name_key(event.old), name_key(event.new)
        session.members = {(new_key if key == old_key else key): m for key, m in session.members.items()}
        member.name = event.new
        change = self._renumbered(node, "rename", event.change)
        return MemberRenamed(session_id=session.id, old=event.old, new=event.new, change=change)

    def apply_state(self, session: Session, state: dict[str, Any]) -> None:
        admin = state.get("admin")
        heir = session.member_named(admin) if isinstance(admin, str) else None
        self.chat.crowned_elsewhere(session, heir)
        voiced = {name_key(name) for name in state.get("voiced", ())}
        for key, member in session.members.items():
            member.voiced = key in voiced
        session.password_hash = state.get("password_hash")
        rules, kept = session.rules, state.get("rules", {})
        for name in (
            "topic", "topic_by", "topic_at", "topic_locked", "invite_only", "limit", "moderated",
            "no_external", "no_ctcp", "secret",
        ):
            if name in kept:
                setattr(rules, name, kept[name])
        for name in ("bans", "exceptions", "invite_exceptions"):
            if name in kept:
                setattr(rules, name, list(kept[name]))
        if "invited" in kept:
            rules.invited.clear()
            for nick in kept["invited"]:
                user = self.chat.user_named(nick)
                if user is not None:
                    rules.invited.add(user)

    def _to(self, envelope: dict[str, Any]) -> None:
        if envelope["to_node"] != self.node:
            return
        user = self.chat.user_named(str(envelope["nick"]))
        if user is None or user.remote:
            return
        event = decode_event(envelope["event"])
        if isinstance(event, Invited):
            session = self.chat.sessions.get(event.session_id)
            if session is not None:
                session.rules.invited.add(user)
        elif isinstance(event, Left) and user.nick is not None:
            self._told_left.add((event.session_id, name_key(user.nick)))
        user.connection.deliver(event)

    def _close(self, envelope: dict[str, Any]) -> None:
        if envelope["to_node"] != self.node:
            return
        user = self.chat.user_named(str(envelope["nick"]))
        if user is not None and not user.remote:
            user.connected = False
            user.connection.close()

    def _session_added(self, envelope: dict[str, Any]) -> None:
        session_id = int(envelope["id"])
        if session_id in self.chat.sessions or self.chat.session_named(str(envelope["name"])) is not None:
            return
        hash_ = envelope.get("password_hash")
        session = Session(
            session_id, str(envelope["name"]), float(envelope["created_at"]), str(envelope["creator"]),
            hash_ if isinstance(hash_, str) else None, permanent=False, scrollback=self.chat.scrollback,
        )
        self.chat.adopt_session(session)
        self.fanout.sequencer.start(session_id, 0)

    def _session_removed(self, envelope: dict[str, Any]) -> None:
        session = self.chat.sessions.get(int(envelope["id"]))
        if session is None or session.permanent:
            return
        # Members here not sent back to the list already (a close sends each its Left first) joined
        # here while the session went elsewhere: they are told, or their clients would wait in it.
        gone = Left(session_id=session.id, session_name=session.name, reason=LeaveReason.CLOSED, by=SERVER_NAME, comment=GONE_ELSEWHERE)
        for key, member in list(session.members.items()):
            if not member.participant.remote and (session.id, key) not in self._told_left:
                member.deliver(gone)
        self._told_left = {told for told in self._told_left if told[0] != session.id}
        self.chat.drop_session(session)
        self.fanout.sequencer.forget(session.id)

    def _session_changed(self, envelope: dict[str, Any]) -> None:
        session = self.chat.sessions.get(int(envelope["id"]))
        if session is not None:
            hash_ = envelope.get("password_hash")
            session.password_hash = hash_ if isinstance(hash_, str) else None
            self.chat.tell_session_changed(session)

    # -- rosters: each node's own users, as it knows them ------------------

    def ask_rosters(self) -> None:
        """Ask every node for its roster. The record lags the stream a little (a node
        writes it after publishing), so a node that loaded it may hold a user who left
        or a session removed just before it subscribed; each node's roster of its own
        users and memberships puts that right."""
        self.rosters = {}
        self.send({"kind": "roster_request"})

    def _roster_request(self, envelope: dict[str, Any]) -> None:
        users, members = [], []
        for user in self.chat.users():
            if user.remote:
                continue
            users.append(self._user_fields(user))
            members.extend([session_id, member.name, member.joined_at] for session_id, member in user.members.items())
        self.send(
            {
                "kind": "roster",
                "to_node": envelope["node"],
                "users": users,
                "members": members,
                "sessions": [[session.id, session_state(session)] for session in self.chat.sessions.values()],
            }
        )

    def _roster(self, envelope: dict[str, Any]) -> None:
        if envelope["to_node"] != self.node:
            return
        node = str(envelope["node"])
        listed = {name_key(str(fields["nick"])): fields for fields in envelope["users"]}
        for user in [u for u in self.chat.users() if isinstance(u, RemoteParticipant) and u.node == node]:
            if user.nick is not None and name_key(user.nick) not in listed:
                for member in list(user.members.values()):
                    self._drop_member(member)
                self.chat.forget_user(user)
        for fields in listed.values():
            self._user({**fields, "node": node, "op": "update"})
        memberships = {(int(session_id), name_key(str(name))): (str(name), float(at)) for session_id, name, at in envelope["members"]}
        for session in list(self.chat.sessions.values()):
            for member in list(session.members.values()):
                if self._of_node(member, node) and (session.id, name_key(member.name)) not in memberships:
                    self._drop_member(member)
        for (session_id, _), (name, at) in sorted(memberships.items(), key=lambda item: item[1][1]):
            session = self.chat.sessions.get(session_id)
            if session is not None:
                joined = self._joined(session, MemberJoined(session_id=session_id, name=name, joined_at=at), node)
                if joined is not None:
                    self.fanout.deliver_here(session, joined, name)
                    self.chat.tell_session_changed(session)
        self.rosters[node] = {int(session_id) for session_id, _ in envelope["sessions"]}

    def drop_unlisted_sessions(self) -> None:
        """Drop the created sessions no roster listed and nobody is in (removed before we subscribed)."""
        if not self.rosters:
            return
        listed = set().union(*self.rosters.values())
        for session in list(self.chat.sessions.values()):
            if not session.permanent and not session.members and session.id not in listed:
                self.chat.drop_session(session)
                self.fanout.sequencer.forget(session.id)

    # -- nodes that went away ----------------------------------------------

    def remote_nodes(self) -> set[str]:
        """The nodes whose users this node holds."""
        return {user.node for user in self.chat.users() if isinstance(user, RemoteParticipant)} | {
            user.node for user in self._shadowed.values()
        }

    def drop_node(self, node: str) -> list[int]:
        """Node ``node`` is gone: its users leave every session here, as
        disconnected; an admin among them passes the role to the
        longest-present member. Every node does this by itself. Returns the
        sessions that changed."""
        changed: list[int] = []
        for key, shadow in list(self._shadowed.items()):
            if shadow.node == node:
                del self._shadowed[key]
        for user in [u for u in self.chat.users() if isinstance(u, RemoteParticipant) and u.node == node]:
            for member in list(user.members.values()):
                changed.append(member.session.id)
                self._drop_member(member)
            self.chat.forget_user(user)
            if user.nick is not None:
                self._adopt_shadow(name_key(user.nick))
        return changed

    def _drop_member(self, member: Member) -> None:
        session = member.session
        was_admin = session.admin is member
        self.chat.detach(member)
        left = MemberLeft(session_id=session.id, name=member.name, reason=LeaveReason.DISCONNECTED)
        self.fanout.deliver_here(session, left, None)
        if was_admin:
            session.admin = None
            heir = next(iter(session.members.values()), None)
            if heir is not None:
                self.chat.crowned_elsewhere(session, heir)
                self.fanout.deliver_here(session, AdminChanged(session_id=session.id, admin=heir.name), None)
        if not session.members and not session.permanent:
            self.chat.drop_session(session)
            self.fanout.sequencer.forget(session.id)
        else:
            self.chat.tell_session_changed(session)
