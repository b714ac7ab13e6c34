"""IRC registration: CAP, NICK, USER and the welcome, and the keep-alive commands."""

import sys

from twisted.python.failure import Failure

import glozi
from glozi.domain.errors import ChatError
from glozi.domain.names import AWAY_MAX_LENGTH, NAME_MAX_LENGTH, USERNAME_RULE, is_valid_username
from glozi.domain.rules import MAX_BANS, MODE_LETTERS, TOPIC_MAX_LENGTH
from glozi.doors.irc import caps, history, wire
from glozi.doors.irc import numerics as n
from glozi.doors.irc.caps import Cap
from glozi.doors.irc.connection import IRCConnection
from glozi.doors.irc.listing import ELIST
from glozi.doors.irc.usermodes import USER_MODES

ISUPPORT = (
    f"AWAYLEN={AWAY_MAX_LENGTH}",
    "CASEMAPPING=ascii",
    "CHANMODES=beI,k,l,Cimnst",
    f"CHANNELLEN={NAME_MAX_LENGTH + len(wire.CHANNEL_PREFIX)}",
    "CHANTYPES=#",
    *history.ISUPPORT_TOKENS,
    f"ELIST={ELIST}",
    "EXCEPTS",
    "INVEX",
    f"MAXLIST=b:{MAX_BANS},e:{MAX_BANS},I:{MAX_BANS}",
    "NETWORK=GloziChat",
    f"NICKLEN={NAME_MAX_LENGTH}",
    "PREFIX=(ov)@+",
    "TARGMAX=KICK:4,NAMES:,NOTICE:1,PRIVMSG:1,WHOWAS:5",
    f"TOPICLEN={TOPIC_MAX_LENGTH}",
    f"USERLEN={wire.USER_NAME_MAX}",
    "UTF8ONLY",
)
ISUPPORT_PER_LINE = 13
"""Tokens in one 005: with the nick and the closing text, IRC's 15 parameters at most."""
MOTD = (
    "Welcome to GloziChat. Each channel is a chat session: /list shows them,",
    "/join #name joins one (/join #name 12345 for a locked one), and joining a",
    "new name creates that session with you as its admin. You may be in",
    "several sessions at once. /msg GloziServ help lists the GloziChat commands.",
)


