"""The Tk client: windows that render a ``ClientViewModel`` and forward clicks.

Every widget a user (or a test) touches has a stable Tk name, listed in
docs/client.md: for example ``body.lobby.sessions`` (the session list),
``join.username`` (the join dialog's username field) or
``body.chat.main.session12.text`` (the messages of session 12). Tk runs inside the Twisted reactor
through ``twisted.internet.tksupport``; nothing here waits or blocks.
"""

import argparse
import sys
import tkinter as tk
from collections.abc import Callable
from functools import partial
from tkinter import ttk
from typing import Any

from PIL import ImageTk
from twisted.internet import tksupport
from twisted.logger import (
    FilteringLogObserver,
    Logger,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    textFileLogObserver,
)

from glozi.client import palette as p
from glozi.client.connecting import DEFAULT_PORT
from glozi.client.desktop import X11Desktop, desktop_theme
from glozi.client.emojitk import EmojiIcons, EmojiPicker
from glozi.client.fields import check_password, check_session_name, check_username, fits
from glozi.client.palette import user_colour
from glozi.client.protocol import connect
from glozi.client.servers import find_servers
from glozi.client.settings import THEMES, Settings, SettingsStore, clamp_geometry, default_settings_file
from glozi.client.state import (
    Aspect,
    ChatLine,
    ChatState,
    Conversation,
    Desktop,
    Dialog,
    FieldState,
    PrivateChat,
    Screen,
    ServerAddress,
    Tone,
)
from glozi.client.texts import ABOUT_TEXT, clock_text, created_text
from glozi.client.theme import apply_theme, choose_palette, load_icons
from glozi.client.transcript import TranscriptView
from glozi.client.viewmodel import ClientViewModel
from glozi.client.widgets import autohide, popup_menu
from glozi.domain.names import PASSWORD_RULE, SESSION_NAME_RULE, USERNAME_RULE, name_key

_ENTRY_STYLES = {
    FieldState.EMPTY: "TEntry",
    FieldState.VALID: "Valid.TEntry",
    FieldState.INVALID: "Invalid.TEntry",
}
_NOTICE_STYLES = {Tone.INFO: "Info.TLabel", Tone.ERROR: "Error.TLabel"}
_CONNECTING_FRAMES = ("", ".", "..", "...")
_SPINNER_MS = 300
_THEME_LABELS = {"dark": "Dark", "light": "Light", "system": "As the desktop prefers"}
EMOJI_BUTTON_PIXELS = 20
NOTICE_AREA_PX = 56
"""Height kept for the notice above the session list, shown or not, so rows never move under the pointer."""


class FieldEntry:
    """A ttk entry that never holds more than its field allows and turns green
    or red as the user types (``check``); ``on_change`` runs after each edit."""

    def __init__(
        self,
        parent: tk.Misc,
        name: str,
        kind: str,
        check: Callable[[str], FieldState] | None,
        *,
        width: int = 24,
        show: str = "",
        on_change: Callable[[], None] | None = None,
        limit: Callable[[str], bool] | None = None,
    ) -> None:
        self.var = tk.StringVar(parent)
        allowed = limit or partial(fits, kind)
        command = parent.register(lambda proposed: bool(allowed(proposed)))
        self.entry = ttk.Entry(
            parent,
            name=name,
            textvariable=self.var,
            width=width,
            show=show,
            validate="key",
            validatecommand=(command, "%P"),
        )
        self._check = check
        self._on_change = on_change
        self.var.trace_add("write", self._changed)

    def _changed(self, *_: object) -> None:
        if self._check is not None:
            self.entry.configure(style=_ENTRY_STYLES[self._check(self.var.get())])
        if self._on_change is not None:
            self._on_change()

    def get(self) -> str:
        return self.var.get()

    def clear(self) -> None:
        self.var.set("")


