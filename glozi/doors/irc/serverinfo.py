"""INFO and LINKS: what this server is, and the network it makes alone."""

import twisted

import glozi
from glozi.domain.masks import matches
from glozi.doors.irc import numerics as n
from glozi.doors.irc import wire
from glozi.doors.irc.connection import IRCConnection


class ServerInfo(IRCConnection):
    """INFO [server]: ``371`` lines and ``374``; LINKS [[server] mask]: this
    server's ``364`` when it matches, then ``365``. Another server: ``402``."""

    def irc_INFO(self, params: list[str]) -> None:
        if params and params[0] and not self._is_this_server(params[0]):
            self._numeric(n.ERR_NOSUCHSERVER, wire.echo(params[0]), "No such server")
            return
        server = self.factory.server
        lines = (
            f"GloziChat {glozi.__version__} on Twisted {twisted.__version__}: {self.factory.description}",
            f"{server} ({self.factory.display_name}), up since {wire.utc_text(self.factory.started_at)}",
            "Each channel is a GloziChat session, shared with the native GloziChat clients.",
            "One server is the whole network. HELP lists the IRC commands, /msg GloziServ help the others.",
        )
        for text in lines:
            self._numeric(n.RPL_INFO, text)
        self._numeric(n.RPL_ENDOFINFO, "End of /INFO list")

    def irc_LINKS(self, params: list[str]) -> None:
        if len(params) > 1 and not self._is_this_server(params[0]):
            self._numeric(n.ERR_NOSUCHSERVER, wire.echo(params[0]), "No such server")
            return
        mask = params[-1] if params and params[-1] else "*"
        server = self.factory.server
        if matches(mask, server):
            self._numeric(n.RPL_LINKS, server, server, f"0 {self.factory.description}")
        self._numeric(n.RPL_ENDOFLINKS, wire.echo(mask), "End of /LINKS list")

    def _is_this_server(self, target: str) -> bool:
        """A server mask matching this server's name, or the nick of someone on it
        (which is everyone)."""
        return matches(target, self.factory.server) or self.factory.chat.user_named(target) is not None
