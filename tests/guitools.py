"""Driving real client windows in tests: Xvfb, Tk on the reactor, xdotool, and reading widgets."""

import os
import re
import shutil
import tkinter as tk
from collections.abc import Callable
from typing import Any

from twisted.internet import reactor, tksupport
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import SkipTest, TestCase

from glozi.client.app import ClientWindow, start_client
from glozi.client.servers import find_servers
from glozi.client.state import ServerAddress
from tests.realthings import (
    ServerProcess,
    Unavailable,
    in_ci,
    mark_display_used,
    shared_display,
    start_server,
    use_display,
)

POLL_SECONDS = 0.02
WAIT_SECONDS = 10.0


_DESTROYED_ROOTS: list[tk.Tk] = []


def keep_until_exit(root: tk.Tk) -> None:
    """Keep a destroyed Tk root alive until the process ends.

    Tcl aborts the process ("Tcl_AsyncDelete: async handler deleted by the
    wrong thread") when an interpreter is freed in another thread than its
    own, and a root left in a reference cycle is freed by whichever thread
    the cycle collector next runs in, such as a later test's thread-pool
    thread. Kept here, every root is freed at exit, in the main thread.
    """
    _DESTROYED_ROOTS.append(root)


def use_test_display(test: TestCase) -> None:
    """Point Tk at this process's Xvfb for the time of ``test``; without Xvfb, skip it (fail it in CI)."""
    try:
        display = shared_display()
    except Unavailable as missing:
        if in_ci():
            raise
        raise SkipTest(str(missing)) from None
    test.addCleanup(use_display(display))


class GuiTestCase(TestCase):
    """Starts Xvfb, a real server and one hidden Tk root; ``open_client`` adds windows."""

    timeout = 60
    server_options: tuple[str, ...] = ()
    """More ``twistd glozichat`` options for the test server."""

    @inlineCallbacks
    def setUp(self) -> Any:
        use_test_display(self)
        self.server_dir = self.mktemp_dir()
        self.server: ServerProcess = yield start_server(self.server_dir, extra=self.server_options)
        self.addCleanup(lambda: self.server.stop())
        self.root = tk.Tk(className="GloziChatTest")
        mark_display_used()
        self.root.withdraw()
        errors: list[BaseException] = []
        self.tk_errors = errors
        self.root.report_callback_exception = lambda kind, value, tb: errors.append(value)  # type: ignore[method-assign]
        tksupport.install(self.root)
        self.addCleanup(self._stop_tk)

    @inlineCallbacks
    def restart_server(self) -> Any:
        """Stop the server (SIGTERM) and start it again on the same port and database."""
        yield self.server.stop()
        self.server = yield start_server(
            self.server_dir, extra=("--port", f"tcp:{self.server.port}:interface=127.0.0.1")
        )

    def mktemp_dir(self) -> str:
        import os

        path = self.mktemp()
        os.makedirs(path)
        return path

    def _stop_tk(self) -> None:
        tksupport.uninstall()
        self.root.destroy()
        keep_until_exit(self.root)
        if self.tk_errors:
            raise self.tk_errors[0]

    @property
    def address(self) -> ServerAddress:
        return ServerAddress("127.0.0.1", self.server.port, "test")

    def loopback_discovery(self) -> "Deferred[list[ServerAddress]]":
        """The client's real discovery, probing only the test server's UDP port on 127.0.0.1."""
        return find_servers(
            reactor,
            targets=["127.0.0.1"],
            methods=("udp",),
            discovery_port=self.server.discovery_port,
            stop_at_first=True,
        )

    def open_client(
        self,
        name: str,
        x: int,
        *,
        address: ServerAddress | None = None,
        finder: Callable[[], Any] | None = None,
    ) -> ClientWindow:
        """A client window named ``name`` at ``x`` pixels from the left, connecting to the test server."""
        top = tk.Toplevel(self.root, name=name)
        window = start_client(top, reactor, address, finder)
        top.geometry(f"980x640+{x}+0")
        self.addCleanup(lambda: window.top.winfo_exists() and window.close())
        return window

    def wait_for(
        self, what: str, predicate: Callable[[], Any], timeout: float = WAIT_SECONDS
    ) -> "Deferred[Any]":
        """Poll ``predicate`` (letting Tk and the network run) until it is truthy; fail after ``timeout`` s."""
        return _wait_for(what, predicate, timeout)

    @inlineCallbacks
    def xdotool(self, *args: str) -> Any:
        """Run xdotool on the test display without blocking the reactor."""
        program = shutil.which("xdotool")
        if program is None:
            if in_ci():
                raise Unavailable("xdotool is not installed (apt-get install xdotool)")
            raise SkipTest("xdotool is not installed (apt-get install xdotool)")
        import os

        out, err, code = yield getProcessOutputAndValue(program, args, env=dict(os.environ))
        self.assertEqual(code, 0, f"xdotool {' '.join(args)} failed: {err!r}")
        return out


