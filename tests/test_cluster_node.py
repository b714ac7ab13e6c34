"""ClusterNode: joining the cluster before listening, noticing nodes that are gone, leaving cleanly (task.Clock)."""

from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from glozi.cluster.node import ClusterNode
from glozi.cluster.record import ClusterMember, ClusterNick, ClusterState
from glozi.domain.events import MemberLeft
from glozi.fanout.envelope import unpack
from tests.clusterfakes import FakeNode, LoopbackNetwork, MemoryRecord, SequencedStore

AVOCADO = 1


class FakeRedis:
    """What ClusterNode asks of the bus; ``beating`` and ``connected`` are what Redis would say."""

    def __init__(self, node: FakeNode) -> None:
        self.node = node
        self.on_message: Any = None
        self.on_resubscribed: Any = None
        self.client_name: str | None = None
        self.connected = True
        self.beating: dict[str, dict[str, Any]] = {}
        self.names: set[str] = set()
        self.heartbeats: list[float] = []
        self.forgotten: list[str] = []

    def start(self) -> "Deferred[None]":
        self.node.bus.on_message = lambda payload: self.on_message(payload)
        return succeed(None)

    def stop(self) -> "Deferred[None]":
        return succeed(None)

    def publish(self, payload: bytes) -> None:
        self.node.bus.publish(payload)

    def heartbeat(self, node: str, info: dict[str, Any], ttl: float) -> "Deferred[None]":
        self.heartbeats.append(ttl)
        return succeed(None)

    def live_nodes(self) -> "Deferred[dict[str, dict[str, Any]]]":
        return succeed(dict(self.beating))

    def connected_names(self) -> "Deferred[set[str]]":
        return succeed(set(self.names))

    def forget(self, node: str) -> "Deferred[None]":
        self.forgotten.append(node)
        return succeed(None)


class RecordForNode(MemoryRecord):
    def __init__(self) -> None:
        super().__init__()
        self.loading: Deferred[ClusterState] | None = None
        self.swept: list[str] = []
        self.closed = False

    def open(self) -> "Deferred[None]":
        return succeed(None)

    def load(self) -> "Deferred[ClusterState]":
        members = tuple(
            ClusterMember(session_id, key, name, node, at) for (session_id, key), (name, node, at) in self.members.items()
        )
        nicks = tuple(ClusterNick(key, nick, node, nick, nick, None) for key, (nick, node) in self.nicks.items())
        state = ClusterState(sessions=(), built_in_states={}, members=members, nicks=nicks, last_seq={})
        if self.loading is not None:
            self.loading.addCallback(lambda _: state)
            return self.loading
        return succeed(state)

    def sweep(self, node: str) -> Any:
        self.swept.append(node)
        from glozi.cluster.record import Swept

        gone = [key for key, (_, member_node, _) in self.members.items() if member_node == node]
        for key in gone:
            del self.members[key]
        return succeed(Swept(members=tuple(gone), nicks=()))

    def close(self) -> "Deferred[None]":
        self.closed = True
        return succeed(None)


class Listener(Service):
    pass


class ClusterNodeTests(TestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.network = LoopbackNetwork(self.clock)
        self.record = RecordForNode()
        self.store = SequencedStore()
        self.a = FakeNode("a", self.clock, self.network, self.record, self.store)
        self.b = FakeNode("b", self.clock, self.network, self.record, self.store)
        self.redis = FakeRedis(self.b)
        self.redis.beating = {"a": {"name": "a"}, "b": {"name": "b"}}
        self.redis.names = {"a", "b"}
        self.listener = Listener()
        self.service = ClusterNode(
            self.clock, self.b.replica, self.redis, self.record, lambda: {"name": "b"},
            presence_timeout=15, listeners=[self.listener],
        )

    def settle(self) -> None:
        for _ in range(5):
            self.clock.advance(0)

    def start(self) -> None:
        """Start the node and let it take the others' rosters (answered over the loopback bus)."""
        self.service.startService()
        self.settle()
        self.clock.advance(0.05)
        self.assertTrue(self.listener.running)

    def alice_on_a(self) -> Any:
        alice, _ = self.a.connect()
        self.successResultOf(alice.join(AVOCADO, "alice"))
        return alice

    def test_a_node_listens_only_once_it_holds_the_clusters_state(self) -> None:
        self.alice_on_a()
        self.record.loading = Deferred()
        self.service.startService()
        self.assertFalse(self.listener.running)
        self.record.loading.callback(None)
        self.settle()
        self.clock.advance(0.05)
        self.assertTrue(self.listener.running)
        self.assertEqual(list(self.b.chat.sessions[AVOCADO].members), ["alice"])
        self.assertEqual(self.b.chat.user_named("alice").node, "a")

    def test_at_start_it_sweeps_its_own_previous_run_and_tells_the_others(self) -> None:
        seen: list[bytes] = []
        self.a.bus.on_message = seen.append
        self.service.startService()
        self.settle()
        # Node a does not answer here: the roster is waited for 1 s, then the node listens anyway.
        self.clock.pump([0.05] * 19)
        self.assertFalse(self.listener.running)
        self.clock.pump([0.05])
        self.assertTrue(self.listener.running)
        self.assertEqual(self.record.swept, ["b"])
        self.assertIn("node_leaving", [unpack(payload)["kind"] for payload in seen])
        self.assertEqual(self.redis.client_name, "b")
        self.assertEqual(self.redis.heartbeats[0], 13.0)

    def test_a_node_missing_for_two_seconds_is_gone_and_its_users_leave(self) -> None:
        self.start()
        self.alice_on_a()
        bob, bob_inbox = self.b.connect()
        self.successResultOf(bob.join(AVOCADO, "bob"))
        self.settle()
        self.clock.advance(2.0)
        self.redis.names = {"b"}
        self.clock.advance(0.5)
        self.clock.advance(1.0)
        self.assertEqual(bob_inbox.of_type(MemberLeft), [])
        self.assertIsNotNone(self.b.chat.user_named("alice"))
        self.clock.advance(0.5)
        self.assertEqual([(e.name, e.reason) for e in bob_inbox.of_type(MemberLeft)], [("alice", "disconnected")])
        self.assertIsNone(self.b.chat.user_named("alice"))
        self.assertIn("a", self.record.swept)

    def test_a_node_back_within_the_grace_is_not_gone(self) -> None:
        self.start()
        self.alice_on_a()
        self.settle()
        self.clock.advance(2.0)
        del self.redis.beating["a"]
        self.clock.advance(1.5)
        self.redis.beating["a"] = {"name": "a"}
        self.clock.advance(5)
        self.assertIsNotNone(self.b.chat.user_named("alice"))

    def test_nobody_is_taken_for_gone_while_its_own_subscription_is_fresh(self) -> None:
        self.start()
        self.alice_on_a()
        self.settle()
        self.redis.names = {"b"}
        self.redis.on_resubscribed()
        self.clock.advance(1.9)
        self.assertIsNotNone(self.b.chat.user_named("alice"))

    def test_stopping_tells_the_others_sweeps_itself_and_forgets_its_heartbeat(self) -> None:
        self.start()
        bob, _ = self.b.connect()
        self.successResultOf(bob.join(AVOCADO, "bob"))
        self.settle()
        self.assertIsNotNone(self.a.chat.user_named("bob"))
        self.service.stopService()
        self.settle()
        self.assertIsNone(self.a.chat.user_named("bob"))
        self.assertEqual(self.record.swept[-1], "b")
        self.assertEqual(self.redis.forgotten, ["b"])
        self.assertFalse(self.listener.running)
        self.assertTrue(self.record.closed)
