"""A real IRC client: irssi in a private tmux server, against the real
``twistd -n glozichat``, chatting with a native client; the test reads irssi's
screen with ``tmux capture-pane``."""

import os

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from tests.ircscenarios import Screen, me_whois_away_and_msg
from tests.realserver import connect_client, hold_irc_nick, start_server
from tests.tmux import Tmux, require_tools, start_in_tmux

# irssi paces its commands against flooding (2.2 s apart by default); a local test need not wait.
IRSSI_CONFIG = """\
servers = ( );
chatnets = { };
channels = ( );
settings = {
  core = { real_name = "irssi tester"; user_name = "ircalice"; nick = "ircalice"; };
  "fe-common/core" = { autolog = "no"; };
  "irc/core" = { cmd_queue_speed = "100msec"; cmds_max_at_once = "20"; };
};
"""
# Lines irssi prints for the replies a correct server never sends in this conversation.
STATUS_ERRORS = (
    "not registered",
    "Unknown command",
    "Not enough parameters",
    "too long",
    "Erroneous",
    "already in use",
    "Cannot join",
    "Unknown mode",
    "No such",
    "ERROR",
)


class IrssiTests(TestCase):
    timeout = 60

    def setUp(self) -> None:
        require_tools(self, {"irssi": "irssi", "tmux": "tmux"})

    def start_irssi(self, port: int, nick: str = "ircalice") -> "defer.Deferred[Tmux]":
        home = os.path.abspath(self.mktemp())
        os.makedirs(home)
        with open(os.path.join(home, "config"), "w") as f:
            f.write(IRSSI_CONFIG)
        return start_in_tmux(self, home, f"irssi --home={home} -n {nick} -c 127.0.0.1 -p {port}")

    @defer.inlineCallbacks
    def test_irssi_and_native_client_chat(self) -> None:
        """irssi connects, lists, joins a locked session with its key, talks both ways with a native user and is kicked."""
        server = yield start_server(self)
        bob = yield connect_client(self, server.port)
        yield bob.request(type="create", name="garden", username="bob", password="12345")
        tmux = yield self.start_irssi(server.irc_port)

        yield tmux.wait_for("End of /MOTD command.")
        yield tmux.type("/list -YES")
        yield tmux.wait_for("#garden 1 Created by bob")
        yield tmux.type("/join #garden 12345")
        yield tmux.wait_for("Total of 2 nicks [1 ops")
        joined = yield bob.next()
        self.assertEqual((joined["type"], joined["name"]), ("member_joined", "ircalice"))

        yield tmux.type("hello from irssi")
        message = yield bob.next()
        self.assertEqual((message["from"], message["text"]), ("ircalice", "hello from irssi"))
        yield bob.request(type="say", text="hello from native bob")
        yield tmux.wait_for("<@bob> hello from native bob")

        bob.send(type="command", name="kick", args="ircalice")
        channel = yield tmux.wait_for("ircalice was kicked from #garden by bob")
        tmux.save("channel", channel)

        yield tmux.type("/window 1")
        status = yield tmux.wait_for("#garden 1 Created by bob")
        tmux.save("status", status)
        for error in STATUS_ERRORS:
            self.assertNotIn(error, status)

    @defer.inlineCallbacks
    def test_irssi_whose_nick_is_taken_gets_in_as_its_fallback(self) -> None:
        """irssi's nick ircbob is held by another IRC client (433): irssi falls back to ircbob_, joins and talks."""
        server = yield start_server(self)
        yield hold_irc_nick(self, server.irc_port, "ircbob")
        carol = yield connect_client(self, server.port)
        yield carol.request(type="create", name="garden", username="carol")
        tmux = yield self.start_irssi(server.irc_port, nick="ircbob")

        yield tmux.wait_for("End of /MOTD command.")
        yield tmux.type("/join #garden")
        yield tmux.wait_for("Total of 2 nicks [1 ops")
        joined = yield carol.next()
        self.assertEqual((joined["type"], joined["name"]), ("member_joined", "ircbob_"))
        yield tmux.type("hello as ircbob_")
        message = yield carol.next()
        self.assertEqual((message["from"], message["text"]), ("ircbob_", "hello as ircbob_"))
        yield carol.request(type="say", text="welcome, ircbob_")
        channel = yield tmux.wait_for("<@carol> welcome, ircbob_")
        tmux.save("fallback", channel)

    @defer.inlineCallbacks
    def test_me_whois_away_and_msg_with_a_native_user(self) -> None:
        """/me, /whois, /away and /msg between irssi and a native user, each way, on irssi's screen and in the native frames."""
        server = yield start_server(self)
        bob = yield connect_client(self, server.port)
        yield bob.request(type="create", name="garden", username="bob")
        tmux = yield self.start_irssi(server.irc_port)
        yield tmux.wait_for("End of /MOTD command.")
        screen = Screen(
            joined="Total of 2 nicks [1 ops",
            bob_action="* bob dances",
            # irssi prints WHOIS in its status window.
            server_window="/window 1",
            end_of_whois="End of WHOIS",
            whois_shows=("bob [~bob@glozichat]", "@#garden"),
            bob_private="<bob> hi back",
            bob_private_action="* bob grins",
        )
        yield me_whois_away_and_msg(self, tmux, bob, screen)