@inlineCallbacks
def _wait_for(what: str, predicate: Callable[[], Any], timeout: float) -> Any:
    waited = 0.0
    while True:
        result = predicate()
        if result:
            return result
        if waited >= timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        yield deferLater(reactor, POLL_SECONDS, lambda: None)
        waited += POLL_SECONDS


def text_of(widget: Any) -> str:
    """The text a label, button or entry shows, or the whole content of a Text."""
    if isinstance(widget, tk.Text):
        return widget.get("1.0", "end-1c")
    if hasattr(widget, "get") and widget.winfo_class() in ("TEntry", "Entry"):
        return widget.get()
    return str(widget.cget("text"))


def tree_rows(tree: Any) -> list[list[str]]:
    """The rows a Treeview shows: the tree column's text, then each value, as strings."""
    rows = []
    for iid in tree.get_children():
        item = tree.item(iid)
        rows.append([str(item["text"]), *(str(v) for v in item["values"])])
    return rows


def visible_widget_at(widget: Any) -> Any:
    """The widget a user sees at the centre of ``widget`` (it is on top when it is ``widget``)."""
    widget.update_idletasks()
    x = widget.winfo_rootx() + widget.winfo_width() // 2
    y = widget.winfo_rooty() + widget.winfo_height() // 2
    return widget.winfo_containing(x, y)


def insert(entry: Any, text: str) -> str:
    """Type ``text`` into ``entry`` as a paste would (the field's limits apply); returns its content."""
    entry.insert("end", text)
    return entry.get()


def replace_text(entry: Any, text: str) -> str:
    """Clear ``entry`` and insert ``text``; returns its content."""
    entry.delete(0, "end")
    return insert(entry, text)


def transcript_of(window: Any) -> Any:
    """The transcript of the session the window shows (``body.chat.main.session<ID>.text``)."""
    return window.widget(f"body.chat.main.session{window.model.chat.session.id}.text")


@inlineCallbacks
def urgency_hint_set(top: tk.Misc) -> Any:
    """Whether the X server has the urgency hint on ``top``: xprop reads ``WM_HINTS`` on Tk's wrapper
    window (the parent of the toplevel's own window), the one window managers read."""
    for name in ("xwininfo", "xprop"):
        if shutil.which(name) is None:
            raise Unavailable(f"{name} is not installed (apt-get install x11-utils)")
    tree, _err, _code = yield getProcessOutputAndValue(
        "xwininfo", ("-id", hex(top.winfo_id()), "-tree"), env=dict(os.environ)
    )
    wrapper = re.search(rb"Parent window id: (0x[0-9a-f]+)", tree)
    if wrapper is None:
        raise AssertionError(f"xwininfo named no parent window: {tree!r}")
    hints, _err, _code = yield getProcessOutputAndValue(
        "xprop", ("-id", wrapper.group(1).decode(), "WM_HINTS"), env=dict(os.environ)
    )
    return b"urgency hint bit is set" in hints
