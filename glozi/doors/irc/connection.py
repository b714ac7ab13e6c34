"""One IRC client connection: reading and writing lines, timers, and the
domain's ``Connection`` side; the commands are in registration.py,
channels.py and messages.py, assembled in protocol.py."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.words.protocols import irc

from glozi.domain.chat import ChatServer, Participant
from glozi.domain.errors import ChatError
from glozi.domain.events import (
    Event,
    Invited,
    Killed,
    LeaveReason,
    Left,
    MemberRenamed,
    ModeChanged,
    PrivateMessage,
    SessionInfo,
)
from glozi.domain.names import name_key
from glozi.domain.operators import Operators
from glozi.doors.irc import numerics as n
from glozi.doors.irc import wire
from glozi.doors.tracking import source_of
from glozi.doors.writebatch import BatchedWrites, WriteBatch
from glozi.limits.flood import FloodControl, Verdict
from glozi.limits.sendqueue import SendQueueGuard

# Not wire.CACHE_KEY: a Left is not shared whole, only this notice of it is.
_CLOSED_NOTICE_KEY = "irc/closed"
# Not wire.CACHE_KEY either: each member reads a key change before its bytes are sent.
_MODE_KEY = "irc/mode"
_BEFORE_REGISTRATION = frozenset({"CAP", "NICK", "USER", "PASS", "PING", "PONG", "QUIT"})


@dataclass(frozen=True)
class IRCCommand:
    """One row of the door's command table: handler name and minimum parameters."""

    handler: str
    min_params: int = 0


class IRCDoor(Protocol):
    """What a connection reads from its factory (``glozi.doors.irc.protocol.IRCFactory``)."""

    chat: ChatServer
    operators: Operators
    server: str
    display_name: str
    description: str
    clock: IReactorTime
    started_at: float
    registration_timeout: float
    ping_interval: float
    ping_timeout: float
    flood_burst: float
    flood_rate: float
    max_send_queue: int
    writes: WriteBatch

    def opened(self, protocol: Any) -> None:
        """Count ``protocol`` as open."""

    def closed(self, protocol: Any) -> None:
        """Count ``protocol`` as closed."""



