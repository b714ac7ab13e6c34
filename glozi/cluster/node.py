"""A cluster node's life: joining the cluster, its heartbeat, noticing nodes that died, resyncing.

At start the node sweeps what a previous run under its name left in the
record, subscribes to the bus, loads the cluster's members and sessions from
the record and only then listens for clients. While it runs it refreshes its
heartbeat (a Redis key with a time-to-live) and every ``SWEEP_INTERVAL``
compares the nodes whose users it holds with the live ones: a node whose
heartbeat expired, or whose bus connection Redis no longer has, is gone, and
its users leave every session (``disconnected``). When the bus was lost and
is back, the node reloads the record and fills every session's gap from the
store.
"""

import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from twisted.application.service import IService, Service
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import Logger

from glozi.cluster.replica import RemoteParticipant, Replica
from glozi.domain.events import MemberJoined
from glozi.domain.names import name_key
from glozi.domain.sessions import Member, Session

DEFAULT_PRESENCE_TIMEOUT = 15.0
"""Seconds a node's heartbeat lives (``--presence-timeout``): a node silent that long is gone."""
SWEEP_INTERVAL = 0.5
"""Seconds between two looks at which nodes are live."""
ROSTER_POLL = 0.05
ROSTER_WAIT = 1.0
"""Seconds a starting node waits for the other nodes' rosters before it listens anyway."""
GRACE = 2.0
"""Seconds a node must stay missing (no heartbeat, or no bus connection in Redis) before it counts as
gone: long enough for every node to reconnect and beat again after Redis restarted."""


class Bus(Protocol):
    on_message: Callable[[bytes], None]
    on_resubscribed: Callable[[], None]

    client_name: str | None

    def start(self) -> "Deferred[None]": ...
    def connected_names(self) -> "Deferred[set[str]]": ...
    def stop(self) -> "Deferred[None]": ...
    def publish(self, payload: bytes) -> None: ...
    def heartbeat(self, node: str, info: dict[str, Any], ttl: float) -> "Deferred[None]": ...
    def live_nodes(self) -> "Deferred[dict[str, dict[str, Any]]]": ...
    def forget(self, node: str) -> "Deferred[None]": ...


class ClusterRecordLike(Protocol):
    def open(self) -> "Deferred[None]": ...
    def load(self) -> "Deferred[Any]": ...
    def sweep(self, node: str) -> "Deferred[Any]": ...
    def close(self) -> "Deferred[None]": ...


