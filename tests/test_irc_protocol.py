"""The IRC door on StringTransport: every command and numeric it answers with."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from glozi.domain.chat import ChatServer
from glozi.domain.commands import COMMANDS
from glozi.domain.events import ServerClosing, TopicChanged
from glozi.domain.files import FileSharing
from glozi.doors.irc import wire
from glozi.doors.irc.caps import Cap
from glozi.doors.irc.protocol import IRCFactory, IRCProtocol
from glozi.doors.native import wire as native_wire
from glozi.doors.native.protocol import NativeFactory
from glozi.doors.tracking import ConnectionLimits
from tests.helpers import SESSION_LIST_EVENTS, TEST_EXIT_CODE, late_passwords, quick_passwords

SERVER = "testbox.glozichat"


class IRCClient:
    """One IRC connection on a StringTransport, read back with the door's own parser."""

    def __init__(self, factory: IRCFactory) -> None:
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40000))
        self.protocol: IRCProtocol = factory.buildProtocol(self.transport.getPeer())
        self.protocol.makeConnection(self.transport)

    def send(self, *lines: str | bytes) -> list[wire.ParsedLine]:
        for text in lines:
            data = text if isinstance(text, bytes) else text.encode() + b"\r\n"
            self.protocol.dataReceived(data)
        return self.received()

    def received(self) -> list[wire.ParsedLine]:
        data = self.transport.value()
        self.transport.clear()
        return self.parsed(data)

    @staticmethod
    def parsed(data: bytes) -> list[wire.ParsedLine]:
        """The lines in ``data``, read with the door's own parser."""
        lines = [wire.parse_line(raw) for raw in data.split(b"\r\n") if raw]
        return [p for p in lines if p is not None]

    def commands(self, *lines: str) -> list[str]:
        return [p.command for p in self.send(*lines)]

    def one(self, line: str) -> wire.ParsedLine:
        [answer] = self.send(line)
        return answer

    @property
    def closed(self) -> bool:
        return self.transport.disconnecting


class NativeClient:
    """A native-protocol connection to the same ChatServer."""

    def __init__(self, factory: NativeFactory) -> None:
        self.transport = StringTransport()
        self.protocol = factory.buildProtocol(None)
        self.protocol.makeConnection(self.transport)
        self.frames()

    def send(self, **frame: object) -> list[dict]:
        self.protocol.dataReceived(json.dumps(frame).encode() + b"\n")
        return self.frames()

    def frames(self) -> list[dict]:
        data = self.transport.value()
        self.transport.clear()
        frames = [native_wire.parse_frame(line) for line in data.splitlines()]
        return [frame for frame in frames if frame["type"] not in SESSION_LIST_EVENTS]


class DoorTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.fresh_server()

    def fresh_server(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_764_000_000)
        self.exits: list[bool] = []
        self.chat = ChatServer(
            self.clock, exit_code=TEST_EXIT_CODE, passwords=quick_passwords(), idle_timeout=240, on_exit=lambda: self.exits.append(True)
        )
        self.factory = IRCFactory(self.chat, "testbox", self.clock)
        self.native_factory = NativeFactory(self.chat, "testbox")

    def connect(self) -> IRCClient:
        return IRCClient(self.factory)

    def user(self, nick: str) -> IRCClient:
        client = self.connect()
        lines = client.send(f"NICK {nick}", f"USER {nick} 0 * :{nick} tester")
        self.assertEqual(lines[0].command, "001")
        return client

    def member(self, nick: str, channel: str, key: str = "") -> IRCClient:
        client = self.user(nick)
        lines = client.send(f"JOIN {channel} {key}".strip())
        self.assertEqual(lines[0].command, "JOIN", lines)
        return client

    def native(self, **join: object) -> NativeClient:
        client = NativeClient(self.native_factory)
        if join:
            answer = client.send(type="join", **join)
            self.assertEqual(answer[0]["type"], "joined", answer)
        return client


class RegistrationTests(DoorTestCase):
    def test_welcome_numerics(self) -> None:
        """NICK and USER are answered by 001-005, LUSERS and a short MOTD, in that order."""
        client = self.connect()
        self.assertEqual(client.send("NICK alice"), [])
        lines = client.send("USER alice 0 * :Alice")
        self.assertEqual(
            [p.command for p in lines],
            ["001", "002", "003", "004", "005", "005", "251", "252", "253", "254", "255", "265", "266",
             "375", "372", "372", "372", "372", "376"],
        )
        self.assertTrue(all(p.prefix == SERVER and p.params[0] == "alice" for p in lines))
        self.assertIn("alice!alice@glozichat", lines[0].params[1])
        self.assertEqual(lines[3].params[1:], [SERVER, "GloziChat-0.1.0", "iow", "CIbeiklmnostv", "Ibeklov"])

    def test_isupport_tells_the_truth(self) -> None:
        """005 advertises 20 # sessions at once and the GloziChat name lengths, in two lines of at most 13 tokens."""
        lines = self.connect().send("NICK alice", "USER alice 0 * :Alice")
        isupports = [p for p in lines if p.command == "005"]
        self.assertEqual(len(isupports), 2)
        tokens = dict(t.partition("=")[::2] for isupport in isupports for t in isupport.params[1:-1])
        self.assertEqual(tokens["CHANLIMIT"], "#:20")
        self.assertEqual(tokens["AWAYLEN"], "200")
        self.assertEqual(tokens["CHANTYPES"], "#")
        self.assertEqual(tokens["NICKLEN"], "12")
        self.assertEqual(tokens["CHANNELLEN"], "13")
        self.assertEqual(tokens["PREFIX"], "(ov)@+")
        self.assertEqual(tokens["CHANMODES"], "beI,k,l,Cimnst")
        self.assertEqual((tokens["EXCEPTS"], tokens["INVEX"]), ("", ""))
        self.assertEqual(tokens["TOPICLEN"], "300")
        self.assertEqual(tokens["MAXLIST"], "b:50,e:50,I:50")
        self.assertEqual(tokens["CASEMAPPING"], "ascii")
        self.assertEqual(tokens["USERLEN"], "10")
        for isupport in isupports:
            self.assertLessEqual(len(isupport.params), 15)
            self.assertEqual(isupport.params[-1], "are supported by this server")

    def test_cap_negotiation_holds_registration_until_end(self) -> None:
        """CAP LS holds registration until CAP END; a REQ naming a capability not offered (sasl) is refused whole."""
        client = self.connect()
        [ls] = client.send("CAP LS 302")
        self.assertEqual(ls.params[:2], ["*", "LS"])
        self.assertEqual(client.send("NICK alice", "USER alice 0 * :Alice"), [])
        [nak] = client.send("CAP REQ :multi-prefix sasl")
        self.assertEqual(nak.params, ["alice", "NAK", "multi-prefix sasl"])
        [listed] = client.send("CAP LIST")
        self.assertEqual(listed.params, ["alice", "LIST", "cap-notify"])
        self.assertEqual(client.one("CAP BOGUS").command, "410")
        self.assertEqual(client.commands("CAP END")[0], "001")

    def test_bad_nicks_get_432(self) -> None:
        """A nick that breaks the GloziChat name rule is refused with 432."""
        client = self.connect()
        for nick in ("1alice", "al", "thirteenchars", "abcdefghijk__", "-alice", "1_ab", "bob~", "bob.", "a@b"):
            answer = client.one(f"NICK {nick}")
            self.assertEqual((answer.command, answer.params[1]), ("432", nick))
            self.assertEqual(
                answer.params[2],
                "Erroneous nickname: 3 to 12 letters, digits or _ - [ ] \\ ^ { } | `, not starting with a digit or -",
            )
        self.assertEqual(client.one("NICK").command, "431")

    def test_fallback_nicks_are_good_nicks(self) -> None:
        """The nicks IRC clients fall back to register: bob_, a__, _ab, [a], 12 characters with _ or -."""
        for nick in ("bob_", "a__", "_ab", "alice__", "[a]", "x`y", "c\\d^", "{g|h}", "abcdefghijk_", "abcdefghijk-"):
            self.assertEqual(self.connect().send(f"NICK {nick}", "USER u 0 * :u")[0].command, "001", nick)

    def test_taken_nick_then_its_fallback(self) -> None:
        """A client whose nick is taken (433) gets in as bob_ and talks in the session; [a] and {a} are two nicks."""
        bob = self.member("bob", "#kiwi")
        client = self.connect()
        self.assertEqual(client.send("NICK bob", "USER bob 0 * :Bob")[0].command, "433")
        self.assertEqual(client.commands("NICK bob_")[0], "001")
        self.assertEqual(client.send("JOIN #kiwi")[0].prefix, "bob_!bob_@glozichat")
        self.assertEqual(client.send("PRIVMSG #kiwi :hi from bob_"), [])
        joined, said = bob.received()
        self.assertEqual((joined.prefix, joined.command), ("bob_!bob_@glozichat", "JOIN"))
        self.assertEqual((said.prefix, said.params), ("bob_!bob_@glozichat", ["#kiwi", "hi from bob_"]))
        self.user("[a]")
        self.user("{a}")
        self.assertEqual(self.connect().one("NICK [A]").command, "433")

    def test_taken_nicks_get_433(self) -> None:
        """A nick held by another IRC client (any case) or by GloziServ is refused with 433."""
        self.user("alice")
        client = self.connect()
        for nick in ("alice", "ALICE", "GloziServ", "gloziserv"):
            answer = client.one(f"NICK {nick}")
            self.assertEqual((answer.command, answer.params[:2]), ("433", ["*", nick]))

    def test_nick_freed_on_disconnect(self) -> None:
        """Once its holder is gone, the nick is free again."""
        alice = self.user("alice")
        alice.protocol.connectionLost(None)
        self.assertEqual(self.connect().send("NICK alice", "USER a 0 * :a")[0].command, "001")

    def test_nick_change(self) -> None:
        """The nick may change at the session list and in sessions: each IRC user
        sharing a session sees one NICK, each native member one member_renamed per session."""
        alice = self.user("alice")
        [changed] = alice.send("NICK alicia")
        self.assertEqual((changed.prefix, changed.command, changed.params), ("alice!alice@glozichat", "NICK", ["alicia"]))
        alice.send("JOIN #kiwi", "JOIN #papaya")
        bob = self.member("bob", "#kiwi")
        bob.send("JOIN #papaya")
        carol = self.native(session=2, username="carol")
        carol.send(type="join", session=6, username="carol")
        alice.received(), bob.received()
        [changed] = alice.send("NICK alice")
        self.assertEqual((changed.prefix, changed.command, changed.params), ("alicia!alicia@glozichat", "NICK", ["alice"]))
        [seen] = bob.received()
        self.assertEqual((seen.prefix, seen.command, seen.params), ("alicia!alicia@glozichat", "NICK", ["alice"]))
        renamed = carol.frames()
        self.assertEqual(
            [(f["type"], f["session"], f["old"], f["name"]) for f in renamed],
            [("member_renamed", 2, "alicia", "alice"), ("member_renamed", 6, "alicia", "alice")],
        )
        self.assertEqual(alice.one("NICK bob").command, "433")

    def test_before_registration(self) -> None:
        """Anything but the registration commands is refused with 451 before NICK and USER."""
        client = self.connect()
        self.assertEqual(client.one("JOIN #kiwi").command, "451")
        self.assertEqual(client.one("FROB").command, "451")
        self.assertEqual(client.one("PING x").command, "PONG")

    def test_user_and_reregistration(self) -> None:
        """USER needs four parameters (461); a second USER or a late PASS gets 462."""
        client = self.connect()
        self.assertEqual(client.one("USER alice").params[1:], ["USER", "Not enough parameters"])
        client.send("PASS secret", "NICK alice", "USER alice 0 * :Alice")
        self.assertEqual(client.one("USER alice 0 * :Alice").command, "462")
        self.assertEqual(client.one("PASS secret").command, "462")

    def test_user_with_empty_realname_or_username_461(self) -> None:
        """USER with an empty real name (or user name) gets 461 and does not register; a good USER then does."""
        client = self.connect()
        client.send("NICK alice")
        for empty in ("USER u * * :", "USER : * * :Alice"):
            self.assertEqual(client.one(empty).params[1:], ["USER", "Not enough parameters"])
        self.assertEqual(client.send("USER u * * :Alice")[0].command, "001")

    def test_registration_timeout(self) -> None:
        """A connection that does not register in time is closed with ERROR."""
        client = self.connect()
        client.send("NICK alice")
        self.clock.advance(self.factory.registration_timeout)
        [error] = client.received()
        self.assertEqual(error.command, "ERROR")
        self.assertTrue(client.closed)


