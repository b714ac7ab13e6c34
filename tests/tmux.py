"""A real terminal program (irssi, WeeChat) in a private tmux server; tests read
its screen with ``tmux capture-pane`` and type into it with ``send-keys``."""

import os
import shutil
import uuid
from typing import Any

from twisted.internet import defer, reactor, task, utils
from twisted.trial.unittest import TestCase

SCREEN_DEADLINE = 10.0
POLL_SECONDS = 0.2


class Tmux:
    """One private tmux server (``tmux -L``) running one program, with its own home folder."""

    def __init__(self, socket_name: str, home: str) -> None:
        self.socket_name = socket_name
        self.home = home

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
        raise AssertionError(f"the program never showed {text!r}; its screen:\n{screen}")

    def save(self, name: str, screen: str) -> None:
        """Keep a screen next to the test's files, for people reading a failure or a report."""
        with open(os.path.join(self.home, f"{name}.txt"), "w") as f:
            f.write(screen)


def require_tools(test: TestCase, packages: dict[str, str]) -> None:
    """Skip ``test`` when a program of ``packages`` (program: Debian package) is
    missing; in CI, where nothing may be skipped, fail it."""
    missing = [program for program in packages if shutil.which(program) is None]
    if missing:
        install = " ".join(packages[program] for program in missing)
        reason = f"{' and '.join(missing)} not installed (apt-get install -y {install})"
        if os.environ.get("CI"):
            test.fail(f"CI must run this test, but {reason}")
        raise test.skipTest(reason)


@defer.inlineCallbacks
def start_in_tmux(test: TestCase, home: str, command: str) -> Any:
    """Run ``command`` in a new 200x50 tmux pane, killed at cleanup; returns its ``Tmux``."""
    tmux = Tmux(f"glozi-test-{os.getpid()}-{uuid.uuid4().hex[:8]}", home)
    env = dict(os.environ, LANG="C.UTF-8", TERM=os.environ.get("TERM") or "xterm")
    _out, err, code = yield utils.getProcessOutputAndValue(
        "tmux",
        ("-L", tmux.socket_name, "new-session", "-d", "-s", "glozi", "-x", "200", "-y", "50", command),
        env=env,
    )
    test.addCleanup(tmux.run, "kill-server")
    test.assertEqual(code, 0, err)
    return tmux
