"""Messages and the GloziServ service: PRIVMSG, NOTICE and TIME."""

from twisted.python.failure import Failure

from glozi.domain import commands
from glozi.domain.errors import ChatError
from glozi.domain.names import EXIT_CODE_RULE, is_valid_exit_code, name_key
from glozi.doors.irc import numerics as n
from glozi.doors.irc import wire
from glozi.doors.irc.connection import IRCConnection

_SERVICE_ONLY_HELP = (
    "exit CODE - the server exit code: shuts the server down (only outside a session)",
    "IRC's own /time, /kick #session NAME and /part #session do the same as time, kick and quit.",
)


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
        ctcp = "\x01" in text
        if not ctcp:
            text = wire.clean_text(text)
        if ctcp or not text.strip():
            # Talking to your session counts as activity even when refused, as on the native door.
            if self._is_mine(target):
                self.participant.touch()
            if notice:
                return
            if ctcp:
                self._server_notice("CTCP (including /me) is not supported on GloziChat.")
            else:
                self._numeric(n.ERR_NOTEXTTOSEND, "No text to send")
            return
        if self._is_mine(target):
            self.participant.say(text).addErrback(self._not_stored)
        elif name_key(target) == name_key(wire.SERVICE_NICK):
            if not notice:
                self._service(text)
        elif notice:
            return
        elif wire.session_of(target) is not None:
            self._numeric(n.ERR_CANNOTSENDTOCHAN, wire.echo(target), "Cannot send to channel: join it first")
        else:
            self._numeric(
                n.ERR_NOSUCHNICK, wire.echo(target), "No such nick: GloziChat has no private messages"
            )

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
            else:
                for piece in self.participant.run_command(name, args).split("\n"):
                    self._service_notice(piece)
        except ChatError as error:
            self._service_notice(error.message)
            if error.disconnect:
                self._error_and_close(error.message)

    def _service_help(self) -> None:
        self._service_notice("GloziServ runs GloziChat commands: /msg GloziServ COMMAND [ARGUMENTS]")
        for command in commands.COMMANDS.values():
            mark = " (admin only)" if command.admin_only else ""
            self._service_notice(f"{command.usage.removeprefix('/')} - {command.help}{mark}")
        for text in _SERVICE_ONLY_HELP:
            self._service_notice(text)

    def _exit_code(self, code: str) -> None:
        if not is_valid_exit_code(code):
            raise ChatError(
                "invalid_exit_code", f"Usage: exit CODE, where CODE is the server's exit code ({EXIT_CODE_RULE})."
            )
        self.participant.submit_exit_code(code)

    def irc_TIME(self, params: list[str]) -> None:
        if self.channel is not None:
            text = self.participant.run_command("time", "")
        else:
            text = commands.server_time(self.factory.clock.seconds())
        self._numeric(n.RPL_TIME, self.factory.server, text)
