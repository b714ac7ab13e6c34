"""The IRC door: client-to-server IRC (docs/irc.md) adapted to the chat domain.

A session is a channel (``kiwi`` is ``#kiwi``), the nick is the name used in
it, the session's admin is its channel operator, and the GloziChat commands
are reached through IRC's own TIME and KICK or ``/msg GloziServ COMMAND``.
"""

from typing import ClassVar

from twisted.internet.interfaces import IReactorTime

from glozi.domain.chat import ChatServer
from glozi.domain.names import name_key
from glozi.doors.irc import wire
from glozi.doors.irc.channels import Channels
from glozi.doors.irc.connection import IRCCommand
from glozi.doors.irc.messages import Messages
from glozi.doors.irc.registration import Registration
from glozi.doors.tracking import ConnectionLimits, TrackingFactory
from glozi.doors.writebatch import WriteBatch

PING_INTERVAL = 120.0
"""Seconds of silence from a client before the server sends it a PING."""
PING_TIMEOUT = 60.0
"""Seconds the client then has to send anything before it is dropped."""
REGISTRATION_TIMEOUT = 60.0
"""Seconds a connection has to complete NICK and USER."""


class IRCProtocol(Registration, Channels, Messages):
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
        "PRIVMSG": IRCCommand("irc_PRIVMSG"),
        "NOTICE": IRCCommand("irc_NOTICE"),
        "TIME": IRCCommand("irc_TIME"),
        "MOTD": IRCCommand("irc_MOTD"),
    }


class IRCFactory(TrackingFactory):
    """Serves IRC for one ``ChatServer`` and keeps the nicks IRC clients hold."""

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
    ) -> None:
        super().__init__(limits, writes)
        self.chat = chat
        self.display_name = server_name
        self.server = wire.server_name(server_name)
        self.clock = clock
        self.started_at = clock.seconds()
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.registration_timeout = registration_timeout
        self._nicks: dict[str, IRCProtocol] = {}

    def refusal_line(self, message: str) -> bytes:
        return wire.line(None, "ERROR", f"Closing Link: {message}")

    def claim_nick(self, protocol: IRCProtocol, nick: str) -> bool:
        """Give ``nick`` to ``protocol`` unless another IRC client or the service has it."""
        key = name_key(nick)
        holder = self._nicks.get(key)
        if key == name_key(wire.SERVICE_NICK) or (holder is not None and holder is not protocol):
            return False
        self.release_nick(protocol)
        self._nicks[key] = protocol
        return True

    def release_nick(self, protocol: IRCProtocol) -> None:
        """Forget the nick ``protocol`` held, if any."""
        if protocol.nick is not None and self._nicks.get(name_key(protocol.nick)) is protocol:
            del self._nicks[name_key(protocol.nick)]
