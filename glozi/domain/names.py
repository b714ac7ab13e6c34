"""The naming rules of GloziChat: usernames, session names, passwords, exit codes.

Every door (the native protocol, IRC) checks input against these functions at
its edge, so the chat domain only ever sees values that already passed them.
"""

import re

NAME_MIN_LENGTH = 3
NAME_MAX_LENGTH = 12
PASSWORD_LENGTH = 5
EXIT_CODE_LENGTH = 10
AWAY_MAX_LENGTH = 200
"""The longest away message, in characters (IRC's ``AWAYLEN``)."""
OPER_PASSWORD_MAX_LENGTH = 100
KILL_REASON_MAX_LENGTH = 200
"""The longest reason a server operator's kill carries, in characters."""

USERNAME_SPECIALS = "_-[]\\^{}|`"
"""Besides ASCII letters and digits, what a username may hold: the characters
IRC clients use for fallback nicks (``bob_``, ``alice[1]``)."""

_USERNAME = re.compile(
    rf"(?![0-9-])[A-Za-z0-9{re.escape(USERNAME_SPECIALS)}]{{{NAME_MIN_LENGTH},{NAME_MAX_LENGTH}}}", re.ASCII
)
# Session names keep letters and digits only: they are channel names and file
# names in people's logs, and no client invents them as fallbacks.
_SESSION_NAME = re.compile(rf"(?!\d)[A-Za-z0-9]{{{NAME_MIN_LENGTH},{NAME_MAX_LENGTH}}}", re.ASCII)
_PASSWORD = re.compile(rf"[0-9]{{{PASSWORD_LENGTH}}}", re.ASCII)
_EXIT_CODE = re.compile(rf"[0-9]{{{EXIT_CODE_LENGTH}}}", re.ASCII)
_OPER_PASSWORD = re.compile(rf"[^\s\x00-\x1f\x7f-\x9f]{{1,{OPER_PASSWORD_MAX_LENGTH}}}")

USERNAME_RULE = (
    f"{NAME_MIN_LENGTH} to {NAME_MAX_LENGTH} letters, digits or {' '.join(USERNAME_SPECIALS)}, "
    "not starting with a digit or -"
)
SESSION_NAME_RULE = (
    f"{NAME_MIN_LENGTH} to {NAME_MAX_LENGTH} letters or digits (A-Z, a-z, 0-9), "
    "not starting with a digit"
)
PASSWORD_RULE = f"exactly {PASSWORD_LENGTH} digits"
EXIT_CODE_RULE = f"exactly {EXIT_CODE_LENGTH} digits"
OPER_PASSWORD_RULE = f"1 to {OPER_PASSWORD_MAX_LENGTH} characters with no spaces or control characters"


def is_valid_username(name: str) -> bool:
    """Whether ``name`` may be used as a username (an IRC nick)."""
    return _USERNAME.fullmatch(name) is not None


RESERVED_USERNAMES = ("GloziServ",)
"""Usernames nobody may take, in any door or case: the server's own service on IRC."""
_RESERVED_KEYS = frozenset(name.casefold() for name in RESERVED_USERNAMES)


def is_reserved_username(name: str) -> bool:
    """Whether ``name`` (any case) is kept for the server itself."""
    return name_key(name) in _RESERVED_KEYS


def is_usable_username(name: str) -> bool:
    """Whether someone may take ``name``: it follows the rule and is not reserved."""
    return is_valid_username(name) and not is_reserved_username(name)


def reserved_username_message(name: str) -> str:
    """Why ``name`` is refused, for people, the same in every door."""
    return f"The username {name} is reserved for the server; choose another."


def is_valid_session_name(name: str) -> bool:
    """Whether ``name`` may be used as a session name (``#name`` on IRC)."""
    return _SESSION_NAME.fullmatch(name) is not None


def is_valid_password(password: str) -> bool:
    """Whether ``password`` is an acceptable session password (5 digits)."""
    return _PASSWORD.fullmatch(password) is not None


def is_valid_exit_code(code: str) -> bool:
    """Whether ``code`` has the shape of a server exit code (10 digits)."""
    return _EXIT_CODE.fullmatch(code) is not None


def name_key(name: str) -> str:
    """The case-insensitive key under which a name is unique.

    Only A-Z and a-z fold (IRC's ``CASEMAPPING=ascii``): ``[`` and ``{`` stay
    two characters, as every name is ASCII.
    """
    key = name.casefold()
    # A name already in lower case is its own key: one string, not a copy per
    # table it is a key of (a user's nick is one in the server's and in each session's).
    return name if key == name else key


def is_valid_oper_password(password: str) -> bool:
    """Whether ``password`` may be a server operator's password (``--oper NAME:PASSWORD``)."""
    return _OPER_PASSWORD.fullmatch(password) is not None


# How a shared file is worded (docs/files.md): the server announces it so, and the client shows its own
# upload so before the announcement would come.
def format_size(size: int) -> str:
    """Bytes in decimal units with one decimal: ``512 B``, ``48.2 kB``, ``2.1 MB``, ``1.1 GB``."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB"):
        value /= 1000
        if value < 1000:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.1f} GB"


def share_text(name: str, size: int) -> str:
    """The announcement's text (an action): ``shared a.jpg (2.1 MB)``."""
    return f"shared {name} ({format_size(size)})"
