"""The command table and the naming rules."""

from twisted.trial.unittest import SynchronousTestCase

from glozi.domain import commands, names
from glozi.domain.errors import ChatError
from glozi.domain.quotes import QUOTES
from tests.helpers import connect, done, make_server


class TableTests(SynchronousTestCase):
    def test_every_command_has_help_and_usage(self) -> None:
        """Each row has a usage starting with its name and a help text."""
        self.assertEqual(set(commands.COMMANDS), {
            "help", "quote", "time", "echo", "kick", "quit", "close",
            "topic", "mode", "invite", "ban", "unban", "lock", "unlock", "admin",
        })
        for name, command in commands.COMMANDS.items():
            self.assertTrue(command.usage.startswith("/" + name))
            self.assertTrue(command.help)

    def test_help_lists_every_command(self) -> None:
        """/help is generated from the table and marks admin-only commands (close: admins and server operators)."""
        server, _ = make_server()
        alice, _ = connect(server)
        done(alice.join(1, "alice"))
        text = alice.run_command("help", "")
        for command in commands.COMMANDS.values():
            line = next(line for line in text.splitlines() if line.startswith(command.usage + " "))
            mark = "(admin or server operator)" if command.operators_too else "(admin only)"
            self.assertEqual(line.endswith(mark), command.admin_only)

    def test_quote_from_bundled_list(self) -> None:
        """/quote picks from at least 100 bundled quotes and names the author."""
        self.assertGreaterEqual(len(QUOTES), 100)
        server, _ = make_server()
        alice, _ = connect(server)
        done(alice.join(1, "alice"))
        text = alice.run_command("quote", "")
        self.assertTrue(any(text == f'"{q.text}" - {q.author}' for q in QUOTES))

    def test_time_and_echo(self) -> None:
        """/time shows the server clock's date; /echo repeats the text."""
        server, _clock = make_server()
        alice, _ = connect(server)
        done(alice.join(1, "alice"))
        self.assertTrue(alice.run_command("time", "").startswith("Server time: 2025-11-"))
        self.assertEqual(alice.run_command("echo", "a  b"), "a  b")
        self.assertEqual(alice.run_command("ECHO", "x"), "x")



class ArgumentTests(SynchronousTestCase):
    """The runner's standard refusals, with their messages (docs/protocol.md, Commands)."""

    def setUp(self) -> None:
        self.server, _ = make_server()
        self.alice, _ = connect(self.server)
        self.bob, _ = connect(self.server)
        done(self.alice.create("garden", "alice"))
        done(self.bob.join(10, "bob"))

    def refusal(self, who, name: str, args: str) -> tuple[str, str]:
        error = self.assertRaises(ChatError, lambda: done(who.run_command(name, args, 10)))
        return error.code, error.message

    def test_unknown_command_points_to_help(self) -> None:
        """A name that is no command: unknown_command, pointing to /help."""
        self.assertEqual(
            self.refusal(self.alice, "frobnicate", ""),
            ("unknown_command", "Unknown command /frobnicate. Type /help to see the commands."),
        )

    def test_admin_command_from_a_member(self) -> None:
        """A member's /kick: not_admin, as the protocol's example shows it."""
        self.assertEqual(self.refusal(self.bob, "kick", "alice"), ("not_admin", "/kick is for the session's admin only."))

    def test_the_admin_only_commands(self) -> None:
        """kick, close, invite, ban, unban, lock, unlock and admin are the admin's: a member gets not_admin, /help marks them."""
        admin_only = {"kick", "close", "invite", "ban", "unban", "lock", "unlock", "admin"}
        for name in sorted(admin_only):
            self.assertEqual(
                self.refusal(self.bob, name, "alice"), ("not_admin", f"/{name} is for the session's admin only.")
            )
        marked = {
            line.split()[0][1:] for line in self.bob.run_command("help", "", 10).splitlines()
            if line.endswith(("(admin only)", "(admin or server operator)"))
        }
        self.assertEqual(marked, admin_only)

    def test_quit_answers_which_session_was_left(self) -> None:
        """/quit: the reply names the session left."""
        self.assertEqual(self.bob.run_command("quit", "bye", 10), "You left garden.")

    def test_a_command_without_arguments_refuses_any(self) -> None:
        """/help with an argument: bad_arguments with its usage; spaces alone are no argument."""
        self.assertEqual(
            self.refusal(self.alice, "help", "me"), ("bad_arguments", "/help takes no arguments. Usage: /help")
        )
        self.assertTrue(self.alice.run_command("help", "   ", 10).startswith("Commands:"))

    def test_a_command_taking_one_name_refuses_none_and_two(self) -> None:
        """/invite needs exactly one name: none or two are bad_arguments with its usage."""
        carol, _ = connect(self.server)
        done(carol.join(1, "carol"))
        for args in ("", "   ", "carol dave"):
            self.assertEqual(self.refusal(self.alice, "invite", args), ("bad_arguments", "Usage: /invite NAME"))
        self.assertEqual(self.alice.run_command("invite", " carol ", 10), "You invited carol to garden.")

    def test_echo_needs_some_text(self) -> None:
        """/echo with no text, or spaces only, is bad_arguments; its text comes back trimmed."""
        for args in ("", "   "):
            self.assertEqual(self.refusal(self.alice, "echo", args), ("bad_arguments", "Usage: /echo TEXT"))
        self.assertEqual(self.alice.run_command("echo", "  a  b  ", 10), "a  b")

    def test_kick_and_ban_need_a_name(self) -> None:
        """/kick and /ban with no name: bad_arguments with their usage."""
        self.assertEqual(self.refusal(self.alice, "kick", " "), ("bad_arguments", "Usage: /kick NAME [REASON]"))
        self.assertEqual(self.refusal(self.alice, "ban", ""), ("bad_arguments", "Usage: /ban NAME [REASON]"))

    def test_cannot_ban_yourself(self) -> None:
        """/ban of oneself: cannot_kick_self, and no ban is set."""
        self.assertEqual(self.refusal(self.alice, "ban", "ALICE"), ("cannot_kick_self", "You cannot ban yourself."))
        self.assertEqual(self.alice.run_command("mode", "b", 10), "No bans in garden.")


