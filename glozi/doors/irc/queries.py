"""Asking about people: WHO (with masks), WHOWAS, LUSERS, ISON and USERHOST.

Every GloziChat user is invisible (``+i``) as IRC servers treat it: a mask
matches only yourself and the users who share a session with you, while an
exact nick is answered whoever holds it.
"""

import re

from glozi.domain.chat import Participant
from glozi.doors.irc import numerics as n
from glozi.doors.irc import wire
from glozi.doors.irc.connection import IRCConnection

USERHOST_MAX = 5
"""Nicks one USERHOST answers for (RFC 2812); the rest are ignored."""


def mask_pattern(mask: str) -> "re.Pattern[str]":
    """A WHO mask (``*`` any run, ``?`` one character) as a case-insensitive pattern."""
    parts = ("." if char == "?" else ".*" if char == "*" else re.escape(char) for char in mask)
    return re.compile("".join(parts), re.IGNORECASE | re.ASCII | re.DOTALL)


class Queries(IRCConnection):
    """WHO, WHOWAS, LUSERS, ISON and USERHOST."""

    def irc_WHOWAS(self, params: list[str]) -> None:
        """Who held a nick before, newest first (``WHOWAS nick [count]``)."""
        if not params or not params[0]:
            self._numeric(n.ERR_NONICKNAMEGIVEN, "No nickname given")
            return
        nick = params[0].split(",")[0]
        count = int(params[1]) if len(params) > 1 and params[1].isdigit() and int(params[1]) > 0 else None
        past = self.participant.whowas(nick, count)
        for entry in past:
            self._numeric(n.RPL_WHOWASUSER, entry.nick, "~" + entry.user_name, wire.USER_HOST, "*", entry.real_name)
            self._numeric(n.RPL_WHOISSERVER, entry.nick, self.factory.server, wire.utc_text(entry.left_at))
        if not past:
            self._numeric(n.ERR_WASNOSUCHNICK, wire.echo(nick), "There was no such nickname")
        self._numeric(n.RPL_ENDOFWHOWAS, wire.echo(nick), "End of WHOWAS")

    def irc_WHO(self, params: list[str]) -> None:
        """A channel of yours lists its members; a nick, that user; a mask, the
        users it matches among those you can see; ``o``, operators only
        (GloziChat has none yet); always ``315`` at the end."""
        mask = params[0] if params and params[0] not in ("", "0") else "*"
        operators_only = len(params) > 1 and "o" in params[1]
        session_id = self._my_session(mask)
        # No GloziChat user is an operator, so "o" leaves nobody to list.
        if operators_only:
            self._numeric(n.RPL_ENDOFWHO, wire.echo(mask), "End of WHO list")
            return
        if session_id is not None:
            for member in self.participant.session_members(session_id):
                user = self.factory.chat.user_named(member.name)
                if user is not None:
                    self._who_reply(self.channels[session_id], user, member.is_admin)
        elif wire.session_of(mask) is None:
            for user in self._users_matching(mask):
                shared = next((s for s in user.members if s in self.channels), None)
                channel = self.channels[shared] if shared is not None else "*"
                self._who_reply(channel, user, shared is not None and user.members[shared].is_admin)
        self._numeric(n.RPL_ENDOFWHO, wire.echo(mask), "End of WHO list")

    def _users_matching(self, mask: str) -> list[Participant]:
        # An exact nick is answered whoever holds it, as servers do for +i users.
        holder = self.factory.chat.user_named(mask)
        if holder is not None and holder.nick is not None:
            return [holder]
        pattern = mask_pattern(mask)
        mine = set(self.channels)
        found = []
        for user in self.factory.chat.users():
            if user is not self.participant and not mine.intersection(user.members):
                continue
            assert user.nick is not None
            fields = (user.nick, user.user_name or user.nick, wire.USER_HOST, self.factory.server,
                      user.real_name or user.nick)
            if any(pattern.fullmatch(field) for field in fields):
                found.append(user)
        return found

    def _who_reply(self, channel: str, user: Participant, admin: bool) -> None:
        assert user.nick is not None
        flags = ("G" if user.away is not None else "H") + ("@" if admin else "")
        self._numeric(
            n.RPL_WHOREPLY,
            channel,
            "~" + (user.user_name or user.nick),
            wire.USER_HOST,
            self.factory.server,
            user.nick,
            flags,
            f"0 {user.real_name or user.nick}",
        )

    def irc_LUSERS(self, params: list[str]) -> None:
        """How many users, operators and sessions there are; sent after registration too."""
        chat = self.factory.chat
        users, most = len(chat.users()), chat.most_users
        self._numeric(n.RPL_LUSERCLIENT, f"There are {users} users and 0 invisible on 1 servers")
        self._numeric(n.RPL_LUSEROP, "0", "operator(s) online")
        self._numeric(n.RPL_LUSERCHANNELS, str(len(chat.sessions)), "channels formed")
        self._numeric(n.RPL_LUSERME, f"I have {users} clients and 0 servers")
        self._numeric(n.RPL_LOCALUSERS, str(users), str(most), f"Current local users {users}, max {most}")
        self._numeric(n.RPL_GLOBALUSERS, str(users), str(most), f"Current global users {users}, max {most}")

    def irc_ISON(self, params: list[str]) -> None:
        """Which of the nicks are connected, spelled as their holders spell them."""
        online = []
        for nick in " ".join(params).split():
            user = self.factory.chat.user_named(nick)
            if user is not None and user.nick is not None and user.nick not in online:
                online.append(user.nick)
        self._numeric(n.RPL_ISON, " ".join(online))

    def irc_USERHOST(self, params: list[str]) -> None:
        """``nick=+nick@glozichat`` for each connected nick (``-`` when away), up to five."""
        replies = []
        for nick in " ".join(params).split()[:USERHOST_MAX]:
            user = self.factory.chat.user_named(nick)
            if user is not None and user.nick is not None:
                here = "-" if user.away is not None else "+"
                replies.append(f"{user.nick}={here}{user.nick}@{wire.USER_HOST}")
        self._numeric(n.RPL_USERHOST, " ".join(replies))
