"""One conversation's transcript on screen: a Tk ``Text`` that renders ``ChatLine``s.

How lines look (docs/client.md, "How messages look"): the time sits in a
gutter on the left, then the name and the text. A ``grouped`` line (the same
person again, soon after) shows only its text, under the name; an action reads
"* name text" in italics and always has its name and time. A command's answer
is a header ("› /help" and the time) above its block. ``DAY`` lines are a date
between two rules. Links are underlined and open in the desktop's browser;
your name is highlighted where a message names you, on a tinted line. A
right-click offers to copy the line, its sender's name or the selection.

It follows new lines while the user is at the bottom; scrolled up, it stays
where they read and shows *New messages below*. Scrolled to the top, it asks
for older messages (``on_top``) and shows them above, the line being read
kept at its pixel row; a row at the very top says "Loading…", "Start of
history" or why they could not be loaded (``show_older``). Your own messages carry the
tags ``own<serial>`` and ``pending``, ``sent`` or ``failed``, so a delivery
change redraws the line in place.
"""

import itertools
import time
import tkinter as tk
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from tkinter import font, ttk

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from glozi.client import palette as p
from glozi.client.emojitk import EmojiImages, selected_text
from glozi.client.filecards import FileCard
from glozi.client.links import LinkNotOpened, find_links, link_url, open_in_browser
from glozi.client.mentions import mention_spans
from glozi.client.state import MAX_CHAT_LINES, ChatLine, Delivery, LineKind, Transfer
from glozi.client.texts import clock_text
from glozi.client.widgets import autohide, popup_menu

_DELIVERY_TAGS = {Delivery.PENDING: "pending", Delivery.SENT: "sent", Delivery.FAILED: "failed"}
_DELIVERY_MARKS = {Delivery.PENDING: "  ◌", Delivery.SENT: "", Delivery.FAILED: "  ✕"}
_NOTICE_STYLES = {LineKind.WARNING: "warning", LineKind.ERROR: "error"}
GUTTER_PX = 56
"""Where names and text start: a line's time sits left of it, and a grouped line's text starts there."""
DAY_RULE = "\u2500" * 16
DIVIDER_RULE = "\u2500" * 4
MONOSPACE = "DejaVu Sans Mono"

Pieces = list[tuple[str, tuple[str, ...]]]


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _desktop_browser(url: str) -> "Deferred[None]":
    # Looked up on a click, not on import: importing this module must not install a reactor.
    from twisted.internet import reactor

    return open_in_browser(reactor, url)  # type: ignore[arg-type]


def _marked_pieces(text: str, marks: list[tuple[int, int, str]]) -> Pieces:
    """``text`` cut where the ``(start, end, tag)`` marks begin and end, each piece with the tags covering it."""
    if not marks:
        return [(text, ())]
    cuts = sorted({0, len(text), *(edge for start, end, _ in marks for edge in (start, end))})
    return [
        (text[a:b], tuple(tag for start, end, tag in marks if start <= a and b <= end))
        for a, b in itertools.pairwise(cuts)
    ]


def _looks_grouped(line: ChatLine) -> bool:
    """Shown under the name above, without its own: a grouped message that is no action."""
    return line.kind is LineKind.MESSAGE and bool(line.sender) and line.grouped and not line.action


def _link_marks(text: str) -> list[tuple[int, int, str]]:
    return [(link.start, link.end, "link") for link in find_links(text)]


