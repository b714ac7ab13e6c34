"""Random sequences through both doors at once, checked against the same invariants.

Native clients (from tests.test_fuzz_native) and IRC clients share one
ChatServer. Each IRC client builds its view of its channels only from the lines
it receives (JOIN, NAMES, PART, KICK, QUIT, NICK); after every step every view
must match the server, no PRIVMSG may reach a client for a channel it is not
in, and a private PRIVMSG reaches only the user it was sent to. The steered
rule of tests.test_fuzz_native (an admin bans, sets +i or fills a session,
then someone joins) runs here with IRC admins too (MODE, and MODE +b then KICK
as IRC clients kick-and-ban) and IRC joiners (JOIN with the key).
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from glozi.domain.chat import ChatServer
from glozi.domain.sessions import Session
from glozi.doors.irc import tags, wire
from glozi.doors.irc.protocol import IRCFactory
from tests.helpers import TEST_EXIT_CODE, quick_passwords
from tests.test_fuzz_native import NAMES, NativeMachine

IRC_GARBAGE = [b"\xff\xfe\r\n", b"JOIN\r\n", b"KICK #x\r\n", b"PRIVMSG\r\n", b"MODE #kiwi +o x\r\n", b"x" * 700 + b"\r\n"]


class IRCFuzzClient:
    """An IRC client and its own view of its channels, built only from lines."""

    def __init__(self, factory: IRCFactory, number: int, nick: str) -> None:
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", f"10.2.0.{number}", 6000 + number))
        self.protocol = factory.buildProtocol(self.transport.getPeer())
        self.protocol.makeConnection(self.transport)
        self.nick = nick
        self.views: dict[str, set[str]] = {}
        """The members of each channel it is in, by lower-case channel name."""
        self.privates: list[str] = []
        self.gone = False
        self.send(f"NICK {nick}".encode(), f"USER {nick} 0 * :{nick}".encode())

    @property
    def channel(self) -> str | None:
        return next(iter(self.views), None)

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
        channel = line.params[0].lower() if line.params else ""
        if line.command == "001":
            # Registration may finish under a later NICK, when the first was taken.
            self.nick = line.params[0]
        elif line.command == "JOIN":
            if who == me:
                assert channel not in self.views, "joined a channel twice"
                self.views[channel] = {me}
            else:
                assert channel in self.views, "JOIN seen for another channel"
                self.views[channel].add(who)
        elif line.command == "353" and line.params[2].lower() in self.views:
            # NAMES of a channel this client is not in is answered too (its visible members): no view of ours.
            self.views[line.params[2].lower()] |= {name.lstrip("@+").lower() for name in line.params[3].split()}
        elif line.command in ("PART", "KICK"):
            assert channel in self.views, f"{line.command} for another channel"
            gone = who if line.command == "PART" else line.params[1].lower()
            if gone == me:
                del self.views[channel]
            else:
                self.views[channel].discard(gone)
        elif line.command == "QUIT":
            for members in self.views.values():
                members.discard(who)
        elif line.command == "NICK":
            if who == me:
                self.nick = line.params[0]
            for members in self.views.values():
                if who in members:
                    members.discard(who)
                    members.add(line.params[0].lower())
        elif line.command == "PRIVMSG" and channel.startswith("#"):
            assert channel in self.views, "a message for a channel we are not in"
        elif line.command == "PRIVMSG" and who != "glozichat":
            assert channel == me, "a private message for someone else"
            text = line.params[1]
            # A CTCP (an ACTION, a VERSION) carries the text after its command.
            self.privates.append(text.strip("\x01").split(" ", 1)[-1] if text.startswith("\x01") else text)

    def try_join(self, session: Session, name: str, key: str | None) -> None:
        self.send(f"JOIN #{session.name} {key or ''}".encode())

    def set_rule(self, session: Session, how: str, parameter: str) -> None:
        """As the admin of ``session``, apply one of ``ADMISSION_RULES`` as IRC clients do (``/kickban`` is two lines)."""
        channel = f"#{session.name}"
        lines = {
            "+b": [f"MODE {channel} +b {parameter}"],
            "ban": [f"MODE {channel} +b {parameter}", f"KICK {channel} {parameter} :out"],
            "+i": [f"MODE {channel} +i"],
            "+l": [f"MODE {channel} +l {parameter}"],
        }[how]
        self.send(*(line.encode() for line in lines))

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
        fitting = [c for c in self.irc_live() if bool(c.views) == in_channel]
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
        channel = data.draw(st.sampled_from([*client.views, "#kiwi"]))
        client.send(f"PRIVMSG {channel} :{text}".encode("utf-8", "surrogatepass"))
        self.step()

    @precondition(lambda self: bool(self.irc_live()))
    @rule(data=st.data(), to=st.sampled_from([*NAMES, "irc0", "irc1", "nobody"]),
          command=st.sampled_from(["PRIVMSG", "NOTICE"]), ctcp=st.sampled_from(["", "ACTION", "VERSION", "PING"]))
    def irc_private(self, data, to, command, ctcp) -> None:
        client = data.draw(st.sampled_from(self.irc_live()))
        text = f"pm{len(self.private_targets)}"
        self.private_targets[text] = self.chat.user_named(to)
        body = f"\x01{ctcp} {text}\x01" if ctcp else text
        client.send(f"{command} {to} :{body}".encode())
        self.step()

    @precondition(lambda self: bool(self.irc_live()))
    @rule(data=st.data(), line=st.sampled_from(["NICK ircnew", "NICK alice", "AWAY :out", "AWAY", "WHOIS alice"]))
    def irc_person(self, data, line) -> None:
        data.draw(st.sampled_from(self.irc_live())).send(line.encode())
        self.step()

    @precondition(lambda self: bool(self.irc_live()))
    @rule(data=st.data(), action=st.sampled_from(
        ["PART", "KICK", "NAMES", "WHO", "close", "quote", "quit", "part_reason", "me", "ctcp"]),
          victim=st.sampled_from(NAMES + ["ircann", "ircben"]))
    def irc_act(self, data, action, victim) -> None:
        client = self.irc_pick(data, in_channel=True)
        channel = data.draw(st.sampled_from([*client.views, "#kiwi"]))
        lines = {
            "PART": f"PART {channel}",
            "KICK": f"KICK {channel} {victim}",
            "NAMES": f"NAMES {channel}",
            "WHO": f"WHO {channel}",
            "close": f"PRIVMSG GloziServ :close {channel}",
            "quote": "PRIVMSG GloziServ :quote",
            "quit": "QUIT :bye",
            "part_reason": f"PART {channel} :see you",
            "me": f"PRIVMSG {channel} :\x01ACTION waves\x01",
            "ctcp": f"PRIVMSG {channel} :\x01VERSION\x01",
        }
        client.send(lines[action].encode())
        self.step()

    @precondition(lambda self: bool(self.irc_live()))
    @rule(data=st.data(), change=st.sampled_from([
        "MODE {c} +i", "MODE {c} -i", "MODE {c} +l 1", "MODE {c} -l", "MODE {c} +b {v}", "MODE {c} -b {v}!*@*",
        "MODE {c} +m", "MODE {c} +v {v}", "MODE {c} +o {v}", "MODE {c} +k 12345", "MODE {c} -k", "MODE {c} b",
        "MODE {c} +ilz 2", "INVITE {v} {c}", "TOPIC {c} :figs", "KICK {c} {v} :go",
    ]), victim=st.sampled_from(NAMES + ["ircann", "ircben"]))
    def irc_rules(self, data, change, victim) -> None:
        client = self.irc_pick(data, in_channel=True)
        channel = data.draw(st.sampled_from([*client.views, "#kiwi"]))
        client.send(change.format(c=channel, v=victim).encode())
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
            members = client.protocol.participant.members
            server_channels = {"#" + m.session.name.lower(): m for m in members.values()}
            assert set(client.views) == set(server_channels), (client.views, server_channels)
            for channel, member in server_channels.items():
                server_view = {m.name.lower() for m in member.session.members.values()}
                assert client.views[channel] == server_view, (client.views, server_view)

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


SERVER_TAGS = {"msgid", "time", "label", "batch"}
"""The tags the server itself puts on lines; any other tag it sends must be a client-only one it was sent."""
_TAG_PIECES = st.one_of(
    st.sampled_from(["+typing=active", "+draft/reply=x", "label=l1", "batch=b", "msgid=forged", "time=forged",
                     "+a=\\", "+b=\\s\\:", "=", ";", "+", "++", "+/x", "x/y=z", "bad!key", "+é=1"]),
    st.text(alphabet=st.characters(blacklist_characters=" \r\n\0", blacklist_categories=("Cs",)), max_size=40),
)
_TAG_DATA = st.one_of(
    st.lists(_TAG_PIECES, max_size=12).map(";".join),
    st.integers(4080, 4110).map(lambda size: "+a=" + "x" * (size - 3)),
)


class TagFuzzTests(SynchronousTestCase):
    """Random tags on random commands from a message-tags client, seen by a tagged and a plain member."""

    def connect(self, factory: IRCFactory, nick: str, caps: str) -> IRCFuzzClient:
        client = IRCFuzzClient.__new__(IRCFuzzClient)
        client.transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 7000))
        client.protocol = factory.buildProtocol(client.transport.getPeer())
        client.protocol.makeConnection(client.transport)
        lines = [f"CAP REQ :{caps}", f"NICK {nick}", f"USER {nick} 0 * :{nick}", "CAP END", "JOIN #garden"]
        client.send(*(line.encode() for line in lines if caps or not line.startswith("CAP")))
        client.transport.clear()
        return client

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        tag_data=_TAG_DATA,
        command=st.sampled_from(["PRIVMSG #garden :hi", "NOTICE #garden :hi", "TAGMSG #garden", "PRIVMSG bob :hi",
                                 "TAGMSG bob", "PING x", "JOIN #garden", "WHOIS bob", "TOPIC #garden :t", "X"]),
    )
    def test_random_tags_never_crash_leak_or_pass_limits(self, tag_data: str, command: str) -> None:
        """No line fails (400), a plain member never sees a tag, a tagged one sees only server tags and client-only
        tags that were sent, every line stays within 8191 bytes of tags and 512 of the rest, and too much tag data is 417."""
        clock = Clock()
        factory = IRCFactory(ChatServer(clock, exit_code=TEST_EXIT_CODE, passwords=quick_passwords()), "fuzzbox", clock)
        sender = self.connect(factory, "alice", "message-tags echo-message labeled-response batch server-time")
        tagged = self.connect(factory, "bob", "message-tags server-time")
        plain = self.connect(factory, "carol", "")
        for client in (sender, tagged):
            client.transport.clear()
        sender.send(f"@{tag_data} {command}".encode())
        sent_keys = {item.partition("=")[0] for item in tag_data.split(";")}
        too_much = len(tag_data.encode()) > tags.MAX_CLIENT_TAG_BYTES
        for client in (sender, tagged, plain):
            data = client.transport.value()
            for raw in data.split(b"\r\n")[:-1]:
                tag_part, rest = tags.split_tags(raw)
                self.assertLessEqual(len(rest) + 2, wire.MAX_LINE_BYTES, raw)
                self.assertLessEqual(len(tag_part) + 2, tags.MAX_TAG_BYTES, raw)
                parsed = wire.parse_line(raw)
                self.assertIsNotNone(parsed, raw)
                assert parsed is not None
                self.assertNotEqual(parsed.command, "400", raw)
                if client is plain:
                    self.assertEqual(tag_part, b"", raw)
                for key in parsed.tags:
                    self.assertTrue(key in SERVER_TAGS or (key.startswith("+") and key in sent_keys), raw)
                if client is not sender:
                    self.assertNotIn("label", parsed.tags, raw)
                    self.assertNotIn(b"forged", tag_part, raw)
            if too_much:
                expected = b":fuzzbox.glozichat 417 alice :Input line was too long\r\n" if client is sender else b""
                self.assertEqual(data, expected)
