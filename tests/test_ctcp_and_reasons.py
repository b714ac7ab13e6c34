"""CTCP (/me actions and the other requests) and PART/QUIT reasons, across
both doors, with the literals of docs/irc.md and docs/protocol.md."""

from glozi.doors.irc import wire
from tests.test_irc_protocol import DoorTestCase

VERSION_ANSWER = "\x01VERSION GloziChat 0.1.0 (a GloziChat native user; the server answers for them)\x01"


class ActionTests(DoorTestCase):
    def test_irc_action_to_a_channel_reaches_both_doors(self) -> None:
        """/me from IRC: IRC members get the CTCP ACTION as is, native members a message with action true."""
        alice = self.member("alice", "#kiwi")
        carol = self.member("carol", "#kiwi")
        bob = self.native(session=2, username="bob")
        alice.received()
        carol.received()
        self.assertEqual(alice.send("PRIVMSG #kiwi :\x01ACTION waves\x01"), [])
        [line] = carol.received()
        self.assertEqual((line.prefix, line.params), ("alice!alice@glozichat", ["#kiwi", "\x01ACTION waves\x01"]))
        [frame] = bob.frames()
        self.assertEqual(
            {k: frame[k] for k in ("type", "from", "text", "action")},
            {"type": "message", "from": "alice", "text": "waves", "action": True},
        )

    def test_action_without_its_closing_mark_is_an_action(self) -> None:
        """Some clients leave out the closing \\x01: still an action."""
        self.member("alice", "#kiwi").send("PRIVMSG #kiwi :\x01ACTION shrugs")
        bob = self.native(session=2, username="bob")
        self.member("dave", "#kiwi").send("PRIVMSG #kiwi :\x01ACTION shrugs")
        self.assertEqual(bob.frames()[-1]["text"], "shrugs")
        self.assertTrue(bob.frames() == [])

    def test_empty_action_is_412(self) -> None:
        """/me with no text: 412 No text to send, and nothing is sent."""
        alice = self.member("alice", "#kiwi")
        bob = self.native(session=2, username="bob")
        alice.received()
        self.assertEqual(alice.one("PRIVMSG #kiwi :\x01ACTION \x01").command, "412")
        self.assertEqual(bob.frames(), [])

    def test_native_action_reaches_irc_as_ctcp_action(self) -> None:
        """A native say with "action": true is acked and reaches IRC as PRIVMSG #kiwi :\\x01ACTION text\\x01."""
        alice = self.member("alice", "#kiwi")
        bob = self.native(session=2, username="bob")
        alice.received()
        [ack] = bob.send(type="say", text="dances", action=True)
        self.assertEqual(ack["type"], "ack")
        [line] = alice.received()
        self.assertEqual((line.prefix, line.params), ("bob!bob@glozichat", ["#kiwi", "\x01ACTION dances\x01"]))

    def test_plain_message_frames_carry_no_action_field(self) -> None:
        """Only an action says so: a plain message has no action field."""
        bob = self.native(session=2, username="bob")
        self.member("alice", "#kiwi").send("PRIVMSG #kiwi :hello")
        self.assertNotIn("action", bob.frames()[-1])

    def test_action_must_be_a_boolean(self) -> None:
        """"action": "yes" is bad_field; false or null is a plain message."""
        bob = self.native(session=2, username="bob")
        [error] = bob.send(type="say", text="x", action="yes")
        self.assertEqual((error["code"], error["message"]), ("bad_field", "The field 'action' must be true or false."))
        self.assertEqual(bob.send(type="say", text="x", action=False)[0]["type"], "ack")
        self.assertEqual(bob.send(type="private", to="bob", text="x", action=1)[0]["code"], "bad_field")

    def test_long_native_action_is_split_into_actions(self) -> None:
        """A long action is several CTCP ACTION lines, each within 512 bytes."""
        alice = self.member("alice", "#kiwi")
        bob = self.native(session=2, username="bob")
        alice.received()
        bob.send(type="say", text="word " * 300, action=True)
        data = alice.transport.value()
        lines = [raw for raw in data.split(b"\r\n") if raw]
        self.assertGreater(len(lines), 1)
        for raw in lines:
            self.assertLessEqual(len(raw) + 2, 512)
            self.assertIn(b":\x01ACTION ", raw)
            self.assertTrue(raw.endswith(b"\x01"))

    def test_private_actions_both_ways(self) -> None:
        """A /me to a nick: IRC to native is private_message with action true; native to IRC a CTCP ACTION."""
        irc = self.user("ircbob")
        native = self.native(session=1, username="alice")
        self.assertEqual(irc.send("PRIVMSG alice :\x01ACTION nods\x01"), [])
        [frame] = native.frames()
        self.assertEqual((frame["type"], frame["text"], frame["action"]), ("private_message", "nods", True))
        [ack] = native.send(type="private", to="ircbob", text="smiles", action=True)
        self.assertEqual(ack["type"], "ack")
        [line] = irc.received()
        self.assertEqual((line.prefix, line.params), ("alice!alice@glozichat", ["ircbob", "\x01ACTION smiles\x01"]))

    def test_actions_are_in_the_history_as_actions(self) -> None:
        """An action is kept and replayed as one: native history action true, IRC history "* alice text"."""
        self.member("alice", "#kiwi").send("PRIVMSG #kiwi :\x01ACTION waves\x01", "PRIVMSG #kiwi :plain")
        native = self.native()
        frames = native.send(type="join", session=2, username="bob")
        history = [f for f in frames if f["type"] == "history"]
        self.assertEqual([(f["text"], f.get("action")) for f in history], [("waves", True), ("plain", None)])
        lines = self.user("carol").send("JOIN #kiwi")
        notices = [p.params[1] for p in lines if p.command == "NOTICE"]
        self.assertTrue(notices[1].endswith("] * alice waves"), notices)
        self.assertTrue(notices[2].endswith("] <alice> plain"), notices)


