"""What the client knows: the values the view renders and ``ClientState``, which holds them.

``ClientState`` is the ground the view-model's parts stand on (connecting.py,
lobby.py, chatroom.py, assembled in viewmodel.py): every attribute is made
here, with the few helpers all of them use to tell the view what changed.
"""

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum, auto
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from glozi.client.mentions import mentions
from glozi.client.palette import user_colour
from glozi.client.protocol import ClientListener, ClientProtocol, Frame
from glozi.client.texts import day_text, same_day
from glozi.client.trust import TrustResult
from glozi.domain.names import name_key
from glozi.doors.native.wire import MAX_TEXT_CHARS

MAX_CHAT_LINES = 2000
"""Transcript lines kept; older ones are dropped so a long chat stays light."""
DEFAULT_EXIT_CODE_DIGITS = 5
"""The exit code's length when the welcome does not say (``exit_code_digits``)."""
MAX_EXIT_CODE_DIGITS = 64
GROUP_SECONDS = 300
"""A message less than this after the one above it, from the same sender, is grouped under it."""
NOTIFICATION_CHARS = 200
"""A desktop notification's body is the message cut to this many characters."""
OLDER_PAGE = 100
"""Messages asked for each time the user scrolls to the top of a session's transcript (the server's most)."""


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
    CONVERSATIONS = auto()
    """The sidebar: the conversations, their unread counts and mention marks, the current one."""
    HEADER = auto()
    """The current conversation's name, number and topic."""
    ATTENTION = auto()
    """The window title, the urgency hint and the desktop notifications asked for."""


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
    DIVIDER = auto()
    DAY = auto()
    """The date, where the day changes between two lines and above the history (``text``: as people write it)."""


class Older(Enum):
    """Where loading a session's older messages (scrolling to the top) stands."""

    IDLE = auto()
    """Nothing asked yet, or the last page came: scrolling to the top asks for the next."""
    LOADING = auto()
    """A page is on its way; nothing more is asked meanwhile."""
    START = auto()
    """The server has nothing older: the transcript starts at the session's history."""
    FAILED = auto()
    """The last request failed (``ChatState.older_note`` says why); scrolling to the top again retries."""


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
    """A server to connect to; ``name`` is what the server calls itself.

    ``nodes``: the other addresses of the same cluster that discovery heard
    of (not part of the address: two rows of the same server compare equal).
    """

    host: str
    port: int
    name: str = ""
    tls: bool = False
    nodes: tuple["ServerAddress", ...] = field(default=(), compare=False)

    @property
    def label(self) -> str:
        where = f"{self.host}:{self.port}"
        return f"{self.name} ({where})" if self.name else where

    @property
    def where(self) -> str:
        """The address as the server list shows it, with how many more nodes its cluster has."""
        more = len(self.nodes)
        if not more:
            return f"{self.host}:{self.port}"
        return f"{self.host}:{self.port} +{more} node{'s' if more > 1 else ''}"


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
    topic: str = ""


@dataclass(frozen=True)
class MemberRow:
    """One member of a session you are in."""

    name: str
    joined: float
    admin: bool
    you: bool
    away: str | None = None
    """Their away message (``away`` in member objects, ``member_away``), or ``None`` while they are here."""

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
    msgid: str = ""
    """The server's id of a message (docs/protocol.md), once known: where to ask for older ones."""
    file: "SharedFile | None" = None
    """The file a message shares (docs/files.md), shown as a card under it."""
    upload: int = 0
    """For your own file: the ``Transfer`` that uploads it (0 for none)."""

    @property
    def colour(self) -> str | None:
        return user_colour(self.sender) if self.sender else None


IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
"""The media types the server treats as images (docs/files.md): decoded, thumbnailed, shown inline."""


@dataclass(frozen=True)
class Thumbnail:
    url: str
    width: int
    height: int


@dataclass(frozen=True)
class SharedFile:
    """A message's ``file`` object (docs/files.md); ``url`` is empty while your own is uploading."""

    name: str
    size: int
    media_type: str
    hash: str = ""
    url: str = ""
    width: int | None = None
    height: int | None = None
    thumbnail: Thumbnail | None = None

    @property
    def image(self) -> bool:
        return self.media_type in IMAGE_TYPES


