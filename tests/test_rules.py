"""A session's rules in the domain (glozi/domain/rules.py), on task.Clock: the
topic, +t, +i with invitations, +k, +l, +m with voice, +b, +o, kick reasons,
at their edges with the literals from docs/protocol.md."""

from twisted.trial.unittest import SynchronousTestCase

from glozi.domain import rules
from glozi.domain.errors import ChatError
from glozi.domain.events import AdminChanged, Invited, Left, MemberLeft, ModeChanged, TopicChanged
from tests.helpers import connect, done, late_passwords, make_server


class RulesTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.server, self.clock = make_server(idle_timeout=240)
        self.alice, self.alice_conn = connect(self.server)
        self.bob, self.bob_conn = connect(self.server)
        done(self.alice.create("garden", "alice"))
        done(self.bob.join(10, "bob"))
        self.bob_conn.clear()

    def command(self, who, name: str, args: str = ""):
        return done(who.run_command(name, args, 10))

    def assertRefused(self, code: str, call, *args) -> ChatError:
        error = self.assertRaises(ChatError, lambda: done(call(*args)))
        self.assertEqual(error.code, code)
        return error


class TopicTests(RulesTestCase):
    def test_topic_of_300_characters_and_not_301(self) -> None:
        """A topic is at most 300 characters; every member hears it with who set it and when."""
        self.command(self.alice, "topic", "x" * 300)
        [changed] = self.bob_conn.of_type(TopicChanged)
        self.assertEqual((changed.topic, changed.by, changed.at), ("x" * 300, "alice", 1_764_000_000))
        self.assertEqual(self.server.sessions[10].info().topic, "x" * 300)
        self.assertRefused("bad_arguments", self.command, self.alice, "topic", "x" * 301)

    def test_plus_t_keeps_the_topic_for_the_admin(self) -> None:
        """Under +t (the default) a member gets not_admin; under -t they set it; /topic alone clears it."""
        self.assertRefused("not_admin", self.command, self.bob, "topic", "mine")
        self.command(self.alice, "mode", "-t")
        self.assertEqual(self.command(self.bob, "topic", "mine"), "You set the topic of garden.")
        self.assertEqual(self.command(self.bob, "topic"), "You cleared the topic of garden.")
        self.assertEqual(self.server.sessions[10].info().topic, "")


class JoinRuleTests(RulesTestCase):
    def test_invite_only_invitation_is_used_once(self) -> None:
        """+i refuses the uninvited (invite_only); an invitation lets one join in, then it is used."""
        self.command(self.alice, "mode", "+i")
        carol, carol_conn = connect(self.server)
        self.assertRefused("invite_only", carol.join, 10, "carol")
        self.assertEqual(self.command(self.alice, "invite", "CAROL"), "You invited carol to garden.")
        [invited] = carol_conn.of_type(Invited)
        self.assertEqual((invited.session_id, invited.session_name, invited.by), (10, "garden", "alice"))
        done(carol.join(10, "carol"))
        self.command(carol, "quit")
        self.assertRefused("invite_only", carol.join, 10, "carol")
        self.assertRefused("already_in_session", self.command, self.alice, "invite", "bob")
        self.assertRefused("no_such_user", self.command, self.alice, "invite", "nobody")
        self.assertRefused("not_admin", self.command, self.bob, "invite", "carol")

    def test_limit_1_to_9999(self) -> None:
        """+l takes 1 to 9999; at the limit a join gets session_full; nobody is removed by a lower one."""
        self.assertRefused("bad_arguments", self.command, self.alice, "mode", "+l 0")
        self.assertRefused("bad_arguments", self.command, self.alice, "mode", "+l 10000")
        self.command(self.alice, "mode", "+l 9999")
        self.command(self.alice, "mode", "+l 1")
        self.assertEqual(len(self.server.sessions[10].members), 2)
        carol, _ = connect(self.server)
        self.assertRefused("session_full", carol.join, 10, "carol")
        self.assertEqual(self.server.sessions[10].info().modes, "+ntl")

    def test_ban_masks(self) -> None:
        """A ban does not kick; it refuses matching joins (case-insensitive, * and ?); 50 bans, not 51."""
        self.assertEqual(self.command(self.alice, "mode", "+b B?B"), "Changed: +b B?B!*@*")
        self.assertEqual(self.bob.members.keys(), {10})
        self.command(self.bob, "quit")
        self.assertRefused("banned", self.bob.join, 10, "bob")
        self.assertEqual(self.command(self.alice, "mode", "b"), "Bans in garden: B?B!*@*")
        self.command(self.alice, "unban", "b?b!*@*")
        done(self.bob.join(10, "bob"))
        self.assertRefused("bad_arguments", self.command, self.alice, "mode", "+b bo/b")
        masks = " ".join(f"m{i}" for i in range(50))
        self.command(self.alice, "mode", f"+{'b' * 50} {masks}")
        self.assertRefused("too_many_bans", self.command, self.alice, "mode", "+b one!*@*")

    def test_ban_placed_while_the_key_is_checked(self) -> None:
        """A joiner whose key is being checked is refused if a ban matches them when the check ends."""
        passwords, runner = late_passwords()
        self.server.passwords = passwords
        self.alice.run_command("mode", "+k 12345", 10)
        runner.finish()
        carol, _ = connect(self.server)
        joining = carol.join(10, "carol", "12345")
        self.command(self.alice, "mode", "+b carol")
        runner.finish()
        self.assertEqual(self.failureResultOf(joining, ChatError).value.code, "banned")
        self.assertNotIn(10, carol.members)


