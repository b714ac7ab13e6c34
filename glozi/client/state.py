"""What the client knows: the values the view renders and ``ClientState``, which holds them.

``ClientState`` is the ground the view-model's parts stand on (connecting.py,
lobby.py, chatroom.py, assembled in viewmodel.py): every attribute is made
here, with the few helpers all of them use to tell the view what changed.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from glozi.client.palette import user_colour
from glozi.client.protocol import ClientListener, ClientProtocol, Frame
from glozi.client.trust import TrustResult
from glozi.doors.native.wire import MAX_TEXT_CHARS

MAX_CHAT_LINES = 2000
"""Transcript lines kept; older ones are dropped so a long chat stays light."""
DEFAULT_EXIT_CODE_DIGITS = 5
"""The exit code's length when the welcome does not say (``exit_code_digits``)."""
MAX_EXIT_CODE_DIGITS = 64


class Screen(Enum):
    """What the main window shows."""

    CONNECTING = auto()
    NO_SERVER = auto()
    PICK_SERVER = auto()
    PASSWORD = auto()
    """The server asks for a password (``--password``): the user types it."""
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
    DAY = auto()
    """The date, where the day changes between two lines and above the history (``text``: as people write it)."""


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
    action: bool = False
    """A ``/me`` action: shown as ``* sender text``."""
    grouped: bool = False
    """A message from the same person as the message just above it, soon after: shown under that
    one's name and time, without its own."""
    mentioned: bool = False
    """Someone else's message that names you (``glozi.client.mentions``)."""
    command: str = ""
    """For a ``REPLY``: what you typed that it answers (``"/help"``)."""
    earlier: bool = False
    """Said before you joined (the server's scrollback): styled like a live message, above the divider."""

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
    action: bool = False


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


def session_row(fields: dict[str, Any]) -> SessionRow:
    return SessionRow(
        id=int(fields["id"]),
        name=str(fields["name"]),
        members=int(fields["members"]),
        created=float(fields["created"]),
        creator=str(fields["creator"]),
        locked=bool(fields["locked"]),
        admin=fields.get("admin"),
    )


class ClientState:
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
        self.server_password: str | None = None
        """The server password the user typed; kept for reconnecting, never written anywhere."""
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

    def _render(self, *aspects: Aspect) -> None:
        if self.view is not None:
            for aspect in aspects:
                self.view.render(aspect)

    def _set_screen(self, screen: Screen, status: str = "") -> None:
        self.screen = screen
        self.status = status
        self._render(Aspect.SCREEN)

    def _add_line(self, line: ChatLine) -> None:
        if self.chat is None:
            return
        self.chat.lines.append(line)
        del self.chat.lines[:-MAX_CHAT_LINES]
        if self.view is not None:
            self.view.add_chat_line(line)

    def _system(self, text: str, kind: LineKind = LineKind.SYSTEM) -> None:
        self._add_line(ChatLine(kind, text, self.clock.seconds()))
