"""The join and create dialog, the preferences and the about window."""

import tkinter as tk
from collections.abc import Callable
from functools import partial
from tkinter import ttk

from glozi.client import palette as p
from glozi.client.fields import check_password, check_session_name, check_username, fits
from glozi.client.settings import THEMES, alert_options
from glozi.client.state import Dialog, FieldState
from glozi.client.texts import ABOUT_TEXT, browser_text
from glozi.client.widgets import FieldEntry, MainWindow
from glozi.domain.names import PASSWORD_RULE, SESSION_NAME_RULE, USERNAME_RULE, name_key

_THEME_LABELS = {"dark": "Dark", "light": "Light", "system": "As the desktop prefers"}


class SessionDialog:
    """The join or create dialog: a non-modal window over the main one."""

    def __init__(self, window: MainWindow, dialog: Dialog) -> None:
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
    def __init__(self, window: MainWindow) -> None:
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
        self.window.model.alerts = alert_options(self.window.settings.current)

    def exists(self) -> bool:
        return bool(self.top.winfo_exists())

    def destroy(self) -> None:
        if self.exists():
            self.top.destroy()


class AboutDialog:
    """What GloziChat is and how to use it (the "?" button)."""

    def __init__(self, window: MainWindow) -> None:
        self.top = tk.Toplevel(
            window.top, name="about", background=p.SURFACE, highlightthickness=1, highlightbackground=p.BORDER
        )
        self.top.title("About GloziChat")
        self.top.transient(window.top)
        self.top.resizable(False, False)
        body = ttk.Frame(self.top, name="body", style="Surface.TFrame", padding=24)
        body.pack(fill="both", expand=True)
        ttk.Label(
            body, text="  GloziChat", image=window.icons["logo"], compound="left", style="Heading.TLabel"
        ).pack(anchor="w")
        ttk.Label(
            body, name="text", text=ABOUT_TEXT, style="Info.TLabel", wraplength=440, justify="left"
        ).pack(anchor="w", pady=(14, 8))
        ttk.Label(
            body, name="browser", text=browser_text(window.model.web_url), style="Info.TLabel", wraplength=440,
            justify="left",
        ).pack(anchor="w", pady=(0, 16))
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