class StatusView:
    """Connecting, nothing found, pick a server, or disconnected."""

    def __init__(self, window: "ClientWindow", parent: ttk.Frame) -> None:
        self.window = window
        model = window.model
        self.frame = ttk.Frame(parent, name="status")
        card = ttk.Frame(self.frame, name="card", style="Surface.TFrame", padding=28)
        card.place(relx=0.5, rely=0.45, anchor="center")
        self.title = ttk.Label(card, name="status_title", style="Heading.TLabel")
        self.title.grid(row=0, column=0, columnspan=3, sticky="w")
        self.text = ttk.Label(card, name="status_text", style="Info.TLabel", wraplength=440, justify="left")
        self.text.grid(row=1, column=0, columnspan=3, sticky="w", pady=(8, 16))

        self.servers = ttk.Treeview(
            card, name="servers", columns=("where",), show="tree", height=4, selectmode="browse"
        )
        self.servers.column("#0", width=240)
        self.servers.column("where", width=180)
        self.servers.bind("<Double-1>", lambda _: self._use_server())
        self.servers.bind("<Return>", lambda _: self._use_server())
        self.use_server = ttk.Button(
            card, name="use_server", text="Connect", style="Accent.TButton", command=self._use_server
        )
        self.retry = ttk.Button(card, name="retry", style="Accent.TButton", command=self._retry)

        manual = ttk.Frame(card, name="manual", style="Surface.TFrame")
        self.manual = manual
        ttk.Label(manual, text="Or connect to", style="MutedSurface.TLabel").grid(
            row=0, column=0, columnspan=3, sticky="w"
        )
        self.host = FieldEntry(manual, "host", "host", None, width=22, limit=lambda text: len(text) <= 253)
        self.port = FieldEntry(manual, "port", "port", None, width=7, limit=lambda text: len(text) <= 5)
        self.host.var.set(model.address.host if model.address else "127.0.0.1")
        self.port.var.set(str(model.address.port if model.address else DEFAULT_PORT))
        self.host.entry.grid(row=1, column=0, sticky="we", pady=(6, 0))
        self.port.entry.grid(row=1, column=1, padx=8, pady=(6, 0))
        for entry in (self.host.entry, self.port.entry):
            entry.bind("<Return>", lambda _: self._connect())
        ttk.Button(manual, name="connect", text="Connect", command=self._connect).grid(
            row=1, column=2, pady=(6, 0)
        )
        password = ttk.Frame(card, name="password_row", style="Surface.TFrame")
        self.password_row = password
        self.password = FieldEntry(
            password, "password", "password", None, width=24, show="\u2022", limit=lambda text: len(text) <= 100
        )
        self.password.entry.grid(row=0, column=0, sticky="we")
        self.password.entry.bind("<Return>", lambda _: self._give_password())
        ttk.Button(
            password, name="give_password", text="Connect", style="Accent.TButton", command=self._give_password
        ).grid(row=0, column=1, padx=(8, 0))
        self.spinner_step = 0
        self._spin_job: str | None = None
        # An "after" job outliving its widget makes Tk report an invalid command.
        self.frame.bind(
            "<Destroy>", lambda event: self.stop_spinning() if event.widget is self.frame else None
        )

    def _retry(self) -> None:
        if self.window.model.screen is Screen.DISCONNECTED:
            self.window.model.reconnect()
        else:
            self.window.model.retry()

    def _use_server(self) -> None:
        selected = self.servers.selection()
        if selected:
            self.window.model.connect_to(self.window.model.servers[int(selected[0])])

    def _connect(self) -> None:
        self.window.model.connect_typed(self.host.get(), self.port.get())

    def _give_password(self) -> None:
        if self.window.model.give_password(self.password.get()):
            self.password.var.set("")

    def render(self) -> None:
        model = self.window.model
        screen = model.screen
        titles = {
            Screen.CONNECTING: "Connecting",
            Screen.NO_SERVER: "No server found",
            Screen.PICK_SERVER: "Pick a server",
            Screen.PASSWORD: "Password needed",
            Screen.DISCONNECTED: "Disconnected",
        }
        self.title.configure(text=titles.get(screen, ""))
        self.text.configure(text=model.status)
        for widget in (self.servers, self.use_server, self.retry, self.manual, self.password_row):
            widget.grid_remove()
        if screen is Screen.PASSWORD:
            self.password_row.grid(row=2, column=0, columnspan=3, sticky="we")
            self.password.entry.focus_set()
        if screen is Screen.PICK_SERVER:
            self.servers.delete(*self.servers.get_children())
            for index, server in enumerate(model.servers):
                self.servers.insert(
                    "",
                    "end",
                    iid=str(index),
                    text=server.name or server.host,
                    values=(f"{server.host}:{server.port}",),
                )
            if model.servers:
                self.servers.selection_set("0")
            self.servers.grid(row=2, column=0, columnspan=3, sticky="we")
            self.use_server.grid(row=3, column=2, sticky="e", pady=(10, 0))
        if screen in (Screen.NO_SERVER, Screen.DISCONNECTED):
            again = (
                "Reconnect"
                if screen is Screen.DISCONNECTED
                else ("Try again" if model.fixed_address else "Search again")
            )
            self.retry.configure(text=again)
            self.retry.grid(row=3, column=0, sticky="w")
        if screen is not Screen.CONNECTING:
            self.manual.grid(row=4, column=0, columnspan=3, sticky="we", pady=(18, 0))
        if screen is Screen.CONNECTING and self._spin_job is None:
            self._spin()

    def _spin(self) -> None:
        """Animate the status while connecting: proof that the window stays alive."""
        model = self.window.model
        if model.screen is not Screen.CONNECTING:
            self._spin_job = None
            return
        self.spinner_step = (self.spinner_step + 1) % len(_CONNECTING_FRAMES)
        base = model.status.rstrip(".")
        self.text.configure(text=base + _CONNECTING_FRAMES[self.spinner_step])
        self._spin_job = self.frame.after(_SPINNER_MS, self._spin)

    def stop_spinning(self) -> None:
        if self._spin_job is not None:
            self.frame.after_cancel(self._spin_job)
            self._spin_job = None


