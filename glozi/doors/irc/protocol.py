"""The IRC door: client-to-server IRC (docs/irc.md) adapted to the chat domain.

A session is a channel (``kiwi`` is ``#kiwi``), the nick is the name used in
it, the session's admin is its channel operator, and the GloziChat commands
are reached through IRC's own TIME and KICK or ``/msg GloziServ COMMAND``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.words.protocols import irc

import glozi
from glozi.domain import commands
from glozi.domain.chat import SERVER_CREATOR, ChatServer, Participant
from glozi.domain.errors import ChatError
from glozi.domain.events import Event, Joined, LeaveReason, Left, MemberInfo, SessionInfo
from glozi.domain.names import (
    EXIT_CODE_RULE,
    NAME_MAX_LENGTH,
    is_valid_exit_code,
    is_valid_name,
    is_valid_password,
    name_key,
)
from glozi.doors.irc import numerics as n
from glozi.doors.irc import wire
from glozi.doors.tracking import ConnectionLimits, TrackingFactory, source_of
from glozi.doors.writebatch import BatchedWrites, WriteBatch
from glozi.limits.flood import FloodControl, Verdict
from glozi.limits.sendqueue import SendQueueGuard

PING_INTERVAL = 120.0
"""Seconds of silence from a client before the server sends it a PING."""
PING_TIMEOUT = 60.0
"""Seconds the client then has to send anything before it is dropped."""
REGISTRATION_TIMEOUT = 60.0
"""Seconds a connection has to complete NICK and USER."""

ISUPPORT = (
    "CASEMAPPING=ascii",
    "CHANLIMIT=#:1",
    "CHANMODES=,k,,nt",
    f"CHANNELLEN={NAME_MAX_LENGTH + len(wire.CHANNEL_PREFIX)}",
    "CHANTYPES=#",
    "NETWORK=GloziChat",
    f"NICKLEN={NAME_MAX_LENGTH}",
    "PREFIX=(o)@",
    "TARGMAX=KICK:1,NOTICE:1,PRIVMSG:1",
)
MOTD = (
    "Welcome to GloziChat. Each channel is a chat session: /list shows them,",
    "/join #name joins one (/join #name 12345 for a locked one), and joining a",
    "new name creates that session with you as its admin. You are in one",
    "session at a time. /msg GloziServ help lists the GloziChat commands.",
)
_BEFORE_REGISTRATION = frozenset({"CAP", "NICK", "USER", "PASS", "PING", "PONG", "QUIT"})
CHANNEL_MODES = "+nt"
"""Modes every channel has: no messages from outside (404), the topic is
GloziChat's (482); a locked session has ``k`` too."""
_SERVICE_ONLY_HELP = (
    "exit CODE - the server exit code: shuts the server down (only outside a session)",
    "IRC's own /time, /kick #session NAME and /part #session do the same as time, kick and quit.",
)


@dataclass(frozen=True)
class _Command:
    """One row of the door's command table: handler name and minimum parameters."""

    handler: str
    min_params: int = 0


