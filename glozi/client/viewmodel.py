"""The client's state and logic, with no Tk in it.

``ClientViewModel`` owns the connection (through a ``ClientProtocol``), the
session list, the open dialog, the conversations (each session you are in and
each private chat: transcript, members, unread count, mention mark) and what
asks for your attention (the window title, urgency, notifications). The
Tk view calls its action methods (``reload``, ``submit_join``, ``send``...)
and re-renders when told through the ``ClientView`` interface. Nothing here
blocks: every network step is a Deferred on the reactor.
"""

from collections.abc import Callable
from typing import ClassVar

from glozi.client.chatroom import Chatroom
from glozi.client.connecting import Connecting
from glozi.client.lobby import Lobby
from glozi.client.protocol import ClientProtocol, Frame


class ClientViewModel(Connecting):
    """The client's state and logic, in layers that each use only the ones below:
    ``ClientState`` (state.py), ``Chatroom`` (chatroom.py), ``Lobby`` (lobby.py),
    ``Connecting`` (connecting.py); here the server's events go to their handlers."""

    def frame_received(self, protocol: ClientProtocol, frame: Frame) -> None:
        """Dispatch an event frame from the server to its handler."""
        if protocol is not self.protocol:
            return
        for chat in self.sessions_in:
            if chat.history_left and (frame["type"] != "history" or self._session_chat(frame) is not chat):
                # Fewer history frames than announced: live traffic starts anyway.
                self._finish_history(chat)
        handler = self._EVENTS.get(frame["type"])
        if handler is None:
            self.log.debug("Ignoring a {type} frame", type=frame["type"])
            return
        try:
            handler(self, frame)
        except (KeyError, TypeError, ValueError):
            self.log.failure("A malformed {type} frame", type=frame["type"])

    _EVENTS: ClassVar[dict[str, Callable[["ClientViewModel", Frame], None]]] = {
        "member_joined": Chatroom._on_member_joined,
        "member_left": Chatroom._on_member_left,
        "admin_changed": Chatroom._on_admin_changed,
        "message": Chatroom._on_message,
        "history": Chatroom._on_history,
        "idle_warning": Chatroom._on_idle_warning,
        "member_away": Chatroom._on_member_away,
        "member_renamed": Chatroom._on_member_renamed,
        "nick_changed": Chatroom._on_nick_changed,
        "topic_changed": Chatroom._on_topic_changed,
        "mode_changed": Chatroom._on_mode_changed,
        "invited": Chatroom._on_invited,
        "private_message": Chatroom._on_private_message,
        "left": Lobby._on_left,
        "server_closing": Connecting._on_server_closing,
        "error": Connecting._on_error,
        "session_added": Lobby._on_session_listed,
        "session_changed": Lobby._on_session_listed,
        "session_removed": Lobby._on_session_removed,
    }
