"""A session's rules in the domain (glozi/domain/rules.py), on task.Clock: the
topic, +t, +i with invitations, +k, +l, +m with voice, +b, +o, kick reasons,
at their edges with the literals from docs/protocol.md."""

from twisted.trial.unittest import SynchronousTestCase

from glozi.domain import rules
from glozi.domain.errors import ChatError
from glozi.domain.events import AdminChanged, Invited, Left, MemberLeft, Message, ModeChanged, TopicChanged
from tests.helpers import RecordingList, connect, done, late_passwords, make_server


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

    def test_an_invitation_passes_the_limit_once(self) -> None:
        """At +l 2 with 2 members an invited user joins all the same; the invitation used, they are refused next time."""
        self.command(self.alice, "mode", "+l 2")
        carol, _ = connect(self.server)
        self.assertRefused("session_full", carol.join, 10, "carol")
        self.command(self.alice, "invite", "carol")
        done(carol.join(10, "carol"))
        self.assertEqual(self.server.sessions[10].info().member_count, 3)
        self.command(carol, "quit")
        error = self.assertRefused("session_full", carol.join, 10, "carol")
        self.assertEqual(error.message, "garden is full: 2 members at most.")

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

    def test_ban_mask_of_64_characters_and_not_65(self) -> None:
        """A ban mask is at most 64 characters: 64 (bob's 60 letters and !*@*) is set, 65 is bad_arguments."""
        mask = "b" * 60 + "!*@*"
        self.assertEqual(self.command(self.alice, "mode", f"+b {'b' * 60}"), f"Changed: +b {mask}")
        error = self.assertRefused("bad_arguments", self.command, self.alice, "mode", f"+b {'b' * 61}")
        self.assertEqual(
            error.message, "A ban mask is nick!user@host with * and ? (at most 64 characters), or a nick."
        )

    def test_every_user_is_nick_at_glozichat(self) -> None:
        """Bans match nick!nick@glozichat: *!carol@* and *!*@glozichat refuse carol, *!*@elsewhere does not."""
        carol, _ = connect(self.server)
        for mask in ("*!carol@*", "*!*@glozichat"):
            self.command(self.alice, "mode", f"+b {mask}")
            self.assertRefused("banned", carol.join, 10, "carol")
            self.command(self.alice, "mode", f"-b {mask}")
        self.command(self.alice, "mode", "+b *!*@elsewhere")
        self.assertEqual(done(carol.join(10, "carol")).session.name, "garden")

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

    def late_keys(self):
        passwords, runner = late_passwords()
        self.server.passwords = passwords
        return runner

    def test_a_key_change_after_another_is_taken(self) -> None:
        """Once a /lock is answered, the next key change is hashed too (not wrong_state)."""
        runner = self.late_keys()
        first = self.alice.run_command("lock", "12345", 10)
        runner.finish()
        self.successResultOf(first)
        second = self.alice.run_command("lock", "54321", 10)
        runner.finish()
        self.assertEqual(self.successResultOf(second), "You locked garden with a new key.")

    def test_admin_role_handed_on_while_the_key_hashes(self) -> None:
        """/lock answered after the admin handed the role on: not_admin, the session stays open; the new admin may /lock."""
        runner = self.late_keys()
        locking = self.alice.run_command("lock", "12345", 10)
        self.command(self.alice, "admin", "bob")
        runner.finish()
        error = self.failureResultOf(locking, ChatError).value
        self.assertEqual(
            (error.code, error.message), ("not_admin", "You are no longer the session's admin; the key is unchanged.")
        )
        self.assertFalse(self.server.sessions[10].info().locked)
        self.assertIsNone(self.server.store.sessions[10].password_hash)
        locking = self.bob.run_command("lock", "54321", 10)
        runner.finish()
        self.assertEqual(self.successResultOf(locking), "You locked garden with a new key.")

    def test_session_closed_while_the_key_hashes(self) -> None:
        """/lock answered after the session was closed: not_admin, and nothing is stored for it."""
        runner = self.late_keys()
        locking = self.alice.run_command("lock", "12345", 10)
        self.command(self.alice, "close")
        runner.finish()
        self.assertEqual(self.failureResultOf(locking, ChatError).value.code, "not_admin")
        self.assertNotIn(10, self.server.store.sessions)
        self.assertEqual(self.bob_conn.of_type(ModeChanged), [])


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


