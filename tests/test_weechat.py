"""A real WeeChat (Debian's ``weechat-curses``) in a private tmux server, against
the real ``twistd -n glozichat``, chatting with a native client; the test reads
WeeChat's screen with ``tmux capture-pane``."""

import os

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from glozi.storage.store import StoredMessage
from tests.ircscenarios import Screen, me_whois_away_and_msg
from tests.realserver import connect_client, hold_irc_nick, start_server
from tests.test_chathistory_e2e import KIWI, PAST, write_history
from tests.tmux import Tmux, require_tools, start_in_tmux


class WeeChatTests(TestCase):
    timeout = 60

    def setUp(self) -> None:
        require_tools(self, {"weechat": "weechat-curses", "tmux": "tmux"})

    def start_weechat(self, port: int, nicks: str) -> "defer.Deferred[Tmux]":
        """WeeChat with its own home folder and only its IRC plugin, connecting as ``nicks``;
        its clock shows UTC, so times on its screen are the server's."""
        home = os.path.abspath(self.mktemp())
        os.makedirs(home)
        commands = f"/server add glozi 127.0.0.1/{port} -notls;/set irc.server.glozi.nicks {nicks};/connect glozi"
        return start_in_tmux(self, home, f"TZ=UTC weechat --dir {home} --plugins irc --no-script --run-command '{commands}'")

    @defer.inlineCallbacks
    def test_weechat_whose_nick_is_taken_gets_in_as_its_fallback(self) -> None:
        """WeeChat's only nick ircbob is held by another IRC client (433): it falls back to ircbob_, joins and talks."""
        server = yield start_server(self)
        yield hold_irc_nick(self, server.irc_port, "ircbob")
        carol = yield connect_client(self, server.port)
        yield carol.request(type="create", name="garden", username="carol")
        tmux = yield self.start_weechat(server.irc_port, "ircbob")

        yield tmux.wait_for("End of /MOTD command.")
        yield tmux.type("/join #garden")
        joined = yield carol.next()
        self.assertEqual((joined["type"], joined["name"]), ("member_joined", "ircbob_"))
        # WeeChat asks for extended-join: "ircbob_ (its real name) (ircbob_@glozichat) has joined".
        yield tmux.wait_for("(ircbob_@glozichat) has joined #garden")
        yield tmux.type("hello as ircbob_")
        message = yield carol.next()
        self.assertEqual((message["from"], message["text"]), ("ircbob_", "hello as ircbob_"))
        yield carol.request(type="say", text="welcome, ircbob_")
        channel = yield tmux.wait_for("welcome, ircbob_")
        tmux.save("fallback", channel)
        self.assertIn("@carol", channel)

    @defer.inlineCallbacks
    def test_me_whois_away_and_msg_with_a_native_user(self) -> None:
        """/me, /whois, /away and /msg between WeeChat and a native user, each way, on WeeChat's screen and in the native frames."""
        server = yield start_server(self)
        bob = yield connect_client(self, server.port)
        yield bob.request(type="create", name="garden", username="bob")
        tmux = yield self.start_weechat(server.irc_port, "ircalice")
        yield tmux.wait_for("End of /MOTD command.")
        screen = Screen(
            joined="(ircalice@glozichat) has joined #garden",
            bob_action="bob dances",
            # WeeChat prints WHOIS in its server buffer.
            server_window="/buffer glozi",
            end_of_whois="End of /WHOIS list",
            whois_shows=("[bob] (~bob@glozichat): bob",),
            bob_private="hi back",
            bob_private_action="bob grins",
        )
        yield me_whois_away_and_msg(self, tmux, bob, screen)

    @defer.inlineCallbacks
    def test_history_on_join_shows_the_original_times(self) -> None:
        """Messages stored at 03:04:05 and 03:05:07 UTC on 1 December 2025: on joining #kiwi WeeChat
        (server-time, no batch) shows them at those times, from their senders, not as server notices."""
        path = yield write_history(
            self,
            [
                StoredMessage(KIWI, "carol", "good morning", PAST, msgid="past0"),
                StoredMessage(KIWI, "dave", "stretches", PAST + 62, action=True, msgid="past1"),
            ],
        )
        server = yield start_server(self, "--db", path)
        tmux = yield self.start_weechat(server.irc_port, "ircalice")
        yield tmux.wait_for("End of /MOTD command.")
        yield tmux.type("/join #kiwi")
        yield tmux.wait_for("dave stretches")
        screen = yield tmux.wait_for("good morning")
        tmux.save("history", screen)
        said = next(line for line in screen.splitlines() if "good morning" in line)
        acted = next(line for line in screen.splitlines() if "dave stretches" in line)
        self.assertRegex(said, r"^03:04:05 +carol \| good morning")
        self.assertRegex(acted, r"^03:05:07 +\* \| dave stretches")
        # WeeChat marks the day the lines are from: they are history, not now.
        self.assertIn("-- Mon, 01 Dec 2025", screen)
        self.assertNotIn("History", screen)
