"""A real IRC client: irssi in a private tmux server, against the real
``twistd -n glozichat``, chatting with a native client; the test reads irssi's
screen with ``tmux capture-pane``."""

import os
import shutil
import uuid
from typing import Any

from twisted.internet import defer, reactor, task, utils
from twisted.trial.unittest import TestCase

from tests.realserver import connect_client, start_server

SCREEN_DEADLINE = 10.0
POLL_SECONDS = 0.2
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


def _missing_tools() -> list[str]:
    return [tool for tool in ("irssi", "tmux") if shutil.which(tool) is None]


class Tmux:
    """One private tmux server (``tmux -L``) running one program."""

    def __init__(self, socket_name: str) -> None:
        self.socket_name = socket_name

    def run(self, *args: str) -> "defer.Deferred[tuple[bytes, bytes, int]]":
        return utils.getProcessOutputAndValue("tmux", ("-L", self.socket_name, *args), env=os.environ)

    @defer.inlineCallbacks
    def screen(self) -> Any:
        """The visible text of the pane."""
        out, _err, _code = yield self.run("capture-pane", "-p", "-t", "glozi")
        return out.decode("utf-8", errors="replace")

    @defer.inlineCallbacks
    def type(self, text: str) -> Any:
        """Type ``text`` into the program and press Enter."""
        yield self.run("send-keys", "-t", "glozi", "-l", text)
        yield self.run("send-keys", "-t", "glozi", "Enter")

    @defer.inlineCallbacks
    def wait_for(self, text: str, deadline: float = SCREEN_DEADLINE) -> Any:
        """Poll the screen until it shows ``text``; fail with the screen after ``deadline`` seconds."""
        screen = ""
        for _ in range(int(deadline / POLL_SECONDS)):
            screen = yield self.screen()
            if text in screen:
                return screen
            yield task.deferLater(reactor, POLL_SECONDS, lambda: None)
        raise AssertionError(f"irssi never showed {text!r}; its screen:\n{screen}")


class IrssiTests(TestCase):
    timeout = 60

    def setUp(self) -> None:
        missing = _missing_tools()
        if missing:
            reason = f"{' and '.join(missing)} not installed (apt-get install -y irssi tmux)"
            if os.environ.get("CI"):
                self.fail(f"CI must run the irssi test, but {reason}")
            raise self.skipTest(reason)

    @defer.inlineCallbacks
    def start_irssi(self, port: int) -> Any:
        home = os.path.abspath(self.mktemp())
        os.makedirs(home)
        with open(os.path.join(home, "config"), "w") as f:
            f.write(IRSSI_CONFIG)
        tmux = Tmux(f"glozi-test-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        command = f"irssi --home={home} -n ircalice -c 127.0.0.1 -p {port}"
        env = dict(os.environ, LANG="C.UTF-8", TERM=os.environ.get("TERM") or "xterm")
        _out, err, code = yield utils.getProcessOutputAndValue(
            "tmux",
            ("-L", tmux.socket_name, "new-session", "-d", "-s", "glozi", "-x", "200", "-y", "50", command),
            env=env,
        )
        self.addCleanup(tmux.run, "kill-server")
        self.assertEqual(code, 0, err)
        tmux.home = home
        return tmux

    def save(self, tmux: Tmux, name: str, screen: str) -> None:
        """Keep a screen next to the test's files, for people reading a failure or a report."""
        with open(os.path.join(tmux.home, f"{name}.txt"), "w") as f:
            f.write(screen)

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
        self.save(tmux, "channel", channel)

        yield tmux.type("/window 1")
        status = yield tmux.wait_for("#garden 1 Created by bob")
        self.save(tmux, "status", status)
        for error in STATUS_ERRORS:
            self.assertNotIn(error, status)
