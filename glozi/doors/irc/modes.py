"""A session's rules as IRC sees them: channel MODE, TOPIC and INVITE, mapped
onto glozi/domain/rules.py, and their refusals as the numerics IRC clients expect."""

from twisted.python.failure import Failure

from glozi.domain import rules
from glozi.domain.errors import ChatError
from glozi.domain.sessions import Member
from glozi.doors.irc import numerics as n
from glozi.doors.irc import wire
from glozi.doors.irc.channels import Channels

_LISTS = {
    "b": (n.RPL_BANLIST, n.RPL_ENDOFBANLIST, "End of channel ban list"),
    "e": (n.RPL_EXCEPTLIST, n.RPL_ENDOFEXCEPTLIST, "End of channel exception list"),
    "I": (n.RPL_INVEXLIST, n.RPL_ENDOFINVEXLIST, "End of channel invite exception list"),
}


class Modes(Channels):
    """MODE on a channel (reading and changing), TOPIC and INVITE."""

    def irc_MODE(self, params: list[str]) -> None:
        target = params[0]
        if wire.session_of(target) is None:
            self._user_mode(target, params[1:])
            return
        info = self._session_named(target)
        if info is None:
            self._numeric(n.ERR_NOSUCHCHANNEL, wire.echo(target), "No such channel")
            return
        channel = wire.channel_of(info.name)
        if len(params) == 1:
            self._send_modes(info.id, channel)
            return
        # As IRC servers do, each letter the server does not know gets a 472 and
        # the others still apply (an unknown letter is taken to have no parameter).
        letters = params[1]
        for letter in dict.fromkeys(c for c in letters if c not in "+-" and c not in rules.MODE_LETTERS):
            self._numeric(n.ERR_UNKNOWNMODE, letter, "is unknown mode char to me")
        known = "".join(c for c in letters if c in "+-" or c in rules.MODE_LETTERS)
        if not known.strip("+-"):
            return
        try:
            changes = rules.parse_modes([known, *params[2:]])
        except ChatError as error:
            self._numeric(n.ERR_NEEDMOREPARAMS, "MODE", error.message)
            return
        session_id = self._my_session(target)
        asked = [change.letter for change in changes if change.letter in rules.LIST_MODES and change.parameter is None]
        if len(asked) == len(changes):
            for letter in dict.fromkeys(asked):
                self._send_list(session_id, channel, letter)
            return
        if session_id is None:
            self._numeric(n.ERR_NOTONCHANNEL, channel, "You're not on that channel")
            return
        self.participant.touch(session_id)
        member = self.participant.member_of(session_id)
        # Asking for a list among changes lists nothing: the changes are the point.
        wanted = [change for change in changes if not (change.letter in rules.LIST_MODES and change.parameter is None)]
        rules.change_modes(member, wanted).addErrback(self._mode_refused, channel)

    def _send_modes(self, session_id: int, channel: str) -> None:
        """324 with the modes in force, the key for members only (``*`` when
        this client does not know it), the limit; 329 the creation time."""
        info = self.factory.chat.sessions[session_id].info()
        parameters = []
        if info.locked and session_id in self.channels:
            parameters.append(self._keys.get(session_id) or "*")
        if info.limit is not None:
            parameters.append(str(info.limit))
        self._numeric(n.RPL_CHANNELMODEIS, channel, info.modes, *parameters)
        self._numeric(n.RPL_CREATIONTIME, channel, str(int(info.created_at)))

    def _send_list(self, session_id: int | None, channel: str, letter: str) -> None:
        """The list of ``letter``, one mask a line, then its end: 367/368 (bans,
        ``b``), 348/349 (ban exceptions, ``e``), 346/347 (invite exceptions,
        ``I``); a channel you are not on lists none."""
        entry, end, text = _LISTS[letter]
        if session_id is not None:
            for mask in rules.mask_list(self.participant.member_of(session_id), letter):
                self._numeric(entry, channel, mask)
        self._numeric(end, channel, text)

    def _mode_refused(self, reason: Failure, channel: str) -> None:
        if not reason.check(rules.ModeRefused):
            self.log.failure("Changing IRC modes failed", reason)
            self._numeric(n.ERR_UNKNOWNERROR, "MODE", "The server failed on that command; nothing more was changed")
            return
        error: rules.ModeRefused = reason.value
        change = error.change
        if error.code == "not_admin":
            self._numeric(n.ERR_CHANOPRIVSNEEDED, channel, "You're not the session's admin (channel operator)")
        elif error.code == "no_such_member" and self.factory.chat.user_named(change.parameter or "") is None:
            self._numeric(n.ERR_NOSUCHNICK, wire.echo(change.parameter or "*"), "No such nick")
        elif error.code == "no_such_member":
            self._numeric(n.ERR_USERNOTINCHANNEL, wire.echo(change.parameter or "*"), channel, "They aren't on that channel")
        elif error.code == "too_many_bans":
            self._numeric(n.ERR_BANLISTFULL, channel, change.letter, "Channel list is full")
        elif error.code in ("bad_arguments", "invalid_password"):
            # A refused key is never echoed (Modern IRC, as irctest checks): it may be a real one mistyped.
            shown = "*" if change.letter == "k" else wire.echo(change.parameter or "*")
            self._numeric(n.ERR_INVALIDMODEPARAM, channel, change.letter, shown, error.message)
        else:
            self._server_notice(error.message)

    def irc_TOPIC(self, params: list[str]) -> None:
        info = self._session_named(params[0])
        if info is None:
            self._numeric(n.ERR_NOSUCHCHANNEL, wire.echo(params[0]), "No such channel")
            return
        if len(params) == 1:
            self._send_topic(info, asked=True)
            return
        member = self._member_in(params[0])
        if member is None:
            return
        self.participant.touch(member.session.id)
        try:
            # IRC servers cut a topic at TOPICLEN rather than refuse it.
            rules.set_topic(member, wire.clean_text(params[1])[: rules.TOPIC_MAX_LENGTH])
        except ChatError as error:
            if error.code != "not_admin":
                raise
            self._numeric(
                n.ERR_CHANOPRIVSNEEDED, wire.channel_of(info.name), "Only the session's admin sets the topic (+t)"
            )

    def irc_INVITE(self, params: list[str]) -> None:
        nick, channel = params[0], params[1]
        if self._session_named(channel) is None:
            self._numeric(n.ERR_NOSUCHCHANNEL, wire.echo(channel), "No such channel")
            return
        member = self._member_in(channel)
        if member is None:
            return
        mine = wire.channel_of(member.session.name)
        self.participant.touch(member.session.id)
        try:
            invited = rules.invite(member, nick)
        except ChatError as error:
            if error.code == "not_admin":
                self._numeric(n.ERR_CHANOPRIVSNEEDED, mine, "You're not the session's admin (channel operator)")
            elif error.code == "no_such_user":
                self._numeric(n.ERR_NOSUCHNICK, wire.echo(nick), "No such nick")
            elif error.code == "already_in_session":
                self._numeric(n.ERR_USERONCHANNEL, wire.echo(nick), mine, "is already on channel")
            else:
                raise
            return
        self._numeric(n.RPL_INVITING, invited, mine)

    def _member_in(self, channel: str) -> Member | None:
        """This client's membership of ``channel``, or ``None`` after a 442."""
        session_id = self._my_session(channel)
        if session_id is None:
            self._numeric(n.ERR_NOTONCHANNEL, wire.echo(channel), "You're not on that channel")
            return None
        return self.participant.member_of(session_id)
