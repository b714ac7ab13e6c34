"""One conversation's transcript on screen: a Tk ``Text`` that renders ``ChatLine``s.

It follows new lines while the user is at the bottom; scrolled up, it stays
where they read and shows *New messages below*. Your own messages carry the
tags ``own<serial>`` and ``pending``, ``sent`` or ``failed``, so a delivery
change redraws the line in place.
"""

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from glozi.client import palette as p
from glozi.client.emojitk import EmojiImages
from glozi.client.state import MAX_CHAT_LINES, ChatLine, Delivery, LineKind
from glozi.client.texts import clock_text
from glozi.client.widgets import autohide

_DELIVERY_TAGS = {Delivery.PENDING: "pending", Delivery.SENT: "sent", Delivery.FAILED: "failed"}
_DELIVERY_MARKS = {Delivery.PENDING: "  ◌", Delivery.SENT: "", Delivery.FAILED: "  ✕"}


class TranscriptView:
    """The lines of one conversation; ``frame`` holds the text, its scrollbar and the marker."""

    def __init__(self, parent: tk.Misc, name: str, on_resend: Callable[[int], None]) -> None:
        self._on_resend = on_resend
        self.frame = ttk.Frame(parent, name=name, style="Chat.TFrame")
        self.frame.columnconfigure(0, weight=1)
        self.frame.rowconfigure(0, weight=1)
        self.text = tk.Text(
            self.frame,
            name="text",
            background=p.CHAT,
            foreground=p.TEXT,
            font=p.FONT,
            wrap="word",
            borderwidth=0,
            highlightthickness=0,
            padx=16,
            pady=12,
            spacing1=3,
            spacing3=3,
            cursor="arrow",
            state="disabled",
            selectbackground=p.ACCENT,
            inactiveselectbackground=p.SELECTED,
        )
        self.text.grid(row=0, column=0, sticky="nswe")
        scroll = ttk.Scrollbar(
            self.frame,
            name="scroll",
            orient="vertical",
            command=self._scroll_by_user,
            style="Chat.Vertical.TScrollbar",
        )
        scroll.grid(row=0, column=1, sticky="ns")
        self.text.configure(yscrollcommand=autohide(scroll))
        self._configure_tags()
        self.emoji = EmojiImages(self.text)
        self.following = True
        """Whether new lines scroll into view: the user was at the bottom when last they scrolled."""
        for sequence in ("<Button-4>", "<Button-5>", "<MouseWheel>", "<KeyRelease>"):
            self.text.bind(sequence, lambda _: self.text.after_idle(self._scrolled), add="+")
        # A resize moves the bottom out of view: follow again if we were following.
        self.text.bind("<Configure>", lambda _: self.text.after_idle(self._keep_following), add="+")
        self.new_below = ttk.Button(
            self.frame, name="new_below", text="New messages below ↓", style="Accent.TButton", command=self.scroll_to_end
        )


    def _insert_text(self, index: str, text: str, tags: tuple[str, ...]) -> None:
        """Insert message text: every emoji, and every character Tk cannot draw, as an image."""
        self.emoji.insert(self.text, index, text, tags)

    def _configure_tags(self) -> None:
        text = self.text
        text.tag_configure("time", foreground=p.MUTED, font=p.FONT_SMALL)
        text.tag_configure("admin", foreground=p.ADMIN)
        text.tag_configure("body", foreground=p.TEXT)
        text.tag_configure("message", lmargin1=0, lmargin2=56)
        text.tag_configure("system", foreground=p.SYSTEM, font=p.FONT_ITALIC, justify="left")
        text.tag_configure("warning", foreground=p.WARNING, font=p.FONT_ITALIC)
        text.tag_configure("error", foreground=p.ERROR_TEXT)
        text.tag_configure(
            "reply",
            background=p.INPUT,
            foreground=p.TEXT,
            font=("DejaVu Sans Mono", p.FONT_SIZE - 1),
            lmargin1=56,
            lmargin2=56,
            rmargin=16,
            spacing1=0,
            spacing3=0,
        )
        text.tag_configure("history", foreground=p.MUTED)
        text.tag_configure("divider", foreground=p.MUTED, font=p.FONT_SMALL, justify="center", spacing1=6, spacing3=6)
        # Padding above and below each reply block, so consecutive replies stay apart.
        text.tag_configure("reply_start", spacing1=8)
        text.tag_configure("reply_end", spacing3=8)
        # Your messages: grey until the server acknowledges them, red when they failed.
        text.tag_configure("pending", foreground=p.MUTED)
        text.tag_configure("failed", foreground=p.ERROR_TEXT, overstrike=True)
        text.tag_configure("note", foreground=p.MUTED, font=p.FONT_ITALIC)
        text.tag_configure("failed_note", foreground=p.ERROR_TEXT, font=p.FONT_ITALIC)
        text.tag_configure("resend", foreground=p.ACCENT_TEXT, underline=True, font=p.FONT_ITALIC)
        text.tag_bind("resend", "<Button-1>", self._resend_clicked)
        text.tag_bind("resend", "<Enter>", lambda _: text.configure(cursor="hand2"))
        text.tag_bind("resend", "<Leave>", lambda _: text.configure(cursor="arrow"))

    def _sender_tag(self, colour: str) -> str:
        tag = f"sender{colour}"
        if tag not in self.text.tag_names():
            self.text.tag_configure(tag, foreground=colour, font=p.FONT_BOLD)
        return tag

    def _resend_clicked(self, event: tk.Event) -> None:
        for tag in self.text.tag_names(f"@{event.x},{event.y}"):
            if tag.startswith("own"):
                self._on_resend(int(tag[3:]))
                return

    def clear(self) -> None:
        self.text.configure(state="normal")
        self.text.delete("1.0", "end")
        self.text.configure(state="disabled")
        self.following = True
        self.new_below.place_forget()

    def _at_bottom(self) -> bool:
        return self.text.yview()[1] >= 0.999

    def _scroll_by_user(self, *args: str) -> None:
        self.text.yview(*args)
        self._scrolled()

    def _scrolled(self) -> None:
        """The user scrolled: follow new lines again only from the bottom."""
        self.following = self._at_bottom()
        if self.following:
            self.new_below.place_forget()

    def _keep_following(self) -> None:
        if self.following and not self._at_bottom():
            self.text.see("end")

    def scroll_to_end(self) -> None:
        """Show the newest line and follow again (the "new messages below" marker)."""
        self.text.see("end")
        self.following = True
        self.new_below.place_forget()

    def add_line(self, line: ChatLine) -> None:
        """Append ``line``; follow it if the view follows (else show the marker), and always your own."""
        text = self.text
        text.configure(state="normal")
        self._insert_line("end", line)
        lines = int(text.index("end-1c").split(".")[0])
        if lines > MAX_CHAT_LINES * 2:
            text.delete("1.0", f"{lines - MAX_CHAT_LINES}.0")
        text.configure(state="disabled")
        if self.following or line.own:
            self.scroll_to_end()
        else:
            self.new_below.place(in_=text, relx=0.5, rely=1.0, anchor="s", y=-10)

    def update_line(self, line: ChatLine) -> None:
        """Redraw your message ``line.serial`` in place, with its new delivery state."""
        text = self.text
        ranges = text.tag_ranges(f"own{line.serial}")
        if not ranges:
            return
        text.configure(state="normal")
        text.delete(ranges[0], ranges[-1])
        # A mark with right gravity moves past each piece inserted at it.
        text.mark_set("redraw", ranges[0])
        text.mark_gravity("redraw", "right")
        self._insert_line("redraw", line)
        text.mark_unset("redraw")
        text.configure(state="disabled")
        if self.following:
            text.see("end")

    def _insert_line(self, index: str, line: ChatLine) -> None:
        text = self.text
        stamp = clock_text(line.ts)
        if line.kind is LineKind.MESSAGE and line.sender:
            own = (f"own{line.serial}",) if line.serial else ()
            parts: list[tuple[str, tuple[str, ...]]] = [(f"{stamp}  ", ("time", "message"))]
            if line.action:
                parts.append(("* ", ("body", "message")))
            if line.sender_admin:
                parts.append(("★ ", ("admin", "message")))
            parts.append((line.sender, (self._sender_tag(line.colour or p.TEXT), "message")))
            body = ("body", "message")
            if line.delivery is not None:
                body = (*body, _DELIVERY_TAGS[line.delivery])
            parts.append(((" " if line.action else "  ") + line.text, body))
            if line.delivery is not None and _DELIVERY_MARKS[line.delivery]:
                parts.append((_DELIVERY_MARKS[line.delivery], (*body[:-1], "note")))
            if line.note:
                style = "failed_note" if line.delivery is Delivery.FAILED else "note"
                parts.append((f"  {line.note}", (style, "message")))
            if line.resendable:
                parts.append(("  Send again", ("resend", "message")))
            parts.append(("\n", ("message",)))
            for chunk, tags in parts:
                self._insert_text(index, chunk, (*tags, *own))
        elif line.kind is LineKind.HISTORY:
            # Said before you joined: the whole line greyed, above the divider.
            said = f"* {line.sender} {line.text}" if line.action else f"{line.sender}  {line.text}"
            self._insert_text(index, f"{stamp}  {said}\n", ("history", "message"))
        elif line.kind is LineKind.DIVIDER:
            text.insert(index, f"\u2500\u2500\u2500\u2500  {line.text}  \u2500\u2500\u2500\u2500\n", ("divider",))
        elif line.kind is LineKind.REPLY:
            rows = line.text.split("\n")
            for number, row in enumerate(rows):
                tags = ["reply"]
                if number == 0:
                    tags.append("reply_start")
                if number == len(rows) - 1:
                    tags.append("reply_end")
                self._insert_text(index, f"{row}\n", tuple(tags))
        else:
            style = {LineKind.WARNING: "warning", LineKind.ERROR: "error"}.get(line.kind, "system")
            text.insert(index, f"{stamp}  ", ("time", "message"))
            self._insert_text(index, f"{line.text}\n", (style, "message"))
