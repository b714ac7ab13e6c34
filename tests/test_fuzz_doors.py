"""Random sequences through both doors at once, checked against the same invariants.

Native clients (from tests.test_fuzz_native) and IRC clients share one
ChatServer. Each IRC client builds its view of its channel only from the lines
it receives (JOIN, NAMES, PART, KICK, QUIT); after every step every view must
match the server, and no PRIVMSG may reach a client for a channel it is not in.
"""

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from glozi.doors.irc import wire
from glozi.doors.irc.protocol import IRCFactory
from tests.test_fuzz_native import NAMES, NativeMachine

IRC_GARBAGE = [b"\xff\xfe\r\n", b"JOIN\r\n", b"KICK #x\r\n", b"PRIVMSG\r\n", b"MODE #kiwi +o x\r\n", b"x" * 700 + b"\r\n"]


class IRCFuzzClient:
    """An IRC client and its own view of its channel, built only from lines."""

    def __init__(self, factory: IRCFactory, number: int, nick: str) -> None:
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", f"10.2.0.{number}", 6000 + number))
        self.protocol = factory.buildProtocol(self.transport.getPeer())
        self.protocol.makeConnection(self.transport)
        self.nick = nick
        self.channel: str | None = None
        self.members: set[str] = set()
        self.gone = False
        self.send(f"NICK {nick}".encode(), f"USER {nick} 0 * :{nick}".encode())

    @property
    def session(self) -> str | None:
        return self.channel

    def send(self, *lines: bytes) -> None:
        for line in lines:
            self.protocol.dataReceived(line if line.endswith(b"\n") else line + b"\r\n")

    def read(self) -> None:
        data = self.transport.value()
        self.transport.clear()
        for raw in data.split(b"\r\n"):
            parsed = wire.parse_line(raw) if raw else None
            if parsed is not None:
                self.apply(parsed)

    def apply(self, line: wire.ParsedLine) -> None:
        who = line.prefix.split("!")[0].lower()
        me = self.nick.lower()
        if line.command == "JOIN":
            if who == me:
                assert self.channel is None, "joined a second channel"
                self.channel, self.members = line.params[0].lower(), {me}
            else:
                assert line.params[0].lower() == self.channel, "JOIN seen for another channel"
                self.members.add(who)
        elif line.command == "353":
            assert line.params[2].lower() == self.channel, "NAMES for another channel"
            self.members |= {name.lstrip("@").lower() for name in line.params[3].split()}
        elif line.command in ("PART", "KICK"):
            assert line.params[0].lower() == self.channel, f"{line.command} for another channel"
            gone = who if line.command == "PART" else line.params[1].lower()
            if gone == me:
                self.channel, self.members = None, set()
            else:
                self.members.discard(gone)
        elif line.command == "QUIT":
            self.members.discard(who)
        elif line.command == "PRIVMSG":
            assert line.params[0].lower() == self.channel, "a message for a channel we are not in"

    def drop(self) -> None:
        self.gone = True
        self.protocol.connectionLost(None)


class BothDoorsMachine(NativeMachine):
    def all_clients(self) -> list:
        return self.clients + getattr(self, "irc_clients", [])

    def irc_live(self) -> list[IRCFuzzClient]:
        return [c for c in getattr(self, "irc_clients", []) if not c.gone]

    def channels(self) -> list[str]:
        return ["#kiwi", "#kiwi", "#avocado", "#garden", "#attic", "#newroom"]

    @rule(nick=st.sampled_from(["alice", "bob", None, None]))
    def irc_connect(self, nick) -> None:
        if not hasattr(self, "irc_factory"):
            self.irc_factory = IRCFactory(self.chat, "fuzz", self.clock)
            self.irc_clients: list[IRCFuzzClient] = []
        number = len(self.irc_clients)
        # Mostly fresh nicks; sometimes a native user's name, to cross the doors.
        if nick is None or nick in {c.nick for c in self.irc_live()}:
            nick = f"irc{number}"
        self.irc_clients.append(IRCFuzzClient(self.irc_factory, number, nick))
        self.step()

    def irc_pick(self, data, in_channel: bool) -> IRCFuzzClient:
        fitting = [c for c in self.irc_live() if (c.channel is not None) == in_channel]
        wrong = data.draw(st.integers(0, 9)) == 0
        return data.draw(st.sampled_from(fitting if fitting and not wrong else self.irc_live()))

    @precondition(lambda self: bool(self.irc_live()))
    @rule(data=st.data(), key=st.sampled_from(["", " 12345", " 54321", " 1"]))
    def irc_join(self, data, key) -> None:
        client = self.irc_pick(data, in_channel=False)
        channel = data.draw(st.sampled_from(self.channels()))
        client.send(f"JOIN {channel}{key}".encode())
        self.step()

    @precondition(lambda self: bool(self.irc_live()))
    @rule(data=st.data(), text=st.text(min_size=1, max_size=20).filter(lambda t: "\r" not in t and "\n" not in t))
    def irc_say(self, data, text) -> None:
        client = self.irc_pick(data, in_channel=True)
        client.send(f"PRIVMSG {client.channel or '#kiwi'} :{text}".encode("utf-8", "surrogatepass"))
        self.step()

    @precondition(lambda self: bool(self.irc_live()))
    @rule(data=st.data(), action=st.sampled_from(["PART", "KICK", "NAMES", "WHO", "close", "quote", "quit"]),
          victim=st.sampled_from(NAMES + ["ircann", "ircben"]))
    def irc_act(self, data, action, victim) -> None:
        client = self.irc_pick(data, in_channel=True)
        channel = client.channel or "#kiwi"
        lines = {
            "PART": f"PART {channel}",
            "KICK": f"KICK {channel} {victim}",
            "NAMES": f"NAMES {channel}",
            "WHO": f"WHO {channel}",
            "close": "PRIVMSG GloziServ :close",
            "quote": "PRIVMSG GloziServ :quote",
            "quit": "QUIT :bye",
        }
        client.send(lines[action].encode())
        self.step()

    @precondition(lambda self: bool(self.irc_live()))
    @rule(data=st.data(), line=st.sampled_from(IRC_GARBAGE))
    def irc_garbage(self, data, line) -> None:
        data.draw(st.sampled_from(self.irc_live())).send(line)
        self.step()

    @precondition(lambda self: bool(self.irc_live()))
    @rule(data=st.data())
    def irc_disconnect(self, data) -> None:
        data.draw(st.sampled_from(self.irc_live())).drop()
        self.step()

    def check_irc_views(self) -> None:
        for client in self.irc_live():
            member = client.protocol.participant.member
            if client.channel is None:
                assert member is None, "the server has an IRC member whose client thinks it left"
                continue
            assert member is not None, f"{client.nick} thinks it is in {client.channel}"
            assert "#" + member.session.name.lower() == client.channel
            server_view = {m.name.lower() for m in member.session.members.values()}
            assert client.members == server_view, (client.members, server_view)

    @invariant()
    def views_match_server(self) -> None:
        super().views_match_server()
        self.check_irc_views()


BothDoorsMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


class BothDoorsFuzzTests(BothDoorsMachine.TestCase):
    def test_random_sequences_through_both_doors(self) -> None:
        """Native and IRC clients acting at random never break the shared invariants."""
        self.runTest()