class ClusterNode(Service):
    """This process as one node of a cluster (see the module's doc)."""

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        replica: Replica,
        bus: Bus,
        record: ClusterRecordLike,
        info: Callable[[], dict[str, Any]],
        presence_timeout: float = DEFAULT_PRESENCE_TIMEOUT,
        listeners: Sequence[IService] = (),
        on_failure: Callable[[], None] = lambda: None,
    ) -> None:
        self.clock = clock
        self.replica = replica
        self.node = replica.node
        self.bus = bus
        self.record = record
        self.info = info
        """What this node's heartbeat says of it (its addresses are known once it listens)."""
        self.presence_timeout = presence_timeout
        self.listeners = listeners
        self.on_failure = on_failure
        self.live: dict[str, dict[str, Any]] = {}
        """The live nodes (this one too) at the last look, with what their heartbeats say."""
        self.ready: Deferred[None] = Deferred()
        self._queued: list[bytes] = []
        self._loops: list[LoopingCall] = []
        self._last_seen: dict[str, float] = {}
        self._subscribed_at = 0.0
        # The heartbeat lives a little less than the presence timeout, so that
        # with the grace a silent node is gone within the timeout.
        self.heartbeat_ttl = max(presence_timeout - GRACE, presence_timeout / 2)

    def other_nodes(self) -> list[dict[str, Any]]:
        """The other live nodes, as the welcome and discovery list them."""
        return [info for name, info in sorted(self.live.items()) if name != self.node]

    def startService(self) -> None:
        super().startService()
        self._start().addCallbacks(self.ready.callback, self._failed)

    def _failed(self, reason: Any) -> None:
        self.log.failure("This node could not join the cluster", reason)
        self.on_failure()

    @inlineCallbacks
    def _start(self) -> Any:
        yield self.record.open()
        self.bus.on_message = self._queued.append
        self.bus.on_resubscribed = self._resync
        self.bus.client_name = self.node
        yield self.bus.start()
        self._subscribed_at = self.clock.seconds()
        yield self._beat()
        # What a previous run of this node left (killed, say): its users are gone.
        yield self.record.sweep(self.node)
        self.replica.send({"kind": "node_leaving"})
        yield self._load()
        queued, self._queued = self._queued, []
        self.bus.on_message = self.replica.received
        for payload in queued:
            self.replica.received(payload)
        yield self._take_rosters()
        self._every(self.heartbeat_ttl / 3, self._beat)
        self._every(SWEEP_INTERVAL, self._sweep)
        for listener in self.listeners:
            listener.privilegedStartService()
            listener.startService()
        yield self._beat()
        self.log.info("Node {node} joined the cluster ({count} live nodes)", node=self.node, count=len(self.live))

    @inlineCallbacks
    def _take_rosters(self) -> Any:
        """Ask the live nodes for their rosters; wait for them (at most ``ROSTER_WAIT`` s)."""
        self.replica.ask_rosters()
        others = set(self.live) - {self.node}
        deadline = self.clock.seconds() + ROSTER_WAIT
        while not others <= set(self.replica.rosters) and self.clock.seconds() < deadline:
            yield deferLater(self.clock, ROSTER_POLL, lambda: None)
        self.replica.drop_unlisted_sessions()

    def _every(self, seconds: float, call: Callable[[], Any]) -> None:
        loop = LoopingCall(call)
        loop.clock = self.clock
        self._loops.append(loop)
        loop.start(seconds, now=False).addErrback(lambda reason: self.log.failure("A cluster loop stopped", reason))

    def _beat(self) -> "Deferred[None]":
        return self.bus.heartbeat(self.node, self.info(), self.heartbeat_ttl).addErrback(
            lambda reason: self.log.warn("Heartbeat not sent: {reason}", reason=reason.getErrorMessage())
        )

    @inlineCallbacks
    def _live_nodes(self) -> Any:
        """The nodes with a heartbeat and a bus connection in Redis now."""
        beating = yield self.bus.live_nodes()
        connected = yield self.bus.connected_names()
        self.live = {name: info for name, info in beating.items() if name in connected}
        self.live[self.node] = self.info()
        now = self.clock.seconds()
        for name in self.live:
            self._last_seen[name] = now
        return set(self.live)

    def _gone(self, nodes: set[str]) -> list[str]:
        """Of ``nodes`` (missing at this look), those missing for ``GRACE`` seconds."""
        now = self.clock.seconds()
        if not self.bus.connected or now - self._subscribed_at < GRACE:
            # Our own view of Redis is too fresh (or down) to tell who is gone.
            return []
        gone = []
        for name in sorted(nodes):
            first_missed = self._last_seen.setdefault(name, now)
            if now - first_missed >= GRACE:
                gone.append(name)
        return gone

    @inlineCallbacks
    def _load(self) -> Any:
        live = yield self._live_nodes()
        state = yield self.record.load()
        self.load(state, live)

    def load(self, state: Any, live: set[str]) -> None:
        """Hold what the record says of the live nodes' users and members."""
        chat, replica = self.replica.chat, self.replica
        for recorded in state.sessions:
            stored = recorded.session
            if stored.id not in chat.sessions and chat.session_named(stored.name) is None:
                chat.adopt_session(
                    Session(stored.id, stored.name, stored.created_at, stored.creator, stored.password_hash,
                            permanent=False, scrollback=chat.scrollback)
                )
        for row in state.nicks:
            if row.node in live and row.node != self.node and replica.remote_user(row.nick, row.node) is None:
                user = RemoteParticipant(chat, row.node, row.nick, replica.send)
                user.user_name, user.real_name, user.away = row.user_name, row.real_name, row.away
                replica.hold(user)
        for row in sorted(state.members, key=lambda row: row.joined_at):
            session = chat.sessions.get(row.session_id)
            if session is None or row.node not in live or row.node == self.node:
                continue
            if session.member_named(row.name) is not None:
                continue
            user = replica.remote_user(row.name, row.node)
            if user is None:
                user = RemoteParticipant(chat, row.node, row.name, replica.send)
                replica.hold(user)
            member = Member(user, session, row.name, row.joined_at)
            session.members[name_key(row.name)] = member
            user.members[session.id] = member
            self.replica.fanout.deliver_here(
                session, MemberJoined(session_id=session.id, name=row.name, joined_at=row.joined_at), row.name
            )
        states = {recorded.session.id: recorded.state_json for recorded in state.sessions}
        states.update(state.built_in_states)
        for session_id, state_json in states.items():
            session = chat.sessions.get(session_id)
            if session is not None and state_json:
                replica.apply_state(session, json.loads(state_json))
        sequencer = replica.fanout.sequencer
        for session_id in chat.sessions:
            # A reload after the bus came back: messages went on meanwhile, so the snapshot may be behind
            # what this node handed on (or ahead of it); a session's line kept here knows, and fills its gaps.
            if sequencer.next_expected(session_id) is None:
                sequencer.start(session_id, state.last_seq.get(session_id, 0))

    @inlineCallbacks
    def _sweep(self) -> Any:
        try:
            live = yield self._live_nodes()
        except Exception as error:  # noqa: BLE001 (Redis down: the next look will tell)
            self.log.debug("Could not list live nodes: {error}", error=error)
            return
        for dead in self._gone(self.replica.remote_nodes() - live):
            self._last_seen.pop(dead, None)
            self.log.info("Node {dead} is gone: its users leave their sessions", dead=dead)
            changed = self.replica.drop_node(dead)
            try:
                swept = yield self.record.sweep(dead)
            except Exception as error:  # noqa: BLE001 (PostgreSQL down: the rows wait for the next node start)
                self.log.warn("Could not sweep node {dead} from the record: {error}", dead=dead, error=error)
                continue
            if swept.members or swept.nicks:
                # Of the nodes that noticed, this one won the sweep: it keeps the record.
                for session_id in sorted(set(changed)):
                    session = self.replica.chat.sessions.get(session_id)
                    if session is None:
                        self.replica.chat.store.delete_session(session_id)
                    else:
                        self.replica.keep_state(session)

    def _resync(self) -> None:
        """The bus was lost and is back: what was said meanwhile is read from the record and the store."""
        self.log.info("The bus is back: reloading the cluster's state")
        self._subscribed_at = self.clock.seconds()
        self.replica.fanout.sequencer.fill_all()
        # Another node may have taken us for gone meanwhile: tell them again who is here.
        self.replica.reannounce()
        reloading = self._load().addCallback(lambda _: self._take_rosters())
        reloading.addErrback(lambda reason: self.log.failure("Could not reload the cluster's state", reason))

    @inlineCallbacks
    def stopService(self) -> Any:
        super().stopService()
        for loop in self._loops:
            if loop.running:
                loop.stop()
        self.replica.send({"kind": "node_leaving"})
        self.replica.keeping_record = False
        for listener in self.listeners:
            if listener.running:
                yield listener.stopService()
        try:
            yield self.record.sweep(self.node)
            yield self.bus.forget(self.node)
        except Exception as error:  # noqa: BLE001 (stopping anyway: the others sweep us by the heartbeat)
            self.log.warn("Could not leave the cluster cleanly: {error}", error=error)
        yield self.bus.stop()
        yield self.record.close()
