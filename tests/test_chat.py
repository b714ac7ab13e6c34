"""The chat domain: sessions, joins, admin succession, inactivity, exit code."""

from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from glozi.domain.errors import ChatError
from glozi.domain.events import (
    AdminChanged,
    IdleWarning,
    Joined,
    Left,
    MemberAway,
    MemberJoined,
    MemberLeft,
    Message,
    PrivateMessage,
    ServerClosing,
)
from glozi.domain.replication import ALONE
from tests.helpers import TEST_EXIT_CODE, RecordingList, connect, done, make_server


class ChatTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.exits: list[bool] = []
        self.server, self.clock = make_server(idle_timeout=240, on_exit=lambda: self.exits.append(True))

    def assertRefused(self, code: str, call, *args):
        error = self.assertRaises(ChatError, lambda: done(call(*args)))
        self.assertEqual(error.code, code)
        return error


class SessionListTests(ChatTestCase):
    def test_nine_default_sessions(self) -> None:
        """The server starts with the nine open, admin-less built-in sessions."""
        sessions = self.server.list_sessions()
        self.assertEqual(
            [s.name for s in sessions],
            ["avocado", "kiwi", "pineapple", "krembo", "watermelon", "papaya", "coconut", "passiflora", "cactus"],
        )
        self.assertEqual([s.id for s in sessions], [1, 2, 3, 4, 5, 6, 7, 8, 9])
        for s in sessions:
            self.assertEqual((s.creator, s.locked, s.admin, s.member_count), ("server", False, None, 0))

    def test_list_counts_members_and_hides_password(self) -> None:
        """The list shows member counts and a lock flag, never the password."""
        alice, _ = connect(self.server)
        done(alice.create("garden", "alice", "12345"))
        garden = self.server.list_sessions()[-1]
        self.assertEqual((garden.name, garden.member_count, garden.locked, garden.creator), ("garden", 1, True, "alice"))
        self.assertNotIn("12345", repr(garden))

    def test_default_session_never_gets_admin(self) -> None:
        """Joining a built-in session does not make anyone its admin."""
        alice, _ = connect(self.server)
        joined = done(alice.join(2, "alice"))
        self.assertIsNone(joined.session.admin)
        self.assertEqual(joined.idle_timeout, 240)
        self.assertRefused("not_admin", alice.run_command, "close", "")


class JoinTests(ChatTestCase):
    def test_join_tells_others(self) -> None:
        """A join reaches the members already there and lists everyone to the joiner."""
        alice, alice_conn = connect(self.server)
        bob, _ = connect(self.server)
        done(alice.join(1, "alice"))
        self.clock.advance(5)
        joined = done(bob.join(1, "bob"))
        self.assertEqual([m.name for m in joined.members], ["alice", "bob"])
        self.assertEqual(alice_conn.of_type(MemberJoined)[-1].name, "bob")

    def test_refusals(self) -> None:
        """Each refusal names its reason."""
        alice, _ = connect(self.server)
        done(alice.create("garden", "alice", "12345"))
        bob, _ = connect(self.server)
        self.assertRefused("no_such_session", bob.join, 99, "bob")
        self.assertRefused("password_required", bob.join, 10, "bob", None)
        self.assertRefused("wrong_password", bob.join, 10, "bob", "54321")
        self.assertRefused("name_taken", bob.join, 10, "ALICE", "12345")
        self.assertRefused("session_exists", bob.create, "GARDEN", "bob", None)

    def test_many_sessions_at_once(self) -> None:
        """A member joins and creates elsewhere without leaving, under one name; the exit code needs the list."""
        alice, _ = connect(self.server)
        done(alice.join(1, "alice"))
        self.assertEqual(done(alice.join(2, "alice")).you, "alice")
        self.assertEqual(done(alice.create("garden", "ALICE", None)).you, "alice")
        self.assertEqual([s.name for s in alice.sessions()], ["avocado", "kiwi", "garden"])
        self.assertRefused("already_in_session", alice.join, 2, "alice")
        self.assertRefused("username_mismatch", alice.join, 3, "alicia")
        self.assertRefused("wrong_state", alice.submit_exit_code, TEST_EXIT_CODE)

    def test_lobby_cannot_chat(self) -> None:
        """Saying or commanding outside a session is refused."""
        alice, _ = connect(self.server)
        self.assertRefused("wrong_state", alice.say, "hi")
        self.assertRefused("wrong_state", alice.run_command, "help", "")

    def test_no_private_message_before_a_name(self) -> None:
        """A private message from a connection with no name yet: wrong_state, and nobody gets it."""
        alice, alice_conn = connect(self.server)
        done(alice.join(1, "alice"))
        nameless, _ = connect(self.server)
        error = self.assertRefused("wrong_state", nameless.send_private, "alice", "hi")
        self.assertEqual(error.message, "You have no name yet; join or create a session first.")
        self.assertEqual(alice_conn.of_type(PrivateMessage), [])

    def test_rejoin_after_quit(self) -> None:
        """After /quit the same connection can join again."""
        alice, conn = connect(self.server)
        done(alice.join(1, "alice"))
        alice.run_command("quit", "")
        self.assertEqual(conn.of_type(Left)[-1].reason, "quit")
        self.assertEqual(done(alice.join(2, "alice")).session.name, "kiwi")