class NoExternalTests(RulesTestCase):
    def outsider(self):
        """carol, in session 1 (kiwi) only."""
        carol, carol_conn = connect(self.server)
        done(carol.join(1, "carol"))
        return carol, carol_conn

    def test_plus_n_refuses_a_user_outside(self) -> None:
        """+n (the default): a message from outside gets not_in_session, as before; nobody hears it."""
        carol, _ = self.outsider()
        self.assertEqual(self.server.sessions[10].info().modes, "+nt")
        self.assertRefused("not_in_session", carol.say, "hi from carol", 10)
        self.assertEqual(self.bob_conn.of_type(Message), [])

    def test_minus_n_lets_a_user_outside_talk(self) -> None:
        """-n: every member gets carol's message, it is in the history and the store, carol stays outside; +n again refuses."""
        carol, carol_conn = self.outsider()
        self.alice_conn.clear()
        self.assertEqual(self.command(self.alice, "mode", "-n"), "Changed: -n")
        self.assertEqual(self.command(self.bob, "mode"), "Modes of garden: +t")
        self.assertEqual(done(carol.say("hi from carol", 10)).sent_at, 1_764_000_000)
        for connection in (self.alice_conn, self.bob_conn):
            [message] = connection.of_type(Message)
            self.assertEqual((message.session_id, message.sender, message.text), (10, "carol", "hi from carol"))
        self.assertEqual(carol_conn.of_type(Message), [])
        self.assertEqual(list(self.server.sessions[10].history)[-1].sender, "carol")
        self.assertEqual(self.server.store.messages[10][-1].sender, "carol")
        self.assertEqual(carol.members.keys(), {1})
        self.assertEqual(self.server.sessions[10].info().member_count, 2)
        self.assertEqual(self.command(self.alice, "mode", "+n"), "Changed: +n")
        self.assertRefused("not_in_session", carol.say, "again", 10)

    def test_a_message_from_outside_touches_no_idle_timer(self) -> None:
        """carol, silent in kiwi for 240 s but for a message to garden (-n) at 239 s, is still removed from kiwi at 240 s (whois idle: 0)."""
        carol, _ = self.outsider()
        self.command(self.alice, "mode", "-n")
        self.clock.advance(239)
        done(carol.say("hi from carol", 10))
        self.assertEqual(self.alice.whois("carol").idle_seconds, 0, "it counts as speaking for whois")
        self.clock.advance(1)
        self.assertEqual(carol.members, {})

    def test_a_ban_or_plus_m_silences_a_user_outside(self) -> None:
        """-n with +b carol: banned; with +m: moderated (nobody outside is voiced); a user with no name yet: wrong_state."""
        carol, _ = self.outsider()
        self.command(self.alice, "mode", "-n")
        self.command(self.alice, "mode", "+b carol")
        self.assertRefused("banned", carol.say, "hi", 10)
        self.command(self.alice, "mode", "-b carol")
        self.command(self.alice, "mode", "+m")
        self.assertRefused("moderated", carol.say, "hi", 10)
        self.assertEqual(self.bob_conn.of_type(Message), [])
        nameless, _ = connect(self.server)
        self.assertRefused("wrong_state", nameless.say, "hi", 10)


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
        self.assertEqual(rules.parse_modes([]), [])

    def test_ban_mask_forms(self) -> None:
        """A nick is nick!*@*, user@host is *!user@host, nick!user is nick!user@*."""
        self.assertEqual(rules.ban_mask("bob"), "bob!*@*")
        self.assertEqual(rules.ban_mask("*@glozichat"), "*!*@glozichat")
        self.assertEqual(rules.ban_mask("bob!bob"), "bob!bob@*")