class KeepAliveTests(DoorTestCase):
    def test_ping_is_answered(self) -> None:
        """PING is answered by PONG with the token; without a token, 461."""
        alice = self.user("alice")
        pong = alice.one("PING :lag 123")
        self.assertEqual((pong.prefix, pong.command, pong.params), (SERVER, "PONG", [SERVER, "lag 123"]))
        self.assertEqual(alice.one("PING").command, "461")

    def test_server_pings_a_silent_client(self) -> None:
        """After a silent interval the server sends PING; an answer keeps the connection."""
        alice = self.user("alice")
        self.clock.advance(self.factory.ping_interval)
        [ping] = alice.received()
        self.assertEqual((ping.command, ping.params), ("PING", [SERVER]))
        alice.send(f"PONG {SERVER}")
        self.clock.advance(self.factory.ping_timeout)
        self.assertFalse(alice.closed)

    def test_no_pong_drops_the_client(self) -> None:
        """A client that answers nothing is dropped, and its session hears it quit."""
        bob = self.member("bob", "#kiwi")
        alice = self.member("alice", "#kiwi")
        bob.received()
        self.clock.advance(self.factory.ping_interval)
        alice.received()
        bob.send(f"PONG {SERVER}")
        self.clock.advance(self.factory.ping_timeout)
        [error] = alice.received()
        self.assertEqual((error.command, error.params), ("ERROR", ["Closing Link: Ping timeout: 60 seconds"]))
        self.assertTrue(alice.closed)
        alice.protocol.connectionLost(None)
        self.assertIn(("alice!alice@glozichat", "QUIT"), [(p.prefix, p.command) for p in bob.received()])


class BadInputTests(DoorTestCase):
    def test_unknown_command_421(self) -> None:
        """An unknown command gets 421 naming it."""
        self.assertEqual(self.user("alice").one("FROB x").params, ["alice", "FROB", "Unknown command"])

    def test_missing_parameters_461(self) -> None:
        """Every command with required parameters answers 461 without them."""
        alice = self.user("alice")
        for command in ("JOIN", "PART", "TOPIC", "MODE", "KICK #kiwi", "PING", "CAP"):
            answer = alice.one(command)
            self.assertEqual((answer.command, answer.params[1]), ("461", command.split()[0]))

    def test_over_long_line_417(self) -> None:
        """A line over 512 bytes gets 417 and is dropped; the connection carries on."""
        alice = self.user("alice")
        answer = alice.one("PRIVMSG #kiwi :" + "x" * 600)
        self.assertEqual(answer.params, ["alice", "Input line was too long"])
        self.assertEqual(alice.one("PING a").command, "PONG")

    def test_unterminated_flood_417(self) -> None:
        """Bytes with no line end are not buffered past 512: one 417, then the rest of that line is ignored."""
        alice = self.user("alice")
        answers = alice.send(b"x" * 5000, b"y" * 5000, b"zzz\r\nPING b\r\n")
        self.assertEqual([p.command for p in answers], ["417", "PONG"])
        self.assertFalse(alice.closed)

    def test_character_split_between_reads(self) -> None:
        """A UTF-8 character cut between two reads still arrives whole."""
        self.member("alice", "#kiwi")
        bob = self.native(session=2, username="bob")
        data = "PRIVMSG #kiwi :h\u00e9llo\r\n".encode()
        cut = data.index(b"\xa9")
        alice = self.factory.connections.copy().pop()
        alice.dataReceived(data[:cut])
        alice.dataReceived(data[cut:])
        [message] = bob.frames()
        self.assertEqual(message["text"], "h\u00e9llo")

    def test_malformed_lines_are_ignored(self) -> None:
        """A bare prefix, blank lines and invalid UTF-8 (warned of, then 421 for the unknown command) do not break the connection."""
        alice = self.user("alice")
        lines = alice.send(":onlyprefix", ":prefix ", "   ", b"\xff\xfe\r\n")
        self.assertEqual([(line.command, line.params[1:2]) for line in lines], [("WARN", ["INVALID_UTF8"]), ("421", ["\ufffd\ufffd"])])
        self.assertEqual(alice.one("PING c").command, "PONG")

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.binary(max_size=700), max_size=8))
    def test_nothing_crashes_the_door(self, chunks: list[bytes]) -> None:
        """Arbitrary bytes never raise out of the protocol, and never disturb another member."""
        self.fresh_server()
        bob = self.native(session=2, username="bobby")
        client = self.connect()
        for chunk in chunks:
            client.protocol.dataReceived(chunk)
        client.protocol.connectionLost(None)
        for frame in bob.frames():
            self.assertIn(frame["type"], ("member_joined", "member_left", "message", "admin_changed"))
        self.assertEqual(bob.send(type="ping"), [{"type": "pong"}])
        self.assertEqual(self.factory.connections, set())


    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        st.lists(
            st.tuples(
                st.sampled_from([*IRCProtocol.COMMANDS, "FROB", "001"]),
                st.lists(st.text(alphabet=st.sampled_from("#,:0123456789abcXYZ *+-\x01\x02\u00e9"), max_size=14), max_size=4),
            ),
            max_size=12,
        )
    )
    def test_no_command_reaches_an_internal_error(self, commands: list[tuple[str, list[str]]]) -> None:
        """Any known command with any parameters, in any order, is answered without a server failure (400)."""
        self.fresh_server()
        self.native(session=2, username="bobby")
        client = self.user("alice")
        answers = []
        for command, params in commands:
            line = " ".join([command, *params[:-1], ":" + params[-1]] if params else [command])
            answers += client.send(line.encode()[: wire.MAX_LINE_BYTES - 2] + b"\r\n")
        self.assertNotIn("400", [p.command for p in answers])


