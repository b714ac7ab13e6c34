"""Finding a server, connecting, and getting the connection back by itself."""

import math
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.python.failure import Failure

from glozi.client.fields import parse_port
from glozi.client.lobby import Lobby
from glozi.client.protocol import ClientProtocol, Frame, ServerError
from glozi.client.sharing import files_access
from glozi.client.state import (
    DEFAULT_EXIT_CODE_DIGITS,
    MAX_EXIT_CODE_DIGITS,
    Aspect,
    ChatLine,
    ChatState,
    LineKind,
    Notice,
    Screen,
    ServerAddress,
    Tone,
    trust_notice,
)
from glozi.client.texts import duration_text
from glozi.discovery.nodes import browser_url, decode_nodes, is_port
from glozi.doors.native.wire import MAX_TEXT_CHARS, PROTOCOL_VERSION

DEFAULT_PORT = 7557
RECONNECT_FIRST_DELAY = 0.5
"""Seconds before the first automatic reconnection attempt."""
RECONNECT_FACTOR = 1.6
RECONNECT_MAX_DELAY = 15.0
RECONNECT_MAX_TRIES = 20
"""Automatic attempts (about 4 minutes in all) before the client stops and offers *Reconnect*."""
CLOSE_FOLLOWS_SECONDS = 5.0
NAME_RETRY_SECONDS = 1.0
NAME_RETRIES = 10
"""A rejoin refused with ``name_taken`` is tried again every second, ten times: the server (or
another node of its cluster) may not have noticed yet that our old connection is gone."""
"""A server that closes a connection with a reason sends the reason last, right
before the close; an error older than this, or followed by anything, is not the reason."""
_SENT_AWAY_CODES = frozenset({"idle", "line_too_long", "too_many_connections"})
"""Errors after which the server closes the connection on purpose: no automatic reconnection."""
_PASSWORD_CODES = frozenset({"server_password_required", "bad_server_password", "too_many_attempts"})
"""The server's refusals of a server password: ask the user again."""
PASSWORD_NEEDED = "This server needs a password."


class PasswordNeeded(Exception):
    """The server's welcome asks for a password and the user has typed none yet."""


