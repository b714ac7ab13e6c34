"""Small Tk helpers the client's windows share."""

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from glozi.client import palette as p


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
