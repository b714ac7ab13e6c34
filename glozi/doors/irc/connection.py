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
    MemberAway,
    MemberJoined,
    MemberRenamed,
    ModeChanged,
    PrivateMessage,
    RealNameChanged,
    SessionInfo,
)
from glozi.domain.names import name_key
from glozi.domain.operators import Operators
from glozi.doors.irc import numerics as n
from glozi.doors.irc import tags, wire
from glozi.doors.irc.batches import LabeledResponse, batch_lines
from glozi.doors.irc.caps import LABELS, TAGGED, VARIANT, Cap
from glozi.doors.tracking import source_of
from glozi.doors.writebatch import BatchedWrites, WriteBatch
from glozi.limits.flood import FloodControl, Verdict

# Not wire.CACHE_KEY: a Left is not shared whole, only this notice of it is.
_CLOSED_NOTICE_KEY = "irc/closed"
# Not wire.CACHE_KEY either: each member reads a key change before its bytes are sent.
_MODE_KEY = "irc/mode"
_TOLD_ONCE = (MemberAway, RealNameChanged)
_BEFORE_REGISTRATION = frozenset({"CAP", "NICK", "USER", "PASS", "PING", "PONG", "QUIT"})
MAX_TAGGED_LINE_BYTES = 1 + tags.MAX_CLIENT_TAG_BYTES + 1 + wire.MAX_LINE_BYTES
"""Longest line a client may send with tags: ``@``, the tag data, a space and an IRC line."""


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
    caps = 0
    """The IRCv3 capabilities this client asked for (``Cap`` bits, glozi/doors/irc/caps.py)."""
    cap_version = 0
    """The version of its ``CAP LS`` (302 and up: multi-line replies, cap-notify)."""
    _variant = 0
    """``caps`` that change shared lines' bytes: 0 (most clients) keeps the untagged path."""
    _shared_key = wire.CACHE_KEY
    """Where a shared event's bytes for this client's variant are cached (``wire.variant_key``)."""
    line_tags: Mapping[str, str] = tags.NO_TAGS
    """The tags of the line being handled."""
    _batches = 0
    _responding: LabeledResponse | None = None
    _holding = False
    _last_told: tuple[str, int] = ("", 0)
    """The last away or real-name change told (name, change number): once a person, not once a session."""
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
        self.start_sending(self.factory.max_send_queue, self._too_slow)
        self.factory.opened(self)
        self.participant = self.factory.chat.connect(self, source_of(self.transport.getPeer()), registered=False)

    def connectionLost(self, reason: Failure | None = None) -> None:
        for call in (self._deadline, self._keepalive):
            if call is not None and call.active():
                call.cancel()
        self.participant.disconnected(self._quit_comment)
        self.factory.closed(self)

    def shared_bytes(self, event: Event) -> bytes | None:
        """``event``'s lines when another recipient of this client's variant
        encoded them already (glozi/fanout/delivery.py)."""
        # While a labeled command is answered, what this client is sent is gathered into the answer.
        if self._responding is not None:
            return None
        return event.encoded.get(self._shared_key)

    def deliver(self, event: Event) -> None:
        """Write ``event`` as IRC lines: shared events encoded once for every
        recipient of the same variant (the first one encodes; the others find
        the bytes cached), ``Left`` and private messages (which name this
        client) for this client."""
        if not self._variant:
            data = event.encoded.get(wire.CACHE_KEY)
            if data is not None:
                self.send(data)
                return
        else:
            data = event.encoded.get(self._shared_key)
            if data is not None:
                self.send(data)
                return
            if isinstance(event, _TOLD_ONCE) and not self._first_telling(event.name, event.change):
                return
        if isinstance(event, Left):
            self._left(event)
        elif isinstance(event, MemberRenamed):
            self._renamed(event)
        elif isinstance(event, Killed):
            # The domain closes the connection next.
            self._write(None, "ERROR", f"Closing Link: {self.nick}[{wire.USER_HOST}] ({wire.killed_text(event.by, event.reason)})")
        elif isinstance(event, PrivateMessage):
            self._private_received(event)
        elif isinstance(event, ModeChanged):
            self._mode_changed(event)
        elif isinstance(event, Invited):
            self._write(wire.user_prefix(event.by), "INVITE", self.nick or "*", wire.channel_of(event.session_name))
        else:
            channel = self.channels.get(getattr(event, "session_id", 0), "*")
            if not self._variant:
                self.send(wire.encode_event(event, channel, self.factory.server, self.factory.web()))
            else:
                variant = wire.variant_of(event, self._variant)
                real_name = self._real_name(event.name) if isinstance(event, MemberJoined) else ""
                now = self.factory.clock.seconds()
                self.send(
                    wire.encode_variant(event, channel, self.factory.server, variant, now, real_name, self.factory.web())
                )

    def _first_telling(self, name: str, change: int) -> bool:
        """Whether this away or real-name change is news here (one event comes per shared session)."""
        if self._last_told == (name, change):
            return False
        self._last_told = (name, change)
        return True

    def _real_name(self, nick: str) -> str:
        user = self.factory.chat.user_named(nick)
        return (user.real_name or nick) if user is not None else nick

    def _private_received(self, event: PrivateMessage) -> None:
        """A private message to this client, with the tags it asked for; a
        ``TAGMSG`` only to a client with message-tags."""
        me = self.nick or "*"
        if event.tags_only:
            data = wire.line(wire.user_prefix(event.sender), "TAGMSG", me) if self.caps & Cap.MESSAGE_TAGS else b""
        else:
            data = wire.said_lines(
                event.sender, me, wire.shown_text(event, self.factory.web()), notice=event.notice,
                action=event.action, ctcp=event.ctcp,
            )  # fmt: skip
        self.send(self.tagged(data, event))

    def tagged(self, data: bytes, event: Event) -> bytes:
        """``data`` for ``event`` with the tags this client asked for (server-time, message-tags)."""
        variant = self.caps & TAGGED
        return wire.tag_event(data, event, variant, self.factory.clock.seconds()) if variant else data

    def _mode_changed(self, event: ModeChanged) -> None:
        """A mode line, shared by every member; a new key is kept, to show members in MODE (324)."""
        if event.mode == "+k" and event.parameter is not None:
            self._keys = {**self._keys, event.session_id: event.parameter}
        elif event.mode == "-k":
            self._forget_key(event.session_id)
        variant = self._variant & TAGGED
        key = (_MODE_KEY, variant) if variant else _MODE_KEY
        data = event.encoded.get(key)
        if data is None:
            data = wire.mode_line(event, self.channels.get(event.session_id, "*"))
            data = event.encoded[key] = self.tagged(data, event)
        self.send(data)

    def set_caps(self, caps: int) -> None:
        """Take ``caps`` as this client's capabilities."""
        self.caps = caps
        self._variant = caps & VARIANT
        self._shared_key = wire.variant_key(caps & TAGGED) if self._variant else wire.CACHE_KEY

    def open_batch(self, kind: str, data: bytes, *params: str) -> bytes:
        """``data`` as a batch of type ``kind`` (``chathistory``) with a
        reference new on this connection, for a client with ``batch``;
        ``data`` itself for the others."""
        if not self.caps & Cap.BATCH:
            return data
        return batch_lines(self.factory.server, self._new_batch_ref(), kind, data, *params)

    def _new_batch_ref(self) -> str:
        self._batches += 1
        return f"g{self._batches}"

    def labeled(self) -> LabeledResponse | None:
        """The labeled response the line being handled asks for (a ``label``
        from a client with labeled-response and batch), or ``None``."""
        label = self.line_tags.get("label")
        if not label or self.caps & LABELS != LABELS or len(label.encode("utf-8")) > tags.MAX_LABEL_BYTES:
            return None
        return LabeledResponse(label, self.factory.server)

    def hold_response(self) -> LabeledResponse | None:
        """For a command that answers later (off the reactor): the labeled
        response now being gathered, which the command then ``finish_response``s
        itself; ``None`` when the line has no label. What is sent through the
        connection meanwhile goes out unlabeled."""
        response, self._holding = self._responding, True
        return response

    def finish_response(self, response: LabeledResponse) -> None:
        """Send a held labeled response (``hold_response``), complete."""
        self.send(response.finish(self._new_batch_ref()))

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
                limit = MAX_TAGGED_LINE_BYTES if buffer.startswith(b"@", start) else wire.MAX_LINE_BYTES
                if len(buffer) - start > limit:
                    self._buffer = b""
                    self._discarding = True
                    self._input_too_long()
                    return
                break
            raw = buffer[start:end].removesuffix(b"\r")
            start = end + 1
            if len(raw) > wire.MAX_LINE_BYTES - 2 and _too_long(raw):
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
                if parsed.tags:
                    self._tagged_command(parsed)
                else:
                    self.handleCommand(parsed.command, parsed.prefix, parsed.params)
        self._buffer = buffer[start:]

    def _tagged_command(self, parsed: wire.ParsedLine) -> None:
        """A line with tags: they are there for its handler (``line_tags``),
        and a ``label`` gathers its answer into one labeled response."""
        self.line_tags = parsed.tags
        response = self.labeled()
        try:
            if response is None:
                self.handleCommand(parsed.command, parsed.prefix, parsed.params)
                return
            self._responding, self._holding = response, False
            # What the handler sends this client is its answer: gathered, not written,
            # by an instance attribute over the class's send, so no other line pays.
            self.send = response.send  # type: ignore[method-assign]
            try:
                self.handleCommand(parsed.command, parsed.prefix, parsed.params)
            finally:
                del self.send
                self._responding = None
            if not self._holding:
                self.finish_response(response)
        finally:
            self.line_tags = tags.NO_TAGS

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

    def _status(self, admin: bool, voiced: bool) -> str:
        """A member's channel status in NAMES and WHO: ``@`` the admin, ``+``
        voiced, both with multi-prefix (else the highest)."""
        if self.caps & Cap.MULTI_PREFIX:
            return ("@" if admin else "") + ("+" if voiced else "")
        return "@" if admin else "+" if voiced else ""

    def _listed_name(self, nick: str) -> str:
        """A member in NAMES: ``nick``, or ``nick!user@host`` with userhost-in-names."""
        return wire.user_prefix(nick) if self.caps & Cap.USERHOST_IN_NAMES else nick

    def _is_mine(self, channel: str) -> bool:
        return self._my_session(channel) is not None


def _too_long(raw: bytes) -> bool:
    """Whether a received line passes the limits: 510 bytes without CR LF,
    and with tags, at most ``tags.MAX_CLIENT_TAG_BYTES`` of tag data before them."""
    if not raw.startswith(b"@"):
        return True
    tag_data, rest = tags.split_tags(raw)
    return len(tag_data) > tags.MAX_CLIENT_TAG_BYTES or len(rest) > wire.MAX_LINE_BYTES - 2