class IRCProtocol(BatchedWrites, irc.IRC):
    """One IRC client connection.

    Lines are parsed by ``wire.parse_line`` (Twisted's ``parsemsg``); each
    command goes through ``COMMANDS``, which checks registration and the number
    of parameters; the handlers call the ``Participant`` and turn its refusals
    into the numerics IRC clients expect.
    """

    log = Logger()
    factory: "IRCFactory"
    participant: Participant

    COMMANDS: ClassVar[dict[str, _Command]] = {
        "CAP": _Command("irc_CAP", 1),
        "NICK": _Command("irc_NICK"),
        "USER": _Command("irc_USER", 4),
        "PASS": _Command("irc_PASS", 1),
        "PING": _Command("irc_PING", 1),
        "PONG": _Command("irc_PONG"),
        "QUIT": _Command("irc_QUIT"),
        "JOIN": _Command("irc_JOIN", 1),
        "PART": _Command("irc_PART", 1),
        "LIST": _Command("irc_LIST"),
        "NAMES": _Command("irc_NAMES"),
        "WHO": _Command("irc_WHO"),
        "TOPIC": _Command("irc_TOPIC", 1),
        "MODE": _Command("irc_MODE", 1),
        "KICK": _Command("irc_KICK", 2),
        "PRIVMSG": _Command("irc_PRIVMSG"),
        "NOTICE": _Command("irc_NOTICE"),
        "TIME": _Command("irc_TIME"),
        "MOTD": _Command("irc_MOTD"),
    }

    def connectionMade(self) -> None:
        # IRC.connectionMade would look the host name up in DNS; the name is configured.
        self.hostname = self.factory.server
        super().connectionMade()
        self.send_without_delay()
        self._buffer = b""
        self._discarding = False
        self.nick: str | None = None
        self._user_given = False
        self._negotiating_caps = False
        self.registered = False
        self.channel: str | None = None
        self._key: str | None = None
        self._invisible = False
        self._keepalive: IDelayedCall | None = None
        self._deadline: IDelayedCall | None = self.factory.clock.callLater(
            self.factory.registration_timeout, self._registration_expired
        )
        self._flood = FloodControl(self.factory.clock, burst=self.factory.flood_burst, rate=self.factory.flood_rate)
        self._send_queue = SendQueueGuard(self.transport, self.factory.max_send_queue, self._too_slow)
        self.factory.opened(self)
        self.participant = self.factory.chat.connect(self, source_of(self.transport.getPeer()))

    def connectionLost(self, reason: Failure | None = None) -> None:
        for call in (self._deadline, self._keepalive):
            if call is not None and call.active():
                call.cancel()
        self.participant.disconnected()
        self.factory.release_nick(self)
        self.factory.closed(self)

    # The Connection interface of the chat domain.

    def deliver(self, event: Event) -> None:
        """Write ``event`` as IRC lines: shared events encoded once for every
        recipient, ``Left`` (which names this client) for this client."""
        if isinstance(event, Left):
            self._left(event)
        else:
            self.send(wire.encode_event(event, self.channel or "*", self.factory.server))

    # Reading lines.

    def dataReceived(self, data: bytes) -> None:
        # Everything this read causes, for every connection, goes out in one
        # write per connection (glozi/doors/writebatch.py).
        with self.factory.writes:
            self._lines_received(data)

    def _lines_received(self, data: bytes) -> None:
        """Split bytes into lines ourselves: IRC.dataReceived decodes each read
        as UTF-8 (a character cut between two reads, or one bad byte, would
        raise) and drops the connection on a long line, where IRC servers
        answer 417 and carry on."""
        # Lines are cut out of one buffer by index: slicing the rest off after
        # every line would copy a large read once per line in it.
        buffer = self._buffer + data
        start = 0
        while not self.transport.disconnecting:
            if self._discarding:
                end = buffer.find(b"\n", start)
                if end < 0:
                    self._buffer = b""
                    return
                start = end + 1
                self._discarding = False
                continue
            end = buffer.find(b"\n", start)
            if end < 0:
                if len(buffer) - start > wire.MAX_LINE_BYTES:
                    self._buffer = b""
                    self._discarding = True
                    self._input_too_long()
                    return
                break
            raw = buffer[start:end].removesuffix(b"\r")
            start = end + 1
            if len(raw) > wire.MAX_LINE_BYTES - 2:
                self._input_too_long()
                continue
            if not raw.strip():
                continue
            verdict = self._flood.check()
            if verdict is not Verdict.ACCEPT:
                self._flooded(verdict)
                continue
            self._rearm_keepalive()
            parsed = wire.parse_line(raw)
            if parsed is not None:
                self.handleCommand(parsed.command, parsed.prefix, parsed.params)
        self._buffer = buffer[start:]

    def handleCommand(self, command: str, prefix: Any, params: list[str]) -> None:
        """Run one command from the table; a bug in a handler costs this line only."""
        entry = self.COMMANDS.get(command)
        if entry is None:
            if self.registered:
                self._numeric(n.ERR_UNKNOWNCOMMAND, wire.echo(command), "Unknown command")
            else:
                self._numeric(n.ERR_NOTREGISTERED, "You have not registered")
            return
        if not self.registered and command not in _BEFORE_REGISTRATION:
            self._numeric(n.ERR_NOTREGISTERED, "You have not registered")
            return
        if len(params) < entry.min_params:
            self._numeric(n.ERR_NEEDMOREPARAMS, command, "Not enough parameters")
            return
        handler: Callable[[list[str]], None] = getattr(self, entry.handler)
        try:
            handler(params)
        except ChatError as error:
            self._server_notice(error.message)
            if error.disconnect:
                self._error_and_close(error.message)
        # Whatever goes wrong in one handler must not reach the connection or the server.
        except Exception:  # noqa: BLE001
            self.log.failure("Handling IRC {command} failed", command=command)
            self._numeric(
                n.ERR_UNKNOWNERROR, command, "The server failed on that command; nothing was changed"
            )

    # Writing lines.

    def _too_slow(self) -> None:
        self.log.warn(
            "Dropping IRC client {peer}: it stopped reading and {limit} bytes are queued for it",
            peer=self.transport.getPeer(),
            limit=self.factory.max_send_queue,
        )
        self.transport.abortConnection()

    def _flooded(self, verdict: Verdict) -> None:
        if verdict is Verdict.REFUSE:
            self._server_notice("You are sending too fast; lines are being dropped.")
        elif verdict is Verdict.DISCONNECT:
            self.log.warn("Disconnecting IRC client {peer} for flooding", peer=self.transport.getPeer())
            self._error_and_close("Excess Flood")

    def _write(self, prefix: str | None, command: str, *params: str) -> None:
        self.send(wire.line(prefix, command, *params))

    def _numeric(self, code: str, *params: str) -> None:
        self._write(self.factory.server, code, self.nick or "*", *params)

    def _server_notice(self, text: str) -> None:
        self.send(wire.text_lines(self.factory.server, "NOTICE", self.nick or "*", text))

    def _service_notice(self, text: str) -> None:
        prefix = wire.user_prefix(wire.SERVICE_NICK)
        self.send(wire.text_lines(prefix, "NOTICE", self.nick or "*", text))

    def _error_and_close(self, reason: str) -> None:
        self._write(None, "ERROR", f"Closing Link: {reason}")
        self.close()

    def _input_too_long(self) -> None:
        self._numeric(n.ERR_INPUTTOOLONG, "Input line was too long")

    # Timers.

    def _registration_expired(self) -> None:
        self._deadline = None
        self._error_and_close("Registration timed out")

    def _rearm_keepalive(self) -> None:
        if not self.registered:
            return
        call = self._keepalive
        # Re-arm the pending keepalive in place (no new DelayedCall per line);
        # once its PING went out, the pending call is the ping timeout instead.
        if call is not None and call.active() and call.func == self._send_ping:
            call.reset(self.factory.ping_interval)
            return
        if call is not None and call.active():
            call.cancel()
        self._keepalive = self.factory.clock.callLater(self.factory.ping_interval, self._send_ping)

    def _send_ping(self) -> None:
        self._write(None, "PING", self.factory.server)
        self._keepalive = self.factory.clock.callLater(self.factory.ping_timeout, self._ping_expired)

    def _ping_expired(self) -> None:
        self._keepalive = None
        self._error_and_close(f"Ping timeout: {self.factory.ping_timeout:.0f} seconds")

    # Registration.

    def irc_CAP(self, params: list[str]) -> None:
        sub = params[0].upper()
        if sub == "LS":
            self._negotiating_caps = not self.registered
            self._write(self.factory.server, "CAP", self.nick or "*", "LS", "")
        elif sub == "LIST":
            self._write(self.factory.server, "CAP", self.nick or "*", "LIST", "")
        elif sub == "REQ":
            self._negotiating_caps = not self.registered
            self._write(
                self.factory.server, "CAP", self.nick or "*", "NAK", params[1] if len(params) > 1 else ""
            )
        elif sub == "END":
            self._negotiating_caps = False
            self._maybe_register()
        else:
            self._numeric(n.ERR_INVALIDCAPCMD, wire.echo(params[0]), "Invalid CAP command")

    def irc_PASS(self, params: list[str]) -> None:
        if self.registered:
            self._numeric(n.ERR_ALREADYREGISTERED, "You may not reregister")

    def irc_NICK(self, params: list[str]) -> None:
        if not params or not params[0]:
            self._numeric(n.ERR_NONICKNAMEGIVEN, "No nickname given")
            return
        nick = params[0]
        if nick == self.nick:
            return
        if not is_valid_name(nick):
            self._numeric(
                n.ERR_ERRONEUSNICKNAME,
                wire.echo(nick),
                "Erroneous nickname: 3 to 12 letters or digits, not starting with a digit",
            )
            return
        if self.participant.current_session() is not None or self.participant.joining:
            self._numeric(
                n.ERR_NONICKCHANGE, nick, f"Cannot change nickname while in {self.channel}; /part it first"
            )
            return
        if not self.factory.claim_nick(self, nick):
            self._numeric(n.ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
            return
        old, self.nick = self.nick, nick
        if self.registered and old is not None:
            self._write(wire.user_prefix(old), "NICK", nick)
        self._maybe_register()

    def irc_USER(self, params: list[str]) -> None:
        if self.registered or self._user_given:
            self._numeric(n.ERR_ALREADYREGISTERED, "You may not reregister")
            return
        # Modern IRC: an empty username or realname is a missing one.
        if not params[0] or not params[3]:
            self._numeric(n.ERR_NEEDMOREPARAMS, "USER", "Not enough parameters")
            return
        self._user_given = True
        self._maybe_register()

    def _maybe_register(self) -> None:
        if self.registered or self.nick is None or not self._user_given or self._negotiating_caps:
            return
        self.registered = True
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None
        server, version = self.factory.server, f"GloziChat-{glozi.__version__}"
        self._numeric(
            n.RPL_WELCOME,
            f"Welcome to GloziChat on {self.factory.display_name}, {wire.user_prefix(self.nick)}",
        )
        self._numeric(n.RPL_YOURHOST, f"Your host is {server}, running version {version}")
        self._numeric(n.RPL_CREATED, f"This server was created {wire.utc_text(self.factory.started_at)}")
        self._numeric(n.RPL_MYINFO, server, version, "i", "knot", "ko")
        self._numeric(n.RPL_ISUPPORT, *ISUPPORT, "are supported by this server")
        self.irc_MOTD([])
        self._rearm_keepalive()

    def irc_PING(self, params: list[str]) -> None:
        self._write(self.factory.server, "PONG", self.factory.server, params[0])

    def irc_PONG(self, params: list[str]) -> None:
        """Any line re-arms the keep-alive, so a PONG needs nothing more."""

    def irc_QUIT(self, params: list[str]) -> None:
        reason = params[0] if params else "Client quit"
        self._error_and_close(f"{self.nick or '*'} (Quit: {wire.echo(reason)})")

    def irc_MOTD(self, params: list[str]) -> None:
        self._numeric(n.RPL_MOTDSTART, f"- {self.factory.server} Message of the day -")
        for text in MOTD:
            self._numeric(n.RPL_MOTD, f"- {text}")
        self._numeric(n.RPL_ENDOFMOTD, "End of /MOTD command.")

    # Sessions as channels.

    def _session_named(self, channel: str) -> SessionInfo | None:
        name = wire.session_of(channel)
        if name is None:
            return None
        key = name_key(name)
        for info in self.participant.list_sessions():
            if name_key(info.name) == key:
                return info
        return None

    def _is_mine(self, channel: str) -> bool:
        return self.channel is not None and name_key(channel) == name_key(self.channel)

    def irc_JOIN(self, params: list[str]) -> None:
        if params[0] == "0":
            if self.channel is not None:
                self.participant.run_command("quit", "")
            return
        keys = params[1].split(",") if len(params) > 1 else []
        for index, channel in enumerate(params[0].split(",")):
            self._join_one(channel, keys[index] if index < len(keys) and keys[index] else None)

    def _join_one(self, channel: str, key: str | None) -> None:
        """One name of a JOIN list: a bad name is refused first (403), so only
        valid names count against the one-channel limit (405)."""
        assert self.nick is not None
        name = wire.session_of(channel)
        if name is None or not is_valid_name(name):
            self._numeric(
                n.ERR_NOSUCHCHANNEL,
                wire.echo(channel),
                "No such channel: sessions are # and 3 to 12 letters or digits",
            )
            return
        if self._is_mine(channel):
            return
        if self.channel is not None:
            self._numeric(
                n.ERR_TOOMANYCHANNELS,
                wire.echo(channel),
                "You are in one session at a time; /part the other first",
            )
            return
        info = self._session_named(channel)
        if key is not None and not is_valid_password(key) and (info is None or info.locked):
            self._numeric(
                n.ERR_BADCHANNELKEY, channel, "Cannot join channel (+k): the key is exactly 5 digits"
            )
            return
        if info is None:
            joining = self.participant.create(name, self.nick, key)
        else:
            joining = self.participant.join(info.id, self.nick, key if info.locked else None)
        joining.addCallbacks(self._joined, self._join_refused, callbackArgs=(key,), errbackArgs=(channel,))

    def _join_refused(self, reason: Failure, channel: str) -> None:
        """A refused JOIN as the numeric IRC clients expect."""
        error = reason.value
        if not isinstance(error, ChatError):
            self.log.failure("Handling IRC JOIN failed", reason)
            self._numeric(n.ERR_UNKNOWNERROR, "JOIN", "The server failed on that command; nothing was changed")
        elif error.code in ("wrong_password", "password_required"):
            self._numeric(n.ERR_BADCHANNELKEY, channel, "Cannot join channel (+k): wrong or missing key")
        elif error.code == "too_many_attempts":
            # Still the key numeric, so a client that waits for a JOIN reply gets one.
            self._numeric(n.ERR_BADCHANNELKEY, channel, f"Cannot join channel (+k): {error.message}")
            if error.disconnect:
                self._error_and_close(error.message)
        elif error.code == "name_taken":
            self._numeric(
                n.ERR_NAMEINCHANNEL,
                channel,
                f"The name {self.nick} is taken in that session; /nick another and join again",
            )
        elif error.code == "wrong_state":
            self._numeric(n.ERR_TOOMANYCHANNELS, channel, "You are in one session at a time")
        elif error.code == "no_such_session":
            # The session was closed while the key was being checked.
            self._numeric(n.ERR_NOSUCHCHANNEL, channel, error.message)
        else:
            # Every refusal gets a numeric: a client waits for one before it gives up on a JOIN.
            self._numeric(n.ERR_UNAVAILRESOURCE, channel, error.message)
            if error.disconnect:
                self._error_and_close(error.message)

    def _joined(self, joined: Joined, key: str | None) -> None:
        self.channel = wire.channel_of(joined.session.name)
        self._key = key if joined.session.locked else None
        self._write(wire.user_prefix(joined.you), "JOIN", self.channel)
        self._send_topic(joined.session)
        self._send_names(self.channel, joined.members)
        if joined.history:
            self.send(wire.encode_history(joined.history, self.channel, self.factory.server))

    def _left(self, event: Left) -> None:
        channel = wire.channel_of(event.session_name)
        me = self.nick or "*"
        if event.reason == LeaveReason.KICKED and event.by:
            self._write(wire.user_prefix(event.by), "KICK", channel, me, event.by)
        elif event.reason == LeaveReason.TIMEOUT:
            self._write(self.factory.server, "KICK", channel, me, "Removed for inactivity")
        elif event.reason == LeaveReason.CLOSED:
            notice = event.encoded.get("irc")
            if notice is None:
                notice = event.encoded["irc"] = wire.text_lines(
                    self.factory.server,
                    "NOTICE",
                    channel,
                    f"{event.by} closed the session {event.session_name}.",
                )
            self.send(notice)
            # The KICK names the recipient, so only the notice above is shared.
            self._write(
                wire.user_prefix(event.by or wire.SERVICE_NICK), "KICK", channel, me, "Session closed"
            )
        else:
            self._write(wire.user_prefix(me), "PART", channel)
        self.channel = None
        self._key = None

    def irc_PART(self, params: list[str]) -> None:
        for channel in params[0].split(","):
            if self._is_mine(channel):
                self.participant.run_command("quit", "")
            elif self._session_named(channel) is not None:
                self._numeric(n.ERR_NOTONCHANNEL, channel, "You're not on that channel")
            else:
                self._numeric(n.ERR_NOSUCHCHANNEL, wire.echo(channel), "No such channel")

    def irc_LIST(self, params: list[str]) -> None:
        wanted = {name_key(c) for c in params[0].split(",")} if params and params[0] else None
        self._numeric(n.RPL_LISTSTART, "Channel", "Users  Name")
        for info in self.participant.list_sessions():
            channel = wire.channel_of(info.name)
            if wanted is None or name_key(channel) in wanted:
                self._numeric(n.RPL_LIST, channel, str(info.member_count), wire.topic(info))
        self._numeric(n.RPL_LISTEND, "End of /LIST")

    def _send_topic(self, info: SessionInfo) -> None:
        channel = wire.channel_of(info.name)
        self._numeric(n.RPL_TOPIC, channel, wire.topic(info))
        setter = self.factory.server if info.creator == SERVER_CREATOR else wire.user_prefix(info.creator)
        self._numeric(n.RPL_TOPICWHOTIME, channel, setter, str(int(info.created_at)))

    def irc_TOPIC(self, params: list[str]) -> None:
        info = self._session_named(params[0])
        if info is None:
            self._numeric(n.ERR_NOSUCHCHANNEL, wire.echo(params[0]), "No such channel")
        elif len(params) > 1:
            if self._is_mine(params[0]):
                self._numeric(
                    n.ERR_CHANOPRIVSNEEDED,
                    wire.channel_of(info.name),
                    "The topic is kept by GloziChat and cannot be changed",
                )
            else:
                self._numeric(n.ERR_NOTONCHANNEL, wire.channel_of(info.name), "You're not on that channel")
        else:
            self._send_topic(info)

    def _send_names(self, channel: str, members: tuple[MemberInfo, ...]) -> None:
        names = [("@" if m.is_admin else "") + m.name for m in members]
        head = len(f":{self.factory.server} {n.RPL_NAMREPLY} {self.nick} = {channel} :\r\n")
        for chunk in wire.split_text(" ".join(names), wire.MAX_LINE_BYTES - head):
            self._numeric(n.RPL_NAMREPLY, "=", channel, chunk)
        self._numeric(n.RPL_ENDOFNAMES, channel, "End of /NAMES list")

    def irc_NAMES(self, params: list[str]) -> None:
        channels = params[0].split(",") if params and params[0] else [self.channel or "*"]
        for channel in channels:
            if self._is_mine(channel):
                assert self.channel is not None
                self._send_names(self.channel, self.participant.session_members())
            else:
                self._numeric(n.RPL_ENDOFNAMES, wire.echo(channel), "End of /NAMES list")

    def irc_WHO(self, params: list[str]) -> None:
        mask = params[0] if params else "*"
        if self.channel is not None:
            members = self.participant.session_members()
            if not self._is_mine(mask):
                members = tuple(m for m in members if name_key(m.name) == name_key(mask))
            for member in members:
                flags = "H@" if member.is_admin else "H"
                self._numeric(
                    n.RPL_WHOREPLY,
                    self.channel,
                    member.name,
                    wire.USER_HOST,
                    self.factory.server,
                    member.name,
                    flags,
                    f"0 {member.name}",
                )
        self._numeric(n.RPL_ENDOFWHO, wire.echo(mask), "End of WHO list")

    def irc_MODE(self, params: list[str]) -> None:
        target = params[0]
        if wire.session_of(target) is None:
            self._user_mode(target, params[1:])
            return
        info = self._session_named(target)
        if info is None:
            self._numeric(n.ERR_NOSUCHCHANNEL, wire.echo(target), "No such channel")
            return
        channel = wire.channel_of(info.name)
        if len(params) == 1:
            # The key is shown to members only: they joined with it.
            if not info.locked:
                modes = [CHANNEL_MODES]
            elif self._is_mine(target):
                modes = [CHANNEL_MODES + "k", self._key or "*"]
            else:
                modes = [CHANNEL_MODES + "k"]
            self._numeric(n.RPL_CHANNELMODEIS, channel, *modes)
            self._numeric(n.RPL_CREATIONTIME, channel, str(int(info.created_at)))
        elif params[1].lstrip("+") == "b":
            self._numeric(n.RPL_ENDOFBANLIST, channel, "End of channel ban list")
        else:
            self._numeric(
                n.ERR_CHANOPRIVSNEEDED,
                channel,
                "Channel modes cannot be changed: the key is set when the session is created",
            )

    def _user_mode(self, target: str, changes: list[str]) -> None:
        assert self.nick is not None
        if name_key(target) != name_key(self.nick):
            self._numeric(n.ERR_USERSDONTMATCH, "Cannot change mode for other users")
            return
        if not changes:
            self._numeric(n.RPL_UMODEIS, "+i" if self._invisible else "+")
            return
        adding, applied, unknown = True, "", False
        for char in changes[0]:
            if char in "+-":
                adding = char == "+"
            elif char == "i":
                if self._invisible != adding:
                    self._invisible = adding
                    applied += ("+" if adding else "-") + "i"
            else:
                unknown = True
        if applied:
            self._write(wire.user_prefix(self.nick), "MODE", self.nick, applied)
        if unknown:
            self._numeric(n.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")

    def irc_KICK(self, params: list[str]) -> None:
        channel, target = params[0], params[1].split(",")[0]
        if not self._is_mine(channel):
            if self._session_named(channel) is None:
                self._numeric(n.ERR_NOSUCHCHANNEL, wire.echo(channel), "No such channel")
            else:
                self._numeric(n.ERR_NOTONCHANNEL, channel, "You're not on that channel")
            return
        assert self.channel is not None
        try:
            self.participant.run_command("kick", target)
        except ChatError as error:
            if error.code == "not_admin":
                self._numeric(
                    n.ERR_CHANOPRIVSNEEDED, self.channel, "You're not the session's admin (channel operator)"
                )
            elif error.code in ("no_such_member", "bad_arguments"):
                self._numeric(
                    n.ERR_USERNOTINCHANNEL, wire.echo(target), self.channel, "They aren't on that channel"
                )
            else:
                raise

    # Messages and the GloziServ service.

    def irc_PRIVMSG(self, params: list[str]) -> None:
        self._message(params, notice=False)

    def irc_NOTICE(self, params: list[str]) -> None:
        self._message(params, notice=True)

    def _message(self, params: list[str], notice: bool) -> None:
        """PRIVMSG and NOTICE; a NOTICE is never answered, not even with an error."""
        if not params or not params[0]:
            if not notice:
                self._numeric(n.ERR_NORECIPIENT, "No recipient given (PRIVMSG)")
            return
        target = params[0]
        text = params[1] if len(params) > 1 else ""
        ctcp = "\x01" in text
        if not ctcp:
            text = wire.clean_text(text)
        if ctcp or not text.strip():
            # Talking to your session counts as activity even when refused, as on the native door.
            if self._is_mine(target):
                self.participant.touch()
            if notice:
                return
            if ctcp:
                self._server_notice("CTCP (including /me) is not supported on GloziChat.")
            else:
                self._numeric(n.ERR_NOTEXTTOSEND, "No text to send")
            return
        if self._is_mine(target):
            self.participant.say(text).addErrback(self._not_stored)
        elif name_key(target) == name_key(wire.SERVICE_NICK):
            if not notice:
                self._service(text)
        elif notice:
            return
        elif wire.session_of(target) is not None:
            self._numeric(n.ERR_CANNOTSENDTOCHAN, wire.echo(target), "Cannot send to channel: join it first")
        else:
            self._numeric(
                n.ERR_NOSUCHNICK, wire.echo(target), "No such nick: GloziChat has no private messages"
            )

    def _not_stored(self, reason: Failure) -> None:
        """IRC has no acknowledgement: only a failure to store is reported."""
        if reason.check(ChatError):
            self._server_notice(reason.value.message)
        else:
            self.log.failure("Storing an IRC message failed", reason)

    def _service(self, text: str) -> None:
        name, _, args = text.strip().partition(" ")
        name = name.lower().removeprefix("/")
        try:
            if name == "help":
                self._service_help()
            elif name == "exit":
                self._exit_code(args.strip())
            else:
                for piece in self.participant.run_command(name, args).split("\n"):
                    self._service_notice(piece)
        except ChatError as error:
            self._service_notice(error.message)
            if error.disconnect:
                self._error_and_close(error.message)

    def _service_help(self) -> None:
        self._service_notice("GloziServ runs GloziChat commands: /msg GloziServ COMMAND [ARGUMENTS]")
        for command in commands.COMMANDS.values():
            mark = " (admin only)" if command.admin_only else ""
            self._service_notice(f"{command.usage.removeprefix('/')} - {command.help}{mark}")
        for text in _SERVICE_ONLY_HELP:
            self._service_notice(text)

    def _exit_code(self, code: str) -> None:
        if not is_valid_exit_code(code):
            raise ChatError(
                "invalid_exit_code", f"Usage: exit CODE, where CODE is the server's exit code ({EXIT_CODE_RULE})."
            )
        self.participant.submit_exit_code(code)

    def irc_TIME(self, params: list[str]) -> None:
        if self.channel is not None:
            text = self.participant.run_command("time", "")
        else:
            text = commands.server_time(self.factory.clock.seconds())
        self._numeric(n.RPL_TIME, self.factory.server, text)


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
