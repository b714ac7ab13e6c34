"""The live checks of what the user types: names, passwords, exit codes, ports, pastes."""

from glozi.client.state import FieldState
from glozi.domain.names import (
    NAME_MAX_LENGTH,
    PASSWORD_LENGTH,
    is_usable_username,
    is_valid_password,
    is_valid_session_name,
)
from glozi.doors.native.wire import MAX_TEXT_CHARS


def check_username(text: str) -> FieldState:
    """The live state of a username field."""
    if not text:
        return FieldState.EMPTY
    return FieldState.VALID if is_usable_username(text) else FieldState.INVALID


def check_session_name(text: str) -> FieldState:
    """The live state of a session-name field."""
    if not text:
        return FieldState.EMPTY
    return FieldState.VALID if is_valid_session_name(text) else FieldState.INVALID


def check_password(text: str) -> FieldState:
    """The live state of a password field (empty means none)."""
    if not text:
        return FieldState.EMPTY
    return FieldState.VALID if is_valid_password(text) else FieldState.INVALID


def is_exit_code(text: str, digits: int) -> bool:
    """Whether ``text`` is an exit code of ``digits`` digits (the welcome's ``exit_code_digits``)."""
    return len(text) == digits and text.isascii() and text.isdigit()


def check_exit_code(text: str, digits: int) -> FieldState:
    """The live state of the server exit code field."""
    if not text:
        return FieldState.EMPTY
    return FieldState.VALID if is_exit_code(text, digits) else FieldState.INVALID


FIELD_LIMITS = {
    "name": NAME_MAX_LENGTH,
    "username": NAME_MAX_LENGTH,
    "password": PASSWORD_LENGTH,
    "message": MAX_TEXT_CHARS,
}
"""The most characters each kind of field accepts (the exit code's comes from the server)."""


def fits(kind: str, text: str) -> bool:
    """Whether ``text`` may stand in a field of ``kind`` (see ``FIELD_LIMITS``)."""
    if len(text) > FIELD_LIMITS[kind]:
        return False
    if kind == "password":
        return text.isascii() and (text.isdigit() or text == "")
    return True


def paste_lines(text: str) -> list[str]:
    """The messages a multi-line paste becomes: one per line that is not blank, in order."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [line for line in lines if line.strip()]


def parse_port(text: str) -> int | None:
    """A TCP port number typed by the user, or ``None`` when it is not one."""
    text = text.strip()
    if not text.isascii() or not text.isdigit():
        return None
    port = int(text)
    return port if 0 < port < 65536 else None
