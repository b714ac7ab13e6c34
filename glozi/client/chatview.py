"""The chat screen: the sidebar of conversations, one transcript per conversation, the message field and the member list."""

import tkinter as tk
from tkinter import filedialog, ttk

from glozi.client import palette as p
from glozi.client.emojitk import EmojiIcons, EmojiPicker
from glozi.client.filecards import FileCard
from glozi.client.palette import user_colour
from glozi.client.state import (
    ChatLine,
    ChatState,
    Conversation,
    PrivateChat,
    Screen,
    Transfer,
    older_text,
)
from glozi.client.texts import clock_text
from glozi.client.transcript import TranscriptView
from glozi.client.widgets import FieldEntry, MainWindow, popup_menu, side_list

EMOJI_BUTTON_PIXELS = 20


class Sidebar:
    """The conversations on the left: SESSIONS and PRIVATE, each with its unread count and
    an "@" when it named you; the shown one selected. A click shows one; *+ Join / create*
    shows the session list."""

    GROUPS = (("sessions", "SESSIONS"), ("private", "PRIVATE"))

    def __init__(self, window: MainWindow, parent: ttk.Frame) -> None:
        self.window = window
        self.frame = ttk.Frame(parent, name="sidebar", padding=(10, 14, 10, 12))
        self.frame.rowconfigure(0, weight=1)
        self.list = side_list(self.frame, "conversations", "badge", (130, 44))
        self.list.tag_configure("group", foreground=p.MUTED, font=p.FONT_SMALL)
        self.list.tag_configure("unread", foreground=p.TEXT_BRIGHT, font=p.FONT_BOLD)
        self.list.tag_configure("read", foreground=p.MUTED)
        self.list.tag_configure("mentioned", foreground=p.WARNING, font=p.FONT_BOLD)
        self.list.grid(row=0, column=0, sticky="ns")
        for group, title in self.GROUPS:
            self.list.insert("", "end", iid=group, text=title, open=True, tags=("group",))
        self.list.bind("<<TreeviewSelect>>", self._selected)
        ttk.Button(
            self.frame, name="join", text="+ Join / create", command=window.model.show_sessions
        ).grid(row=1, column=0, sticky="we", pady=(8, 0))

    def _selected(self, _: tk.Event) -> None:
        model = self.window.model
        selected = self.list.selection()
        if selected and selected[0] in model.conversations:
            if selected[0] != model.current or model.screen is not Screen.CHAT:
                model.switch_to(selected[0])
        else:
            self._select_current()

    def _select_current(self) -> None:
        current = self.window.model.current
        if current is not None and self.list.exists(current):
            if self.list.selection() != (current,):
                self.list.selection_set(current)
        elif self.list.selection():
            self.list.selection_remove(*self.list.selection())

    def render(self) -> None:
        model = self.window.model
        for group, _ in self.GROUPS:
            self.list.delete(*self.list.get_children(group))
        for key, conversation in model.conversations.items():
            group = "sessions" if isinstance(conversation, ChatState) else "private"
            badge = ("@ " if conversation.mentioned else "") + (str(conversation.unread) if conversation.unread else "")
            tag = "mentioned" if conversation.mentioned else "unread" if conversation.unread else "read"
            self.list.insert(group, "end", iid=key, text=conversation.title, values=(badge,), tags=(tag,))
        self._select_current()
        if model.conversations and model.screen in (Screen.LOBBY, Screen.CHAT):
            self.frame.grid(row=0, column=0, sticky="ns")
        else:
            self.frame.grid_remove()


