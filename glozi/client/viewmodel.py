"""The client's state and logic, with no Tk in it.

``ClientViewModel`` owns the connection (through a ``ClientProtocol``), the
session list, the open dialog, the chat transcript and the member list. The
Tk view calls its action methods (``reload``, ``submit_join``, ``send``...)
and re-renders when told through the ``ClientView`` interface. Nothing here
blocks: every network step is a Deferred on the reactor.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum, auto
from typing import Any, ClassVar, Protocol

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from glozi.client.palette import user_colour
from glozi.client.protocol import ClientListener, ClientProtocol, Frame, FrameTooLong, ServerError
from glozi.client.trust import TrustResult
from glozi.domain.names import (
    NAME_MAX_LENGTH,
    NAME_RULE,
    PASSWORD_LENGTH,
    PASSWORD_RULE,
    is_valid_name,
    is_valid_password,
)
from glozi.doors.native.wire import MAX_TEXT_CHARS, is_printable

MAX_CHAT_LINES = 2000
"""Transcript lines kept; older ones are dropped so a long chat stays light."""
DEFAULT_PORT = 7557
RECONNECT_FIRST_DELAY = 0.5
"""Seconds before the first automatic reconnection attempt."""
RECONNECT_FACTOR = 1.6
RECONNECT_MAX_DELAY = 15.0
RECONNECT_MAX_TRIES = 20
"""Automatic attempts (about 4 minutes in all) before the client stops and offers *Reconnect*."""
HISTORY_DIVIDER = "Earlier messages above"
WAITING_NOTE = "Waiting for the connection; it is sent once reconnected."
LOST_NOTE = "Not confirmed: the connection was lost. It is sent again once reconnected, unless the server has it."
DEFAULT_EXIT_CODE_DIGITS = 5
"""The exit code's length when the welcome does not say (``exit_code_digits``)."""
MAX_EXIT_CODE_DIGITS = 64
CLOSE_FOLLOWS_SECONDS = 5.0
"""A server that closes a connection with a reason sends the reason last, right
before the close; an error older than this, or followed by anything, is not the reason."""


class Screen(Enum):
    """What the main window shows."""

    CONNECTING = auto()
    NO_SERVER = auto()
    PICK_SERVER = auto()
    LOBBY = auto()
    CHAT = auto()
    DISCONNECTED = auto()


class Aspect(Enum):
    """A part of the state the view renders on its own."""

    SCREEN = auto()
    SESSIONS = auto()
    NOTICE = auto()
    DIALOG = auto()
    MEMBERS = auto()
    EXIT_CODE = auto()
    CONNECTION = auto()
    SENDING = auto()


class FieldState(Enum):
    """How an input field looks while the user types."""

    EMPTY = auto()
    VALID = auto()
    INVALID = auto()


class LineKind(Enum):
    """How a transcript line is styled."""

    MESSAGE = auto()
    SYSTEM = auto()
    WARNING = auto()
    REPLY = auto()
    ERROR = auto()
    HISTORY = auto()
    DIVIDER = auto()


class Delivery(Enum):
    """Where one of your messages is."""

    PENDING = auto()
    """Queued or on its way; the server has not acknowledged it yet."""
    SENT = auto()
    """Acknowledged: the server stored it (or, after a reconnection, its history has it)."""
    FAILED = auto()
    """Refused, or cut off by a lost connection; ``note`` says why."""


class Tone(Enum):
    """How a notice is styled."""

    INFO = auto()
    ERROR = auto()


@dataclass(frozen=True)
class ServerAddress:
    """A server to connect to; ``name`` is what the server calls itself."""

    host: str
    port: int
    name: str = ""
    tls: bool = False

    @property
    def label(self) -> str:
        where = f"{self.host}:{self.port}"
        return f"{self.name} ({where})" if self.name else where


@dataclass(frozen=True)
class SessionRow:
    """One row of the session list."""

    id: int
    name: str
    members: int
    created: float
    creator: str
    locked: bool
    admin: str | None


@dataclass(frozen=True)
class MemberRow:
    """One member of the session you are in."""

    name: str
    joined: float
    admin: bool
    you: bool

    @property
    def colour(self) -> str:
        return user_colour(self.name)


@dataclass(frozen=True)
class ChatLine:
    """One transcript line: a message (``sender`` set) or a notice."""

    kind: LineKind
    text: str
    ts: float
    sender: str | None = None
    own: bool = False
    sender_admin: bool = False
    serial: int = 0
    """A number of its own for each of your messages (0 for any other line), to update its delivery."""
    delivery: Delivery | None = None
    note: str = ""
    """Why a message failed, or what it waits for."""
    resendable: bool = False
    """A failed message the user may send again (``ClientViewModel.resend``)."""

    @property
    def colour(self) -> str | None:
        return user_colour(self.sender) if self.sender else None


@dataclass
class Dialog:
    """The join or create dialog, while it is open."""

    kind: str
    session: SessionRow | None = None
    error: str = ""
    busy: bool = False

    @property
    def needs_password(self) -> bool:
        return self.kind == "create" or (self.session is not None and self.session.locked)


@dataclass
class Notice:
    """A one-line message shown above the session list."""

    text: str = ""
    tone: Tone = Tone.INFO


def trust_notice(trust: TrustResult | None) -> Notice:
    """What to tell the user about the connection's TLS certificate, if any."""
    if trust is None:
        return Notice()
    if trust.first_use:
        return Notice(
            f"Encrypted (TLS). First visit: this server's certificate fingerprint is "
            f"SHA-256 {trust.fingerprint}; it is remembered and checked from now on.",
            Tone.INFO,
        )
    return Notice(f"Encrypted (TLS), certificate SHA-256 {trust.fingerprint[:23]}...", Tone.INFO)