class SecretTests(RulesTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.outsider, _ = connect(self.server)
        self.at_list = RecordingList()
        self.server.watch_session_list(self.at_list)

    def listed(self, who) -> list[str]:
        return [info.name for info in who.list_sessions()]

    def test_secret_session_is_listed_to_its_members_only(self) -> None:
        """+s: the session list of a member shows it, an outsider's does not; joining it by id still works; -s shows it again."""
        self.assertEqual(self.command(self.alice, "mode", "+s"), "Changed: +s")
        self.assertEqual(self.server.sessions[10].info().modes, "+nst")
        self.assertIn("garden", self.listed(self.bob))
        self.assertNotIn("garden", self.listed(self.outsider))
        done(self.outsider.join(10, "carol"))
        self.assertIn("garden", self.listed(self.outsider))
        self.command(self.outsider, "quit")
        self.assertNotIn("garden", self.listed(self.outsider))
        self.command(self.alice, "mode", "-s")
        self.assertIn("garden", self.listed(self.outsider))

    def test_session_list_events_never_show_a_secret_session(self) -> None:
        """+s removes the session from the list (session_removed); joins, leaves and changes while secret send nothing; -s adds it back."""
        self.command(self.alice, "mode", "+s")
        [removed] = self.at_list.events
        self.assertEqual((type(removed).__name__, removed.session_id, removed.name), ("SessionRemoved", 10, "garden"))
        done(self.outsider.join(10, "carol"))
        self.command(self.outsider, "quit")
        self.command(self.alice, "topic", "hidden")
        self.command(self.alice, "mode", "+m")
        self.assertEqual(len(self.at_list.events), 1)
        self.command(self.alice, "mode", "-s")
        [_, added] = self.at_list.events
        self.assertEqual((type(added).__name__, added.session.name, added.session.modes), ("SessionAdded", "garden", "+mnt"))

    def test_a_secret_session_that_empties_goes_unannounced(self) -> None:
        """The last member of a secret session leaves: the list, which never had it, hears nothing."""
        self.command(self.alice, "mode", "+s")
        self.command(self.bob, "quit")
        self.command(self.alice, "quit")
        self.assertNotIn(10, self.server.sessions)
        self.assertEqual([type(e).__name__ for e in self.at_list.events], ["SessionRemoved"])

    def test_whois_hides_a_secret_session_from_outsiders(self) -> None:
        """WHOIS of a member lists a secret session only to those in it."""
        done(self.alice.create("attic", "alice"))
        self.command(self.alice, "mode", "+s")
        self.assertEqual([s.name for s in self.outsider.whois("alice").sessions], ["attic"])
        self.assertEqual([s.name for s in self.bob.whois("alice").sessions], ["garden", "attic"])


class NoCtcpTests(RulesTestCase):
    def test_no_ctcp_is_a_flag_the_admin_sets(self) -> None:
        """/mode +C is shown as +Cnt; a member may not set it; -C lifts it."""
        self.assertRefused("not_admin", self.command, self.bob, "mode", "+C")
        self.assertEqual(self.command(self.alice, "mode", "+C"), "Changed: +C")
        self.assertEqual(self.command(self.bob, "mode"), "Modes of garden: +Cnt")
        [changed] = self.bob_conn.of_type(ModeChanged)
        self.assertEqual(changed.mode, "+C")
        self.assertEqual(self.command(self.alice, "mode", "-C"), "Changed: -C")


class ExceptionTests(RulesTestCase):
    def test_ban_exception_lets_the_banned_join_and_talk(self) -> None:
        """+b ba*!*@* refuses bar; +e *ar!*@* lets him join and talk; -e bans him again."""
        self.command(self.alice, "mode", "+b ba*!*@*")
        bar, _ = connect(self.server)
        self.assertRefused("banned", bar.join, 10, "bar")
        self.assertEqual(self.command(self.alice, "mode", "+e *ar!*@*"), "Changed: +e *ar!*@*")
        done(bar.join(10, "bar"))
        done(bar.say("hello"))
        self.assertEqual(self.command(bar, "mode", "e"), "Ban exceptions in garden: *ar!*@*")
        self.command(self.alice, "mode", "-e *AR!*@*")
        self.assertRefused("banned", bar.say, "hello")
        self.assertEqual(self.command(bar, "mode", "e"), "No ban exceptions in garden.")

    def test_invite_exception_lets_a_match_past_invite_only(self) -> None:
        """+i refuses bar and baz; +I bar!*@* lets bar (not baz) join, every time, uninvited; -I refuses him again."""
        self.command(self.alice, "mode", "+i")
        bar, _ = connect(self.server)
        baz, _ = connect(self.server)
        self.assertRefused("invite_only", bar.join, 10, "bar")
        self.assertEqual(self.command(self.alice, "mode", "+I bar"), "Changed: +I bar!*@*")
        done(bar.join(10, "bar"))
        self.assertRefused("invite_only", baz.join, 10, "baz")
        self.command(bar, "quit")
        done(bar.join(10, "bar"))
        self.command(bar, "quit")
        self.assertEqual(self.command(self.alice, "mode", "I"), "Invite exceptions in garden: bar!*@*")
        self.command(self.alice, "mode", "-I bar!*@*")
        self.assertRefused("invite_only", bar.join, 10, "bar")

    def test_invite_exception_does_not_pass_the_limit(self) -> None:
        """+I passes +i only: at the member limit a matching user gets session_full."""
        self.command(self.alice, "mode", "+Il bar 2")
        bar, _ = connect(self.server)
        self.assertRefused("session_full", bar.join, 10, "bar")

    def test_each_list_keeps_50_masks(self) -> None:
        """50 ban exceptions and 50 invite exceptions, besides 50 bans; the 51st of each is too_many_bans."""
        masks = " ".join(f"m{i}" for i in range(50))
        for letter in "beI":
            self.command(self.alice, "mode", f"+{letter * 50} {masks}")
        for letter in "beI":
            error = self.assertRefused("too_many_bans", self.command, self.alice, "mode", f"+{letter} one!*@*")
            self.assertIn("at most 50", error.message)
        self.assertRefused("not_admin", self.command, self.bob, "mode", "+e bob")


class NothingChangedTests(RulesTestCase):
    """A change to what already holds takes no effect: reply "Nothing changed.", no mode_changed sent."""

    def assertNothingChanged(self, name: str, args: str = "") -> None:
        self.alice_conn.clear()
        self.bob_conn.clear()
        self.assertEqual(self.command(self.alice, name, args), "Nothing changed.")
        self.assertEqual(self.bob_conn.of_type(ModeChanged) + self.alice_conn.of_type(ModeChanged), [])

    def test_voice_twice_and_unvoice_the_unvoiced(self) -> None:
        """+v bob twice: the second changes nothing; -v of a member never voiced neither."""
        self.assertEqual(self.command(self.alice, "mode", "+v bob"), "Changed: +v bob")
        self.assertNothingChanged("mode", "+v bob")
        self.command(self.alice, "mode", "-v bob")
        self.assertNothingChanged("mode", "-v bob")

    def test_the_same_limit_again(self) -> None:
        """+l 10 when the limit is 10 changes nothing; -l with no limit neither."""
        self.assertNothingChanged("mode", "-l")
        self.assertEqual(self.command(self.alice, "mode", "+l 10"), "Changed: +l 10")
        self.assertNothingChanged("mode", "+l 10")

    def test_a_ban_set_twice_or_lifted_when_absent(self) -> None:
        """+b of a mask already there (any case) changes nothing; -b of one not there neither."""
        self.command(self.alice, "mode", "+b carol")
        self.assertNothingChanged("mode", "+b CAROL!*@*")
        self.assertEqual(rules.mask_list(self.server.sessions[10].admin), ["carol!*@*"])
        self.assertNothingChanged("unban", "dave")

    def test_unlock_an_open_session(self) -> None:
        """/unlock of a session with no key changes nothing."""
        self.assertNothingChanged("unlock")

    def test_admin_to_oneself(self) -> None:
        """/admin alice by alice changes nothing: no admin_changed."""
        self.assertNothingChanged("admin", "alice")
        self.assertEqual(self.bob_conn.of_type(AdminChanged), [])

    def test_a_list_letter_among_changes_asks_for_nothing(self) -> None:
        """/mode +mb: +m applies, the bare b (a list request) is no change of its own."""
        self.assertEqual(self.command(self.alice, "mode", "+mb"), "Changed: +m")

    def test_plus_k_without_a_key(self) -> None:
        """/mode +k with no key: bad_arguments naming the key's rule."""
        error = self.assertRefused("bad_arguments", self.command, self.alice, "mode", "+k")
        self.assertEqual(error.message, "+k needs the key, exactly 5 digits.")
