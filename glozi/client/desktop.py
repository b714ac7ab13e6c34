"""The desktop around the client: the X urgency hint, desktop notifications, the colour scheme.

``X11Desktop`` is the client's ``Desktop``: ``set_urgent`` sets or clears the
urgency hint (``XUrgencyHint`` in ``WM_HINTS``) of the main window's frame
through libX11, since Tk 8.6 has no ``wm attributes -urgent`` on X11;
``notify`` shows a freedesktop notification (``org.freedesktop.Notifications``
on the session D-Bus) by running ``gdbus call`` as a child process of the
reactor, so the window never waits for the bus. Neither ever raises: where
there is no X, no libX11, no session bus or no notification service, one log
line says so and that part stays off until the client restarts.

``desktop_theme`` reads the desktop's light or dark preference, for the
``system`` theme.
"""

import ctypes
import ctypes.util
import html
import os
import re
import subprocess
import tkinter as tk
from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet.error import ProcessDone
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

APP_NAME = "GloziChat"
NOTIFY_INTERVAL = 2.0
"""Seconds between two notifications: what arrives meanwhile is folded into one ("3 new messages")."""
NOTIFY_TIMEOUT_MS = 8000
"""How long a notification stays on screen, for services that let the sender choose."""
_STDERR_KEPT = 400
X_URGENCY_HINT = 1 << 8
"""``XUrgencyHint`` in the ``flags`` of ``WM_HINTS`` (ICCCM 4.1.2.4)."""

log = Logger()


def gvariant_string(text: str) -> str:
    """``text`` as a GVariant text-format string literal, the way ``gdbus call`` reads every argument.

    gdbus parses each argument as GVariant text and only falls back to the raw
    words when that fails, so a message such as ``'hi'`` would lose its quotes;
    quoting it ourselves makes every text arrive exactly as written.
    """
    escaped = []
    for char in text:
        if char in "\\'":
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return "'" + "".join(escaped) + "'"


def notify_command(summary: str, body: str) -> list[str]:
    """The ``gdbus call`` that shows one notification (the body escaped, as the spec's markup needs)."""
    return [
        "gdbus",
        "call",
        "--session",
        "--dest",
        "org.freedesktop.Notifications",
        "--object-path",
        "/org/freedesktop/Notifications",
        "--method",
        "org.freedesktop.Notifications.Notify",
        gvariant_string(APP_NAME),
        "0",
        gvariant_string(""),
        gvariant_string(summary),
        gvariant_string(html.escape(body, quote=False)),
        "[]",
        "{}",
        str(NOTIFY_TIMEOUT_MS),
    ]


class _CallProtocol(ProcessProtocol):
    """Collects the start of a child's error output and reports how it ended."""

    def __init__(self, ended: Callable[[bool, str], None]) -> None:
        self.ended = ended
        self.errors = b""

    def errReceived(self, data: bytes) -> None:
        self.errors = (self.errors + data)[:_STDERR_KEPT]

    def processEnded(self, reason: Failure) -> None:
        self.ended(reason.check(ProcessDone) is not None, self.errors.decode("utf-8", "replace").strip())


