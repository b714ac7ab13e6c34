"""A real WeeChat (Debian's ``weechat-curses``) in a private tmux server, against
the real ``twistd -n glozichat``, chatting with a native client; the test reads
WeeChat's screen with ``tmux capture-pane``."""

import os

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from tests.realserver import connect_client, hold_irc_nick, start_server
from tests.tmux import Tmux, require_tools, start_in_tmux


class WeeChatTests(TestCase):
    timeout = 60

    def setUp(self) -> None:
        require_tools(self, {"weechat": "weechat-curses", "tmux": "tmux"})

    def start_weechat(self, port: int, nicks: str) -> "defer.Deferred[Tmux]":
        """WeeChat with its own home folder and only its IRC plugin, connecting as ``nicks``."""
        home = os.path.abspath(self.mktemp())
        os.makedirs(home)
        commands = f"/server add glozi 127.0.0.1/{port} -notls;/set irc.server.glozi.nicks {nicks};/connect glozi"
        return start_in_tmux(self, home, f"weechat --dir {home} --plugins irc --no-script --run-command '{commands}'")

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
        yield tmux.wait_for("ircbob_ (ircbob_@glozichat) has joined #garden")
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
        yield tmux.type("/join #garden")
        yield bob.next()
        yield tmux.wait_for("ircalice (ircalice@glozichat) has joined #garden")

        yield tmux.type("/me waves")
        action = yield bob.next()
        self.assertEqual((action["type"], action["text"], action["action"]), ("message", "waves", True))
        yield bob.request(type="say", text="dances", action=True)
        yield tmux.wait_for("bob dances")

        yield bob.request(type="away", message="at lunch")
        yield tmux.type("/whois bob")
        # WeeChat prints WHOIS in its server buffer.
        yield tmux.type("/buffer glozi")
        whois = yield tmux.wait_for("End of /WHOIS list")
        tmux.save("whois", whois)
        self.assertIn("[bob] (~bob@glozichat): bob", whois)
        self.assertIn("at lunch", whois)

        yield tmux.type("/away back soon")
        yield tmux.wait_for("You have been marked as being away")
        user = yield bob.request(type="whois", name="ircalice")
        self.assertEqual((user["type"], user["away"]), ("user", "back soon"))

        yield tmux.type("/msg bob psst")
        private = yield bob.next()
        self.assertEqual((private["type"], private["from"], private["text"]), ("private_message", "ircalice", "psst"))
        yield tmux.type("/query bob")
        yield bob.request(type="private", to="ircalice", text="hi back")
        yield tmux.wait_for("hi back")
        yield bob.request(type="private", to="ircalice", text="grins", action=True)
        query = yield tmux.wait_for("bob grins")
        tmux.save("query", query)
        yield tmux.type("/me nods")
        private = yield bob.next()
        self.assertEqual((private["type"], private["text"], private["action"]), ("private_message", "nods", True))
