"""The native door: a ``LineReceiver`` adapting JSON lines to the chat domain."""

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure

import glozi
from glozi.discovery.nodes import no_other_nodes, nodes_from
from glozi.domain.chat import ChatServer, Participant, SessionListEvent
from glozi.domain.errors import ChatError
from glozi.domain.events import Event, Joined, Left, SessionRemoved
from glozi.domain.files import UPLOAD_PATH, UPLOAD_TOKEN_SECONDS
from glozi.domain.names import EXIT_CODE_LENGTH
from glozi.domain.operators import Operators
from glozi.domain.serverpassword import ServerPassword
from glozi.doors.native import wire
from glozi.doors.tracking import ConnectionLimits, TrackingFactory
from glozi.doors.writebatch import BatchedWrites, WriteBatch
from glozi.limits.flood import FloodControl, Verdict

# A new connection must send its first frame within this many seconds.
LOGIN_GRACE_SECONDS = 30.0
# A connection at the session list that sends nothing for this long is closed.
LOBBY_IDLE_SECONDS = 30 * 60.0


Answer = dict[str, Any] | Callable[[Any], None] | None | Deferred[Any]
"""What a handler returns: a frame, nothing, or a Deferred of either
(answered when it fires); an answer may also be a function writing frames."""


class NativeProtocol(BatchedWrites, LineReceiver, TimeoutMixin):
    """One client connection speaking docs/protocol.md."""

    delimiter = b"\n"
    # One more byte than a line may have, for the "\r" of a CRLF line end.
    MAX_LENGTH = wire.MAX_LINE_BYTES + 1
    log = Logger()

    factory: "NativeFactory"
    participant: Participant
    # Set once the connection is gone: an answer that comes later (a store
    # commit, a password check) must not start a timer that keeps it alive.
    gone = False
    quit_comment: str | None = None
    """The parting words of a ``quit`` frame, told to every session when the connection goes."""
    authenticated = True
    """False until a server that has a password (``--password``) accepted this connection's."""
    _password_check: "Deferred[Any] | None" = None

    def connectionMade(self) -> None:
        self.send_without_delay()
        self._flood = FloodControl(
            self.factory.chat.clock, burst=self.factory.flood_burst, rate=self.factory.flood_rate
        )
        self.start_sending(self.factory.max_send_queue, self._too_slow)
        self.authenticated = not self.factory.server_password.required
        peer = self.transport.getPeer()
        # The participant comes first: the welcome carries its download token.
        self.participant = self.factory.chat.connect(
            self, getattr(peer, "host", str(peer)), registered=self.authenticated
        )
        self.send(wire.encode_frame(self.welcome()))
        self.factory.opened(self)
        if self.authenticated:
            self.factory.at_session_list.add(self)
        self.setTimeout(self.factory.login_grace)

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.gone = True
        self.setTimeout(None)
        self.factory.at_session_list.discard(self)
        self.participant.disconnected(self.quit_comment)
        self.factory.closed(self)

    def callLater(self, period: float, func: Callable[[], None]) -> Any:
        # TimeoutMixin's timer, on the chat's clock so tests can drive it.
        return self.factory.chat.clock.callLater(period, func)

    def timeoutConnection(self) -> None:
        self._send_error(
            ChatError("idle", "Closing: nothing was received for too long at the session list.", disconnect=True),
            None,
        )

    def _watch_idleness(self) -> None:
        """At the session list a silent connection is closed; in a session the
        domain's inactivity timeout applies instead. Before the server
        password is accepted the first frame's grace keeps running."""
        if self.gone or not self.authenticated:
            return
        self.setTimeout(None if self.participant.members else self.factory.lobby_idle)

    def dataReceived(self, data: bytes) -> None:
        # Everything this read causes, for every connection, goes out in one
        # write per connection.
        with self.factory.writes:
            super().dataReceived(data)

    def _too_slow(self) -> None:
        self.log.warn(
            "Dropping {peer}: it stopped reading and {limit} bytes are queued for it",
            peer=self.transport.getPeer(),
            limit=self.factory.max_send_queue,
        )
        self.transport.abortConnection()

    send_encoded = BatchedWrites.send
    """Send bytes already in this door's encoding (``factory.encode_event``'s); a
    native line is, so here it is ``send`` itself."""

    def shared_bytes(self, event: Event) -> bytes | None:
        """``event`` in this door's encoding, the same for every connection of
        the door (glozi/fanout/delivery.py); None for leaving, which may bring
        this connection back to the session list (``deliver``)."""
        if type(event) is Left:
            return None
        return self.factory.encode_event(event)

    def deliver(self, event: Event) -> None:
        # Every member's delivery comes here: one write, and one cheap type test
        # for the one event that needs more (an IRC channel CTCP encodes to nothing).
        self.send_encoded(self.factory.encode_event(event))
        if type(event) is Left and not self.participant.members:
            self.factory.at_session_list.add(self)
            self._watch_idleness()
            left = self.factory.chat.sessions.get(event.session_id)
            # The list is never told of a secret session; its leaver, back at the list, is told it is not in theirs.
            if left is not None and left.rules.secret:
                self.send_encoded(self.factory.encode_event(SessionRemoved(session_id=left.id, name=left.name)))

    def lineReceived(self, line: bytes) -> None:
        line = line.removesuffix(b"\r")
        if len(line) > wire.MAX_LINE_BYTES:
            self.lineLengthExceeded(line)
            return
        if not line.strip():
            return
        if not self.within_line_budget(line):
            return
        request_id: wire.RequestId = None
        session_id: int | None = None
        try:
            request = wire.parse_request(line)
            request_id = request.request_id
            session_id = getattr(request, "session_id", None)
            if self.authenticated:
                response = _HANDLERS[type(request)](self, request)
            else:
                response = self._before_password(request)
        except wire.FrameError as error:
            if error.frame_type in wire.ACTIVITY_TYPES:
                self.participant.touch()
            self._send_error(error, error.request_id)
        except ChatError as error:
            self._send_error(error, request_id, session_id)
        # A bug in one handler must cost this frame only, never the connection or the server.
        except Exception:  # noqa: BLE001
            self.log.failure("Handling a frame failed")
            self._send_error(
                ChatError("internal_error", "The server failed to handle that frame."), request_id, session_id
            )
        else:
            if isinstance(response, Deferred):
                response.addCallbacks(
                    self._answer, self._answer_failure, (request_id,), None, (request_id, session_id)
                )
            else:
                self._answer(response, request_id)
                return
        if not self.transport.disconnecting:
            self._watch_idleness()

    def _answer(self, response: Any, request_id: wire.RequestId) -> None:
        """Write a handler's answer (a frame, or a writer of frames) and watch idleness."""
        if callable(response):
            response(request_id)
        elif response is not None:
            self.send(wire.encode_frame(wire.with_id(response, request_id)))
        if not self.transport.disconnecting:
            self._watch_idleness()

    def _answer_failure(self, reason: Failure, request_id: wire.RequestId, session_id: int | None) -> None:
        """A handler's Deferred failed: a refusal is answered as such, anything else is logged."""
        if reason.check(ChatError):
            self._send_error(reason.value, request_id, session_id)
        else:
            self.log.failure("Handling a frame failed", reason)
            self._send_error(
                ChatError("internal_error", "The server failed to handle that frame."), request_id, session_id
            )
        if not self.transport.disconnecting:
            self._watch_idleness()

    def within_line_budget(self, line: bytes) -> bool:
        """Spend one line of the flood budget on ``line``; past the budget it
        is answered (or dropped) as docs/protocol.md says, and ``False``."""
        verdict = self._flood.check()
        if verdict is Verdict.ACCEPT:
            return True
        self._flooded(verdict, line)
        return False

    def _flooded(self, verdict: Verdict, line: bytes) -> None:
        """Answer the line that went over budget; it is not processed. Only the
        answered lines are decoded for their id (one per flood, and the last),
        so a flood costs no more than dropping lines."""
        if verdict is Verdict.REFUSE:
            self._send_error(
                ChatError("flood", "You are sending too fast; lines are being dropped."), wire.request_id_of(line)
            )
        elif verdict is Verdict.DISCONNECT:
            self.log.warn("Disconnecting {peer} for flooding", peer=self.transport.getPeer())
            self._send_error(
                ChatError("flood", "You kept sending too fast; closing the connection.", disconnect=True),
                wire.request_id_of(line),
            )

    def lineLengthExceeded(self, line: bytes) -> None:
        error = ChatError(
            "line_too_long",
            f"Lines are at most {wire.MAX_LINE_BYTES} bytes; closing the connection.",
            disconnect=True,
        )
        self._send_error(error, None)

    def _send_error(self, error: ChatError, request_id: wire.RequestId, session_id: int | None = None) -> None:
        """An ``error`` frame; ``session_id`` is the session the refused frame named, if any."""
        frame: dict[str, Any] = {"type": "error", "code": error.code, "message": error.message}
        if session_id is not None:
            frame["session"] = session_id
        if error.retry_after is not None:
            frame["retry_after"] = error.retry_after
        self.send(wire.encode_frame(wire.with_id(frame, request_id)))
        if error.disconnect:
            self.close()

    def _hello(self, request: wire.Hello) -> dict[str, Any]:
        if request.protocol != wire.PROTOCOL_VERSION:
            raise ChatError(
                "unsupported_protocol",
                f"This server speaks protocol {wire.PROTOCOL_VERSION}, not {request.protocol}.",
                disconnect=True,
            )
        return self.welcome()

    def _before_password(self, request: object) -> "Deferred[dict[str, Any] | None]":
        """On a server with a password, the first frame must be a ``hello``
        with it: the answer is the welcome, or an error and the connection closes."""
        if self._password_check is not None:
            raise ChatError("wrong_state", "The server password is being checked; wait for its answer.")
        if not isinstance(request, wire.Hello):
            raise ChatError(
                "server_password_required",
                "This server needs a password: send it in a hello first.",
                disconnect=True,
            )
        self._hello(request)
        checking = self.factory.server_password.check(self.participant, request.password)
        self._password_check = checking

        def accepted(_: None) -> dict[str, Any] | None:
            self._password_check = None
            if self.gone:
                return None
            self.authenticated = True
            self.factory.chat.registration_done(self.participant)
            self.factory.at_session_list.add(self)
            return self.welcome()

        def refused(reason: Failure) -> Failure:
            self._password_check = None
            return reason

        return checking.addCallbacks(accepted, refused)

    def _list(self, request: wire.ListSessions) -> dict[str, Any]:
        sessions = [wire.session_fields(info) for info in self.participant.list_sessions()]
        return {"type": "sessions", "sessions": sessions}

    def _create(self, request: wire.CreateSession) -> "Deferred[Callable[[wire.RequestId], None]]":
        joined = self.participant.create(request.name, request.username, request.password)
        return joined.addCallback(self._joined_writer)

    def _join(self, request: wire.JoinSession) -> "Deferred[Callable[[wire.RequestId], None]]":
        joined = self.participant.join(request.session_id, request.username, request.password)
        return joined.addCallback(self._joined_writer)

    def _joined_writer(self, joined: Joined) -> Callable[[wire.RequestId], None]:
        """The ``joined`` answer, then its ``history`` frames, in one piece:
        the domain admitted us in the same reactor turn, so no live event
        can come between them."""

        def write(request_id: wire.RequestId) -> None:
            self.factory.at_session_list.discard(self)
            answer = wire.encode_frame(wire.with_id(wire.event_frame(joined), request_id))
            self.send(answer + wire.encode_history(joined))

        return write

    def _say(self, request: wire.Say) -> "Deferred[dict[str, Any]]":
        session_id = request.session_id
        if session_id is None:
            session_id = self.participant.member_of(None).session.id
        # The ack waits for the commit; the others get the message at once.
        said = self.participant.say(request.text, session_id, action=request.action, notice=request.notice)
        return said.addCallback(
            lambda message: {"type": "ack", "session": session_id, "ts": message.sent_at, "msgid": message.msgid}
        )

    def _command(self, request: wire.RunCommand) -> "dict[str, Any] | Deferred[dict[str, Any]]":
        operators = self.factory.operators
        if request.name.lower() == "close" and operators.may_close(self.participant, request.session_id):
            assert request.session_id is not None
            text = operators.close_session(self.participant, request.session_id)
            return {"type": "reply", "session": request.session_id, "command": "close", "text": text}
        # Read before running: after /quit or /close the session is no longer ours.
        session_id = self.participant.member_of(request.session_id).session.id
        text = self.participant.run_command(request.name, request.args, session_id)

        def reply(text: str) -> dict[str, Any]:
            return {"type": "reply", "session": session_id, "command": request.name.lower(), "text": text}

        # A new key is hashed before the command answers.
        return text.addCallback(reply) if isinstance(text, Deferred) else reply(text)

    def _nick(self, request: wire.ChangeNick) -> dict[str, Any]:
        old = self.participant.rename(request.name)
        return {"type": "nick_changed", "old": old, "name": request.name}

    def _private(self, request: wire.SendPrivate) -> dict[str, Any]:
        sent, away = self.participant.send_private(
            request.to, request.text, action=request.action, notice=request.notice
        )
        answer: dict[str, Any] = {"type": "ack", "to": request.to, "ts": sent.sent_at, "msgid": sent.msgid}
        # As on IRC, a notice is never answered with the recipient's away message.
        if away is not None and not request.notice:
            answer["away"] = away
        return answer

    def _upload(self, request: wire.RequestUpload) -> "Deferred[dict[str, Any]]":
        files = self.factory.chat.files
        if files is None:
            raise ChatError("files_unavailable", "This server shares no files.")
        asked = files.request_upload(
            self.participant, request.session_id, request.to, request.name, request.size, request.media_type
        )

        def ready(grant: Any) -> dict[str, Any]:
            target: dict[str, Any] = {"session": grant.session_id} if grant.session_id is not None else {"to": grant.to}
            return {"type": "upload_ready", **target, "path": UPLOAD_PATH, "token": grant.token, "expires_in": UPLOAD_TOKEN_SECONDS}

        return asked.addCallback(ready)

    def welcome(self) -> dict[str, Any]:
        """The factory's welcome, with this connection's own download token (docs/files.md)."""
        files = self.factory.chat.files
        shared = None
        if files is not None:
            shared = {"download_token": files.download_token(self.participant), "max_file_size": files.max_file_size}
        return {**self.factory.welcome(), "files": shared}

    def _away(self, request: wire.SetAway) -> dict[str, Any]:
        self.participant.set_away(request.message)
        return {"type": "presence", "away": request.message}

    def _whois(self, request: wire.Whois) -> dict[str, Any]:
        return wire.user_fields(self.participant.whois(request.name))

    def _modes_frame(self) -> dict[str, Any]:
        user = self.participant
        return {"type": "modes", "operator": user.operator is not None, "wallops": user.wallops, "invisible": user.invisible}

    def _oper(self, request: wire.Oper) -> "Deferred[dict[str, Any]]":
        def granted(_: None) -> dict[str, Any]:
            if request.wallops is not None:
                self.factory.operators.set_modes(self.participant, wallops=request.wallops)
            return self._modes_frame()

        return self.factory.operators.oper(self.participant, request.name, request.password).addCallback(granted)

    def _modes(self, request: wire.SetModes) -> dict[str, Any]:
        self.factory.operators.set_modes(
            self.participant, wallops=request.wallops, operator=request.operator, invisible=request.invisible
        )
        return self._modes_frame()

    def _kill(self, request: wire.Kill) -> dict[str, Any]:
        return {"type": "ack", "killed": self.factory.operators.kill(self.participant, request.name, request.reason)}

    def _wallops(self, request: wire.SendWallops) -> dict[str, Any]:
        return {"type": "ack", "wallops": True, "ts": self.factory.operators.wallops(self.participant, request.text)}

    def _who(self, request: wire.Who) -> dict[str, Any]:
        users = self.participant.users_matching(request.mask)
        return wire.users_fields([self.participant.whois(user.nick) for user in users if user.nick is not None])

    def _stats(self, request: wire.Stats) -> dict[str, Any]:
        return wire.stats_fields(self.factory.chat.counts())

    def _whowas(self, request: wire.Whowas) -> dict[str, Any]:
        return wire.was_fields(self.participant.whowas(request.name, request.count))

    def _quit(self, request: wire.Quit) -> Callable[[wire.RequestId], None]:
        """Leave the server: every session hears ``comment``, the answer is ``bye``, then the connection closes."""
        self.quit_comment = request.comment

        def write(request_id: wire.RequestId) -> None:
            self.send(wire.encode_frame(wire.with_id({"type": "bye"}, request_id)))
            self.close()

        return write

    def _history(self, request: wire.ReadHistory) -> "Deferred[dict[str, Any]]":
        read = self.participant.read_history(request.session_id, request.query)
        return read.addCallback(lambda messages: wire.messages_fields(request.session_id, messages, request.query.limit))

    def _history_targets(self, request: wire.HistoryTargets) -> "Deferred[dict[str, Any]]":
        found = self.participant.history_targets(request.after, request.before, request.limit)
        return found.addCallback(wire.targets_fields)

    def _exit(self, request: wire.SubmitExitCode) -> None:
        self.participant.submit_exit_code(request.code)

    def _ping(self, request: wire.Ping) -> dict[str, Any]:
        return {"type": "pong"}