class Notifier:
    """Shows desktop notifications, one child process at a time and at most one per ``NOTIFY_INTERVAL``.

    What comes while one is shown or too soon after it waits, folded into a
    single notification, so a flood of two hundred messages starts two
    processes, not two hundred. After the first failure (no ``gdbus``, no session bus,
    no notification service) it logs once and stays silent until restarted.
    """

    def __init__(self, reactor: Any, environ: Mapping[str, str] | None = None) -> None:
        self.reactor = reactor
        self.environ = dict(os.environ if environ is None else environ)
        self.working = True
        self.in_flight = False
        self.last_sent: float | None = None
        self.waiting = 0
        """How many notifications wait to be shown (as one)."""
        self.latest = ("", "")
        self._later: Any = None

    def notify(self, summary: str, body: str) -> None:
        """Show ``summary`` and ``body`` now, or fold them into the next notification."""
        if not self.working:
            return
        # Once folded together, only their number and the latest one are shown.
        self.waiting += 1
        self.latest = (summary, body)
        self._send_when_allowed()

    def _send_when_allowed(self) -> None:
        if self.in_flight or self._later is not None or not self.waiting:
            return
        wait = 0.0 if self.last_sent is None else self.last_sent + NOTIFY_INTERVAL - self.reactor.seconds()
        if wait > 0:
            self._later = self.reactor.callLater(wait, self._send_waiting)
        else:
            self._send_waiting()

    def _send_waiting(self) -> None:
        self._later = None
        count, (summary, body) = self.waiting, self.latest
        self.waiting = 0
        if count > 1:
            summary, body = f"{count} new messages", f"{summary}: {body}"
        self.in_flight = True
        self.last_sent = self.reactor.seconds()
        command = notify_command(summary, body)
        try:
            self.reactor.spawnProcess(
                _CallProtocol(self._ended), command[0], command, env=self.environ, usePTY=False
            )
        except OSError as error:
            self._ended(False, str(error))

    def _ended(self, success: bool, errors: str) -> None:
        self.in_flight = False
        if not success:
            self.working = False
            self.waiting = 0
            log.warn(
                "Desktop notifications are off until the client restarts: {errors}",
                errors=errors or "gdbus failed",
            )
            return
        self._send_when_allowed()


class _XWMHints(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_long),
        ("input", ctypes.c_int),
        ("initial_state", ctypes.c_int),
        ("icon_pixmap", ctypes.c_ulong),
        ("icon_window", ctypes.c_ulong),
        ("icon_x", ctypes.c_int),
        ("icon_y", ctypes.c_int),
        ("icon_mask", ctypes.c_ulong),
        ("window_group", ctypes.c_ulong),
    ]


_X_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


class _Xlib:
    """The few libX11 calls the urgency hint needs, on a display connection of our own."""

    def __init__(self, display_name: str) -> None:
        path = ctypes.util.find_library("X11")
        if path is None:
            raise OSError("libX11 is not installed")
        lib = ctypes.CDLL(path)
        lib.XOpenDisplay.argtypes = [ctypes.c_char_p]
        lib.XOpenDisplay.restype = ctypes.c_void_p
        lib.XGetWMHints.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        lib.XGetWMHints.restype = ctypes.POINTER(_XWMHints)
        lib.XSetWMHints.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(_XWMHints)]
        lib.XFree.argtypes = [ctypes.c_void_p]
        lib.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.XSetErrorHandler.argtypes = [_X_ERROR_HANDLER]
        lib.XSetErrorHandler.restype = ctypes.c_void_p
        window = ctypes.c_ulong
        lib.XQueryTree.argtypes = [
            ctypes.c_void_p,
            window,
            ctypes.POINTER(window),
            ctypes.POINTER(window),
            ctypes.POINTER(ctypes.POINTER(window)),
            ctypes.POINTER(ctypes.c_uint),
        ]
        self.lib = lib
        self.display = lib.XOpenDisplay(display_name.encode())
        if not self.display:
            raise OSError(f"cannot open the X display {display_name!r}")
        self.failed = False
        self._on_error = _X_ERROR_HANDLER(self._x_error)

    def _x_error(self, display: int, event: int) -> int:
        self.failed = True
        return 0

    def set_urgency(self, inner: int, urgent: bool) -> None:
        """Set or clear ``XUrgencyHint`` of the Tk toplevel whose ``winfo_id`` is ``inner``, keeping
        its other hints; OSError if X refuses."""
        lib = self.lib
        # Xlib's default handler exits the process on an error (a window gone
        # meanwhile), so ours stands in just for these calls, as Tk's own does.
        previous = lib.XSetErrorHandler(self._on_error)
        self.failed = False
        try:
            # Tk keeps a toplevel's window-manager properties on a wrapper, the
            # parent of its inner window (``wm frame`` names the manager's
            # decoration instead, whose hints nobody reads).
            root, parent, children, count = (
                ctypes.c_ulong(),
                ctypes.c_ulong(),
                ctypes.POINTER(ctypes.c_ulong)(),
                ctypes.c_uint(),
            )
            if not lib.XQueryTree(
                self.display,
                inner,
                ctypes.byref(root),
                ctypes.byref(parent),
                ctypes.byref(children),
                ctypes.byref(count),
            ):
                raise OSError(f"the X server does not know window {inner:#x}")
            if children:
                lib.XFree(children)
            if parent.value == root.value:
                return  # not mapped yet: Tk writes its hints when it maps the window
            window = parent.value
            found = lib.XGetWMHints(self.display, window)
            hints = _XWMHints.from_buffer_copy(found.contents) if found else _XWMHints()
            if found:
                lib.XFree(found)
            hints.flags = hints.flags | X_URGENCY_HINT if urgent else hints.flags & ~X_URGENCY_HINT
            lib.XSetWMHints(self.display, window, ctypes.byref(hints))
            lib.XSync(self.display, 0)
        finally:
            lib.XSetErrorHandler(ctypes.cast(previous, _X_ERROR_HANDLER))
        if self.failed:
            raise OSError(f"the X server refused to set the hints of window {window:#x}")


