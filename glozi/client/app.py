"""The Tk client's main window (``ClientWindow``), ``start_client`` and ``main()``.

The window renders a ``ClientViewModel`` and forwards clicks, through the
screens it holds: glozi/client/screens.py (status, session list),
chatview.py (sidebar, transcripts, members) and dialogs.py.

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
from glozi.client.chatview import ChatView, Sidebar
from glozi.client.connecting import DEFAULT_PORT
from glozi.client.desktop import X11Desktop, desktop_theme
from glozi.client.dialogs import AboutDialog, PreferencesDialog, SessionDialog
from glozi.client.protocol import connect
from glozi.client.screens import LobbyView, StatusView
from glozi.client.servers import find_servers
from glozi.client.settings import (
    THEMES,
    SettingsStore,
    alert_options,
    clamp_geometry,
    default_settings_file,
)
from glozi.client.state import (
    Aspect,
    ChatLine,
    ChatState,
    Desktop,
    PrivateChat,
    Screen,
    ServerAddress,
    Transfer,
)
from glozi.client.theme import apply_theme, choose_palette, load_icons
from glozi.client.viewmodel import ClientViewModel


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

    def prepend_chat_lines(self, key: str, lines: list[ChatLine], replaced: int) -> None:
        """Older messages above conversation ``key``'s transcript (``ClientView``)."""
        self.chat.prepend_lines(key, lines, replaced)

    def transfer_changed(self, transfer: Transfer) -> None:
        self.chat.transfer_changed(transfer)

    def older_changed(self, key: str) -> None:
        """Redraw the row at the top of conversation ``key``'s transcript (``ClientView``)."""
        self.chat.show_older(key)

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
        self.server_label.configure(text=self.model.connection_text)

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
        model.alerts = alert_options(settings.current)
    reactor.callWhenRunning(model.start)
    return window


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

