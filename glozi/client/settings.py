"""The client's settings: a small JSON file in the user's config directory.

``$XDG_CONFIG_HOME/glozichat/settings.json`` (``~/.config/glozichat/`` by
default, next to ``known_servers.json``) holds the last name used, the theme,
the window geometry and the three alert switches. A missing, damaged or
unreadable file gives the defaults and a log line, never a crash; unknown keys
and values of the wrong kind are ignored. Every change is written at once,
atomically (a temporary file, then ``os.replace``), so a crash mid-write
leaves the old file whole.
"""

import json
import os
import re
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from twisted.logger import Logger

from glozi.client.state import AlertOptions
from glozi.client.trust import default_trust_file

THEMES = ("dark", "light", "system")
"""``system`` follows the desktop's preference where it can be read, dark otherwise."""
ALERT_FLAGS = ("title_count", "urgency", "notifications")
_GEOMETRY = re.compile(r"(\d{1,5})x(\d{1,5})\+(-?\d{1,5})\+(-?\d{1,5})")
_NAME_LIMIT = 64
"""Longer than any valid name: a longer value in the file is not a name we saved."""

log = Logger()


@dataclass(frozen=True)
class Settings:
    """What the client remembers between runs."""

    last_name: str = ""
    theme: str = "system"
    geometry: str = ""
    """Tk's ``WIDTHxHEIGHT+X+Y`` of the main window, or empty for the default size."""
    title_count: bool = True
    urgency: bool = True
    notifications: bool = True


def default_settings_file() -> Path:
    """``$XDG_CONFIG_HOME/glozichat/settings.json``, beside the remembered server certificates."""
    return default_trust_file().with_name("settings.json")


def _valid(name: str, value: Any) -> bool:
    if name in ALERT_FLAGS:
        return isinstance(value, bool)
    if not isinstance(value, str):
        return False
    if name == "theme":
        return value in THEMES
    if name == "geometry":
        return value == "" or _GEOMETRY.fullmatch(value) is not None
    return len(value) <= _NAME_LIMIT


def settings_from(data: Any) -> Settings:
    """The settings a decoded JSON document holds; anything unknown or ill-typed is left at its default."""
    if not isinstance(data, dict):
        return Settings()
    known = {f.name for f in fields(Settings)}
    return Settings(**{k: v for k, v in data.items() if k in known and _valid(k, v)})


def load_settings(path: Path) -> Settings:
    """Read ``path``; the defaults when it is missing, damaged or unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as error:
        log.warn("Cannot read the settings file {path}, using the defaults: {error}", path=path, error=error)
        return Settings()
    try:
        data = json.loads(text)
    except ValueError as error:
        log.warn("The settings file {path} is damaged, using the defaults: {error}", path=path, error=error)
        return Settings()
    return settings_from(data)


def save_settings(path: Path, settings: Settings) -> None:
    """Write ``settings`` to ``path`` atomically; a failure is logged, never raised."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(asdict(settings), indent=1, sort_keys=True), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as error:
        log.warn("Cannot save the settings to {path}: {error}", path=path, error=error)


class SettingsStore:
    """The current settings, saved to ``path`` on every change (kept in memory only when ``path`` is None)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.current = load_settings(path) if path is not None else Settings()

    def change(self, **values: Any) -> None:
        """Set some settings (``store.change(theme="light")``) and save them when anything changed."""
        changed = replace(self.current, **values)
        if changed != self.current:
            self.current = changed
            if self.path is not None:
                save_settings(self.path, changed)


def clamp_geometry(geometry: str, screen_width: int, screen_height: int) -> str:
    """``geometry`` moved and shrunk as little as needed to fit a screen of that size.

    A window saved on a larger screen, or a monitor since unplugged, must not
    open out of reach. An invalid geometry gives the empty string (the default).
    """
    match = _GEOMETRY.fullmatch(geometry)
    if match is None:
        return ""
    width, height, x, y = (int(group) for group in match.groups())
    width, height = min(width, screen_width), min(height, screen_height)
    x = max(0, min(x, screen_width - width))
    y = max(0, min(y, screen_height - height))
    return f"{width}x{height}+{x}+{y}"


def alert_options(settings: Settings) -> AlertOptions:
    """The view-model's alert switches (title count, urgency hint, notifications) as ``settings`` say."""
    return AlertOptions(
        title_count=settings.title_count, urgency=settings.urgency, notifications=settings.notifications
    )
