"""The client's settings file, theme choice and desktop alerts, without a display."""

import io
import json
import os
from pathlib import Path
from typing import Any
from unittest import mock

from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from glozi.client import desktop, palette
from glozi.client.app import parse_arguments
from glozi.client.desktop import Notifier, X11Desktop, desktop_theme, gvariant_string
from glozi.client.settings import (
    Settings,
    SettingsStore,
    clamp_geometry,
    default_settings_file,
    load_settings,
)
from glozi.client.theme import choose_palette, icon_images


def warnings(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event for event in events if event.get("log_level") is LogLevel.warn]


class SettingsFileTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.folder = Path(self.mktemp())
        self.path = self.folder / "glozichat" / "settings.json"

    def write(self, content: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(content, encoding="utf-8")

    def test_missing_file_gives_the_defaults(self) -> None:
        """No file yet: no name, the desktop's theme, the default size, every alert on."""
        with capturedLogs() as events:
            settings = load_settings(self.path)
        self.assertEqual(settings, Settings("", "system", "", True, True, True))
        self.assertEqual(warnings(events), [])

    def test_damaged_file_gives_the_defaults_and_says_so(self) -> None:
        """A file that is not JSON gives the defaults and one log line, never a crash."""
        self.write('{"theme": "light",')
        with capturedLogs() as events:
            settings = load_settings(self.path)
        self.assertEqual(settings, Settings())
        self.assertEqual(len(warnings(events)), 1)
        self.assertIn("damaged", warnings(events)[0]["log_format"])

    def test_unreadable_file_gives_the_defaults_and_says_so(self) -> None:
        """A settings path that cannot be read (here a folder) gives the defaults and one log line."""
        self.path.mkdir(parents=True)
        with capturedLogs() as events:
            settings = load_settings(self.path)
        self.assertEqual(settings, Settings())
        self.assertEqual(len(warnings(events)), 1)

    def test_unknown_keys_and_wrong_kinds_are_ignored(self) -> None:
        """Keys it does not know are skipped; a value of the wrong kind keeps that setting's default."""
        self.write(
            json.dumps(
                {
                    "last_name": "alice",
                    "theme": "purple",
                    "geometry": "huge",
                    "urgency": "no",
                    "notifications": False,
                    "font": "Comic",
                }
            )
        )
        self.assertEqual(load_settings(self.path), Settings(last_name="alice", notifications=False))

    def test_a_json_list_gives_the_defaults(self) -> None:
        """A file holding valid JSON that is not an object gives the defaults."""
        self.write("[1, 2]")
        self.assertEqual(load_settings(self.path), Settings())

    def test_a_change_is_saved_at_once_and_read_back(self) -> None:
        """Each change is in the file right away, with every key, and the next start reads it."""
        store = SettingsStore(self.path)
        store.change(theme="light", last_name="alice", geometry="900x600+40+30", urgency=False)
        saved = json.loads(self.path.read_text(encoding="utf-8"))
        self.assertEqual(
            saved,
            {
                "last_name": "alice",
                "theme": "light",
                "geometry": "900x600+40+30",
                "title_count": True,
                "urgency": False,
                "notifications": True,
            },
        )
        self.assertEqual(SettingsStore(self.path).current, store.current)
        self.assertEqual(os.listdir(self.path.parent), ["settings.json"])

    def test_a_failed_write_keeps_the_old_file_whole(self) -> None:
        """When the new file cannot be written, the old one is untouched and the client goes on."""
        SettingsStore(self.path).change(last_name="alice")
        before = self.path.read_text(encoding="utf-8")
        (self.path.parent / "settings.json.tmp").mkdir()
        store = SettingsStore(self.path)
        with capturedLogs() as events:
            store.change(last_name="bobby")
        self.assertEqual(self.path.read_text(encoding="utf-8"), before)
        self.assertEqual(store.current.last_name, "bobby")
        self.assertEqual(len(warnings(events)), 1)

    def test_an_unchanged_value_writes_nothing(self) -> None:
        """Setting what is already set does not touch the disk."""
        store = SettingsStore(self.path)
        store.change(theme="system")
        self.assertFalse(self.path.exists())

    def test_file_lives_in_the_xdg_config_folder(self) -> None:
        """$XDG_CONFIG_HOME/glozichat/settings.json, or ~/.config/glozichat/settings.json without it."""
        with mock.patch.dict(os.environ, {"XDG_CONFIG_HOME": "/tmp/conf", "HOME": "/home/alice"}):
            self.assertEqual(default_settings_file(), Path("/tmp/conf/glozichat/settings.json"))
        with mock.patch.dict(os.environ, {"XDG_CONFIG_HOME": "", "HOME": "/home/alice"}):
            self.assertEqual(default_settings_file(), Path("/home/alice/.config/glozichat/settings.json"))


class GeometryTests(SynchronousTestCase):
    def test_a_window_that_fits_keeps_its_place(self) -> None:
        """A saved geometry inside the screen is used as it is."""
        self.assertEqual(clamp_geometry("900x600+40+30", 1920, 1080), "900x600+40+30")

    def test_a_window_off_screen_comes_back(self) -> None:
        """A window left on a monitor since unplugged opens at the screen's edge, whole."""
        self.assertEqual(clamp_geometry("900x600+2500+1400", 1920, 1080), "900x600+1020+480")
        self.assertEqual(clamp_geometry("900x600+-300+-50", 1920, 1080), "900x600+0+0")

    def test_a_window_larger_than_the_screen_shrinks(self) -> None:
        """A window saved on a larger screen is cut to this one's size."""
        self.assertEqual(clamp_geometry("2500x1400+10+10", 1280, 800), "1280x800+0+0")

    def test_a_geometry_that_is_not_one_gives_the_default(self) -> None:
        """Anything else than WIDTHxHEIGHT+X+Y means the default size."""
        self.assertEqual(clamp_geometry("big", 1280, 800), "")


class ThemeChoiceTests(SynchronousTestCase):
    def test_dark_and_light_are_taken_as_they_are(self) -> None:
        """An explicit theme never asks the desktop."""
        asked: list[int] = []
        self.assertEqual(choose_palette("light", lambda: asked.append(1) or "dark"), "light")
        self.assertEqual(choose_palette("dark", lambda: asked.append(1) or "light"), "dark")
        self.assertEqual(asked, [])

    def test_system_follows_the_desktop_and_is_dark_when_it_cannot_tell(self) -> None:
        """``system`` is the desktop's preference, dark when the desktop does not say."""
        self.assertEqual(choose_palette("system", lambda: "light"), "light")
        self.assertEqual(choose_palette("system", lambda: None), "dark")

    def test_the_theme_option(self) -> None:
        """--theme takes dark, light or system; without it the saved choice applies."""
        self.assertEqual(parse_arguments(["--theme", "light"]).theme, "light")
        self.assertIsNone(parse_arguments([]).theme)
        with mock.patch("sys.stderr", io.StringIO()) as stderr:
            self.assertRaises(SystemExit, parse_arguments, ["--theme", "pink"])
        self.assertIn("invalid choice: 'pink'", stderr.getvalue())


class FakeDesktop:
    """Answers the commands ``desktop_theme`` runs as a desktop would, and records them."""

    def __init__(self, portal: str | None = None, gsettings: str | None = None) -> None:
        self.answers = {"gdbus": portal, "gsettings": gsettings}
        self.ran: list[str] = []

    def run(self, command: list[str]) -> str | None:
        self.ran.append(command[0])
        return self.answers[command[0]]


class DesktopThemeTests(SynchronousTestCase):
    def test_the_portal_says_dark_or_light(self) -> None:
        """The settings portal's color-scheme: 1 is dark, 2 is light, and it wins over the rest."""
        dark = FakeDesktop(portal="(<<uint32 1>>,)\n", gsettings="'prefer-light'\n")
        self.assertEqual(desktop_theme({"GTK_THEME": "Adwaita"}, dark.run), "dark")
        self.assertEqual(dark.ran, ["gdbus"])
        light = FakeDesktop(portal="(<<uint32 2>>,)\n")
        self.assertEqual(desktop_theme({}, light.run), "light")

    def test_no_preference_in_the_portal_falls_back_to_gtk_theme(self) -> None:
        """Portal 0 (no preference) or no portal: GTK_THEME decides, ``:dark`` meaning dark."""
        self.assertEqual(
            desktop_theme({"GTK_THEME": "Adwaita:dark"}, FakeDesktop("(<<uint32 0>>,)").run), "dark"
        )
        self.assertEqual(desktop_theme({"GTK_THEME": "Adwaita"}, FakeDesktop().run), "light")

    def test_then_gnome_color_scheme(self) -> None:
        """Without portal or GTK_THEME, GNOME's color-scheme setting decides."""
        self.assertEqual(desktop_theme({}, FakeDesktop(gsettings="'prefer-dark'\n").run), "dark")
        self.assertEqual(desktop_theme({}, FakeDesktop(gsettings="'prefer-light'\n").run), "light")

    def test_a_desktop_that_says_nothing(self) -> None:
        """Nothing readable, or GNOME's 'default': no preference (the client then uses dark)."""
        self.assertIsNone(desktop_theme({}, FakeDesktop().run))
        self.assertIsNone(desktop_theme({}, FakeDesktop(gsettings="'default'\n").run))


class PaletteThemeTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.addCleanup(palette.use, palette.theme)

    def test_both_palettes_name_the_same_colours(self) -> None:
        """Light has every colour dark has, so a widget reads the same names in either."""
        self.assertEqual(set(palette.LIGHT), set(palette.DARK))

    def test_use_switches_the_colours_and_the_name_colours(self) -> None:
        """After use("light") the constants and user_colour give the light palette's colours."""
        palette.use("light")
        self.assertEqual((palette.theme, palette.CHAT), ("light", palette.LIGHT["CHAT"]))
        self.assertIn(palette.user_colour("alice"), palette.LIGHT["USER_COLOURS"])
        palette.use("dark")
        self.assertEqual(palette.CHAT, "#313338")
        self.assertIn(palette.user_colour("alice"), palette.DARK["USER_COLOURS"])

    def test_button_glyphs_take_the_text_colour(self) -> None:
        """White glyphs on plain buttons (Reload, ?, ✓, Leave) are drawn dark in light, so they show."""
        palette.use("light")
        images = icon_images()
        for name in ("reload", "info", "check", "leave"):
            with self.subTest(name=name):
                opaque = {pixel[:3] for pixel in images[name].getdata() if pixel[3] > 0}
                self.assertEqual(opaque, {(6, 6, 7)})
        self.assertIn((255, 255, 255), {pixel[:3] for pixel in images["send"].getdata() if pixel[3] == 255})

    def test_every_text_colour_reads_in_both_themes(self) -> None:
        """Names and text reach WCAG AA (4.5) on the chat; names also on the member list."""
        for colours in (palette.DARK, palette.LIGHT):
            for colour in colours["USER_COLOURS"]:
                for background in ("CHAT", "WINDOW"):
                    with self.subTest(colour=colour, background=background):
                        ratio = palette.contrast_ratio(colour, colours[background])
                        self.assertGreaterEqual(ratio, 4.5)
            for name in ("TEXT", "MUTED", "SYSTEM", "WARNING", "ERROR_TEXT"):
                with self.subTest(name=name, light=colours is palette.LIGHT):
                    self.assertGreaterEqual(palette.contrast_ratio(colours[name], colours["CHAT"]), 4.5)
            self.assertGreaterEqual(palette.contrast_ratio(colours["ACCENT_TEXT"], colours["ACCENT"]), 4.5)


class FakeProcessReactor(Clock):
    """A clock that records the processes it is asked to start instead of starting them."""

    def __init__(self) -> None:
        super().__init__()
        self.started: list[tuple[Any, list[str]]] = []
        self.refuse = False

    def spawnProcess(self, protocol: Any, executable: str, args: list[str], **kwargs: Any) -> None:
        if self.refuse:
            raise OSError(2, "No such file or directory: 'gdbus'")
        self.started.append((protocol, args))


def finish(protocol: Any, exit_code: int = 0, errors: bytes = b"") -> None:
    if errors:
        protocol.errReceived(errors)
    reason = ProcessDone(0) if exit_code == 0 else ProcessTerminated(exitCode=exit_code)
    protocol.processEnded(Failure(reason))


class NotifierTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.notifier = Notifier(self.reactor, {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nowhere"})

    def test_a_notification_is_one_gdbus_call(self) -> None:
        """summary and body go to org.freedesktop.Notifications.Notify, quoted so gdbus keeps them whole."""
        self.notifier.notify("bob in garden", "it's <3 & you")
        [(_protocol, args)] = self.reactor.started
        self.assertEqual(
            args,
            [
                "gdbus",
                "call",
                "--session",
                "--dest",
                "org.freedesktop.Notifications",
                "--object-path",
                "/org/freedesktop/Notifications",
                "--method",
                "org.freedesktop.Notifications.Notify",
                "'GloziChat'",
                "0",
                "''",
                "'bob in garden'",
                "'it\\'s &lt;3 &amp; you'",
                "[]",
                "{}",
                "8000",
            ],
        )

    def test_gvariant_quoting(self) -> None:
        """Backslashes, quotes and control characters are escaped in the GVariant literal."""
        self.assertEqual(gvariant_string("a\\b 'c' \"d\"\n"), "'a\\\\b \\'c\\' \"d\"\\u000a'")

    def test_one_notification_at_a_time_and_a_flood_is_folded(self) -> None:
        """200 messages at once start one process, then one more that says how many came."""
        for n in range(200):
            self.notifier.notify("bob in garden", f"line {n}")
        self.assertEqual(len(self.reactor.started), 1)
        finish(self.reactor.started[0][0])
        self.assertEqual(len(self.reactor.started), 1)
        self.reactor.advance(2)
        self.assertEqual(len(self.reactor.started), 2)
        self.assertEqual(
            self.reactor.started[1][1][12:14], ["'199 new messages'", "'bob in garden: line 199'"]
        )

    def test_notifications_two_seconds_apart(self) -> None:
        """Right after one ends the next waits until 2 s after the first started, then shows alone."""
        self.notifier.notify("bob", "one")
        finish(self.reactor.started[0][0])
        self.reactor.advance(1)
        self.notifier.notify("bob", "two")
        self.assertEqual(len(self.reactor.started), 1)
        self.reactor.advance(1)
        self.assertEqual(self.reactor.started[1][1][12:14], ["'bob'", "'two'"])

    def test_a_failure_is_logged_once_and_stops_notifications(self) -> None:
        """No bus or no service: one log line with gdbus's words, and no more processes until restart."""
        with capturedLogs() as events:
            self.notifier.notify("bob", "one")
            self.notifier.notify("bob", "two")
            finish(self.reactor.started[0][0], 1, b"Error: Cannot autolaunch D-Bus without X11 $DISPLAY\n")
            self.reactor.advance(5)
            self.notifier.notify("bob", "three")
        self.assertEqual(len(self.reactor.started), 1)
        [warning] = warnings(events)
        self.assertEqual(warning["errors"], "Error: Cannot autolaunch D-Bus without X11 $DISPLAY")

    def test_no_gdbus_is_logged_once(self) -> None:
        """gdbus missing: one log line, never an exception."""
        self.reactor.refuse = True
        with capturedLogs() as events:
            self.notifier.notify("bob", "one")
            self.notifier.notify("bob", "two")
        self.assertEqual(len(warnings(events)), 1)


class FakeTop:
    """Just enough of a Tk window for ``X11Desktop`` to look for its display."""

    def winfo_exists(self) -> bool:
        return True

    def winfo_screen(self) -> str:
        return ":0.0"


class UrgencyWithoutX11Tests(SynchronousTestCase):
    def test_no_libx11_is_logged_once_and_never_raises(self) -> None:
        """Without libX11 the urgency hint is off: one log line, then nothing, whatever is asked."""
        x11 = X11Desktop(FakeTop(), FakeProcessReactor())
        with (
            mock.patch.object(desktop.ctypes.util, "find_library", return_value=None),
            capturedLogs() as events,
        ):
            x11.set_urgent(True)
            x11.set_urgent(False)
            x11.set_urgent(True)
        [warning] = warnings(events)
        self.assertEqual(str(warning["error"]), "libX11 is not installed")
