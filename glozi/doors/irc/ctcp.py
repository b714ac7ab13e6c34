"""CTCP inside PRIVMSG and NOTICE (docs/irc.md, "CTCP"): ``ACTION`` (``/me``)
is a GloziChat action; other requests go from one IRC user to another as they
are, and a request to a native user (or to GloziServ) is answered by the
server in their place, as a bouncer answers for a client that is not attached.
Pure functions, no sockets."""

from datetime import datetime
from typing import NamedTuple

from glozi.doors.irc import wire

MARK = "\x01"
ACTION = "ACTION"
ANSWERED = ("ACTION", "CLIENTINFO", "PING", "TIME", "VERSION")
"""What the server answers for a native user, in CLIENTINFO's order."""


class Query(NamedTuple):
    """One CTCP message: its command, upper-cased (``VERSION``), and the rest."""

    command: str
    argument: str


def parse(text: str) -> Query | None:
    """The CTCP message ``text`` carries (it starts with ``\\x01``; the closing
    ``\\x01`` may be missing, as some clients send it), or ``None`` for plain text."""
    if not text.startswith(MARK):
        return None
    body = text[1:].split(MARK, 1)[0]
    command, _, argument = body.partition(" ")
    return Query(command.upper(), argument)


def body_of(query: Query) -> str:
    """The message between the two marks, safe on one line (no control characters)."""
    return wire.clean_text(f"{query.command} {query.argument}" if query.argument else query.command)


def answer_in_place(query: Query, now: float, version: str) -> str:
    """What the server answers, in a native user's place, to the request
    ``query``: the body of the CTCP reply (sent back as a NOTICE)."""
    if query.command == "VERSION":
        return f"VERSION GloziChat {version} (a GloziChat native user; the server answers for them)"
    if query.command == "PING":
        return wire.clean_text(f"PING {query.argument}" if query.argument else "PING")
    if query.command == "TIME":
        return "TIME " + datetime.fromtimestamp(now).astimezone().strftime("%a %b %d %H:%M:%S %Y %Z")
    if query.command == "CLIENTINFO":
        return "CLIENTINFO " + " ".join(ANSWERED)
    return f"ERRMSG {wire.echo(wire.clean_text(query.command))} :Unknown CTCP query"
