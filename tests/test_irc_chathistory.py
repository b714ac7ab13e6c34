"""CHATHISTORY and the history a JOIN sends, on the IRC door (StringTransport, MemoryStore):
batches with server-time and msgid, the FAILs docs/irc.md names, members only,
nick targets empty, TARGETS, and each capability set's join scrollback."""

from twisted.internet.defer import Deferred, fail

from glozi.domain.chat import ChatServer
from glozi.doors.irc import wire
from glozi.doors.irc.protocol import IRCFactory
from glozi.storage.store import MemoryStore, StoreError
from tests.helpers import TEST_EXIT_CODE, quick_passwords
from tests.test_irc_protocol import SERVER, DoorTestCase, IRCClient

ALL_HISTORY_CAPS = "batch server-time message-tags labeled-response draft/chathistory"
START = 1_764_000_000
"""The test clock's start: 2025-11-24T16:00:00.000Z."""


class UnreadableStore(MemoryStore):
    """A store that keeps messages but cannot read them back."""

    def read_history(self, session_id: int, query: object) -> "Deferred[list]":
        return fail(StoreError("disk I/O error"))

    def history_targets(self, *args: object) -> "Deferred[list]":
        return fail(StoreError("disk I/O error"))


class HistoryTestCase(DoorTestCase):
    def capable(self, nick: str, caps: str = ALL_HISTORY_CAPS) -> IRCClient:
        """A registered client that asked for ``caps``."""
        client = self.connect()
        lines = client.send("CAP LS 302", f"CAP REQ :{caps}", f"NICK {nick}", f"USER {nick} 0 * :{nick}", "CAP END")
        self.assertIn("ACK", [p.params[1] for p in lines if p.command == "CAP"], lines)
        self.assertIn("001", [p.command for p in lines])
        return client

    def say_several(self, speaker: IRCClient, count: int, channel: str = "#kiwi", step: float = 1) -> None:
        """``count`` messages ``m0``, ``m1``, … ``step`` seconds apart (the first ``step`` after now)."""
        for number in range(count):
            self.clock.advance(step)
            speaker.send(f"PRIVMSG {channel} :m{number}")

    def texts(self, lines: list[wire.ParsedLine]) -> list[str]:
        return [p.params[1] for p in lines if p.command in ("PRIVMSG", "NOTICE")]