class KeyTests(RulesTestCase):
    def test_lock_hashes_later_and_stores(self) -> None:
        """/lock 12345 answers once the hash is done, stores the hash (never the key), and the session is locked."""
        passwords, runner = late_passwords()
        self.server.passwords = passwords
        locking = self.alice.run_command("lock", "12345", 10)
        self.assertNoResult(locking)
        self.assertRefused("wrong_state", self.command, self.alice, "lock", "54321")
        runner.finish()
        self.assertEqual(self.successResultOf(locking), "You locked garden with a new key.")
        stored = self.server.store.sessions[10].password_hash
        self.assertTrue(stored and "12345" not in stored)
        self.assertTrue(self.server.sessions[10].info().locked)
        [changed] = self.bob_conn.of_type(ModeChanged)
        self.assertEqual((changed.mode, changed.parameter), ("+k", "12345"))
        self.assertRefused("invalid_password", self.command, self.alice, "lock", "1234")
        self.assertEqual(self.command(self.alice, "unlock"), "You unlocked garden.")
        self.assertIsNone(self.server.store.sessions[10].password_hash)


class SpeakingTests(RulesTestCase):
    def test_moderated(self) -> None:
        """+m: only the admin and voiced members talk; voice goes with the member."""
        self.command(self.alice, "mode", "+m")
        self.assertRefused("moderated", self.bob.say, "hi")
        done(self.alice.say("admins may"))
        self.command(self.alice, "mode", "+v bob")
        done(self.bob.say("voiced"))
        self.command(self.bob, "quit")
        done(self.bob.join(10, "bob"))
        self.assertRefused("moderated", self.bob.say, "hi")


class AdminTests(RulesTestCase):
    def test_admin_hands_the_role_on(self) -> None:
        """/admin bob: one admin still, bob; alice is told and gets an idle timeout."""
        self.assertEqual(self.command(self.alice, "admin", "bob"), "You handed the admin role to bob.")
        [changed] = self.bob_conn.of_type(AdminChanged)
        self.assertEqual((changed.admin, changed.by), ("bob", "alice"))
        admins = [m.name for m in self.server.sessions[10].members.values() if m.is_admin]
        self.assertEqual(admins, ["bob"])
        self.assertRefused("not_admin", self.command, self.alice, "kick", "bob")
        self.clock.advance(240)
        self.assertEqual(self.alice.members, {})

    def test_kick_reason_reaches_everyone(self) -> None:
        """/kick NAME REASON carries the reason to the kicked and the others; without one it is None."""
        carol, carol_conn = connect(self.server)
        done(carol.join(10, "carol"))
        self.command(self.alice, "kick", "bob  too loud ")
        [left] = self.bob_conn.of_type(Left)
        self.assertEqual(left.comment, "too loud")
        [gone] = carol_conn.of_type(MemberLeft)
        self.assertEqual((gone.name, gone.comment), ("bob", "too loud"))
        self.command(self.alice, "kick", "carol")
        self.assertIsNone(carol_conn.of_type(Left)[0].comment)


class ParseTests(SynchronousTestCase):
    def test_mode_words(self) -> None:
        """Parameters go to b, k, o, v and +l, in order; -l and -k need none; unknown letters are refused."""
        changes = rules.parse_modes(["+kl-il", "12345", "10"])
        self.assertEqual([str(c) for c in changes], ["+k 12345", "+l 10", "-i", "-l"])
        self.assertEqual([str(c) for c in rules.parse_modes(["-k"])], ["-k"])
        self.assertRaises(ChatError, rules.parse_modes, ["+l"])
        self.assertEqual(self.assertRaises(ChatError, rules.parse_modes, ["+z"]).code, "unknown_mode")

    def test_ban_mask_forms(self) -> None:
        """A nick is nick!*@*, user@host is *!user@host, nick!user is nick!user@*."""
        self.assertEqual(rules.ban_mask("bob"), "bob!*@*")
        self.assertEqual(rules.ban_mask("*@glozichat"), "*!*@glozichat")
        self.assertEqual(rules.ban_mask("bob!bob"), "bob!bob@*")
