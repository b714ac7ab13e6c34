"""Several nodes of a cluster in one process (tests/clusterfakes.py): one chat across them."""

from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from glozi.cluster.node import ClusterNode
from glozi.cluster.record import ClusterState
from glozi.domain.errors import ChatError
from glozi.domain.events import (
    AdminChanged,
    Joined,
    Left,
    MemberJoined,
    MemberLeft,
    MemberRenamed,
    Message,
    PrivateMessage,
)
from tests.clusterfakes import FakeNode, LoopbackNetwork, MemoryRecord, SequencedStore

AVOCADO = 1


class ClusterTests(TestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.network = LoopbackNetwork(self.clock)
        self.record = MemoryRecord()
        self.store = SequencedStore()
        self.a, self.b, self.c = (FakeNode(name, self.clock, self.network, self.record, self.store) for name in "abc")

    def settle(self) -> None:
        for _ in range(5):
            self.clock.advance(0)

    def join(self, node: FakeNode, nick: str, session_id: int = AVOCADO):
        user, inbox = node.connect()
        joined = self.successResultOf(user.join(session_id, nick))
        self.settle()
        return user, inbox, joined

    def plans_with_bob(self) -> tuple:
        """alice creates plans on node a; bob, on node b, joins it."""
        alice, _ = self.a.connect()
        joined = self.successResultOf(alice.create("plans", "alice"))
        self.settle()
        bob, bob_inbox = self.b.connect()
        self.successResultOf(bob.join(joined.session.id, "bob"))
        self.settle()
        return alice, joined, bob, bob_inbox

    def test_members_on_other_nodes_are_listed_and_told_of_joins(self) -> None:
        _, alice_inbox, _ = self.join(self.a, "alice")
        _, _, joined = self.join(self.b, "bob")
        self.assertEqual([m.name for m in joined.members], ["alice", "bob"])
        self.assertEqual([e.name for e in alice_inbox.of_type(MemberJoined)], ["bob"])
        self.assertEqual(sorted(self.c.chat.sessions[AVOCADO].members), ["alice", "bob"])

    def test_a_message_reaches_every_node_once_with_its_sender_left_out(self) -> None:
        alice, alice_inbox, _ = self.join(self.a, "alice")
        _, bob_inbox, _ = self.join(self.b, "bob")
        _, carol_inbox, _ = self.join(self.c, "carol")
        self.successResultOf(alice.say("hello"))
        self.settle()
        for inbox in (bob_inbox, carol_inbox):
            self.assertEqual([m.text for m in inbox.of_type(Message)], ["hello"])
        self.assertEqual(alice_inbox.of_type(Message), [])
        self.assertEqual([m.text for m in self.c.chat.sessions[AVOCADO].history], ["hello"])

    def test_messages_from_several_nodes_arrive_in_commit_order_everywhere(self) -> None:
        alice, alice_inbox, _ = self.join(self.a, "alice")
        bob, bob_inbox, _ = self.join(self.b, "bob")
        _, carol_inbox, _ = self.join(self.c, "carol")
        for number in range(20):
            (alice if number % 3 else bob).say(f"m{number}")
        self.settle()
        everything = [f"m{number}" for number in range(20)]
        self.assertEqual([m.text for m in carol_inbox.of_type(Message)], everything)
        self.assertEqual([m.text for m in bob_inbox.of_type(Message)], [t for n, t in enumerate(everything) if n % 3])
        self.assertEqual([m.text for m in alice_inbox.of_type(Message)], [t for n, t in enumerate(everything) if not n % 3])

    def test_a_message_lost_on_the_bus_is_read_from_the_store_before_later_ones(self) -> None:
        alice, _, _ = self.join(self.a, "alice")
        _, carol_inbox, _ = self.join(self.c, "carol")
        self.network.up = False
        self.successResultOf(alice.say("lost on the bus"))
        self.network.up = True
        self.successResultOf(alice.say("after"))
        self.settle()
        self.assertEqual([m.text for m in carol_inbox.of_type(Message)], [])
        self.clock.advance(0.05)
        self.assertEqual([m.text for m in carol_inbox.of_type(Message)], ["lost on the bus", "after"])
        self.assertEqual(self.c.fanout.sequencer.filled, 1)

    def test_a_message_has_one_id_on_every_node(self) -> None:
        """The id the sender's node gave travels with the message: the members on another node, the same
        node, the other node's scrollback, and a gap filled from the store all see that one id."""
        alice, _, _ = self.join(self.a, "alice")
        _, bob_inbox, _ = self.join(self.a, "bob")
        _, carol_inbox, _ = self.join(self.c, "carol")
        self.successResultOf(alice.say("hello"))
        self.network.up = False
        self.successResultOf(alice.say("lost on the bus"))
        self.network.up = True
        self.successResultOf(alice.say("after"))
        self.settle()
        self.clock.advance(0.05)
        sent = [m.msgid for m in bob_inbox.of_type(Message)]
        self.assertEqual(len(set(sent)), 3)
        self.assertNotIn("", sent)
        self.assertEqual([m.msgid for m in carol_inbox.of_type(Message)], sent)
        self.assertEqual([m.msgid for m in self.c.chat.sessions[AVOCADO].history], sent)
        self.assertEqual([m.msgid for _, m in self.store.messages[AVOCADO]], sent)

    def test_nothing_is_delivered_before_it_is_committed(self) -> None:
        alice, _, _ = self.join(self.a, "alice")
        _, bob_inbox, _ = self.join(self.a, "bob")
        _, carol_inbox, _ = self.join(self.c, "carol")
        self.store.holding = True
        said = alice.say("waiting")
        self.settle()
        self.assertEqual(bob_inbox.of_type(Message) + carol_inbox.of_type(Message), [])
        self.store.release()
        self.settle()
        self.assertEqual(self.successResultOf(said), self.clock.seconds())
        self.assertEqual([m.text for m in bob_inbox.of_type(Message) + carol_inbox.of_type(Message)], ["waiting", "waiting"])

    def test_a_session_created_on_one_node_is_joined_on_another(self) -> None:
        alice, _ = self.a.connect()
        joined = self.successResultOf(alice.create("plans", "alice", "12345"))
        self.settle()
        bob, _ = self.c.connect()
        self.failureResultOf(bob.join(joined.session.id, "bob", "54321"), ChatError)
        bob_joined = self.successResultOf(bob.join(joined.session.id, "bob", "12345"))
        self.assertEqual(bob_joined.session.admin, "alice")
        self.assertEqual([m.name for m in bob_joined.members], ["alice", "bob"])

    def test_session_names_and_nicks_are_unique_across_nodes(self) -> None:
        alice, _ = self.a.connect()
        self.successResultOf(alice.create("plans", "alice"))
        self.settle()
        bob, _ = self.b.connect()
        error = self.failureResultOf(bob.create("PLANS", "bob"), ChatError).value
        self.assertEqual(error.code, "session_exists")
        other, _ = self.c.connect()
        error = self.failureResultOf(other.join(AVOCADO, "Alice"), ChatError).value
        self.assertEqual(error.code, "name_taken")

    def test_a_nick_claimed_on_two_nodes_at_once_is_kept_by_the_first_the_record_saw(self) -> None:
        first, first_inbox = self.a.connect()
        second, second_inbox = self.b.connect()
        self.successResultOf(first.join(AVOCADO, "dana"))
        self.successResultOf(second.join(2, "dana"))
        self.settle()
        self.assertFalse(first_inbox.closed)
        self.assertTrue(second_inbox.closed)
        second.disconnected()
        self.settle()
        self.assertEqual(self.b.chat.user_named("dana").node, "a")
        self.assertEqual(sorted(self.c.chat.sessions[2].members), [])

    def test_the_refused_one_of_two_users_taking_a_nick_at_once_leaves_the_others_memberships(self) -> None:
        """Both danas join avocado at the same instant; b's is refused and goes: a's stays in avocado on
        every node and in the record."""
        first, first_inbox = self.a.connect()
        second, _ = self.b.connect()
        self.successResultOf(first.join(AVOCADO, "dana"))
        self.successResultOf(second.join(AVOCADO, "dana"))
        self.settle()
        second.disconnected()
        self.settle()
        self.assertFalse(first_inbox.closed)
        for node in (self.a, self.b, self.c):
            member = node.chat.sessions[AVOCADO].member_named("dana")
            self.assertIsNotNone(member, f"dana in avocado on {node.name}")
            self.assertIs(member.participant, first if node is self.a else node.chat.user_named("dana"))
        self.assertEqual(self.record.members[(AVOCADO, "dana")][1], "a")

    def test_a_user_back_on_another_node_before_a_third_noticed_the_first_died(self) -> None:
        """dana's node a dies; b has noticed and lets her back in, c has not yet: c keeps the new dana aside
        and, once it notices, its members see the old one leave and the new one join, of node b."""
        self.join(self.a, "dana")
        _, carol_inbox, _ = self.join(self.c, "carol")
        self.network.buses.remove(self.a.bus)
        self.b.replica.drop_node("a")
        dana, _ = self.b.connect()
        self.successResultOf(dana.join(AVOCADO, "dana"))
        self.settle()
        self.c.replica.drop_node("a")
        member = self.c.chat.sessions[AVOCADO].member_named("dana")
        self.assertEqual((member.participant.node, self.c.chat.user_named("dana").node), ("b", "b"))
        self.assertEqual([e.name for e in carol_inbox.of_type(MemberLeft)], ["dana"])
        self.assertEqual([e.name for e in carol_inbox.of_type(MemberJoined)], ["dana"])

    def test_a_kick_from_another_node_sends_the_member_back_to_the_list(self) -> None:
        alice, joined, bob, bob_inbox = self.plans_with_bob()
        alice.run_command("kick", "bob", joined.session.id)
        self.settle()
        self.assertEqual([e.reason for e in bob_inbox.of_type(Left)], ["kicked"])
        self.assertEqual(bob.members, {})
        self.assertEqual(list(self.c.chat.sessions[joined.session.id].members), ["alice"])

    def test_a_private_message_reaches_a_user_on_another_node(self) -> None:
        alice, _, _ = self.join(self.a, "alice")
        _, bob_inbox, _ = self.join(self.b, "bob", 2)
        alice.send_private("bob", "psst")
        self.settle()
        self.assertEqual([(e.sender, e.text) for e in bob_inbox.of_type(PrivateMessage)], [("alice", "psst")])

    def test_a_dead_nodes_members_leave_and_its_admin_passes_the_role_on(self) -> None:
        _, joined, _, bob_inbox = self.plans_with_bob()
        for node in (self.b, self.c):
            node.replica.drop_node("a")
        self.assertEqual([(e.name, e.reason) for e in bob_inbox.of_type(MemberLeft)], [("alice", "disconnected")])
        self.assertEqual([e.admin for e in bob_inbox.of_type(AdminChanged)], ["bob"])
        self.assertIsNone(self.c.chat.user_named("alice"))
        self.assertEqual(self.c.chat.sessions[joined.session.id].admin.name, "bob")

    def test_a_rename_on_one_node_renames_the_member_everywhere(self) -> None:
        alice, _, _ = self.join(self.a, "alice")
        _, bob_inbox, _ = self.join(self.b, "bob")
        alice.rename("alicia")
        self.settle()
        self.assertEqual([(e.old, e.new) for e in bob_inbox.of_type(MemberRenamed)], [("alice", "alicia")])
        self.assertEqual(list(self.c.chat.sessions[AVOCADO].members), ["alicia", "bob"])
        self.assertEqual(self.c.chat.user_named("alicia").node, "a")
        self.assertIsNone(self.c.chat.user_named("alice"))

    def test_a_disconnect_on_one_node_is_a_leave_everywhere(self) -> None:
        alice, _, _ = self.join(self.a, "alice")
        _, bob_inbox, _ = self.join(self.b, "bob")
        alice.disconnected()
        self.settle()
        self.assertEqual([(e.name, e.reason) for e in bob_inbox.of_type(MemberLeft)], [("alice", "disconnected")])
        self.assertIsNone(self.b.chat.user_named("alice"))

    def test_joined_has_the_other_nodes_history(self) -> None:
        alice, _, _ = self.join(self.a, "alice")
        self.successResultOf(alice.say("before you came"))
        self.settle()
        _, _, joined = self.join(self.c, "carol")
        self.assertIsInstance(joined, Joined)
        self.assertEqual([m.text for m in joined.history], ["before you came"])

    def test_whether_a_user_came_through_the_irc_door_is_known_on_every_node(self) -> None:
        irc_user, irc_inbox = self.a.connect()
        irc_inbox.speaks_ctcp = True
        self.successResultOf(irc_user.join(AVOCADO, "ircer"))
        self.join(self.a, "native")
        self.settle()
        self.assertTrue(self.b.chat.user_named("ircer").connection.speaks_ctcp)
        self.assertFalse(self.b.chat.user_named("native").connection.speaks_ctcp)


    def test_a_user_of_another_node_who_leaves_is_freed_at_once(self) -> None:
        import gc
        import weakref

        alice, _, _ = self.join(self.a, "alice")
        copy = weakref.ref(self.b.chat.user_named("alice"))
        gc.disable()
        self.addCleanup(gc.enable)
        alice.disconnected()
        self.settle()
        self.assertIsNone(copy())

    def test_a_roster_puts_right_what_a_node_missed_on_the_bus(self) -> None:
        alice, _, _ = self.join(self.a, "alice")
        _, carol_inbox, _ = self.join(self.c, "carol")
        self.network.up = False
        alice.disconnected()
        dave, _ = self.b.connect()
        self.successResultOf(dave.join(AVOCADO, "dave"))
        self.network.up = True
        self.assertEqual(sorted(self.c.chat.sessions[AVOCADO].members), ["alice", "carol"])
        self.c.replica.ask_rosters()
        self.settle()
        self.assertEqual(sorted(self.c.chat.sessions[AVOCADO].members), ["carol", "dave"])
        self.assertIsNone(self.c.chat.user_named("alice"))
        self.assertEqual([(e.name, e.reason) for e in carol_inbox.of_type(MemberLeft)], [("alice", "disconnected")])
        self.assertEqual([e.name for e in carol_inbox.of_type(MemberJoined)][-1], "dave")
        self.assertEqual(set(self.c.replica.rosters), {"a", "b"})

    def test_a_created_session_removed_while_a_node_was_not_listening_goes_after_the_rosters(self) -> None:
        alice, _ = self.a.connect()
        joined = self.successResultOf(alice.create("plans", "alice"))
        self.settle()
        self.c.bus.deaf = True
        alice.disconnected()
        self.settle()
        self.c.bus.deaf = False
        plans = self.c.chat.sessions[joined.session.id]
        for member in list(plans.members.values()):
            self.c.chat.detach(member)
        self.c.replica.ask_rosters()
        self.settle()
        self.c.replica.drop_unlisted_sessions()
        self.assertNotIn(joined.session.id, self.c.chat.sessions)
        self.assertIn(AVOCADO, self.c.chat.sessions)

    def test_a_wrong_session_password_counts_against_its_source_on_every_node(self) -> None:
        alice, _ = self.a.connect()
        joined = self.successResultOf(alice.create("plans", "alice", "12345"))
        self.settle()
        guesser, _ = self.b.connect()
        error = self.failureResultOf(guesser.join(joined.session.id, "mallory", "54321"), ChatError).value
        self.assertEqual(error.code, "wrong_password")
        self.settle()
        for node in (self.a, self.b, self.c):
            self.assertEqual(node.chat.password_guard.sources.failures("127.0.0.1"), 1)

    def test_a_session_whose_last_two_members_leave_on_two_nodes_at_once_goes_everywhere(self) -> None:
        alice, _ = self.a.connect()
        joined = self.successResultOf(alice.create("plans", "alice"))
        self.settle()
        bob, _ = self.b.connect()
        self.successResultOf(bob.join(joined.session.id, "bob"))
        self.settle()
        alice.disconnected()
        bob.disconnected()
        self.settle()
        for node in (self.a, self.b, self.c):
            self.assertNotIn(joined.session.id, node.chat.sessions)
        self.assertIn(joined.session.id, self.store.deleted)

    def test_a_join_on_one_node_as_the_last_member_leaves_on_another_is_sent_back_to_the_list(self) -> None:
        alice, _ = self.a.connect()
        joined = self.successResultOf(alice.create("plans", "alice"))
        self.settle()
        alice.disconnected()
        bob, bob_inbox = self.b.connect()
        self.successResultOf(bob.join(joined.session.id, "bob"))
        self.settle()
        (left,) = bob_inbox.of_type(Left)
        self.assertEqual((left.session_id, left.reason, left.by), (joined.session.id, "closed", "server"))
        self.assertEqual(left.comment, "The session was removed on another server of this network as you joined.")
        self.assertEqual(bob.members, {})
        self.assertNotIn(joined.session.id, self.b.chat.sessions)

    def test_a_close_on_another_node_sends_each_member_back_once(self) -> None:
        alice, joined, bob, bob_inbox = self.plans_with_bob()
        alice.run_command("close", "", joined.session.id)
        self.settle()
        self.assertEqual([(e.reason, e.by) for e in bob_inbox.of_type(Left)], [("closed", "alice")])
        self.assertEqual(bob.members, {})


class ReloadTests(TestCase):
    """A node reloads the record after its bus came back (glozi/cluster/node.py) while messages go on."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.network = LoopbackNetwork(self.clock)
        self.store = SequencedStore()
        self.a, self.c = (FakeNode(name, self.clock, self.network, MemoryRecord(), self.store) for name in "ac")
        self.alice, _ = self.a.connect()
        self.successResultOf(self.alice.join(AVOCADO, "alice"))
        carol, self.carol_inbox = self.c.connect()
        self.successResultOf(carol.join(AVOCADO, "carol"))
        self.node = ClusterNode(self.clock, self.c.replica, None, None, dict)

    def say(self, *texts: str) -> None:
        for text in texts:
            self.successResultOf(self.alice.say(text))
        for _ in range(5):
            self.clock.advance(0)

    def reload(self, last_seq: int) -> None:
        self.node.load(ClusterState((), {}, (), (), {AVOCADO: last_seq}), {"a", "c"})

    def test_a_snapshot_older_than_what_was_delivered_repeats_nothing(self) -> None:
        """The snapshot says 1 message, 2 were delivered meanwhile: the third comes next, the second not again."""
        self.say("one", "two")
        self.reload(1)
        self.say("three")
        self.clock.advance(0.05)
        self.assertEqual([m.text for m in self.carol_inbox.of_type(Message)], ["one", "two", "three"])

    def test_a_snapshot_newer_than_what_arrived_skips_nothing(self) -> None:
        """The second message was lost on the bus and the snapshot counts it: it is read from the store all the same."""
        self.say("one")
        self.network.up = False
        self.say("two")
        self.network.up = True
        self.reload(2)
        self.say("three")
        self.clock.advance(0.05)
        self.assertEqual([m.text for m in self.carol_inbox.of_type(Message)], ["one", "two", "three"])