class SessionTests(DoorTestCase):
    def test_list(self) -> None:
        """LIST shows every session, its member count and a topic with creator, time and lock."""
        self.native().send(type="create", name="garden", username="carol", password="12345")
        lines = self.user("alice").send("LIST")
        self.assertEqual((lines[0].command, lines[-1].command), ("321", "323"))
        rows = {p.params[1]: p.params[2:] for p in lines if p.command == "322"}
        self.assertEqual(len(rows), 10)
        self.assertEqual(rows["#kiwi"], ["0", "Created by server on 2025-11-24 16:00 UTC; open"])
        self.assertEqual(rows["#garden"], ["1", "Created by carol on 2025-11-24 16:00 UTC; locked: JOIN with its 5-digit key"])
        filtered = self.user("dave").send("LIST #garden,#nope")
        self.assertEqual([p.params[1] for p in filtered if p.command == "322"], ["#garden"])

    def test_join_existing_session(self) -> None:
        """JOIN #kiwi echoes the JOIN, then the names (353, 366); no topic is set, so no 332."""
        self.native(session=2, username="bob")
        lines = self.user("alice").send("JOIN #KIWI")
        self.assertEqual([p.command for p in lines], ["JOIN", "353", "366"])
        self.assertEqual((lines[0].prefix, lines[0].params), ("alice!alice@glozichat", ["#kiwi"]))
        self.assertEqual(lines[1].params[1:], ["=", "#kiwi", "bob alice"])

    def test_join_new_name_creates_with_key_as_operator(self) -> None:
        """JOIN of a new name creates the session locked with the key; its creator is @ and a native user needs the key."""
        alice = self.user("alice")
        lines = alice.send("JOIN #garden 12345")
        self.assertEqual(lines[1].params[1:], ["=", "#garden", "@alice"])
        self.assertEqual(alice.send("MODE #garden")[0].params[1:], ["#garden", "+ntk", "12345"])
        native = self.native()
        [session] = [s for s in native.send(type="list")[0]["sessions"] if s["name"] == "garden"]
        self.assertEqual((session["locked"], session["admin"], session["creator"]), (True, "alice", "alice"))
        [refused] = native.send(type="join", session=session["id"], username="bob", password="11111")
        self.assertEqual(refused["code"], "wrong_password")

    def test_join_keys(self) -> None:
        """475 for a wrong, missing or malformed key; a new session accepts only a 5-digit key."""
        self.member("carol", "#garden", "12345")
        alice = self.user("alice")
        for line in ("JOIN #garden", "JOIN #garden 11111", "JOIN #garden abc", "JOIN #other 1234", "JOIN #other abcde"):
            answer = alice.one(line)
            self.assertEqual((answer.command, answer.params[1]), ("475", line.split()[1]))
        self.assertEqual(alice.send("JOIN #garden 12345")[0].command, "JOIN")

    def test_too_many_wrong_keys_is_still_475(self) -> None:
        """Once guessing is limited, JOIN still gets a 475, naming the wait."""
        self.member("carol", "#garden", "12345")
        guesser = self.user("guesser")
        answers = [guesser.one(f"JOIN #garden 0000{n}") for n in range(6)]
        self.assertEqual({a.command for a in answers}, {"475"})
        self.assertIn("try again in", answers[-1].params[-1])

    def test_key_ignored_for_open_session(self) -> None:
        """A key given for an open session is ignored, as on IRC."""
        self.assertEqual(self.user("alice").send("JOIN #kiwi whatever")[0].command, "JOIN")

    def test_twenty_channels_then_405(self) -> None:
        """The 20th channel is joined, the 21st gets 405; JOIN of one you are in is ignored."""
        alice = self.member("alice", "#kiwi")
        self.assertEqual(alice.send("JOIN #kiwi"), [])
        for number in range(2, 21):
            self.clock.advance(3)  # the join budget: one every 3 s after a burst of 10
            self.assertEqual(alice.send(f"JOIN #room{number}")[0].command, "JOIN")
        self.clock.advance(3)
        refused = alice.one("JOIN #room21")
        self.assertEqual((refused.command, refused.params[1]), ("405", "#room21"))
        self.assertEqual(alice.one("PART #room20").command, "PART")
        self.assertEqual(alice.send("JOIN #room21")[0].command, "JOIN")

    def test_join_list_joins_each_and_refuses_bad_names(self) -> None:
        """JOIN #valid,inv@lid,#other: the bad name gets 403, both valid ones are joined in order."""
        alice = self.user("alice")
        lines = alice.send("JOIN #kiwi,inv@lid,#papaya")
        self.assertEqual(
            [p.command for p in lines], ["JOIN", "353", "366", "403", "JOIN", "353", "366"]
        )
        self.assertEqual(lines[3].params[1], "inv@lid")
        self.assertEqual(lines[4].params[0], "#papaya")

    def test_invalid_channel_403(self) -> None:
        """A channel that cannot be a session name gets 403, a nick's fallback characters too (#gar_den)."""
        alice = self.user("alice")
        for channel in ("kiwi", "#k", "#1abc", "#way-too-long-name", "&kiwi", "#gar_den", "#[kiwi]"):
            self.assertEqual(alice.one(f"JOIN {channel}").command, "403")

    def test_one_namespace_for_both_doors(self) -> None:
        """A nick a native user holds gets 433 on IRC; the native door refuses an IRC user's nick (any case)."""
        self.native(session=2, username="alice")
        client = self.connect()
        taken = client.send("NICK ALICE")
        self.assertEqual((taken[0].command, taken[0].params[1]), ("433", "ALICE"))
        self.member("bob", "#papaya")
        [refused] = self.native().send(type="join", session=6, username="BOB")
        self.assertEqual(refused["code"], "name_taken")

    def test_part(self) -> None:
        """PART leaves the session (echoed to all); 442 for another session, 403 for none; JOIN 0 parts too."""
        alice = self.member("alice", "#kiwi")
        carol = self.member("carol", "#kiwi")
        bob = self.native(session=2, username="bob")
        alice.received()
        carol.received()
        self.assertEqual(carol.one("PART #avocado").command, "442")
        self.assertEqual(carol.one("PART #nothere").command, "403")
        [part] = carol.send("PART #kiwi")
        self.assertEqual((part.prefix, part.command, part.params), ("carol!carol@glozichat", "PART", ["#kiwi"]))
        self.assertEqual(alice.received(), [part])
        left = bob.frames()[-1]
        self.assertEqual((left["reason"], left["comment"]), ("quit", None))
        [part] = alice.send("JOIN 0")
        self.assertEqual(part.command, "PART")
        self.assertEqual(alice.send("JOIN #avocado")[0].command, "JOIN")

    def test_topic(self) -> None:
        """No topic: 331. The admin sets one (every member sees TOPIC), then 332 and 333 (setter, time);
        a member gets 482 under +t and may set it under -t; 442 off the channel; 403 for no session;
        301 characters are cut to 300."""
        carol = self.member("carol", "#garden")
        alice = self.member("alice", "#garden")
        bob = self.native(session=10, username="bob")
        carol.received()
        alice.received()
        self.assertEqual(alice.one("TOPIC #garden").command, "331")
        [line] = carol.send("TOPIC #garden :ripe figs")
        self.assertEqual((line.prefix, line.command, line.params), ("carol!carol@glozichat", "TOPIC", ["#garden", "ripe figs"]))
        self.assertEqual(alice.received(), [line])
        [changed] = bob.frames()
        self.assertEqual(changed, {"type": "topic_changed", "session": 10, "topic": "ripe figs", "by": "carol", "ts": 1764000000.0})
        topic, who = alice.send("TOPIC #garden")
        self.assertEqual((topic.command, topic.params[1:]), ("332", ["#garden", "ripe figs"]))
        self.assertEqual((who.command, who.params[1:]), ("333", ["#garden", "carol!carol@glozichat", "1764000000"]))
        self.assertEqual(alice.one("TOPIC #garden :mine").command, "482")
        carol.send("MODE #garden -t")
        alice.received()
        self.assertEqual(alice.one("TOPIC #garden :mine").command, "TOPIC")
        carol.received()
        [line] = carol.send("TOPIC #garden :" + "x" * 301)
        self.assertEqual(len(line.params[1]), 300)
        listed = {p.params[1]: p.params[3] for p in alice.send("LIST") if p.command == "322"}
        self.assertEqual(listed["#garden"], "x" * 300)
        self.assertTrue(listed["#kiwi"].startswith("Created by server"))
        self.assertEqual(alice.one("TOPIC #papaya :new").command, "442")
        self.assertEqual(alice.one("TOPIC #nope").command, "403")

    def test_channel_mode(self) -> None:
        """MODE #chan reads the modes in force, +nt or +ntk (324, 329), the ban list is empty (368), changes get 482."""
        self.member("carol", "#garden", "12345")
        alice = self.user("alice")
        mode, created = alice.send("MODE #garden")
        self.assertEqual((mode.command, mode.params[1:]), ("324", ["#garden", "+ntk"]))
        self.assertEqual((created.command, created.params[1:]), ("329", ["#garden", "1764000000"]))
        self.assertEqual(alice.send("MODE #kiwi")[0].params[1:], ["#kiwi", "+nt"])
        alice.send("JOIN #kiwi")
        self.assertEqual(alice.send("MODE #kiwi")[0].params[1:], ["#kiwi", "+nt"])
        self.assertEqual(alice.one("MODE #kiwi b").command, "368")
        self.assertEqual(alice.one("MODE #kiwi +t").command, "482")
        self.assertEqual(alice.one("MODE #nope").command, "403")

    def test_user_mode(self) -> None:
        """MODE on your own nick: +i is kept, 221 reads it, unknown flags get 501, other nicks 502."""
        alice = self.user("alice")
        [echo] = alice.send("MODE alice +i")
        self.assertEqual((echo.command, echo.params), ("MODE", ["alice", "+i"]))
        self.assertEqual(alice.one("MODE alice").params, ["alice", "+i"])
        self.assertEqual(alice.one("MODE alice +x").command, "501")
        self.assertEqual(alice.one("MODE bob +i").command, "502")

    def test_names_and_who(self) -> None:
        """NAMES and WHO list the session with its admin as @; other sessions show nobody."""
        alice = self.member("alice", "#garden", "12345")
        self.native(session=10, username="bob", password="12345")
        alice.received()
        names, end = alice.send("NAMES #garden")
        self.assertEqual((names.command, names.params[1:], end.command), ("353", ["=", "#garden", "@alice bob"], "366"))
        self.assertEqual(alice.commands("NAMES #kiwi"), ["366"])
        self.assertEqual(alice.commands("NAMES"), ["353", "366"])
        lines = alice.send("WHO #garden")
        self.assertEqual([p.command for p in lines], ["352", "352", "315"])
        self.assertEqual(lines[0].params[1:], ["#garden", "~alice", "glozichat", SERVER, "alice", "H@", "0 alice tester"])
        self.assertEqual(lines[1].params[6], "H")
        self.assertEqual([p.command for p in alice.send("WHO bob")], ["352", "315"])
        self.assertEqual([p.command for p in alice.send("WHO #kiwi")], ["315"])


class JoinRefusalTests(DoorTestCase):
    def test_eleventh_quick_join_gets_437_with_the_wait(self) -> None:
        """Joins are limited as on the native door (a burst of 10, then one every 3 s): the 11th gets 437."""
        # Lines are not the limit here: the join budget is.
        self.factory = IRCFactory(self.chat, "testbox", self.clock, limits=ConnectionLimits(flood_burst=100))
        alice = self.user("alice")
        for _ in range(10):
            self.assertEqual(alice.send("JOIN #kiwi")[0].command, "JOIN")
            alice.send("PART #kiwi")
        [refusal] = alice.send("JOIN #kiwi")
        self.assertEqual(refusal.command, "437")
        self.assertEqual(refusal.params[1:], ["#kiwi", "Too many joins; try again in 3 s."])