class ChatHistoryTests(HistoryTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.alice = self.capable("alice")
        self.alice.send("JOIN #kiwi")
        self.bob = self.member("bob", "#kiwi")
        self.alice.received()

    def test_latest_is_a_chathistory_batch_with_time_and_msgid(self) -> None:
        """LATEST #kiwi * 2: BATCH +ref chathistory #kiwi, the two newest as said, each with time and msgid, BATCH -ref."""
        self.say_several(self.bob, 3)
        live = self.alice.received()
        lines = self.alice.send("CHATHISTORY LATEST #kiwi * 2")
        self.assertEqual([p.command for p in lines], ["BATCH", "PRIVMSG", "PRIVMSG", "BATCH"])
        opening, first, second, closing = lines
        ref = opening.params[0].removeprefix("+")
        self.assertEqual((opening.prefix, opening.params), (SERVER, [f"+{ref}", "chathistory", "#kiwi"]))
        self.assertEqual(closing.params, [f"-{ref}"])
        self.assertEqual((first.prefix, first.params), ("bob!bob@glozichat", ["#kiwi", "m1"]))
        self.assertEqual(first.tags["time"], "2025-11-24T16:00:02.000Z")
        self.assertEqual(second.tags["time"], "2025-11-24T16:00:03.000Z")
        self.assertEqual([first.tags["batch"], second.tags["batch"]], [ref, ref])
        self.assertEqual([first.tags["msgid"], second.tags["msgid"]], [live[1].tags["msgid"], live[2].tags["msgid"]])

    def test_a_labeled_request_is_answered_in_one_labeled_batch(self) -> None:
        """@label=p1 CHATHISTORY …: a labeled-response batch whose start carries label=p1, the chathistory batch
        inside; a refused one is its FAIL line with the label."""
        self.say_several(self.bob, 2)
        self.alice.received()
        lines = self.alice.send("@label=p1 CHATHISTORY LATEST #kiwi * 10")
        self.assertEqual([p.command for p in lines], ["BATCH", "BATCH", "PRIVMSG", "PRIVMSG", "BATCH", "BATCH"])
        outer, inner = lines[0], lines[1]
        self.assertEqual((outer.tags.get("label"), outer.params[1]), ("p1", "labeled-response"))
        self.assertEqual(inner.params[1:], ["chathistory", "#kiwi"])
        self.assertEqual(inner.tags.get("batch"), outer.params[0].removeprefix("+"))
        [refusal] = self.alice.send("@label=p2 CHATHISTORY EVERYTHING #kiwi * 5")
        self.assertEqual((refusal.command, refusal.tags.get("label")), ("FAIL", "p2"))

    def test_an_action_comes_back_as_ctcp_action(self) -> None:
        """A /me is replayed as it was said: PRIVMSG #kiwi :\\x01ACTION waves\\x01."""
        self.bob.send("PRIVMSG #kiwi :\x01ACTION waves\x01")
        self.alice.received()
        lines = self.alice.send("CHATHISTORY LATEST #kiwi * 10")
        self.assertEqual(self.texts(lines), ["\x01ACTION waves\x01"])

    def test_nothing_to_send_is_an_empty_batch(self) -> None:
        """AFTER the newest message: BATCH +ref chathistory #kiwi then BATCH -ref, nothing between."""
        self.say_several(self.bob, 1)
        [message] = self.alice.received()
        lines = self.alice.send(f"CHATHISTORY AFTER #kiwi msgid={message.tags['msgid']} 10")
        self.assertEqual([(p.command, p.params[1:]) for p in lines], [("BATCH", ["chathistory", "#kiwi"]), ("BATCH", [])])

    def test_paging_back_and_forth_by_msgid_has_no_gap_and_no_duplicate(self) -> None:
        """250 messages read back 100 at a time, BEFORE from the newest and AFTER from the oldest: each once, in order."""
        # Within the idle timeout (240 s) and the flood limit (5 lines a second).
        self.say_several(self.bob, 250, step=0.5)
        self.alice.received()
        backwards: list[str] = []
        anchor = "*"
        for _ in range(5):
            asked = "CHATHISTORY LATEST #kiwi * 100" if anchor == "*" else f"CHATHISTORY BEFORE #kiwi msgid={anchor} 100"
            page = [p for p in self.alice.send(asked) if p.command == "PRIVMSG"]
            if not page:
                break
            backwards = self.texts(page) + backwards
            anchor = page[0].tags["msgid"]
        self.assertEqual(backwards, [f"m{n}" for n in range(250)])
        oldest = self.alice.send("CHATHISTORY BETWEEN #kiwi timestamp=2025-11-24T16:00:00.000Z timestamp=2025-11-24T16:00:02.000Z 1")
        forwards = self.texts(oldest)
        anchor = oldest[1].tags["msgid"]
        for _ in range(5):
            page = [p for p in self.alice.send(f"CHATHISTORY AFTER #kiwi msgid={anchor} 100") if p.command == "PRIVMSG"]
            if not page:
                break
            forwards += self.texts(page)
            anchor = page[-1].tags["msgid"]
        self.assertEqual(forwards, [f"m{n}" for n in range(250)])

    def test_paging_by_the_times_shown_has_no_gap_and_no_duplicate(self) -> None:
        """BEFORE and AFTER timestamp=<the time a message showed>: the page never repeats that message."""
        self.say_several(self.bob, 150)
        self.alice.received()
        newest = [p for p in self.alice.send("CHATHISTORY LATEST #kiwi * 100") if p.command == "PRIVMSG"]
        older = [
            p for p in self.alice.send(f"CHATHISTORY BEFORE #kiwi timestamp={newest[0].tags['time']} 100")
            if p.command == "PRIVMSG"
        ]  # fmt: skip
        self.assertEqual(self.texts(older + newest), [f"m{n}" for n in range(150)])
        after = [
            p for p in self.alice.send(f"CHATHISTORY AFTER #kiwi timestamp={older[-1].tags['time']} 100")
            if p.command == "PRIVMSG"
        ]  # fmt: skip
        self.assertEqual(self.texts(after), self.texts(newest))

    def test_a_timestamp_names_every_message_shown_with_it(self) -> None:
        """A message sent at 16:00:10.0004 shows 16:00:10.000Z and one at 16:00:19.9999997 shows
        16:00:20.000Z: AFTER the first's time and BEFORE the second's leave each one out."""
        self.clock.advance(10.0004)
        self.bob.send("PRIVMSG #kiwi :early")
        self.clock.advance(9.9995997)
        self.bob.send("PRIVMSG #kiwi :late")
        early, late = self.alice.received()
        self.assertEqual((early.tags["time"], late.tags["time"]), ("2025-11-24T16:00:10.000Z", "2025-11-24T16:00:20.000Z"))
        after = self.alice.send("CHATHISTORY AFTER #kiwi timestamp=2025-11-24T16:00:10.000Z 10")
        self.assertEqual(self.texts(after), ["late"])
        before = self.alice.send("CHATHISTORY BEFORE #kiwi timestamp=2025-11-24T16:00:20.000Z 10")
        self.assertEqual(self.texts(before), ["early"])

    def test_a_limit_over_100_answers_100(self) -> None:
        """ISUPPORT CHATHISTORY=100: LATEST … 500 answers the newest 100."""
        self.say_several(self.bob, 120)
        self.alice.received()
        lines = self.alice.send("CHATHISTORY LATEST #kiwi * 500")
        self.assertEqual(self.texts(lines), [f"m{n}" for n in range(20, 120)])

    def test_a_channel_you_are_not_on_is_an_invalid_target(self) -> None:
        """FAIL CHATHISTORY INVALID_TARGET LATEST #garden :Messages could not be retrieved, for a session you left or never joined."""
        self.bob.send("JOIN #garden", "PRIVMSG #garden :secret")
        for channel in ("#garden", "#nowhere"):
            [refusal] = self.alice.send(f"CHATHISTORY LATEST {channel} * 10")
            self.assertEqual(
                (refusal.command, refusal.params),
                ("FAIL", ["CHATHISTORY", "INVALID_TARGET", "LATEST", channel, "Messages could not be retrieved"]),
            )

    def test_a_nick_target_is_an_empty_batch(self) -> None:
        """Private messages are never stored: CHATHISTORY LATEST bob * 10 answers an empty batch named bob."""
        self.bob.send("PRIVMSG alice :psst")
        self.alice.received()
        lines = self.alice.send("CHATHISTORY LATEST bob * 10")
        self.assertEqual([(p.command, p.params[1:]) for p in lines], [("BATCH", ["chathistory", "bob"]), ("BATCH", [])])

    def test_a_bad_line_gets_the_specs_fail(self) -> None:
        """An unknown subcommand, too few parameters, and a bad timestamp: the spec's codes."""
        self.assertEqual(
            self.alice.one("CHATHISTORY EVERYTHING #kiwi * 5").params,
            ["CHATHISTORY", "UNKNOWN_COMMAND", "EVERYTHING", "Unknown command"],
        )
        self.assertEqual(
            self.alice.one("CHATHISTORY LATEST #kiwi").params, ["CHATHISTORY", "NEED_MORE_PARAMS", "LATEST", "Missing parameters"]
        )
        self.assertEqual(self.alice.one("CHATHISTORY").params, ["CHATHISTORY", "NEED_MORE_PARAMS", "*", "Missing parameters"])
        refusal = self.alice.one("CHATHISTORY BEFORE #kiwi timestamp=1764000000 5")
        self.assertEqual(refusal.params[:4], ["CHATHISTORY", "INVALID_PARAMS", "BEFORE", "timestamp=1764000000"])

    def test_targets_lists_your_sessions_with_their_newest_time(self) -> None:
        """TARGETS: a draft/chathistory-targets batch of CHATHISTORY TARGETS #kiwi <newest time>; sessions you are not in are not listed."""
        self.say_several(self.bob, 2)
        self.bob.send("JOIN #garden", "PRIVMSG #garden :secret")
        self.alice.received()
        lines = self.alice.send(
            "CHATHISTORY TARGETS timestamp=2025-11-24T16:00:00.000Z timestamp=2025-11-25T00:00:00.000Z 10"
        )
        self.assertEqual([p.command for p in lines], ["BATCH", "CHATHISTORY", "BATCH"])
        self.assertEqual(lines[0].params[1:], ["draft/chathistory-targets"])
        self.assertEqual(lines[1].params, ["TARGETS", "#kiwi", "2025-11-24T16:00:02.000Z"])

    def test_without_batch_the_messages_come_alone(self) -> None:
        """A client that did not ask for batch gets the lines with their times and no BATCH."""
        carol = self.capable("carol", "server-time")
        carol.send("JOIN #kiwi")
        self.say_several(self.bob, 2)
        carol.received()
        lines = carol.send("CHATHISTORY LATEST #kiwi * 10")
        self.assertEqual([p.command for p in lines], ["PRIVMSG", "PRIVMSG"])
        self.assertEqual([p.tags.get("time") for p in lines], ["2025-11-24T16:00:01.000Z", "2025-11-24T16:00:02.000Z"])
        self.assertNotIn("batch", lines[0].tags)


class UnreadableHistoryTests(HistoryTestCase):
    def fresh_server(self) -> None:
        super().fresh_server()
        self.chat = ChatServer(self.clock, exit_code=TEST_EXIT_CODE, passwords=quick_passwords(), store=UnreadableStore())
        self.factory = IRCFactory(self.chat, "testbox", self.clock)

    def test_a_store_that_cannot_read_is_a_message_error(self) -> None:
        """FAIL CHATHISTORY MESSAGE_ERROR LATEST #kiwi :Messages could not be retrieved; the connection carries on."""
        alice = self.capable("alice")
        alice.send("JOIN #kiwi")
        [refusal] = alice.send("CHATHISTORY LATEST #kiwi * 10")
        self.assertEqual(
            refusal.params, ["CHATHISTORY", "MESSAGE_ERROR", "LATEST", "#kiwi", "Messages could not be retrieved"]
        )
        [targets] = alice.send("CHATHISTORY TARGETS timestamp=2025-11-24T16:00:00.000Z timestamp=2025-11-25T00:00:00.000Z 10")
        self.assertEqual(targets.params[:3], ["CHATHISTORY", "MESSAGE_ERROR", "TARGETS"])
        self.assertEqual(alice.one("PING x").command, "PONG")


class IsupportTests(HistoryTestCase):
    def test_the_welcome_says_the_history_limit_and_the_ways_to_name_a_point(self) -> None:
        """005 carries CHATHISTORY=100 and MSGREFTYPES=msgid,timestamp."""
        lines = self.connect().send("NICK alice", "USER alice 0 * :Alice")
        tokens = {t for p in lines if p.command == "005" for t in p.params[1:-1]}
        self.assertTrue({"CHATHISTORY=100", "MSGREFTYPES=msgid,timestamp"} <= tokens)


class JoinScrollbackTests(HistoryTestCase):
    def setUp(self) -> None:
        super().setUp()
        bob = self.member("bob", "#kiwi")
        self.say_several(bob, 2)
        bob.send("PRIVMSG #kiwi :\x01ACTION waves\x01")

    def scrollback(self, client: IRCClient) -> list[wire.ParsedLine]:
        """What comes after JOIN, topic and NAMES."""
        lines = client.send("JOIN #kiwi")
        return lines[[p.command for p in lines].index("366") + 1 :]

    def test_batch_and_server_time_get_a_chathistory_batch(self) -> None:
        """A client with batch and server-time: the history as a chathistory batch, each message with its stored time and msgid."""
        lines = self.scrollback(self.capable("alice", "batch server-time message-tags"))
        self.assertEqual([p.command for p in lines], ["BATCH", "PRIVMSG", "PRIVMSG", "PRIVMSG", "BATCH"])
        self.assertEqual(lines[0].params[1:], ["chathistory", "#kiwi"])
        self.assertEqual(self.texts(lines), ["m0", "m1", "\x01ACTION waves\x01"])
        self.assertEqual(lines[1].tags["time"], "2025-11-24T16:00:01.000Z")
        self.assertTrue(all(p.tags.get("msgid") for p in lines[1:4]))

    def test_server_time_alone_gets_the_messages_with_their_times(self) -> None:
        """A client with server-time but no batch (WeeChat 3.8): PRIVMSG lines with @time, no BATCH, no NOTICE."""
        lines = self.scrollback(self.capable("alice", "server-time message-tags"))
        self.assertEqual([p.command for p in lines], ["PRIVMSG", "PRIVMSG", "PRIVMSG"])
        self.assertEqual(
            [p.tags["time"] for p in lines],
            ["2025-11-24T16:00:01.000Z", "2025-11-24T16:00:02.000Z", "2025-11-24T16:00:02.000Z"],
        )
        self.assertEqual(lines[0].prefix, "bob!bob@glozichat")

    def test_no_server_time_gets_todays_notices(self) -> None:
        """Without server-time: the NOTICEs from the server, times in the text, exactly as before."""
        lines = self.scrollback(self.user("alice"))
        self.assertEqual(
            self.texts(lines),
            [
                "--- History: the last 3 messages (UTC) ---",
                "[2025-11-24 16:00:01] <bob> m0",
                "[2025-11-24 16:00:02] <bob> m1",
                "[2025-11-24 16:00:02] * bob waves",
                "--- End of history ---",
            ],
        )
        self.assertTrue(all(p.prefix == SERVER and not p.tags for p in lines))

    def test_draft_chathistory_clients_ask_for_it_themselves(self) -> None:
        """A client that asked for draft/chathistory gets no scrollback on JOIN (it sends CHATHISTORY LATEST)."""
        self.assertEqual(self.scrollback(self.capable("alice")), [])