class OtherCTCPTests(DoorTestCase):
    def test_requests_between_irc_users_are_relayed_as_they_are(self) -> None:
        """CTCP VERSION from one IRC user to another is relayed; the NOTICE reply is relayed back."""
        alice = self.user("alice")
        bob = self.user("bob")
        self.assertEqual(alice.send("PRIVMSG bob :\x01VERSION\x01"), [])
        [query] = bob.received()
        self.assertEqual((query.prefix, query.command, query.params), ("alice!alice@glozichat", "PRIVMSG", ["bob", "\x01VERSION\x01"]))
        bob.send("NOTICE alice :\x01VERSION irssi 1.4\x01")
        [reply] = alice.received()
        self.assertEqual((reply.prefix, reply.command, reply.params), ("bob!bob@glozichat", "NOTICE", ["alice", "\x01VERSION irssi 1.4\x01"]))

    def test_the_server_answers_for_a_native_user(self) -> None:
        """VERSION, PING, TIME and CLIENTINFO to a native user are answered by the server as their NOTICE; they see nothing."""
        alice = self.user("alice")
        carol = self.native(session=2, username="carol")
        [version] = alice.send("PRIVMSG carol :\x01VERSION\x01")
        self.assertEqual((version.prefix, version.command, version.params), ("carol!carol@glozichat", "NOTICE", ["alice", VERSION_ANSWER]))
        self.assertEqual(alice.one("PRIVMSG CAROL :\x01PING 1764000000 123\x01").params, ["alice", "\x01PING 1764000000 123\x01"])
        self.assertTrue(alice.one("PRIVMSG carol :\x01TIME\x01").params[1].startswith("\x01TIME "))
        self.assertEqual(alice.one("PRIVMSG carol :\x01CLIENTINFO\x01").params[1], "\x01CLIENTINFO ACTION CLIENTINFO PING TIME VERSION\x01")
        self.assertEqual(alice.one("PRIVMSG carol :\x01FINGER\x01").params[1], "\x01ERRMSG FINGER :Unknown CTCP query\x01")
        self.assertEqual(alice.send("NOTICE carol :\x01VERSION mine\x01"), [])
        self.assertEqual(carol.frames(), [])

    def test_gloziserv_answers_ctcp_too(self) -> None:
        """CTCP VERSION to GloziServ is answered by GloziServ."""
        [answer] = self.user("alice").send("PRIVMSG GloziServ :\x01VERSION\x01")
        self.assertEqual(answer.prefix, "GloziServ!GloziServ@glozichat")
        self.assertTrue(answer.params[1].startswith("\x01VERSION GloziChat "))

    def test_ctcp_to_a_channel_reaches_its_irc_members(self) -> None:
        """A CTCP request or reply to a channel goes to its other IRC members as sent, to no native member, unstored; outside it: 404."""
        alice = self.member("alice", "#kiwi")
        bob = self.member("bob", "#kiwi")
        carol = self.native(session=2, username="carol")
        alice.received()
        bob.received()
        self.assertEqual(alice.send("PRIVMSG #kiwi :\x01VERSION\x01", "NOTICE #kiwi :\x01VERSION x\x01"), [])
        self.assertEqual(
            [(line.prefix, line.command, line.params) for line in bob.received()],
            [("alice!alice@glozichat", "PRIVMSG", ["#kiwi", "\x01VERSION\x01"]),
             ("alice!alice@glozichat", "NOTICE", ["#kiwi", "\x01VERSION x\x01"])],
        )
        self.assertEqual(carol.frames(), [])
        self.assertEqual(len(self.chat.sessions[2].history), 0)
        self.assertEqual(alice.one("PRIVMSG #papaya :\x01VERSION\x01").command, "404")

    def test_ctcp_to_a_channel_follows_its_modes(self) -> None:
        """Under +C, +m or a ban, a channel CTCP request gets 404 naming the mode and reaches nobody; a reply gets nothing."""
        alice = self.member("alice", "#garden")
        bob = self.member("bob", "#garden")
        for mode in ("+C", "+m"):
            alice.send(f"MODE #garden {mode}")
            bob.received()
            [refusal] = bob.send("PRIVMSG #garden :\x01PING 1\x01")
            self.assertEqual((refusal.command, refusal.params[:2]), ("404", ["bob", "#garden"]))
            self.assertIn(f"({mode})", refusal.params[2])
            self.assertEqual(bob.send("NOTICE #garden :\x01PING 1\x01"), [])
            alice.send(f"MODE #garden -{mode[1]}")
            bob.received()
        self.assertEqual(alice.received(), [])

    def test_ctcp_to_nobody_is_401(self) -> None:
        """A CTCP request to a nick nobody has: 401 (a reply: nothing)."""
        alice = self.user("alice")
        self.assertEqual(alice.one("PRIVMSG nobody :\x01VERSION\x01").command, "401")
        self.assertEqual(alice.send("NOTICE nobody :\x01VERSION x\x01"), [])


