"""The desktop parts under Xvfb, with real programs: the urgency hint read back with xprop,
notifications shown by a real dunst on a private dbus-daemon, the light theme's pixels, the
window's geometry and the last name kept in a real settings file between two windows."""

import json
import os
import re
import shutil
import signal
import tempfile
import tkinter as tk
from pathlib import Path
from typing import Any

from PIL import ImageGrab
from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.utils import getProcessOutputAndValue
from twisted.logger import LogLevel, globalLogPublisher
from twisted.python.failure import Failure

from glozi.client import palette
from glozi.client.app import ClientWindow, start_client
from glozi.client.desktop import X11Desktop
from glozi.client.settings import SettingsStore
from tests.guitools import WAIT_SECONDS, GuiTestCase, text_of, tree_rows
from tests.realthings import Unavailable

SESSION_ROWS = "body.lobby.table.sessions"
DBUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""
"""A session bus with no service folders, so nothing is started on demand behind the test's back."""


def program(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise Unavailable(f"{name} is not installed (apt-get install {package})")
    return path


class Child(ProcessProtocol):
    """A program the test starts: its first output line, and a Deferred that fires when it ends."""

    def __init__(self) -> None:
        self.output = b""
        self.ended: Deferred[None] = Deferred()
        self.running = True

    def outReceived(self, data: bytes) -> None:
        self.output += data

    def processEnded(self, reason: Failure) -> None:
        self.running = False
        self.ended.callback(None)

    def stop(self) -> "Deferred[None]":
        if self.running:
            self.transport.signalProcess(signal.SIGTERM)
        return self.ended


def pixel(widget: Any, x: int, y: int) -> str:
    """The colour on screen at ``x``, ``y`` inside ``widget``, as ``#rrggbb``."""
    widget.update_idletasks()
    left, top = widget.winfo_rootx() + x, widget.winfo_rooty() + y
    image = ImageGrab.grab(bbox=(left, top, left + 1, top + 1), xdisplay=os.environ["DISPLAY"])
    red, green, blue = image.convert("RGB").getpixel((0, 0))
    return f"#{red:02x}{green:02x}{blue:02x}"


class DesktopTestCase(GuiTestCase):
    def setUp(self) -> Any:
        self.settings_path = Path(self.mktemp_dir()) / "glozichat" / "settings.json"
        return super().setUp()

    def saved(self) -> dict[str, Any]:
        return json.loads(self.settings_path.read_text(encoding="utf-8"))

    def open_window(self, name: str, **kwargs: Any) -> ClientWindow:
        """A client window with its settings in the test's settings file, connecting to the test server."""
        top = tk.Toplevel(self.root, name=name)
        window = start_client(top, reactor, self.address, settings=SettingsStore(self.settings_path), **kwargs)
        self.addCleanup(lambda: window.top.winfo_exists() and window.close())
        return window

    @inlineCallbacks
    def run_program(self, *args: str, env: dict[str, str] | None = None) -> Any:
        out, err, code = yield getProcessOutputAndValue(args[0], args[1:], env=env or dict(os.environ))
        return out.decode(), err.decode(), code


class RememberedTests(DesktopTestCase):
    @inlineCallbacks
    def test_the_join_and_create_dialogs_offer_the_last_name_used(self) -> Any:
        """A cancelled dialog remembers nothing; a join the server accepts keeps the name, in the file,
        and the next join and create dialogs start with it."""
        bob = self.open_window("bob")
        rows = bob.widget(SESSION_ROWS)
        yield self.wait_for("the session list", lambda: len(tree_rows(rows)) >= 9)
        bob.model.open_join(1)
        join = yield self.wait_for("the join dialog", lambda: bob.top.children.get("join"))
        self.assertEqual(text_of(join.nametowidget("body.username")), "")
        join.nametowidget("body.username").insert(0, "carol")
        join.nametowidget("body.buttons.cancel").invoke()
        self.assertFalse(self.settings_path.exists())

        bob.model.open_join(1)
        join = yield self.wait_for("the join dialog", lambda: bob.top.children.get("join"))
        join.nametowidget("body.username").insert(0, "bob")
        join.nametowidget("body.buttons.submit").invoke()
        yield self.wait_for("Bob in avocado", lambda: bob.model.chat is not None)
        yield self.wait_for("the name saved", lambda: self.settings_path.exists())
        self.assertEqual(self.saved()["last_name"], "bob")
        bob.model.send("/quit")
        yield self.wait_for("the list again", lambda: bob.model.chat is None and len(tree_rows(rows)) >= 9)

        bob.model.open_join(1)
        join = yield self.wait_for("the join dialog", lambda: bob.top.children.get("join"))
        self.assertEqual(text_of(join.nametowidget("body.username")), "bob")
        bob.model.close_dialog()
        bob.widget("body.lobby.bar.buttons.create").invoke()
        create = yield self.wait_for("the create dialog", lambda: bob.top.children.get("create"))
        self.assertEqual(text_of(create.nametowidget("body.username")), "bob")

    @inlineCallbacks
    def test_the_window_opens_where_it_was_closed(self) -> Any:
        """Size and place are saved on close and restored at the next start; a place off this screen
        (2000x900) is moved back onto it."""
        first = self.open_window("first")
        first.top.geometry("870x560+130+90")
        yield self.wait_for("the first window placed", lambda: first.top.geometry() == "870x560+130+90")
        first.close()
        self.assertEqual(self.saved()["geometry"], "870x560+130+90")

        second = self.open_window("second")
        yield self.wait_for("the second window shown", second.top.winfo_ismapped)
        yield self.wait_for("the second window placed", lambda: second.top.geometry() == "870x560+130+90")
        second.close()

        SettingsStore(self.settings_path).change(geometry="870x560+5000+3000")
        third = self.open_window("third")
        yield self.wait_for("the third window shown", third.top.winfo_ismapped)
        yield self.wait_for("the third window on screen", lambda: third.top.geometry() == "870x560+1130+340")


class ThemeTests(DesktopTestCase):
    @inlineCallbacks
    def test_the_light_theme_paints_the_window_light(self) -> Any:
        """With the light palette the pixels on screen are the light colours: the header, the session list."""
        self.addCleanup(palette.use, palette.theme)
        palette.use("light")
        window = self.open_window("light")
        window.top.geometry("980x640+0+0")
        rows = window.widget(SESSION_ROWS)
        yield self.wait_for("the session list", lambda: len(tree_rows(rows)) >= 9)
        yield self.wait_for("the header painted", lambda: pixel(window.widget("header"), 4, 4) == "#eceef1")
        bottom = rows.winfo_height() - 4
        yield self.wait_for("the list painted", lambda: pixel(rows, rows.winfo_width() // 2, bottom) == "#f6f7f8")
        self.assertGreater(palette.relative_luminance(pixel(window.widget("header"), 4, 4)), 0.8)

    @inlineCallbacks
    def test_preferences_are_saved_at_once_and_switch_the_alerts(self) -> Any:
        """The ⚙ button opens the preferences; each switch is in the file at once and in the view-model."""
        window = self.open_window("prefs")
        button = window.widget("header.preferences")
        yield self.wait_for("the ⚙ button shown", button.winfo_ismapped)
        button.invoke()
        dialog = yield self.wait_for("the preferences", lambda: window.top.children.get("preferences"))
        urgency = dialog.nametowidget("body.urgency")
        self.assertIn("selected", urgency.state())
        urgency.invoke()
        self.assertEqual(self.saved()["urgency"], False)
        self.assertFalse(window.model.alerts.urgency)
        dialog.nametowidget("body.notifications").invoke()
        self.assertEqual(self.saved()["notifications"], False)
        self.assertFalse(window.model.alerts.notifications)
        dialog.nametowidget("body.theme_light").invoke()
        self.assertEqual(self.saved()["theme"], "light")
        dialog.nametowidget("body.close").invoke()
        self.assertNotIn("preferences", window.top.children)


class AlertTests(DesktopTestCase):
    def wrapper_of(self, top: Any) -> Any:
        """Tk's wrapper window of ``top`` (the parent of its inner window), which the window manager reads."""
        return self.run_program(program("xwininfo", "x11-utils"), "-id", hex(top.winfo_id()), "-tree")

    @inlineCallbacks
    def test_the_urgency_hint_is_raised_and_cleared(self) -> Any:
        """xprop reads the urgency bit on the window's WM_HINTS, with Tk's other hints kept."""
        top = tk.Toplevel(self.root, name="urgent")
        top.title("urgent")
        yield self.wait_for("the window shown", lambda: top.update() or top.winfo_ismapped())
        out, _err, _code = yield self.wrapper_of(top)
        wrapper = re.search(r"Parent window id: (0x[0-9a-f]+)", out).group(1)
        xprop = program("xprop", "x11-utils")
        desktop = X11Desktop(top, reactor)

        desktop.set_urgent(True)
        hints, _err, code = yield self.run_program(xprop, "-id", wrapper, "WM_HINTS")
        self.assertEqual(code, 0)
        self.assertIn("urgency hint bit is set", hints)
        self.assertIn("Client accepts input or input focus: True", hints)
        desktop.set_urgent(False)
        hints, _err, _code = yield self.run_program(xprop, "-id", wrapper, "WM_HINTS")
        self.assertNotIn("urgency", hints)
        self.assertIn("Client accepts input or input focus: True", hints)

    @inlineCallbacks
    def start_bus_and_dunst(self) -> Any:
        """A private session bus and dunst on the test display; both stopped at cleanup."""
        folder = tempfile.mkdtemp(prefix="glozi-bus-")
        self.addCleanup(shutil.rmtree, folder, True)
        config = Path(folder) / "bus.conf"
        config.write_text(DBUS_CONFIG.format(socket=Path(folder) / "bus"), encoding="utf-8")
        bus = Child()
        daemon = program("dbus-daemon", "dbus")
        reactor.spawnProcess(
            bus, daemon, [daemon, f"--config-file={config}", "--nofork", "--print-address=1"], env=None
        )
        self.addCleanup(bus.stop)
        yield self.wait_for("the bus address", lambda: b"\n" in bus.output)
        env = {
            "PATH": os.environ["PATH"],
            "DISPLAY": os.environ["DISPLAY"],
            "DBUS_SESSION_BUS_ADDRESS": bus.output.decode().strip(),
            "HOME": folder,
            "XDG_CONFIG_HOME": folder,
        }
        (Path(folder) / "dunstrc").write_text("", encoding="utf-8")
        dunst = Child()
        dunst_program = program("dunst", "dunst")
        reactor.spawnProcess(dunst, dunst_program, [dunst_program, "-config", f"{folder}/dunstrc"], env=env)
        self.addCleanup(dunst.stop)
        dunstctl = program("dunstctl", "dunst")
        answers: list[tuple[str, str, int]] = []

        @inlineCallbacks
        def dunst_answers() -> Any:
            answers.append((yield self.run_program(dunstctl, "count", "displayed", env=env)))
            return answers[-1][2] == 0

        yield self.poll("dunst on the bus", dunst_answers)
        return env

    @inlineCallbacks
    def poll(self, what: str, check: Any) -> Any:
        """Run the asynchronous ``check`` until it gives True, at most every 0.1 s for WAIT_SECONDS."""
        from twisted.internet.task import deferLater

        for _ in range(int(WAIT_SECONDS / 0.1)):
            if (yield check()):
                return
            yield deferLater(reactor, 0.1, lambda: None)
        raise AssertionError(f"timed out waiting for {what}")

    @inlineCallbacks
    def test_a_notification_reaches_the_desktop_as_written(self) -> Any:
        """A real dunst on a real session bus shows the notification, its quotes and markup characters intact."""
        env = yield self.start_bus_and_dunst()
        desktop = X11Desktop(self.root, reactor, env)
        # A whole message in quotes is what gdbus would read as a GVariant string and unquote.
        desktop.notify("bob in garden", '"<3 & you"')
        dunstctl = program("dunstctl", "dunst")

        @inlineCallbacks
        def shown() -> Any:
            out, _err, _code = yield self.run_program(dunstctl, "count", "displayed", env=env)
            return out.strip() == "1"

        yield self.poll("the notification on screen", shown)
        yield self.run_program(dunstctl, "close-all", env=env)
        history: list[Any] = []

        @inlineCallbacks
        def in_history() -> Any:
            out, _err, _code = yield self.run_program(dunstctl, "history", env=env)
            history[:] = json.loads(out)["data"][0] if out.strip() else []
            return bool(history)

        yield self.poll("the notification in dunst's history", in_history)
        [shown_one] = history
        self.assertEqual(shown_one["appname"]["data"], "GloziChat")
        self.assertEqual(shown_one["summary"]["data"], "bob in garden")
        self.assertEqual(shown_one["body"]["data"], '"&lt;3 &amp; you"')

    @inlineCallbacks
    def test_without_a_session_bus_one_log_line_and_no_more_tries(self) -> Any:
        """The usual bare machine: the real gdbus fails, one warning is logged, later messages start nothing."""
        logged: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(logged.append)
        self.addCleanup(globalLogPublisher.removeObserver, logged.append)
        nowhere = Path(self.mktemp_dir()) / "no-bus"
        env = {"PATH": os.environ["PATH"], "DBUS_SESSION_BUS_ADDRESS": f"unix:path={nowhere}"}
        desktop = X11Desktop(self.root, reactor, env)
        desktop.notify("bob", "one")
        desktop.notify("bob", "two")
        warnings = lambda: [e for e in logged if e.get("log_level") is LogLevel.warn]
        yield self.wait_for("the warning", warnings)
        desktop.notify("bob", "three")
        self.assertFalse(desktop.notifier.in_flight, "no process is started after the failure")
        self.assertEqual(len(warnings()), 1)
        self.assertIn("notifications are off", warnings()[0]["log_format"])