def is_server_path(path: str) -> bool:
    """Whether ``path`` is a path on the server's web port; anything else (``//host/...``,
    ``@host``, a full URL) would send a token elsewhere."""
    return path.startswith("/") and not path.startswith("//")


def _server_path(value: object) -> str:
    path = str(value)
    if not is_server_path(path):
        raise ValueError(f"not a path on the server: {path!r}")
    return path


def shared_file(fields: object) -> SharedFile | None:
    """A frame's ``file`` object as a ``SharedFile``; ``None`` when there is none or it is malformed."""
    if not isinstance(fields, dict):
        return None
    try:
        thumbnail = fields.get("thumbnail")
        return SharedFile(
            name=str(fields["name"]),
            size=int(fields["size"]),
            media_type=str(fields["media_type"]).lower(),
            hash=str(fields["hash"]),
            url=_server_path(fields["url"]),
            width=int(fields["width"]) if fields.get("width") is not None else None,
            height=int(fields["height"]) if fields.get("height") is not None else None,
            thumbnail=Thumbnail(_server_path(thumbnail["url"]), int(thumbnail["width"]), int(thumbnail["height"]))
            if isinstance(thumbnail, dict)
            else None,
        )
    except (KeyError, TypeError, ValueError):
        return None


class TransferState(Enum):
    """Where an upload or a download stands."""

    WAITING = auto()
    """An upload asking the chat connection for its token."""
    RUNNING = auto()
    DONE = auto()
    FAILED = auto()
    """Refused or cut off; ``Transfer.note`` says why."""
    CANCELLED = auto()


@dataclass
class Transfer:
    """An upload (``upload`` true) or a download of ``name``: ``done`` of ``size`` bytes so far."""

    id: int
    upload: bool
    name: str
    size: int
    done: int = 0
    state: TransferState = TransferState.WAITING
    note: str = ""
    target: str = ""
    """Where a download is saved."""
    cancel: Callable[[], object] | None = field(default=None, repr=False, compare=False)
    """Stops it while it runs."""

    @property
    def active(self) -> bool:
        return self.state in (TransferState.WAITING, TransferState.RUNNING)

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.size) if self.size else 1.0


@dataclass
class Dialog:
    """The join or create dialog, while it is open."""

    kind: str
    session: SessionRow | None = None
    error: str = ""
    busy: bool = False
    username: str = ""
    """The name to offer: your nick while you are in a session (the server wants the same one)."""

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


@dataclass(kw_only=True)
class Conversation:
    """A session you are in or a private chat: what the sidebar lists and a transcript shows.

    ``unread`` counts the messages that came while you were not looking at it
    (another conversation shown, or the window not focused); ``mentioned``
    says one of them named you. Looking at it clears both.
    """

    key: str
    lines: list[ChatLine] = field(default_factory=list)
    unread: int = 0
    mentioned: bool = False


@dataclass(kw_only=True)
class ChatState(Conversation):
    """A session you are in.

    ``password`` is kept (in memory only) to rejoin after a reconnection;
    ``seen`` holds ``(sender, text, ts)`` of every message shown, so history
    received again after a reconnection is not shown twice; ``history_left``
    counts the history frames still expected after a ``joined``;
    ``rejoining``: after a reconnection, until the server let us in again;
    ``older``: loading the messages above the oldest shown (``Chatroom.load_older``).
    """

    session: SessionRow
    you: str
    members: list[MemberRow]
    idle_timeout: float | None
    password: str | None = None
    seen: set[tuple[str, str, float]] = field(default_factory=set)
    history_left: int = 0
    after_history: list[ChatLine] = field(default_factory=list)
    rejoining: bool = False
    older: Older = Older.IDLE
    older_note: str = ""
    """Why loading older messages failed, while ``older`` is ``FAILED``."""

    @property
    def title(self) -> str:
        return self.session.name


