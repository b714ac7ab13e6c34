"""Session rules on the real ``twistd -n glozichat``, seen by a real irssi, a
real WeeChat (each in a private tmux server) and native clients: a topic,
``+k`` set, changed and removed, ``+l``, and bans with kick-and-ban. A native
user is the admin of one session, the irssi user of the other, so every change
crosses the doors in both directions."""

from typing import Any

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from tests import test_irssi, test_weechat
from tests.realserver import FrameClient, connect_client, start_server
from tests.tmux import Tmux, require_tools

FRAMES_BEFORE_GIVING_UP = 20
"""Frames a wait may pass over (joins, replies) before the one it waits for."""


@defer.inlineCallbacks
def next_of(client: FrameClient, kind: str) -> Any:
    """The next frame of type ``kind`` that ``client`` receives, passing over a bounded number of others."""
    passed = []
    for _ in range(FRAMES_BEFORE_GIVING_UP):
        frame = yield client.next()
        if frame["type"] == kind:
            return frame
        passed.append(frame)
    raise AssertionError(f"no {kind} frame came; these did: {passed}")


@defer.inlineCallbacks
def listed(client: FrameClient, name: str) -> Any:
    """The session object named ``name`` in the session list ``client`` asks for."""
    answer = yield client.request(type="list")
    return next(session for session in answer["sessions"] if session["name"] == name)


@defer.inlineCallbacks
def command(client: FrameClient, name: str, args: str = "", event: str = "mode_changed") -> Any:
    """Run a command in ``client``'s only session; return the ``event`` it caused (to every member, ``client`` too)."""
    client.send(type="command", name=name, args=args)
    caused = yield next_of(client, event)
    return caused