class ChatView:
    """The conversation shown: its transcript (one ``TranscriptView`` per conversation, made
    when first shown and raised when shown again, so each keeps its scroll position), the
    message entry and the member list."""

    def __init__(self, window: MainWindow, parent: ttk.Frame) -> None:
        self.window = window
        icons = window.icons
        self.frame = ttk.Frame(parent, name="chat", style="Chat.TFrame")
        self.frame.columnconfigure(0, weight=1)
        self.frame.rowconfigure(0, weight=1)

        left = ttk.Frame(self.frame, name="main", style="Chat.TFrame")
        self.main = left
        left.grid(row=0, column=0, sticky="nswe")
        left.columnconfigure(0, weight=1)
        left.rowconfigure(0, weight=1)
        self._transcripts: dict[str, tuple[Conversation, TranscriptView]] = {}
        self._private_names = 0
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
        ttk.Button(
            bottom, name="attach", image=emoji_icons.icon("📎", EMOJI_BUTTON_PIXELS), style="Icon.TButton", command=self.attach
        ).grid(row=0, column=2, padx=(8, 0))
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
        ).grid(row=0, column=3, padx=(8, 0))

        side = ttk.Frame(self.frame, name="side", padding=(12, 14, 12, 12))
        side.grid(row=0, column=1, sticky="ns")
        side.rowconfigure(1, weight=1)
        self.members_title = ttk.Label(side, name="members_title", style="Muted.TLabel", font=p.FONT_SMALL)
        self.members_title.grid(row=0, column=0, sticky="w", pady=(0, 8))
        self.members = side_list(side, "members", "joined", (150, 60))
        self.members.tag_configure("you", font=p.FONT_BOLD)
        self.members.tag_configure("away", foreground=p.MUTED)
        self.members.grid(row=1, column=0, sticky="ns")
        self.members.bind("<Double-1>", self._member_double_click)
        self.members.bind("<Button-3>", self._member_menu)
        self.away = ttk.Label(
            side, name="away", style="Muted.TLabel", font=p.FONT_SMALL, wraplength=200, justify="left"
        )
        self.away.grid(row=2, column=0, sticky="w", pady=(8, 0))
        self.member_menu = popup_menu(self.members, "member_menu")
        self._menu_member = ""
        self.member_menu.add_command(
            label="Send a private message", command=lambda: window.model.open_private(self._menu_member)
        )
        self._member_tags: set[str] = set()

    @property
    def transcript(self) -> TranscriptView | None:
        """The transcript of the conversation shown, if one is."""
        shown = self._transcripts.get(self.window.model.current or "")
        return shown[1] if shown is not None else None

    def transcript_for(self, key: str) -> TranscriptView:
        """The transcript of conversation ``key``, made (with the lines it has so far) when first asked for."""
        conversation = self.window.model.conversations[key]
        made = self._transcripts.get(key)
        if made is not None and made[0] is conversation:
            return made[1]
        if made is not None:
            made[1].frame.destroy()
        if isinstance(conversation, ChatState):
            name = f"session{conversation.session.id}"
        else:
            self._private_names += 1
            name = f"private{self._private_names}"
        view = TranscriptView(
            self.main,
            name,
            self.window.model.resend,
            on_top=lambda: self.window.model.load_older(key),
            nick=lambda: self.window.model.nick,
            card=lambda text, line: FileCard(text, line, self.window.model, self.window.model.transfers.get),
        )
        view.frame.grid(row=0, column=0, columnspan=2, sticky="nswe")
        for line in conversation.lines:
            view.add_line(line)
        if isinstance(conversation, ChatState):
            view.show_older(older_text(conversation))
        self._transcripts[key] = (conversation, view)
        return view

    def forget_gone(self) -> None:
        """Drop the transcripts of conversations that ended."""
        conversations = self.window.model.conversations
        for key, (conversation, view) in list(self._transcripts.items()):
            if conversations.get(key) is not conversation:
                view.frame.destroy()
                del self._transcripts[key]

    def show(self) -> None:
        """Raise the shown conversation's transcript."""
        key = self.window.model.current
        if key is None or key not in self.window.model.conversations:
            return
        self.transcript_for(key).frame.tkraise()
        self.render_sending()

    def _member_at(self, event: tk.Event) -> str:
        row = self.members.identify_row(event.y)
        member = self.members.item(row, "tags") if row else ()
        return "" if not row or "you" in member else row

    def _member_double_click(self, event: tk.Event) -> None:
        name = self._member_at(event)
        if name:
            self.window.model.open_private(name)

    def _member_menu(self, event: tk.Event) -> None:
        self._menu_member = self._member_at(event)
        if self._menu_member:
            self.member_menu.tk_popup(event.x_root, event.y_root)

    def _insert_emoji(self, cluster: str) -> None:
        """Put a picked emoji's characters at the message field's cursor (the field's limit applies)."""
        entry = self.message.entry
        entry.insert("insert", cluster)
        entry.focus_set()

    def attach(self) -> None:
        """*Attach*: share a file the user picks (``choose_file``) in the conversation shown."""
        path = self.choose_file()
        if path:
            self.window.model.attach(path)
            self.message.entry.focus_set()

    def choose_file(self) -> str:
        """The file chooser (Tk's); "" when the user cancels it."""
        return str(filedialog.askopenfilename(parent=self.frame.winfo_toplevel(), title="Share a file") or "")

    def transfer_changed(self, transfer: Transfer) -> None:
        for _, view in self._transcripts.values():
            view.transfer_changed(transfer)

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

    def add_line(self, key: str, line: ChatLine) -> None:
        made = self._transcripts.get(key)
        # A conversation never shown has no transcript yet: it gets its lines when first shown.
        if made is not None and made[0] is self.window.model.conversations.get(key):
            made[1].add_line(line)

    def prepend_lines(self, key: str, lines: list[ChatLine], replaced: int) -> None:
        made = self._transcripts.get(key)
        if made is not None and made[0] is self.window.model.conversations.get(key):
            made[1].prepend_lines(lines, replaced)

    def show_older(self, key: str) -> None:
        made = self._transcripts.get(key)
        conversation = self.window.model.conversations.get(key)
        if made is not None and made[0] is conversation and isinstance(conversation, ChatState):
            made[1].show_older(older_text(conversation))

    def update_line(self, key: str, line: ChatLine) -> None:
        made = self._transcripts.get(key)
        if made is not None and made[0] is self.window.model.conversations.get(key):
            made[1].update_line(line)

    def render_sending(self) -> None:
        hint = self.window.model.sending
        self.sending.configure(text=hint)
        transcript = self.transcript
        if hint and transcript is not None:
            self.sending.place(in_=transcript.text, relx=1.0, rely=1.0, anchor="se", x=-14, y=-10)
            self.sending.lift()
        else:
            self.sending.place_forget()

    def render_members(self) -> None:
        conversation = self.window.model.conversation
        self.members.delete(*self.members.get_children())
        self.away.configure(text="")
        if conversation is None:
            return
        if isinstance(conversation, PrivateChat):
            self.members_title.configure(text="PRIVATE CHAT")
            self._insert_member(conversation.name, conversation.name, (), "")
            return
        self.members_title.configure(text=f"MEMBERS — {len(conversation.members)}")
        away = []
        for member in conversation.members:
            label = member.name + (" (you)" if member.you else "")
            if member.admin:
                label = "★ " + label
            tags = ("you",) if member.you else ()
            if member.away is not None:
                tags = (*tags, "away")
                away.append(f"{member.name} is away: {member.away}")
            self._insert_member(member.name, label, tags, clock_text(member.joined))
        self.away.configure(text="\n".join(away))

    def _insert_member(self, name: str, label: str, tags: tuple[str, ...], joined: str) -> None:
        if "away" not in tags:
            # Away members are grey, not in their colour.
            colour = user_colour(name)
            tags = (f"c{colour}", *tags)
            if tags[0] not in self._member_tags:
                self.members.tag_configure(tags[0], foreground=colour)
                self._member_tags.add(tags[0])
        self.members.insert("", "end", iid=name, text=label, values=(joined,), tags=tags)

