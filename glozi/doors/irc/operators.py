"""Server operators on IRC: OPER, KILL and WALLOPS (the rules are in
glozi/domain/operators.py; ``MODE nick -o`` is in usermodes.py)."""

from twisted.python.failure import Failure

from glozi.domain.errors import ChatError
from glozi.domain.names import KILL_REASON_MAX_LENGTH
from glozi.doors.irc import numerics as n
from glozi.doors.irc import wire
from glozi.doors.irc.connection import IRCConnection

NOT_OPERATOR = "Permission Denied- You're not an IRC operator"


class OperatorCommands(IRCConnection):
    """OPER makes you an operator (``381`` and ``+o``); KILL and WALLOPS are theirs (``481`` for anyone else)."""

    def irc_OPER(self, params: list[str]) -> None:
        checking = self.factory.operators.oper(self.participant, params[0], params[1])
        checking.addCallbacks(self._opered, self._oper_refused)

    def _opered(self, _: None) -> None:
        assert self.nick is not None
        self._numeric(n.RPL_YOUREOPER, "You are now an IRC operator")
        self._write(wire.user_prefix(self.nick), "MODE", self.nick, "+o")

    def _oper_refused(self, reason: Failure) -> None:
        error = reason.value
        if not isinstance(error, ChatError):
            self.log.failure("Handling IRC OPER failed", reason)
            self._numeric(n.ERR_UNKNOWNERROR, "OPER", "The server failed on that command; nothing was changed")
        elif error.code == "bad_oper_password":
            self._numeric(n.ERR_PASSWDMISMATCH, "Password incorrect")
        else:
            # A client waiting for an OPER reply gets one, with the reason (too many attempts).
            self._numeric(n.ERR_PASSWDMISMATCH, f"Password incorrect: {error.message}")

    def _refused_to_non_operator(self) -> bool:
        if self.participant.operator is None:
            self._numeric(n.ERR_NOPRIVILEGES, NOT_OPERATOR)
            return True
        return False

    def irc_KILL(self, params: list[str]) -> None:
        if self._refused_to_non_operator():
            return
        nick = params[0]
        reason = wire.clean_text(params[1]).strip()[:KILL_REASON_MAX_LENGTH]
        if not reason:
            self._numeric(n.ERR_NEEDMOREPARAMS, "KILL", "Not enough parameters")
            return
        try:
            killed = self.factory.operators.kill(self.participant, nick, reason)
        except ChatError as error:
            if error.code != "no_such_user":
                raise
            self._numeric(n.ERR_NOSUCHNICK, wire.echo(nick), "No such nick")
            return
        if killed != self.nick:
            self._server_notice(f"You killed {killed} ({reason}).")

    def irc_WALLOPS(self, params: list[str]) -> None:
        if self._refused_to_non_operator():
            return
        text = wire.clean_text(params[0])
        if not text.strip():
            self._numeric(n.ERR_NEEDMOREPARAMS, "WALLOPS", "Not enough parameters")
            return
        self.factory.operators.wallops(self.participant, text)
