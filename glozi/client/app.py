"""The Tk client: windows that render a ``ClientViewModel`` and forward clicks.

Every widget a user (or a test) touches has a stable Tk name, listed in
docs/client.md: for example ``body.lobby.sessions`` (the session list),
``join.username`` (the join dialog's username field) or
``body.chat.main.transcript.text`` (the messages). Tk runs inside the Twisted reactor
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
from glozi.client.emojitk import EmojiIcons, EmojiPicker
from glozi.client.fields import check_password, check_session_name, check_username, fits
from glozi.client.protocol import connect
from glozi.client.servers import find_servers
from glozi.client.state import (
    Aspect,
    ChatLine,
    Dialog,
    FieldState,
    Screen,
    ServerAddress,
    Tone,
)
from glozi.client.texts import ABOUT_TEXT, clock_text, created_text
from glozi.client.theme import apply_theme, load_icons
from glozi.client.transcript import TranscriptView
from glozi.client.viewmodel import ClientViewModel
from glozi.client.widgets import autohide
from glozi.domain.names import PASSWORD_RULE, SESSION_NAME_RULE, USERNAME_RULE

_ENTRY_STYLES = {
    FieldState.EMPTY: "TEntry",
    FieldState.VALID: "Valid.TEntry",
    FieldState.INVALID: "Invalid.TEntry",
}
_NOTICE_STYLES = {Tone.INFO: "Info.TLabel", Tone.ERROR: "Error.TLabel"}
_CONNECTING_FRAMES = ("", ".", "..", "...")
_SPINNER_MS = 300
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


class ChatView:
    """The transcript, the message entry and the member list."""

    def __init__(self, window: "ClientWindow", parent: ttk.Frame) -> None:
        self.window = window
        icons = window.icons
        self.frame = ttk.Frame(parent, name="chat", style="Chat.TFrame")
        self.frame.columnconfigure(0, weight=1)
        self.frame.rowconfigure(0, weight=1)

        left = ttk.Frame(self.frame, name="main", style="Chat.TFrame")
        left.grid(row=0, column=0, sticky="nswe")
        left.columnconfigure(0, weight=1)
        left.rowconfigure(0, weight=1)
        self.transcript = TranscriptView(left, "transcript", window.model.resend)
        self.transcript.frame.grid(row=0, column=0, columnspan=2, sticky="nswe")
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
        self.members = ttk.Treeview(
            side,
            name="members",
            columns=("joined",),
            show="tree",
            style="Members.Treeview",
            selectmode="none",
        )
        self.members.column("#0", width=150)
        self.members.column("joined", width=60, anchor="e")
        self.members.tag_configure("you", font=p.FONT_BOLD)
        self.members.grid(row=1, column=0, sticky="ns")
        self._member_tags: set[str] = set()

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

    def clear(self) -> None:
        self.transcript.clear()

    def add_line(self, line: ChatLine) -> None:
        self.transcript.add_line(line)

    def update_line(self, line: ChatLine) -> None:
        self.transcript.update_line(line)

    def render_sending(self) -> None:
        hint = self.window.model.sending
        self.sending.configure(text=hint)
        if hint:
            self.sending.place(in_=self.transcript.text, relx=1.0, rely=1.0, anchor="se", x=-14, y=-10)
        else:
            self.sending.place_forget()

    def render_members(self) -> None:
        chat = self.window.model.chat
        self.members.delete(*self.members.get_children())
        if chat is None:
            return
        self.members_title.configure(text=f"MEMBERS — {len(chat.members)}")
        for member in chat.members:
            colour_tag = f"c{member.colour}"
            if colour_tag not in self._member_tags:
                self.members.tag_configure(colour_tag, foreground=member.colour)
                self._member_tags.add(colour_tag)
            label = member.name + (" (you)" if member.you else "")
            if member.admin:
                label = "★ " + label
            tags = (colour_tag, "you") if member.you else (colour_tag,)
            self.members.insert(
                "", "end", iid=member.name, text=label, values=(clock_text(member.joined),), tags=tags
            )


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
        first = next(iter(self.fields.values()))
        first.entry.focus_set()
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

    def __init__(self, top: tk.Tk | tk.Toplevel, model: ClientViewModel) -> None:
        self.top = top
        self.model = model
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
        self.corner = ttk.Frame(header, name="corner")
        self.corner.pack(side="right")
        self.session_title = ttk.Label(
            self.corner, name="session_title", style="Corner.TLabel", compound="right"
        )
        self.session_title.pack(side="left")
        self.session_code = ttk.Label(self.corner, name="session_code", style="Code.TLabel")
        self.session_code.pack(side="left", padx=(10, 14))
        ttk.Button(
            self.corner,
            name="leave",
            text=" Leave",
            image=self.icons["leave"],
            compound="left",
            command=lambda: model.send("/quit"),
        ).pack(side="left")
        tk.Frame(top, name="rule", height=1, background=p.BORDER).pack(fill="x")

        body = ttk.Frame(top, name="body")
        body.pack(fill="both", expand=True)
        body.rowconfigure(0, weight=1)
        body.columnconfigure(0, weight=1)
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
        }
        for frame in (self.status.frame, self.lobby.frame, self.chat.frame):
            frame.grid(row=0, column=0, sticky="nswe")
        self.dialog: SessionDialog | None = None
        self.about: AboutDialog | None = None
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

    def render(self, aspect: Aspect) -> None:
        """Redraw ``aspect`` of the view-model (``ClientView``)."""
        self._renderers[aspect]()

    def add_chat_line(self, line: ChatLine) -> None:
        """Append a transcript line (``ClientView``)."""
        self.chat.add_line(line)

    def update_chat_line(self, line: ChatLine) -> None:
        """Redraw one of your messages whose delivery changed (``ClientView``)."""
        self.chat.update_line(line)

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
        if screen is Screen.CHAT and model.chat is not None:
            session = model.chat.session
            self.session_title.configure(
                text=session.name + " ", image=self.icons["lock"] if session.locked else ""
            )
            self.session_code.configure(text=f"#{session.id}")
            self.corner.pack(side="right")
            self.chat.frame.tkraise()
            self.chat.clear()
            self.chat.message.entry.focus_set()
        else:
            self.corner.pack_forget()
            self.session_title.configure(text="", image="")
            self.session_code.configure(text="")
            self.chat.clear()
            if screen is Screen.LOBBY:
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
        self.model.view = None
        self.model.close()
        self.top.destroy()


def start_client(
    top: tk.Tk | tk.Toplevel,
    reactor: Any,
    address: ServerAddress | None = None,
    finder: Callable[[], Any] | None = None,
    ca_file: str | None = None,
) -> ClientWindow:
    """Build a client in ``top`` on ``reactor`` and start connecting.

    ``address`` connects there directly; otherwise ``finder`` (by default
    ``find_servers``) looks for servers. The caller installs Tk into the
    reactor (``tksupport.install``) and runs the reactor.
    """
    apply_theme(top)
    model = ClientViewModel(
        reactor,
        address_connector(reactor, ca_file),
        finder or partial(find_servers, reactor),
        address,
    )
    window = ClientWindow(top, model)
    reactor.callWhenRunning(model.start)
    return window


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

    root = tk.Tk(className="GloziChat")
    log = Logger()
    root.report_callback_exception = partial(_log_tk_error, log)  # type: ignore[method-assign]
    window = start_client(root, reactor, address, ca_file=options.ca_file)
    tksupport.install(root)

    def stop() -> None:
        tksupport.uninstall()
        root.destroy()
        reactor.stop()

    def quit_client() -> None:
        window.model.view = None
        window.model.close()
        # Leave Tk's event handler first, and let the reactor send the close.
        reactor.callLater(0, stop)

    root.protocol("WM_DELETE_WINDOW", quit_client)
    reactor.run()