class LobbyView:
    """The session list, its buttons and the server exit code entry."""

    COLUMNS = (
        ("id", "#", 44, "e"),
        ("name", "Session", 170, "w"),
        ("members", "Members", 90, "center"),
        ("created", "Created", 120, "center"),
        ("creator", "Creator", 140, "w"),
    )

    def __init__(self, window: "ClientWindow", parent: ttk.Frame) -> None:
        self.window = window
        icons = window.icons
        self.frame = ttk.Frame(parent, name="lobby", padding=(18, 14, 18, 14))
        self.frame.columnconfigure(0, weight=1)
        self.frame.rowconfigure(2, weight=1)

        bar = ttk.Frame(self.frame, name="bar")
        bar.grid(row=0, column=0, sticky="we")
        bar.columnconfigure(1, weight=1)
        ttk.Label(bar, text="Sessions", style="Title.TLabel").grid(row=0, column=0, sticky="w")
        buttons = ttk.Frame(bar, name="buttons")
        buttons.grid(row=0, column=2, sticky="e")
        ttk.Button(
            buttons,
            name="reload",
            text=" Reload",
            image=icons["reload"],
            compound="left",
            command=window.model.reload,
        ).pack(side="left", padx=(0, 8))
        ttk.Button(
            buttons,
            name="create",
            text=" New session",
            image=icons["create"],
            compound="left",
            style="Accent.TButton",
            command=window.model.open_create,
        ).pack(side="left", padx=(0, 8))
        ttk.Button(
            buttons, name="info", image=icons["info"], style="Icon.TButton", command=window.show_about
        ).pack(side="left")

        # The notice sits in an area of its own that is there, empty or not.
        self.notice_area = ttk.Frame(self.frame, name="notice_area", height=NOTICE_AREA_PX)
        self.notice_area.grid(row=1, column=0, sticky="we", pady=(10, 6))
        self.notice_area.grid_propagate(False)
        self.notice = ttk.Label(self.frame, name="notice", style="Info.TLabel", padding=(10, 6))
        # Long notices (a certificate fingerprint) wrap to the window's width.
        self.notice_area.bind(
            "<Configure>", lambda event: self.notice.configure(wraplength=max(200, event.width - 24))
        )

        table = ttk.Frame(self.frame, name="table", style="Surface.TFrame")
        table.grid(row=2, column=0, sticky="nswe")
        table.columnconfigure(0, weight=1)
        table.rowconfigure(0, weight=1)
        self.sessions = ttk.Treeview(
            table,
            name="sessions",
            columns=[c[0] for c in self.COLUMNS],
            show=("tree", "headings"),
            selectmode="browse",
        )
        self.sessions.heading("#0", image=icons["lock"])
        self.sessions.column("#0", width=40, stretch=False, anchor="center")
        for key, title, width, anchor in self.COLUMNS:
            self.sessions.heading(key, text=title, anchor=anchor if anchor != "e" else "e")
            self.sessions.column(key, width=width, anchor=anchor, stretch=key in ("name", "creator"))
        self.sessions.tag_configure("odd", background=p.HOVER)
        self.sessions.grid(row=0, column=0, sticky="nswe")
        scroll = ttk.Scrollbar(table, name="sessions_scroll", orient="vertical", command=self.sessions.yview)
        scroll.grid(row=0, column=1, sticky="ns")
        self.sessions.configure(yscrollcommand=autohide(scroll))
        self.sessions.bind("<Double-1>", self._double_click)
        self.sessions.bind("<Return>", lambda _: self.join_selected())

        hint = ttk.Label(
            self.frame,
            text="Double-click a session, or select it and press Enter, to join it.",
            style="Muted.TLabel",
            font=p.FONT_SMALL,
        )
        hint.grid(row=3, column=0, sticky="w", pady=(6, 0))

        footer = ttk.Frame(self.frame, name="footer")
        footer.grid(row=4, column=0, sticky="we", pady=(14, 0))
        ttk.Label(footer, text="Server exit code", style="Muted.TLabel").pack(side="left")
        model = window.model
        self.exit_code = FieldEntry(
            footer,
            "exit_code",
            "exit_code",
            model.check_exit_code,
            width=12,  # a 10-digit code (the welcome's exit_code_digits) fits whole
            show="•",
            on_change=model.exit_code_edited,
            limit=model.exit_code_fits,
        )
        self.exit_code.entry.pack(side="left", padx=(10, 6))
        self.exit_code.entry.bind("<Return>", lambda _: self._submit_exit_code())
        ttk.Button(
            footer,
            name="exit_submit",
            image=icons["check"],
            style="Icon.TButton",
            command=self._submit_exit_code,
        ).pack(side="left")
        self.exit_feedback = ttk.Label(footer, name="exit_feedback", style="Muted.TLabel")
        self.exit_feedback.pack(side="left", padx=10)

    def _double_click(self, event: tk.Event) -> None:
        row = self.sessions.identify_row(event.y)
        if row:
            self.window.model.open_join(int(row))

    def join_selected(self) -> None:
        """Open the join dialog for the selected row."""
        selected = self.sessions.selection()
        if selected:
            self.window.model.open_join(int(selected[0]))

    def _submit_exit_code(self) -> None:
        if self.window.model.submit_exit_code(self.exit_code.get()):
            self.exit_code.clear()

    def render_sessions(self) -> None:
        model = self.window.model
        selected = self.sessions.selection()
        self.sessions.delete(*self.sessions.get_children())
        now = model.clock.seconds()
        for index, row in enumerate(model.sessions):
            members = f"{row.members}"
            self.sessions.insert(
                "",
                "end",
                iid=str(row.id),
                image=self.window.icons["lock"] if row.locked else "",
                values=(row.id, row.name, members, created_text(row.created, now), row.creator),
                tags=("odd",) if index % 2 else (),
            )
        kept = [iid for iid in selected if self.sessions.exists(iid)]
        if kept:
            self.sessions.selection_set(kept)

    def render_notice(self) -> None:
        notice = self.window.model.notice
        self.notice.configure(text=notice.text, style=_NOTICE_STYLES[notice.tone])
        if notice.text:
            self.notice.place(in_=self.notice_area, x=0, y=0, relwidth=1.0, relheight=1.0)
        else:
            self.notice.place_forget()

    def render_exit_code(self) -> None:
        feedback = self.window.model.exit_feedback
        style = "Muted.TLabel" if feedback.tone is Tone.INFO else "Error.TLabel"
        self.exit_feedback.configure(text=feedback.text, style=style)


def side_list(parent: tk.Misc, name: str, column: str, widths: tuple[int, int]) -> ttk.Treeview:
    """A list beside the chat (the sidebar, the members): a name, and ``column`` right-aligned."""
    tree = ttk.Treeview(
        parent, name=name, columns=(column,), show="tree", style="Members.Treeview", selectmode="browse"
    )
    tree.column("#0", width=widths[0])
    tree.column(column, width=widths[1], anchor="e")
    return tree


class Sidebar:
    """The conversations on the left: SESSIONS and PRIVATE, each with its unread count and
    an "@" when it named you; the shown one selected. A click shows one; *+ Join / create*
    shows the session list."""

    GROUPS = (("sessions", "SESSIONS"), ("private", "PRIVATE"))

    def __init__(self, window: "ClientWindow", parent: ttk.Frame) -> None:
        self.window = window
        self.frame = ttk.Frame(parent, name="sidebar", padding=(10, 14, 10, 12))
        self.frame.rowconfigure(0, weight=1)
        self.list = side_list(self.frame, "conversations", "badge", (130, 44))
        self.list.tag_configure("group", foreground=p.MUTED, font=p.FONT_SMALL)
        self.list.tag_configure("unread", foreground=p.TEXT_BRIGHT, font=p.FONT_BOLD)
        self.list.tag_configure("read", foreground=p.MUTED)
        self.list.tag_configure("mentioned", foreground=p.WARNING, font=p.FONT_BOLD)
        self.list.grid(row=0, column=0, sticky="ns")
        for group, title in self.GROUPS:
            self.list.insert("", "end", iid=group, text=title, open=True, tags=("group",))
        self.list.bind("<<TreeviewSelect>>", self._selected)
        ttk.Button(
            self.frame, name="join", text="+ Join / create", command=window.model.show_sessions
        ).grid(row=1, column=0, sticky="we", pady=(8, 0))

    def _selected(self, _: tk.Event) -> None:
        model = self.window.model
        selected = self.list.selection()
        if selected and selected[0] in model.conversations:
            if selected[0] != model.current or model.screen is not Screen.CHAT:
                model.switch_to(selected[0])
        else:
            self._select_current()

    def _select_current(self) -> None:
        current = self.window.model.current
        if current is not None and self.list.exists(current):
            if self.list.selection() != (current,):
                self.list.selection_set(current)
        elif self.list.selection():
            self.list.selection_remove(*self.list.selection())

    def render(self) -> None:
        model = self.window.model
        for group, _ in self.GROUPS:
            self.list.delete(*self.list.get_children(group))
        for key, conversation in model.conversations.items():
            group = "sessions" if isinstance(conversation, ChatState) else "private"
            badge = ("@ " if conversation.mentioned else "") + (str(conversation.unread) if conversation.unread else "")
            tag = "mentioned" if conversation.mentioned else "unread" if conversation.unread else "read"
            self.list.insert(group, "end", iid=key, text=conversation.title, values=(badge,), tags=(tag,))
        self._select_current()
        if model.conversations and model.screen in (Screen.LOBBY, Screen.CHAT):
            self.frame.grid(row=0, column=0, sticky="ns")
        else:
            self.frame.grid_remove()


