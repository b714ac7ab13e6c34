"""The session list, the join and create dialogs, and the server exit code."""

from typing import Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from glozi.client.fields import check_exit_code, check_password, is_exit_code
from glozi.client.protocol import Frame, ServerError
from glozi.client.sharing import Sharing
from glozi.client.state import (
    Aspect,
    ChatState,
    Dialog,
    FieldState,
    LineKind,
    Notice,
    Screen,
    SessionRow,
    Tone,
    session_key,
    session_row,
)
from glozi.domain.names import is_usable_username, is_valid_password, is_valid_session_name

_JOIN_ERRORS = {
    "no_such_session": "This session is gone. The list was reloaded.",
    "password_required": "This session needs its password.",
}


class Lobby(Sharing):
    """What the session-list screen does: listing, dialogs, joining, creating, the exit code."""

    def leave(self, key: str | None = None) -> None:
        """Leave a session (``/quit`` there) or close a private chat; the one shown by default."""
        conversation = self.conversations.get(key or self.current or "")
        if isinstance(conversation, ChatState):
            if self.protocol is not None and not self.reconnecting:
                self._run_command(self.protocol, conversation, "quit", "", "/quit")
        elif conversation is not None:
            self._forget(conversation)
            if not self._show_another():
                self.show_sessions()

    def show_sessions(self) -> None:
        """Show the session list in the main pane (to join another session), staying in every
        session: the server does not tell members about new sessions, so the list is asked for."""
        self.current = None
        self._render(Aspect.CONVERSATIONS, Aspect.HEADER)
        self._show_lobby()

    def _show_lobby(self) -> None:
        self.sessions = []
        self.exit_feedback = Notice()
        self._set_screen(Screen.LOBBY)
        self._render(Aspect.NOTICE, Aspect.SESSIONS, Aspect.EXIT_CODE)
        self.reload()

    def reload(self) -> None:
        """Ask the server for the session list."""
        protocol = self.protocol
        if protocol is None:
            return

        def listed(frame: Frame) -> None:
            if protocol is self.protocol:
                self.sessions = [session_row(s) for s in frame["sessions"]]
                self._render(Aspect.SESSIONS)
                if self.dialog is not None and self.dialog.session is not None:
                    self._refresh_dialog_session(self.dialog.session.id)

        protocol.request("list").addCallbacks(listed, self._request_failed)

    def _refresh_dialog_session(self, session_id: int) -> None:
        assert self.dialog is not None
        row = self.session_by_id(session_id)
        if row is not None:
            self.dialog.session = row
            self._render(Aspect.DIALOG)

    def session_by_id(self, session_id: int) -> SessionRow | None:
        """The listed session with ``session_id``, if it is listed."""
        return next((row for row in self.sessions if row.id == session_id), None)

    def check_exit_code(self, text: str) -> FieldState:
        """The live state of the exit code field, for this server's code length."""
        return check_exit_code(text, self.exit_code_digits)

    def exit_code_fits(self, text: str) -> bool:
        """Whether the exit code field may hold ``text``: digits, at most this server's length."""
        return len(text) <= self.exit_code_digits and text.isascii() and (text.isdigit() or text == "")

    def exit_code_edited(self) -> None:
        """The user changed the exit code field: a complaint about the old one no longer holds."""
        if self.exit_feedback.text and not self._checking_exit_code:
            self.exit_feedback = Notice()
            self._render(Aspect.EXIT_CODE)

    @property
    def _checking_exit_code(self) -> bool:
        return self._exit_request is not None and not self._exit_request.called

    def submit_exit_code(self, code: str) -> bool:
        """Send the server exit code; ``False`` (and nothing sent) when it is malformed.

        The feedback lasts as long as its cause: "Checking..." until the answer
        (or the connection's end), a complaint until the field changes or you join a session.
        """
        protocol = self.protocol
        if protocol is None or self.screen is not Screen.LOBBY:
            return False
        if not is_exit_code(code, self.exit_code_digits):
            self.exit_feedback = Notice(f"The exit code is {self.exit_code_digits} digits.", Tone.ERROR)
            self._render(Aspect.EXIT_CODE)
            return False
        self.exit_feedback = Notice("Checking the exit code...")
        self._render(Aspect.EXIT_CODE)

        def answered(reason: Failure) -> None:
            if self._exit_request is not request:
                return
            message = reason.value.message if reason.check(ServerError) else ""
            self.exit_feedback = Notice(message, Tone.ERROR)
            self._render(Aspect.EXIT_CODE)

        request = self._exit_request = protocol.request("exit", code=code)
        request.addErrback(answered)
        return True

    def open_join(self, session_id: int) -> None:
        """Open the join dialog for a listed session (or show it, when you are in it already)."""
        if session_key(session_id) in self.conversations:
            self.switch_to(session_key(session_id))
            return
        row = self.session_by_id(session_id)
        if row is None or self.protocol is None or self.screen is not Screen.LOBBY:
            return
        self.dialog = Dialog("join", session=row, username=self._nick_to_offer())
        self._render(Aspect.DIALOG)

    def open_create(self) -> None:
        """Open the create dialog."""
        if self.protocol is None or self.screen is not Screen.LOBBY:
            return
        self.dialog = Dialog("create", username=self._nick_to_offer())
        self._render(Aspect.DIALOG)

    def _nick_to_offer(self) -> str:
        """In a session, every other join must give the same name: offer it."""
        return self.nick or "" if self.sessions_in else ""

    def close_dialog(self) -> None:
        """Close the open dialog, if any."""
        if self.dialog is not None:
            self.dialog = None
            self._render(Aspect.DIALOG)

    def can_join(self, username: str, password: str) -> bool:
        """Whether the join dialog's fields are complete and valid."""
        dialog = self.dialog
        if dialog is None or dialog.kind != "join" or dialog.busy:
            return False
        if not is_usable_username(username):
            return False
        return is_valid_password(password) if dialog.needs_password else True

    def can_create(self, name: str, username: str, password: str) -> bool:
        """Whether the create dialog's fields are complete and valid."""
        dialog = self.dialog
        if dialog is None or dialog.kind != "create" or dialog.busy:
            return False
        return (
            is_valid_session_name(name)
            and is_usable_username(username)
            and check_password(password) is not FieldState.INVALID
        )

    def submit_join(self, username: str, password: str = "") -> bool:
        """Join the dialog's session; the dialog shows the server's refusal."""
        dialog = self.dialog
        if not self.can_join(username, password) or self.protocol is None:
            return False
        assert dialog is not None and dialog.session is not None
        fields: dict[str, Any] = {"session": dialog.session.id, "username": username}
        if dialog.needs_password:
            fields["password"] = password
        self._submit(dialog, self.protocol.request("join", **fields), fields.get("password"))
        return True

    def submit_create(self, name: str, username: str, password: str = "") -> bool:
        """Create a session; the dialog shows the server's refusal."""
        dialog = self.dialog
        if not self.can_create(name, username, password) or self.protocol is None:
            return False
        assert dialog is not None
        fields: dict[str, Any] = {"name": name, "username": username}
        if password:
            fields["password"] = password
        self._submit(dialog, self.protocol.request("create", **fields), password or None)
        return True

    def _submit(self, dialog: Dialog, answer: "Deferred[Frame]", password: str | None) -> None:
        dialog.busy = True
        dialog.error = ""
        self._render(Aspect.DIALOG)
        protocol = self.protocol

        def joined(frame: Frame) -> None:
            if protocol is self.protocol:
                self.dialog = None
                self._render(Aspect.DIALOG)
                self._enter_chat(frame, password)

        def refused(reason: Failure) -> None:
            if self.dialog is not dialog:
                return
            dialog.busy = False
            if reason.check(ServerError):
                dialog.error = _JOIN_ERRORS.get(reason.value.code, reason.value.message)
                if reason.value.code == "no_such_session":
                    self.reload()
            else:
                dialog.error = reason.getErrorMessage()
            self._render(Aspect.DIALOG)

        answer.addCallbacks(joined, refused)

    def _request_failed(self, reason: Failure) -> None:
        if reason.check(ServerError):
            self.notice = Notice(reason.value.message, Tone.ERROR)
            self._render(Aspect.NOTICE)

    def _on_session_listed(self, frame: Frame) -> None:
        """``session_added`` or ``session_changed``: the row, new or updated, in id order."""
        row = session_row(frame["session"])
        self.sessions = sorted([r for r in self.sessions if r.id != row.id] + [row], key=lambda r: r.id)
        self._render(Aspect.SESSIONS)
        if self.dialog is not None and self.dialog.session is not None and self.dialog.session.id == row.id:
            self._refresh_dialog_session(row.id)

    def _on_session_removed(self, frame: Frame) -> None:
        session_id = int(frame["session"])
        self.sessions = [row for row in self.sessions if row.id != session_id]
        self._render(Aspect.SESSIONS)
        dialog = self.dialog
        if dialog is not None and dialog.session is not None and dialog.session.id == session_id:
            dialog.error = f"The session {frame.get('name') or dialog.session.name} is gone."
            self._render(Aspect.DIALOG)

    def _on_left(self, frame: Frame) -> None:
        """You left a session (``/quit``, a kick, a close, the idle timeout). While you are in
        others, the reason is said where you look (one of them is shown if it was this one);
        after the last, you are back at the session list with the reason."""
        chat = self._session_chat(frame)
        if chat is None:
            return
        quit_ = str(frame.get("reason")) == "quit"
        text = str(frame.get("message") or "You left the session.")
        self._forget(chat)
        if self.sessions_in and self.screen is Screen.CHAT:
            self._show_another()
            self._system(text, LineKind.SYSTEM if quit_ else LineKind.WARNING)
            return
        self.current = None
        self.notice = Notice(text, Tone.INFO if quit_ else Tone.ERROR)
        self._set_screen(Screen.LOBBY)
        self._render(Aspect.MEMBERS, Aspect.NOTICE, Aspect.HEADER)
        self.reload()
