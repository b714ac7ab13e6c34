"""Scrolling to the top of a session loads older messages: the view-model, without Tk."""

import time
from typing import Any

from twisted.internet.error import ConnectionLost
from twisted.python.failure import Failure

from glozi.client.state import LineKind, Older, older_text
from tests.test_client_viewmodel import SESSIONS, ViewModelTestCase

GARDEN = "session:10"
NOON = time.mktime((2026, 3, 14, 12, 0, 0, 0, 0, -1))
"""Local noon on a day: minutes around it stay on that day wherever the tests run."""


def stored(n: int, ts: float, sender: str = "alice", **more: Any) -> dict[str, Any]:
    return {"msgid": f"id{n}", "ts": ts, "from": sender, "text": f"message {n}", **more}


class OlderMessagesTestCase(ViewModelTestCase):
    def join_with_history(self, history: list[dict[str, Any]]) -> None:
        """bob joins garden; the server sends ``history`` (stored messages) after the joined answer."""
        self.clock.advance(NOON + 3600 - self.clock.seconds())
        self.at_lobby()
        self.model.open_join(10)
        self.model.submit_join("bob", "12345")
        (join,) = self.sent()
        members = [{"name": "alice", "joined": 1.0, "admin": True}, {"name": "bob", "joined": 2.0, "admin": False}]
        joined = {"type": "joined", "session": {**SESSIONS[1], "members": 2}, "you": "bob", "members": members}
        self.answer({**joined, "idle_timeout": 240.0, "history": len(history)}, join)
        for message in history:
            self.event({"type": "history", "session": 10, **message})

    def scroll_to_top(self) -> dict[str, Any]:
        """The view says the user reached the top; the one request that went out."""
        self.assertTrue(self.model.load_older(GARDEN))
        (request,) = self.sent()
        return request

    @property
    def chat(self) -> Any:
        return self.model.conversations[GARDEN]

    def shown(self) -> list[tuple[str, str]]:
        """The transcript as (kind, text), dates and messages only."""
        return [
            (line.kind.name, line.text) for line in self.chat.lines if line.kind in (LineKind.DAY, LineKind.MESSAGE)
        ]


class LoadingOlderTests(OlderMessagesTestCase):
    def test_asks_for_the_page_before_the_oldest_message_shown(self) -> None:
        """Scrolling to the top asks history before the oldest msgid shown, 100 at a time, saying loading."""
        self.join_with_history([stored(5, NOON), stored(6, NOON + 60)])
        request = self.scroll_to_top()
        self.assertEqual(
            {k: v for k, v in request.items() if k != "id"},
            {"type": "history", "session": 10, "direction": "before", "at": {"msgid": "id5"}, "limit": 100},
        )
        self.assertIs(self.chat.older, Older.LOADING)
        self.assertEqual(older_text(self.chat), "Loading…")
        self.assertEqual(self.view.older, [GARDEN])

    def test_never_asks_twice_at_once(self) -> None:
        """While a page is on its way, scrolling to the top again sends nothing."""
        self.join_with_history([stored(5, NOON)])
        self.scroll_to_top()
        self.assertFalse(self.model.load_older(GARDEN))
        self.assertEqual(self.sent(), [])

    def test_older_messages_go_above_with_their_day_and_grouping(self) -> None:
        """The page goes above the oldest message; one day keeps one date line; a same-sender
        message just after the page's last is grouped under it now."""
        self.join_with_history([stored(5, NOON), stored(6, NOON + 60)])
        request = self.scroll_to_top()
        yesterday = NOON - 86400
        page = [stored(1, yesterday), stored(2, yesterday + 30), stored(3, NOON - 120), stored(4, NOON - 60)]
        self.answer({"type": "messages", "session": 10, "messages": page, "more": True}, request)
        day_before, day = self.chat.lines[0].text, self.chat.lines[3].text
        self.assertEqual(
            self.shown()[:8],
            [
                ("DAY", day_before), ("MESSAGE", "message 1"), ("MESSAGE", "message 2"),
                ("DAY", day), ("MESSAGE", "message 3"), ("MESSAGE", "message 4"),
                ("MESSAGE", "message 5"), ("MESSAGE", "message 6"),
            ],
        )  # fmt: skip
        self.assertEqual([line.kind for line in self.chat.lines].count(LineKind.DAY), 2)
        grouped = {line.text: line.grouped for line in self.chat.lines if line.kind is LineKind.MESSAGE}
        self.assertEqual(
            [grouped[f"message {n}"] for n in range(1, 7)], [False, True, False, True, True, True]
        )
        self.assertTrue(all(line.earlier for line in self.chat.lines[:6] if line.kind is LineKind.MESSAGE))
        [(key, head, replaced)] = self.view.prepended
        # The old date line and message 5 (now grouped) are redrawn; everything else stays.
        self.assertEqual((key, replaced), (GARDEN, 2))
        self.assertEqual([line.text for line in head][-1], "message 5")
        self.assertIs(self.chat.older, Older.IDLE)
        self.assertEqual(older_text(self.chat), "")

    def test_the_next_scroll_asks_before_the_new_oldest(self) -> None:
        """After a page, the next request starts before the oldest message now shown."""
        self.join_with_history([stored(5, NOON)])
        request = self.scroll_to_top()
        self.answer({"type": "messages", "session": 10, "messages": [stored(4, NOON - 60)], "more": True}, request)
        self.assertEqual(self.scroll_to_top()["at"], {"msgid": "id4"})

    def test_a_page_that_is_not_full_is_the_start_of_history(self) -> None:
        """more false: "Start of history" at the top, and scrolling up asks nothing more."""
        self.join_with_history([stored(5, NOON)])
        request = self.scroll_to_top()
        self.answer({"type": "messages", "session": 10, "messages": [stored(4, NOON - 60)], "more": False}, request)
        self.assertIs(self.chat.older, Older.START)
        self.assertEqual(older_text(self.chat), "Start of history")
        self.assertFalse(self.model.load_older(GARDEN))
        self.assertEqual(self.sent(), [])

    def test_an_empty_page_is_the_start_of_history_and_changes_nothing(self) -> None:
        """No older message: the transcript stays as it was, nothing is redrawn, the top says so."""
        self.join_with_history([stored(5, NOON)])
        before = list(self.chat.lines)
        request = self.scroll_to_top()
        self.answer({"type": "messages", "session": 10, "messages": [], "more": False}, request)
        self.assertEqual((self.chat.lines, self.view.prepended), (before, []))
        self.assertIs(self.chat.older, Older.START)

    def test_messages_already_shown_are_not_shown_twice(self) -> None:
        """A message already in the transcript (same msgid) is left out of the page."""
        self.join_with_history([stored(5, NOON)])
        request = self.scroll_to_top()
        page = [stored(4, NOON - 60), stored(5, NOON)]
        self.answer({"type": "messages", "session": 10, "messages": page, "more": False}, request)
        self.assertEqual([text for kind, text in self.shown() if kind == "MESSAGE"][:2], ["message 4", "message 5"])
        self.assertEqual([text for kind, text in self.shown()].count("message 5"), 1)

    def test_without_messages_it_asks_for_what_came_before_the_transcript(self) -> None:
        """A session joined with no history asks before the time the transcript starts at."""
        self.join_with_history([])
        self.assertEqual(self.scroll_to_top()["at"], {"ts": self.chat.lines[0].ts})

    def test_your_acknowledged_message_is_an_anchor_too(self) -> None:
        """Your own message takes the msgid its ack carries, so it can be paged back from."""
        self.join_with_history([])
        self.model.send("hello")
        (say,) = self.sent()
        self.answer({"type": "ack", "session": 10, "ts": self.clock.seconds(), "msgid": "mine1"}, say)
        self.assertEqual(self.scroll_to_top()["at"], {"msgid": "mine1"})

    def test_a_private_chat_has_no_older_messages(self) -> None:
        """Private messages are never stored: a private chat asks nothing."""
        self.join_with_history([])
        self.event({"type": "private_message", "from": "alice", "text": "psst", "ts": NOON, "notice": False})
        self.assertFalse(self.model.load_older("private:alice"))
        self.assertEqual(self.sent(), [])