class IRCConnection(BatchedWrites, irc.IRC):
    """What every IRC command handler stands on: the connection's state, its
    lines in and out, its timers, and which sessions (channels) it is in.

    Lines are parsed by ``wire.parse_line`` (Twisted's ``parsemsg``); each
    command goes through ``COMMANDS``, which checks registration and the number
    of parameters.
    """

    log = Logger()
    speaks_ctcp = True
    """CTCP requests to this user are passed on for its IRC client to answer."""
    factory: IRCDoor
    participant: Participant
    COMMANDS: ClassVar[dict[str, IRCCommand]]
    # One per connection (docs/performance.md, I1): state that most connections
    # never change starts as a class default, not as an entry in each instance.
    _last_rename = 0
    _joining: "Deferred[Any] | None" = None
    _waiting_joins: "list[tuple[str, str | None]] | tuple[()]" = ()
    _buffer = b""
    _discarding = False
    _user_given = False
    _negotiating_caps = False
    _pass_given: str | None = None
    """The last PASS before registration: the server password, if the server has one."""
    _password_state = "unchecked"
    """``unchecked``, ``checking`` or ``accepted``: the server password's check (``--password``)."""
    _keepalive: IDelayedCall | None = None
    _quit_comment: str | None = None
    """The client's QUIT message, told to everyone sharing a session when the connection goes."""
    nick: str | None = None
    registered = False
    _keys: "Mapping[int, str]" = MappingProxyType({})
    """The key of each locked session this client is in; most are in none, and share this empty one."""

    def connectionMade(self) -> None:
        # IRC.connectionMade would look the host name up in DNS; the name is configured.
        self.hostname = self.factory.server
        super().connectionMade()
        self.send_without_delay()
        self.channels: dict[int, str] = {}
        """The channel of each session this client is in, by session id, in the order joined."""
        self._deadline: IDelayedCall | None = self.factory.clock.callLater(
            self.factory.registration_timeout, self._registration_expired
        )
        self._flood = FloodControl(self.factory.clock, burst=self.factory.flood_burst, rate=self.factory.flood_rate)
        self._send_queue = SendQueueGuard(self.transport, self.factory.max_send_queue, self._too_slow)
        self.factory.opened(self)
        self.participant = self.factory.chat.connect(self, source_of(self.transport.getPeer()), registered=False)

    def connectionLost(self, reason: Failure | None = None) -> None:
        for call in (self._deadline, self._keepalive):
            if call is not None and call.active():
                call.cancel()
        self.participant.disconnected(self._quit_comment)
        self.factory.closed(self)

    def deliver(self, event: Event) -> None:
        """Write ``event`` as IRC lines: shared events encoded once for every
        recipient (the first one encodes; the others find the bytes cached),
        ``Left`` and private messages (which name this client) for this client."""
        data = event.encoded.get(wire.CACHE_KEY)
        if data is not None:
            self.send(data)
        elif isinstance(event, Left):
            self._left(event)
        elif isinstance(event, MemberRenamed):
            self._renamed(event)
        elif isinstance(event, Killed):
            # The domain closes the connection next.
            self._write(None, "ERROR", f"Closing Link: {self.nick}[{wire.USER_HOST}] ({wire.killed_text(event.by, event.reason)})")
        elif isinstance(event, PrivateMessage):
            me = self.nick or "*"
            self.send(
                wire.said_lines(
                    event.sender, me, event.text, notice=event.notice, action=event.action, ctcp=event.ctcp
                )
            )
        elif isinstance(event, ModeChanged):
            self._mode_changed(event)
        elif isinstance(event, Invited):
            self._write(wire.user_prefix(event.by), "INVITE", self.nick or "*", wire.channel_of(event.session_name))
        else:
            channel = self.channels.get(getattr(event, "session_id", 0), "*")
            self.send(wire.encode_event(event, channel, self.factory.server))

    def _mode_changed(self, event: ModeChanged) -> None:
        """A mode line, shared by every member; a new key is kept, to show members in MODE (324)."""
        if event.mode == "+k" and event.parameter is not None:
            self._keys = {**self._keys, event.session_id: event.parameter}
        elif event.mode == "-k":
            self._forget_key(event.session_id)
        data = event.encoded.get(_MODE_KEY)
        if data is None:
            data = event.encoded[_MODE_KEY] = wire.mode_line(event, self.channels.get(event.session_id, "*"))
        self.send(data)

    def _renamed(self, event: MemberRenamed) -> None:
        """IRC shows a rename once per person, however many channels it is seen in."""
        if event.change != self._last_rename:
            self._last_rename = event.change
            self._write(wire.user_prefix(event.old), "NICK", event.new)

    def _left(self, event: Left) -> None:
        channel = wire.channel_of(event.session_name)
        me = self.nick or "*"
        if event.reason == LeaveReason.KICKED and event.by:
            self._write(wire.user_prefix(event.by), "KICK", channel, me, event.comment or event.by)
        elif event.reason == LeaveReason.TIMEOUT:
            self._write(self.factory.server, "KICK", channel, me, "Removed for inactivity")
        elif event.reason == LeaveReason.CLOSED:
            notice = event.encoded.get(_CLOSED_NOTICE_KEY)
            if notice is None:
                notice = event.encoded[_CLOSED_NOTICE_KEY] = wire.text_lines(
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
            self.send(wire.line_with_comment(wire.user_prefix(me), "PART", channel, comment=event.comment))
        self.channels.pop(event.session_id, None)
        self._forget_key(event.session_id)

    def _forget_key(self, session_id: int) -> None:
        if session_id in self._keys:
            self._keys = {sid: key for sid, key in self._keys.items() if sid != session_id}

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
                if not wire.is_utf8(raw):
                    self._write(
                        self.factory.server, "WARN", wire.echo(parsed.command), "INVALID_UTF8", wire.INVALID_UTF8_WARNING
                    )
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

    def _session_named(self, channel: str) -> SessionInfo | None:
        name = wire.session_of(channel)
        # A secret session is hidden from lists, not locked: it is found by its name.
        session = None if name is None else self.factory.chat.session_named(name)
        return None if session is None else session.info()

    def _my_session(self, channel: str) -> int | None:
        """The id of the session ``channel`` names when this client is in it."""
        key = name_key(channel)
        for session_id, mine in self.channels.items():
            if name_key(mine) == key:
                return session_id
        return None

    def _is_mine(self, channel: str) -> bool:
        return self._my_session(channel) is not None
