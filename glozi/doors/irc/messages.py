"""Messages and people: PRIVMSG and NOTICE to channels and nicks (CTCP
included, glozi/doors/irc/ctcp.py), the GloziServ service, TIME and WHOIS."""

from typing import Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

import glozi
from glozi.domain import commands
from glozi.domain.errors import ChatError
from glozi.domain.events import PrivateMessage
from glozi.domain.files import (
    UPLOAD_PATH,
    UPLOAD_TOKEN_SECONDS,
    FileSharing,
    valid_file_name,
    valid_media_type,
)
from glozi.domain.names import EXIT_CODE_RULE, is_valid_exit_code, name_key
from glozi.doors.irc import ctcp, tags, wire
from glozi.doors.irc import numerics as n
from glozi.doors.irc.caps import Cap
from glozi.doors.irc.connection import IRCConnection

_SERVICE_ONLY_HELP = (
    "exit CODE - the server exit code: shuts the server down (only outside a session)",
    "In several channels, name one after the command: quit #kiwi, kick #kiwi NAME.",
    "IRC's own /time, /kick #session NAME and /part #session do the same as time, kick and quit.",
    "upload #channel|nick NAME SIZE [MEDIA_TYPE] - a command line to share a file (docs/files.md)",
    "files - your download token, for shared files' links",
)
UPLOAD_USAGE = "Usage: upload #channel|nick NAME SIZE [MEDIA_TYPE]"


_SEND_REFUSALS = {"banned": "+b", "moderated": "+m"}
"""The refusals of a channel message, by the mode that refuses it."""