class OlderErrorTests(OlderMessagesTestCase):
    def test_a_refusal_is_said_at_the_top_and_the_next_scroll_retries(self) -> None:
        """An error answer: the top line says why; scrolling to the top again asks again."""
        self.join_with_history([stored(5, NOON)])
        request = self.scroll_to_top()
        error = {"type": "error", "code": "not_stored", "message": "The server could not read the history; try again."}
        self.answer(error, request)
        self.assertIs(self.chat.older, Older.FAILED)
        self.assertEqual(
            older_text(self.chat),
            "Earlier messages could not be loaded: The server could not read the history; try again. "
            "Scroll up to try again.",
        )
        retry = self.scroll_to_top()
        self.assertEqual(retry["at"], {"msgid": "id5"})
        self.assertIs(self.chat.older, Older.LOADING)

    def test_a_lost_connection_fails_the_request_and_nothing_is_asked_until_back(self) -> None:
        """The connection goes while a page is asked: the top says so; no request while reconnecting."""
        self.join_with_history([stored(5, NOON)])
        self.scroll_to_top()
        self.network.refuse = True
        self.protocol.connectionLost(Failure(ConnectionLost()))
        self.assertIs(self.chat.older, Older.FAILED)
        self.assertIn("the connection was lost.", older_text(self.chat))
        self.assertFalse(self.model.load_older(GARDEN))

    def test_no_request_while_the_join_history_is_still_coming(self) -> None:
        """Until the join's history has come, the oldest message is not known: nothing is asked."""
        self.clock.advance(NOON - self.clock.seconds())
        self.at_lobby()
        self.model.open_join(10)
        self.model.submit_join("bob", "12345")
        (join,) = self.sent()
        members = [{"name": "alice", "joined": 1.0, "admin": True}, {"name": "bob", "joined": 2.0, "admin": False}]
        self.answer(
            {"type": "joined", "session": {**SESSIONS[1], "members": 2}, "you": "bob", "members": members,
             "idle_timeout": 240.0, "history": 3},
            join,
        )  # fmt: skip
        self.assertFalse(self.model.load_older(GARDEN))
        self.assertEqual(self.sent(), [])

    def test_a_page_that_cannot_be_read_fails_like_a_refusal(self) -> None:
        """An answer without its messages: the top line says so, and the next scroll asks again."""
        self.join_with_history([stored(5, NOON)])
        request = self.scroll_to_top()
        self.answer({"type": "messages", "session": 10, "more": False}, request)
        self.assertEqual(len(self.flushLoggedErrors(KeyError)), 1)
        self.assertIs(self.chat.older, Older.FAILED)
        self.assertIn("the answer could not be read.", older_text(self.chat))
        self.assertEqual(self.scroll_to_top()["at"], {"msgid": "id5"})