class ChatView:
    """The conversation shown: its transcript (one ``TranscriptView`` per conversation, made
    when first shown and raised when shown again, so each keeps its scroll position), the
    message entry and the member list."""

    def __init__(self, window: "ClientWindow", parent: ttk.Frame) -> None:
        self.window = window
        icons = window.icons
        self.frame = ttk.Frame(parent, name="chat", style="Chat.TFrame")
        self.frame.columnconfigure(0, weight=1)
        self.frame.rowconfigure(0, weight=1)

        left = ttk.Frame(self.frame, name="main", style="Chat.TFrame")
        self.main = left
        left.grid(row=0, column=0, sticky="nswe")
        left.columnconfigure(0, weight=1)
        left.rowconfigure(0, weight=1)
        self._transcripts: dict[str, tuple[Conversation, TranscriptView]] = {}
        self._private_names = 0
        self.sending = ttk.Label(left, name="sending", style="Sending.TLabel", padding=(10, 4))

        bottom = ttk.Frame(left, name="compose", style="Chat.TFrame", padding=(16, 4, 16, 16))
        bottom.grid(row=1, column=0, columnspan=2, sticky="we")
        bottom.columnconfigure(0, weight=1)
        self.message = FieldEntry(
            bottom,
            "message",
            "message",
            None,
            width=40,
            limit=lambda text: len(text) <= window.model.max_text,
        )
        self.message.entry.grid(row=0, column=0, sticky="we", ipady=3)
        self.message.entry.bind("<Return>", lambda _: self.send())
        self.message.entry.bind("<<Paste>>", self._paste)
        emoji_icons = EmojiIcons(bottom)
        self.emoji_button = ttk.Button(
            bottom, name="emoji", image=emoji_icons.icon("😀", EMOJI_BUTTON_PIXELS), style="Icon.TButton"
        )
        self.emoji_button.grid(row=0, column=1, padx=(8, 0))
        self.emoji_picker = EmojiPicker(left, bottom, self.emoji_button, emoji_icons, self._insert_emoji)
        self.message.entry.bind("<Escape>", lambda _: self.emoji_picker.close(), add="+")
        ttk.Button(
            bottom,
            name="send",
            text=" Send",
            image=icons["send"],
            compound="left",
            style="Accent.TButton",
            command=self.send,
        ).grid(row=0, column=2, padx=(8, 0))

        side = ttk.Frame(self.frame, name="side", padding=(12, 14, 12, 12))
        side.grid(row=0, column=1, sticky="ns")
        side.rowconfigure(1, weight=1)
        self.members_title = ttk.Label(side, name="members_title", style="Muted.TLabel", font=p.FONT_SMALL)
        self.members_title.grid(row=0, column=0, sticky="w", pady=(0, 8))
        self.members = side_list(side, "members", "joined", (150, 60))
        self.members.tag_configure("you", font=p.FONT_BOLD)
        self.members.tag_configure("away", foreground=p.MUTED)
        self.members.grid(row=1, column=0, sticky="ns")
        self.members.bind("<Double-1>", self._member_double_click)
        self.members.bind("<Button-3>", self._member_menu)
        self.away = ttk.Label(
            side, name="away", style="Muted.TLabel", font=p.FONT_SMALL, wraplength=200, justify="left"
        )
        self.away.grid(row=2, column=0, sticky="w", pady=(8, 0))
        self.member_menu = popup_menu(self.members, "member_menu")
        self._menu_member = ""
        self.member_menu.add_command(
            label="Send a private message", command=lambda: window.model.open_private(self._menu_member)
        )
        self._member_tags: set[str] = set()

    @property
    def transcript(self) -> TranscriptView | None:
        """The transcript of the conversation shown, if one is."""
        shown = self._transcripts.get(self.window.model.current or "")
        return shown[1] if shown is not None else None

    def transcript_for(self, key: str) -> TranscriptView:
        """The transcript of conversation ``key``, made (with the lines it has so far) when first asked for."""
        conversation = self.window.model.conversations[key]
        made = self._transcripts.get(key)
        if made is not None and made[0] is conversation:
            return made[1]
        if made is not None:
            made[1].frame.destroy()
        if isinstance(conversation, ChatState):
            name = f"session{conversation.session.id}"
        else:
            self._private_names += 1
            name = f"private{self._private_names}"
        view = TranscriptView(self.main, name, self.window.model.resend, nick=lambda: self.window.model.nick)
        view.frame.grid(row=0, column=0, columnspan=2, sticky="nswe")
        for line in conversation.lines:
            view.add_line(line)
        self._transcripts[key] = (conversation, view)
        return view

    def forget_gone(self) -> None:
        """Drop the transcripts of conversations that ended."""
        conversations = self.window.model.conversations
        for key, (conversation, view) in list(self._transcripts.items()):
            if conversations.get(key) is not conversation:
                view.frame.destroy()
                del self._transcripts[key]

    def show(self) -> None:
        """Raise the shown conversation's transcript."""
        key = self.window.model.current
        if key is None or key not in self.window.model.conversations:
            return
        self.transcript_for(key).frame.tkraise()
        self.render_sending()

    def _member_at(self, event: tk.Event) -> str:
        row = self.members.identify_row(event.y)
        member = self.members.item(row, "tags") if row else ()
        return "" if not row or "you" in member else row

    def _member_double_click(self, event: tk.Event) -> None:
        name = self._member_at(event)
        if name:
            self.window.model.open_private(name)

    def _member_menu(self, event: tk.Event) -> None:
        self._menu_member = self._member_at(event)
        if self._menu_member:
            self.member_menu.tk_popup(event.x_root, event.y_root)

    def _insert_emoji(self, cluster: str) -> None:
        """Put a picked emoji's characters at the message field's cursor (the field's limit applies)."""
        entry = self.message.entry
        entry.insert("insert", cluster)
        entry.focus_set()

    def send(self) -> None:
        """Send the typed message or command; the field keeps what could not be sent."""
        if self.window.model.send(self.message.get()):
            self.message.clear()

    def _paste(self, event: tk.Event) -> str | None:
        """A paste with line breaks is sent at once, one message per line (with what was typed
        around the cursor); when it cannot be, nothing is sent and the field is left as it was."""
        entry = self.message.entry
        try:
            pasted = entry.clipboard_get()
        except tk.TclError:
            return None
        if "\n" not in pasted and "\r" not in pasted:
            return None
        typed = self.message.get()
        if entry.selection_present():
            start, end = entry.index("sel.first"), entry.index("sel.last")
        else:
            start = end = entry.index("insert")
        if self.window.model.send_lines(typed[:start] + pasted + typed[end:]):
            self.message.clear()
        return "break"

    def add_line(self, key: str, line: ChatLine) -> None:
        made = self._transcripts.get(key)
        # A conversation never shown has no transcript yet: it gets its lines when first shown.
        if made is not None and made[0] is self.window.model.conversations.get(key):
            made[1].add_line(line)

    def update_line(self, key: str, line: ChatLine) -> None:
        made = self._transcripts.get(key)
        if made is not None and made[0] is self.window.model.conversations.get(key):
            made[1].update_line(line)

    def render_sending(self) -> None:
        hint = self.window.model.sending
        self.sending.configure(text=hint)
        transcript = self.transcript
        if hint and transcript is not None:
            self.sending.place(in_=transcript.text, relx=1.0, rely=1.0, anchor="se", x=-14, y=-10)
            self.sending.lift()
        else:
            self.sending.place_forget()

    def render_members(self) -> None:
        conversation = self.window.model.conversation
        self.members.delete(*self.members.get_children())
        self.away.configure(text="")
        if conversation is None:
            return
        if isinstance(conversation, PrivateChat):
            self.members_title.configure(text="PRIVATE CHAT")
            self._insert_member(conversation.name, conversation.name, (), "")
            return
        self.members_title.configure(text=f"MEMBERS — {len(conversation.members)}")
        away = []
        for member in conversation.members:
            label = member.name + (" (you)" if member.you else "")
            if member.admin:
                label = "★ " + label
            tags = ("you",) if member.you else ()
            if member.away is not None:
                tags = (*tags, "away")
                away.append(f"{member.name} is away: {member.away}")
            self._insert_member(member.name, label, tags, clock_text(member.joined))
        self.away.configure(text="\n".join(away))

    def _insert_member(self, name: str, label: str, tags: tuple[str, ...], joined: str) -> None:
        if "away" not in tags:
            # Away members are grey, not in their colour.
            colour = user_colour(name)
            tags = (f"c{colour}", *tags)
            if tags[0] not in self._member_tags:
                self.members.tag_configure(tags[0], foreground=colour)
                self._member_tags.add(tags[0])
        self.members.insert("", "end", iid=name, text=label, values=(joined,), tags=tags)


