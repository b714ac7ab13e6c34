"""User modes: ``MODE nick`` reads and changes your own (``i``, ``o``, ``w``)."""

from glozi.domain.errors import ChatError
from glozi.domain.names import name_key
from glozi.doors.irc import numerics as n
from glozi.doors.irc import wire
from glozi.doors.irc.connection import IRCConnection

USER_MODES = "iow"
"""``i`` invisible (off at first: a WHO mask then finds you only if you share
a session, and NAMES of a session you share with nobody asking leaves you
out), ``o`` server operator (given by OPER, dropped with ``-o``), ``w``
receives wallops."""


class UserModes(IRCConnection):
    """``MODE yournick [changes]``; channel modes are in channels.py."""

    def _modes_set(self) -> str:
        return "".join(
            letter
            for letter, on in zip(
                USER_MODES, (self.participant.invisible, self.participant.operator is not None, self.participant.wallops)
            )
            if on
        )

    def _user_mode(self, target: str, changes: list[str]) -> None:
        assert self.nick is not None
        if name_key(target) != name_key(self.nick):
            self._numeric(n.ERR_USERSDONTMATCH, "Cannot change mode for other users")
            return
        if not changes:
            self._numeric(n.RPL_UMODEIS, "+" + self._modes_set())
            return
        before = self._modes_set()
        adding, unknown, refused = True, False, False
        for char in changes[0]:
            if char in "+-":
                adding = char == "+"
            elif char == "i":
                self.factory.operators.set_modes(self.participant, invisible=adding)
            elif char == "w":
                self.factory.operators.set_modes(self.participant, wallops=adding)
            elif char == "o":
                try:
                    self.factory.operators.set_modes(self.participant, operator=adding)
                except ChatError:
                    refused = True
            else:
                unknown = True
        after = self._modes_set()
        gained = "".join(letter for letter in after if letter not in before)
        lost = "".join(letter for letter in before if letter not in after)
        if gained or lost:
            self._write(wire.user_prefix(self.nick), "MODE", self.nick, changed_modes(gained, lost))
        if refused:
            self._numeric(n.ERR_NOPRIVILEGES, "Permission Denied- Only OPER makes you an IRC operator")
        if unknown:
            self._numeric(n.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")


def changed_modes(gained: str, lost: str) -> str:
    """A mode change as IRC writes it: ``+ow``, ``-i``, ``+w-i``."""
    return (f"+{gained}" if gained else "") + (f"-{lost}" if lost else "")
