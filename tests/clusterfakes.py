"""A cluster in one test process: nodes joined by an in-memory bus and record, on one task.Clock.

Each ``FakeNode`` is a real ``ChatServer`` with the real ``ClusterFanout`` and
``Replica``; only Redis (``LoopbackBus``) and PostgreSQL (``MemoryRecord``,
``SequencedStore``) are stood in for, with the same contracts. The real ones
are tested against real servers in tests/test_cluster_end_to_end.py.
"""

from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock

from glozi.cluster.errors import SessionNameTaken
from glozi.cluster.replica import Replica
from glozi.domain.chat import ChatServer
from glozi.domain.events import Message
from glozi.domain.history import as_event
from glozi.domain.names import name_key
from glozi.fanout.redis import ClusterFanout
from glozi.storage.passwords import PasswordHasher
from glozi.storage.store import FIRST_CREATED_SESSION_ID, StoredMessage, StoredSession
from tests.helpers import RecordingConnection


class LoopbackNetwork:
    """Redis pub/sub for the fakes: every payload reaches every bus, in publish order, at the next clock turn."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.buses: list[LoopbackBus] = []
        self.pending: list[bytes] = []
        self.up = True

    def publish(self, payload: bytes) -> None:
        if not self.up:
            return
        if not self.pending:
            self.clock.callLater(0, self._drain)
        self.pending.append(payload)

    def _drain(self) -> None:
        while self.pending:
            payload = self.pending.pop(0)
            for bus in list(self.buses):
                if not bus.deaf:
                    bus.on_message(payload)


class LoopbackBus:
    def __init__(self, network: LoopbackNetwork) -> None:
        self.network = network
        self.on_message: Any = lambda payload: None
        self.deaf = False
        """While set, what is published does not reach this bus (its subscription is lost)."""
        network.buses.append(self)

    def publish(self, payload: bytes) -> None:
        self.network.publish(payload)


@dataclass
class MemoryRecord:
    """The cluster record's contract, in memory (decisions as PostgreSQL's constraints make them)."""

    nicks: dict[str, tuple[str, str]] = field(default_factory=dict)
    members: dict[tuple[int, str], tuple[str, str, float]] = field(default_factory=dict)
    session_names: dict[str, int] = field(default_factory=dict)
    states: dict[int, str] = field(default_factory=dict)
    next_id: int = FIRST_CREATED_SESSION_ID

    def reserve_session(self, name: str, creator: str, created_at: float, password_hash: str | None) -> "Deferred[int]":
        if name_key(name) in self.session_names:
            return fail(SessionNameTaken(name))
        session_id, self.next_id = self.next_id, self.next_id + 1
        self.session_names[name_key(name)] = session_id
        return succeed(session_id)

    def claim_nick(self, key: str, nick: str, node: str) -> "Deferred[bool]":
        holder = self.nicks.setdefault(key, (nick, node))
        return succeed(holder[1] == node)

    def release_nick(self, key: str, node: str) -> "Deferred[None]":
        if self.nicks.get(key, ("", ""))[1] == node:
            del self.nicks[key]
        return succeed(None)

    def update_user(self, key: str, node: str, user_name: Any, real_name: Any, away: Any) -> "Deferred[None]":
        return succeed(None)

    def member_joined(self, session_id: int, key: str, name: str, node: str, joined_at: float) -> "Deferred[None]":
        if self.nicks.get(key, ("", ""))[1] == node:
            self.members[(session_id, key)] = (name, node, joined_at)
        return succeed(None)

    def member_left(self, session_id: int, key: str, node: str) -> "Deferred[None]":
        if self.members.get((session_id, key), (None, None, None))[1] == node:
            del self.members[(session_id, key)]
        return succeed(None)

    def member_renamed(self, old_key: str, new_key: str, new_name: str, node: str) -> "Deferred[None]":
        for (session_id, key), (_, member_node, at) in list(self.members.items()):
            if key == old_key and member_node == node:
                del self.members[(session_id, key)]
                self.members[(session_id, new_key)] = (new_name, node, at)
        return succeed(None)

    def session_state(self, session_id: int, state_json: str) -> "Deferred[None]":
        self.states[session_id] = state_json
        return succeed(None)

    def sweep(self, node: str) -> "Deferred[list[Any]]":
        gone = [key for key, (_, member_node, _) in self.members.items() if member_node == node]
        for key in gone:
            del self.members[key]
        for key in [key for key, (_, holder) in self.nicks.items() if holder == node]:
            del self.nicks[key]
        return succeed(gone)


class SequencedStore:
    """The store shared by the nodes: messages numbered per session as committed.
    ``hold`` makes commits wait until ``release`` (a store answering later)."""

    def __init__(self) -> None:
        self.messages: dict[int, list[tuple[int, StoredMessage]]] = {}
        self.holding = False
        self.held: list[tuple[Deferred[int], StoredMessage]] = []
        self.deleted: list[int] = []

    def add_session(self, session: StoredSession) -> "Deferred[None]":
        return succeed(None)

    def delete_session(self, session_id: int) -> "Deferred[None]":
        self.deleted.append(session_id)
        self.messages.pop(session_id, None)
        return succeed(None)

    def add_message(self, message: StoredMessage) -> "Deferred[int]":
        if self.holding:
            waiting: Deferred[int] = Deferred()
            self.held.append((waiting, message))
            return waiting
        return succeed(self._commit(message))

    def _commit(self, message: StoredMessage) -> int:
        line = self.messages.setdefault(message.session_id, [])
        line.append((len(line) + 1, message))
        return len(line)

    def release(self) -> None:
        held, self.held, self.holding = self.held, [], False
        for waiting, message in held:
            waiting.callback(self._commit(message))

    def messages_after(self, session_id: int, seq: int) -> "Deferred[list[tuple[int, tuple[Message, str]]]]":
        return succeed(
            [
                (number, (as_event(m), m.sender))
                for number, m in self.messages.get(session_id, [])
                if number > seq
            ]
        )

    def close(self) -> "Deferred[None]":
        return succeed(None)


class PlainPasswords(PasswordHasher):
    def hash(self, password: str) -> "Deferred[str]":
        return succeed("plain:" + password)

    def verify(self, password: str, password_hash: str) -> "Deferred[bool]":
        return succeed(password_hash == "plain:" + password)


class FakeNode:
    def __init__(self, name: str, clock: Clock, network: LoopbackNetwork, record: MemoryRecord, store: SequencedStore) -> None:
        self.name = name
        self.bus = LoopbackBus(network)
        self.fanout = ClusterFanout(name, self.bus, clock, store.messages_after)
        self.chat = ChatServer(
            clock, exit_code="1234567890", fanout=self.fanout, store=store, passwords=PlainPasswords(),
        )
        self.fanout.attach(self.chat)
        self.replica = Replica(name, self.chat, self.fanout, self.bus.publish, record)
        self.chat.replication = self.replica
        self.bus.on_message = self.replica.received
        for session_id in self.chat.sessions:
            self.fanout.sequencer.start(session_id, 0)

    def connect(self) -> tuple[Any, RecordingConnection]:
        inbox = RecordingConnection()
        return self.chat.connect(inbox, "127.0.0.1"), inbox