@dataclass(kw_only=True)
class PrivateChat(Conversation):
    """A private chat with ``name`` (as they spell it). The server never stores
    private messages, so its lines live in this client's memory only."""

    name: str

    @property
    def title(self) -> str:
        return self.name


def session_key(session_id: int) -> str:
    """The conversation key of session ``session_id``."""
    return f"session:{session_id}"


def private_key(name: str) -> str:
    """The conversation key of the private chat with ``name`` (any case: names compare so)."""
    return f"private:{name_key(name)}"


@dataclass
class AlertOptions:
    """Which ways of asking for your attention are on (D's settings file sets them)."""

    title_count: bool = True
    """The window title counts what you missed: "(3) GloziChat"."""
    urgency: bool = True
    """The window asks the window manager for attention (the X urgency hint)."""
    notifications: bool = True
    """A desktop notification (freedesktop notifications over D-Bus, where there is a service)."""


@dataclass(frozen=True)
class Notification:
    """A desktop notification the view-model asks for."""

    summary: str
    body: str


class Desktop(Protocol):
    """What the window asks of the desktop around it."""

    def set_urgent(self, urgent: bool) -> None:
        """Raise (or clear) the window's urgency hint."""

    def notify(self, summary: str, body: str) -> None:
        """Show a desktop notification, where the desktop has a service for them."""


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
    key: str = ""
    """The conversation it was typed in."""


class ClientView(Protocol):
    """What the view-model asks of its view."""

    def render(self, aspect: Aspect) -> None:
        """Redraw ``aspect`` from the view-model's state."""

    def add_chat_line(self, key: str, line: ChatLine) -> None:
        """Append ``line`` to the transcript of conversation ``key``."""

    def update_chat_line(self, key: str, line: ChatLine) -> None:
        """Redraw the message with ``line.serial`` in conversation ``key`` (its delivery changed)."""

    def prepend_chat_lines(self, key: str, lines: list[ChatLine], replaced: int) -> None:
        """Put ``lines`` at the top of conversation ``key``'s transcript in place of its first
        ``replaced`` lines, keeping in place what the user was reading."""

    def older_changed(self, key: str) -> None:
        """Conversation ``key``'s ``older`` (loading, start of history, failed) changed."""

    def transfer_changed(self, transfer: "Transfer") -> None:
        """An upload's or download's progress or state changed."""


@dataclass(frozen=True)
class FilesAccess:
    """The server's files as its welcome tells them: its web port's address (``web_base``), this
    connection's download token and the largest file it takes."""

    base: str
    download_token: str
    max_file_size: int


Connector = Callable[["ServerAddress", ClientListener], "Deferred[ClientProtocol]"]
Finder = Callable[[], "Deferred[list[ServerAddress]]"]


def continues(before: ChatLine, line: ChatLine) -> bool:
    """Whether message ``line`` is grouped under ``before``, the line above it: a message
    (not an action) from the same sender, less than 5 minutes earlier, the same local day."""
    return (
        before.kind is LineKind.MESSAGE
        and not before.action
        and not line.action
        and before.sender is not None
        and line.sender is not None
        and name_key(before.sender) == name_key(line.sender)
        and before.earlier == line.earlier
        and 0 <= line.ts - before.ts < GROUP_SECONDS
        and same_day(before.ts, line.ts)
    )


def older_text(chat: ChatState) -> str:
    """The line at the top of a session's transcript while older messages load or cannot, or
    once none is left ("" for none)."""
    if chat.older is Older.LOADING:
        return "Loading…"
    if chat.older is Older.START:
        return "Start of history"
    if chat.older is Older.FAILED:
        return f"Earlier messages could not be loaded: {chat.older_note} Scroll up to try again."
    return ""