class SessionRulesEndToEndTests(TestCase):
    timeout = 120

    def setUp(self) -> None:
        require_tools(self, {"irssi": "irssi", "weechat": "weechat-curses", "tmux": "tmux"})

    @defer.inlineCallbacks
    def start_clients(self, irc_port: int) -> Any:
        """irssi as ircalice and WeeChat as ircwee, both connected and past the MOTD."""
        irssi = yield test_irssi.IrssiTests.start_irssi(self, irc_port, "ircalice")
        weechat = yield test_weechat.WeeChatTests.start_weechat(self, irc_port, "ircwee")
        yield irssi.wait_for("End of /MOTD command.")
        yield weechat.wait_for("End of /MOTD command.")
        return irssi, weechat

    @defer.inlineCallbacks
    def both_show(self, irssi: Tmux, weechat: Tmux, in_irssi: str, in_weechat: str) -> Any:
        """Wait until irssi shows ``in_irssi`` and WeeChat ``in_weechat`` (each says it its own way); their screens."""
        irssi_screen = yield irssi.wait_for(in_irssi)
        weechat_screen = yield weechat.wait_for(in_weechat)
        return irssi_screen, weechat_screen

    @defer.inlineCallbacks
    def test_native_admin_sets_topic_key_and_ban_seen_by_irssi_and_weechat(self) -> None:
        """bob (native) admins garden: his topic and his key set, changed and removed show in
        irssi and WeeChat and admit or refuse carol as the key says; he bans WeeChat's ircwee,
        who is kicked and then gets 474."""
        server = yield start_server(self)
        bob = yield connect_client(self, server.port)
        carol = yield connect_client(self, server.port)
        created = yield bob.request(type="create", name="garden", username="bob")
        garden = created["session"]["id"]
        irssi, weechat = yield self.start_clients(server.irc_port)
        yield irssi.type("/join #garden")
        yield irssi.wait_for("Total of 2 nicks [1 ops")
        yield weechat.type("/join #garden")
        yield weechat.wait_for("(ircwee@glozichat) has joined #garden")
        for nick in ("ircalice", "ircwee"):
            joined = yield next_of(bob, "member_joined")
            self.assertEqual(joined["name"], nick)

        changed = yield command(bob, "topic", "figs and dates", event="topic_changed")
        self.assertEqual((changed["topic"], changed["by"]), ("figs and dates", "bob"))
        yield self.both_show(
            irssi,
            weechat,
            "bob changed the topic of #garden to: figs and dates",
            'bob has changed topic for #garden to "figs and dates"',
        )
        session = yield listed(carol, "garden")
        self.assertEqual(session["topic"], "figs and dates")

        changed = yield command(bob, "mode", "+k 12345")
        self.assertEqual((changed["mode"], changed["parameter"], changed["by"]), ("+k", "12345", "bob"))
        yield self.both_show(
            irssi, weechat, "mode/#garden [+k 12345] by bob", "Mode #garden [+k 12345] by bob"
        )
        refused = yield carol.request(type="join", session=garden, username="carol")
        self.assert_refused(refused, "password_required")
        yield self.join_and_quit(carol, bob, garden, "12345")

        changed = yield command(bob, "lock", "54321")
        self.assertEqual((changed["mode"], changed["parameter"]), ("+k", "54321"))
        yield self.both_show(
            irssi, weechat, "mode/#garden [+k 54321] by bob", "Mode #garden [+k 54321] by bob"
        )
        refused = yield carol.request(type="join", session=garden, username="carol", password="12345")
        self.assert_refused(refused, "wrong_password")
        yield self.join_and_quit(carol, bob, garden, "54321")

        changed = yield command(bob, "unlock")
        self.assertEqual((changed["mode"], changed["parameter"]), ("-k", None))
        screens = yield self.both_show(irssi, weechat, "mode/#garden [-k] by bob", "Mode #garden [-k] by bob")
        self.save("topic-and-keys", irssi, weechat, screens)
        joined = yield carol.request(type="join", session=garden, username="carol")
        self.assertEqual(joined["type"], "joined")
        self.assertEqual(joined["session"]["topic"], "figs and dates")

        changed = yield command(bob, "ban", "ircwee too loud")
        self.assertEqual((changed["mode"], changed["parameter"]), ("+b", "ircwee!*@*"))
        seen = yield next_of(carol, "mode_changed")
        self.assertEqual((seen["mode"], seen["parameter"], seen["by"]), ("+b", "ircwee!*@*", "bob"))
        kicked = yield next_of(carol, "member_left")
        self.assertEqual(
            (kicked["name"], kicked["reason"], kicked["comment"]), ("ircwee", "kicked", "too loud")
        )
        yield self.both_show(
            irssi, weechat, "mode/#garden [+b ircwee!*@*] by bob", "Mode #garden [+b ircwee!*@*] by bob"
        )
        yield self.both_show(
            irssi,
            weechat,
            "ircwee was kicked from #garden by bob [too loud]",
            "bob has kicked ircwee (too loud)",
        )
        yield weechat.type("/join #garden")
        weechat_screen = yield weechat.wait_for("Cannot join channel (+b)")
        irssi_screen = yield irssi.screen()
        self.save("ban", irssi, weechat, (irssi_screen, weechat_screen))

    @defer.inlineCallbacks
    def test_irssi_admin_sets_topic_limit_key_and_kickban_seen_by_weechat_and_natives(self) -> None:
        """irssi's ircalice admins attic: its topic and key reach WeeChat and the native dave;
        at +l 2 WeeChat gets 471 and the native erin session_full; after /kickban dave cannot rejoin."""
        server = yield start_server(self)
        dave = yield connect_client(self, server.port)
        erin = yield connect_client(self, server.port)
        irssi, weechat = yield self.start_clients(server.irc_port)
        yield irssi.type("/join #attic")
        yield irssi.wait_for("Total of 1 nicks [1 ops")
        attic = yield listed(dave, "attic")
        joined = yield dave.request(type="join", session=attic["id"], username="dave")
        self.assertEqual((joined["type"], joined["session"]["admin"]), ("joined", "ircalice"))
        yield irssi.wait_for("dave [dave@glozichat] has joined #attic")

        yield irssi.type("/topic rules of the attic")
        changed = yield next_of(dave, "topic_changed")
        self.assertEqual((changed["topic"], changed["by"]), ("rules of the attic", "ircalice"))
        yield irssi.wait_for("ircalice changed the topic of #attic to: rules of the attic")
        session = yield listed(erin, "attic")
        self.assertEqual(session["topic"], "rules of the attic")

        yield irssi.type("/mode +l 2")
        changed = yield next_of(dave, "mode_changed")
        self.assertEqual((changed["mode"], changed["parameter"], changed["by"]), ("+l", "2", "ircalice"))
        yield irssi.wait_for("mode/#attic [+l 2] by ircalice")
        yield weechat.type("/join #attic")
        yield weechat.wait_for("#attic: Cannot join channel (+l)")
        refused = yield erin.request(type="join", session=attic["id"], username="erin")
        self.assert_refused(refused, "session_full")

        yield irssi.type("/mode -l")
        changed = yield next_of(dave, "mode_changed")
        self.assertEqual((changed["mode"], changed["parameter"]), ("-l", None))
        yield irssi.wait_for("mode/#attic [-l] by ircalice")
        yield weechat.type("/join #attic")
        yield weechat.wait_for("(ircwee@glozichat) has joined #attic")
        yield weechat.wait_for('Topic for #attic is "rules of the attic"')
        joined = yield next_of(dave, "member_joined")
        self.assertEqual(joined["name"], "ircwee")

        yield irssi.type("/mode +k 24680")
        changed = yield next_of(dave, "mode_changed")
        self.assertEqual((changed["mode"], changed["parameter"]), ("+k", "24680"))
        screens = yield self.both_show(
            irssi, weechat, "mode/#attic [+k 24680] by ircalice", "Mode #attic [+k 24680] by ircalice"
        )
        self.save("topic-and-modes", irssi, weechat, screens)

        yield irssi.type("/kickban dave leave now")
        changed = yield next_of(dave, "mode_changed")
        self.assertEqual((changed["mode"], changed["by"]), ("+b", "ircalice"))
        mask = changed["parameter"]
        left = yield next_of(dave, "left")
        self.assertEqual((left["reason"], left["by"], left["comment"]), ("kicked", "ircalice", "leave now"))
        yield self.both_show(
            irssi, weechat, f"mode/#attic [+b {mask}] by ircalice", f"Mode #attic [+b {mask}] by ircalice"
        )
        screens = yield self.both_show(
            irssi,
            weechat,
            "dave was kicked from #attic by ircalice [leave now]",
            "ircalice has kicked dave (leave now)",
        )
        self.save("kickban", irssi, weechat, screens)
        refused = yield dave.request(type="join", session=attic["id"], username="dave", password="24680")
        self.assert_refused(refused, "banned")

    @defer.inlineCallbacks
    def join_and_quit(self, joiner: FrameClient, admin: FrameClient, session: int, key: str) -> Any:
        """``joiner`` gets in with ``key`` (the admin sees it) and leaves again."""
        joined = yield joiner.request(type="join", session=session, username="carol", password=key)
        self.assertEqual(joined["type"], "joined")
        seen = yield next_of(admin, "member_joined")
        self.assertEqual(seen["name"], "carol")
        left = yield joiner.request(type="command", name="quit")
        self.assertEqual(left["type"], "left")
        reply = yield joiner.next()
        self.assertEqual(reply["type"], "reply")
        seen = yield next_of(admin, "member_left")
        self.assertEqual(seen["name"], "carol")

    def assert_refused(self, answer: dict, code: str) -> None:
        self.assertEqual((answer["type"], answer.get("code")), ("error", code), answer)

    def save(self, name: str, irssi: Tmux, weechat: Tmux, screens: tuple[str, str]) -> None:
        """Keep both programs' screens as ``NAME.txt`` in their home folders, for whoever reads a failure."""
        for program, screen in zip((irssi, weechat), screens):
            program.save(name, screen)
