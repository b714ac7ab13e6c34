"""Sessions as channels: JOIN, PART, LIST, NAMES and KICK."""

from twisted.python.failure import Failure

from glozi.domain.errors import ChatError
from glozi.domain.events import Joined, MemberInfo, SessionInfo
from glozi.domain.names import is_valid_password, is_valid_session_name, name_key
from glozi.doors.irc import listing, wire
from glozi.doors.irc import numerics as n
from glozi.doors.irc.caps import Cap
from glozi.doors.irc.history import ChatHistory
from glozi.doors.irc.usermodes import UserModes

KICK_TARGETS = 4
"""Kicks one KICK line may ask for (TARGMAX ``KICK:4``); the rest are not done."""

_JOIN_REFUSALS = {
    "banned": (n.ERR_BANNEDFROMCHAN, "+b"),
    "invite_only": (n.ERR_INVITEONLYCHAN, "+i"),
    "session_full": (n.ERR_CHANNELISFULL, "+l"),
}


class Channels(UserModes, ChatHistory):
    """The channel commands: they call the ``Participant`` and turn its refusals
    into the numerics IRC clients expect."""

    def irc_JOIN(self, params: list[str]) -> None:
        if params[0] == "0":
            for session_id in list(self.channels):
                self.participant.run_command("quit", "", session_id)
            return
        keys = params[1].split(",") if len(params) > 1 else []
        for index, channel in enumerate(params[0].split(",")):
            self._queue_join(channel, keys[index] if index < len(keys) and keys[index] else None)

    def _queue_join(self, channel: str, key: str | None) -> None:
        """The domain takes one join at a time (a locked session's key is
        checked off the reactor), and clients send several in one JOIN: they
        wait here, at most as many as the channel limit."""
        if self._joining is None:
            self._join_one(channel, key)
        elif len(self._waiting_joins) >= self.factory.chat.max_sessions_per_user:
            self._numeric(n.ERR_TOOMANYCHANNELS, wire.echo(channel), "Too many joins at once; wait for the others")
        else:
            self._waiting_joins = [*self._waiting_joins, (channel, key)]

    def _next_join(self, result: object = None) -> object:
        self._joining = None
        while self._waiting_joins and self._joining is None and not self.transport.disconnecting:
            self._join_one(*self._waiting_joins.pop(0))
        return result

    def _join_one(self, channel: str, key: str | None) -> None:
        """One name of a JOIN list: a bad name is refused first (403), so only
        valid names count against the channel limit (405)."""
        assert self.nick is not None
        name = wire.session_of(channel)
        if name is None or not is_valid_session_name(name):
            self._numeric(
                n.ERR_NOSUCHCHANNEL,
                wire.echo(channel),
                "No such channel: sessions are # and 3 to 12 letters or digits",
            )
            return
        if self._is_mine(channel):
            return
        info = self._session_named(channel)
        if key is not None and not is_valid_password(key) and (info is None or info.locked):
            self._numeric(
                n.ERR_BADCHANNELKEY, channel, "Cannot join channel (+k): the key is exactly 5 digits"
            )
            return
        if info is None:
            joining = self.participant.create(name, self.nick, key)
        else:
            joining = self.participant.join(info.id, self.nick, key if info.locked else None)
        joining.addCallbacks(self._joined, self._join_refused, callbackArgs=(key,), errbackArgs=(channel,))
        if not joining.called:
            self._joining = joining
            joining.addBoth(self._next_join)

    def _join_refused(self, reason: Failure, channel: str) -> None:
        """A refused JOIN as the numeric IRC clients expect."""
        error = reason.value
        if not isinstance(error, ChatError):
            self.log.failure("Handling IRC JOIN failed", reason)
            self._numeric(n.ERR_UNKNOWNERROR, "JOIN", "The server failed on that command; nothing was changed")
        elif error.code in _JOIN_REFUSALS:
            numeric, mode = _JOIN_REFUSALS[error.code]
            self._numeric(numeric, channel, f"Cannot join channel ({mode}): {error.message}")
        elif error.code in ("wrong_password", "password_required"):
            self._numeric(n.ERR_BADCHANNELKEY, channel, "Cannot join channel (+k): wrong or missing key")
        elif error.code == "too_many_attempts":
            # Still the key numeric, so a client that waits for a JOIN reply gets one.
            self._numeric(n.ERR_BADCHANNELKEY, channel, f"Cannot join channel (+k): {error.message}")
            if error.disconnect:
                self._error_and_close(error.message)
        elif error.code == "too_many_sessions":
            self._numeric(n.ERR_TOOMANYCHANNELS, channel, error.message)
        elif error.code == "already_in_session":
            return
        elif error.code == "no_such_session":
            # The session was closed while the key was being checked.
            self._numeric(n.ERR_NOSUCHCHANNEL, channel, error.message)
        else:
            # Every refusal gets a numeric: a client waits for one before it gives up on a JOIN.
            self._numeric(n.ERR_UNAVAILRESOURCE, channel, error.message)
            if error.disconnect:
                self._error_and_close(error.message)

    def _joined(self, joined: Joined, key: str | None) -> None:
        channel = self.channels[joined.session.id] = wire.channel_of(joined.session.name)
        if joined.session.locked and key is not None:
            self._keys = {**self._keys, joined.session.id: key}
        if self.caps & Cap.EXTENDED_JOIN:
            self._write(wire.user_prefix(joined.you), "JOIN", channel, "*", self._real_name(joined.you))
        else:
            self._write(wire.user_prefix(joined.you), "JOIN", channel)
        self._send_topic(joined.session)
        self._send_names(joined.session.id, joined.members)
        if joined.history:
            self._send_join_history(joined.history, channel)

    def irc_PART(self, params: list[str]) -> None:
        comment = wire.clean_text(params[1]) if len(params) > 1 else ""
        for channel in params[0].split(","):
            session_id = self._my_session(channel)
            if session_id is not None:
                self.participant.run_command("quit", comment, session_id)
            elif self._session_named(channel) is not None:
                self._numeric(n.ERR_NOTONCHANNEL, channel, "You're not on that channel")
            else:
                self._numeric(n.ERR_NOSUCHCHANNEL, wire.echo(channel), "No such channel")

    def irc_LIST(self, params: list[str]) -> None:
        """The sessions the search terms admit (glozi/doors/irc/listing.py); a
        bad term is explained in a notice and lists none."""
        try:
            wanted, sessions = listing.parse_filter(params[:2]), self.participant.list_sessions()
        except listing.BadListTerm as error:
            self._server_notice(str(error))
            wanted, sessions = listing.ListFilter(), []
        now = self.factory.clock.seconds()
        self._numeric(n.RPL_LISTSTART, "Channel", "Users  Name")
        for info in sessions:
            if wanted.admits(info, now):
                self._numeric(n.RPL_LIST, wire.channel_of(info.name), str(info.member_count), wire.topic(info))
        self._numeric(n.RPL_LISTEND, "End of /LIST")

    def _send_topic(self, info: SessionInfo, *, asked: bool = False) -> None:
        """332 and 333 (who set it, when) when the session has a topic; 331
        when it has none and the client ``asked`` (a JOIN sends nothing then)."""
        channel = wire.channel_of(info.name)
        if info.topic:
            self._numeric(n.RPL_TOPIC, channel, info.topic)
            setter = wire.user_prefix(info.topic_by or info.creator)
            self._numeric(n.RPL_TOPICWHOTIME, channel, setter, str(int(info.topic_at or info.created_at)))
        elif asked:
            self._numeric(n.RPL_NOTOPIC, channel, "No topic is set")

    def _send_names(self, session_id: int, members: tuple[MemberInfo, ...]) -> None:
        channel = self.channels[session_id]
        self._name_replies(session_id, channel, members)
        self._numeric(n.RPL_ENDOFNAMES, channel, "End of /NAMES list")

    def _name_replies(self, session_id: int, channel: str, members: tuple[MemberInfo, ...]) -> None:
        """353 lines for a channel: ``@`` marks a secret one (``+s``), ``=`` the others."""
        symbol = "@" if self.factory.chat.sessions[session_id].rules.secret else "="
        names = [self._status(m.is_admin, m.voiced) + self._listed_name(m.name) for m in members]
        head = len(f":{self.factory.server} {n.RPL_NAMREPLY} {self.nick} {symbol} {channel} :\r\n")
        for chunk in wire.split_text(" ".join(names), wire.MAX_LINE_BYTES - head):
            self._numeric(n.RPL_NAMREPLY, symbol, channel, chunk)

    def irc_NAMES(self, params: list[str]) -> None:
        """``353`` lines for each named channel (every channel when none is
        named) with the members you may see: all of a channel you are in, the
        visible ones (not ``+i``) of any other; a channel with none you may see
        has no 353. Then one ``366`` naming what was asked (``*`` for all)."""
        asked = params[0] if params and params[0] else None
        listed = {info.id: wire.channel_of(info.name) for info in self.participant.list_sessions()}
        if asked is not None:
            # A channel named twice is listed once, so one line cannot ask for more than every channel.
            wanted = {name_key(channel) for channel in asked.split(",")}
            listed = {session_id: channel for session_id, channel in listed.items() if name_key(channel) in wanted}
        for session_id, channel in listed.items():
            members = self.participant.visible_members(session_id)
            if members:
                self._name_replies(session_id, self.channels.get(session_id, channel), members)
        self._numeric(n.RPL_ENDOFNAMES, "*" if asked is None else wire.echo(asked), "End of /NAMES list")


    def irc_KICK(self, params: list[str]) -> None:
        """``KICK #chan nick[,nick…] [:reason]``, or as many channels as nicks,
        paired in order (RFC 2812); at most ``KICK_TARGETS`` kicks a line."""
        channels, targets = params[0].split(","), params[1].split(",")
        if len(channels) not in (1, len(targets)):
            self._numeric(n.ERR_NEEDMOREPARAMS, "KICK", "Give one channel, or one channel per nick")
            return
        # KICK #kiwi bob :reason, the reason carried to everyone (the kicker's nick when none).
        reason = wire.clean_text(params[2]) if len(params) > 2 else ""
        pairs = zip(channels * len(targets) if len(channels) == 1 else channels, targets)
        for channel, target in list(pairs)[:KICK_TARGETS]:
            self._kick(channel, target, reason)

    def _kick(self, channel: str, target: str, reason: str) -> None:
        if not self._is_mine(channel):
            if self._session_named(channel) is None:
                self._numeric(n.ERR_NOSUCHCHANNEL, wire.echo(channel), "No such channel")
            else:
                self._numeric(n.ERR_NOTONCHANNEL, channel, "You're not on that channel")
            return
        session_id = self._my_session(channel)
        assert session_id is not None
        mine = self.channels[session_id]
        try:
            self.participant.run_command("kick", f"{target} {reason}", session_id)
        except ChatError as error:
            if error.code == "not_admin":
                self._numeric(
                    n.ERR_CHANOPRIVSNEEDED, mine, "You're not the session's admin (channel operator)"
                )
            elif error.code in ("no_such_member", "bad_arguments"):
                self._numeric(
                    n.ERR_USERNOTINCHANNEL, wire.echo(target), mine, "They aren't on that channel"
                )
            else:
                raise