class SessionDialog:
    """The join or create dialog: a non-modal window over the main one."""

    def __init__(self, window: "ClientWindow", dialog: Dialog) -> None:
        self.window = window
        self.kind = dialog.kind
        model = window.model
        self.top = tk.Toplevel(
            window.top,
            name=dialog.kind,
            background=p.SURFACE,
            highlightthickness=1,
            highlightbackground=p.BORDER,
        )
        self.top.transient(window.top)
        self.top.resizable(False, False)
        self.top.protocol("WM_DELETE_WINDOW", model.close_dialog)
        self.top.bind("<Escape>", lambda _: model.close_dialog())
        self.submitted_name = ""
        body = ttk.Frame(self.top, name="body", style="Surface.TFrame", padding=24)
        body.pack(fill="both", expand=True)
        body.columnconfigure(0, weight=1)
        self.heading = ttk.Label(body, name="heading", style="Heading.TLabel")
        self.heading.grid(row=0, column=0, columnspan=2, sticky="w")
        self.subtitle = ttk.Label(body, name="subtitle", style="MutedSurface.TLabel")
        self.subtitle.grid(row=1, column=0, columnspan=2, sticky="w", pady=(2, 14))
        self.fields: dict[str, FieldEntry] = {}
        row = 2
        if dialog.kind == "create":
            self.top.title("New session")
            self.heading.configure(text="Create a session")
            self.subtitle.configure(text="You will be its admin.")
            row = self._field(body, row, "name", "Session name", SESSION_NAME_RULE, "name", check_session_name)
        else:
            assert dialog.session is not None
            self.top.title(f"Join {dialog.session.name}")
        row = self._field(body, row, "username", "Your name", USERNAME_RULE, "username", check_username)
        if dialog.needs_password:
            hint = PASSWORD_RULE + (", optional" if dialog.kind == "create" else "")
            row = self._field(body, row, "password", "Password", hint, "password", check_password, show="•")
        self.error = ttk.Label(body, name="error", style="Error.TLabel", wraplength=320, justify="left")
        self.error.grid(row=row, column=0, columnspan=2, sticky="w", pady=(4, 0))
        buttons = ttk.Frame(body, name="buttons", style="Surface.TFrame")
        buttons.grid(row=row + 1, column=0, columnspan=2, sticky="e", pady=(14, 0))
        ttk.Button(buttons, name="cancel", text="Cancel", command=model.close_dialog).pack(
            side="left", padx=(0, 8)
        )
        self.submit = ttk.Button(
            buttons,
            name="submit",
            text="Create" if dialog.kind == "create" else "Join",
            style="Accent.TButton",
            command=self._submit,
        )
        self.submit.pack(side="left")
        self.top.geometry(f"+{window.top.winfo_rootx() + 160}+{window.top.winfo_rooty() + 110}")
        last_name = window.settings.current.last_name
        if dialog.username:
            self.fields["username"].var.set(dialog.username)
        elif last_name and fits("username", last_name):
            self.fields["username"].var.set(last_name)
        empty = [field for field in self.fields.values() if not field.get()]
        (empty or list(self.fields.values()))[0].entry.focus_set()
        self.render(dialog)

    def _field(
        self,
        body: ttk.Frame,
        row: int,
        name: str,
        label: str,
        hint: str,
        kind: str,
        check: Callable[[str], FieldState],
        show: str = "",
    ) -> int:
        ttk.Label(body, text=label, style="Surface.TLabel").grid(row=row, column=0, sticky="w")
        field = FieldEntry(body, name, kind, check, width=30, show=show, on_change=self._update_submit)
        field.entry.grid(row=row + 1, column=0, sticky="we", pady=(4, 2))
        field.entry.bind("<Return>", lambda _: self._submit())
        ttk.Label(body, text=hint, style="Hint.TLabel", wraplength=320, justify="left").grid(
            row=row + 2, column=0, sticky="w", pady=(0, 10)
        )
        self.fields[name] = field
        return row + 3

    def _values(self) -> dict[str, str]:
        return {name: field.get() for name, field in self.fields.items()}

    def _ready(self) -> bool:
        values = self._values()
        model = self.window.model
        if self.kind == "create":
            return model.can_create(values["name"], values["username"], values.get("password", ""))
        return model.can_join(values["username"], values.get("password", ""))

    def _update_submit(self) -> None:
        self.submit.state(["!disabled"] if self._ready() else ["disabled"])

    def _submit(self) -> None:
        values = self._values()
        model = self.window.model
        self.submitted_name = values["username"]
        if self.kind == "create":
            model.submit_create(values["name"], values["username"], values.get("password", ""))
        else:
            model.submit_join(values["username"], values.get("password", ""))

    def render(self, dialog: Dialog) -> None:
        if dialog.session is not None:
            session = dialog.session
            self.heading.configure(text=f"Join {session.name}")
            people = "member" if session.members == 1 else "members"
            lock = " · password needed" if session.locked else ""
            self.subtitle.configure(
                text=f"#{session.id} · {session.members} {people} · by {session.creator}{lock}"
            )
        self.error.configure(text=dialog.error)
        if dialog.error:
            self.error.grid()
        else:
            self.error.grid_remove()
        if dialog.busy:
            self.submit.state(["disabled"])
        else:
            self._update_submit()

    def destroy(self) -> None:
        self.top.destroy()
        if self.submitted_name:
            # The model closes the dialog before it opens the chat it joined.
            self.window.top.after_idle(self._remember_name, self.submitted_name)

    def _remember_name(self, name: str) -> None:
        """Keep ``name`` for the next dialog if the server let us in with it."""
        chat = self.window.model.chat
        if chat is not None and name_key(chat.you) == name_key(name):
            self.window.settings.change(last_name=name)


