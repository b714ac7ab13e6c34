"""Small Tk helpers the client's windows share."""

from collections.abc import Callable
from tkinter import ttk


def autohide(scrollbar: ttk.Scrollbar) -> Callable[[str, str], None]:
    """A ``yscrollcommand`` that shows ``scrollbar`` only when there is something to scroll."""

    def set_view(first: str, last: str) -> None:
        if float(first) <= 0.0 and float(last) >= 1.0:
            scrollbar.grid_remove()
        else:
            scrollbar.grid()
        scrollbar.set(first, last)

    return set_view