class NameRuleTests(SynchronousTestCase):
    def test_usernames(self) -> None:
        """3-12 ASCII letters, digits or _ - [ ] \\ ^ { } | `, not starting with a digit or -."""
        for good in ("abc", "Alice", "bob12", "a" * 12, "Z9z", "bob_", "a__", "_ab", "alice__", "a-b", "[a]", "{b}",
                     "c\\d", "^ef", "g|h", "`ij", "abcdefghijk_"):
            self.assertTrue(names.is_valid_username(good), good)
        for bad in ("ab", "a_", "a" * 13, "abcdefghijk__", "1abc", "1_ab", "-ab", "al ice", "alíce", "bob~", "bob.",
                    "bob!", "a@b", "a#b", "", "abc\n"):
            self.assertFalse(names.is_valid_username(bad), bad)

    def test_session_names(self) -> None:
        """3-12 ASCII letters/digits, not starting with a digit: the IRC fallback characters are not for sessions."""
        for good in ("abc", "Alice", "bob12", "a" * 12, "Z9z"):
            self.assertTrue(names.is_valid_session_name(good), good)
        for bad in ("ab", "a" * 13, "1abc", "al ice", "alíce", "ali_ce", "bob_", "[a]", "-ab", "", "abc\n"):
            self.assertFalse(names.is_valid_session_name(bad), bad)

    def test_brackets_and_braces_are_different_names(self) -> None:
        """Only A-Z fold (CASEMAPPING=ascii): [a] and {a} are two names, Bob_ and bob_ one."""
        self.assertNotEqual(names.name_key("[a]"), names.name_key("{a}"))
        self.assertNotEqual(names.name_key("a|b"), names.name_key("a\\b"))
        self.assertEqual(names.name_key("Bob_"), names.name_key("bob_"))

    def test_passwords_and_codes(self) -> None:
        """Passwords are exactly five ASCII digits, exit codes exactly ten."""
        for check, good in ((names.is_valid_password, "01234"), (names.is_valid_exit_code, "0123456789")):
            self.assertTrue(check(good))
            for bad in (good[:-1], good + "5", good[:2] + "a" + good[3:], "１" * len(good), good + "\n"):
                self.assertFalse(check(bad), bad)