class LateHashingTests(DoorTestCase):
    def fresh_server(self) -> None:
        super().fresh_server()
        passwords, self.hashing = late_passwords()
        self.chat = ChatServer(self.clock, exit_code=TEST_EXIT_CODE, passwords=passwords, idle_timeout=240)
        self.factory = IRCFactory(self.chat, "testbox", self.clock)
        self.native_factory = NativeFactory(self.chat, "testbox")

    def test_join_of_a_session_closed_during_the_key_check_gets_403(self) -> None:
        """A JOIN whose session is closed while its key is checked gets 403, not only a notice."""
        admin = self.native()
        self.assertEqual(admin.send(type="create", name="vault", username="alice", password="12345"), [])
        self.hashing.finish()
        self.assertEqual(admin.frames()[0]["type"], "joined")
        bob = self.user("bob")
        self.assertEqual(bob.send("JOIN #vault 12345"), [])
        admin.send(type="command", name="close")
        self.hashing.finish()
        [refusal] = bob.received()
        self.assertEqual((refusal.command, refusal.params[:2]), ("403", ["bob", "#vault"]))


class KickTests(DoorTestCase):
    def test_admin_kicks_native_member(self) -> None:
        """KICK by the admin removes a native member; IRC members see KICK, the native user is told."""
        alice = self.member("alice", "#garden", "12345")
        dave = self.member("dave", "#garden", "12345")
        bob = self.native(session=10, username="bob", password="12345")
        alice.received()
        dave.received()
        [kick] = alice.send("KICK #garden bob :go away")
        self.assertEqual((kick.prefix, kick.command, kick.params), ("alice!alice@glozichat", "KICK", ["#garden", "bob", "go away"]))
        self.assertEqual(dave.received(), [kick])
        [left] = bob.frames()
        self.assertEqual((left["type"], left["reason"], left["by"], left["comment"]), ("left", "kicked", "alice", "go away"))
        self.assertEqual(left["message"], "You were kicked from garden by alice: go away")
        self.member("carol", "#garden", "12345")
        alice.received()
        [kick] = alice.send("KICK #garden carol")
        self.assertEqual(kick.params, ["#garden", "carol", "alice"])

    def test_native_admin_kicks_irc_member(self) -> None:
        """A native admin's /kick reaches the IRC member as a KICK of themselves."""
        bob = self.native()
        bob.send(type="create", name="garden", username="bob")
        alice = self.member("alice", "#garden")
        bob.frames()
        bob.send(type="command", name="kick", args="alice")
        [kick] = alice.received()
        self.assertEqual((kick.prefix, kick.params), ("bob!bob@glozichat", ["#garden", "alice", "bob"]))
        self.assertEqual(alice.send("JOIN #kiwi")[0].command, "JOIN")

    def test_kick_refusals(self) -> None:
        """482 when not the admin, 441 when the target is not there, 442 off the channel, 403 for no session."""
        alice = self.member("alice", "#garden")
        dave = self.member("dave", "#garden")
        alice.received()
        self.assertEqual(dave.one("KICK #garden alice").command, "482")
        self.assertEqual(alice.one("KICK #garden nobody").params[1:3], ["nobody", "#garden"])
        self.assertEqual(alice.one("KICK #kiwi dave").command, "442")
        self.assertEqual(alice.one("KICK #nope dave").command, "403")
        [notice] = alice.send("KICK #garden alice")
        self.assertEqual((notice.command, notice.params[1]), ("NOTICE", "You cannot kick yourself; use /quit to leave."))


class MessageTests(DoorTestCase):
    def test_native_and_irc_talk(self) -> None:
        """IRC text reaches the native member; native text reaches IRC members as PRIVMSG."""
        alice = self.member("alice", "#kiwi")
        bob = self.native(session=2, username="bob")
        alice.received()
        self.assertEqual(alice.send("PRIVMSG #kiwi :hello bob"), [])
        [message] = bob.frames()
        self.assertEqual((message["from"], message["text"]), ("alice", "hello bob"))
        bob.send(type="say", text="hi alice")
        [privmsg] = alice.received()
        self.assertEqual((privmsg.prefix, privmsg.command, privmsg.params), ("bob!bob@glozichat", "PRIVMSG", ["#kiwi", "hi alice"]))

    def test_broadcast_encoded_once(self) -> None:
        """Every IRC member gets the very same bytes, encoded once for the event."""
        members = [self.member(nick, "#kiwi") for nick in ("alice", "carol", "dave")]
        bob = self.native(session=2, username="bob")
        for member in members:
            member.transport.clear()
        calls = []
        original = wire._encode
        self.patch(wire, "_encode", lambda *args: calls.append(args) or original(*args))
        bob.send(type="say", text="one encoding")
        self.assertEqual(len(calls), 1)
        self.assertEqual(len({m.transport.value() for m in members}), 1)

    def test_long_native_message_is_split(self) -> None:
        """A 2000-character native message arrives as several PRIVMSG lines of at most 512 bytes."""
        alice = self.member("alice", "#kiwi")
        bob = self.native(session=2, username="bob")
        alice.received()
        text = " ".join(["w\u00f6rd"] * 400)[:2000]
        bob.send(type="say", text=text)
        data = alice.transport.value()
        lines = data.split(b"\r\n")[:-1]
        self.assertGreater(len(lines), 4)
        self.assertTrue(all(len(raw) + 2 <= wire.MAX_LINE_BYTES for raw in lines))
        received = [wire.parse_line(raw).params[1] for raw in lines]
        self.assertEqual(" ".join(received), text)

    def test_message_refusals(self) -> None:
        """411 and 412 for missing parts, 404 for a session you are not in, 401 for a nick; NOTICE errors are silent."""
        alice = self.member("alice", "#kiwi")
        self.member("dave", "#avocado")
        self.assertEqual(alice.one("PRIVMSG").command, "411")
        self.assertEqual(alice.one("PRIVMSG #kiwi").command, "412")
        self.assertEqual(alice.one("PRIVMSG #kiwi :\x02\x02").command, "412")
        self.assertEqual(alice.one("PRIVMSG #avocado :hi").command, "404")
        self.assertEqual(alice.one("PRIVMSG nobody :hi").command, "401")
        self.assertEqual(alice.send("NOTICE dave :hi", "NOTICE #avocado :hi", "NOTICE", "NOTICE GloziServ :help"), [])

    def test_notice_to_channel_is_said(self) -> None:
        """A NOTICE to your channel is said like a PRIVMSG."""
        self.member("alice", "#kiwi").send("NOTICE #kiwi :psst")
        bob = self.native(session=2, username="bob")
        self.member("carol", "#kiwi").send("NOTICE #kiwi :psst")
        self.assertEqual(bob.frames()[-1]["text"], "psst")

    def test_notice_to_channel_reaches_members_as_a_notice(self) -> None:
        """IRC members see a channel NOTICE as a NOTICE, native ones a message marked "notice": true."""
        alice = self.member("alice", "#kiwi")
        carol = self.member("carol", "#kiwi")
        bob = self.native(session=2, username="bob")
        alice.received()
        alice.send("NOTICE #kiwi :psst")
        self.assertEqual(carol.received()[-1], wire.ParsedLine("alice!alice@glozichat", "NOTICE", ["#kiwi", "psst"]))
        self.assertIs(bob.frames()[-1]["notice"], True)
        alice.send("PRIVMSG #kiwi :aloud")
        self.assertEqual(carol.received()[-1].command, "PRIVMSG")
        self.assertNotIn("notice", bob.frames()[-1])

    def test_native_notices_reach_irc_as_notices(self) -> None:
        """A native say or private with "notice": true reaches IRC users as a NOTICE (to #kiwi, to the nick), and the
        private one's ack never carries the recipient's away message."""
        alice = self.member("alice", "#kiwi")
        bob = self.native(session=2, username="bob")
        alice.send("AWAY :out")
        alice.received()
        bob.send(type="say", text="psst", notice=True)
        self.assertEqual(alice.received()[-1], wire.ParsedLine("bob!bob@glozichat", "NOTICE", ["#kiwi", "psst"]))
        [ack] = bob.send(type="private", to="alice", text="ping", notice=True)
        self.assertNotIn("away", ack)
        self.assertEqual(alice.received()[-1], wire.ParsedLine("bob!bob@glozichat", "NOTICE", ["alice", "ping"]))
        [ack] = bob.send(type="private", to="alice", text="hello")
        self.assertEqual(ack["away"], "out")

    def test_formatting_is_removed(self) -> None:
        """IRC colours and bold are removed from what native members read."""
        alice = self.member("alice", "#kiwi")
        bob = self.native(session=2, username="bob")
        alice.send("PRIVMSG #kiwi :\x02bold\x02 \x0304,01red\x03 plain")
        self.assertEqual(bob.frames()[-1]["text"], "bold red plain")


