"""The status screen (connecting, no server, pick a server, password, disconnected) and the session list."""

import tkinter as tk
from tkinter import ttk

from glozi.client import palette as p
from glozi.client.connecting import DEFAULT_PORT
from glozi.client.state import Screen, Tone
from glozi.client.texts import created_text
from glozi.client.widgets import FieldEntry, MainWindow, autohide

_NOTICE_STYLES = {Tone.INFO: "Info.TLabel", Tone.ERROR: "Error.TLabel"}
_CONNECTING_FRAMES = ("", ".", "..", "...")
_SPINNER_MS = 300
NOTICE_AREA_PX = 56
"""Height kept for the notice above the session list, shown or not, so rows never move under the pointer."""


class StatusView:
    """Connecting, nothing found, pick a server, or disconnected."""

    def __init__(self, window: MainWindow, parent: ttk.Frame) -> None:
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
                    values=(server.where,),
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

    def __init__(self, window: MainWindow, parent: ttk.Frame) -> None:
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

