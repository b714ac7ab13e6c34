"""The native ``history`` request against the real server and its SQLite store."""

from typing import Any

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from tests.realserver import connect_client, start_server

MESSAGES = 1000
PAGE = 100


class NativeHistoryEndToEndTests(TestCase):
    timeout = 120

    @defer.inlineCallbacks
    def test_pages_through_1000_stored_messages_both_ways(self) -> Any:
        """1,000 acknowledged messages, read back 100 at a time, back from the newest and forward
        from the oldest: each exactly once, in order, with the msgid and time of its ack."""
        flood = ("--flood-burst", "100000", "--flood-rate", "100000")
        server = yield start_server(self, *flood, "--scrollback", "10", irc_port="none")
        alice = yield connect_client(self, server.port)
        created = yield alice.request(type="create", name="archive", username="alice")
        session = created["session"]["id"]
        for n in range(MESSAGES):
            alice.send(type="say", text=f"message {n}", id=n)
        acks = []
        for _ in range(MESSAGES):
            ack = yield alice.next()
            acks.append(ack)
        self.assertEqual([a["id"] for a in acks], list(range(MESSAGES)), "acks keep their order")
        expected = [(a["msgid"], a["ts"], f"message {n}") for n, a in enumerate(acks)]
        self.assertEqual(len({a["msgid"] for a in acks}), MESSAGES, "every message has its own msgid")

        bob = yield connect_client(self, server.port)
        joined = yield bob.request(type="join", session=session, username="bob")
        self.assertEqual(joined["history"], 10)
        scrollback = []
        for _ in range(10):
            frame = yield bob.next()
            scrollback.append((frame["msgid"], frame["ts"], frame["text"]))
        self.assertEqual(scrollback, expected[-10:], "the join's history carries the stored ids and times")

        backwards: list[list[dict]] = []
        page = yield bob.request(type="history", session=session, direction="latest", limit=PAGE, id="p")
        while True:
            self.assertEqual((page["type"], page["id"]), ("messages", "p"), page)
            backwards.append(page["messages"])
            if not page["more"]:
                break
            self.assertLessEqual(len(backwards), MESSAGES // PAGE + 1, "paging ends")
            oldest = page["messages"][0]["msgid"]
            page = yield bob.request(
                type="history", session=session, direction="before", at={"msgid": oldest}, limit=PAGE, id="p"
            )
        seen = [(m["msgid"], m["ts"], m["text"]) for messages in reversed(backwards) for m in messages]
        self.assertEqual(seen, expected)
        self.assertEqual({m["from"] for messages in backwards for m in messages}, {"alice"})

        forwards: list[tuple[str, float, str]] = []
        at: dict[str, Any] = {"ts": 0}
        for _ in range(MESSAGES // PAGE + 2):
            page = yield bob.request(type="history", session=session, direction="after", at=at, limit=PAGE)
            forwards += [(m["msgid"], m["ts"], m["text"]) for m in page["messages"]]
            if not page["more"]:
                break
            at = {"msgid": page["messages"][-1]["msgid"]}
        self.assertEqual(forwards, expected)
