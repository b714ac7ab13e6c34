"""Asking about people: WHO (with masks), WHOWAS, LUSERS, ISON and USERHOST.

A mask matches every user who is not invisible (user mode ``+i``, off at
first, as on IRC), yourself, and the users who share a session with you; an
exact nick is answered whoever holds it.
"""

from glozi.domain.chat import Participant
from glozi.doors.irc import numerics as n
from glozi.doors.irc import wire
from glozi.doors.irc.connection import IRCConnection

USERHOST_MAX = 5
"""Nicks one USERHOST answers for (RFC 2812); the rest are ignored."""


WHOWAS_TARGETS = 5
"""Nicks one WHOWAS may name (TARGMAX ``WHOWAS:5``); more are not looked up."""


class Queries(IRCConnection):
    """WHO, WHOWAS, LUSERS, ISON and USERHOST."""

    def irc_WHOWAS(self, params: list[str]) -> None:
        """Who held a nick before, newest first (``WHOWAS nick [count]``)."""
        if not params or not params[0]:
            self._numeric(n.ERR_NONICKNAMEGIVEN, "No nickname given")
            return
        targets = params[0]
        count = int(params[1]) if len(params) > 1 and params[1].isdigit() and int(params[1]) > 0 else None
        past, unknown, matched = [], [], {}
        for nick in dict.fromkeys(filter(None, targets.split(",")[:WHOWAS_TARGETS])):
            found = self.participant.whowas(nick, count)
            past.extend(found)
            if not found:
                unknown.append(nick)
            elif "*" in nick or "?" in nick:
                matched[nick] = ",".join(dict.fromkeys(entry.nick for entry in found))
        # Several nicks' entries interleave as one history: newest first (RFC 2812).
        for entry in sorted(past, key=lambda entry: entry.left_at, reverse=True):
            self._numeric(n.RPL_WHOWASUSER, entry.nick, "~" + entry.user_name, wire.USER_HOST, "*", entry.real_name)
            self._numeric(n.RPL_WHOISSERVER, entry.nick, self.factory.server, wire.utc_text(entry.left_at))
        for nick in unknown:
            self._numeric(n.ERR_WASNOSUCHNICK, wire.echo(nick), "There was no such nickname")
        if matched:
            # RFC 2812's wildcards: the end names the nicks a mask matched, as if they had been asked for.
            targets = ",".join(matched.get(target, target) for target in targets.split(","))
        self._numeric(n.RPL_ENDOFWHOWAS, wire.echo(targets), "End of WHOWAS")

    def irc_WHO(self, params: list[str]) -> None:
        """A channel of yours lists its members; a nick, that user; a mask, the
        users it matches among those you can see; with ``o``, server operators
        only; always ``315`` at the end."""
        mask = params[0] if params and params[0] not in ("", "0") else "*"
        operators_only = len(params) > 1 and "o" in params[1]
        session_id = self._my_session(mask)
        if session_id is not None:
            for member in self.participant.session_members(session_id):
                user = self.factory.chat.user_named(member.name)
                if user is not None and (user.operator is not None or not operators_only):
                    self._who_reply(self.channels[session_id], user, self._status(member.is_admin, member.voiced))
        elif wire.session_of(mask) is None:
            for user in self._users_matching(mask):
                if operators_only and user.operator is None:
                    continue
                shared = next((s for s in user.members if s in self.channels), None)
                if shared is None:
                    self._who_reply("*", user, "")
                else:
                    member = user.members[shared]
                    self._who_reply(self.channels[shared], user, self._status(member.is_admin, member.voiced))
        self._numeric(n.RPL_ENDOFWHO, wire.echo(mask), "End of WHO list")

    def _users_matching(self, mask: str) -> list[Participant]:
        return self.participant.users_matching(mask, also=(wire.USER_HOST, self.factory.server))

    def _who_reply(self, channel: str, user: Participant, status: str) -> None:
        assert user.nick is not None
        flags = ("G" if user.away is not None else "H") + ("*" if user.operator is not None else "") + status
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
        counts = self.factory.chat.counts()
        users, most = counts.users, counts.most_users
        visible = users - counts.invisible
        self._numeric(n.RPL_LUSERCLIENT, f"There are {visible} users and {counts.invisible} invisible on 1 servers")
        self._numeric(n.RPL_LUSEROP, str(counts.operators), "operator(s) online")
        self._numeric(n.RPL_LUSERUNKNOWN, str(counts.unregistered), "unknown connection(s)")
        self._numeric(n.RPL_LUSERCHANNELS, str(counts.sessions), "channels formed")
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
        """``nick=+nick@glozichat`` for each connected nick (``-`` when away;
        ``nick*=`` for a server operator), up to five."""
        replies = []
        for nick in " ".join(params).split()[:USERHOST_MAX]:
            user = self.factory.chat.user_named(nick)
            if user is not None and user.nick is not None:
                here = "-" if user.away is not None else "+"
                operator = "*" if user.operator is not None else ""
                replies.append(f"{user.nick}{operator}={here}{user.nick}@{wire.USER_HOST}")
        self._numeric(n.RPL_USERHOST, " ".join(replies))

