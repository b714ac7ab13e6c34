"""In a session: the transcript, the member list, and the lines going out."""

import re
from dataclasses import replace
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionLost
from twisted.python.failure import Failure

from glozi.client.fields import paste_lines
from glozi.client.protocol import ClientProtocol, Frame, FrameTooLong, ServerError
from glozi.client.state import (
    OLDER_PAGE,
    Aspect,
    ChatLine,
    ChatState,
    ClientState,
    Conversation,
    Delivery,
    LineKind,
    MemberRow,
    Notice,
    Older,
    Outgoing,
    PrivateChat,
    Screen,
    above,
    member_row,
    private_key,
    session_key,
    session_row,
    shared_file,
)
from glozi.client.texts import duration_text
from glozi.domain.names import name_key
from glozi.doors.native.wire import is_printable

HISTORY_DIVIDER = "Earlier messages above"
ACTION_COMMAND = re.compile(r"/me (.*\S.*)", re.DOTALL)
"""``/me waves``: an action (the native door's ``say`` with ``"action": true``), not a server command."""
WAITING_NOTE = "Waiting for the connection; it is sent once reconnected."
LOST_NOTE = "Not confirmed: the connection was lost. It is sent again once reconnected, unless the server has it."
_LARGEST_SESSION_ID = 2**31
"""The longest ``session`` a say carries, so a text that fits fits in any session (or a ``private``)."""
NO_COMMANDS_HERE = "Commands work in a session: switch to one (only /me works in a private chat)."
_MEMBER_LEFT_TEXT = {
    "quit": "{name} left the session.",
    "kicked": "{name} was kicked by {by}.",
    "timeout": "{name} was removed after being inactive.",
    "disconnected": "{name} disconnected.",
}


def message_line(frame: Frame) -> ChatLine:
    """The transcript line of a ``message`` or ``private_message`` someone sent."""
    return ChatLine(
        LineKind.MESSAGE,
        str(frame["text"]),
        float(frame["ts"]),
        sender=str(frame["from"]),
        action=frame.get("action") is True,
        msgid=str(frame.get("msgid") or ""),
        file=shared_file(frame.get("file")),
    )