class EventTests(DoorTestCase):
    def test_native_join_leave_and_disconnect(self) -> None:
        """Native joins, /quit and disconnects reach IRC as JOIN, PART and QUIT."""
        alice = self.member("alice", "#kiwi")
        bob = self.native(session=2, username="bob")
        self.assertEqual([(p.prefix, p.command) for p in alice.received()], [("bob!bob@glozichat", "JOIN")])
        bob.send(type="command", name="quit")
        self.assertEqual([(p.command, p.params) for p in alice.received()], [("PART", ["#kiwi"])])
        bob.send(type="join", session=2, username="bob")
        alice.received()
        bob.protocol.connectionLost(None)
        [quit_line] = alice.received()
        self.assertEqual((quit_line.prefix, quit_line.command), ("bob!bob@glozichat", "QUIT"))

    def test_admin_change_is_mode_plus_o(self) -> None:
        """When the admin leaves, the heir is shown as MODE +o by the server."""
        bob = self.native()
        bob.send(type="create", name="garden", username="bob")
        alice = self.member("alice", "#garden")
        bob.send(type="command", name="quit")
        lines = alice.received()
        self.assertEqual([(p.prefix, p.command, p.params) for p in lines][-1], (SERVER, "MODE", ["#garden", "+o", "alice"]))

    def test_close_is_a_notice_and_a_kick(self) -> None:
        """/close by the admin reaches each IRC member as a notice and a KICK out of the channel."""
        bob = self.native()
        bob.send(type="create", name="garden", username="bob")
        alice = self.member("alice", "#garden")
        dave = self.member("dave", "#garden")
        alice.received()
        bob.send(type="command", name="close")
        for member, nick in ((alice, "alice"), (dave, "dave")):
            notice, kick = member.received()
            self.assertEqual((notice.command, notice.params), ("NOTICE", ["#garden", "bob closed the session garden."]))
            self.assertEqual((kick.command, kick.params), ("KICK", ["#garden", nick, "Session closed"]))
        self.assertEqual(alice.send("JOIN #kiwi")[0].command, "JOIN")

    def test_irc_user_times_out_like_a_native_one(self) -> None:
        """An IRC member is warned at half the idle timeout and removed at the end; others see it."""
        bob = self.native()
        bob.send(type="create", name="kiwis", username="bob")
        alice = self.member("alice", "#kiwis")
        bob.frames()
        self.clock.advance(120)
        [warning] = [p for p in alice.received() if p.command == "NOTICE"]
        self.assertEqual(
            (warning.prefix, warning.params),
            (SERVER, ["#kiwis", "You will be removed for inactivity in 120 s unless you say something."]),
        )
        alice.send(f"PONG {SERVER}")
        self.clock.advance(60)
        alice.send("PRIVMSG #kiwis :still here")
        self.clock.advance(239)
        self.assertEqual(bob.frames()[-1]["type"], "message")
        alice.received()
        self.clock.advance(1)
        [kick] = [p for p in alice.received() if p.command == "KICK"]
        self.assertEqual((kick.prefix, kick.params), (SERVER, ["#kiwis", "alice", "Removed for inactivity"]))
        self.assertEqual(bob.frames()[-1]["reason"], "timeout")

    def test_refused_messages_to_the_session_count_as_activity(self) -> None:
        """An empty PRIVMSG or a CTCP to your own channel resets the idle timer, as a malformed native say does."""
        alice = self.member("alice", "#kiwi")
        for line in ("PRIVMSG #kiwi :", "PRIVMSG #kiwi :\x01ACTION waves\x01", "NOTICE #kiwi : "):
            self.clock.advance(200)
            self.assertNotIn("KICK", [p.command for p in alice.send(line)])
        self.clock.advance(239)
        self.assertNotIn("KICK", [p.command for p in alice.received()])
        self.clock.advance(1)
        self.assertIn("KICK", [p.command for p in alice.received()])

    def test_pings_do_not_count_as_activity(self) -> None:
        """PING/PONG keep the connection but not the session: only talking resets the idle timer."""
        alice = self.member("alice", "#kiwi")
        seen = []
        for _ in range(8):
            self.clock.advance(30)
            seen += alice.send("PING x")
        self.assertIn("KICK", [p.command for p in seen])

    def test_server_shutdown(self) -> None:
        """Server shutdown sends ERROR with the reason and closes every IRC connection."""
        alice = self.member("alice", "#kiwi")
        lobby = self.user("carol")
        self.chat.shutdown("The server is shutting down.")
        for client in (alice, lobby):
            self.assertEqual(client.received()[-1].params, ["Closing Link: The server is shutting down."])
            self.assertTrue(client.closed)

    def test_quit(self) -> None:
        """QUIT is answered with ERROR and the connection closes."""
        alice = self.user("alice")
        [error] = alice.send("QUIT :bye now")
        self.assertEqual(error.params, ["Closing Link: alice (Quit: bye now)"])
        self.assertTrue(alice.closed)


class ServiceTests(DoorTestCase):
    def notices(self, client: IRCClient, line: str) -> list[str]:
        lines = client.send(line)
        self.assertTrue(all(p.command == "NOTICE" and p.prefix.startswith("GloziServ!") for p in lines), lines)
        return [p.params[1] for p in lines]

    def test_upload_gives_the_curl_line(self) -> None:
        """/msg GloziServ upload #avocado a.jpg 2146304 image/jpeg: two notices, the second the curl command
        line with the token and the web door's URL; refusals say their code; files gives the download token."""
        self.chat.files = FileSharing(self.chat, self.clock)
        self.factory.web = lambda: "http://192.168.1.10:8080"
        alice = self.user("alice")
        alice.send("JOIN #avocado")
        first, second = self.notices(alice, "PRIVMSG GloziServ :upload #avocado a.jpg 2146304 image/jpeg")
        self.assertEqual(first, "Upload a.jpg to #avocado within 300 seconds with:")
        token = self.chat.files._open[self.chat.user_named("alice")][0].token
        self.assertEqual(second, f"curl -T a.jpg -H 'Authorization: Bearer {token}' http://192.168.1.10:8080/upload")
        self.assertEqual(
            self.notices(alice, "PRIVMSG GloziServ :upload #kiwi a.jpg 10"),
            ["Upload refused (not_in_session): You are not in #kiwi."],
        )
        self.assertEqual(
            self.notices(alice, "PRIVMSG GloziServ :upload #avocado a.jpg 26214401"),
            ["Upload refused (file_too_large): The file is 26,214,401 bytes; this server takes files up to 26,214,400 bytes."],
        )
        self.assertEqual(
            self.notices(alice, "PRIVMSG GloziServ :upload #avocado a.jpg lots"),
            ["Usage: upload #channel|nick NAME SIZE [MEDIA_TYPE]"],
        )
        [told] = self.notices(alice, "PRIVMSG GloziServ :files")
        token = self.chat.files.download_token(self.chat.user_named("alice"))
        self.assertEqual(
            told, f"Your download token is {token} (valid while you stay connected): add ?token={token} to a file's link."
        )

    def test_upload_without_a_web_door(self) -> None:
        """No web door: the upload is refused with files_unavailable."""
        self.chat.files = FileSharing(self.chat, self.clock)
        alice = self.user("alice")
        self.assertEqual(
            self.notices(alice, "PRIVMSG GloziServ :upload bob a.jpg 10"),
            ["Upload refused (files_unavailable): This server shares no files."],
        )

    def test_help_from_the_table(self) -> None:
        """/msg GloziServ help lists every command of the table, and exit."""
        text = "\n".join(self.notices(self.user("alice"), "PRIVMSG GloziServ :help"))
        for command in COMMANDS.values():
            self.assertIn(command.usage.removeprefix("/") + " - " + command.help, text)
        self.assertIn("exit CODE", text)

    def test_commands_through_the_service(self) -> None:
        """quote, time, echo, kick and close run through the domain's command table."""
        alice = self.member("alice", "#garden")
        dave = self.member("dave", "#garden")
        alice.received()
        [quote] = self.notices(alice, "PRIVMSG GloziServ :quote")
        self.assertIn(" - ", quote)
        self.assertTrue(self.notices(alice, "PRIVMSG GloziServ :time")[0].startswith("Server time: "))
        self.assertEqual(self.notices(alice, "PRIVMSG gloziserv :/echo  two  words"), ["two  words"])
        self.assertEqual(self.notices(dave, "PRIVMSG GloziServ :close"), ["/close is for the session's admin only."])
        self.assertEqual(self.notices(alice, "PRIVMSG GloziServ :frob"), ["Unknown command /frob. Type /help to see the commands."])
        kick = alice.send("PRIVMSG GloziServ :kick dave")
        self.assertEqual([p.command for p in kick], ["KICK", "NOTICE"])
        dave.send("JOIN #garden")
        alice.received()
        lines = alice.send("PRIVMSG GloziServ :close")
        self.assertEqual([p.command for p in lines], ["NOTICE", "KICK", "NOTICE"])
        self.assertEqual(lines[-1].params[1], "You closed garden.")
        self.assertEqual([p.command for p in dave.received()], ["NOTICE", "KICK"])

    def test_commands_need_a_session(self) -> None:
        """Outside a session the session commands are refused with the domain's message."""
        self.assertEqual(
            self.notices(self.user("alice"), "PRIVMSG GloziServ :quote"),
            ["You are not in a session; join or create one first."],
        )

    def test_time(self) -> None:
        """TIME answers 391 with the server time, in or out of a session."""
        alice = self.user("alice")
        for _ in range(2):
            answer = alice.one("TIME")
            self.assertEqual((answer.command, answer.params[1]), ("391", SERVER))
            self.assertTrue(answer.params[2].startswith("Server time: "))
            alice.send("JOIN #kiwi")

    def test_motd(self) -> None:
        """MOTD repeats the message of the day."""
        self.assertEqual(self.user("alice").commands("MOTD"), ["375", "372", "372", "372", "372", "376"])

    def test_exit_code_rules(self) -> None:
        """exit needs 10 digits and the session list; three wrong codes disconnect."""
        alice = self.member("alice", "#kiwi")
        wrong = "0000000000"
        for bad in ("12345", "123456789", "12345678901"):
            self.assertEqual(
                self.notices(alice, f"PRIVMSG GloziServ :exit {bad}"),
                ["Usage: exit CODE, where CODE is the server's exit code (exactly 10 digits)."],
            )
        self.assertEqual(self.notices(alice, f"PRIVMSG GloziServ :exit {wrong}"), ["You are in session kiwi; /quit it first."])
        alice.send("PART #kiwi")
        self.assertIn("(2 attempts left)", self.notices(alice, f"PRIVMSG GloziServ :exit {wrong}")[0])
        self.assertIn("(1 attempt left)", self.notices(alice, f"PRIVMSG GloziServ :exit {wrong}")[0])
        lines = alice.send(f"PRIVMSG GloziServ :exit {wrong}")
        self.assertEqual([p.command for p in lines], ["NOTICE", "ERROR"])
        self.assertTrue(alice.closed)
        self.assertEqual(self.exits, [])

    def test_exit_code_stops_the_server(self) -> None:
        """The right code tells everyone, IRC and native, and stops the server."""
        alice = self.user("alice")
        bob = self.native(session=2, username="bob")
        [error] = alice.send(f"PRIVMSG GloziServ :exit {TEST_EXIT_CODE}")
        self.assertEqual(error.params, ["Closing Link: The server was closed with its exit code."])
        self.assertEqual(bob.frames()[-1]["type"], "server_closing")
        self.assertEqual(self.exits, [True])


