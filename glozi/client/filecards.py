"""Shared files on screen: a card under a file's message and a window for a full-size image.

A card shows the file's name and size; an image's thumbnail (fetched with
the connection's download token, decoded with Pillow) replaces the icon, and
a click on it opens the image in a window of its own. *Download* asks where
to save it, then shows the download's progress with *Cancel*; your own file
shows its upload's progress with *Cancel* until the server has it. Render
and forward only: the transfers are the view-model's (glozi/client/sharing.py).
"""

import io
import tkinter as tk
from collections.abc import Callable
from tkinter import filedialog, ttk
from typing import Any, Protocol

from PIL import Image, ImageTk, UnidentifiedImageError
from twisted.python.failure import Failure

from glozi.client import palette as p
from glozi.client.state import ChatLine, SharedFile, Transfer, TransferState
from glozi.domain.names import format_size

CARD_TEXT_PIXELS = 260
"""How wide the name may run before it wraps."""
IMAGE_WINDOW_SHARE = 0.85
"""The most of the screen a full-size image's window takes (larger images are scaled down)."""


def photo_of(data: bytes, largest: tuple[int, int] | None = None) -> ImageTk.PhotoImage:
    """A Tk image of ``data`` (PNG or JPEG as the server serves them), scaled down to fit ``largest``."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        shown = image.convert("RGBA") if image.mode not in ("RGB", "RGBA") else image.copy()
    if largest is not None:
        shown.thumbnail(largest, Image.Resampling.LANCZOS)
    return ImageTk.PhotoImage(shown)


class FileActions(Protocol):
    """What a card asks of the view-model (``ClientViewModel``'s sharing methods)."""

    def download(self, file: SharedFile, target: str) -> Transfer | None: ...
    def cancel_transfer(self, transfer_id: int) -> None: ...
    def fetch_thumbnail(self, file: SharedFile) -> Any: ...
    def fetch_image(self, file: SharedFile) -> Any: ...


class FileCard:
    """The card of ``line``'s file, a frame inside the transcript's text (``frame``)."""

    def __init__(
        self,
        text: tk.Text,
        line: ChatLine,
        actions: FileActions,
        transfers: Callable[[int], Transfer | None],
    ) -> None:
        assert line.file is not None
        self.file = line.file
        self._actions = actions
        self._transfers = transfers
        # An image: its thumbnail on top, the name, size and buttons under it. A plain file:
        # an icon on the left of them.
        self.frame = ttk.Frame(text, style="FileCard.TFrame", padding=(10, 8))
        self.frame.columnconfigure(1, weight=1)
        self.picture = tk.Label(
            self.frame, name="picture", background=p.INPUT, foreground=p.MUTED, font=p.FONT_SMALL, cursor="arrow"
        )
        if self.file.thumbnail is not None:
            self.picture.grid(row=0, column=0, columnspan=3, sticky="nw", pady=(0, 8))
        else:
            self.picture.grid(row=1, column=0, rowspan=2, sticky="nw", padx=(0, 10))
        self._photo: ImageTk.PhotoImage | None = None
        ttk.Label(
            self.frame, name="name", text=self.file.name, style="FileCardName.TLabel", wraplength=CARD_TEXT_PIXELS
        ).grid(row=1, column=1, sticky="w")
        ttk.Label(self.frame, name="size", text=self._size_line(), style="FileCard.TLabel").grid(
            row=2, column=1, sticky="w"
        )
        self.download = ttk.Button(self.frame, name="download", text="Download", command=self._download_clicked)
        self.download.grid(row=1, column=2, rowspan=2, sticky="e", padx=(12, 0))
        self.progress = ttk.Progressbar(self.frame, name="progress", length=200, maximum=1000)
        self.cancel = ttk.Button(self.frame, name="cancel", text="Cancel", command=self._cancel_clicked)
        self.status = ttk.Label(
            self.frame, name="status", style="FileCard.TLabel", wraplength=CARD_TEXT_PIXELS + 60, justify="left"
        )
        self._status_place = {"row": 4, "column": 0, "columnspan": 3, "sticky": "w", "pady": (4, 0)}
        self.transfer_id = line.upload
        self._show_picture()
        transfer = transfers(line.upload) if line.upload else None
        if transfer is not None:
            self.show(transfer)
        else:
            self._show_ready()

    def _size_line(self) -> str:
        size = format_size(self.file.size)
        if self.file.width and self.file.height:
            return f"{size} · {self.file.width} × {self.file.height}"
        return size

    def _show_picture(self) -> None:
        thumbnail = self.file.thumbnail
        if thumbnail is None:
            self.picture.configure(text="FILE" if not self.file.image else "IMAGE", width=6, height=2)
            return
        # Its room is kept while the thumbnail comes, so the transcript does not jump.
        placeholder = tk.PhotoImage(master=self.frame, width=thumbnail.width, height=thumbnail.height)
        self._photo = placeholder  # type: ignore[assignment]
        self.picture.configure(image=placeholder, text="", cursor="hand2")
        self.picture.bind("<Button-1>", lambda _: ImageWindow(self.frame.winfo_toplevel(), self.file, self._actions))
        self._actions.fetch_thumbnail(self.file).addCallbacks(self._thumbnail_came, self._thumbnail_failed)

    def _thumbnail_came(self, data: bytes) -> None:
        if not self.frame.winfo_exists():
            return
        try:
            self._photo = photo_of(data)
        except (UnidentifiedImageError, OSError, ValueError):
            self._thumbnail_failed(Failure())
            return
        self.picture.configure(image=self._photo)

    def _thumbnail_failed(self, reason: Failure) -> None:
        if self.frame.winfo_exists():
            message = getattr(reason.value, "message", None) or "The thumbnail could not be shown."
            self._say(message, p.ERROR_TEXT)

    def ask_target(self) -> str:
        """Where to save the file (Tk's save dialog, the file's name offered); "" when cancelled."""
        chosen = filedialog.asksaveasfilename(
            parent=self.frame.winfo_toplevel(), title="Save the file as", initialfile=self.file.name
        )
        return str(chosen or "")

    def _download_clicked(self) -> None:
        target = self.ask_target()
        if not target:
            return
        transfer = self._actions.download(self.file, target)
        if transfer is not None:
            self.transfer_id = transfer.id
            self.show(transfer)

    def _cancel_clicked(self) -> None:
        if self.transfer_id:
            self._actions.cancel_transfer(self.transfer_id)

    def _show_ready(self) -> None:
        """No transfer running: *Download* when the file can be read (your own file, still uploading, cannot)."""
        self.progress.grid_remove()
        self.cancel.grid_remove()
        if self.file.url:
            self.download.grid()
        else:
            self.download.grid_remove()

    def show(self, transfer: Transfer) -> None:
        """Draw ``transfer``'s progress and state (the window calls this on every change)."""
        if not self.frame.winfo_exists() or transfer.id != self.transfer_id:
            return
        if transfer.active:
            self.download.grid_remove()
            self.progress.grid(row=3, column=0, columnspan=2, sticky="we", pady=(6, 0))
            self.cancel.grid(row=3, column=2, sticky="e", padx=(12, 0), pady=(6, 0))
            self.progress.configure(value=int(transfer.fraction * 1000))
            verb = "Uploading" if transfer.upload else "Downloading"
            if transfer.state is TransferState.WAITING:
                self._say("Asking the server…", p.MUTED)
            else:
                done = f"{format_size(transfer.done)} of {format_size(transfer.size)}"
                self._say(f"{verb}… {done}", p.MUTED)
            return
        self._show_ready()
        failed = transfer.state is TransferState.FAILED
        note = "" if transfer.upload and transfer.state is TransferState.DONE else transfer.note
        self._say(note, p.ERROR_TEXT if failed else p.MUTED)

    def _say(self, text: str, colour: str) -> None:
        """The status line under the card's buttons; without text it takes no room."""
        self.status.configure(text=text, foreground=colour)
        if text:
            self.status.grid(**self._status_place)
        else:
            self.status.grid_remove()


class ImageWindow:
    """A full-size image in a window of its own (``image``), scaled down to fit the screen."""

    def __init__(self, top: tk.Misc, file: SharedFile, actions: FileActions) -> None:
        shown = top.children.get("image")
        if shown is not None:
            shown.destroy()
        self.window = tk.Toplevel(top, name="image", background=p.CHAT)
        self.window.title(file.name)
        self.window.bind("<Escape>", lambda _: self.window.destroy())
        self.label = tk.Label(
            self.window, name="picture", text="Loading…", background=p.CHAT, foreground=p.MUTED, font=p.FONT
        )
        self.label.pack(padx=8, pady=8)
        self._photo: ImageTk.PhotoImage | None = None
        actions.fetch_image(file).addCallbacks(self._came, self._failed)

    def _came(self, data: bytes) -> None:
        if not self.window.winfo_exists():
            return
        largest = (
            int(self.window.winfo_screenwidth() * IMAGE_WINDOW_SHARE),
            int(self.window.winfo_screenheight() * IMAGE_WINDOW_SHARE),
        )
        try:
            self._photo = photo_of(data, largest)
        except (UnidentifiedImageError, OSError, ValueError):
            self.label.configure(text="The image could not be shown.", foreground=p.ERROR_TEXT)
            return
        self.label.configure(image=self._photo, text="")

    def _failed(self, reason: Failure) -> None:
        if self.window.winfo_exists():
            message = getattr(reason.value, "message", None) or "The image could not be loaded."
            self.label.configure(text=message, foreground=p.ERROR_TEXT)