# One table for the class, not a dict of bound methods per connection.
_HANDLERS: dict[type, Callable[[NativeProtocol, Any], Answer]] = {
    wire.Hello: NativeProtocol._hello,
    wire.ListSessions: NativeProtocol._list,
    wire.CreateSession: NativeProtocol._create,
    wire.JoinSession: NativeProtocol._join,
    wire.Say: NativeProtocol._say,
    wire.RunCommand: NativeProtocol._command,
    wire.SubmitExitCode: NativeProtocol._exit,
    wire.Ping: NativeProtocol._ping,
    wire.ChangeNick: NativeProtocol._nick,
    wire.SendPrivate: NativeProtocol._private,
    wire.RequestUpload: NativeProtocol._upload,
    wire.SetAway: NativeProtocol._away,
    wire.Whois: NativeProtocol._whois,
    wire.Oper: NativeProtocol._oper,
    wire.SetModes: NativeProtocol._modes,
    wire.Kill: NativeProtocol._kill,
    wire.SendWallops: NativeProtocol._wallops,
    wire.Whowas: NativeProtocol._whowas,
    wire.Who: NativeProtocol._who,
    wire.Stats: NativeProtocol._stats,
    wire.Quit: NativeProtocol._quit,
    wire.ReadHistory: NativeProtocol._history,
    wire.HistoryTargets: NativeProtocol._history_targets,
}