class PeopleTests(DoorTestCase):
    """Several channels, private messages across doors, WHOIS and AWAY."""

    def test_messages_to_each_channel_and_part_of_one(self) -> None:
        """In two channels each PRIVMSG goes to its own; PART leaves one and the other stays."""
        alice = self.member("alice", "#kiwi")
        alice.send("JOIN #papaya")
        bob = self.member("bob", "#kiwi")
        bob.send("JOIN #papaya")
        alice.received()
        bob.send("PRIVMSG #kiwi :in kiwi", "PRIVMSG #papaya :in papaya")
        self.assertEqual(
            [(p.command, p.params) for p in alice.received()],
            [("PRIVMSG", ["#kiwi", "in kiwi"]), ("PRIVMSG", ["#papaya", "in papaya"])],
        )
        self.assertEqual([(p.command, p.params) for p in bob.send("PART #kiwi")], [("PART", ["#kiwi"])])
        self.assertEqual(bob.one("PRIVMSG #kiwi :gone").command, "404")
        bob.send("PRIVMSG #papaya :still here")
        self.assertEqual(alice.received()[-1].params, ["#papaya", "still here"])

    def test_private_messages_across_doors(self) -> None:
        """PRIVMSG to a native nick arrives as private_message; a native private arrives as PRIVMSG; NOTICE too."""
        irc = self.user("ircbob")
        native = self.native(session=1, username="alice")
        self.assertEqual(irc.send("PRIVMSG ALICE :hello native"), [])
        [frame] = native.frames()
        self.assertEqual((frame["type"], frame["from"], frame["text"], frame["notice"]), ("private_message", "ircbob", "hello native", False))
        irc.send("NOTICE alice :a notice")
        self.assertTrue(native.frames()[0]["notice"])
        [ack] = native.send(type="private", to="ircbob", text="hello irc")
        self.assertEqual(ack["type"], "ack")
        [line] = irc.received()
        self.assertEqual((line.prefix, line.command, line.params), ("alice!alice@glozichat", "PRIVMSG", ["ircbob", "hello irc"]))
        refused = irc.one("PRIVMSG nobody :hi")
        self.assertEqual((refused.command, refused.params[1]), ("401", "nobody"))

    def test_away_and_whois(self) -> None:
        """AWAY gives 306 and 305; a PRIVMSG to an away user gets 301; WHOIS answers 311 319 312 301 317 318, 401 for nobody."""
        alice = self.member("alice", "#kiwi")
        alice.send("JOIN #garden")
        bob = self.user("bob")
        self.assertEqual(alice.one("AWAY :at lunch").command, "306")
        away = bob.one("PRIVMSG alice :hi")
        self.assertEqual((away.command, away.params[1:]), ("301", ["alice", "at lunch"]))
        self.clock.advance(42)
        lines = bob.send("WHOIS alice")
        self.assertEqual([p.command for p in lines], ["311", "319", "312", "301", "317", "318"])
        self.assertEqual(lines[0].params[1:], ["alice", "~alice", "glozichat", "*", "alice tester"])
        self.assertEqual(lines[1].params[2], "#kiwi @#garden")
        self.assertEqual(lines[4].params[2], "42")
        self.assertEqual(alice.send("AWAY")[-1].command, "305")
        self.assertEqual(bob.send("PRIVMSG alice :back?"), [])
        self.assertNotIn("301", [p.command for p in bob.send("WHOIS alice")])
        self.assertEqual([p.command for p in bob.send("WHOIS nobody")], ["401", "318"])

    def test_away_across_doors(self) -> None:
        """An IRC user's AWAY reaches a native member as member_away; a native user's away
        sends an IRC member no line (IRC users ask: 301, WHO's G)."""
        alice = self.member("alice", "#kiwi")
        carol = self.native(session=2, username="carol")
        alice.received()
        alice.send("AWAY :at lunch")
        self.assertEqual(carol.frames(), [{"type": "member_away", "session": 2, "name": "alice", "away": "at lunch"}])
        carol.send(type="away", message="in a meeting")
        self.assertEqual(alice.received(), [])
        flags = {line.params[5]: line.params[6] for line in alice.send("WHO #kiwi") if line.command == "352"}
        self.assertEqual(flags, {"alice": "G", "carol": "G"})
        alice.send("AWAY")
        self.assertEqual([f["away"] for f in carol.frames()], [None])

    def test_native_user_in_whois(self) -> None:
        """WHOIS shows a native user like an IRC one, with their sessions as channels."""
        native = self.native(session=2, username="carol")
        native.send(type="away", message="in a meeting")
        lines = self.user("bob").send("WHOIS carol")
        self.assertEqual([p.command for p in lines], ["311", "319", "312", "301", "317", "318"])
        self.assertEqual(lines[1].params[2], "#kiwi")

    def test_nick_reserved_for_the_service(self) -> None:
        """GloziServ and gloziserv are refused with 433, also as a later NICK."""
        alice = self.user("alice")
        for nick in ("GloziServ", "gloziserv"):
            self.assertEqual(alice.one(f"NICK {nick}").command, "433")