class Registration(IRCConnection):
    """CAP, PASS, NICK, USER, PING, PONG, QUIT and MOTD: becoming a registered client and staying one."""

    def irc_CAP(self, params: list[str]) -> None:
        """Capability negotiation (extensions/capability-negotiation.md): LS,
        LIST, REQ (all or nothing), END; registration waits for END once LS
        or REQ came before it."""
        sub = params[0].upper()
        if sub == "LS":
            self._negotiating_caps = not self.registered
            version = params[1] if len(params) > 1 else ""
            if version.isdigit() and int(version) >= caps.LS_VERSION:
                self.cap_version = max(self.cap_version, int(version))
                # Clients of 302 have cap-notify without asking for it.
                self.set_caps(self.caps | Cap.CAP_NOTIFY)
            self._cap_reply("LS", caps.listed(caps.OFFERED))
        elif sub == "LIST":
            self._cap_reply("LIST", caps.listed(self.caps))
        elif sub == "REQ":
            self._negotiating_caps = not self.registered
            words = " ".join(params[1:]).strip()
            wanted = caps.requested(words, self.caps) if words else None
            if wanted is None:
                self._write(self.factory.server, "CAP", self.nick or "*", "NAK", words)
            else:
                self.set_caps(wanted)
                self._write(self.factory.server, "CAP", self.nick or "*", "ACK", words)
        elif sub == "END":
            self._negotiating_caps = False
            self._maybe_register()
        else:
            self._numeric(n.ERR_INVALIDCAPCMD, wire.echo(params[0]), "Invalid CAP command")

    def _cap_reply(self, sub: str, names: str) -> None:
        """``CAP * LS :names`` (or LIST); for a 302 client over several lines
        when one would pass 512 bytes, all but the last marked ``*``."""
        me = self.nick or "*"
        head = len(f":{self.factory.server} CAP {me} {sub} * :\r\n".encode())
        pieces = wire.split_text(names, wire.MAX_LINE_BYTES - head) if self.cap_version else [names]
        for piece in pieces[:-1]:
            self._write(self.factory.server, "CAP", me, sub, "*", piece)
        self._write(self.factory.server, "CAP", me, sub, pieces[-1] if pieces else "")

    def irc_PASS(self, params: list[str]) -> None:
        """The server password, before NICK and USER (RFC 2812); checked when they are given."""
        if self.registered:
            self._numeric(n.ERR_ALREADYREGISTERED, "You may not reregister")
        elif self._password_state == "unchecked":
            self._pass_given = params[0]

    def irc_NICK(self, params: list[str]) -> None:
        if not params or not params[0]:
            self._numeric(n.ERR_NONICKNAMEGIVEN, "No nickname given")
            return
        nick = params[0]
        if nick == self.nick:
            return
        if not is_valid_username(nick):
            self._numeric(n.ERR_ERRONEUSNICKNAME, wire.echo(nick), f"Erroneous nickname: {USERNAME_RULE}")
            return
        try:
            self.participant.rename(nick)
        except ChatError as error:
            if error.code == "name_taken":
                self._numeric(n.ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
            else:
                self._numeric(n.ERR_NONICKCHANGE, nick, f"Cannot change nickname now: {error.message}")
            return
        old, self.nick = self.nick, nick
        if self.registered and old is not None:
            self._write(wire.user_prefix(old), "NICK", nick)
        self._maybe_register()

    def irc_USER(self, params: list[str]) -> None:
        if self.registered or self._user_given:
            self._numeric(n.ERR_ALREADYREGISTERED, "You may not reregister")
            return
        # Modern IRC: an empty username or realname is a missing one.
        if not params[0] or not params[3]:
            self._numeric(n.ERR_NEEDMOREPARAMS, "USER", "Not enough parameters")
            return
        self._user_given = True
        user_name, real_name = wire.user_fields(params[0], params[3])
        # Many clients send the same words (a client's default real name, the
        # nick as user name): one string for all of them, not one per connection.
        self.participant.user_name, self.participant.real_name = sys.intern(user_name), sys.intern(real_name)
        self._maybe_register()

    def _maybe_register(self) -> None:
        if self.registered or self.nick is None or not self._user_given or self._negotiating_caps:
            return
        password = self.factory.server_password
        if password.required and self._password_state != "accepted":
            if self._password_state == "unchecked":
                self._check_password()
            return
        self.registered = True
        self.factory.chat.registration_done(self.participant)
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None
        server, version = self.factory.server, f"GloziChat-{glozi.__version__}"
        self._numeric(
            n.RPL_WELCOME,
            f"Welcome to GloziChat on {self.factory.display_name}, {wire.user_prefix(self.nick)}",
        )
        self._numeric(n.RPL_YOURHOST, f"Your host is {server}, running version {version}")
        self._numeric(n.RPL_CREATED, f"This server was created {wire.utc_text(self.factory.started_at)}")
        self._numeric(n.RPL_MYINFO, server, version, USER_MODES, MODE_LETTERS, "Ibeklov")
        chanlimit = f"CHANLIMIT={wire.CHANNEL_PREFIX}:{self.factory.chat.max_sessions_per_user}"
        tokens = sorted((*ISUPPORT, chanlimit))
        for start in range(0, len(tokens), ISUPPORT_PER_LINE):
            self._numeric(n.RPL_ISUPPORT, *tokens[start : start + ISUPPORT_PER_LINE], "are supported by this server")
        self.irc_LUSERS([])
        self.irc_MOTD([])
        self._rearm_keepalive()

    def _check_password(self) -> None:
        """Check the PASS given (if any) once NICK and USER are in: right, the
        registration goes on; missing or wrong, 464 and ERROR close the connection."""
        self._password_state = "checking"
        given, self._pass_given = self._pass_given, None

        def accepted(_: None) -> None:
            self._password_state = "accepted"
            if self.participant.connected and not self.transport.disconnecting:
                with self.factory.writes:
                    self._maybe_register()

        def refused(reason: Failure) -> None:
            reason.trap(ChatError)
            if not self.participant.connected or self.transport.disconnecting:
                return
            with self.factory.writes:
                self._numeric(n.ERR_PASSWDMISMATCH, reason.value.message)
                self._error_and_close("Bad password")

        self.factory.server_password.check(self.participant, given).addCallbacks(accepted, refused)

    def irc_PING(self, params: list[str]) -> None:
        self._write(self.factory.server, "PONG", self.factory.server, params[0])

    def irc_PONG(self, params: list[str]) -> None:
        """Any line re-arms the keep-alive, so a PONG needs nothing more."""

    def irc_QUIT(self, params: list[str]) -> None:
        comment = wire.clean_text(params[0]).strip() if params else ""
        self._quit_comment = comment or None
        self._error_and_close(f"{self.nick or '*'} (Quit: {wire.echo(comment or 'Client quit')})")

    def irc_AWAY(self, params: list[str]) -> None:
        message = wire.clean_text(params[0])[:AWAY_MAX_LENGTH] if params else ""
        if message.strip():
            self.participant.set_away(message)
            self._numeric(n.RPL_NOWAWAY, "You have been marked as being away")
        else:
            self.participant.set_away(None)
            self._numeric(n.RPL_UNAWAY, "You are no longer marked as being away")

    def irc_MOTD(self, params: list[str]) -> None:
        self._numeric(n.RPL_MOTDSTART, f"- {self.factory.server} Message of the day -")
        for text in MOTD:
            self._numeric(n.RPL_MOTD, f"- {text}")
        self._numeric(n.RPL_ENDOFMOTD, "End of /MOTD command.")