class Connecting(Lobby):
    """Discovery, connecting and reconnecting (with growing delays, to the
    same address and then to the other nodes of its cluster, in turn), rejoining the sessions."""

    def start(self) -> None:
        """Connect to the given address, or look for servers first."""
        if self.fixed_address is not None:
            self.connect_to(self.fixed_address)
        else:
            self.discover()

    def discover(self) -> "Deferred[None]":
        """Look for servers; connect when there is one, let the user pick among several."""
        self._attempt += 1
        attempt = self._attempt
        self._set_screen(Screen.CONNECTING, "Looking for GloziChat servers on your network...")

        def found(servers: list[ServerAddress]) -> None:
            if attempt != self._attempt:
                return
            self.servers = list(servers)
            if not servers:
                self._set_screen(Screen.NO_SERVER, "No server found on your network.")
            elif len(servers) == 1:
                self.connect_to(servers[0])
            else:
                self._set_screen(Screen.PICK_SERVER, f"{len(servers)} servers found. Pick one.")

        def failed(reason: Failure) -> None:
            if attempt == self._attempt and not reason.check(CancelledError):
                self.log.failure("Discovery failed", reason)
                self._set_screen(Screen.NO_SERVER, f"Looking for servers failed: {reason.getErrorMessage()}")

        self._cancel_pending()
        self._pending = self._finder()
        return self._pending.addCallbacks(found, failed)

    def retry(self) -> None:
        """Try again after nothing was found or the connection failed."""
        self.start()

    def connect_to(self, address: ServerAddress) -> "Deferred[None]":
        """Connect to ``address`` and show its session list."""
        self._attempt += 1
        attempt = self._attempt
        if address != self.address:
            # A password typed for one server is never offered to another.
            self.server_password = None
        self.address = address
        self._closing_reason = None
        self._set_screen(Screen.CONNECTING, f"Connecting to {address.label}...")

        def connected(protocol: ClientProtocol) -> None:
            if attempt != self._attempt:
                protocol.disconnect()
                return
            self._welcomed(protocol, address)
            self.notice = trust_notice(protocol.trust)
            self._show_lobby()

        def failed(reason: Failure) -> None:
            if attempt == self._attempt and not self._password_refused(reason):
                self._set_screen(
                    Screen.NO_SERVER, f"Could not connect to {address.label}: {reason.getErrorMessage()}"
                )

        self._cancel_pending()
        self._pending = self._open(address)
        return self._pending.addCallbacks(connected, failed)

    def _open(self, address: ServerAddress) -> "Deferred[ClientProtocol]":
        """Connect to ``address``; when its welcome asks for the server password,
        give the one the user typed (``PasswordNeeded`` without one)."""

        def welcomed(protocol: ClientProtocol) -> "ClientProtocol | Deferred[ClientProtocol]":
            if (protocol.welcome or {}).get("password_required") is not True:
                return protocol
            if self.server_password is None:
                protocol.disconnect()
                raise PasswordNeeded(PASSWORD_NEEDED)
            answered = protocol.request("hello", protocol=PROTOCOL_VERSION, password=self.server_password)
            return answered.addCallback(lambda _: protocol)

        return self._connector(address, self).addCallback(welcomed)

    def _password_refused(self, reason: Failure) -> bool:
        """Ask for the password again when ``reason`` is the server's refusal of it (or no password yet)."""
        if reason.check(PasswordNeeded):
            message = PASSWORD_NEEDED
        elif reason.check(ServerError) and reason.value.code in _PASSWORD_CODES:
            message = reason.value.message
        else:
            return False
        self.server_password = None
        self._stop_reconnecting()
        self._set_screen(Screen.PASSWORD, message)
        return True

    def give_password(self, password: str) -> bool:
        """Connect again with the server password the user typed; ``False`` when it is empty."""
        if not password or self.address is None:
            self.status = PASSWORD_NEEDED
            self._render(Aspect.SCREEN)
            return False
        self.server_password = password
        self.connect_to(self.address)
        return True

    def _welcomed(self, protocol: ClientProtocol, address: ServerAddress) -> None:
        self.protocol = protocol
        self._closing_reason = None
        self._closing_error = None
        self._sent_away = False
        welcome = protocol.welcome or {}
        self.server_name = str(welcome.get("name") or address.name or address.host)
        self.files = files_access(welcome, address.host)
        web_port = welcome.get("web_port")
        self.web_url = browser_url(address.host, web_port, welcome.get("web_tls") is True) if is_port(web_port) else None  # type: ignore[arg-type]
        max_text = welcome.get("max_text")
        if isinstance(max_text, int) and 0 < max_text <= MAX_TEXT_CHARS:
            self.max_text = max_text
        digits = welcome.get("exit_code_digits")
        valid_digits = isinstance(digits, int) and 0 < digits <= MAX_EXIT_CODE_DIGITS
        self.exit_code_digits = digits if valid_digits else DEFAULT_EXIT_CODE_DIGITS  # type: ignore[assignment]
        self.nodes = []
        listed = {(address.host, address.port)}
        for node in decode_nodes(welcome.get("nodes")):
            # Each address once, and never the one we are on: each attempt of a round goes somewhere new.
            if (node.host, node.port) not in listed:
                listed.add((node.host, node.port))
                self.nodes.append(ServerAddress(node.host, node.port, node.name, node.tls))

    def connect_typed(self, host: str, port: str) -> bool:
        """Connect to an address the user typed; ``False`` when it is not one."""
        number = parse_port(port)
        host = host.strip()
        if number is None or not host:
            self.status = "Type a host and a port between 1 and 65535."
            self._render(Aspect.SCREEN)
            return False
        # A typed address keeps the TLS choice the client was started with.
        self.connect_to(ServerAddress(host, number, tls=self.address.tls if self.address else False))
        return True

    def reconnect(self) -> None:
        """After the server went away: connect to it again, else look for
        servers. This is the user's *Reconnect*: it stops the automatic
        attempts and starts over at the session list."""
        self._stop_reconnecting()
        if self.conversations:
            self._drop_conversations()
            self.notice = Notice(self._drop_outbox().strip())
        if self.address is None:
            self.discover()
            return
        connecting = self.connect_to(self.address)
        attempt = self._attempt

        def rediscover(_: None) -> None:
            if attempt == self._attempt and self.screen is Screen.NO_SERVER and self.fixed_address is None:
                self.discover()

        connecting.addCallback(rediscover)

    def _cancel_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            # A fired Deferred ignores this; one waiting on an inner step forwards it.
            pending.cancel()

    def close(self) -> None:
        """Disconnect on purpose, as when the window closes (and stop any attempt)."""
        self._attempt += 1
        self._stop_reconnecting()
        self._cancel_pending()
        protocol, self.protocol = self.protocol, None
        if protocol is not None:
            protocol.disconnect()

    def connection_lost(self, protocol: ClientProtocol, clean: bool) -> None:
        """The server went away: say why and get the connection back by
        ourselves (with growing delays); in a session, rejoin it."""
        if protocol is not self.protocol:
            return
        self.protocol = None
        self.dialog = None
        self.sessions = []
        reason = (
            self._closing_reason
            or self._reason_for_closing(protocol)
            or f"The connection to {self.server_name} was lost."
        )
        self._update_sending()
        self._render(Aspect.DIALOG, Aspect.SESSIONS)
        if self.address is None or clean or self._sent_away:
            self._give_up(reason)
            return
        self.reconnecting = True
        self._reconnect_tries = 0
        self._lost_reason = reason
        # A server that said it is closing meant to go: its cluster is not asked to take us instead.
        self._reconnect_targets = [self.address] if self._closing_reason else [self.address, *self.nodes]
        for conversation in list(self.conversations.values()):
            if isinstance(conversation, ChatState):
                conversation.history_left = 0
                conversation.after_history = []
            self._system(f"{reason} Reconnecting...", LineKind.WARNING, conversation)
        self._render(Aspect.CONNECTION)
        self._schedule_reconnect()

    def _reason_for_closing(self, protocol: ClientProtocol) -> str | None:
        """The error the server sent before closing us, if it was the last thing it sent, just now."""
        if self._closing_error is None:
            return None
        lines, at, message = self._closing_error
        if lines != protocol.lines_received or self.clock.seconds() - at > CLOSE_FOLLOWS_SECONDS:
            return None
        return message

    def _schedule_reconnect(self) -> None:
        if self._reconnect_tries >= RECONNECT_MAX_TRIES:
            self._give_up(f"{self._lost_reason} Reconnecting failed {RECONNECT_MAX_TRIES} times.")
            return
        delay = min(RECONNECT_MAX_DELAY, RECONNECT_FIRST_DELAY * RECONNECT_FACTOR**self._reconnect_tries)
        targets = self._reconnect_targets
        self.reconnecting_to = targets[self._reconnect_tries % len(targets)]
        self._reconnect_tries += 1
        self._reconnect_call = self.clock.callLater(delay, self._try_reconnect)
        if self.screen is not Screen.CHAT:
            to = f" to {self._reconnect_target_label()}" if len(targets) > 1 else ""
            self._set_screen(
                Screen.DISCONNECTED,
                f"{self._lost_reason} Reconnecting{to} in {duration_text(math.ceil(delay))}...",
            )
        else:
            self._render(Aspect.CONNECTION)

    def _reconnect_target_label(self) -> str:
        """The next attempt's address, named as the server called itself there (the node's name for another node)."""
        target = self.reconnecting_to
        assert target is not None
        name = self.server_name if target == self.address else target.name
        return ServerAddress(target.host, target.port, name).label

    @property
    def connection_text(self) -> str:
        """What the window's status line says: connected to whom, or which node it is reconnecting to."""
        if self.reconnecting and self.screen is Screen.CHAT:
            alone = len(self._reconnect_targets) <= 1
            return f"Reconnecting to {self.server_name if alone else self._reconnect_target_label()}..."
        if self.screen in (Screen.LOBBY, Screen.CHAT):
            return f"Connected to {self.server_name}"
        return "Not connected"

    def _stop_reconnecting(self) -> None:
        self.reconnecting = False
        call, self._reconnect_call = self._reconnect_call, None
        if call is not None and call.active():
            call.cancel()

    def _give_up(self, reason: str) -> None:
        """No more automatic attempts: the disconnected screen with *Reconnect*."""
        self._stop_reconnecting()
        unsent = self._drop_outbox()
        self._drop_conversations()
        self._set_screen(Screen.DISCONNECTED, reason + unsent)
        self._render(Aspect.CONNECTION)

    def _drop_conversations(self) -> None:
        """Back to no session and no private chat (the transcripts go too)."""
        self.conversations = {}
        self.current = None
        self._render(Aspect.CONVERSATIONS, Aspect.MEMBERS, Aspect.HEADER)

    def _drop_outbox(self) -> str:
        """Forget the waiting messages; the text that says which were not sent."""
        outbox, self.outbox = self.outbox, []
        if not outbox:
            return ""
        texts = ", ".join(f"\u201c{item.text}\u201d" for item in outbox)
        return f" Not sent: {texts}."

    def _try_reconnect(self) -> None:
        self._reconnect_call = None
        address = self.reconnecting_to
        assert address is not None
        self._attempt += 1
        attempt = self._attempt

        def connected(protocol: ClientProtocol) -> None:
            if attempt != self._attempt:
                protocol.disconnect()
                return
            # From now on this node is the one reconnected to first; the server password goes with it.
            self.address = address
            self._welcomed(protocol, address)
            sessions = self.sessions_in
            if sessions:
                for chat in sessions:
                    chat.rejoining = True
                self._stop_reconnecting()
                if self.screen is not Screen.CHAT:
                    # Lost while the session list was shown: it is shown again, beside the sessions.
                    self._show_lobby()
                self._rejoin(protocol, sessions)
                return
            self._stop_reconnecting()
            if self.conversations and self.nick:
                # Private chats only: take the name back, so they go on.
                self._take_nick_back(protocol, self.nick)
            if self.screen is not Screen.CHAT:
                self.notice = Notice("Reconnected.")
                self._show_lobby()

        def failed(reason: Failure) -> None:
            if attempt == self._attempt and not reason.check(CancelledError) and not self._password_refused(reason):
                self._schedule_reconnect()

        self._cancel_pending()
        self._pending = self._open(address)
        self._pending.addCallbacks(connected, failed)

    def _rejoin_again(self, protocol: ClientProtocol, chats: list[ChatState], tries: int) -> None:
        if protocol is self.protocol and self.conversations.get(chats[0].key) is chats[0]:
            self._rejoin(protocol, chats, tries)

    def _rejoin(self, protocol: ClientProtocol, chats: list[ChatState], tries: int = 0) -> None:
        """Join the sessions we were in again, one after the other (the server takes one join
        at a time), with the same name and passwords; then what waits goes out."""
        chat, rest = chats[0], chats[1:]
        fields: dict[str, Any] = {"session": chat.session.id, "username": chat.you}
        if chat.password:
            fields["password"] = chat.password

        def next_one() -> None:
            if rest:
                self._rejoin(protocol, rest)
            else:
                self._flush_outbox()

        def rejoined(frame: Frame) -> None:
            if protocol is not self.protocol or self.conversations.get(chat.key) is not chat:
                return
            chat.rejoining = False
            self._update_chat(chat, frame)
            self._member_list_changed(chat)
            self._render(Aspect.CONNECTION, Aspect.HEADER)
            chat.after_history = [ChatLine(LineKind.SYSTEM, "Reconnected.", self.clock.seconds())]
            chat.history_left = int(frame.get("history") or 0)
            if not chat.history_left:
                self._finish_history(chat)
            next_one()

        def refused(reason: Failure) -> None:
            if protocol is not self.protocol or self.conversations.get(chat.key) is not chat:
                return
            if not reason.check(ServerError):
                return  # the connection went again; connection_lost carries on
            if reason.value.code == "name_taken" and tries < NAME_RETRIES:
                self.clock.callLater(NAME_RETRY_SECONDS, self._rejoin_again, protocol, chats, tries + 1)
                return
            unsent = self._unsent_in(chat)
            self._forget(chat)
            text = f"Reconnected, but could not rejoin {chat.session.name}: {reason.value.message}{unsent}"
            if self.sessions_in:
                self._show_another()
                self._system(text, LineKind.ERROR)
            else:
                self.notice = Notice(text, Tone.ERROR)
                self.current = None
                self._render(Aspect.MEMBERS, Aspect.HEADER)
                self._show_lobby()
            next_one()

        protocol.request("join", **fields).addCallbacks(rejoined, refused)

    def _unsent_in(self, chat: ChatState) -> str:
        """The text that says which of the messages waiting in ``chat`` were not sent."""
        texts = ", ".join(f"\u201c{item.text}\u201d" for item in self.outbox if item.key == chat.key)
        return f" Not sent: {texts}." if texts else ""

    def _take_nick_back(self, protocol: ClientProtocol, nick: str) -> None:
        def taken(_: Frame) -> None:
            self._render(Aspect.CONNECTION)
            self._flush_outbox()

        def refused(reason: Failure) -> None:
            if reason.check(ServerError):
                self._system(f"Reconnected, but the name {nick} is taken: {reason.value.message}", LineKind.ERROR)

        protocol.request("nick", name=nick).addCallbacks(taken, refused)

    def _on_error(self, frame: Frame) -> None:
        """An error that answers no request: the server is about to close (idle, flood) or warns."""
        message = str(frame.get("message") or frame.get("code"))
        if self.protocol is not None:
            # Only the reason of a close if the close comes next (see _reason_for_closing).
            self._closing_error = (self.protocol.lines_received, self.clock.seconds(), message)
        if frame.get("code") in _SENT_AWAY_CODES:
            self._sent_away = True
        if self.conversation is not None:
            self._system(message, LineKind.ERROR)
        else:
            self.notice = Notice(message, Tone.ERROR)
            self._render(Aspect.NOTICE)

    def _on_server_closing(self, frame: Frame) -> None:
        self._closing_reason = f"The server closed: {frame.get('reason') or 'no reason given'}"