class ReasonTests(DoorTestCase):
    def test_part_reason_reaches_everyone(self) -> None:
        """PART #kiwi :bye now: IRC members see PART #kiwi :bye now, native ones member_left with comment."""
        alice = self.member("alice", "#kiwi")
        carol = self.member("carol", "#kiwi")
        bob = self.native(session=2, username="bob")
        alice.received()
        carol.received()
        [echo] = carol.send("PART #kiwi :bye now")
        self.assertEqual((echo.prefix, echo.command, echo.params), ("carol!carol@glozichat", "PART", ["#kiwi", "bye now"]))
        self.assertEqual(alice.received(), [echo])
        [left] = bob.frames()
        self.assertEqual((left["type"], left["reason"], left["comment"]), ("member_left", "quit", "bye now"))

    def test_quit_reason_is_prefixed_quit(self) -> None:
        """QUIT :gone fishing: others see QUIT :Quit: gone fishing; native members a disconnected member_left with the comment."""
        alice = self.member("alice", "#kiwi")
        carol = self.member("carol", "#kiwi")
        bob = self.native(session=2, username="bob")
        alice.received()
        carol.received()
        [error] = carol.send("QUIT :gone fishing")
        self.assertEqual(error.params, ["Closing Link: carol (Quit: gone fishing)"])
        carol.protocol.connectionLost(None)
        [quit_line] = alice.received()
        self.assertEqual((quit_line.prefix, quit_line.command, quit_line.params), ("carol!carol@glozichat", "QUIT", ["Quit: gone fishing"]))
        [left] = bob.frames()
        self.assertEqual((left["reason"], left["comment"]), ("disconnected", "gone fishing"))

    def test_quit_without_a_reason_is_connection_closed(self) -> None:
        """A QUIT with no message, or a dropped connection, still reads QUIT :Connection closed."""
        alice = self.member("alice", "#kiwi")
        carol = self.member("carol", "#kiwi")
        alice.received()
        carol.send("QUIT")
        carol.protocol.connectionLost(None)
        self.assertEqual(alice.received()[0].params, ["Connection closed"])

    def test_native_quit_with_a_reason(self) -> None:
        """Native /quit see you: IRC members see PART #kiwi :see you; the leaver's left and the others' member_left carry the comment."""
        alice = self.member("alice", "#kiwi")
        bob = self.native(session=2, username="bob")
        dave = self.native(session=2, username="dave")
        alice.received()
        bob.frames()
        frames = bob.send(type="command", name="quit", args="see you")
        self.assertEqual([(f["type"], f.get("comment")) for f in frames], [("left", "see you"), ("reply", None)])
        [part] = alice.received()
        self.assertEqual((part.prefix, part.params), ("bob!bob@glozichat", ["#kiwi", "see you"]))
        self.assertEqual(dave.frames()[0]["comment"], "see you")

    def test_native_quit_without_a_reason_has_no_trailing_parameter(self) -> None:
        """Native /quit with no reason (no args, "", or only spaces): IRC members get exactly `PART #kiwi`, no empty
        `:` parameter; the native members' member_left has comment null."""
        alice = self.member("alice", "#kiwi")
        dave = self.native(session=2, username="dave")
        for number, args in enumerate((None, "", "   ")):
            bob = self.native(session=2, username=f"bob{number}")
            alice.received()
            dave.frames()
            frame = {"type": "command", "name": "quit"} | ({} if args is None else {"args": args})
            bob.send(**frame)
            self.assertEqual(alice.transport.value(), f":bob{number}!bob{number}@glozichat PART #kiwi\r\n".encode())
            self.assertIsNone(dave.frames()[0]["comment"])

    def test_a_long_native_reason_is_cut_to_one_irc_line(self) -> None:
        """A 2,000-character /quit reason reaches IRC cut to one line of at most 512 bytes."""
        alice = self.member("alice", "#kiwi")
        bob = self.native(session=2, username="bob")
        alice.received()
        bob.send(type="command", name="quit", args="x" * 2000)
        data = alice.transport.value()
        self.assertEqual(data.count(b"\r\n"), 1)
        self.assertLessEqual(len(data), 512)
        self.assertEqual(wire.parse_line(data.rstrip(b"\r\n")).command, "PART")

    def test_help_shows_the_reason(self) -> None:
        """/help lists /quit [REASON]."""
        bob = self.native(session=2, username="bob")
        [reply] = bob.send(type="command", name="help")
        self.assertIn("/quit [REASON] - leave the session, telling why", reply["text"])


