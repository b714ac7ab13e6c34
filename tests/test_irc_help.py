"""HELP and HELPOP on the IRC door (docs/irc.md, "Registration and keeping alive")."""

from glozi.doors.irc.help import TOPICS
from glozi.doors.irc.protocol import IRCProtocol
from tests.test_irc_protocol import DoorTestCase


class HelpTests(DoorTestCase):
    def test_help_alone_lists_the_commands(self) -> None:
        """HELP with no subject: 704, 705 lines and 706, all about subject *, naming every command."""
        lines = self.user("alice").send("HELP")
        self.assertEqual([line.command for line in lines], ["704", "705", "706"])
        self.assertEqual({tuple(line.params[:2]) for line in lines}, {("alice", "*")})
        for command in ("JOIN", "PRIVMSG", "WHOIS", "HELP"):
            self.assertIn(command, lines[1].params[2].split())

    def test_help_on_a_command_in_any_case(self) -> None:
        """HELP privmsg and HELPOP PRIVMSG answer about PRIVMSG, 704 first and 706 last."""
        alice = self.user("alice")
        for line in ("HELP privmsg", "HELPOP PRIVMSG"):
            lines = alice.send(line)
            self.assertEqual(lines[0].command, "704")
            self.assertEqual(lines[-1].command, "706")
            self.assertEqual({line.command for line in lines[1:-1]}, {"705"})
            self.assertEqual({line.params[1] for line in lines}, {"PRIVMSG"})

    def test_help_on_an_unknown_subject(self) -> None:
        """A subject with no help gets 524 naming it, and nothing else."""
        [answer] = self.user("alice").send("HELP THISISNOTACOMMAND")
        self.assertEqual(answer.command, "524")
        self.assertEqual(answer.params[:2], ["alice", "THISISNOTACOMMAND"])

    def test_every_command_has_help(self) -> None:
        """Each command of the door's table has a HELP topic (HELPOP is HELP's other name)."""
        self.assertEqual(set(IRCProtocol.COMMANDS) - {"HELPOP"}, set(TOPICS))