class PreferencesDialog:
    """The theme and the alert switches (the header's ⚙ button); every change is saved at once."""

    ALERTS = (
        ("title_count", "Count mentions and private messages in the title"),
        ("urgency", "Ask for attention (urgency hint)"),
        ("notifications", "Show desktop notifications"),
    )
    def __init__(self, window: "ClientWindow") -> None:
        self.window = window
        self.top = tk.Toplevel(
            window.top,
            name="preferences",
            background=p.SURFACE,
            highlightthickness=1,
            highlightbackground=p.BORDER,
        )
        self.top.title("Preferences")
        self.top.transient(window.top)
        self.top.resizable(False, False)
        body = ttk.Frame(self.top, name="body", style="Surface.TFrame", padding=24)
        body.pack(fill="both", expand=True)
        ttk.Label(body, text="Preferences", style="Heading.TLabel").pack(anchor="w")
        current = window.settings.current
        ttk.Label(body, text="Theme", style="MutedSurface.TLabel").pack(anchor="w", pady=(14, 2))
        self.theme = tk.StringVar(self.top, value=current.theme)
        for theme in THEMES:
            ttk.Radiobutton(
                body,
                name=f"theme_{theme}",
                text=_THEME_LABELS[theme],
                value=theme,
                variable=self.theme,
                command=self._theme_chosen,
            ).pack(anchor="w")
        ttk.Label(
            body, text="A new theme shows at the next start.", style="Hint.TLabel"
        ).pack(anchor="w", pady=(2, 0))
        ttk.Label(body, text="Alerts", style="MutedSurface.TLabel").pack(anchor="w", pady=(14, 2))
        self.alerts: dict[str, tk.BooleanVar] = {}
        for flag, label in self.ALERTS:
            variable = tk.BooleanVar(self.top, value=getattr(current, flag))
            self.alerts[flag] = variable
            ttk.Checkbutton(
                body, name=flag, text=label, variable=variable, command=partial(self._alert_switched, flag)
            ).pack(anchor="w")
        ttk.Button(body, name="close", text="Close", style="Accent.TButton", command=self.destroy).pack(
            anchor="e", pady=(16, 0)
        )
        self.top.bind("<Escape>", lambda _: self.destroy())
        self.top.protocol("WM_DELETE_WINDOW", self.destroy)
        self.top.geometry(f"+{window.top.winfo_rootx() + 200}+{window.top.winfo_rooty() + 70}")

    def _theme_chosen(self) -> None:
        self.window.settings.change(theme=self.theme.get())

    def _alert_switched(self, flag: str) -> None:
        self.window.settings.change(**{flag: self.alerts[flag].get()})
        apply_alerts(self.window.model, self.window.settings.current)

    def exists(self) -> bool:
        return bool(self.top.winfo_exists())

    def destroy(self) -> None:
        if self.exists():
            self.top.destroy()


class AboutDialog:
    """What GloziChat is and how to use it (the "?" button)."""

    def __init__(self, window: "ClientWindow") -> None:
        self.top = tk.Toplevel(
            window.top, name="about", background=p.SURFACE, highlightthickness=1, highlightbackground=p.BORDER
        )
        self.top.title("About GloziChat")
        self.top.transient(window.top)
        self.top.resizable(False, False)
        body = ttk.Frame(self.top, style="Surface.TFrame", padding=24)
        body.pack(fill="both", expand=True)
        ttk.Label(
            body, text="  GloziChat", image=window.icons["logo"], compound="left", style="Heading.TLabel"
        ).pack(anchor="w")
        ttk.Label(
            body, name="text", text=ABOUT_TEXT, style="Info.TLabel", wraplength=440, justify="left"
        ).pack(anchor="w", pady=(14, 16))
        ttk.Button(body, name="close", text="Close", style="Accent.TButton", command=self.destroy).pack(
            anchor="e"
        )
        self.top.bind("<Escape>", lambda _: self.destroy())
        self.top.protocol("WM_DELETE_WINDOW", self.destroy)
        self.top.geometry(f"+{window.top.winfo_rootx() + 140}+{window.top.winfo_rooty() + 70}")

    def exists(self) -> bool:
        return bool(self.top.winfo_exists())

    def destroy(self) -> None:
        if self.exists():
            self.top.destroy()