class WireTests(SynchronousTestCase):
    def test_line_shapes(self) -> None:
        """Only the last parameter is trailing, and only when it must be; control characters never end a line."""
        self.assertEqual(wire.line("s", "JOIN", "#kiwi"), b":s JOIN #kiwi\r\n")
        self.assertEqual(wire.line(None, "PRIVMSG", "#kiwi", "two words"), b"PRIVMSG #kiwi :two words\r\n")
        self.assertEqual(wire.line(None, "CAP", "*", "LS", ""), b"CAP * LS :\r\n")
        self.assertEqual(wire.line(None, "NOTICE", "x", "a\r\nQUIT"), b"NOTICE x :a  QUIT\r\n")

    def test_split_text(self) -> None:
        """Text splits at spaces and newlines within a byte budget, never inside a character."""
        self.assertEqual(wire.split_text("aa bb cc", 5), ["aa bb", "cc"])
        self.assertEqual(wire.split_text("one\n\ntwo", 50), ["one", "two"])
        self.assertEqual(wire.split_text("\u00e9\u00e9\u00e9", 3), ["\u00e9", "\u00e9", "\u00e9"])

    @given(st.text(max_size=2000), st.integers(min_value=4, max_value=500))
    def test_split_text_keeps_budget(self, text: str, budget: int) -> None:
        """Every piece fits the budget."""
        for piece in wire.split_text(text, budget):
            self.assertLessEqual(len(piece.encode()), budget)

    def test_parse_line_reads_a_line_or_ignores_it(self) -> None:
        """A command is upper-cased with its parameters; blank and malformed lines are None; bad UTF-8 is U+FFFD."""
        self.assertEqual(wire.parse_line(b":p privmsg #kiwi :hi there\r\n")[:3], ("p", "PRIVMSG", ["#kiwi", "hi there"]))
        for ignored in (b"", b"   ", b"\r\n", b":prefix", b":prefix ", b" :", b":p  :"):
            self.assertIsNone(wire.parse_line(ignored), ignored)
        self.assertEqual(wire.parse_line(b"PRIVMSG #kiwi :\xffok").params, ["#kiwi", "\ufffdok"])
        tagged = wire.parse_line(b"@+typing=active;label=a\\sb TAGMSG #kiwi")
        self.assertEqual((tagged.command, dict(tagged.tags)), ("TAGMSG", {"+typing": "active", "label": "a b"}))
        self.assertEqual(dict(wire.parse_line(b"PING x").tags), {})

    def test_is_utf8(self) -> None:
        """ASCII and UTF-8 lines are UTF-8; a stray byte is not."""
        self.assertTrue(wire.is_utf8(b"PRIVMSG #kiwi :hi"))
        self.assertTrue(wire.is_utf8("PRIVMSG #kiwi :\u00e9t\u00e9".encode()))
        self.assertFalse(wire.is_utf8(b"PRIVMSG #kiwi :\xe9t\xe9"))

    def test_middle_parameters_never_break_the_line(self) -> None:
        """A middle parameter with spaces or controls gets underscores, an empty one is *, a leading colon _;
        a last one starting with a colon is made trailing."""
        self.assertEqual(wire.line(None, "X", "a b", "c"), b"X a_b c\r\n")
        self.assertEqual(wire.line(None, "X", "a\rb", "c"), b"X a_b c\r\n")
        self.assertEqual(wire.line(None, "X", "", "c"), b"X * c\r\n")
        self.assertEqual(wire.line(None, "X", ":ab", "c"), b"X _ab c\r\n")
        self.assertEqual(wire.line(None, "X", "a", ":c"), b"X a ::c\r\n")
        self.assertEqual(wire.line("s", "X"), b":s X\r\n")

    def test_formatting_and_controls_are_removed_from_text(self) -> None:
        """Bold, colours (with their numbers), hex colours, italics, reverse, reset, monospace, strike, underline
        and other controls go; a tab stays."""
        self.assertEqual(wire.clean_text("\x02b\x02 \x0304,12red\x03 \x033x \x04ff00aa,00ff00hex\x04"), "b red x hex")
        self.assertEqual(wire.clean_text("\x1di\x16r\x0fn\x11m\x1es\x1fu"), "irnmsu")
        self.assertEqual(wire.clean_text("a\x01b\x7fc\td\ne"), "abc\tde")
        self.assertEqual(wire.clean_text("\x03123"), "3")

    def test_user_fields_keep_nick_characters_and_cut_at_userlen_10(self) -> None:
        """The user name keeps nick characters, digits and dots, at most 10; else 'user'. The real name is one line
        of at most 100 characters, formatting removed; else the user name."""
        self.assertEqual(wire.user_fields("a.b_c-d[e]f", "Real Name"), ("a.b_c-d[e]", "Real Name"))
        self.assertEqual(wire.user_fields("r\u00e9!x@y", "\x02Bob\x02 "), ("rxy", "Bob"))
        self.assertEqual(wire.user_fields("!!!", "   "), ("user", "user"))
        self.assertEqual(wire.user_fields("bob", "r" * 101)[1], "r" * 100)

    def test_echo_cuts_a_token_at_64_characters(self) -> None:
        """A client's token in an error is at most 64 characters; an empty one is *."""
        self.assertEqual(wire.echo("n" * 65), "n" * 64)
        self.assertEqual(wire.echo(""), "*")

    def test_channels_and_sessions(self) -> None:
        """kiwi is #kiwi; only a # channel names a session."""
        self.assertEqual(wire.channel_of("kiwi"), "#kiwi")
        self.assertEqual((wire.session_of("#kiwi"), wire.session_of("kiwi"), wire.session_of("&kiwi")), ("kiwi", None, None))

    def test_split_text_edges(self) -> None:
        """A piece fills its budget exactly; a cut just before a space keeps the whole word; a word too long is cut."""
        self.assertEqual(wire.split_text("aaaa bbbb", 4), ["aaaa", "bbbb"])
        self.assertEqual(wire.split_text("ab cdef", 4), ["ab", "cdef"])
        self.assertEqual(wire.split_text("abcdefg", 3), ["abc", "def", "g"])
        self.assertEqual(wire.split_text(" abcd", 3), [" ab", "cd"])
        self.assertEqual(wire.split_text("   ", 3), [])

    def test_a_message_line_of_512_bytes_is_sent_whole_513_split(self) -> None:
        """A line of 512 bytes (CR LF included) is one line; a longer text is split in lines of at most 512."""
        prefix = wire.user_prefix("alice")
        overhead = len(f":{prefix} PRIVMSG #kiwi :\r\n")
        text = "w " * ((512 - overhead) // 2)
        text += "w" * (512 - overhead - len(text))
        one = wire.text_lines(prefix, "PRIVMSG", "#kiwi", text)
        self.assertEqual((len(one), one.count(b"\r\n")), (512, 1))
        two = wire.text_lines(prefix, "PRIVMSG", "#kiwi", text + "w")
        self.assertEqual(two.count(b"\r\n"), 2)
        self.assertTrue(all(len(part) + 2 <= 512 for part in two.split(b"\r\n")[:-1]))
        # One word needs no colon before it: the line is a byte shorter, so one more character fits.
        word = "w" * (512 - overhead + 1)
        self.assertEqual(wire.text_lines(prefix, "PRIVMSG", "#kiwi", word), f":{prefix} PRIVMSG #kiwi {word}\r\n".encode())

    def test_action_and_ctcp_lines_fit_512_bytes(self) -> None:
        """A long /me is several CTCP ACTION lines of at most 512 bytes; a CTCP body is cut to fit one."""
        prefix = wire.user_prefix("alice")
        actions = wire.action_lines(prefix, "PRIVMSG", "#kiwi", "wave " * 200).split(b"\r\n")[:-1]
        self.assertGreater(len(actions), 1)
        for action in actions:
            self.assertTrue(action.startswith(b":alice!alice@glozichat PRIVMSG #kiwi :\x01ACTION "), action)
            self.assertTrue(action.endswith(b"\x01") and len(action) + 2 <= 512, action)
        ctcp = wire.ctcp_line(prefix, "NOTICE", "bob", "V" * 600)
        self.assertEqual((ctcp.count(b"\r\n"), len(ctcp)), (1, 512))
        self.assertTrue(ctcp.startswith(b":alice!alice@glozichat NOTICE bob :\x01VVV"))
        self.assertEqual(wire.ctcp_line(prefix, "PRIVMSG", "bob", ""), b":alice!alice@glozichat PRIVMSG bob :\x01\x01\r\n")

    def test_a_long_comment_is_cut_to_one_line(self) -> None:
        """A PART reason too long for one line is cut so that the line is at most 512 bytes; none, no trailing."""
        prefix = wire.user_prefix("bob")
        part = wire.line_with_comment(prefix, "PART", "#kiwi", comment="see " * 300)
        self.assertEqual(part.count(b"\r\n"), 1)
        self.assertLessEqual(len(part), 512)
        self.assertGreater(len(part), 500)
        self.assertEqual(wire.line_with_comment(prefix, "PART", "#kiwi", comment=None), b":bob!bob@glozichat PART #kiwi\r\n")

    def test_relayed_bytes_count_the_whole_line(self) -> None:
        """How long a relayed message is: the line with its CR LF, a /me with its CTCP wrapping."""
        prefix = wire.user_prefix("al")
        self.assertEqual(wire.relayed_bytes(prefix, "PRIVMSG", "#k", "hi you"), len(b":al!al@glozichat PRIVMSG #k :hi you\r\n"))
        self.assertEqual(
            wire.relayed_bytes(prefix, "PRIVMSG", "#k", "waves", action=True),
            len(b":al!al@glozichat PRIVMSG #k :\x01ACTION waves\x01\r\n"),
        )

    def test_times_as_people_read_them(self) -> None:
        """LIST's and WHOWAS's times to the minute, history's to the second, both UTC."""
        self.assertEqual(wire.utc_text(1764123572.9), "2025-11-26 02:19 UTC")
        self.assertEqual(wire.history_time(1764123572.9), "2025-11-26 02:19:32")
        self.assertEqual(wire.killed_text("root", "spam"), "Killed (root (spam))")

    def test_server_closing_is_an_error_line(self) -> None:
        """Shutting down: ``ERROR :Closing Link: <reason>``."""
        event = ServerClosing(reason="The server is shutting down.")
        self.assertEqual(wire.encode_event(event, "#kiwi", SERVER), b"ERROR :Closing Link: The server is shutting down.\r\n")

    def test_a_topic_carries_the_time_it_was_set(self) -> None:
        """With server-time, a TOPIC line's time is when the topic was set, not when it is sent."""
        event = TopicChanged(session_id=1, topic="roses", by="alice", at=1764558245.5)
        data = wire.encode_variant(event, "#kiwi", SERVER, Cap.SERVER_TIME, now=1764558300.0)
        self.assertEqual(data, b"@time=2025-12-01T03:04:05.500Z :alice!alice@glozichat TOPIC #kiwi roses\r\n")

    def test_server_time_before_1970(self) -> None:
        """A time before the epoch reads as datetime reads it (the fraction counted forward from the second before)."""
        self.assertEqual(wire.server_time(-0.25), "1969-12-31T23:59:59.750Z")

    def test_server_name(self) -> None:
        """The configured name becomes a host-like IRC server name with a dot."""
        self.assertEqual(wire.server_name("lanbox"), "lanbox.glozichat")
        self.assertEqual(wire.server_name("box.lan"), "box.lan")
        self.assertEqual(wire.server_name("My Box!"), "My-Box.glozichat")


class ChannelModeTests(DoorTestCase):
    """Session rules as channel modes, seen by IRC and native members alike."""

    def garden(self) -> tuple[IRCClient, IRCClient, NativeClient]:
        """carol (IRC) created #garden and is its admin; alice (IRC) and bob (native) are members."""
        carol = self.member("carol", "#garden")
        alice = self.member("alice", "#garden")
        bob = self.native(session=10, username="bob")
        carol.received()
        alice.received()
        return carol, alice, bob

    def test_key_set_changed_and_removed(self) -> None:
        """MODE +k 12345 locks the session (members see the key, the list only locked), -k unlocks;
        a key that is not 5 digits gets 696 and changes nothing."""
        carol, alice, bob = self.garden()
        [line] = carol.send("MODE #garden +k 12345")
        self.assertEqual((line.prefix, line.params), ("carol!carol@glozichat", ["#garden", "+k", "12345"]))
        self.assertEqual(alice.received(), [line])
        [changed] = bob.frames()
        self.assertEqual(changed, {"type": "mode_changed", "session": 10, "by": "carol", "mode": "+k", "parameter": "12345"})
        self.assertEqual(alice.send("MODE #garden")[0].params[1:], ["#garden", "+ntk", "12345"])
        self.assertEqual(self.user("dave").one("JOIN #garden").command, "475")
        self.assertTrue(self.native().send(type="list")[0]["sessions"][-1]["locked"])
        self.assertEqual(carol.one("MODE #garden +k 1234").params[1:4], ["#garden", "k", "*"])
        self.assertEqual(carol.one("MODE #garden +k 1234").command, "696")
        [line] = carol.send("MODE #garden -k")
        self.assertEqual(line.params, ["#garden", "-k"])
        self.assertEqual(self.user("erin").send("JOIN #garden")[0].command, "JOIN")

    def test_key_hashed_later_is_stored(self) -> None:
        """A new key answers once its hash is computed (off the reactor); the store then keeps the new hash."""
        passwords, runner = late_passwords()
        self.chat.passwords = passwords
        carol, _alice, _bob = self.garden()
        self.assertEqual(carol.send("MODE #garden +k 54321"), [])
        self.assertEqual(carol.send("MODE #garden +k 11111")[0].command, "NOTICE")
        runner.finish()
        self.assertEqual(carol.received()[0].params, ["#garden", "+k", "54321"])
        stored = self.chat.store.sessions[10].password_hash
        self.assertTrue(stored.startswith("scrypt$"))
        self.assertNotIn("54321", stored)
        dave = self.user("dave")
        dave.send("JOIN #garden 54321")
        runner.finish()
        self.assertEqual(dave.received()[0].command, "JOIN")

    def test_limit(self) -> None:
        """+l 3 with three members: the fourth gets 471 (native: session_full); -l lifts it; +l 0 gets 696."""
        carol, alice, _bob = self.garden()
        [line] = carol.send("MODE #garden +l 3")
        self.assertEqual(line.params, ["#garden", "+l", "3"])
        alice.received()
        self.assertEqual(alice.send("MODE #garden")[0].params[1:], ["#garden", "+ntl", "3"])
        self.assertEqual(self.user("dave").one("JOIN #garden").command, "471")
        self.assertEqual(self.native().send(type="join", session=10, username="erin")[0]["code"], "session_full")
        self.assertEqual(carol.one("MODE #garden +l 0").command, "696")
        self.assertEqual(carol.one("MODE #garden +l 10000").command, "696")
        carol.send("MODE #garden -l")
        self.assertEqual(self.user("fred").send("JOIN #garden")[0].command, "JOIN")

    def test_invite_only_and_invite(self) -> None:
        """+i: uninvited joins get 473; INVITE gives 341 and the invitee an INVITE (native: invited),
        good for one join; 443 already there, 401 nobody, 482 not admin, 442 not on it."""
        carol, alice, _bob = self.garden()
        carol.send("MODE #garden +i")
        dave = self.user("dave")
        self.assertEqual(dave.one("JOIN #garden").command, "473")
        erin = self.native()
        self.assertEqual(erin.send(type="join", session=10, username="erin")[0]["code"], "invite_only")
        [inviting] = carol.send("INVITE dave #garden")
        self.assertEqual((inviting.command, inviting.params[1:]), ("341", ["dave", "#garden"]))
        [invite] = dave.received()
        self.assertEqual((invite.prefix, invite.command, invite.params), ("carol!carol@glozichat", "INVITE", ["dave", "#garden"]))
        carol.send("INVITE erin #garden")
        self.assertEqual(erin.frames(), [{"type": "invited", "session": 10, "name": "garden", "by": "carol"}])
        self.assertEqual(dave.send("JOIN #garden")[0].command, "JOIN")
        self.assertEqual(erin.send(type="join", session=10, username="erin")[0]["type"], "joined")
        dave.send("PART #garden")
        carol.received()
        self.assertEqual(dave.one("JOIN #garden").command, "473")
        self.assertEqual(carol.one("INVITE alice #garden").command, "443")
        self.assertEqual(carol.one("INVITE nobody #garden").command, "401")
        alice.received()
        self.assertEqual(alice.one("INVITE dave #garden").command, "482")
        self.assertEqual(carol.one("INVITE dave #kiwi").command, "442")

    def test_bans(self) -> None:
        """+b masks: 367/368 list them, a banned nick gets 474 (native: banned) but is not kicked;
        MODE +b then KICK is kick-and-ban; -b lifts it; a ban list holds 50 (478)."""
        carol, alice, bob = self.garden()
        self.assertEqual(carol.one("MODE #garden +b").command, "368")
        [line] = carol.send("MODE #garden +b dav?")
        self.assertEqual(line.params, ["#garden", "+b", "dav?!*@*"])
        self.assertEqual(bob.frames()[0]["parameter"], "dav?!*@*")
        alice.received()
        ban, end = alice.send("MODE #garden b")
        self.assertEqual((ban.command, ban.params[1:], end.command), ("367", ["#garden", "dav?!*@*"], "368"))
        self.assertEqual(self.user("Dave").one("JOIN #garden").command, "474")
        carol.send("MODE #garden +b alice!*@glozichat")
        self.assertEqual(len(self.chat.sessions[10].members), 3)
        alice.received()
        carol.send("KICK #garden alice :banned")
        alice.received()
        self.assertEqual(alice.one("JOIN #garden").command, "474")
        carol.send("MODE #garden -b alice!*@glozichat")
        self.assertEqual(alice.send("JOIN #garden")[0].command, "JOIN")
        masks = " ".join(f"m{i}" for i in range(49))
        carol.received()
        carol.send(f"MODE #garden +{'b' * 49} {masks}")
        self.assertEqual(carol.one("MODE #garden +b late").command, "478")

    def test_native_ban_kicks(self) -> None:
        """The native /ban NAME bans NAME!*@* and kicks them; they cannot come back."""
        bob = self.native()
        bob.send(type="create", name="garden", username="bob")
        alice = self.member("alice", "#garden")
        bob.frames()
        [reply] = [f for f in bob.send(type="command", name="ban", args="alice spam") if f["type"] == "reply"]
        self.assertEqual(reply["text"], "You banned alice!*@* and kicked them.")
        ban, kick = alice.received()
        self.assertEqual((ban.params, kick.params), (["#garden", "+b", "alice!*@*"], ["#garden", "alice", "spam"]))
        self.assertEqual(alice.one("JOIN #garden").command, "474")

    def test_moderated_and_voice(self) -> None:
        """+m: only the admin and voiced members talk (404; native: moderated); +v shows + in NAMES."""
        carol, alice, bob = self.garden()
        carol.send("MODE #garden +m")
        alice.received()
        bob.frames()
        self.assertEqual(alice.one("PRIVMSG #garden :hi").command, "404")
        self.assertEqual(bob.send(type="say", text="hi")[0]["code"], "moderated")
        carol.send("PRIVMSG #garden :admins talk")
        self.assertEqual(alice.received()[0].params, ["#garden", "admins talk"])
        [line] = carol.send("MODE #garden +v alice")
        self.assertEqual(line.params, ["#garden", "+v", "alice"])
        alice.received()
        alice.send("PRIVMSG #garden :voiced")
        self.assertEqual(carol.received()[0].params, ["#garden", "voiced"])
        self.assertEqual(alice.send("NAMES #garden")[0].params[3], "@carol +alice bob")
        self.assertEqual(carol.one("MODE #garden +v nobody").command, "401")
        carol.send("MODE #garden -m")
        bob.frames()
        self.assertEqual(bob.send(type="say", text="free")[0]["type"], "ack")

    def test_hand_the_admin_role_on(self) -> None:
        """+o NICK hands the role on: everyone sees MODE +o-o, the giver gets an idle timeout; -o is refused (696)."""
        carol, alice, bob = self.garden()
        self.assertEqual(carol.one("MODE #garden -o carol").command, "696")
        [line] = carol.send("MODE #garden +o alice")
        self.assertEqual((line.prefix, line.params), ("carol!carol@glozichat", ["#garden", "+o-o", "alice", "carol"]))
        self.assertEqual(alice.received(), [line])
        self.assertEqual(bob.frames(), [{"type": "admin_changed", "session": 10, "admin": "alice", "by": "carol"}])
        self.assertEqual(carol.one("MODE #garden +i").command, "482")
        self.assertEqual(alice.send("NAMES #garden")[0].params[3], "carol @alice bob")
        self.clock.advance(240)
        self.assertIn("KICK", [p.command for p in carol.received()])
        self.assertEqual([m.name for m in self.chat.sessions[10].members.values()], ["alice"])

    def test_minus_n_relays_a_message_from_outside(self) -> None:
        """+n: dave's PRIVMSG from outside gets `404 … :Cannot send to channel: join it first`; `MODE #garden -n`
        (shown as `+t`): every member gets it, IRC and native, dave gets nothing back and is no member."""
        carol, alice, bob = self.garden()
        dave = self.user("dave")
        refusal = dave.one("PRIVMSG #garden :hi")
        self.assertEqual((refusal.command, refusal.params), ("404", ["dave", "#garden", "Cannot send to channel: join it first"]))
        self.assertEqual(carol.send("MODE #garden -n"), [wire.ParsedLine("carol!carol@glozichat", "MODE", ["#garden", "-n"])])
        self.assertEqual(carol.send("MODE #garden")[0].params[2], "+t")
        alice.received()
        bob.frames()
        self.assertEqual(dave.send("PRIVMSG #Garden :hi from dave", "NOTICE #garden :notice from dave"), [])
        relayed = [
            wire.ParsedLine("dave!dave@glozichat", "PRIVMSG", ["#garden", "hi from dave"]),
            wire.ParsedLine("dave!dave@glozichat", "NOTICE", ["#garden", "notice from dave"]),
        ]
        self.assertEqual((carol.received(), alice.received()), (relayed, relayed))
        self.assertEqual([(f["from"], f["text"]) for f in bob.frames()], [("dave", "hi from dave"), ("dave", "notice from dave")])
        self.assertEqual([m.name for m in self.chat.sessions[10].members.values()], ["carol", "alice", "bob"])

    def test_minus_n_still_refuses_the_banned_and_under_plus_m(self) -> None:
        """-n with +b dave: `404 dave #garden :Cannot send to channel (+b): …`; with +m: `(+m)`; a NOTICE gets nothing."""
        carol, alice, _bob = self.garden()
        dave = self.user("dave")
        carol.send("MODE #garden -n", "MODE #garden +b dave")
        self.assertTrue(dave.one("PRIVMSG #garden :hi").params[2].startswith("Cannot send to channel (+b): "))
        carol.send("MODE #garden -b dave", "MODE #garden +m")
        self.assertTrue(dave.one("PRIVMSG #garden :hi").params[2].startswith("Cannot send to channel (+m): "))
        self.assertEqual(dave.send("NOTICE #garden :hi"), [])
        self.assertEqual([line.command for line in alice.received()], ["MODE"] * 4, "-n, +b, -b, +m and nothing from dave")

    def test_mode_refusals(self) -> None:
        """472 for an unknown letter, 482 for a non-admin's change, 442 off the channel, 403 no session."""
        carol, alice, _bob = self.garden()
        [unknown] = carol.send("MODE #garden +x")
        self.assertEqual((unknown.command, unknown.params[1]), ("472", "x"))
        self.assertEqual(alice.one("MODE #garden +i").command, "482")
        self.assertEqual(carol.one("MODE #kiwi +i").command, "442")
        self.assertEqual(carol.one("MODE #nope +i").command, "403")
        self.assertEqual(carol.send("MODE #garden +n"), [])
        self.assertEqual(self.native().send(type="list")[0]["sessions"][-1]["modes"], "+nt")
        carol.send("MODE #garden +imlk 5 12345")
        self.assertEqual(alice.received()[-1].params, ["#garden", "+k", "12345"])
        self.assertEqual(alice.send("MODE #garden")[0].params[1:], ["#garden", "+imntkl", "12345", "5"])