class NativeQuitTests(DoorTestCase):
    def test_quit_frame_tells_every_session_and_closes(self) -> None:
        """{"type":"quit","comment":"gone fishing"}: bye, the connection closes, IRC sees QUIT :Quit: gone fishing."""
        alice = self.member("alice", "#kiwi")
        bob = self.native(session=2, username="bob")
        carol = self.native(session=2, username="carol")
        alice.received()
        bob.frames()
        [bye] = bob.send(type="quit", comment="gone fishing", id=7)
        self.assertEqual(bye, {"type": "bye", "id": 7})
        self.assertTrue(bob.transport.disconnecting)
        bob.protocol.connectionLost(None)
        [quit_line] = alice.received()
        self.assertEqual((quit_line.prefix, quit_line.params), ("bob!bob@glozichat", ["Quit: gone fishing"]))
        [left] = carol.frames()
        self.assertEqual((left["reason"], left["comment"]), ("disconnected", "gone fishing"))

    def test_quit_frame_without_a_comment_and_a_bad_one(self) -> None:
        """A quit without comment reads Connection closed on IRC; a comment with a newline is bad_field."""
        alice = self.member("alice", "#kiwi")
        bob = self.native(session=2, username="bob")
        alice.received()
        self.assertEqual(bob.send(type="quit", comment="a\nb")[0]["code"], "bad_field")
        self.assertEqual(bob.send(type="quit")[0]["type"], "bye")
        bob.protocol.connectionLost(None)
        self.assertEqual(alice.received()[0].params, ["Connection closed"])