def above(lines: list[ChatLine], older: list[ChatLine]) -> tuple[list[ChatLine], int]:
    """Older messages (oldest first) put above a transcript's ``lines``: the new top lines, with
    their date lines and grouping, and how many of the first ``lines`` they replace (the old top
    date line when the oldest day shown goes on above it, and the message under it when it now
    continues the last of ``older``)."""
    head: list[ChatLine] = []
    last: ChatLine | None = None
    for line in older:
        if last is None or not same_day(last.ts, line.ts):
            head.append(ChatLine(LineKind.DAY, day_text(line.ts), line.ts))
            last = None
        head.append(replace(line, grouped=last is not None and continues(last, line)))
        last = line
    if last is None or not lines:
        return head, 0
    replaced = 0
    first = lines[0]
    if first.kind is LineKind.DAY:
        if not same_day(first.ts, last.ts):
            return head, 0
        replaced = 1
    elif not same_day(first.ts, last.ts):
        # The top was cut (the transcript keeps its last lines only): its day needs its date line.
        return [*head, ChatLine(LineKind.DAY, day_text(first.ts), first.ts)], 0
    below = lines[replaced] if len(lines) > replaced else None
    if below is not None and below.kind is LineKind.MESSAGE and continues(last, below) != below.grouped:
        head.append(replace(below, grouped=not below.grouped))
        replaced += 1
    return head, replaced


def session_row(fields: dict[str, Any]) -> SessionRow:
    return SessionRow(
        id=int(fields["id"]),
        name=str(fields["name"]),
        members=int(fields["members"]),
        created=float(fields["created"]),
        creator=str(fields["creator"]),
        locked=bool(fields["locked"]),
        admin=fields.get("admin"),
        topic=str(fields.get("topic") or ""),
    )


