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

from glozi.domain.errors import ChatError
from glozi.domain.events import LeaveReason
from glozi.domain.sessions import Member


class Arguments(enum.Enum):
    """What a command accepts after its name."""

    NONE = "none"
    NAME = "one name"
    TEXT = "some text"
    OPTIONAL_TEXT = "some text or none"


@dataclass(frozen=True)
class Command:
    """One row of the command table."""

    name: str
    handler: Callable[[Member, str], str]
    arguments: Arguments
    admin_only: bool
    usage: str
    help: str


def _help(member: Member, _: str) -> str:
    lines = ["Commands:"]
    for command in COMMANDS.values():
        mark = " (admin only)" if command.admin_only else ""
        lines.append(f"{command.usage} - {command.help}{mark}")
    return "\n".join(lines)


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


def _kick(member: Member, name: str) -> str:
    target = member.session.member_named(name)
    if target is None:
        raise ChatError("no_such_member", f"Nobody named {name!r} is in this session.")
    if target is member:
        raise ChatError("cannot_kick_self", "You cannot kick yourself; use /quit to leave.")
    member.participant.server.remove_member(target, LeaveReason.KICKED, by=member.name)
    return f"You kicked {target.name}."


def _quit(member: Member, reason: str) -> str:
    session_name = member.session.name
    member.participant.server.remove_member(member, LeaveReason.QUIT, comment=reason or None)
    return f"You left {session_name}."


def _close(member: Member, _: str) -> str:
    session_name = member.session.name
    member.participant.server.close_session(member.session, by=member.name)
    return f"You closed {session_name}."


COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        Command("help", _help, Arguments.NONE, False, "/help", "list the commands"),
        Command("quote", _quote, Arguments.NONE, False, "/quote", "a random quote"),
        Command("time", _time, Arguments.NONE, False, "/time", "the server's current time"),
        Command("echo", _echo, Arguments.TEXT, False, "/echo TEXT", "repeat TEXT back to you"),
        Command("kick", _kick, Arguments.NAME, True, "/kick NAME", "remove NAME from the session"),
        Command(
            "quit", _quit, Arguments.OPTIONAL_TEXT, False, "/quit [REASON]", "leave the session, telling why"
        ),
        Command("close", _close, Arguments.NONE, True, "/close", "close the session for everyone"),
    )
}


def run(member: Member, name: str, args: str) -> str:
    """Run command ``name`` for ``member``; returns the text for the caller.

    Raises ``ChatError`` for an unknown command, a non-admin using an admin
    command, or arguments that do not fit the command's usage.
    """
    command = COMMANDS.get(name.lower())
    if command is None:
        raise ChatError("unknown_command", f"Unknown command /{name}. Type /help to see the commands.")
    if command.admin_only and not member.is_admin:
        raise ChatError("not_admin", f"/{command.name} is for the session's admin only.")
    admin_actions = member.participant.admin_actions
    if command.admin_only and not admin_actions.try_take():
        wait = max(1, round(admin_actions.seconds_until()))
        raise ChatError("rate_limited", f"Too many admin commands; try again in {wait} s.", retry_after=wait)
    args = args.strip()
    if command.arguments is Arguments.NONE and args:
        raise ChatError("bad_arguments", f"/{command.name} takes no arguments. Usage: {command.usage}")
    if command.arguments is Arguments.NAME and len(args.split()) != 1:
        raise ChatError("bad_arguments", f"Usage: {command.usage}")
    if command.arguments is Arguments.TEXT and not args:
        raise ChatError("bad_arguments", f"Usage: {command.usage}")
    return command.handler(member, args)
