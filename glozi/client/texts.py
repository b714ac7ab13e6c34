"""How the client words things for people: times, durations and the About text."""

import time

from glozi.domain.names import PASSWORD_RULE, SESSION_NAME_RULE, USERNAME_RULE


def duration_text(seconds: float) -> str:
    """A duration for people: ``20 s``, ``1 min 30 s``, ``4 min``, ``1 h``, ``2 h 5 min``."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(round(whole / 60), 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def clock_text(ts: float) -> str:
    """A server timestamp as local ``HH:MM``."""
    return time.strftime("%H:%M", time.localtime(ts))


def same_day(first: float, second: float) -> bool:
    """Whether two timestamps fall on the same local day."""
    return time.localtime(first)[:3] == time.localtime(second)[:3]


def day_text(ts: float) -> str:
    """The local date of ``ts`` as people write it: ``Tuesday 1 December 2026``. Always the
    date, never "Today": a window kept open past midnight would be wrong the day after."""
    day = time.localtime(ts)
    return f"{_WEEKDAYS[day.tm_wday]} {day.tm_mday} {_MONTHS[day.tm_mon - 1]} {day.tm_year}"


# English whatever the locale, as every other word of the window.
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)


def created_text(ts: float, now: float) -> str:
    """A creation time: ``HH:MM`` today, else the day and month too."""
    then = time.localtime(ts)
    if then[:3] == time.localtime(now)[:3]:
        return time.strftime("%H:%M", then)
    return time.strftime("%d %b %H:%M", then)


def browser_text(url: str | None) -> str:
    """The About window's line on the server's browser client."""
    if url is None:
        return "Browser: this server has no browser client."
    return f"Browser: {url} (open it on any device of the network)"


ABOUT_TEXT = (
    "GloziChat is a chat for your local network.\n\n"
    "Double-click a session (or select it and press Enter) to join it. Sessions with a lock "
    "need their 5-digit password. Create starts your own session: you are its admin and may "
    "/kick members and /close it.\n\n"
    f"Your name is {USERNAME_RULE}; a session name is {SESSION_NAME_RULE}. "
    f"Passwords are {PASSWORD_RULE}.\n\n"
    "In a session, type a message and press Enter. Commands: /help, /quote, /time, "
    "/echo TEXT, /kick NAME, /quit, /close. Members who stay silent are removed after "
    "a while; the admin never is.\n\n"
    "Whoever runs the server can shut it down by typing its exit code below the list."
)
