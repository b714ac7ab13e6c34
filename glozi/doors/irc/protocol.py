"""The IRC door: client-to-server IRC (docs/irc.md) adapted to the chat domain.

A session is a channel (``kiwi`` is ``#kiwi``), the nick is the name used in
every session, the session's admin is its channel operator, and the GloziChat commands
are reached through IRC's own TIME and KICK or ``/msg GloziServ COMMAND``.
"""

from collections.abc import Callable
from typing import ClassVar

from twisted.internet.interfaces import IReactorTime

import glozi
from glozi.domain.chat import ChatServer
from glozi.domain.operators import Operators
from glozi.domain.serverpassword import ServerPassword
from glozi.doors.irc import wire
from glozi.doors.irc.connection import IRCCommand
from glozi.doors.irc.help import Help
from glozi.doors.irc.messages import Messages
from glozi.doors.irc.modes import Modes
from glozi.doors.irc.operators import OperatorCommands
from glozi.doors.irc.queries import Queries
from glozi.doors.irc.registration import Registration
from glozi.doors.irc.serverinfo import ServerInfo
from glozi.doors.tracking import ConnectionLimits, TrackingFactory
from glozi.doors.writebatch import WriteBatch

PING_INTERVAL = 120.0
"""Seconds of silence from a client before the server sends it a PING."""
PING_TIMEOUT = 60.0
"""Seconds the client then has to send anything before it is dropped."""
REGISTRATION_TIMEOUT = 60.0
"""Seconds a connection has to complete NICK and USER."""


class IRCProtocol(Registration, Modes, Messages, Queries, Help, OperatorCommands, ServerInfo):
    """One IRC client connection: its commands, from the table below."""

    COMMANDS: ClassVar[dict[str, IRCCommand]] = {
        "CAP": IRCCommand("irc_CAP", 1),
        "NICK": IRCCommand("irc_NICK"),
        "USER": IRCCommand("irc_USER", 4),
        "PASS": IRCCommand("irc_PASS", 1),
        "PING": IRCCommand("irc_PING", 1),
        "PONG": IRCCommand("irc_PONG"),
        "QUIT": IRCCommand("irc_QUIT"),
        "JOIN": IRCCommand("irc_JOIN", 1),
        "PART": IRCCommand("irc_PART", 1),
        "LIST": IRCCommand("irc_LIST"),
        "NAMES": IRCCommand("irc_NAMES"),
        "WHO": IRCCommand("irc_WHO"),
        "TOPIC": IRCCommand("irc_TOPIC", 1),
        "MODE": IRCCommand("irc_MODE", 1),
        "KICK": IRCCommand("irc_KICK", 2),
        "INVITE": IRCCommand("irc_INVITE", 2),
        "PRIVMSG": IRCCommand("irc_PRIVMSG"),
        "NOTICE": IRCCommand("irc_NOTICE"),
        "TAGMSG": IRCCommand("irc_TAGMSG", 1),
        "SETNAME": IRCCommand("irc_SETNAME", 1),
        "TIME": IRCCommand("irc_TIME"),
        "WHOIS": IRCCommand("irc_WHOIS", 1),
        "AWAY": IRCCommand("irc_AWAY"),
        "MOTD": IRCCommand("irc_MOTD"),
        "HELP": IRCCommand("irc_HELP"),
        "HELPOP": IRCCommand("irc_HELP"),
        "OPER": IRCCommand("irc_OPER", 2),
        "KILL": IRCCommand("irc_KILL", 2),
        "WALLOPS": IRCCommand("irc_WALLOPS", 1),
        "INFO": IRCCommand("irc_INFO"),
        "LINKS": IRCCommand("irc_LINKS"),
        "LUSERS": IRCCommand("irc_LUSERS"),
        "WHOWAS": IRCCommand("irc_WHOWAS"),
        "ISON": IRCCommand("irc_ISON", 1),
        "USERHOST": IRCCommand("irc_USERHOST", 1),
        # The subcommand's own parameters are counted by glozi/doors/irc/history.py, which answers with FAIL.
        "CHATHISTORY": IRCCommand("irc_CHATHISTORY"),
    }


class IRCFactory(TrackingFactory):
    """Serves IRC for one ``ChatServer`` (which keeps every door's nicks)."""

    protocol = IRCProtocol

    def __init__(
        self,
        chat: ChatServer,
        server_name: str,
        clock: IReactorTime,
        *,
        ping_interval: float = PING_INTERVAL,
        ping_timeout: float = PING_TIMEOUT,
        registration_timeout: float = REGISTRATION_TIMEOUT,
        limits: ConnectionLimits | None = None,
        writes: WriteBatch | None = None,
        operators: Operators | None = None,
        description: str = glozi.DESCRIPTION,
        server_password: ServerPassword | None = None,
        web: Callable[[], str] = lambda: "",
    ) -> None:
        super().__init__(limits, writes)
        self.web = web
        """The web door's URL without its last ``/`` (``http://HOST:PORT``), for shared files' links; ``""``: none."""
        self.chat = chat
        self.operators = operators if operators is not None else Operators(chat)
        self.server_password = server_password if server_password is not None else ServerPassword(chat)
        self.display_name = server_name
        self.server = wire.server_name(server_name)
        self.description = description
        self.clock = clock
        self.started_at = clock.seconds()
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.registration_timeout = registration_timeout

    def refusal_line(self, message: str) -> bytes:
        return wire.line(None, "ERROR", f"Closing Link: {message}")
