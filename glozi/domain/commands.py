"""Slash commands, dispatched from one table.

Each row of ``COMMANDS`` names a command, its handler, the kind of arguments it
takes, whether it is admin-only, its usage and its help text. ``run`` checks
privilege and arguments and produces the standard errors, so handlers only do
their own work; ``/help`` is generated from the table.
"""

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from twisted.internet.defer import Deferred

from glozi.domain import rules
from glozi.domain.errors import ChatError
from glozi.domain.events import LeaveReason
from glozi.domain.sessions import Member
from glozi.limits.ratelimit import retry_after


class Arguments(enum.Enum):
    """What a command accepts after its name."""

    NONE = "none"
    NAME = "one name"
    TEXT = "some text"
    OPTIONAL_TEXT = "some text or none"
    NAME_TEXT = "one name, then maybe some text"


@dataclass(frozen=True)
class Command:
    """One row of the command table."""

    name: str
    handler: Callable[[Member, str], "str | Deferred[str]"]
    arguments: Arguments
    admin_only: bool
    usage: str
    help: str
    operators_too: bool = False
    """An admin-only command that a server operator may run as well."""


def _help(member: Member, _: str) -> str:
    lines = ["Commands:"]
    for command in COMMANDS.values():
        lines.append(f"{command.usage} - {command.help}{privilege_mark(command)}")
    return "\n".join(lines)


def privilege_mark(command: Command) -> str:
    """How ``/help`` marks who may run ``command``."""
    if command.operators_too:
        return " (admin or server operator)"
    return " (admin only)" if command.admin_only else ""


def _quote(member: Member, _: str) -> str:
    server = member.participant.server
    quote = server.rng.choice(server.quotes)
    return f'"{quote.text}" - {quote.author}'


def server_time(seconds: float) -> str:
    """What /time answers for the instant ``seconds``, in the server's local time.

    Public so a door can answer its own time request (IRC's TIME) outside a session.
    """
    now = datetime.fromtimestamp(seconds).astimezone()
    return "Server time: " + now.strftime("%Y-%m-%d %H:%M:%S %Z")


def _time(member: Member, _: str) -> str:
    return server_time(member.participant.server.clock.seconds())


def _echo(member: Member, text: str) -> str:
    return text


def _kick(member: Member, args: str) -> str:
    name, _, comment = args.partition(" ")
    target = member.session.member_named(name)
    if target is None:
        raise ChatError("no_such_member", f"Nobody named {name!r} is in this session.")
    if target is member:
        raise ChatError("cannot_kick_self", "You cannot kick yourself; use /quit to leave.")
    member.participant.server.remove_member(
        target, LeaveReason.KICKED, by=member.name, comment=comment.strip() or None
    )
    return f"You kicked {target.name}."


def _quit(member: Member, reason: str) -> str:
    session_name = member.session.name
    member.participant.server.remove_member(member, LeaveReason.QUIT, comment=reason or None)
    return f"You left {session_name}."


def _close(member: Member, _: str) -> str:
    session_name = member.session.name
    if member.session.permanent:
        # Only a server operator gets here (built-in sessions have no admin).
        raise ChatError("builtin_session", f"{session_name} is a built-in session; it cannot be closed.")
    member.participant.server.close_session(member.session, by=member.name)
    return f"You closed {session_name}."


def _topic(member: Member, text: str) -> str:
    rules.set_topic(member, text)
    return f"You set the topic of {member.session.name}." if text else f"You cleared the topic of {member.session.name}."


def _modes_text(member: Member) -> str:
    info = member.session.info()
    limit = f" {info.limit}" if info.limit else ""
    return f"Modes of {info.name}: {info.modes}{limit}"


def _mode(member: Member, args: str) -> "str | Deferred[str]":
    if not args:
        return _modes_text(member)
    changes = rules.parse_modes(args.split())
    asked = [change.letter for change in changes if change.letter in rules.LIST_MODES and change.parameter is None]
    if len(asked) == len(changes):
        return "\n".join(_list_text(member, letter) for letter in dict.fromkeys(asked))
    return rules.change_modes(member, changes).addCallback(
        lambda applied: "Changed: " + " ".join(map(str, applied)) if applied else "Nothing changed."
    )


def _list_text(member: Member, letter: str) -> str:
    what, session = _LIST_TITLES[letter], member.session.name
    masks = rules.mask_list(member, letter)
    return f"{what.capitalize()} in {session}: {' '.join(masks)}" if masks else f"No {what} in {session}."


_LIST_TITLES = {"b": "bans", "e": "ban exceptions", "I": "invite exceptions"}


def _invite(member: Member, name: str) -> str:
    nick = rules.invite(member, name)
    return f"You invited {nick} to {member.session.name}."


