"""HELP (and its older name HELPOP): what each IRC command of the door does."""

from glozi.doors.irc import numerics as n
from glozi.doors.irc import wire
from glozi.doors.irc.connection import IRCConnection

INDEX_SUBJECT = "*"
"""The subject of the answer to a HELP with no subject: the list of commands."""
TOPICS: dict[str, tuple[str, ...]] = {
    "AWAY": ("AWAY :message marks you away; AWAY alone, back.",),
    "CAP": (
        "CAP LS [302] lists the IRCv3 capabilities; CAP REQ :cap -cap asks for some (all or none);",
        "CAP LIST shows yours; CAP END ends the negotiation.",
    ),
    "CHATHISTORY": (
        "CHATHISTORY LATEST #name * N, or BEFORE, AFTER, AROUND #name msgid=ID|timestamp=T N,",
        "or BETWEEN #name POINT POINT N: a session's stored messages (yours only, 100 at most);",
        "CHATHISTORY TARGETS timestamp=T timestamp=T N: your sessions with messages between those times.",
    ),
    "HELP": ("HELP [COMMAND]: this help; HELPOP is the same.",),
    "ISON": ("ISON nick [nick ...] tells which of those nicks are connected.",),
    "JOIN": (
        "JOIN #name [KEY] joins a session, creating it when no session has that name.",
        "A locked session needs its 5-digit key; JOIN 0 leaves all of yours.",
    ),
    "INFO": ("INFO [server] describes this server (the only one).",),
    "INVITE": ("INVITE nick #name lets nick join your session once, even when it is +i (its admin only).",),
    "KICK": ("KICK #name NICK [:reason] removes NICK from your session (its admin only).",),
    "KILL": ("KILL nick :reason disconnects that user (server operators only).",),
    "LINKS": ("LINKS [mask] lists the servers of the network: this one.",),
    "LUSERS": ("LUSERS tells how many users and sessions the server has.",),
    "LIST": (
        "LIST [terms] lists the sessions with their member counts and topics; terms, comma-separated:",
        "#name or a mask (#ki*), !mask (not matching), >n or <n members,",
        "C>n or C<n minutes since it was created, T>n or T<n since its topic was set.",
    ),
    "MODE": (
        "MODE #name [CHANGES] shows or (its admin) changes a session's modes: +i +k +l +m +v +b +o +t;",
        "MODE NICK [+i|+w|-o] shows or changes your user modes.",
    ),
    "MOTD": ("MOTD shows the message of the day.",),
    "NAMES": ("NAMES [#name,...] lists the members of those of your sessions, or all of them (@: the admin).",),
    "NICK": ("NICK new changes your nick (3 to 12 characters, not starting with a digit or -).",),
    "NOTICE": ("NOTICE target :text is a PRIVMSG that is never answered.",),
    "OPER": ("OPER name password makes you a server operator (user mode +o).",),
    "PART": ("PART #name[,#other] [:reason] leaves those sessions, telling why.",),
    "PASS": ("PASS password, before NICK and USER, gives the server password when the server has one (--password); otherwise it is ignored.",),
    "PING": ("PING token is answered with PONG.",),
    "PONG": ("PONG answers the server's PING.",),
    "PRIVMSG": (
        "PRIVMSG #name :text says text in your session;",
        "PRIVMSG nick :text sends it to that user alone; PRIVMSG GloziServ :help lists the GloziChat commands.",
    ),
    "QUIT": ("QUIT [:reason] closes your connection.",),
    "SETNAME": ("SETNAME :real name changes your real name (1 to 100 characters).",),
    "TAGMSG": ("TAGMSG target sends only the line's client-only tags (@+typing=active) to a channel or nick.",),
    "TIME": ("TIME shows the server's time.",),
    "TOPIC": ("TOPIC #name [:text] shows or sets a session's topic (under +t, its admin only).",),
    "USER": ("USER user 0 * :real name registers you, with NICK.",),
    "WALLOPS": ("WALLOPS :text reaches every user with mode +w (server operators only).",),
    "USERHOST": ("USERHOST nick [nick ...] (up to 5) shows each one's user@host, and whether away.",),
    "WHO": ("WHO #name lists the members of your session; WHO nick, that user; WHO mask [o], those you can see.",),
    "WHOIS": ("WHOIS nick shows who someone is, their sessions, and how long they have been idle.",),
    "WHOWAS": ("WHOWAS nick [count] shows who had that nick before.",),
}


class Help(IRCConnection):
    """HELP [subject]: 704, 705 lines and 706; 524 for a subject with no help."""

    def irc_HELP(self, params: list[str]) -> None:
        subject = params[0].upper() if params and params[0] else None
        if subject is None:
            lines = ("GloziChat IRC commands (HELP COMMAND for one):", " ".join(sorted(TOPICS)))
            self._help(INDEX_SUBJECT, lines)
        elif subject in TOPICS:
            self._help(subject, TOPICS[subject])
        else:
            self._numeric(n.ERR_HELPNOTFOUND, wire.echo(params[0]), "No help available on this topic")

    def _help(self, subject: str, lines: tuple[str, ...]) -> None:
        first, *rest = lines
        self._numeric(n.RPL_HELPSTART, subject, first)
        for text in rest:
            self._numeric(n.RPL_HELPTXT, subject, text)
        self._numeric(n.RPL_ENDOFHELP, subject, "End of /HELP")