@dataclass
class ChatState:
    """The session you are in.

    ``password`` is kept (in memory only) to rejoin after a reconnection;
    ``seen`` holds ``(sender, text, ts)`` of every message shown, so history
    received again after a reconnection is not shown twice; ``history_left``
    counts the history frames still expected after a ``joined``.
    """

    session: SessionRow
    you: str
    members: list[MemberRow]
    idle_timeout: float | None
    password: str | None = None
    lines: list[ChatLine] = field(default_factory=list)
    seen: set[tuple[str, str, float]] = field(default_factory=set)
    history_left: int = 0
    after_history: list[ChatLine] = field(default_factory=list)


@dataclass
class Outgoing:
    """A message waiting for a connection, shown as transcript line ``serial``.
    ``unconfirmed``: it was sent, but the connection dropped before the server
    acknowledged it (it is sent again only if the history shows the server does
    not have it)."""

    text: str
    serial: int
    unconfirmed: bool = False


class ClientView(Protocol):
    """What the view-model asks of its view."""

    def render(self, aspect: Aspect) -> None:
        """Redraw ``aspect`` from the view-model's state."""

    def add_chat_line(self, line: ChatLine) -> None:
        """Append ``line`` to the transcript on screen."""

    def update_chat_line(self, line: ChatLine) -> None:
        """Redraw the shown message with ``line.serial`` (its delivery changed)."""


Connector = Callable[["ServerAddress", ClientListener], "Deferred[ClientProtocol]"]
Finder = Callable[[], "Deferred[list[ServerAddress]]"]


def check_name(text: str) -> FieldState:
    """The live state of a username or session-name field."""
    if not text:
        return FieldState.EMPTY
    return FieldState.VALID if is_valid_name(text) else FieldState.INVALID


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