class ClientWindow:
    """Renders ``model`` in ``top`` (a ``Tk`` or a ``Toplevel``) and forwards actions to it."""

    log = Logger()

    def __init__(
        self,
        top: tk.Tk | tk.Toplevel,
        model: ClientViewModel,
        desktop: Desktop | None = None,
        settings: SettingsStore | None = None,
    ) -> None:
        self.top = top
        self.model = model
        self.desktop = desktop
        self._urgent = False
        self.settings = settings or SettingsStore(None)
        self.icons: dict[str, ImageTk.PhotoImage] = load_icons(top)
        top.title("GloziChat")
        top.configure(background=p.WINDOW)
        top.geometry("980x640")
        top.minsize(780, 480)
        top.iconphoto(False, self.icons["app"])

        header = ttk.Frame(top, name="header", padding=(18, 12, 18, 12))
        header.pack(fill="x")
        ttk.Label(header, image=self.icons["logo"]).pack(side="left")
        title = ttk.Frame(header)
        title.pack(side="left", padx=(12, 0))
        ttk.Label(title, name="title", text="GloziChat", style="Title.TLabel").pack(anchor="w")
        self.server_label = ttk.Label(title, name="server", style="Muted.TLabel", font=p.FONT_SMALL)
        self.server_label.pack(anchor="w")
        ttk.Button(
            header,
            name="preferences",
            text="\u2699",
            width=2,
            style="Icon.TButton",
            command=self.show_preferences,
        ).pack(side="right", padx=(14, 0))
        self.corner = ttk.Frame(header, name="corner")
        self.corner.pack(side="right")
        self.session_title = ttk.Label(
            self.corner, name="session_title", style="Corner.TLabel", compound="right"
        )
        self.session_title.pack(side="left")
        self.session_code = ttk.Label(self.corner, name="session_code", style="Code.TLabel")
        self.session_code.pack(side="left", padx=(10, 14))
        self.leave = ttk.Button(
            self.corner,
            name="leave",
            text=" Leave",
            image=self.icons["leave"],
            compound="left",
            command=model.leave,
        )
        self.leave.pack(side="left")
        self.topic = ttk.Label(header, name="topic", style="Muted.TLabel", anchor="w")
        self.topic.pack(side="left", fill="x", expand=True, padx=(28, 12))
        tk.Frame(top, name="rule", height=1, background=p.BORDER).pack(fill="x")

        body = ttk.Frame(top, name="body")
        body.pack(fill="both", expand=True)
        body.rowconfigure(0, weight=1)
        body.columnconfigure(1, weight=1)
        self.sidebar = Sidebar(self, body)
        self.status = StatusView(self, body)
        self.lobby = LobbyView(self, body)
        self.chat = ChatView(self, body)
        self._renderers: dict[Aspect, Callable[[], None]] = {
            Aspect.SCREEN: self._render_screen,
            Aspect.SESSIONS: self.lobby.render_sessions,
            Aspect.NOTICE: self.lobby.render_notice,
            Aspect.DIALOG: self._render_dialog,
            Aspect.MEMBERS: self.chat.render_members,
            Aspect.EXIT_CODE: self.lobby.render_exit_code,
            Aspect.CONNECTION: self._render_connection,
            Aspect.SENDING: self.chat.render_sending,
            Aspect.CONVERSATIONS: self._render_conversations,
            Aspect.HEADER: self._render_header,
            Aspect.ATTENTION: self._render_attention,
        }
        for frame in (self.status.frame, self.lobby.frame, self.chat.frame):
            frame.grid(row=0, column=1, sticky="nswe")
        # Focus moves between this window's widgets too: ask where it is once things settle.
        for sequence in ("<FocusIn>", "<FocusOut>"):
            top.bind(sequence, lambda _: top.after_idle(self._focus_changed), add="+")
        self.dialog: SessionDialog | None = None
        self.about: AboutDialog | None = None
        self.preferences: PreferencesDialog | None = None
        model.view = self
        for aspect in Aspect:
            self.render(aspect)

    def widget(self, path: str) -> Any:
        """The widget at ``path`` below this window, e.g. ``"body.lobby.sessions"``."""
        return self.top.nametowidget(path)

    def show_about(self) -> None:
        """Open the about window, or raise it when it is open."""
        if self.about is None or not self.about.exists():
            self.about = AboutDialog(self)
        self.about.top.lift()

    def show_preferences(self) -> None:
        """Open the preferences, or raise them when they are open."""
        if self.preferences is None or not self.preferences.exists():
            self.preferences = PreferencesDialog(self)
        self.preferences.top.lift()

    def render(self, aspect: Aspect) -> None:
        """Redraw ``aspect`` of the view-model (``ClientView``)."""
        self._renderers[aspect]()

    def add_chat_line(self, key: str, line: ChatLine) -> None:
        """Append a line to conversation ``key``'s transcript (``ClientView``)."""
        self.chat.add_line(key, line)

    def update_chat_line(self, key: str, line: ChatLine) -> None:
        """Redraw one of your messages whose delivery changed (``ClientView``)."""
        self.chat.update_line(key, line)

    def _focus_changed(self) -> None:
        if not self.top.winfo_exists():
            return
        try:
            widget = self.top.focus_get()
        except (KeyError, tk.TclError):
            # focus_get fails on a menu's private clone widget: still this window.
            widget = self.top
        inside = widget is not None and (
            str(self.top) == "." or str(widget) == str(self.top) or str(widget).startswith(f"{self.top}.")
        )
        self.model.set_focused(inside)

    def _render_attention(self) -> None:
        model = self.model
        self.top.title(model.window_title)
        if self.desktop is None:
            model.take_notifications()
            return
        if model.urgent != self._urgent:
            self._urgent = model.urgent
            self.desktop.set_urgent(model.urgent)
        for notification in model.take_notifications():
            self.desktop.notify(notification.summary, notification.body)

    def _render_conversations(self) -> None:
        self.chat.forget_gone()
        self.sidebar.render()

    def _render_header(self) -> None:
        model = self.model
        conversation = model.conversation if model.screen is Screen.CHAT else None
        if isinstance(conversation, ChatState):
            session = conversation.session
            self.session_title.configure(text=session.name + " ", image=self.icons["lock"] if session.locked else "")
            self.session_code.configure(text=f"#{session.id}")
            self.session_code.pack(side="left", padx=(10, 14), before=self.leave)
            self.leave.configure(text=" Leave")
            self.topic.configure(text=session.topic)
        elif isinstance(conversation, PrivateChat):
            self.session_title.configure(text=f"@{conversation.name} ", image="")
            self.session_code.pack_forget()
            self.leave.configure(text=" Close")
            self.topic.configure(text="Private chat: not stored by the server, kept in this window only.")
        if conversation is None:
            self.corner.pack_forget()
            self.session_title.configure(text="", image="")
            self.session_code.configure(text="")
            self.topic.configure(text="")
        else:
            self.corner.pack(side="right", before=self.topic)

    def _render_connection(self) -> None:
        model = self.model
        if model.reconnecting and model.screen is Screen.CHAT:
            text = f"Reconnecting to {model.server_name}..."
        elif model.screen in (Screen.LOBBY, Screen.CHAT):
            text = f"Connected to {model.server_name}"
        else:
            text = "Not connected"
        self.server_label.configure(text=text)

    def _render_screen(self) -> None:
        model = self.model
        screen = model.screen
        self._render_connection()
        self._render_header()
        self.sidebar.render()
        if screen is Screen.CHAT and model.conversation is not None:
            self.chat.frame.tkraise()
            self.chat.show()
            self.chat.render_members()
            self.chat.message.entry.focus_set()
        elif screen is Screen.LOBBY:
            self.lobby.frame.tkraise()
            self.lobby.sessions.focus_set()
        else:
            self.status.render()
            self.status.frame.tkraise()
        if screen is not Screen.LOBBY and self.about is not None:
            self.about.destroy()

    def _render_dialog(self) -> None:
        dialog = self.model.dialog
        if self.dialog is not None and (dialog is None or dialog.kind != self.dialog.kind):
            self.dialog.destroy()
            self.dialog = None
        if dialog is None:
            return
        if self.dialog is None:
            self.dialog = SessionDialog(self, dialog)
        else:
            self.dialog.render(dialog)

    def close(self) -> None:
        """Disconnect and remove the window."""
        remember_geometry(self)
        self.model.view = None
        self.model.close()
        self.top.destroy()