class RenameTests(ChatTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.alice, self.alice_conn = connect(self.server)
        self.bob, self.bob_conn = connect(self.server)
        done(self.alice.create("garden", "alice"))
        done(self.bob.join(10, "bob"))
        self.at_list = RecordingList()
        self.server.watch_session_list(self.at_list)

    def test_rename_to_the_same_nick_changes_nothing(self) -> None:
        """Renaming to one's own nick: nobody is told, and WHOWAS has no past holder of it."""
        self.alice_conn.clear()
        self.assertEqual(self.bob.rename("bob"), "bob")
        self.assertEqual(self.alice_conn.events, [])
        self.assertEqual(self.bob.whowas("bob"), [])

    def test_rename_of_the_admin_changes_the_listed_session(self) -> None:
        """The admin's new nick is the session's admin in the list: session_changed; a member's rename changes no listed session."""
        self.bob.rename("bobby")
        self.assertEqual(self.at_list.events, [])
        self.alice.rename("alicia")
        [changed] = self.at_list.events
        self.assertEqual((type(changed).__name__, changed.session.admin), ("SessionChanged", "alicia"))
        self.assertEqual([past.nick for past in self.bob.whowas("alice")], ["alice"])


class ChatMessageTests(ChatTestCase):
    def test_message_reaches_others_once(self) -> None:
        """A message goes to every other member, once, as the same event."""
        alice, alice_conn = connect(self.server)
        bob, bob_conn = connect(self.server)
        carol, carol_conn = connect(self.server)
        for who, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
            done(who.join(3, name))
        said = done(alice.say("hello"))
        self.assertEqual(alice_conn.of_type(Message), [])
        [to_bob] = bob_conn.of_type(Message)
        [to_carol] = carol_conn.of_type(Message)
        self.assertIs(to_bob, to_carol)
        self.assertIs(to_bob, said)
        self.assertEqual((to_bob.sender, to_bob.text), ("alice", "hello"))

    def test_failing_connection_does_not_stop_others(self) -> None:
        """One member whose connection raises is dropped; the others still get the message."""
        alice, _ = connect(self.server)
        bob, bob_conn = connect(self.server)
        carol, carol_conn = connect(self.server)
        done(alice.join(1, "alice"))
        done(bob.join(1, "bob"))
        done(carol.join(1, "carol"))

        def explode(event):
            raise RuntimeError("broken pipe")

        bob_conn.deliver = explode
        done(alice.say("still there?"))
        self.assertEqual(len(carol_conn.of_type(Message)), 1)
        self.assertTrue(bob_conn.closed)
        self.flushLoggedErrors(RuntimeError)


class AwayTests(ChatTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.alice, self.alice_conn = connect(self.server)
        self.bob, self.bob_conn = connect(self.server)
        self.carol, self.carol_conn = connect(self.server)
        self.dave, self.dave_conn = connect(self.server)
        for session in (1, 2):
            done(self.alice.join(session, "alice"))
            done(self.bob.join(session, "bob"))
        done(self.carol.join(2, "carol"))
        done(self.dave.join(5, "dave"))
        self.connections = (self.alice_conn, self.bob_conn, self.carol_conn, self.dave_conn)

    def aways(self) -> list[list[tuple[int, str, str | None]]]:
        """What each of alice, bob, carol and dave was told of away changes since the last call."""
        told = [[(e.session_id, e.name, e.away) for e in conn.of_type(MemberAway)] for conn in self.connections]
        for conn in self.connections:
            conn.clear()
        return told

    def test_others_in_each_shared_session_are_told(self) -> None:
        """Going away and coming back reach the other members of each of the user's sessions,
        one event per session; not the user, not who shares no session."""
        self.alice.set_away("at lunch")
        self.assertEqual(
            self.aways(), [[], [(1, "alice", "at lunch"), (2, "alice", "at lunch")], [(2, "alice", "at lunch")], []]
        )
        self.alice.set_away(None)
        self.assertEqual(self.aways(), [[], [(1, "alice", None), (2, "alice", None)], [(2, "alice", None)], []])

    def test_one_event_per_session_shared_by_its_members(self) -> None:
        """Every member of one session gets the same event; each session its own, all with one change number."""
        self.alice.set_away("at lunch")
        [bob_in_1, bob_in_2] = self.bob_conn.of_type(MemberAway)
        [carol_in_2] = self.carol_conn.of_type(MemberAway)
        self.assertIs(bob_in_2, carol_in_2)
        self.assertEqual(bob_in_1.change, bob_in_2.change)
        self.alice.set_away("gone home")
        self.assertNotEqual(self.bob_conn.of_type(MemberAway)[-1].change, bob_in_1.change)

    def test_no_change_tells_nobody(self) -> None:
        """The same away message again, or back when not away, is no news; another message is."""
        self.alice.set_away(None)
        self.alice.set_away("at lunch")
        self.aways()
        self.alice.set_away("at lunch")
        self.assertEqual(self.aways(), [[], [], [], []])
        self.alice.set_away("in a meeting")
        self.assertEqual(self.aways()[2], [(2, "alice", "in a meeting")])
        self.alice.set_away(None)
        self.aways()
        self.alice.set_away(None)
        self.assertEqual(self.aways(), [[], [], [], []])

    def test_members_carry_away_and_an_away_joiner_says_so(self) -> None:
        """Joined's members carry each one's away message; the members already in a session
        hear that an away joiner is away right after they hear the join."""
        self.alice.set_away("at lunch")
        self.aways()
        joined = done(self.dave.join(1, "dave"))
        self.assertEqual(
            [(m.name, m.away) for m in joined.members], [("alice", "at lunch"), ("bob", None), ("dave", None)]
        )
        self.dave.set_away("brb")
        self.aways()
        done(self.dave.join(2, "dave"))
        arrival = [type(e) for e in self.carol_conn.events]
        self.assertEqual(arrival[-2:], [MemberJoined, MemberAway])
        self.assertEqual(self.aways(), [[(2, "dave", "brb")], [(2, "dave", "brb")], [(2, "dave", "brb")], []])

    def test_away_outside_any_session_tells_nobody(self) -> None:
        """A user in no session may go away; nobody is told, and its first join carries it."""
        erin, erin_conn = connect(self.server)
        erin.set_away("not here")
        self.assertEqual(self.aways(), [[], [], [], []])
        done(erin.join(5, "erin"))
        self.assertEqual(self.aways()[3], [(5, "erin", "not here")])
        self.assertEqual(erin_conn.of_type(MemberAway), [])


class AdminTests(ChatTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.alice, self.alice_conn = connect(self.server)
        self.bob, self.bob_conn = connect(self.server)
        self.carol, self.carol_conn = connect(self.server)
        done(self.alice.create("garden", "alice", None))
        self.clock.advance(1)
        done(self.bob.join(10, "bob"))
        self.clock.advance(1)
        done(self.carol.join(10, "carol"))

    def test_creator_is_admin(self) -> None:
        """The creator is the admin and has no idle timeout."""
        self.assertEqual(self.server.sessions[10].admin.name, "alice")

    def test_kick(self) -> None:
        """The admin kicks a member: they are told and back at the list; the others are told."""
        reply = self.alice.run_command("kick", "BOB")
        self.assertEqual(reply, "You kicked bob.")
        left = self.bob_conn.of_type(Left)[-1]
        self.assertEqual((left.reason, left.by), ("kicked", "alice"))
        self.assertFalse(self.bob.members)
        gone = self.carol_conn.of_type(MemberLeft)[-1]
        self.assertEqual((gone.name, gone.reason, gone.by), ("bob", "kicked", "alice"))

    def test_kick_refusals(self) -> None:
        """Only the admin kicks, never themselves, only present members, with a name first."""
        self.assertRefused("not_admin", self.bob.run_command, "kick", "carol")
        self.assertRefused("cannot_kick_self", self.alice.run_command, "kick", "alice")
        self.assertRefused("no_such_member", self.alice.run_command, "kick", "dave")
        self.assertRefused("bad_arguments", self.alice.run_command, "kick", "")

    def test_close(self) -> None:
        """/close sends everyone back to the list and removes the session."""
        self.alice.run_command("close", "")
        for conn in (self.alice_conn, self.bob_conn, self.carol_conn):
            left = conn.of_type(Left)[-1]
            self.assertEqual((left.reason, left.by), ("closed", "alice"))
        self.assertNotIn(10, self.server.sessions)
        self.assertFalse(self.carol.members)
        done(self.carol.create("garden", "carol", None))

    def test_admin_succession(self) -> None:
        """When the admin leaves, the longest-present member becomes admin and all are told."""
        self.alice.run_command("quit", "")
        self.assertEqual(self.server.sessions[10].admin.name, "bob")
        for conn in (self.bob_conn, self.carol_conn):
            self.assertEqual(conn.of_type(AdminChanged)[-1].admin, "bob")
        self.bob.run_command("kick", "carol")

    def test_new_admin_is_exempt_from_timeout(self) -> None:
        """A member who becomes admin is no longer timed out."""
        self.clock.advance(100)
        self.alice.disconnected()
        self.clock.advance(1000)
        self.assertTrue(self.bob.members)
        self.assertFalse(self.carol.members)

    def test_last_member_leaving_removes_created_session(self) -> None:
        """A created session disappears with its last member; built-in ones stay."""
        for who in (self.alice, self.bob, self.carol):
            who.run_command("quit", "")
        self.assertNotIn(10, self.server.sessions)
        dave, _ = connect(self.server)
        done(dave.join(1, "dave"))
        dave.run_command("quit", "")
        self.assertIn(1, self.server.sessions)

    def test_session_ids_not_reused(self) -> None:
        """A new session after a removed one gets a fresh id."""
        self.alice.run_command("close", "")
        self.assertEqual(done(self.alice.create("garden", "alice", None)).session.id, 11)


class InactivityTests(ChatTestCase):
    def test_warning_then_removal(self) -> None:
        """Silence: a warning at half the timeout, removal at the timeout, others told."""
        alice, alice_conn = connect(self.server)
        bob, bob_conn = connect(self.server)
        done(alice.join(1, "alice"))
        done(bob.join(1, "bob"))
        done(bob.say("keeping myself awake"))
        self.clock.advance(119)
        self.assertEqual(alice_conn.of_type(IdleWarning), [])
        self.clock.advance(1)
        [warning] = alice_conn.of_type(IdleWarning)
        self.assertEqual(warning.seconds_left, 120)
        self.clock.advance(120)
        self.assertEqual(alice_conn.of_type(Left)[-1].reason, "timeout")
        self.assertFalse(alice.members)
        self.assertEqual(bob_conn.of_type(MemberLeft)[-1].reason, "timeout")

    def test_activity_resets_timer(self) -> None:
        """Any message or command starts the silence over, even after the warning."""
        alice, alice_conn = connect(self.server)
        done(alice.join(1, "alice"))
        self.clock.advance(200)
        self.assertEqual(len(alice_conn.of_type(IdleWarning)), 1)
        done(alice.say("here"))
        self.clock.advance(200)
        alice.run_command("time", "")
        self.clock.advance(200)
        self.assertTrue(alice.members)
        self.assertEqual(len(alice_conn.of_type(IdleWarning)), 3)
        self.clock.advance(40)
        self.assertFalse(alice.members)

    def test_refused_command_is_activity(self) -> None:
        """Even a refused command counts as activity."""
        alice, _ = connect(self.server)
        done(alice.join(1, "alice"))
        self.clock.advance(230)
        self.assertRaises(ChatError, alice.run_command, "nope", "")
        self.clock.advance(230)
        self.assertTrue(alice.members)

    def test_admin_exempt(self) -> None:
        """The admin is never timed out."""
        alice, conn = connect(self.server)
        done(alice.create("garden", "alice", None))
        self.clock.advance(10_000)
        self.assertTrue(alice.members)
        self.assertEqual(conn.of_type(IdleWarning), [])

    def test_leaving_cancels_timers(self) -> None:
        """Nobody who left has timers pending."""
        alice, _ = connect(self.server)
        done(alice.join(1, "alice"))
        alice.run_command("quit", "")
        self.assertEqual(self.clock.getDelayedCalls(), [])


class ExitCodeTests(ChatTestCase):
    def test_right_code_closes_everyone(self) -> None:
        """The right code tells every client and asks the process to exit."""
        alice, alice_conn = connect(self.server)
        bob, bob_conn = connect(self.server)
        done(bob.join(1, "bob"))
        alice.submit_exit_code(TEST_EXIT_CODE)
        self.assertEqual(self.exits, [True])
        for conn in (alice_conn, bob_conn):
            self.assertIsInstance(conn.events[-1], ServerClosing)
            self.assertTrue(conn.closed)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_three_wrong_codes_disconnect(self) -> None:
        """The third wrong code from one connection asks for a disconnect."""
        alice, _ = connect(self.server)
        messages = []
        for _attempt in range(2):
            error = self.assertRefused("wrong_exit_code", alice.submit_exit_code, "0000000000")
            self.assertFalse(error.disconnect)
            messages.append(error.message)
        self.assertEqual(messages, ["Wrong exit code (2 attempts left).", "Wrong exit code (1 attempt left)."])
        error = self.assertRefused("wrong_exit_code", alice.submit_exit_code, "0000000000")
        self.assertTrue(error.disconnect)
        self.assertEqual(self.exits, [])

    def test_others_guesses_never_refuse_the_right_code(self) -> None:
        """Thousands of wrong codes from other addresses: the right code from a fresh address still works."""
        for n in range(1000):
            guesser, _conn = connect(self.server, f"10.{n // 250}.{n % 250}.1")
            for _ in range(3):
                self.assertRefused("wrong_exit_code", guesser.submit_exit_code, "1111111111")
        holder, _ = connect(self.server, "192.0.2.99")
        holder.submit_exit_code(TEST_EXIT_CODE)
        self.assertEqual(self.exits, [True])

    def test_source_delay_after_three_wrong_codes(self) -> None:
        """A 4th wrong code from one address blocks it 2 s, then 4 s; meanwhile even the right code waits."""
        for _ in range(4):
            guesser, _ = connect(self.server, "192.0.2.66")
            self.assertRefused("wrong_exit_code", guesser.submit_exit_code, "1111111111")
        same_address, _ = connect(self.server, "192.0.2.66")
        error = self.assertRefused("too_many_attempts", same_address.submit_exit_code, TEST_EXIT_CODE)
        self.assertEqual(error.retry_after, 2)
        self.clock.advance(2)
        self.assertRefused("wrong_exit_code", same_address.submit_exit_code, "1111111111")
        error = self.assertRefused("too_many_attempts", same_address.submit_exit_code, TEST_EXIT_CODE)
        self.assertEqual(error.retry_after, 4)
        self.assertEqual(same_address.exit_code_failures, 1, "a refused attempt is not a wrong one")
        self.clock.advance(4)
        same_address.submit_exit_code(TEST_EXIT_CODE)
        self.assertEqual(self.exits, [True])

    def test_ipv6_slash_64_is_one_source(self) -> None:
        """Addresses of one IPv6 /64 share a delay; another /64 and IPv4 are not held up."""
        for n in range(4):
            guesser, _ = connect(self.server, f"2001:db8:1:2::{n + 1}")
            self.assertRefused("wrong_exit_code", guesser.submit_exit_code, "1111111111")
        neighbour, _ = connect(self.server, "2001:db8:1:2:ffff:ffff:ffff:ffff")
        self.assertRefused("too_many_attempts", neighbour.submit_exit_code, TEST_EXIT_CODE)
        mapped, _ = connect(self.server, "::ffff:192.0.2.7")
        for _ in range(4):
            self.assertRaises(ChatError, mapped.submit_exit_code, "1111111111")
            mapped.exit_code_failures = 0
        ipv4, _ = connect(self.server, "192.0.2.7")
        self.assertRefused("too_many_attempts", ipv4.submit_exit_code, TEST_EXIT_CODE)
        elsewhere, _ = connect(self.server, "2001:db8:1:3::1")
        elsewhere.submit_exit_code(TEST_EXIT_CODE)
        self.assertEqual(self.exits, [True])



class DefaultsTests(SynchronousTestCase):
    """A server with no options: the documented defaults (docs/protocol.md)."""

    def test_idle_timeout_240_s_warned_at_120(self) -> None:
        """By default a member is told the timeout is 240 s, warned at 120 s and removed at 240 s."""
        server, clock = make_server()
        alice, conn = connect(server)
        self.assertEqual(done(alice.join(1, "alice")).idle_timeout, 240)
        clock.advance(119)
        self.assertEqual(conn.of_type(IdleWarning), [])
        clock.advance(1)
        self.assertEqual(conn.of_type(IdleWarning)[0].seconds_left, 120)
        clock.advance(119)
        self.assertEqual(alice.members.keys(), {1})
        clock.advance(1)
        self.assertEqual(alice.members, {})

    def test_a_joiner_gets_the_last_50_messages(self) -> None:
        """By default a joiner's history is the session's last 50 messages, oldest first."""
        server, _ = make_server()
        alice, _ = connect(server)
        done(alice.join(1, "alice"))
        for number in range(51):
            done(alice.say(f"message {number}"))
        bob, _ = connect(server)
        history = done(bob.join(1, "bob")).history
        self.assertEqual([m.text for m in history], [f"message {number}" for number in range(1, 51)])


class JoinedSnapshotTests(ChatTestCase):
    def test_joined_describes_session(self) -> None:
        """The join answer carries the session, you, and the members with join times."""
        alice, _ = connect(self.server)
        self.clock.advance(3)
        joined = done(alice.create("garden", "alice", "12345"))
        self.assertIsInstance(joined, Joined)
        self.assertEqual(joined.you, "alice")
        self.assertEqual(joined.session.admin, "alice")
        self.assertIsNone(joined.idle_timeout)
        self.assertEqual(joined.members[0].joined_at, self.clock.seconds())


class ShutdownTests(ChatTestCase):
    def test_connection_during_shutdown_is_turned_away(self) -> None:
        """A client connecting while the server closes is told so and closed."""
        self.server.shutdown("bye")
        _, conn = connect(self.server)
        self.assertIsInstance(conn.events[-1], ServerClosing)
        self.assertTrue(conn.closed)


class HandPasswords:
    """A password hasher that answers only when the test says so, as late as
    it likes, as the real hashing thread does: each hash or check waits in
    ``asked`` (a Deferred, with what was asked) until the test fires it."""

    def __init__(self) -> None:
        self.asked: list[tuple[Deferred[Any], str]] = []

    def hash(self, password: str) -> "Deferred[str]":
        return self._ask(password)

    def verify(self, password: str, encoded: str) -> "Deferred[bool]":
        return self._ask(password)

    def _ask(self, password: str) -> "Deferred[Any]":
        answer: Deferred[Any] = Deferred()
        self.asked.append((answer, password))
        return answer

    def answer(self, result: object) -> None:
        """Fire the oldest waiting hash or check with ``result``."""
        answer, _ = self.asked.pop(0)
        answer.callback(result)


A_HASH = "scrypt$2$1$1$c2FsdA$aGFzaA"


class LateHashingTests(ChatTestCase):
    """Joins and creations that wait for a password hash, as they always do in
    production: the world moves on meanwhile, and the answer must fit the world
    as it is when the hash comes."""

    def setUp(self) -> None:
        super().setUp()
        self.hasher = HandPasswords()
        self.server.passwords = self.hasher
        self.alice, self.alice_conn = connect(self.server)
        creating = self.alice.create("vault", "alice", "12345")
        self.hasher.answer(A_HASH)
        self.successResultOf(creating)
        self.bob, self.bob_conn = connect(self.server, "192.0.2.2")

    def refusal(self, pending: "Deferred[Any]", code: str, message: str) -> None:
        error = self.failureResultOf(pending, ChatError).value
        self.assertEqual((error.code, error.message), (code, message))

    def test_next_join_is_accepted_once_a_locked_join_is_answered(self) -> None:
        """While a locked join waits for its check, another join is wrong_state; once it is answered, the next is taken."""
        joining = self.bob.join(10, "bob", "12345")
        self.assertNoResult(joining)
        self.assertRefused("wrong_state", self.bob.join, 1, "bob")
        self.hasher.answer(True)
        self.assertEqual(self.successResultOf(joining).session.name, "vault")
        self.assertEqual(done(self.bob.join(1, "bob")).session.name, "avocado")
        self.assertEqual(self.bob.rename("bobby"), "bob")

    def test_no_rename_while_a_join_is_checked(self) -> None:
        """A rename while a locked join is checked (asked under the old name): wrong_state, the nick kept."""
        joining = self.bob.join(10, "bob", "12345")
        error = self.assertRefused("wrong_state", self.bob.rename, "bobby")
        self.assertEqual(error.message, "A join is already in progress; wait for its answer.")
        self.hasher.answer(True)
        self.assertEqual(self.successResultOf(joining).you, "bob")

    def test_next_join_is_accepted_after_a_wrong_password(self) -> None:
        """A locked join answered wrong_password leaves the connection free to join again."""
        joining = self.bob.join(10, "bob", "54321")
        self.hasher.answer(False)
        self.refusal(joining, "wrong_password", "Wrong password for session vault.")
        self.assertEqual(done(self.bob.join(1, "bob")).session.name, "avocado")

    def test_next_join_is_accepted_after_a_locked_creation(self) -> None:
        """A locked creation answered frees the connection for the next join."""
        creating = self.bob.create("shed", "bob", "54321")
        self.assertRefused("wrong_state", self.bob.join, 1, "bob")
        self.hasher.answer(A_HASH)
        self.assertEqual(self.successResultOf(creating).session.name, "shed")
        self.assertEqual(done(self.bob.join(1, "bob")).session.name, "avocado")

    def wrong_guess(self) -> None:
        joining = self.bob.join(10, "bob", "54321")
        self.hasher.answer(False)
        self.refusal(joining, "wrong_password", "Wrong password for session vault.")

    def test_wrong_passwords_checked_late_count_as_guesses(self) -> None:
        """3 wrong passwords are free, the 4th blocks: the 5th guess is refused unchecked, retry_after 2."""
        for _ in range(4):
            self.wrong_guess()
        error = self.assertRefused("too_many_attempts", self.bob.join, 10, "bob", "12345")
        self.assertEqual((error.message, error.retry_after), ("Too many wrong passwords; try again in 2 s.", 2))
        self.assertEqual(self.hasher.asked, [])

    def test_right_password_checked_late_clears_the_wrong_guesses(self) -> None:
        """3 wrong guesses, then the right one: the next wrong one blocks nothing, so the guess after it is checked."""
        for _ in range(3):
            self.wrong_guess()
        joining = self.bob.join(10, "bob", "12345")
        self.hasher.answer(True)
        self.successResultOf(joining)
        self.bob.run_command("quit", "", 10)
        # The session's budget for addresses that failed (3 an hour) was spent: 20 minutes give one back.
        self.clock.advance(1300)
        self.wrong_guess()
        self.wrong_guess()

    def test_two_creating_the_same_locked_session_at_once(self) -> None:
        """Two locked creations of one name, both hashing: the first answered creates it, the other gets session_exists."""
        carol, _ = connect(self.server, "192.0.2.3")
        first = self.bob.create("shed", "bob", "11111")
        second = carol.create("SHED", "carol", "22222")
        self.hasher.answer(A_HASH)
        self.hasher.answer(A_HASH)
        self.assertEqual(self.successResultOf(first).session.name, "shed")
        self.refusal(second, "session_exists", "A session named shed exists.")
        self.assertEqual([s.name for s in self.server.list_sessions()].count("shed"), 1)
        self.assertEqual(carol.members, {})
        self.assertEqual(self.server.sessions[11].info().member_count, 1)
        self.assertEqual(done(carol.create("barn", "carol")).session.name, "barn")

    def test_name_taken_by_an_open_session_while_hashing(self) -> None:
        """A locked creation whose name an open session took while it hashed gets session_exists."""
        carol, _ = connect(self.server, "192.0.2.3")
        creating = self.bob.create("shed", "bob", "11111")
        done(carol.create("Shed", "carol"))
        self.hasher.answer(A_HASH)
        self.refusal(creating, "session_exists", "A session named Shed exists.")
        self.assertEqual(self.bob.members, {})

    def test_session_closed_while_the_password_is_checked(self) -> None:
        """A join whose session is closed during the check gets no_such_session, and is in no session."""
        joining = self.bob.join(10, "bob", "12345")
        self.alice.run_command("close", "", 10)
        self.hasher.answer(True)
        self.refusal(joining, "no_such_session", "The session vault is gone.")
        self.assertEqual(self.bob.members, {})
        self.assertNotIn(10, self.server.sessions)

    def test_full_when_the_check_ends(self) -> None:
        """A session made full (+l 1) while the key is checked refuses the join: session_full."""
        joining = self.bob.join(10, "bob", "12345")
        done(self.alice.run_command("mode", "+l 1", 10))
        self.hasher.answer(True)
        self.refusal(joining, "session_full", "vault is full: 1 members at most.")
        self.assertEqual(self.bob.members, {})

    def test_connection_closed_while_the_password_is_checked(self) -> None:
        """A join whose connection closed during the check is refused (wrong_state); nobody hears of it."""
        joining = self.bob.join(10, "bob", "12345")
        self.bob.disconnected()
        self.alice_conn.clear()
        self.hasher.answer(True)
        self.refusal(joining, "wrong_state", "The connection closed before the join finished.")
        self.assertEqual(self.alice_conn.events, [])
        self.assertEqual(self.server.sessions[10].info().member_count, 1)
        self.assertIsNone(self.server.user_named("bob"))

    def test_connection_closed_while_creating(self) -> None:
        """A locked creation whose connection closed while it hashed creates nothing: wrong_state."""
        creating = self.bob.create("shed", "bob", "11111")
        self.bob.disconnected()
        self.hasher.answer(A_HASH)
        self.refusal(creating, "wrong_state", "The connection closed before the join finished.")
        self.assertIsNone(self.server.session_named("shed"))
        self.assertNotIn(11, self.server.store.sessions)

    def test_server_closing_while_the_password_is_checked(self) -> None:
        """A join or creation still hashing when the server shuts down is refused (wrong_state), nothing made."""
        joining = self.bob.join(10, "bob", "12345")
        carol, _ = connect(self.server, "192.0.2.3")
        creating = carol.create("shed", "carol", "11111")
        self.server.shutdown("bye")
        self.hasher.answer(True)
        self.hasher.answer(A_HASH)
        self.refusal(joining, "wrong_state", "The connection closed before the join finished.")
        self.refusal(creating, "wrong_state", "The connection closed before the join finished.")
        self.assertIsNone(self.server.session_named("shed"))
        self.assertEqual(self.server.sessions[10].info().member_count, 0)


class LateRecord:
    """A cluster's record that numbers new sessions when the test says so
    (``reserving``); it tells nobody of anything else."""

    def __init__(self) -> None:
        self.reserving: list[Deferred[int | None]] = []

    def reserve_session(self, name: str, creator: str, created_at: float, password_hash: str | None) -> "Deferred[int | None]":
        self.reserving.append(Deferred())
        return self.reserving[-1]

    def __getattr__(self, name: str) -> Any:
        return getattr(ALONE, name)


class LateReservationTests(ChatTestCase):
    """In a cluster the record numbers a new session later: the creation fits the world as it is then."""

    def setUp(self) -> None:
        super().setUp()
        self.record = LateRecord()
        self.server.replication = self.record
        self.alice, _ = connect(self.server)

    def test_the_record_numbers_the_session(self) -> None:
        """The session gets the id the cluster's record gave, once it gave it."""
        creating = self.alice.create("shed", "alice")
        self.assertNoResult(creating)
        self.record.reserving.pop().callback(42)
        self.assertEqual(self.successResultOf(creating).session.id, 42)

    def test_name_taken_here_while_the_record_answers(self) -> None:
        """A session of that name created here meanwhile: session_exists, and only the first one is there."""
        creating = self.alice.create("shed", "alice")
        bob, _ = connect(self.server)
        other = bob.create("SHED", "bob")
        self.record.reserving.pop(0).callback(None)
        self.record.reserving.pop(0).callback(43)
        self.assertEqual(self.successResultOf(creating).session.name, "shed")
        error = self.failureResultOf(other, ChatError).value
        self.assertEqual((error.code, error.message), ("session_exists", "A session named shed exists."))
        self.assertNotIn(43, self.server.sessions)

    def test_connection_closed_while_the_record_answers(self) -> None:
        """The creator gone before the record answered: wrong_state, and no session is made."""
        creating = self.alice.create("shed", "alice")
        self.alice.disconnected()
        self.record.reserving.pop().callback(42)
        error = self.failureResultOf(creating, ChatError).value
        self.assertEqual((error.code, error.message), ("wrong_state", "The connection closed before the join finished."))
        self.assertNotIn(42, self.server.sessions)