def member_row(fields: dict[str, Any], you: str) -> MemberRow:
    away = fields.get("away")
    name = str(fields["name"])
    return MemberRow(
        name,
        float(fields["joined"]),
        bool(fields.get("admin")),
        name_key(name) == name_key(you),
        str(away) if away else None,
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
        self.web_url: str | None = None
        """The browser client's URL on the server connected to (its welcome's ``web_port``), or ``None``: none."""
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
        self.conversations: dict[str, ChatState | PrivateChat] = {}
        """Every session you are in and every private chat, in the order opened."""
        self.current: str | None = None
        """The key of the conversation shown; ``None`` while the session list is."""
        self.nick: str | None = None
        """The connection's name on the server: every join must give it (docs/protocol.md)."""
        self.focused = True
        """Whether the window has the keyboard focus (the window tells, ``set_focused``)."""
        self.alerts = AlertOptions()
        self.missed = 0
        """Mentions and private messages received while the window was not focused."""
        self.urgent = False
        """Whether the window should ask for attention (the urgency hint)."""
        self.notifications: list[Notification] = []
        """Desktop notifications asked for and not yet shown (``take_notifications``)."""
        self.reconnecting = False
        """The connection was lost and the client is getting it back by itself."""
        self.nodes: list[ServerAddress] = []
        """The other nodes of the server's cluster, from its last welcome: where to reconnect when it goes."""
        self.reconnecting_to: ServerAddress | None = None
        """The address the next automatic attempt goes to."""
        self._reconnect_targets: list[ServerAddress] = []
        self.outbox: list[Outgoing] = []
        self._closing_reason: str | None = None
        self._attempt = 0
        self._pending: Deferred[Any] | None = None
        self._reconnect_call: Any = None
        self._reconnect_tries = 0
        self._lost_reason = ""
        self._sent_away = False
        """The server closed us on purpose (idle, flood): coming back by ourselves would be wrong."""
        self.files: FilesAccess | None = None
        """How to reach the server's files (its welcome's ``files`` and web port), ``None`` when it shares none."""
        self.transfers: dict[int, Transfer] = {}
        """Uploads and downloads of this window, by id."""
        self._next_transfer = 1

    def _render(self, *aspects: Aspect) -> None:
        if self.view is not None:
            for aspect in aspects:
                self.view.render(aspect)

    def _set_screen(self, screen: Screen, status: str = "") -> None:
        self.screen = screen
        self.status = status
        self._render(Aspect.SCREEN)

    @property
    def conversation(self) -> "ChatState | PrivateChat | None":
        """The conversation shown, if one is."""
        return self.conversations.get(self.current) if self.current is not None else None

    @property
    def chat(self) -> ChatState | None:
        """The session shown, if a session is (not a private chat, not the session list)."""
        shown = self.conversation
        return shown if isinstance(shown, ChatState) else None

    @property
    def sessions_in(self) -> list[ChatState]:
        """The sessions you are in, in the order joined."""
        return [c for c in self.conversations.values() if isinstance(c, ChatState)]

    @property
    def window_title(self) -> str:
        """"GloziChat", or "(3) GloziChat" after 3 mentions and private messages while you were away."""
        if self.missed and self.alerts.title_count:
            return f"({self.missed}) GloziChat"
        return "GloziChat"

    def _looking_at(self, conversation: Conversation) -> bool:
        return self.focused and self.current == conversation.key and self.screen is Screen.CHAT

    def _add_line(self, conversation: Conversation, line: ChatLine) -> None:
        """Append ``line`` to ``conversation``: with the date when the day changed, grouped
        under the line above when it continues it, counted unread when nobody looks."""
        if self.conversations.get(conversation.key) is not conversation:
            return
        before = conversation.lines[-1] if conversation.lines else None
        if line.kind is not LineKind.DAY and (before is None or not same_day(before.ts, line.ts)):
            self._append(conversation, ChatLine(LineKind.DAY, day_text(line.ts), line.ts))
            before = None
        if line.kind is LineKind.MESSAGE and line.sender and before is not None and continues(before, line):
            line = replace(line, grouped=True)
        if line.kind is LineKind.MESSAGE and line.sender and not line.own and not line.earlier:
            line = self._arrived(conversation, line)
        self._append(conversation, line)

    def _append(self, conversation: Conversation, line: ChatLine) -> None:
        conversation.lines.append(line)
        del conversation.lines[:-MAX_CHAT_LINES]
        if self.view is not None:
            self.view.add_chat_line(conversation.key, line)

    def _arrived(self, conversation: Conversation, line: ChatLine) -> ChatLine:
        """Someone else's live message: marked when it names you; unread, and maybe worth
        your attention (a mention, or any private message), when you are not looking."""
        assert line.sender is not None
        if self.nick and mentions(line.text, self.nick):
            line = replace(line, mentioned=True)
        if self._looking_at(conversation):
            return line
        conversation.unread += 1
        if line.mentioned:
            conversation.mentioned = True
        self._render(Aspect.CONVERSATIONS)
        if not self.focused and (line.mentioned or isinstance(conversation, PrivateChat)):
            self._ask_attention(conversation, line)
        return line

    def _ask_attention(self, conversation: Conversation, line: ChatLine) -> None:
        self.missed += 1
        if self.alerts.urgency:
            self.urgent = True
        if self.alerts.notifications:
            where = "privately" if isinstance(conversation, PrivateChat) else f"in {conversation.title}"
            body = line.text if len(line.text) <= NOTIFICATION_CHARS else line.text[: NOTIFICATION_CHARS - 1] + "…"
            self.notifications.append(Notification(f"{line.sender} {where}", body))
        self._render(Aspect.ATTENTION)

    def take_notifications(self) -> list[Notification]:
        """The notifications asked for since the last call (the window shows them)."""
        taken, self.notifications = self.notifications, []
        return taken

    def set_focused(self, focused: bool) -> None:
        """The window gained or lost the keyboard focus. Focused again: what you
        missed is seen (the title count and urgency go, the shown conversation is read)."""
        if focused == self.focused:
            return
        self.focused = focused
        if not focused:
            return
        self.missed = 0
        self.urgent = False
        shown = self.conversation
        if shown is not None and self.screen is Screen.CHAT:
            self._mark_read(shown)
        self._render(Aspect.ATTENTION)

    def _mark_read(self, conversation: Conversation) -> None:
        if conversation.unread or conversation.mentioned:
            conversation.unread = 0
            conversation.mentioned = False
            self._render(Aspect.CONVERSATIONS)

    def _system(self, text: str, kind: LineKind = LineKind.SYSTEM, conversation: Conversation | None = None) -> None:
        """A notice in ``conversation`` (the one shown by default)."""
        target = conversation or self.conversation
        if target is not None:
            self._add_line(target, ChatLine(kind, text, self.clock.seconds()))
