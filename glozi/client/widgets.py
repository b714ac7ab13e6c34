"""Small Tk helpers the client's windows share."""

import tkinter as tk
from collections.abc import Callable
from functools import partial
from tkinter import ttk
from typing import Protocol

from PIL import ImageTk

from glozi.client import palette as p
from glozi.client.fields import fits
from glozi.client.settings import SettingsStore
from glozi.client.state import FieldState
from glozi.client.viewmodel import ClientViewModel


class MainWindow(Protocol):
    """What the screens and dialogs use of the main window (``glozi.client.app.ClientWindow``)."""

    top: tk.Tk | tk.Toplevel
    model: ClientViewModel
    icons: dict[str, ImageTk.PhotoImage]
    settings: SettingsStore

    def show_about(self) -> None:
        """Open the about window."""


def autohide(scrollbar: ttk.Scrollbar) -> Callable[[str, str], None]:
    """A ``yscrollcommand`` that shows ``scrollbar`` only when there is something to scroll."""

    def set_view(first: str, last: str) -> None:
        if float(first) <= 0.0 and float(last) >= 1.0:
            scrollbar.grid_remove()
        else:
            scrollbar.grid()
        scrollbar.set(first, last)

    return set_view


def popup_menu(parent: tk.Misc, name: str) -> tk.Menu:
    """A right-click menu in the palette's colours (entries added by the caller)."""
    return tk.Menu(
        parent,
        name=name,
        tearoff=False,
        background=p.SURFACE,
        foreground=p.TEXT,
        activebackground=p.ACCENT,
        activeforeground=p.ACCENT_TEXT,
    )


_ENTRY_STYLES = {
    FieldState.EMPTY: "TEntry",
    FieldState.VALID: "Valid.TEntry",
    FieldState.INVALID: "Invalid.TEntry",
}


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


def side_list(parent: tk.Misc, name: str, column: str, widths: tuple[int, int]) -> ttk.Treeview:
    """A list beside the chat (the sidebar, the members): a name, and ``column`` right-aligned."""
    tree = ttk.Treeview(
        parent, name=name, columns=(column,), show="tree", style="Members.Treeview", selectmode="browse"
    )
    tree.column("#0", width=widths[0])
    tree.column(column, width=widths[1], anchor="e")
    return tree