class TranscriptView:
    """The lines of one conversation; ``frame`` holds the text, its scrollbar and the marker.

    ``nick`` says your current name (to highlight it in lines that mention
    you); ``card`` makes the card shown under a message that shares a file; ``open_link`` opens a URL and fails with ``LinkNotOpened`` when it
    cannot (the default starts the desktop's browser with ``xdg-open``).
    """

    log = Logger()

    def __init__(
        self,
        parent: tk.Misc,
        name: str,
        on_resend: Callable[[int], None],
        *,
        on_top: Callable[[], object] = lambda: None,
        nick: Callable[[], str] = lambda: "",
        open_link: Callable[[str], "Deferred[None]"] = _desktop_browser,
        card: Callable[[tk.Text, ChatLine], FileCard] | None = None,
    ) -> None:
        self._on_resend = on_resend
        self._make_card = card
        self._cards: list[FileCard] = []
        self._on_top = on_top
        self.nick = nick
        self._open_link = open_link
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
            insertwidth=0,
            selectbackground=p.ACCENT,
            inactiveselectbackground=p.SELECTED,
        )
        self.text.grid(row=0, column=0, sticky="nswe")
        self._make_read_only()
        scroll = ttk.Scrollbar(
            self.frame,
            name="scroll",
            orient="vertical",
            command=self._scroll_by_user,
            style="Chat.Vertical.TScrollbar",
        )
        scroll.grid(row=0, column=1, sticky="ns")
        self.text.configure(yscrollcommand=autohide(scroll))
        self._sender_tags: set[str] = set()
        self._see_end_call: str | None = None
        self._configure_tags()
        self.emoji = EmojiImages(self.text)
        self.following = True
        """Whether new lines scroll into view: the user was at the bottom when last they scrolled."""
        for sequence in ("<Button-4>", "<Button-5>", "<MouseWheel>", "<KeyRelease>"):
            self.text.bind(sequence, lambda _: self.text.after_idle(self._scrolled), add="+")
        # The user scrolls from where the lines already shown put the view, not from before them.
        for sequence in ("<Button-4>", "<Button-5>", "<MouseWheel>", "<KeyPress>"):
            self.text.bind(sequence, lambda _: self._see_end_now(), add="+")
        # A resize moves the bottom out of view: follow again if we were following.
        self.text.bind("<Configure>", lambda _: self.text.after_idle(self._keep_following), add="+")
        self.new_below = ttk.Button(
            self.frame,
            name="new_below",
            text="New messages below ↓",
            style="Accent.TButton",
            command=self.scroll_to_end,
        )
        self.menu = popup_menu(self.text, "menu")
        self.text.bind("<Button-3>", self._open_menu, add="+")
        self.hover_time = tk.Label(
            self.text,
            name="hover_time",
            background=p.CHAT,
            foreground=p.MUTED,
            font=p.FONT_SMALL,
            borderwidth=0,
        )
        self._hover_descent = font.Font(self.text, font=p.FONT_SMALL).metrics("descent")
        self._times: dict[str, float] = {}
        """Each grouped line's time, by the name of the mark at its start (shown when hovered)."""
        self._marks_made = 0
        self.text.bind("<Destroy>", lambda _: self._destroyed(), add="+")
        self.text.bind("<Motion>", self._hover, add="+")
        self.text.bind("<Leave>", self._left, add="+")

    def _make_read_only(self) -> None:
        """Only the transcript itself changes its text; the user's keys, pastes and drops do not.

        The usual way, ``state="disabled"`` switched off around each change,
        makes Tk lay out every line again each time: most of a line's cost in
        a long transcript. Instead the widget's Tcl command is wrapped, and
        edits pass only inside ``_editing``.
        """
        widget = str(self.text)
        self._real_command = f"{widget}.__real"
        self._editable = False
        self.text.tk.call("rename", widget, self._real_command)
        self.text.tk.createcommand(widget, self._widget_command)

    def _widget_command(self, *args: str) -> object:
        if args and args[0] in ("insert", "delete", "replace") and not self._editable:
            return ""
        return self.text.tk.call(self._real_command, *args)

    @contextmanager
    def _editing(self) -> Iterator[None]:
        self._editable = True
        try:
            yield
        finally:
            self._editable = False

    def _destroyed(self) -> None:
        # Tk deleted the real command with the widget; the wrapper goes too, and a scroll
        # still to do would call a widget that is gone.
        self._cancel_see_end()
        self.text.tk.deletecommand(str(self.text))

    def _insert_text(self, index: str, text: str, tags: tuple[str, ...]) -> None:
        """Insert message text: every emoji, and every character Tk cannot draw, as an image."""
        self.emoji.insert(self.text, index, text, tags)

    def _configure_tags(self) -> None:
        text = self.text
        # Tags made later win where they overlap: styles first, then what marks
        # a piece of text (links, your name), then the delivery states.
        text.tag_configure("time", foreground=p.MUTED, font=p.FONT_SMALL)
        text.tag_configure("admin", foreground=p.ADMIN)
        text.tag_configure("body", foreground=p.TEXT)
        text.tag_configure("action", foreground=p.TEXT, font=(p.FONT_FAMILY, p.FONT_SIZE, "italic"))
        text.tag_configure("message", lmargin1=0, lmargin2=GUTTER_PX, tabs=(GUTTER_PX,))
        # A little air above each group, none between its lines.
        text.tag_configure("group_start", spacing1=9)
        text.tag_configure("grouped", lmargin1=GUTTER_PX, lmargin2=GUTTER_PX, spacing1=1)
        text.tag_configure("system", foreground=p.SYSTEM, font=p.FONT_ITALIC, justify="left")
        text.tag_configure("warning", foreground=p.WARNING, font=p.FONT_ITALIC)
        text.tag_configure("error", foreground=p.ERROR_TEXT)
        text.tag_configure("reply_header", foreground=p.MUTED)
        text.tag_configure("command", foreground=p.TEXT_BRIGHT, font=(MONOSPACE, p.FONT_SIZE - 1, "bold"))
        text.tag_configure(
            "reply",
            background=p.INPUT,
            foreground=p.TEXT,
            font=(MONOSPACE, p.FONT_SIZE - 1),
            lmargin1=GUTTER_PX,
            lmargin2=GUTTER_PX,
            # The block starts under the text, not under the times.
            lmargincolor=p.CHAT,
            rmargin=16,
            spacing1=0,
            spacing3=0,
        )
        # Padding above and below each reply block, so consecutive replies stay apart.
        text.tag_configure("reply_start", spacing1=4)
        text.tag_configure("reply_end", spacing3=8)
        text.tag_configure(
            "divider", foreground=p.MUTED, font=p.FONT_SMALL, justify="center", spacing1=6, spacing3=6
        )
        text.tag_configure(
            "day",
            foreground=p.TEXT,
            font=(p.FONT_FAMILY, p.FONT_SIZE - 2, "bold"),
            justify="center",
            spacing1=14,
        )
        text.tag_configure("rule", foreground=p.BORDER)
        text.tag_configure("card", lmargin1=GUTTER_PX, lmargin2=GUTTER_PX, spacing1=4, spacing3=6)
        text.tag_configure(
            "older", foreground=p.MUTED, font=p.FONT_ITALIC, justify="center", spacing1=8, spacing3=4
        )
        text.tag_configure("mentioned", background=p.MENTION_LINE, lmargincolor=p.MENTION_LINE)
        text.tag_configure("link", foreground=p.LINK, underline=True)
        text.tag_configure("mention", background=p.MENTION, foreground=p.TEXT_BRIGHT, font=p.FONT_BOLD)
        # Your messages: grey until the server acknowledges them, red when they failed.
        text.tag_configure("pending", foreground=p.MUTED)
        text.tag_configure("failed", foreground=p.ERROR_TEXT, overstrike=True)
        text.tag_configure("note", foreground=p.MUTED, font=p.FONT_ITALIC)
        text.tag_configure("failed_note", foreground=p.ERROR_TEXT, font=p.FONT_ITALIC)
        text.tag_configure("resend", foreground=p.LINK, underline=True, font=p.FONT_ITALIC)
        # Made first, the selection would hide under every tinted line and block.
        text.tag_raise("sel")
        for tag, clicked in (("resend", self._resend_clicked), ("link", self._link_clicked)):
            text.tag_bind(tag, "<Button-1>", clicked)
            text.tag_bind(tag, "<Enter>", lambda _: text.configure(cursor="hand2"))
            text.tag_bind(tag, "<Leave>", lambda _: text.configure(cursor="arrow"))

    def _sender_tag(self, colour: str) -> str:
        tag = f"sender{colour}"
        if tag not in self._sender_tags:
            self.text.tag_configure(tag, foreground=colour, font=p.FONT_BOLD)
            self._sender_tags.add(tag)
        return tag

    def _resend_clicked(self, event: tk.Event) -> None:
        for tag in self.text.tag_names(f"@{event.x},{event.y}"):
            if tag.startswith("own"):
                self._on_resend(int(tag[3:]))
                return

    def _link_at(self, index: str) -> str:
        """The address of the link at ``index``."""
        return link_url(self._selected_text(*self.text.tag_prevrange("link", f"{index} +1c")))

    def _link_clicked(self, event: tk.Event) -> None:
        self._open_link(self._link_at(f"@{event.x},{event.y}")).addErrback(self._link_failed)

    def _link_failed(self, failure: Failure) -> None:
        failure.trap(LinkNotOpened)
        self.log.warn("{problem}", problem=str(failure.value))
        # Said where the user clicked; a view's own note, not part of the conversation.
        self.add_line(ChatLine(LineKind.ERROR, str(failure.value), time.time()))

    def _selected_text(self, start: str, end: str) -> str:
        return selected_text(self.text, start, end)

    def _insert_text(self, index: str, text: str, tags: tuple[str, ...]) -> None:
        """Insert ``text`` with ``tags`` at ``index``: every piece of a line goes in here, every
        emoji (and every character Tk cannot draw) as an image."""
        self.emoji.insert(self.text, index, text, tags)

    def _open_menu(self, event: tk.Event) -> None:
        """Right-click: copy the selection, the line under the pointer, or its sender's name."""
        index = self.text.index(f"@{event.x},{event.y}")
        row = int(index.split(".")[0])
        self.menu.delete(0, "end")
        if self.text.tag_ranges("sel"):
            self.menu.add_command(label="Copy", command=self._copy_selection)
        if "link" in self.text.tag_names(index):
            url = self._link_at(index)
            self.menu.add_command(label="Copy link", command=lambda: self._copy(url))
        message = self.line_text(row)
        if message:
            self.menu.add_command(label="Copy message", command=lambda: self._copy(message))
        sender = self.line_sender(row)
        if sender:
            self.menu.add_command(label="Copy name", command=lambda: self._copy(sender))
        if self.menu.index("end") is not None:
            self.menu.tk_popup(event.x_root, event.y_root)

    def _copy(self, text: str) -> None:
        self.text.clipboard_clear()
        self.text.clipboard_append(text)

    def _copy_selection(self) -> None:
        ranges = self.text.tag_ranges("sel")
        if ranges:
            self._copy(self._selected_text(str(ranges[0]), str(ranges[-1])))

    def line_text(self, row: int) -> str:
        """What was said on text row ``row``, without time or name; a command's whole answer on its
        header or block."""
        text = self.text
        start, end = f"{row}.0", f"{row}.end"
        tags = text.tag_names(start)
        if "reply_header" in tags:
            block = text.tag_nextrange("reply", end)
        elif "reply" in tags:
            block = text.tag_prevrange("reply", f"{start} +1c")
        else:
            block = (start, end)
        if not block:
            return ""
        pieces = []
        position, block_end = block
        while found := text.tag_nextrange("content", position, block_end):
            pieces.append(self._selected_text(*found))
            position = found[1]
        return "\n".join(pieces)

    def line_sender(self, row: int) -> str:
        """Who said text row ``row`` (a grouped line's is the name above it); "" for other lines."""
        text = self.text
        found = text.tag_nextrange("name", f"{row}.0", f"{row}.end")
        if not found and "grouped" in text.tag_names(f"{row}.0"):
            found = text.tag_prevrange("name", f"{row}.0")
        return text.get(*found) if found else ""

    def clear(self) -> None:
        with self._editing():
            self.text.delete("1.0", "end")
        if self._times:
            self.text.mark_unset(*self._times)
            self._times.clear()
        self.hover_time.place_forget()
        self.following = True
        self.new_below.place_forget()

    def _hover(self, event: tk.Event) -> None:
        """Over a grouped line, its time shows in the gutter, where a first line has its own."""
        row = self.text.index(f"@{event.x},{event.y}").split(".")[0]
        ts = self._grouped_time(f"{row}.0")
        shown = self.text.dlineinfo(f"{row}.0") if ts is not None else None
        if ts is None or shown is None:
            self.hover_time.place_forget()
            return
        _, y, _, _, baseline = shown
        mentioned = "mentioned" in self.text.tag_names(f"{row}.0")
        self.hover_time.configure(text=clock_text(ts), background=p.MENTION_LINE if mentioned else p.CHAT)
        padding = int(self.text.cget("padx"))
        # "outside": at window coordinates, as dlineinfo gives them, not inside the text's padding.
        self.hover_time.place(
            x=padding, y=y + baseline + self._hover_descent, anchor="sw", bordermode="outside"
        )

    def _left(self, event: tk.Event) -> None:
        # Moving onto the time label leaves the text too: keep the label then.
        pointed = self.text.winfo_containing(*self.text.winfo_pointerxy())
        if pointed is not self.hover_time:
            self.hover_time.place_forget()

    def _grouped_time(self, start: str) -> float | None:
        if "grouped" not in self.text.tag_names(start):
            return None
        name = self.text.mark_next(start)
        while name and self.text.compare(name, "==", start):
            if name in self._times:
                return self._times[name]
            name = self.text.mark_next(name)
        return None

    def _forget_times_before(self, index: str, start: str = "1.0") -> None:
        name = self.text.mark_next(start)
        while name and self.text.compare(name, "<", index):
            after = self.text.mark_next(name)
            if self._times.pop(name, None) is not None:
                self.text.mark_unset(name)
            name = after

    def _at_bottom(self) -> bool:
        return self.text.yview()[1] >= 0.999

    def _scroll_by_user(self, *args: str) -> None:
        self._see_end_now()
        self.text.yview(*args)
        self._scrolled()

    def _scrolled(self) -> None:
        """The user scrolled: follow new lines again only from the bottom; at the top, ask for older lines."""
        self.hover_time.place_forget()
        self.following = self._at_bottom()
        if self.following:
            self.new_below.place_forget()
        if self.text.yview()[0] <= 0.0:
            self._on_top()

    def _keep_following(self) -> None:
        if self.following and not self._at_bottom():
            self.text.see("end")

    def scroll_to_end(self) -> None:
        """Show the newest line and follow again (the "new messages below" marker)."""
        self.following = True
        self.new_below.place_forget()
        self._see_end_soon()

    def _see_end_soon(self) -> None:
        """Scroll to the end once Tk is idle: ``see`` lays out the text and costs more than a line
        does, so a burst of lines scrolls once, not once per line."""
        if self._see_end_call is None:
            self._see_end_call = self.text.after_idle(self._see_end)

    def _see_end(self) -> None:
        self._see_end_call = None
        self.hover_time.place_forget()
        self.text.see("end")

    def _see_end_now(self) -> None:
        if self._see_end_call is not None:
            self._cancel_see_end()
            self._see_end()

    def _cancel_see_end(self) -> None:
        if self._see_end_call is not None:
            self.text.after_cancel(self._see_end_call)
            self._see_end_call = None

    def add_line(self, line: ChatLine) -> None:
        """Append ``line``; follow it if the view follows (else show the marker), and always your own."""
        text = self.text
        self._mark_time(line, "end-1c")
        with self._editing():
            self._insert_line("end", line)
            lines = int(text.index("end-1c").split(".")[0])
            if lines > MAX_CHAT_LINES * 2:
                cut = f"{lines - MAX_CHAT_LINES}.0"
                self._forget_times_before(cut)
                text.delete("1.0", cut)
                self.hover_time.place_forget()
        if self.following or line.own:
            self.scroll_to_end()
        else:
            self.new_below.place(in_=text, relx=0.5, rely=1.0, anchor="s", y=-10)

    def _mark_time(self, line: ChatLine, index: str) -> None:
        """A grouped line shows no time: a mark where it goes keeps its time for the hover."""
        if _looks_grouped(line):
            self._marks_made += 1
            name = f"time{self._marks_made}"
            # Left gravity: the line inserted at the mark goes after it.
            self.text.mark_set(name, index)
            self.text.mark_gravity(name, "left")
            self._times[name] = line.ts

    def _status_rows(self) -> int:
        return 1 if self.text.tag_ranges("older") else 0

    @contextmanager
    def _keeping_place(self, rows_above: int) -> Iterator[None]:
        """Around an edit of the top rows: the first row shown below the ``rows_above`` top rows
        stays under the same pixel row, whatever was put in or taken out above it."""
        text = self.text
        text.update_idletasks()
        row = max(int(text.index("@0,0").split(".")[0]), rows_above + 1)
        shown = text.dlineinfo(f"{row}.0")
        # Right gravity: lines put in just before it go above it.
        text.mark_set("reading", f"{row}.0")
        text.mark_gravity("reading", "right")
        try:
            yield
        finally:
            if shown is not None:
                text.yview("reading")
                text.update_idletasks()
                now = text.dlineinfo("reading")
                if now is not None and now[1] != shown[1]:
                    text.yview_scroll(now[1] - shown[1], "pixels")
            text.mark_unset("reading")

    def prepend_lines(self, lines: list[ChatLine], replaced: int) -> None:
        """Put ``lines`` above the first ``replaced`` lines (below the status row), which go;
        what the user was reading stays where it was on screen."""
        text = self.text
        status = self._status_rows()
        with self._keeping_place(status + replaced), self._editing():
            first = f"{status + 1}.0"
            if replaced:
                end = f"{status + replaced + 1}.0"
                self._forget_times_before(end, first)
                text.delete(first, end)
            text.mark_set("prepend", first)
            text.mark_gravity("prepend", "right")
            for line in lines:
                self._mark_time(line, "prepend")
                self._insert_line("prepend", line)
            text.mark_unset("prepend")
        self.hover_time.place_forget()

    def show_older(self, status: str) -> None:
        """The top row says ``status`` ("Loading…", "Start of history", an error), or goes with ""."""
        text = self.text
        at_top = text.yview()[0] <= 0.0
        rows = self._status_rows()
        # At the very top the row is meant to be seen; further down it must not move what is read.
        with self._keeping_place(rows) if not at_top else _nothing(), self._editing():
            if rows:
                text.delete("1.0", "2.0")
            if status:
                self._insert_text("1.0", "\n", ("older",))
                self._insert_text("1.0", status, ("older", "content"))

    def update_line(self, line: ChatLine) -> None:
        """Redraw your message ``line.serial`` in place, with its new delivery state."""
        text = self.text
        ranges = text.tag_ranges(f"own{line.serial}")
        if not ranges:
            return
        with self._editing():
            text.delete(ranges[0], ranges[-1])
            # A mark with right gravity moves past each piece inserted at it.
            text.mark_set("redraw", ranges[0])
            text.mark_gravity("redraw", "right")
            self._insert_line("redraw", line)
            text.mark_unset("redraw")
        if self.following:
            self._see_end_soon()

    def _insert_line(self, index: str, line: ChatLine) -> None:
        if line.kind is LineKind.MESSAGE and line.sender:
            pieces, line_tags = self._message_pieces(line)
        elif line.kind is LineKind.REPLY:
            pieces, line_tags = self._reply_pieces(line), ()
        elif line.kind is LineKind.DAY:
            pieces = [
                (DAY_RULE, ("rule",)),
                ("  ", ()),
                (line.text, ("content",)),
                ("  ", ()),
                (DAY_RULE, ("rule",)),
                ("\n", ()),
            ]
            line_tags = ("day",)
        elif line.kind is LineKind.DIVIDER:
            pieces = [(f"{DIVIDER_RULE}  ", ()), (line.text, ("content",)), (f"  {DIVIDER_RULE}\n", ())]
            line_tags = ("divider",)
        else:
            style = _NOTICE_STYLES.get(line.kind, "system")
            pieces = [(clock_text(line.ts), ("time",)), ("\t", ())]
            pieces += [
                (piece, (style, "content", *marks))
                for piece, marks in _marked_pieces(line.text, _link_marks(line.text))
            ]
            pieces.append(("\n", ()))
            line_tags = ("message",)
        for piece, tags in pieces:
            self._insert_text(index, piece, (*tags, *line_tags))
        if line.kind is LineKind.MESSAGE and line.file is not None and self._make_card is not None:
            self._insert_card(index, line, line_tags)

    def _insert_card(self, index: str, line: ChatLine, line_tags: tuple[str, ...]) -> None:
        """The file's card on a row of its own under the message, part of the line (a redraw or
        a cut takes it too: Tk destroys an embedded window whose text is deleted)."""
        at = self.text.index("end-1c" if index == "end" else index)
        card = self._make_card(self.text, line)
        self._cards.append(card)
        self.text.window_create(index, window=card.frame, pady=2)
        for tag in (*line_tags, "card"):
            self.text.tag_add(tag, at)
        self._insert_text(index, "\n", (*line_tags, "card"))

    def transfer_changed(self, transfer: Transfer) -> None:
        """Redraw the cards showing ``transfer`` (forgetting those Tk destroyed with their line)."""
        self._cards = [card for card in self._cards if card.frame.winfo_exists()]
        for card in self._cards:
            card.show(transfer)

    def _message_pieces(self, line: ChatLine) -> tuple[Pieces, tuple[str, ...]]:
        """A message's pieces, and the tags of the whole line. An action always shows its name."""
        headed = not _looks_grouped(line)
        line_tags = ["message", "group_start" if headed else "grouped"]
        if line.mentioned:
            line_tags.append("mentioned")
        if line.serial:
            line_tags.append(f"own{line.serial}")
        pieces: Pieces = []
        if headed:
            pieces += [(clock_text(line.ts), ("time",)), ("\t", ())]
            if line.action:
                pieces.append(("* ", ("action",)))
            if line.sender_admin:
                pieces.append(("★ ", ("admin",)))
            pieces.append((line.sender or "", (self._sender_tag(line.colour or p.TEXT), "name")))
            pieces.append((" " if line.action else "  ", ()))
        style = "action" if line.action else "body"
        delivery = (_DELIVERY_TAGS[line.delivery],) if line.delivery is not None else ()
        marks = _link_marks(line.text)
        if line.mentioned:
            marks += [(start, end, "mention") for start, end in mention_spans(line.text, self.nick())]
        for piece, piece_marks in _marked_pieces(line.text, marks):
            pieces.append((piece, (style, "content", *piece_marks, *delivery)))
        if line.delivery is not None and _DELIVERY_MARKS[line.delivery]:
            pieces.append((_DELIVERY_MARKS[line.delivery], (style, "note")))
        if line.note:
            pieces.append(
                (f"  {line.note}", ("failed_note" if line.delivery is Delivery.FAILED else "note",))
            )
        if line.resendable:
            pieces.append(("  Send again", ("resend",)))
        pieces.append(("\n", ()))
        return pieces, tuple(line_tags)

    def _reply_pieces(self, line: ChatLine) -> Pieces:
        """A header naming what you typed, with the time, above the answer's block."""
        pieces: Pieces = [
            (clock_text(line.ts), ("time", "message", "group_start", "reply_header")),
            ("\t› ", ("message", "group_start", "reply_header")),
            (line.command or "answer", ("command", "message", "group_start", "reply_header")),
            ("\n", ("message", "group_start", "reply_header")),
        ]
        rows = line.text.split("\n")
        for number, row in enumerate(rows):
            tags = ["reply"]
            if number == 0:
                tags.append("reply_start")
            if number == len(rows) - 1:
                tags.append("reply_end")
            # A space of padding inside the block, left out of what is copied.
            pieces.append((" ", tuple(tags)))
            pieces += [
                (piece, (*tags, "content", *marks)) for piece, marks in _marked_pieces(row, _link_marks(row))
            ]
            # The newline too: a tag's background reaches the right edge only from it.
            pieces.append(("\n", tuple(tags)))
        return pieces