class X11Desktop:
    """The client's ``Desktop`` on X11: the urgency hint of ``top`` and freedesktop notifications."""

    def __init__(self, top: Any, reactor: Any, environ: Mapping[str, str] | None = None) -> None:
        self.top = top
        self.notifier = Notifier(reactor, environ)
        self._xlib: _Xlib | None = None
        self._urgency_works = True

    def set_urgent(self, urgent: bool) -> None:
        """Raise (``True``) or clear the window's urgency hint; where X cannot, log once and do nothing."""
        if not self._urgency_works:
            return
        try:
            if not self.top.winfo_exists():
                return
            if self._xlib is None:
                self._xlib = _Xlib(self.top.winfo_screen())
            self.top.update_idletasks()
            self._xlib.set_urgency(self.top.winfo_id(), urgent)
        except (OSError, tk.TclError) as error:
            self._urgency_works = False
            log.warn("The window cannot ask for attention (X urgency hint): {error}", error=error)

    def notify(self, summary: str, body: str) -> None:
        """Show a desktop notification (``Notifier.notify``)."""
        self.notifier.notify(summary, body)


def _run_quietly(command: list[str]) -> str | None:
    """``command``'s output, or None when it fails, is missing or takes more than two seconds."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=2, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


_PORTAL_READ = [
    "gdbus",
    "call",
    "--session",
    "--timeout",
    "1",
    "--dest",
    "org.freedesktop.portal.Desktop",
    "--object-path",
    "/org/freedesktop/portal/desktop",
    "--method",
    "org.freedesktop.portal.Settings.Read",
    "org.freedesktop.appearance",
    "color-scheme",
]
_GSETTINGS_READ = ["gsettings", "get", "org.gnome.desktop.interface", "color-scheme"]


def desktop_theme(
    environ: Mapping[str, str] | None = None, run: Callable[[list[str]], str | None] = _run_quietly
) -> str | None:
    """``"dark"`` or ``"light"`` as the desktop prefers, or None when it does not say.

    Asked in this order: the freedesktop settings portal
    (``org.freedesktop.appearance color-scheme``: 1 dark, 2 light, 0 no
    preference), ``GTK_THEME`` (``Adwaita:dark`` is dark, any other theme
    named is light unless its name says dark), then GNOME's
    ``color-scheme`` setting (``prefer-dark``, ``prefer-light``). ``run`` runs
    a command and returns its output or None; it is called before the
    reactor runs, so its waits are short and bounded.
    """
    environ = os.environ if environ is None else environ
    portal = run(_PORTAL_READ)
    answer = re.search(r"uint32 (\d+)", portal or "")
    if answer is not None and answer.group(1) in ("1", "2"):
        return "dark" if answer.group(1) == "1" else "light"
    gtk_theme = environ.get("GTK_THEME", "")
    if gtk_theme:
        return "dark" if "dark" in gtk_theme.lower() else "light"
    scheme = run(_GSETTINGS_READ) or ""
    if "prefer-dark" in scheme:
        return "dark"
    if "prefer-light" in scheme:
        return "light"
    return None