def start_client(
    top: tk.Tk | tk.Toplevel,
    reactor: Any,
    address: ServerAddress | None = None,
    finder: Callable[[], Any] | None = None,
    ca_file: str | None = None,
    *,
    settings: SettingsStore | None = None,
    desktop: Desktop | None = None,
) -> ClientWindow:
    """Build a client in ``top`` on ``reactor`` and start connecting.

    ``address`` connects there directly; otherwise ``finder`` (by default
    ``find_servers``) looks for servers; ``desktop`` gets the urgency hint and
    the notifications. With ``settings`` the window opens where it was left and
    the alert switches are applied. The caller picks the palette first
    (``palette.use``), installs Tk into the reactor
    (``tksupport.install``) and runs the reactor.
    """
    apply_theme(top)
    model = ClientViewModel(
        reactor,
        address_connector(reactor, ca_file),
        finder or partial(find_servers, reactor),
        address,
    )
    window = ClientWindow(top, model, desktop=desktop, settings=settings)
    if settings is not None:
        restore_geometry(top, settings.current.geometry)
        apply_alerts(model, settings.current)
    reactor.callWhenRunning(model.start)
    return window


def apply_alerts(model: ClientViewModel, settings: Settings) -> None:
    """Switch the view-model's alerts (title count, urgency hint, notifications) as ``settings`` say."""
    model.alerts.title_count = settings.title_count
    model.alerts.urgency = settings.urgency
    model.alerts.notifications = settings.notifications


def restore_geometry(top: tk.Tk | tk.Toplevel, geometry: str) -> None:
    """Give ``top`` its saved size and place, moved onto the screen if it would not fit there."""
    fitted = clamp_geometry(geometry, top.winfo_screenwidth(), top.winfo_screenheight())
    if fitted:
        top.geometry(fitted)


def remember_geometry(window: ClientWindow) -> None:
    """Save the window's size and place for the next start (a window never shown has none)."""
    if window.top.winfo_exists() and window.top.winfo_ismapped():
        window.settings.change(geometry=window.top.geometry())


def address_connector(reactor: Any, ca_file: str | None = None) -> Callable[..., Any]:
    """Connect to a ``ServerAddress``, over TLS when the address says so."""

    def connect_to(address: ServerAddress, listener: Any) -> Any:
        return connect(reactor, address.host, address.port, listener, tls=address.tls, ca_file=ca_file)

    return connect_to


def _log_tk_error(log: Logger, kind: type, value: BaseException, tb: Any) -> None:
    log.failure("A Tk callback failed", None, kind, value, tb)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The client's command line."""
    parser = argparse.ArgumentParser(
        prog="glozichat-client",
        description="The GloziChat desktop client. Without --host it looks for servers on the local network.",
    )
    parser.add_argument("--host", help="connect to this server instead of looking for one")
    parser.add_argument("--port", type=int, default=None, help=f"the server's port (default {DEFAULT_PORT})")
    parser.add_argument("--tls", action="store_true", help="the server at --host speaks TLS")
    parser.add_argument(
        "--ca-file",
        help="verify a TLS server against this CA certificate (PEM) instead of trusting it on first use",
    )
    parser.add_argument(
        "--theme",
        choices=THEMES,
        help="the colours for this run: dark, light, or as the desktop prefers (default: the saved choice)",
    )
    options = parser.parse_args(argv)
    if options.port is not None and not 0 < options.port < 65536:
        parser.error("--port must be between 1 and 65535")
    return options


def main(argv: list[str] | None = None) -> None:
    """Run the client until its window is closed (the console script)."""
    options = parse_arguments(argv)
    address = None
    if options.host or options.port:
        address = ServerAddress(
            options.host or "127.0.0.1", options.port or DEFAULT_PORT, tls=options.tls or bool(options.ca_file)
        )
    globalLogBeginner.beginLoggingTo(
        [FilteringLogObserver(textFileLogObserver(sys.stderr), [LogLevelFilterPredicate(LogLevel.warn)])]
    )
    from twisted.internet import reactor

    settings = SettingsStore(default_settings_file())
    p.use(choose_palette(options.theme or settings.current.theme, desktop_theme))
    root = tk.Tk(className="GloziChat")
    log = Logger()
    root.report_callback_exception = partial(_log_tk_error, log)  # type: ignore[method-assign]
    window = start_client(
        root, reactor, address, ca_file=options.ca_file, settings=settings, desktop=X11Desktop(root, reactor)
    )
    tksupport.install(root)

    def stop() -> None:
        tksupport.uninstall()
        root.destroy()
        reactor.stop()

    def quit_client() -> None:
        remember_geometry(window)
        window.model.view = None
        window.model.close()
        # Leave Tk's event handler first, and let the reactor send the close.
        reactor.callLater(0, stop)

    root.protocol("WM_DELETE_WINDOW", quit_client)
    reactor.run()