class Messages(IRCConnection):
    """Talking in the session, and the GloziChat commands through ``/msg GloziServ``."""

    def irc_PRIVMSG(self, params: list[str]) -> None:
        self._message(params, notice=False)

    def irc_NOTICE(self, params: list[str]) -> None:
        self._message(params, notice=True)

    def _message(self, params: list[str], notice: bool) -> None:
        """PRIVMSG and NOTICE; a NOTICE is never answered, not even with an error."""
        if not params or not params[0]:
            if not notice:
                self._numeric(n.ERR_NORECIPIENT, "No recipient given (PRIVMSG)")
            return
        target = params[0]
        text = params[1] if len(params) > 1 else ""
        query = ctcp.parse(text)
        if query is not None and query.command != ctcp.ACTION:
            self._ctcp(target, query, notice)
            return
        action = query is not None
        text = wire.clean_text(query.argument if query is not None else text)
        session_id = self._my_session(target)
        if not text.strip():
            # Talking to your session counts as activity even when refused, as on the native door.
            if session_id is not None:
                self.participant.touch(session_id)
            if not notice:
                self._numeric(n.ERR_NOTEXTTOSEND, "No text to send")
            return
        if session_id is not None:
            if self._too_long_to_relay(self.channels[session_id], text, notice, action):
                self.participant.touch(session_id)
                return
            try:
                self.participant.say(
                    text, session_id, notice=notice, action=action, echo=bool(self.caps & Cap.ECHO_MESSAGE),
                    client_tags=tags.client_only(self.line_tags),
                ).addErrback(self._not_stored)  # fmt: skip
            except ChatError as error:
                self._cannot_send(self.channels[session_id], error, notice)
        elif name_key(target) == name_key(wire.SERVICE_NICK):
            if not notice and not action:
                self._service(text)
        elif wire.session_of(target) is not None:
            self._say_from_outside(target, text, notice, action)
        elif not self._too_long_to_relay(target, text, notice, action):
            self._private(target, text, notice, action)

    def _say_from_outside(self, channel: str, text: str, notice: bool, action: bool) -> None:
        """To a channel this client is not on: relayed when it is ``-n``, else
        404 (``+n``, no such channel, or ``+m`` or a ban refusing it)."""
        info = self._session_named(channel)
        if info is not None:
            if self._too_long_to_relay(wire.channel_of(info.name), text, notice, action):
                return
            try:
                self.participant.say(
                    text, info.id, notice=notice, action=action, client_tags=tags.client_only(self.line_tags)
                ).addErrback(self._not_stored)
                return
            except ChatError as error:
                if error.code in _SEND_REFUSALS:
                    self._cannot_send(wire.channel_of(info.name), error, notice)
                    return
        if not notice:
            self._numeric(n.ERR_CANNOTSENDTOCHAN, wire.echo(channel), "Cannot send to channel: join it first")

    def _too_long_to_relay(self, target: str, text: str, notice: bool, action: bool) -> bool:
        """Whether a PRIVMSG, relayed with the sender's prefix, would pass 512 bytes: then it is refused with
        ``417`` (as IRC servers refuse or cut it; nothing is cut here). A NOTICE is never answered, so one that
        long is split into several lines as a native user's long message is."""
        if notice:
            return False
        assert self.nick is not None
        prefix = wire.user_prefix(self.nick)
        if wire.relayed_bytes(prefix, "PRIVMSG", target, text, action=action) <= wire.MAX_LINE_BYTES:
            return False
        self._numeric(
            n.ERR_INPUTTOOLONG,
            f"Input line too long: sent on with your {prefix} it would pass {wire.MAX_LINE_BYTES} bytes; "
            "send a shorter message",
        )
        return True

    def _private(self, nick: str, text: str, notice: bool, action: bool = False) -> None:
        """To one user, whichever door: 401 when nobody has the nick, 301 when they are away."""
        try:
            message, away = self.participant.send_private(
                nick, text, notice=notice, action=action, client_tags=tags.client_only(self.line_tags)
            )
        except ChatError as error:
            if error.code != "no_such_user":
                raise
            if not notice:
                self._numeric(n.ERR_NOSUCHNICK, wire.echo(nick), "No such nick")
            return
        self._echo_private(nick, message)
        if away is not None and not notice:
            user = self.factory.chat.user_named(nick)
            self._numeric(n.RPL_AWAY, user.nick if user and user.nick else nick, away)

    def _echo_private(self, nick: str, message: PrivateMessage) -> None:
        """echo-message: the sender is shown its private message as sent, with the recipient's id and time."""
        if not self.caps & Cap.ECHO_MESSAGE:
            return
        user = self.factory.chat.user_named(nick)
        target = user.nick if user is not None and user.nick else nick
        if message.tags_only:
            data = wire.line(wire.user_prefix(message.sender), "TAGMSG", target)
        else:
            data = wire.said_lines(
                message.sender, target, message.text, notice=message.notice, action=message.action,
                ctcp=message.ctcp,
            )  # fmt: skip
        self.send(self.tagged(data, message))

    def irc_TAGMSG(self, params: list[str]) -> None:
        """``TAGMSG target``: the client-only tags alone, to a channel you are
        in or an IRC user (a native user is sent nothing), as a PRIVMSG would go."""
        target, client_tags = params[0], tags.client_only(self.line_tags)
        session_id = self._my_session(target)
        if session_id is not None:
            try:
                self.participant.send_tags(client_tags, session_id, echo=bool(self.caps & Cap.ECHO_MESSAGE))
            except ChatError as error:
                self._cannot_send(self.channels[session_id], error, notice=False)
        elif wire.session_of(target) is not None:
            self._numeric(n.ERR_CANNOTSENDTOCHAN, wire.echo(target), "Cannot send to channel: join it first")
        elif name_key(target) != name_key(wire.SERVICE_NICK):
            user = self.factory.chat.user_named(target)
            if user is None:
                self._numeric(n.ERR_NOSUCHNICK, wire.echo(target), "No such nick")
            elif getattr(user.connection, "speaks_ctcp", False):
                message, _ = self.participant.send_private(target, "", client_tags=client_tags, tags_only=True)
                self._echo_private(target, message)

    def irc_SETNAME(self, params: list[str]) -> None:
        """``SETNAME :real name`` (IRCv3 setname): the new real name, told to
        you and to those sharing a session with you who asked for setname."""
        real_name = wire.clean_text(params[0]).strip() if params else ""
        if not real_name or len(real_name) > wire.REAL_NAME_MAX:
            self._write(
                self.factory.server, "FAIL", "SETNAME", "INVALID_REALNAME",
                f"Realname is not valid: 1 to {wire.REAL_NAME_MAX} characters",
            )  # fmt: skip
            return
        self.participant.set_real_name(real_name)
        if self.caps & Cap.SETNAME:
            self._write(wire.user_prefix(self.nick or "*"), "SETNAME", real_name)

    def _ctcp(self, target: str, query: ctcp.Query, notice: bool) -> None:
        """A CTCP request (PRIVMSG) or reply (NOTICE) other than ACTION: to an
        IRC user it goes as it is; for a native user or GloziServ the server
        answers a request itself and drops a reply (nobody there asked);
        to a channel it goes to its IRC members, unless the channel is +C or
        the sender may not talk there (404)."""
        session_id = self._my_session(target)
        if wire.session_of(target) is not None:
            if session_id is not None:
                self._channel_ctcp(session_id, query, notice)
            elif not notice:
                self._numeric(n.ERR_CANNOTSENDTOCHAN, wire.echo(target), "Cannot send to channel: join it first")
            return
        is_service = name_key(target) == name_key(wire.SERVICE_NICK)
        user = None if is_service else self.factory.chat.user_named(target)
        if user is None and not is_service:
            if not notice:
                self._numeric(n.ERR_NOSUCHNICK, wire.echo(target), "No such nick")
        elif user is not None and getattr(user.connection, "speaks_ctcp", False):
            message, _ = self.participant.send_private(target, ctcp.body_of(query), notice=notice, ctcp=True)
            self._echo_private(target, message)
        elif not notice:
            answer = ctcp.answer_in_place(query, self.factory.clock.seconds(), glozi.__version__)
            answering = user.nick if user is not None and user.nick else wire.SERVICE_NICK
            self.send(wire.ctcp_line(wire.user_prefix(answering), "NOTICE", self.nick or "*", answer))

    def _channel_ctcp(self, session_id: int, query: ctcp.Query, notice: bool) -> None:
        try:
            sent = self.participant.send_ctcp(ctcp.body_of(query), session_id, notice=notice)
        except ChatError as error:
            self._cannot_send(self.channels[session_id], error, notice)
            return
        if not sent and not notice:
            self._numeric(n.ERR_CANNOTSENDTOCHAN, self.channels[session_id], "Cannot send to channel (+C): no CTCP but ACTION")

    def _cannot_send(self, channel: str, error: ChatError, notice: bool) -> None:
        """A message the channel's modes refused: 404 naming the mode (a NOTICE is dropped silently)."""
        mode = _SEND_REFUSALS.get(error.code)
        if mode is None:
            raise error
        if not notice:
            self._numeric(n.ERR_CANNOTSENDTOCHAN, channel, f"Cannot send to channel ({mode}): {error.message}")

    def _not_stored(self, reason: Failure) -> None:
        """IRC has no acknowledgement: only a failure to store is reported."""
        if reason.check(ChatError):
            self._server_notice(reason.value.message)
        else:
            self.log.failure("Storing an IRC message failed", reason)

    def _service(self, text: str) -> None:
        name, _, args = text.strip().partition(" ")
        name = name.lower().removeprefix("/")
        try:
            if name == "help":
                self._service_help()
            elif name == "exit":
                self._exit_code(args.strip())
            elif name == "upload":
                self._upload(args.split())
            elif name == "files":
                self._download_token()
            elif name == "close" and (other := self._operator_closes(args)) is not None:
                self._service_notice(self.factory.operators.close_session(self.participant, other))
            else:
                session_id, args = self._service_session(args)
                answer = self.participant.run_command(name, args, session_id)
                if isinstance(answer, Deferred):
                    # A new key is hashed first (lock).
                    answer.addCallbacks(self._service_answer, self._service_refused)
                else:
                    self._service_answer(answer)
        except ChatError as error:
            self._service_refusal(error)

    def _service_answer(self, text: str) -> None:
        for piece in text.split("\n"):
            self._service_notice(piece)

    def _service_refused(self, reason: Failure) -> None:
        if reason.check(ChatError):
            self._service_refusal(reason.value)
        else:
            self.log.failure("A GloziServ command failed", reason)
            self._service_notice("The server failed on that command; nothing was changed.")

    def _service_refusal(self, error: ChatError) -> None:
        self._service_notice(error.message)
        if error.disconnect:
            self._error_and_close(error.message)

    def _operator_closes(self, args: str) -> int | None:
        """The session of ``close #s`` when a server operator closes one they are not in."""
        info = self._session_named(args.strip())
        if info is not None and self.factory.operators.may_close(self.participant, info.id):
            return info.id
        return None

    def _service_session(self, args: str) -> tuple[int | None, str]:
        """A service command runs in the channel its arguments start with
        (``kick #kiwi bob``), else in your only one."""
        first, _, rest = args.strip().partition(" ")
        session_id = self._my_session(first) if first else None
        if session_id is not None:
            return session_id, rest
        if len(self.channels) > 1:
            raise ChatError(
                "missing_field", "You are in several channels: name one first, as in: kick #kiwi bob"
            )
        return None, args

    def _service_help(self) -> None:
        self._service_notice("GloziServ runs GloziChat commands: /msg GloziServ COMMAND [ARGUMENTS]")
        for command in commands.COMMANDS.values():
            self._service_notice(f"{command.usage.removeprefix('/')} - {command.help}{commands.privilege_mark(command)}")
        for text in _SERVICE_ONLY_HELP:
            self._service_notice(text)

    def _file_sharing(self) -> FileSharing:
        files = self.factory.chat.files
        if files is None or not self.factory.web():
            raise ChatError("files_unavailable", "This server shares no files.")
        return files

    def _upload(self, words: list[str]) -> None:
        """``upload #kiwi NAME SIZE [MEDIA_TYPE]``: a token, told as the curl command line that uses it."""
        try:
            self._ask_upload(words)
        except ChatError as error:
            self._service_notice(f"Upload refused ({error.code}): {error.message}")

    def _ask_upload(self, words: list[str]) -> None:
        files = self._file_sharing()
        if len(words) not in (3, 4) or not words[2].isdigit() or not valid_file_name(words[1]):
            self._service_notice(UPLOAD_USAGE)
            return
        target, name, size = words[0], words[1], int(words[2])
        media_type = words[3].lower() if len(words) == 4 else "application/octet-stream"
        if not valid_media_type(media_type) or size < 1:
            self._service_notice(UPLOAD_USAGE)
            return
        session_id = None
        to = None
        if wire.session_of(target) is not None:
            session_id = self._my_session(target)
            if session_id is None:
                raise ChatError("not_in_session", f"You are not in {target}.")
        else:
            to = target

        def ready(grant: Any) -> None:
            where = self.channels[session_id] if session_id is not None else to
            self._service_notice(f"Upload {name} to {where} within {UPLOAD_TOKEN_SECONDS} seconds with:")
            self._service_notice(
                f"curl -T {name} -H 'Authorization: Bearer {grant.token}' {self.factory.web()}{UPLOAD_PATH}"
            )

        def refused(reason: Failure) -> None:
            if reason.check(ChatError):
                self._service_notice(f"Upload refused ({reason.value.code}): {reason.value.message}")
            else:
                self._service_refused(reason)

        files.request_upload(self.participant, session_id, to, name, size, media_type).addCallbacks(ready, refused)

    def _download_token(self) -> None:
        token = self._file_sharing().download_token(self.participant)
        self._service_notice(
            f"Your download token is {token} (valid while you stay connected): add ?token={token} to a file's link."
        )

    def _exit_code(self, code: str) -> None:
        if not is_valid_exit_code(code):
            raise ChatError(
                "invalid_exit_code", f"Usage: exit CODE, where CODE is the server's exit code ({EXIT_CODE_RULE})."
            )
        self.participant.submit_exit_code(code)

    def irc_TIME(self, params: list[str]) -> None:
        self._numeric(n.RPL_TIME, self.factory.server, commands.server_time(self.factory.clock.seconds()))

    def irc_WHOIS(self, params: list[str]) -> None:
        # "WHOIS server nick" asks a given server: there is one, so the nick is the last parameter.
        nick = params[-1].split(",")[0]
        try:
            user = self.participant.whois(nick)
        except ChatError:
            self._numeric(n.ERR_NOSUCHNICK, wire.echo(nick), "No such nick")
            self._numeric(n.RPL_ENDOFWHOIS, wire.echo(nick), "End of /WHOIS list")
            return
        self._numeric(n.RPL_WHOISUSER, user.name, "~" + user.user_name, wire.USER_HOST, "*", user.real_name)
        if user.sessions:
            channels = [("@" if info.admin == user.name else "") + wire.channel_of(info.name) for info in user.sessions]
            head = len(f":{self.factory.server} {n.RPL_WHOISCHANNELS} {self.nick} {user.name} :\r\n")
            for chunk in wire.split_text(" ".join(channels), wire.MAX_LINE_BYTES - head):
                self._numeric(n.RPL_WHOISCHANNELS, user.name, chunk)
        self._numeric(n.RPL_WHOISSERVER, user.name, self.factory.server, self.factory.display_name)
        if user.operator:
            self._numeric(n.RPL_WHOISOPERATOR, user.name, "is an IRC operator")
        if user.away is not None:
            self._numeric(n.RPL_AWAY, user.name, user.away)
        self._numeric(
            n.RPL_WHOISIDLE,
            user.name,
            str(user.idle_seconds),
            str(int(user.connected_at)),
            "seconds idle, signon time",
        )
        self._numeric(n.RPL_ENDOFWHOIS, user.name, "End of /WHOIS list")