class NativeFactory(TrackingFactory):
    """Serves the native protocol for one ``ChatServer``.

    ``web_port()`` is the browser client's port on this host (``None``:
    no web door), ``web_tls`` whether it is https; the welcome tells both.
    ``nodes()`` gives the other live nodes of this server's cluster, each a
    dict with ``name``, ``host``, ``port``, ``tls`` and ``irc_port`` (more keys
    are left out); the welcome lists the first 16. It is called at every
    welcome, so it must answer at once from what the node already knows.
    """

    protocol = NativeProtocol

    def __init__(
        self,
        chat: ChatServer,
        server_name: str,
        *,
        limits: ConnectionLimits | None = None,
        writes: WriteBatch | None = None,
        login_grace: float = LOGIN_GRACE_SECONDS,
        lobby_idle: float = LOBBY_IDLE_SECONDS,
        operators: Operators | None = None,
        description: str = glozi.DESCRIPTION,
        server_password: ServerPassword | None = None,
        nodes: Callable[[], list[dict[str, Any]]] = no_other_nodes,
        web_port: Callable[[], int | None] = lambda: None,
        web_tls: bool = False,
    ) -> None:
        super().__init__(limits, writes)
        self.nodes = nodes
        self.web_port = web_port
        self.web_tls = web_tls
        self.chat = chat
        self.operators = operators if operators is not None else Operators(chat)
        self.server_password = server_password if server_password is not None else ServerPassword(chat)
        self.server_name = server_name
        self.description = description
        self.login_grace = login_grace
        self.lobby_idle = lobby_idle
        self.at_session_list: set[NativeProtocol] = set()
        """Welcomed connections in no session: they get the session-list events."""
        chat.watch_session_list(self)

    def watching(self) -> bool:
        # Stops at the first one; only a joiner whose answer is on its way is skipped.
        return any(not connection.participant.members for connection in self.at_session_list)

    encode_event = staticmethod(wire.encode_event)
    """An event in this door's encoding, encoded once and cached on the event."""

    def session_list_changed(self, event: SessionListEvent) -> None:
        """One encoding, the same bytes to every connection at the session list."""
        data = self.encode_event(event)
        for connection in self.at_session_list:
            # A joiner stays in the set until its answer is written, but is a member already.
            if not connection.participant.members:
                connection.send_encoded(data)

    def refusal_line(self, message: str) -> bytes:
        return wire.encode_frame({"type": "error", "code": "too_many_connections", "message": message})

    def welcome(self) -> dict[str, Any]:
        return {
            "type": "welcome",
            "protocol": wire.PROTOCOL_VERSION,
            "server": "GloziChat",
            "version": glozi.__version__,
            "name": self.server_name,
            "description": self.description,
            "max_line": wire.MAX_LINE_BYTES,
            "max_text": wire.MAX_TEXT_CHARS,
            "exit_code_digits": EXIT_CODE_LENGTH,
            "password_required": self.server_password.required,
            # Options arrive as floats; a whole burst reads better as 20 than 20.0.
            "flood": {
                "burst": int(self.flood_burst) if float(self.flood_burst).is_integer() else self.flood_burst,
                "per_second": float(self.flood_rate),
            },
            "nodes": [node.fields() for node in nodes_from(self.nodes())],
            "web_port": self.web_port(),
            "web_tls": self.web_tls,
        }