def _ban(member: Member, args: str) -> str:
    name, _, comment = args.partition(" ")
    mask = rules.ban_and_kick(member, name, comment.strip() or None)
    return f"You banned {mask} and kicked them."


def _one_change(change: rules.ModeChange, done: str) -> Callable[[Member, str], "Deferred[str]"]:
    def handler(member: Member, parameter: str) -> "Deferred[str]":
        applied = rules.ModeChange(change.adding, change.letter, parameter or None)
        return rules.change_modes(member, [applied]).addCallback(
            lambda changed: done.format(session=member.session.name, name=parameter) if changed else "Nothing changed."
        )

    return handler


COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        Command("help", _help, Arguments.NONE, False, "/help", "list the commands"),
        Command("quote", _quote, Arguments.NONE, False, "/quote", "a random quote"),
        Command("time", _time, Arguments.NONE, False, "/time", "the server's current time"),
        Command("echo", _echo, Arguments.TEXT, False, "/echo TEXT", "repeat TEXT back to you"),
        Command("kick", _kick, Arguments.NAME_TEXT, True, "/kick NAME [REASON]", "remove NAME from the session"),
        Command(
            "quit", _quit, Arguments.OPTIONAL_TEXT, False, "/quit [REASON]", "leave the session, telling why"
        ),
        Command(
            "close", _close, Arguments.NONE, True, "/close", "close the session for everyone", operators_too=True
        ),
        Command(
            "topic", _topic, Arguments.OPTIONAL_TEXT, False, "/topic [TEXT]",
            "set the topic, or clear it with no TEXT (under +t, the admin only)",
        ),
        Command(
            "mode", _mode, Arguments.OPTIONAL_TEXT, False, "/mode [CHANGES]",
            "show the modes, b the bans, e the ban exceptions, I the invite exceptions; the admin changes them:"
            " +i, +k 12345, -k, +l 10, -l, +m, +s, +C, +v NAME, +b MASK, -b MASK, +e MASK, +I MASK, +o NAME, -t",
        ),
        Command("invite", _invite, Arguments.NAME, True, "/invite NAME", "let NAME join once, even when +i"),
        Command("ban", _ban, Arguments.NAME_TEXT, True, "/ban NAME [REASON]", "ban NAME (NAME!*@*) and kick them"),
        Command(
            "unban", _one_change(rules.ModeChange(False, "b"), "You lifted the ban {name}."), Arguments.NAME, True,
            "/unban MASK", "lift a ban (see /mode b)",
        ),
        Command(
            "lock", _one_change(rules.ModeChange(True, "k"), "You locked {session} with a new key."), Arguments.NAME,
            True, "/lock KEY", "lock the session with a 5-digit key, or change it",
        ),
        Command(
            "unlock", _one_change(rules.ModeChange(False, "k"), "You unlocked {session}."), Arguments.NONE, True,
            "/unlock", "remove the key",
        ),
        Command(
            "admin", _one_change(rules.ModeChange(True, "o"), "You handed the admin role to {name}."),
            Arguments.NAME, True, "/admin NAME", "hand the admin role to NAME",
        ),
    )
}


def run(member: Member, name: str, args: str) -> "str | Deferred[str]":
    """Run command ``name`` for ``member``; returns the text for the caller,
    or a Deferred of it (a new key is hashed first).

    Raises ``ChatError`` for an unknown command, a non-admin using an admin
    command, or arguments that do not fit the command's usage.
    """
    command = COMMANDS.get(name.lower())
    if command is None:
        raise ChatError("unknown_command", f"Unknown command /{name}. Type /help to see the commands.")
    operator_may = command.operators_too and member.participant.operator is not None
    if command.admin_only and not member.is_admin and not operator_may:
        raise ChatError("not_admin", f"/{command.name} is for the session's admin only.")
    admin_actions = member.participant.admin_actions
    if command.admin_only and not admin_actions.try_take():
        wait = retry_after(admin_actions.seconds_until())
        raise ChatError("rate_limited", f"Too many admin commands; try again in {wait} s.", retry_after=wait)
    args = args.strip()
    if command.arguments is Arguments.NONE and args:
        raise ChatError("bad_arguments", f"/{command.name} takes no arguments. Usage: {command.usage}")
    if command.arguments is Arguments.NAME and len(args.split()) != 1:
        raise ChatError("bad_arguments", f"Usage: {command.usage}")
    if command.arguments is Arguments.NAME_TEXT and not args:
        raise ChatError("bad_arguments", f"Usage: {command.usage}")
    if command.arguments is Arguments.TEXT and not args:
        raise ChatError("bad_arguments", f"Usage: {command.usage}")
    return command.handler(member, args)
