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
    Aspect,
    ChatLine,
    ChatState,
    ClientState,
    Delivery,
    LineKind,
    MemberRow,
    Notice,
    Outgoing,
    Screen,
    session_row,
)
from glozi.client.texts import duration_text
from glozi.doors.native.wire import is_printable

HISTORY_DIVIDER = "Earlier messages above"
ACTION_COMMAND = re.compile(r"/me (.*\S.*)", re.DOTALL)
"""``/me waves``: an action (the native door's ``say`` with ``"action": true``), not a server command."""
WAITING_NOTE = "Waiting for the connection; it is sent once reconnected."
LOST_NOTE = "Not confirmed: the connection was lost. It is sent again once reconnected, unless the server has it."
_MEMBER_LEFT_TEXT = {
    "quit": "{name} left the session.",
    "kicked": "{name} was kicked by {by}.",
    "timeout": "{name} was removed after being inactive.",
    "disconnected": "{name} disconnected.",
}


class Chatroom(ClientState):
    """Chatting: sending and resending lines within the flood budget, commands, and the session's events."""

    def _enter_chat(self, frame: Frame, password: str | None = None) -> None:
        session = session_row(frame["session"])
        you = str(frame["you"])
        members = [
            MemberRow(str(m["name"]), float(m["joined"]), bool(m["admin"]), str(m["name"]) == you)
            for m in frame["members"]
        ]
        chat = self.chat = ChatState(session, you, members, frame.get("idle_timeout"), password)
        self.notice = Notice()
        self.exit_feedback = Notice()
        self._set_screen(Screen.CHAT)
        self._render(Aspect.MEMBERS, Aspect.NOTICE, Aspect.EXIT_CODE)
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
                self._add_line(line)

    def _member(self, name: str) -> MemberRow | None:
        if self.chat is None:
            return None
        return next((m for m in self.chat.members if m.name == name), None)

    def send(self, text: str) -> bool:
        """Send what the user typed: a message, or a ``/command args``; text
        with line breaks (a paste) goes to ``send_lines``.

        A message appears in the transcript at once, pending until the server
        acknowledges it. Returns ``False`` (and sends nothing, so the field
        keeps the text) for blank text, text that cannot be sent (the
        transcript says why), or outside a session.
        """
        chat, protocol = self.chat, self.protocol
        if chat is None or not text.strip():
            return False
        if "\n" in text or "\r" in text:
            return self.send_lines(text)
        action = ACTION_COMMAND.fullmatch(text)
        if action is not None:
            return self._send_action(chat, action.group(1))
        if text.strip() == "/me":
            self._system("Type what you do after /me, like /me waves.", LineKind.ERROR)
            return False
        if text.startswith("/"):
            if protocol is None or self.reconnecting:
                self._system("Not connected: commands cannot wait. Try again once reconnected.", LineKind.ERROR)
                return False
            name, _, args = text[1:].partition(" ")
            self._run_command(protocol, name.strip(), args.strip())
            return True
        problem = self._unsendable(text)
        if problem is not None:
            self._system(f"Not sent: this message {problem}.", LineKind.ERROR)
            return False
        self._send_message(chat, text)
        return True

    def _send_action(self, chat: ChatState, text: str) -> bool:
        """``/me TEXT``: an action, sent (and kept for a reconnection) like a message."""
        problem = self._unsendable(text)
        if problem is not None:
            self._system(f"Not sent: this action {problem}.", LineKind.ERROR)
            return False
        self._send_message(chat, text, action=True)
        return True

    def send_lines(self, text: str) -> bool:
        """Send a multi-line paste as one message per line that is not blank, in
        order (a line starting with ``/`` is a message too, never a command).

        When any line cannot be sent, nothing is: the transcript says which line
        and why, and ``False`` tells the view to keep the text.
        """
        chat = self.chat
        lines = paste_lines(text)
        if chat is None or not lines:
            return False
        for number, line in enumerate(lines, 1):
            problem = self._unsendable(line)
            if problem is not None:
                self._system(
                    f"Nothing was sent: line {number} of the {len(lines)} pasted {problem}.", LineKind.ERROR
                )
                return False
        for line in lines:
            self._send_message(chat, line)
        return True

    def _unsendable(self, text: str) -> str | None:
        """Why the server would refuse ``text`` as a message, or ``None``."""
        if len(text) > self.max_text:
            return f"has {len(text)} characters, over the limit of {self.max_text}"
        if not is_printable(text):
            return "has control characters"
        if self.protocol is not None and not self.protocol.fits("say", text=text):
            return "is too long to send; split it in parts"
        return None

    def _send_message(self, chat: ChatState, text: str, *, action: bool = False) -> None:
        """Show our message (or action) as pending, then send it, or keep it for the reconnection."""
        me = self._member(chat.you)
        serial = self._next_serial
        self._next_serial += 1
        waiting = self.protocol is None or self.reconnecting
        self._add_line(
            ChatLine(
                LineKind.MESSAGE,
                text,
                self.clock.seconds(),
                sender=chat.you,
                own=True,
                sender_admin=me is not None and me.admin,
                serial=serial,
                delivery=Delivery.PENDING,
                note=WAITING_NOTE if waiting else "",
                action=action,
            )
        )
        if waiting:
            self.outbox.append(Outgoing(text, serial, action=action))
        else:
            assert self.protocol is not None
            self._say(chat, self.protocol, text, serial, action)

    def resend(self, serial: int) -> bool:
        """Send a failed message again (the user clicked it); it is pending again until acknowledged."""
        chat, protocol = self.chat, self.protocol
        line = self._own_line(serial)
        if chat is None or protocol is None or self.reconnecting or line is None or not line.resendable:
            return False
        self._set_delivery(chat, serial, Delivery.PENDING)
        self._say(chat, protocol, line.text, serial, line.action)
        return True

    def _own_line(self, serial: int) -> ChatLine | None:
        if self.chat is None:
            return None
        # Recent lines are the ones whose delivery changes: look from the end.
        return next((line for line in reversed(self.chat.lines) if line.serial == serial), None)

    def _set_delivery(
        self, chat: ChatState, serial: int, delivery: Delivery, note: str = "", resendable: bool = False
    ) -> None:
        if self.chat is not chat:
            return
        for index in range(len(chat.lines) - 1, -1, -1):
            if chat.lines[index].serial == serial:
                line = chat.lines[index] = replace(
                    chat.lines[index], delivery=delivery, note=note, resendable=resendable
                )
                if self.view is not None:
                    self.view.update_chat_line(line)
                return

    def _say(self, chat: ChatState, protocol: ClientProtocol, text: str, serial: int, action: bool = False) -> None:
        """Send message ``serial``; the ack marks it sent, a refusal failed, and
        one whose answer the connection's end cut off goes back to the outbox."""

        def acked(frame: Frame) -> None:
            chat.seen.add((chat.you, text, float(frame["ts"])))
            self._set_delivery(chat, serial, Delivery.SENT)

        def failed(reason: Failure) -> None:
            if self.chat is not chat:
                return
            if reason.check(ConnectionLost):
                self.outbox.append(Outgoing(text, serial, unconfirmed=True, action=action))
                self._set_delivery(chat, serial, Delivery.FAILED, LOST_NOTE)
            elif reason.check(ServerError):
                self._set_delivery(
                    chat, serial, Delivery.FAILED, f"Not sent: {reason.value.message}", resendable=True
                )
            else:
                self._set_delivery(chat, serial, Delivery.FAILED, "Not sent: it is too long to send.")

        fields: dict[str, Any] = {"text": text, "action": True} if action else {"text": text}
        self._counted(protocol.request("say", **fields)).addCallbacks(acked, failed)
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

    def _run_command(self, protocol: ClientProtocol, name: str, args: str) -> None:
        chat = self.chat
        if not name:
            self._system("Type a command after the slash, like /help.", LineKind.ERROR)
            return
        fields: dict[str, Any] = {"name": name}
        if args:
            fields["args"] = args

        def replied(frame: Frame) -> None:
            if self.chat is chat and self.chat is not None:
                self._add_line(ChatLine(LineKind.REPLY, str(frame.get("text", "")), self.clock.seconds()))

        self._counted(protocol.request("command", **fields)).addCallbacks(
            replied, self._chat_error, errbackArgs=(chat,)
        )
        self._update_sending()

    def _chat_error(self, reason: Failure, chat: ChatState | None, prefix: str = "") -> None:
        if self.chat is not chat:
            return
        if reason.check(ServerError):
            self._system(prefix + reason.value.message, LineKind.ERROR)
        elif reason.check(FrameTooLong):
            self._system("That is too long to send.", LineKind.ERROR)

    def _update_chat(self, frame: Frame) -> None:
        """A ``joined`` frame after a reconnection: the session's state now, the transcript kept."""
        assert self.chat is not None
        you = str(frame["you"])
        self.chat.session = session_row(frame["session"])
        self.chat.members = [
            MemberRow(str(m["name"]), float(m["joined"]), bool(m["admin"]), str(m["name"]) == you)
            for m in frame["members"]
        ]
        self.chat.idle_timeout = frame.get("idle_timeout")

    def _finish_history(self) -> None:
        """The history is complete: what was waiting for it is shown, and the outbox goes out."""
        chat = self.chat
        if chat is None:
            return
        chat.history_left = 0
        waiting, chat.after_history = chat.after_history, []
        for line in waiting:
            self._add_line(line)
        self._flush_outbox()

    def _flush_outbox(self) -> None:
        chat = self.chat
        if chat is None or self.protocol is None or self.reconnecting:
            return
        outbox, self.outbox = self.outbox, []
        delivered = {(sender, text) for sender, text, _ in chat.seen if sender == chat.you}
        for item in outbox:
            if item.unconfirmed and (chat.you, item.text) in delivered:
                self._set_delivery(chat, item.serial, Delivery.SENT)
                continue
            self._set_delivery(chat, item.serial, Delivery.PENDING)
            self._say(chat, self.protocol, item.text, item.serial, item.action)

    def _on_member_joined(self, frame: Frame) -> None:
        if self.chat is None:
            return
        name = str(frame["name"])
        self.chat.members.append(MemberRow(name, float(frame["joined"]), False, name == self.chat.you))
        self.chat.session = replace(self.chat.session, members=len(self.chat.members))
        self._render(Aspect.MEMBERS)
        self._system(f"{name} joined the session.")

    def _on_member_left(self, frame: Frame) -> None:
        if self.chat is None:
            return
        name = str(frame["name"])
        self.chat.members = [m for m in self.chat.members if m.name != name]
        self.chat.session = replace(self.chat.session, members=len(self.chat.members))
        self._render(Aspect.MEMBERS)
        template = _MEMBER_LEFT_TEXT.get(str(frame["reason"]), "{name} left the session.")
        self._system(template.format(name=name, by=frame.get("by")))

    def _on_admin_changed(self, frame: Frame) -> None:
        if self.chat is None:
            return
        admin = str(frame["admin"])
        self.chat.members = [replace(m, admin=m.name == admin) for m in self.chat.members]
        self.chat.session = replace(self.chat.session, admin=admin)
        self._render(Aspect.MEMBERS)
        if admin == self.chat.you:
            self._system("You are now the admin of this session.")
        else:
            self._system(f"{admin} is now the admin.")

    def _on_message(self, frame: Frame) -> None:
        if self.chat is None:
            return
        sender = str(frame["from"])
        member = self._member(sender)
        self.chat.seen.add((sender, str(frame["text"]), float(frame["ts"])))
        self._add_line(
            ChatLine(
                LineKind.MESSAGE,
                str(frame["text"]),
                float(frame["ts"]),
                sender=sender,
                sender_admin=member is not None and member.admin,
                action=frame.get("action") is True,
            )
        )

    def _on_history(self, frame: Frame) -> None:
        """One message said before we joined (or while we were away); greyed, never shown twice."""
        chat = self.chat
        if chat is None:
            return
        key = (str(frame["from"]), str(frame["text"]), float(frame["ts"]))
        if key not in chat.seen:
            chat.seen.add(key)
            self._add_line(
                ChatLine(
                    LineKind.HISTORY,
                    key[1],
                    key[2],
                    sender=key[0],
                    own=key[0] == chat.you,
                    action=frame.get("action") is True,
                )
            )
        if chat.history_left:
            chat.history_left -= 1
            if not chat.history_left:
                self._finish_history()

    def _on_idle_warning(self, frame: Frame) -> None:
        seconds = float(frame["seconds_left"])
        self._system(
            f"You have been quiet for a while: you will be removed in {duration_text(seconds)} "
            "unless you write something.",
            LineKind.WARNING,
        )