class Chatroom(ClientState):
    """Chatting: the conversations (sessions and private chats), sending and resending
    lines within the flood budget, commands, and the events of each session."""

    def _enter_chat(self, frame: Frame, password: str | None = None) -> None:
        session = session_row(frame["session"])
        you = self.nick = str(frame["you"])
        members = [member_row(m, you) for m in frame["members"]]
        chat = ChatState(
            key=session_key(session.id),
            session=session,
            you=you,
            members=members,
            idle_timeout=frame.get("idle_timeout"),
            password=password,
        )
        self.conversations[chat.key] = chat
        self.notice = Notice()
        self.exit_feedback = Notice()
        self.switch_to(chat.key)
        self._render(Aspect.NOTICE, Aspect.EXIT_CODE)
        now = self.clock.seconds()
        intro = [
            ChatLine(
                LineKind.SYSTEM,
                f"You created {session.name}. You are its admin."
                if session.admin == you and session.creator == you
                else f"You joined {session.name} as {you}.",
                now,
            )
        ]
        if chat.idle_timeout:
            intro.append(
                ChatLine(
                    LineKind.SYSTEM,
                    f"Members who write nothing for {duration_text(chat.idle_timeout)} are removed. "
                    "/help lists the commands.",
                    now,
                )
            )
        chat.history_left = int(frame.get("history") or 0)
        if chat.history_left:
            chat.after_history = [ChatLine(LineKind.DIVIDER, HISTORY_DIVIDER, now), *intro]
        else:
            for line in intro:
                self._add_line(chat, line)

    def switch_to(self, key: str) -> None:
        """Show conversation ``key`` (a sidebar click): its unread count and mention mark go."""
        conversation = self.conversations.get(key)
        if conversation is None:
            return
        self.current = key
        if self.focused:
            self._mark_read(conversation)
        self._set_screen(Screen.CHAT)
        self._render(Aspect.HEADER, Aspect.MEMBERS, Aspect.CONVERSATIONS)

    def open_private(self, name: str) -> None:
        """Open (or show) the private chat with ``name``, from the member list."""
        if self.nick is not None and name_key(name) == name_key(self.nick):
            return
        self.switch_to(self._private_chat(name).key)

    def _private_chat(self, name: str) -> PrivateChat:
        key = private_key(name)
        chat = self.conversations.get(key)
        if not isinstance(chat, PrivateChat):
            chat = self.conversations[key] = PrivateChat(key=key, name=name)
            self._render(Aspect.CONVERSATIONS)
        return chat

    def _forget(self, conversation: Conversation) -> None:
        """Drop a conversation and what waits to be sent in it."""
        self.conversations.pop(conversation.key, None)
        self.outbox = [item for item in self.outbox if item.key != conversation.key]
        if self.current == conversation.key:
            self.current = None
        self._render(Aspect.CONVERSATIONS)

    def _show_another(self) -> bool:
        """After the shown conversation went: show the last session joined, else the last private chat."""
        if self.current is not None:
            return True
        remaining = self.sessions_in or list(self.conversations.values())
        if not remaining:
            return False
        self.switch_to(remaining[-1].key)
        return True

    def _session_chat(self, frame: Frame) -> ChatState | None:
        """The session a frame is about (its ``session``; without one, the only session you are in)."""
        if "session" in frame and frame["session"] is not None:
            chat = self.conversations.get(session_key(int(frame["session"])))
            return chat if isinstance(chat, ChatState) else None
        sessions = self.sessions_in
        return sessions[0] if len(sessions) == 1 else None

    @staticmethod
    def _member(chat: ChatState, name: str) -> MemberRow | None:
        key = name_key(name)
        return next((m for m in chat.members if name_key(m.name) == key), None)

    def send(self, text: str) -> bool:
        """Send what the user typed in the conversation shown: a message, or a
        ``/command args``; text with line breaks (a paste) goes to ``send_lines``.

        A message appears in the transcript at once, pending until the server
        acknowledges it. Returns ``False`` (and sends nothing, so the field
        keeps the text) for blank text, text that cannot be sent (the
        transcript says why), or with no conversation shown.
        """
        conversation, protocol = self.conversation, self.protocol
        if conversation is None or not text.strip():
            return False
        if "\n" in text or "\r" in text:
            return self.send_lines(text)
        action = ACTION_COMMAND.fullmatch(text)
        if action is not None:
            return self._send_action(conversation, action.group(1))
        if text.strip() == "/me":
            self._system("Type what you do after /me, like /me waves.", LineKind.ERROR)
            return False
        if text.startswith("/"):
            if not isinstance(conversation, ChatState):
                self._system(NO_COMMANDS_HERE, LineKind.ERROR)
                return False
            if protocol is None or self.reconnecting or conversation.rejoining:
                self._system("Not connected: commands cannot wait. Try again once reconnected.", LineKind.ERROR)
                return False
            name, _, args = text[1:].partition(" ")
            self._run_command(protocol, conversation, name.strip(), args.strip(), text.strip())
            return True
        problem = self._unsendable(text)
        if problem is not None:
            self._system(f"Not sent: this message {problem}.", LineKind.ERROR)
            return False
        self._send_message(conversation, text)
        return True

    def _send_action(self, conversation: Conversation, text: str) -> bool:
        """``/me TEXT``: an action, sent (and kept for a reconnection) like a message."""
        problem = self._unsendable(text)
        if problem is not None:
            self._system(f"Not sent: this action {problem}.", LineKind.ERROR)
            return False
        self._send_message(conversation, text, action=True)
        return True

    def send_lines(self, text: str) -> bool:
        """Send a multi-line paste as one message per line that is not blank, in
        order (a line starting with ``/`` is a message too, never a command).

        When any line cannot be sent, nothing is: the transcript says which line
        and why, and ``False`` tells the view to keep the text.
        """
        conversation = self.conversation
        lines = paste_lines(text)
        if conversation is None or not lines:
            return False
        for number, line in enumerate(lines, 1):
            problem = self._unsendable(line)
            if problem is not None:
                self._system(
                    f"Nothing was sent: line {number} of the {len(lines)} pasted {problem}.", LineKind.ERROR
                )
                return False
        for line in lines:
            self._send_message(conversation, line)
        return True

    def _unsendable(self, text: str) -> str | None:
        """Why the server would refuse ``text`` as a message, or ``None``."""
        if len(text) > self.max_text:
            return f"has {len(text)} characters, over the limit of {self.max_text}"
        if not is_printable(text):
            return "has control characters"
        if self.protocol is not None and not self.protocol.fits("say", text=text, session=_LARGEST_SESSION_ID):
            return "is too long to send; split it in parts"
        return None

    def _waits(self, conversation: Conversation) -> bool:
        """Whether lines typed in ``conversation`` must wait for the connection (or the rejoin)."""
        rejoining = isinstance(conversation, ChatState) and conversation.rejoining
        return self.protocol is None or self.reconnecting or rejoining

    def _send_message(self, conversation: Conversation, text: str, *, action: bool = False) -> None:
        """Show our message (or action) as pending, then send it, or keep it for the reconnection."""
        me = self._member(conversation, conversation.you) if isinstance(conversation, ChatState) else None
        serial = self._next_serial
        self._next_serial += 1
        waiting = self._waits(conversation)
        self._add_line(
            conversation,
            ChatLine(
                LineKind.MESSAGE,
                text,
                self.clock.seconds(),
                sender=self.nick or "",
                own=True,
                sender_admin=me is not None and me.admin,
                serial=serial,
                delivery=Delivery.PENDING,
                note=WAITING_NOTE if waiting else "",
                action=action,
            ),
        )
        if waiting:
            self.outbox.append(Outgoing(text, serial, action=action, key=conversation.key))
        else:
            assert self.protocol is not None
            self._say(conversation, self.protocol, text, serial, action)

    def resend(self, serial: int) -> bool:
        """Send a failed message again (the user clicked it); it is pending again until acknowledged."""
        found = self._own_line(serial)
        if found is None or self.protocol is None:
            return False
        conversation, line = found
        if self._waits(conversation) or not line.resendable:
            return False
        self._set_delivery(conversation, serial, Delivery.PENDING)
        self._say(conversation, self.protocol, line.text, serial, line.action)
        return True

    def _own_line(self, serial: int) -> tuple[Conversation, ChatLine] | None:
        for conversation in self.conversations.values():
            # Recent lines are the ones whose delivery changes: look from the end.
            for line in reversed(conversation.lines):
                if line.serial == serial:
                    return conversation, line
        return None

    def _set_delivery(
        self,
        conversation: Conversation,
        serial: int,
        delivery: Delivery,
        note: str = "",
        resendable: bool = False,
        msgid: str = "",
    ) -> None:
        if self.conversations.get(conversation.key) is not conversation:
            return
        lines = conversation.lines
        for index in range(len(lines) - 1, -1, -1):
            if lines[index].serial == serial:
                line = lines[index] = replace(
                    lines[index], delivery=delivery, note=note, resendable=resendable, msgid=msgid or lines[index].msgid
                )
                if self.view is not None:
                    self.view.update_chat_line(conversation.key, line)
                return

    def _say(
        self, conversation: Conversation, protocol: ClientProtocol, text: str, serial: int, action: bool = False
    ) -> None:
        """Send message ``serial`` (``say`` in a session, ``private`` to a person); the ack marks
        it sent, a refusal failed, and one whose answer the connection's end cut off goes back
        to the outbox."""

        def acked(frame: Frame) -> None:
            note = ""
            if isinstance(conversation, ChatState):
                conversation.seen.add((conversation.you, text, float(frame["ts"])))
            elif frame.get("away"):
                note = f"{conversation.name} is away: {frame['away']}"
            self._set_delivery(conversation, serial, Delivery.SENT, note, msgid=str(frame.get("msgid") or ""))

        def failed(reason: Failure) -> None:
            if self.conversations.get(conversation.key) is not conversation:
                return
            if reason.check(ConnectionLost):
                self.outbox.append(Outgoing(text, serial, unconfirmed=True, action=action, key=conversation.key))
                self._set_delivery(conversation, serial, Delivery.FAILED, LOST_NOTE)
            elif reason.check(ServerError):
                self._set_delivery(
                    conversation, serial, Delivery.FAILED, f"Not sent: {reason.value.message}", resendable=True
                )
            else:
                self._set_delivery(conversation, serial, Delivery.FAILED, "Not sent: it is too long to send.")

        fields: dict[str, Any] = {"text": text, "action": True} if action else {"text": text}
        if isinstance(conversation, ChatState):
            request = protocol.request("say", session=conversation.session.id, **fields)
        else:
            request = protocol.request("private", to=conversation.name, **fields)
        self._counted(request).addCallbacks(acked, failed)
        self._update_sending()

    def _counted(self, answer: "Deferred[Frame]") -> "Deferred[Frame]":
        """Count a chat line towards the progress hint: lines sent since all were answered."""
        if not self._unanswered:
            self._batch_total = 0
        self._batch_total += 1
        self._unanswered += 1

        def answered(result: object) -> object:
            self._unanswered -= 1
            return result

        return answer.addBoth(answered)

    def queue_changed(self, protocol: ClientProtocol) -> None:
        """Lines waiting for the flood budget came or went: update the progress hint."""
        if protocol is self.protocol:
            self._update_sending()

    def _update_sending(self) -> None:
        waiting = self.protocol.queued if self.protocol is not None else 0
        if not waiting:
            hint = ""
        else:
            total = max(self._batch_total, waiting)
            hint = f"Sending {total - waiting + 1} of {total}..."
        if hint != self.sending:
            self.sending = hint
            self._render(Aspect.SENDING)

    def _run_command(self, protocol: ClientProtocol, chat: ChatState, name: str, args: str, typed: str) -> None:
        if not name:
            self._system("Type a command after the slash, like /help.", LineKind.ERROR, chat)
            return
        fields: dict[str, Any] = {"name": name, "session": chat.session.id}
        if args:
            fields["args"] = args

        def replied(frame: Frame) -> None:
            line = ChatLine(LineKind.REPLY, str(frame.get("text", "")), self.clock.seconds(), command=typed)
            self._add_line(chat, line)

        self._counted(protocol.request("command", **fields)).addCallbacks(
            replied, self._chat_error, errbackArgs=(chat,)
        )
        self._update_sending()

    def _chat_error(self, reason: Failure, conversation: Conversation | None, prefix: str = "") -> None:
        if conversation is None:
            return
        if reason.check(ServerError):
            self._system(prefix + reason.value.message, LineKind.ERROR, conversation)
        elif reason.check(FrameTooLong):
            self._system("That is too long to send.", LineKind.ERROR, conversation)

    def _update_chat(self, chat: ChatState, frame: Frame) -> None:
        """A ``joined`` frame after a reconnection: the session's state now, the transcript kept."""
        chat.you = self.nick = str(frame["you"])
        chat.session = session_row(frame["session"])
        chat.members = [member_row(m, chat.you) for m in frame["members"]]
        chat.idle_timeout = frame.get("idle_timeout")

    def _finish_history(self, chat: ChatState) -> None:
        """The history is complete: what was waiting for it is shown, and the outbox goes out."""
        chat.history_left = 0
        waiting, chat.after_history = chat.after_history, []
        for line in waiting:
            self._add_line(chat, line)
        self._flush_outbox()

    def _flush_outbox(self) -> None:
        """Send what waits in every conversation that is ready (connected, rejoined, history read)."""
        if self.protocol is None or self.reconnecting:
            return
        kept: list[Outgoing] = []
        outbox, self.outbox = self.outbox, kept
        for item in outbox:
            conversation = self.conversations.get(item.key)
            if conversation is None:
                continue
            if isinstance(conversation, ChatState):
                if conversation.rejoining or conversation.history_left:
                    kept.append(item)
                    continue
                delivered = {(sender, text) for sender, text, _ in conversation.seen if sender == conversation.you}
                if item.unconfirmed and (conversation.you, item.text) in delivered:
                    self._set_delivery(conversation, item.serial, Delivery.SENT)
                    continue
            self._set_delivery(conversation, item.serial, Delivery.PENDING)
            self._say(conversation, self.protocol, item.text, item.serial, item.action)

    def _member_list_changed(self, chat: ChatState) -> None:
        if self.current == chat.key:
            self._render(Aspect.MEMBERS)

    def _new_members(self, chat: ChatState, members: list[MemberRow], said: str) -> None:
        """The session's members changed: the list (and the session's count) follow, and the transcript says ``said``."""
        chat.members = members
        chat.session = replace(chat.session, members=len(members))
        self._member_list_changed(chat)
        self._system(said, conversation=chat)

    def _on_member_joined(self, frame: Frame) -> None:
        chat = self._session_chat(frame)
        if chat is None:
            return
        name = str(frame["name"])
        joined = MemberRow(name, float(frame["joined"]), False, name == chat.you)
        self._new_members(chat, [*chat.members, joined], f"{name} joined the session.")

    def _on_member_left(self, frame: Frame) -> None:
        chat = self._session_chat(frame)
        if chat is None:
            return
        name = str(frame["name"])
        template = _MEMBER_LEFT_TEXT.get(str(frame["reason"]), "{name} left the session.")
        members = [m for m in chat.members if m.name != name]
        self._new_members(chat, members, template.format(name=name, by=frame.get("by")))

    def _on_admin_changed(self, frame: Frame) -> None:
        chat = self._session_chat(frame)
        if chat is None:
            return
        admin = str(frame["admin"])
        chat.session = replace(chat.session, admin=admin)
        said = "You are now the admin of this session." if admin == chat.you else f"{admin} is now the admin."
        self._new_members(chat, [replace(m, admin=m.name == admin) for m in chat.members], said)

    def _on_member_away(self, frame: Frame) -> None:
        """A member went away (``away``: their message) or came back (``null``): the member list shows it."""
        chat = self._session_chat(frame)
        if chat is None:
            return
        key, away = name_key(str(frame["name"])), frame.get("away")
        chat.members = [
            replace(m, away=str(away) if away else None) if name_key(m.name) == key else m for m in chat.members
        ]
        self._member_list_changed(chat)

    def _on_member_renamed(self, frame: Frame) -> None:
        chat = self._session_chat(frame)
        if chat is None:
            return
        old, new = str(frame["old"]), str(frame["name"])
        members = [replace(m, name=new) if name_key(m.name) == name_key(old) else m for m in chat.members]
        self._new_members(chat, members, f"{old} is now known as {new}.")
        self._rename_private(old, new)

    def _rename_private(self, old: str, new: str) -> None:
        """Someone you chat with privately took another name: the chat follows them."""
        chat = self.conversations.get(private_key(old))
        if not isinstance(chat, PrivateChat) or private_key(new) in self.conversations:
            return
        renamed = replace(chat, key=private_key(new), name=new)
        self.conversations = {
            (renamed.key if key == chat.key else key): (renamed if c is chat else c)
            for key, c in self.conversations.items()
        }
        for item in self.outbox:
            if item.key == chat.key:
                item.key = renamed.key
        if self.current == chat.key:
            self.current = renamed.key
        self._render(Aspect.CONVERSATIONS, Aspect.HEADER)

    def _on_nick_changed(self, frame: Frame) -> None:
        """Your own name changed (``/nick`` from IRC's side or a ``nick`` frame): every session says so."""
        new = self.nick = str(frame["name"])
        for chat in self.sessions_in:
            old, chat.you = chat.you, new
            members = [replace(m, name=new) if m.you else m for m in chat.members]
            self._new_members(chat, members, f"You are now known as {new} (you were {old}).")

    def _on_topic_changed(self, frame: Frame) -> None:
        chat = self._session_chat(frame)
        if chat is None:
            return
        topic, by = str(frame.get("topic") or ""), frame.get("by")
        chat.session = replace(chat.session, topic=topic)
        if self.current == chat.key:
            self._render(Aspect.HEADER)
        who = "You" if by == chat.you else str(by or "The server")
        self._system(f"{who} set the topic: {topic}" if topic else f"{who} cleared the topic.", conversation=chat)

    def _on_mode_changed(self, frame: Frame) -> None:
        chat = self._session_chat(frame)
        if chat is None:
            return
        by, mode, parameter = frame.get("by"), str(frame["mode"]), frame.get("parameter")
        change = f"{mode} {parameter}" if parameter is not None else mode
        who = "You" if by == chat.you else str(by or "The server")
        self._system(f"{who} set the mode {change}.", conversation=chat)

    def _on_invited(self, frame: Frame) -> None:
        """An admin invited you into a session: said where you are looking (or above the list)."""
        text = f"{frame.get('by')} invited you to {frame.get('name')}: join it from the session list (+ Join / create)."
        if self.conversation is not None:
            self._system(text)
        else:
            self.notice = Notice(text)
            self._render(Aspect.NOTICE)

    def _on_private_message(self, frame: Frame) -> None:
        """A private message opens (or continues) the private chat with its sender; it is never stored."""
        self._add_line(self._private_chat(str(frame["from"])), message_line(frame))

    def _on_message(self, frame: Frame) -> None:
        chat = self._session_chat(frame)
        if chat is None:
            return
        line = message_line(frame)
        member = self._member(chat, str(line.sender))
        chat.seen.add((str(line.sender), line.text, line.ts))
        self._add_line(chat, replace(line, sender_admin=member is not None and member.admin))

    def _on_history(self, frame: Frame) -> None:
        """One message said before we joined (or while we were away): styled like a live
        one but ``earlier``, above the divider, never shown twice."""
        chat = self._session_chat(frame)
        if chat is None:
            return
        key = (str(frame["from"]), str(frame["text"]), float(frame["ts"]))
        if key not in chat.seen:
            chat.seen.add(key)
            self._add_line(chat, self._earlier_line(chat, frame))
        if chat.history_left:
            chat.history_left -= 1
            if not chat.history_left:
                self._finish_history(chat)

    def _on_idle_warning(self, frame: Frame) -> None:
        seconds = float(frame["seconds_left"])
        self._system(
            f"You have been quiet for a while: you will be removed in {duration_text(seconds)} "
            "unless you write something.",
            LineKind.WARNING,
            self._session_chat(frame),
        )

    @staticmethod
    def _earlier_line(chat: ChatState, fields: Frame) -> ChatLine:
        """A message said before we joined (a ``history`` frame, or one of a ``messages`` page)."""
        sender = str(fields["from"])
        return replace(message_line(fields), own=name_key(sender) == name_key(chat.you), earlier=True)

    def load_older(self, key: str) -> bool:
        """The user scrolled to the top of conversation ``key``'s transcript: ask for the messages
        before the oldest one shown (``OLDER_PAGE`` of them), to go above it. Only in a session,
        one request at a time, not past the start of its history, and not while the connection
        or the session's history is not back yet. ``True`` when a request went out."""
        chat = self.conversations.get(key)
        protocol = self.protocol
        if not isinstance(chat, ChatState) or chat.older in (Older.LOADING, Older.START):
            return False
        if protocol is None or self.reconnecting or chat.rejoining or chat.history_left:
            return False
        oldest = next((line for line in chat.lines if line.msgid and line.kind is LineKind.MESSAGE), None)
        # With no message shown, what was said before the transcript began.
        at = {"msgid": oldest.msgid} if oldest is not None else {"ts": chat.lines[0].ts if chat.lines else 0}
        chat.older, chat.older_note = Older.LOADING, ""
        self._older_changed(chat)
        asked = protocol.request("history", session=chat.session.id, direction="before", at=at, limit=OLDER_PAGE)
        # After the callback: a page that cannot be read fails like a refusal.
        asked.addCallback(self._older_came, chat).addErrback(self._older_failed, chat)
        return True

    def _older_came(self, frame: Frame, chat: ChatState) -> None:
        if self.conversations.get(chat.key) is not chat:
            return
        shown = {line.msgid for line in chat.lines if line.msgid}
        older = [self._earlier_line(chat, m) for m in frame["messages"] if str(m.get("msgid") or "") not in shown]
        for line in older:
            chat.seen.add((str(line.sender), line.text, line.ts))
        # A full page of messages already shown would be asked for again and again: that is the start too.
        chat.older = Older.IDLE if frame.get("more") is True and older else Older.START
        head, replaced = above(chat.lines, older)
        if head:
            chat.lines[:replaced] = head
            if self.view is not None:
                self.view.prepend_chat_lines(chat.key, head, replaced)
        self._older_changed(chat)

    def _older_failed(self, reason: Failure, chat: ChatState) -> None:
        if self.conversations.get(chat.key) is not chat:
            return
        chat.older = Older.FAILED
        if reason.check(ServerError):
            chat.older_note = reason.value.message
        elif reason.check(ConnectionLost):
            chat.older_note = "the connection was lost."
        else:
            self.log.failure("Asking for older messages failed", reason)
            chat.older_note = "the answer could not be read."
        self._older_changed(chat)

    def _older_changed(self, chat: ChatState) -> None:
        if self.view is not None:
            self.view.older_changed(chat.key)