def duration_text(seconds: float) -> str:
    """A duration for people: ``20 s``, ``1 min 30 s``, ``4 min``, ``1 h``, ``2 h 5 min``."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(round(whole / 60), 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


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


def clock_text(ts: float) -> str:
    """A server timestamp as local ``HH:MM``."""
    return time.strftime("%H:%M", time.localtime(ts))


def created_text(ts: float, now: float) -> str:
    """A creation time: ``HH:MM`` today, else the day and month too."""
    then = time.localtime(ts)
    if then[:3] == time.localtime(now)[:3]:
        return time.strftime("%H:%M", then)
    return time.strftime("%d %b %H:%M", then)


def _session_row(fields: dict[str, Any]) -> SessionRow:
    return SessionRow(
        id=int(fields["id"]),
        name=str(fields["name"]),
        members=int(fields["members"]),
        created=float(fields["created"]),
        creator=str(fields["creator"]),
        locked=bool(fields["locked"]),
        admin=fields.get("admin"),
    )


_MEMBER_LEFT_TEXT = {
    "quit": "{name} left the session.",
    "kicked": "{name} was kicked by {by}.",
    "timeout": "{name} was removed after being inactive.",
    "disconnected": "{name} disconnected.",
}

_SENT_AWAY_CODES = frozenset({"idle", "line_too_long", "too_many_connections"})
"""Errors after which the server closes the connection on purpose: no automatic reconnection."""

_JOIN_ERRORS = {
    "no_such_session": "This session is gone. The list was reloaded.",
    "password_required": "This session needs its password.",
}

ABOUT_TEXT = (
    "GloziChat is a chat for your local network.\n\n"
    "Double-click a session (or select it and press Enter) to join it. Sessions with a lock "
    "need their 5-digit password. Create starts your own session: you are its admin and may "
    "/kick members and /close it.\n\n"
    f"Names are {NAME_RULE}. Passwords are {PASSWORD_RULE}.\n\n"
    "In a session, type a message and press Enter. Commands: /help, /quote, /time, "
    "/echo TEXT, /kick NAME, /quit, /close. Members who stay silent are removed after "
    "a while; the admin never is.\n\n"
    "Whoever runs the server can shut it down by typing its exit code below the list."
)


class ClientViewModel:
    """All of the client's state; the Tk view renders it and forwards actions.

    ``connector`` opens a connection (``glozi.client.protocol.connect`` bound to
    a reactor) and ``finder`` looks for servers on the network. ``address``,
    when given, is connected to directly instead of discovering.
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        connector: Connector,
        finder: Finder,
        address: ServerAddress | None = None,
    ) -> None:
        self.clock = clock
        self._connector = connector
        self._finder = finder
        self.fixed_address = address
        self.view: ClientView | None = None
        self.screen = Screen.CONNECTING
        self.status = ""
        self.servers: list[ServerAddress] = []
        self.address: ServerAddress | None = address
        self.server_name = ""
        self.max_text = MAX_TEXT_CHARS
        self.exit_code_digits = DEFAULT_EXIT_CODE_DIGITS
        self.sending = ""
        """The progress hint while lines wait for the flood budget, e.g. "Sending 37 of 200..."."""
        self._batch_total = 0
        self._unanswered = 0
        self._next_serial = 1
        self._closing_error: tuple[int, float, str] | None = None
        self._exit_request: Deferred[Frame] | None = None
        self.protocol: ClientProtocol | None = None
        self.sessions: list[SessionRow] = []
        self.notice = Notice()
        self.dialog: Dialog | None = None
        self.exit_feedback = Notice()
        self.chat: ChatState | None = None
        self.reconnecting = False
        """The connection was lost and the client is getting it back by itself."""
        self.outbox: list[Outgoing] = []
        self._closing_reason: str | None = None
        self._attempt = 0
        self._pending: Deferred[Any] | None = None
        self._reconnect_call: Any = None
        self._reconnect_tries = 0
        self._lost_reason = ""
        self._sent_away = False
        """The server closed us on purpose (idle, flood): coming back by ourselves would be wrong."""

    # Rendering

    def _render(self, *aspects: Aspect) -> None:
        if self.view is not None:
            for aspect in aspects:
                self.view.render(aspect)

    def _set_screen(self, screen: Screen, status: str = "") -> None:
        self.screen = screen
        self.status = status
        self._render(Aspect.SCREEN)

    # Finding and connecting

    def start(self) -> None:
        """Connect to the given address, or look for servers first."""
        if self.fixed_address is not None:
            self.connect_to(self.fixed_address)
        else:
            self.discover()

    def discover(self) -> "Deferred[None]":
        """Look for servers; connect when there is one, let the user pick among several."""
        self._attempt += 1
        attempt = self._attempt
        self._set_screen(Screen.CONNECTING, "Looking for GloziChat servers on your network...")

        def found(servers: list[ServerAddress]) -> None:
            if attempt != self._attempt:
                return
            self.servers = list(servers)
            if not servers:
                self._set_screen(Screen.NO_SERVER, "No server found on your network.")
            elif len(servers) == 1:
                self.connect_to(servers[0])
            else:
                self._set_screen(Screen.PICK_SERVER, f"{len(servers)} servers found. Pick one.")

        def failed(reason: Failure) -> None:
            if attempt == self._attempt and not reason.check(CancelledError):
                self.log.failure("Discovery failed", reason)
                self._set_screen(Screen.NO_SERVER, f"Looking for servers failed: {reason.getErrorMessage()}")

        self._cancel_pending()
        self._pending = self._finder()
        return self._pending.addCallbacks(found, failed)

    def retry(self) -> None:
        """Try again after nothing was found or the connection failed."""
        self.start()

    def connect_to(self, address: ServerAddress) -> "Deferred[None]":
        """Connect to ``address`` and show its session list."""
        self._attempt += 1
        attempt = self._attempt
        self.address = address
        self._closing_reason = None
        self._set_screen(Screen.CONNECTING, f"Connecting to {address.label}...")

        def connected(protocol: ClientProtocol) -> None:
            if attempt != self._attempt:
                protocol.disconnect()
                return
            self._welcomed(protocol, address)
            self.notice = trust_notice(protocol.trust)
            self._show_lobby()

        def failed(reason: Failure) -> None:
            if attempt == self._attempt:
                self._set_screen(
                    Screen.NO_SERVER, f"Could not connect to {address.label}: {reason.getErrorMessage()}"
                )

        self._cancel_pending()
        self._pending = self._connector(address, self)
        return self._pending.addCallbacks(connected, failed)

    def _welcomed(self, protocol: ClientProtocol, address: ServerAddress) -> None:
        self.protocol = protocol
        self._closing_reason = None
        self._closing_error = None
        self._sent_away = False
        welcome = protocol.welcome or {}
        self.server_name = str(welcome.get("name") or address.name or address.host)
        max_text = welcome.get("max_text")
        if isinstance(max_text, int) and 0 < max_text <= MAX_TEXT_CHARS:
            self.max_text = max_text
        digits = welcome.get("exit_code_digits")
        valid_digits = isinstance(digits, int) and 0 < digits <= MAX_EXIT_CODE_DIGITS
        self.exit_code_digits = digits if valid_digits else DEFAULT_EXIT_CODE_DIGITS  # type: ignore[assignment]

    def _show_lobby(self) -> None:
        self.sessions = []
        self.exit_feedback = Notice()
        self._set_screen(Screen.LOBBY)
        self._render(Aspect.NOTICE, Aspect.SESSIONS, Aspect.EXIT_CODE)
        self.reload()

    def connect_typed(self, host: str, port: str) -> bool:
        """Connect to an address the user typed; ``False`` when it is not one."""
        number = parse_port(port)
        host = host.strip()
        if number is None or not host:
            self.status = "Type a host and a port between 1 and 65535."
            self._render(Aspect.SCREEN)
            return False
        # A typed address keeps the TLS choice the client was started with.
        self.connect_to(ServerAddress(host, number, tls=self.address.tls if self.address else False))
        return True

    def reconnect(self) -> None:
        """After the server went away: connect to it again, else look for
        servers. This is the user's *Reconnect*: it stops the automatic
        attempts and starts over at the session list."""
        self._stop_reconnecting()
        if self.chat is not None:
            self.chat = None
            self.notice = Notice(self._drop_outbox().strip())
            self._render(Aspect.MEMBERS)
        if self.address is None:
            self.discover()
            return
        connecting = self.connect_to(self.address)
        attempt = self._attempt

        def rediscover(_: None) -> None:
            if attempt == self._attempt and self.screen is Screen.NO_SERVER and self.fixed_address is None:
                self.discover()

        connecting.addCallback(rediscover)

    def _cancel_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            # A fired Deferred ignores this; one waiting on an inner step forwards it.
            pending.cancel()

    def close(self) -> None:
        """Disconnect on purpose, as when the window closes (and stop any attempt)."""
        self._attempt += 1
        self._stop_reconnecting()
        self._cancel_pending()
        protocol, self.protocol = self.protocol, None
        if protocol is not None:
            protocol.disconnect()

    # ClientListener

    def frame_received(self, protocol: ClientProtocol, frame: Frame) -> None:
        """Dispatch an event frame from the server to its handler."""
        if protocol is not self.protocol:
            return
        if frame["type"] != "history" and self.chat is not None and self.chat.history_left:
            # Fewer history frames than announced: live traffic starts anyway.
            self._finish_history()
        handler = self._EVENTS.get(frame["type"])
        if handler is None:
            self.log.debug("Ignoring a {type} frame", type=frame["type"])
            return
        try:
            handler(self, frame)
        except (KeyError, TypeError, ValueError):
            self.log.failure("A malformed {type} frame", type=frame["type"])

    def connection_lost(self, protocol: ClientProtocol, clean: bool) -> None:
        """The server went away: say why and get the connection back by
        ourselves (with growing delays); in a session, rejoin it."""
        if protocol is not self.protocol:
            return
        self.protocol = None
        self.dialog = None
        self.sessions = []
        reason = (
            self._closing_reason
            or self._reason_for_closing(protocol)
            or f"The connection to {self.server_name} was lost."
        )
        self._update_sending()
        self._render(Aspect.DIALOG, Aspect.SESSIONS)
        if self.address is None or clean or self._sent_away:
            self._give_up(reason)
            return
        self.reconnecting = True
        self._reconnect_tries = 0
        self._lost_reason = reason
        if self.chat is not None:
            self.chat.history_left = 0
            self._system(f"{reason} Reconnecting...", LineKind.WARNING)
            self._render(Aspect.CONNECTION)
        self._schedule_reconnect()

    def _reason_for_closing(self, protocol: ClientProtocol) -> str | None:
        """The error the server sent before closing us, if it was the last thing it sent, just now."""
        if self._closing_error is None:
            return None
        lines, at, message = self._closing_error
        if lines != protocol.lines_received or self.clock.seconds() - at > CLOSE_FOLLOWS_SECONDS:
            return None
        return message

    def _schedule_reconnect(self) -> None:
        if self._reconnect_tries >= RECONNECT_MAX_TRIES:
            self._give_up(f"{self._lost_reason} Reconnecting failed {RECONNECT_MAX_TRIES} times.")
            return
        delay = min(RECONNECT_MAX_DELAY, RECONNECT_FIRST_DELAY * RECONNECT_FACTOR**self._reconnect_tries)
        self._reconnect_tries += 1
        self._reconnect_call = self.clock.callLater(delay, self._try_reconnect)
        if self.chat is None:
            self._set_screen(
                Screen.DISCONNECTED, f"{self._lost_reason} Reconnecting in {duration_text(math.ceil(delay))}..."
            )

    def _stop_reconnecting(self) -> None:
        self.reconnecting = False
        call, self._reconnect_call = self._reconnect_call, None
        if call is not None and call.active():
            call.cancel()

    def _give_up(self, reason: str) -> None:
        """No more automatic attempts: the disconnected screen with *Reconnect*."""
        self._stop_reconnecting()
        unsent = self._drop_outbox()
        self.chat = None
        self._set_screen(Screen.DISCONNECTED, reason + unsent)
        self._render(Aspect.MEMBERS, Aspect.CONNECTION)

    def _drop_outbox(self) -> str:
        """Forget the waiting messages; the text that says which were not sent."""
        outbox, self.outbox = self.outbox, []
        if not outbox:
            return ""
        texts = ", ".join(f"\u201c{item.text}\u201d" for item in outbox)
        return f" Not sent: {texts}."

    def _try_reconnect(self) -> None:
        self._reconnect_call = None
        address = self.address
        assert address is not None
        self._attempt += 1
        attempt = self._attempt

        def connected(protocol: ClientProtocol) -> None:
            if attempt != self._attempt:
                protocol.disconnect()
                return
            self._welcomed(protocol, address)
            if self.chat is not None:
                self._rejoin(protocol, self.chat)
            else:
                self._stop_reconnecting()
                self.notice = Notice("Reconnected.")
                self._show_lobby()

        def failed(reason: Failure) -> None:
            if attempt == self._attempt and not reason.check(CancelledError):
                self._schedule_reconnect()

        self._cancel_pending()
        self._pending = self._connector(address, self)
        self._pending.addCallbacks(connected, failed)

    def _rejoin(self, protocol: ClientProtocol, chat: ChatState) -> None:
        """Join the session we were in again, with the same name and password."""
        fields: dict[str, Any] = {"session": chat.session.id, "username": chat.you}
        if chat.password:
            fields["password"] = chat.password

        def rejoined(frame: Frame) -> None:
            if protocol is not self.protocol or self.chat is not chat:
                return
            self._stop_reconnecting()
            self._update_chat(frame)
            self._render(Aspect.MEMBERS, Aspect.CONNECTION)
            chat.after_history = [ChatLine(LineKind.SYSTEM, "Reconnected.", self.clock.seconds())]
            chat.history_left = int(frame.get("history") or 0)
            if not chat.history_left:
                self._finish_history()

        def refused(reason: Failure) -> None:
            if protocol is not self.protocol or self.chat is not chat:
                return
            if not reason.check(ServerError):
                return  # the connection went again; connection_lost carries on
            self._stop_reconnecting()
            unsent = self._drop_outbox()
            self.chat = None
            self.notice = Notice(
                f"Reconnected, but could not rejoin {chat.session.name}: {reason.value.message}{unsent}", Tone.ERROR
            )
            self._render(Aspect.MEMBERS)
            self._show_lobby()

        protocol.request("join", **fields).addCallbacks(rejoined, refused)

    def _update_chat(self, frame: Frame) -> None:
        """A ``joined`` frame after a reconnection: the session's state now, the transcript kept."""
        assert self.chat is not None
        you = str(frame["you"])
        self.chat.session = _session_row(frame["session"])
        self.chat.members = [
            MemberRow(str(m["name"]), float(m["joined"]), bool(m["admin"]), str(m["name"]) == you)
            for m in frame["members"]
        ]
        self.chat.idle_timeout = frame.get("idle_timeout")

    def _finish_history(self) -> None:
        """The history is complete: what was waiting for it is shown, and the outbox goes out."""
        chat = self.chat
        if chat is None:
            return
        chat.history_left = 0
        waiting, chat.after_history = chat.after_history, []
        for line in waiting:
            self._add_line(line)
        self._flush_outbox()

    def _flush_outbox(self) -> None:
        chat = self.chat
        if chat is None or self.protocol is None or self.reconnecting:
            return
        outbox, self.outbox = self.outbox, []
        delivered = {(sender, text) for sender, text, _ in chat.seen if sender == chat.you}
        for item in outbox:
            if item.unconfirmed and (chat.you, item.text) in delivered:
                self._set_delivery(chat, item.serial, Delivery.SENT)
                continue
            self._set_delivery(chat, item.serial, Delivery.PENDING)
            self._say(chat, self.protocol, item.text, item.serial)

    # Session list

    def reload(self) -> None:
        """Ask the server for the session list."""
        protocol = self.protocol
        if protocol is None:
            return

        def listed(frame: Frame) -> None:
            if protocol is self.protocol:
                self.sessions = [_session_row(s) for s in frame["sessions"]]
                self._render(Aspect.SESSIONS)
                if self.dialog is not None and self.dialog.session is not None:
                    self._refresh_dialog_session(self.dialog.session.id)

        protocol.request("list").addCallbacks(listed, self._request_failed)

    def _refresh_dialog_session(self, session_id: int) -> None:
        assert self.dialog is not None
        row = self.session_by_id(session_id)
        if row is not None:
            self.dialog.session = row
            self._render(Aspect.DIALOG)

    def session_by_id(self, session_id: int) -> SessionRow | None:
        """The listed session with ``session_id``, if it is listed."""
        return next((row for row in self.sessions if row.id == session_id), None)

    def check_exit_code(self, text: str) -> FieldState:
        """The live state of the exit code field, for this server's code length."""
        return check_exit_code(text, self.exit_code_digits)

    def exit_code_fits(self, text: str) -> bool:
        """Whether the exit code field may hold ``text``: digits, at most this server's length."""
        return len(text) <= self.exit_code_digits and text.isascii() and (text.isdigit() or text == "")

    def exit_code_edited(self) -> None:
        """The user changed the exit code field: a complaint about the old one no longer holds."""
        if self.exit_feedback.text and not self._checking_exit_code:
            self.exit_feedback = Notice()
            self._render(Aspect.EXIT_CODE)

    @property
    def _checking_exit_code(self) -> bool:
        return self._exit_request is not None and not self._exit_request.called

    def submit_exit_code(self, code: str) -> bool:
        """Send the server exit code; ``False`` (and nothing sent) when it is malformed.

        The feedback lasts as long as its cause: "Checking..." until the answer
        (or the connection's end), a complaint until the field changes or you join a session.
        """
        protocol = self.protocol
        if protocol is None or self.screen is not Screen.LOBBY:
            return False
        if not is_exit_code(code, self.exit_code_digits):
            self.exit_feedback = Notice(f"The exit code is {self.exit_code_digits} digits.", Tone.ERROR)
            self._render(Aspect.EXIT_CODE)
            return False
        self.exit_feedback = Notice("Checking the exit code...")
        self._render(Aspect.EXIT_CODE)

        def answered(reason: Failure) -> None:
            if self._exit_request is not request:
                return
            message = reason.value.message if reason.check(ServerError) else ""
            self.exit_feedback = Notice(message, Tone.ERROR)
            self._render(Aspect.EXIT_CODE)

        request = self._exit_request = protocol.request("exit", code=code)
        request.addErrback(answered)
        return True

    # Dialogs

    def open_join(self, session_id: int) -> None:
        """Open the join dialog for a listed session."""
        row = self.session_by_id(session_id)
        if row is None or self.protocol is None or self.screen is not Screen.LOBBY:
            return
        self.dialog = Dialog("join", session=row)
        self._render(Aspect.DIALOG)

    def open_create(self) -> None:
        """Open the create dialog."""
        if self.protocol is None or self.screen is not Screen.LOBBY:
            return
        self.dialog = Dialog("create")
        self._render(Aspect.DIALOG)

    def close_dialog(self) -> None:
        """Close the open dialog, if any."""
        if self.dialog is not None:
            self.dialog = None
            self._render(Aspect.DIALOG)

    def can_join(self, username: str, password: str) -> bool:
        """Whether the join dialog's fields are complete and valid."""
        dialog = self.dialog
        if dialog is None or dialog.kind != "join" or dialog.busy:
            return False
        if not is_valid_name(username):
            return False
        return is_valid_password(password) if dialog.needs_password else True

    def can_create(self, name: str, username: str, password: str) -> bool:
        """Whether the create dialog's fields are complete and valid."""
        dialog = self.dialog
        if dialog is None or dialog.kind != "create" or dialog.busy:
            return False
        return (
            is_valid_name(name)
            and is_valid_name(username)
            and check_password(password) is not FieldState.INVALID
        )

    def submit_join(self, username: str, password: str = "") -> bool:
        """Join the dialog's session; the dialog shows the server's refusal."""
        dialog = self.dialog
        if not self.can_join(username, password) or self.protocol is None:
            return False
        assert dialog is not None and dialog.session is not None
        fields: dict[str, Any] = {"session": dialog.session.id, "username": username}
        if dialog.needs_password:
            fields["password"] = password
        self._submit(dialog, self.protocol.request("join", **fields), fields.get("password"))
        return True

    def submit_create(self, name: str, username: str, password: str = "") -> bool:
        """Create a session; the dialog shows the server's refusal."""
        dialog = self.dialog
        if not self.can_create(name, username, password) or self.protocol is None:
            return False
        assert dialog is not None
        fields: dict[str, Any] = {"name": name, "username": username}
        if password:
            fields["password"] = password
        self._submit(dialog, self.protocol.request("create", **fields), password or None)
        return True

    def _submit(self, dialog: Dialog, answer: "Deferred[Frame]", password: str | None) -> None:
        dialog.busy = True
        dialog.error = ""
        self._render(Aspect.DIALOG)
        protocol = self.protocol

        def joined(frame: Frame) -> None:
            if protocol is self.protocol:
                self.dialog = None
                self._render(Aspect.DIALOG)
                self._enter_chat(frame, password)

        def refused(reason: Failure) -> None:
            if self.dialog is not dialog:
                return
            dialog.busy = False
            if reason.check(ServerError):
                dialog.error = _JOIN_ERRORS.get(reason.value.code, reason.value.message)
                if reason.value.code == "no_such_session":
                    self.reload()
            else:
                dialog.error = reason.getErrorMessage()
            self._render(Aspect.DIALOG)

        answer.addCallbacks(joined, refused)

    # Chat

    def _enter_chat(self, frame: Frame, password: str | None = None) -> None:
        session = _session_row(frame["session"])
        you = str(frame["you"])
        members = [
            MemberRow(str(m["name"]), float(m["joined"]), bool(m["admin"]), str(m["name"]) == you)
            for m in frame["members"]
        ]
        chat = self.chat = ChatState(session, you, members, frame.get("idle_timeout"), password)
        self.notice = Notice()
        self.exit_feedback = Notice()
        self._set_screen(Screen.CHAT)
        self._render(Aspect.MEMBERS, Aspect.NOTICE, Aspect.EXIT_CODE)
        now = self.clock.seconds()
        intro = [
            ChatLine(
                LineKind.SYSTEM,
                f"You created {session.name}. You are its admin."
                if session.admin == you and session.creator == you
                else f"You joined {session.name} as {you}.",
                now,
            )
        ]
        if chat.idle_timeout:
            intro.append(
                ChatLine(
                    LineKind.SYSTEM,
                    f"Members who write nothing for {duration_text(chat.idle_timeout)} are removed. "
                    "/help lists the commands.",
                    now,
                )
            )
        chat.history_left = int(frame.get("history") or 0)
        if chat.history_left:
            chat.after_history = [ChatLine(LineKind.DIVIDER, HISTORY_DIVIDER, now), *intro]
        else:
            for line in intro:
                self._add_line(line)

    def _add_line(self, line: ChatLine) -> None:
        if self.chat is None:
            return
        self.chat.lines.append(line)
        del self.chat.lines[:-MAX_CHAT_LINES]
        if self.view is not None:
            self.view.add_chat_line(line)

    def _system(self, text: str, kind: LineKind = LineKind.SYSTEM) -> None:
        self._add_line(ChatLine(kind, text, self.clock.seconds()))

    def _member(self, name: str) -> MemberRow | None:
        if self.chat is None:
            return None
        return next((m for m in self.chat.members if m.name == name), None)

    def send(self, text: str) -> bool:
        """Send what the user typed: a message, or a ``/command args``; text
        with line breaks (a paste) goes to ``send_lines``.

        A message appears in the transcript at once, pending until the server
        acknowledges it. Returns ``False`` (and sends nothing, so the field
        keeps the text) for blank text, text that cannot be sent (the
        transcript says why), or outside a session.
        """
        chat, protocol = self.chat, self.protocol
        if chat is None or not text.strip():
            return False
        if "\n" in text or "\r" in text:
            return self.send_lines(text)
        if text.startswith("/"):
            if protocol is None or self.reconnecting:
                self._system("Not connected: commands cannot wait. Try again once reconnected.", LineKind.ERROR)
                return False
            name, _, args = text[1:].partition(" ")
            self._run_command(protocol, name.strip(), args.strip())
            return True
        problem = self._unsendable(text)
        if problem is not None:
            self._system(f"Not sent: this message {problem}.", LineKind.ERROR)
            return False
        self._send_message(chat, text)
        return True

    def send_lines(self, text: str) -> bool:
        """Send a multi-line paste as one message per line that is not blank, in
        order (a line starting with ``/`` is a message too, never a command).

        When any line cannot be sent, nothing is: the transcript says which line
        and why, and ``False`` tells the view to keep the text.
        """
        chat = self.chat
        lines = paste_lines(text)
        if chat is None or not lines:
            return False
        for number, line in enumerate(lines, 1):
            problem = self._unsendable(line)
            if problem is not None:
                self._system(
                    f"Nothing was sent: line {number} of the {len(lines)} pasted {problem}.", LineKind.ERROR
                )
                return False
        for line in lines:
            self._send_message(chat, line)
        return True

    def _unsendable(self, text: str) -> str | None:
        """Why the server would refuse ``text`` as a message, or ``None``."""
        if len(text) > self.max_text:
            return f"has {len(text)} characters, over the limit of {self.max_text}"
        if not is_printable(text):
            return "has control characters"
        if self.protocol is not None and not self.protocol.fits("say", text=text):
            return "is too long to send; split it in parts"
        return None

    def _send_message(self, chat: ChatState, text: str) -> None:
        """Show our message as pending, then send it, or keep it for the reconnection."""
        me = self._member(chat.you)
        serial = self._next_serial
        self._next_serial += 1
        waiting = self.protocol is None or self.reconnecting
        self._add_line(
            ChatLine(
                LineKind.MESSAGE,
                text,
                self.clock.seconds(),
                sender=chat.you,
                own=True,
                sender_admin=me is not None and me.admin,
                serial=serial,
                delivery=Delivery.PENDING,
                note=WAITING_NOTE if waiting else "",
            )
        )
        if waiting:
            self.outbox.append(Outgoing(text, serial))
        else:
            assert self.protocol is not None
            self._say(chat, self.protocol, text, serial)

    def resend(self, serial: int) -> bool:
        """Send a failed message again (the user clicked it); it is pending again until acknowledged."""
        chat, protocol = self.chat, self.protocol
        line = self._own_line(serial)
        if chat is None or protocol is None or self.reconnecting or line is None or not line.resendable:
            return False
        self._set_delivery(chat, serial, Delivery.PENDING)
        self._say(chat, protocol, line.text, serial)
        return True

    def _own_line(self, serial: int) -> ChatLine | None:
        if self.chat is None:
            return None
        # Recent lines are the ones whose delivery changes: look from the end.
        return next((line for line in reversed(self.chat.lines) if line.serial == serial), None)

    def _set_delivery(
        self, chat: ChatState, serial: int, delivery: Delivery, note: str = "", resendable: bool = False
    ) -> None:
        if self.chat is not chat:
            return
        for index in range(len(chat.lines) - 1, -1, -1):
            if chat.lines[index].serial == serial:
                line = chat.lines[index] = replace(
                    chat.lines[index], delivery=delivery, note=note, resendable=resendable
                )
                if self.view is not None:
                    self.view.update_chat_line(line)
                return

    def _say(self, chat: ChatState, protocol: ClientProtocol, text: str, serial: int) -> None:
        """Send message ``serial``; the ack marks it sent, a refusal failed, and
        one whose answer the connection's end cut off goes back to the outbox."""

        def acked(frame: Frame) -> None:
            chat.seen.add((chat.you, text, float(frame["ts"])))
            self._set_delivery(chat, serial, Delivery.SENT)

        def failed(reason: Failure) -> None:
            if self.chat is not chat:
                return
            if reason.check(ConnectionLost):
                self.outbox.append(Outgoing(text, serial, unconfirmed=True))
                self._set_delivery(chat, serial, Delivery.FAILED, LOST_NOTE)
            elif reason.check(ServerError):
                self._set_delivery(
                    chat, serial, Delivery.FAILED, f"Not sent: {reason.value.message}", resendable=True
                )
            else:
                self._set_delivery(chat, serial, Delivery.FAILED, "Not sent: it is too long to send.")

        self._counted(protocol.request("say", text=text)).addCallbacks(acked, failed)
        self._update_sending()

    def _counted(self, answer: "Deferred[Frame]") -> "Deferred[Frame]":
        """Count a chat line towards the progress hint: lines sent since all were answered."""
        if not self._unanswered:
            self._batch_total = 0
        self._batch_total += 1
        self._unanswered += 1

        def answered(result: object) -> object:
            self._unanswered -= 1
            return result

        return answer.addBoth(answered)

    def queue_changed(self, protocol: ClientProtocol) -> None:
        """Lines waiting for the flood budget came or went: update the progress hint."""
        if protocol is self.protocol:
            self._update_sending()

    def _update_sending(self) -> None:
        waiting = self.protocol.queued if self.protocol is not None else 0
        if not waiting:
            hint = ""
        else:
            total = max(self._batch_total, waiting)
            hint = f"Sending {total - waiting + 1} of {total}..."
        if hint != self.sending:
            self.sending = hint
            self._render(Aspect.SENDING)

    def _run_command(self, protocol: ClientProtocol, name: str, args: str) -> None:
        chat = self.chat
        if not name:
            self._system("Type a command after the slash, like /help.", LineKind.ERROR)
            return
        fields: dict[str, Any] = {"name": name}
        if args:
            fields["args"] = args

        def replied(frame: Frame) -> None:
            if self.chat is chat and self.chat is not None:
                self._add_line(ChatLine(LineKind.REPLY, str(frame.get("text", "")), self.clock.seconds()))

        self._counted(protocol.request("command", **fields)).addCallbacks(
            replied, self._chat_error, errbackArgs=(chat,)
        )
        self._update_sending()

    def _chat_error(self, reason: Failure, chat: ChatState | None, prefix: str = "") -> None:
        if self.chat is not chat:
            return
        if reason.check(ServerError):
            self._system(prefix + reason.value.message, LineKind.ERROR)
        elif reason.check(FrameTooLong):
            self._system("That is too long to send.", LineKind.ERROR)

    def _request_failed(self, reason: Failure) -> None:
        if reason.check(ServerError):
            self.notice = Notice(reason.value.message, Tone.ERROR)
            self._render(Aspect.NOTICE)

    # Event handlers

    def _on_member_joined(self, frame: Frame) -> None:
        if self.chat is None:
            return
        name = str(frame["name"])
        self.chat.members.append(MemberRow(name, float(frame["joined"]), False, name == self.chat.you))
        self.chat.session = replace(self.chat.session, members=len(self.chat.members))
        self._render(Aspect.MEMBERS)
        self._system(f"{name} joined the session.")

    def _on_member_left(self, frame: Frame) -> None:
        if self.chat is None:
            return
        name = str(frame["name"])
        self.chat.members = [m for m in self.chat.members if m.name != name]
        self.chat.session = replace(self.chat.session, members=len(self.chat.members))
        self._render(Aspect.MEMBERS)
        template = _MEMBER_LEFT_TEXT.get(str(frame["reason"]), "{name} left the session.")
        self._system(template.format(name=name, by=frame.get("by")))

    def _on_admin_changed(self, frame: Frame) -> None:
        if self.chat is None:
            return
        admin = str(frame["admin"])
        self.chat.members = [replace(m, admin=m.name == admin) for m in self.chat.members]
        self.chat.session = replace(self.chat.session, admin=admin)
        self._render(Aspect.MEMBERS)
        if admin == self.chat.you:
            self._system("You are now the admin of this session.")
        else:
            self._system(f"{admin} is now the admin.")

    def _on_message(self, frame: Frame) -> None:
        if self.chat is None:
            return
        sender = str(frame["from"])
        member = self._member(sender)
        self.chat.seen.add((sender, str(frame["text"]), float(frame["ts"])))
        self._add_line(
            ChatLine(
                LineKind.MESSAGE,
                str(frame["text"]),
                float(frame["ts"]),
                sender=sender,
                sender_admin=member is not None and member.admin,
            )
        )

    def _on_history(self, frame: Frame) -> None:
        """One message said before we joined (or while we were away); greyed, never shown twice."""
        chat = self.chat
        if chat is None:
            return
        key = (str(frame["from"]), str(frame["text"]), float(frame["ts"]))
        if key not in chat.seen:
            chat.seen.add(key)
            self._add_line(ChatLine(LineKind.HISTORY, key[1], key[2], sender=key[0], own=key[0] == chat.you))
        if chat.history_left:
            chat.history_left -= 1
            if not chat.history_left:
                self._finish_history()

    def _on_idle_warning(self, frame: Frame) -> None:
        seconds = float(frame["seconds_left"])
        self._system(
            f"You have been quiet for a while: you will be removed in {duration_text(seconds)} "
            "unless you write something.",
            LineKind.WARNING,
        )

    def _on_left(self, frame: Frame) -> None:
        self.chat = None
        reason = str(frame.get("reason"))
        tone = Tone.INFO if reason == "quit" else Tone.ERROR
        self.notice = Notice(str(frame.get("message") or "You left the session."), tone)
        self._set_screen(Screen.LOBBY)
        self._render(Aspect.MEMBERS, Aspect.NOTICE)
        self.reload()

    def _on_error(self, frame: Frame) -> None:
        """An error that answers no request: the server is about to close (idle, flood) or warns."""
        message = str(frame.get("message") or frame.get("code"))
        if self.protocol is not None:
            # Only the reason of a close if the close comes next (see _reason_for_closing).
            self._closing_error = (self.protocol.lines_received, self.clock.seconds(), message)
        if frame.get("code") in _SENT_AWAY_CODES:
            self._sent_away = True
        if self.chat is not None:
            self._system(message, LineKind.ERROR)
        else:
            self.notice = Notice(message, Tone.ERROR)
            self._render(Aspect.NOTICE)

    def _on_session_listed(self, frame: Frame) -> None:
        """``session_added`` or ``session_changed``: the row, new or updated, in id order."""
        row = _session_row(frame["session"])
        self.sessions = sorted([r for r in self.sessions if r.id != row.id] + [row], key=lambda r: r.id)
        self._render(Aspect.SESSIONS)
        if self.dialog is not None and self.dialog.session is not None and self.dialog.session.id == row.id:
            self._refresh_dialog_session(row.id)

    def _on_session_removed(self, frame: Frame) -> None:
        session_id = int(frame["session"])
        self.sessions = [row for row in self.sessions if row.id != session_id]
        self._render(Aspect.SESSIONS)
        dialog = self.dialog
        if dialog is not None and dialog.session is not None and dialog.session.id == session_id:
            dialog.error = f"The session {frame.get('name') or dialog.session.name} is gone."
            self._render(Aspect.DIALOG)

    def _on_server_closing(self, frame: Frame) -> None:
        self._closing_reason = f"The server closed: {frame.get('reason') or 'no reason given'}"

    _EVENTS: ClassVar[dict[str, Callable[["ClientViewModel", Frame], None]]] = {
        "member_joined": _on_member_joined,
        "member_left": _on_member_left,
        "admin_changed": _on_admin_changed,
        "message": _on_message,
        "history": _on_history,
        "idle_warning": _on_idle_warning,
        "left": _on_left,
        "server_closing": _on_server_closing,
        "error": _on_error,
        "session_added": _on_session_listed,
        "session_changed": _on_session_listed,
        "session_removed": _on_session_removed,
    }
