"""The client's conversations without Tk: several sessions and private chats, unread counts,
mentions, the window's attention, grouping and dates (StringTransport, task.Clock)."""

import time
from typing import Any

from twisted.internet.error import ConnectionLost
from twisted.python.failure import Failure

from glozi.client.state import Aspect, ChatState, Delivery, LineKind, PrivateChat, Screen
from tests.test_client_viewmodel import SESSIONS, ViewModelTestCase, session

KIWI = session(2, "kiwi", locked=True, creator="carol")
ALL_SESSIONS = [*SESSIONS, KIWI]
PASSWORDS = {10: "12345", 2: "54321"}


def local(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> float:
    """A timestamp at that local time (whatever the test machine's time zone)."""
    return time.mktime((year, month, day, hour, minute, second, 0, 0, -1))


class ConversationTestCase(ViewModelTestCase):
    def join(self, frame: dict[str, Any], *, members: list[dict[str, Any]] | None = None, history: int = 0) -> None:
        """From wherever you are: show the session list, open the session's join dialog, join with the
        name it offers (or alice), and let the server say yes."""
        self.model.show_sessions()
        listing = [f for f in self.sent() if f["type"] == "list"][-1]
        listed = sorted({s["id"]: s for s in [*ALL_SESSIONS, frame]}.values(), key=lambda s: s["id"])
        self.answer({"type": "sessions", "sessions": listed}, listing)
        self.model.open_join(frame["id"])
        username = self.model.dialog.username or "alice"
        self.assertTrue(self.model.submit_join(username, PASSWORDS.get(frame["id"], "")))
        (join,) = self.sent()
        self.assertEqual(join["username"], username)
        members = members or [
            {"name": "bob", "joined": 1000.0, "admin": False, "away": None},
            {"name": username, "joined": 1010.0, "admin": False, "away": None},
        ]
        self.answer(
            {
                "type": "joined",
                "session": {**frame, "members": len(members)},
                "you": username,
                "members": members,
                "idle_timeout": 240.0,
                "history": history,
            },
            join,
        )

    def in_three(self) -> None:
        """Alice in garden (10), avocado (1) and kiwi (2), looking at kiwi."""
        self.model.start()
        self.join(SESSIONS[1])
        self.join(SESSIONS[0])
        self.join(KIWI)
        self.sent()

    def conversation(self, key: str) -> ChatState | PrivateChat:
        return self.model.conversations[key]

    def message(self, sid: int, text: str, sender: str = "bob", ts: float | None = None, **extra: Any) -> None:
        ts = self.clock.seconds() if ts is None else ts
        self.event({"type": "message", "session": sid, "from": sender, "text": text, "ts": ts, **extra})

    def private(self, text: str, sender: str = "bob") -> None:
        self.event({"type": "private_message", "from": sender, "text": text, "ts": self.clock.seconds()})


class SeveralSessionsTests(ConversationTestCase):
    def test_joining_another_session_keeps_the_first_and_offers_your_name(self) -> None:
        """From garden, + Join / create shows the session list (asked for again, as members get no pushes);
        the join dialog offers your nick; afterwards you are in both and look at the new one."""
        self.in_garden("alice")
        self.sent()
        self.model.show_sessions()
        self.assertIs(self.model.screen, Screen.LOBBY)
        self.assertEqual([f["type"] for f in self.sent()], ["list"])
        self.assertEqual(list(self.model.conversations), ["session:10"], "still in garden")
        self.join(SESSIONS[0])
        self.assertEqual(list(self.model.conversations), ["session:10", "session:1"])
        self.assertEqual((self.model.current, self.model.screen), ("session:1", Screen.CHAT))
        self.model.show_sessions()
        self.answer({"type": "sessions", "sessions": ALL_SESSIONS}, self.sent()[0])
        self.model.open_join(10)
        self.assertIsNone(self.model.dialog, "a session you are in is shown, not joined again")
        self.assertEqual(self.model.current, "session:10")

    def test_say_and_command_name_the_session_shown(self) -> None:
        """Every say and command carries the session it was typed in; a reply remembers what you typed."""
        self.in_three()
        self.model.switch_to("session:10")
        self.model.send("hello garden")
        self.model.send("/echo  hi")
        say, command = self.sent()
        self.assertEqual((say["type"], say["session"], say["text"]), ("say", 10, "hello garden"))
        self.assertEqual((command["type"], command["session"], command["name"]), ("command", 10, "echo"))
        self.answer({"type": "reply", "session": 10, "command": "echo", "text": "hi"}, command)
        reply = self.conversation("session:10").lines[-1]
        self.assertEqual((reply.kind, reply.text, reply.command), (LineKind.REPLY, "hi", "/echo  hi"))
        self.assertEqual(reply.ts, self.clock.seconds())

    def test_events_go_to_their_session(self) -> None:
        """A message and a member joining reach the session they name, and no other."""
        self.in_three()
        self.message(10, "in garden")
        self.event({"type": "member_joined", "session": 1, "name": "dave", "joined": 5000.0})
        self.assertEqual(self.conversation("session:10").lines[-1].text, "in garden")
        self.assertEqual(self.conversation("session:1").lines[-1].text, "dave joined the session.")
        self.assertIn("dave", [m.name for m in self.conversation("session:1").members])
        self.assertNotIn("dave", [m.name for m in self.conversation("session:10").members])
        self.assertNotIn("in garden", [line.text for line in self.conversation("session:2").lines])

    def test_leave_one_of_three(self) -> None:
        """Leave sends /quit in that session; after its left, the others stay and one is shown, saying so;
        after the last, the session list as before."""
        self.in_three()
        self.model.switch_to("session:10")
        self.model.leave()
        (quit_,) = self.sent()
        self.assertEqual((quit_["type"], quit_["name"], quit_["session"]), ("command", "quit", 10))
        self.event({"type": "left", "session": 10, "name": "garden", "reason": "quit", "message": "You left garden."})
        self.assertEqual(list(self.model.conversations), ["session:1", "session:2"])
        self.assertEqual((self.model.current, self.model.screen), ("session:2", Screen.CHAT))
        self.assertEqual(self.conversation("session:2").lines[-1].text, "You left garden.")
        self.event({"type": "left", "session": 1, "name": "avocado", "reason": "kicked", "by": "bob",
                    "message": "You were kicked from avocado by bob."})
        self.assertEqual(self.model.current, "session:2", "a kick elsewhere does not move you")
        self.assertIs(self.conversation("session:2").lines[-1].kind, LineKind.WARNING)
        self.sent()
        self.event({"type": "left", "session": 2, "name": "kiwi", "reason": "quit", "message": "You left kiwi."})
        self.assertIs(self.model.screen, Screen.LOBBY)
        self.assertEqual((self.model.conversations, self.model.notice.text), ({}, "You left kiwi."))
        self.assertEqual([f["type"] for f in self.sent()], ["list"])

    def test_reconnecting_rejoins_every_session_with_its_password_and_keeps_private_chats(self) -> None:
        """After a lost connection the client joins garden, avocado and kiwi again, one at a time, each with
        its password; what was typed meanwhile in a session and in a private chat goes out afterwards."""
        self.in_three()
        self.private("psst")
        self.protocol.connectionLost(Failure(ConnectionLost()))
        self.model.send("typed in kiwi")
        self.model.switch_to("private:bob")
        self.model.send("typed to bob")
        self.clock.advance(0.5)
        others = []
        for sid in (10, 1, 2):
            sent = self.sent()
            (join,) = [f for f in sent if f["type"] == "join"]
            others += [f for f in sent if f["type"] != "join"]
            self.assertEqual((join["type"], join["session"], join["username"]), ("join", sid, "alice"))
            self.assertEqual(join.get("password"), PASSWORDS.get(sid))
            frame = next(s for s in ALL_SESSIONS if s["id"] == sid)
            members = [{"name": "alice", "joined": 6000.0, "admin": False, "away": None}]
            self.answer({"type": "joined", "session": frame, "you": "alice", "members": members,
                         "idle_timeout": 240.0, "history": 0}, join)
        self.assertEqual(
            sorted((f["type"], f.get("session") or f.get("to"), f["text"]) for f in others + self.sent()),
            [("private", "bob", "typed to bob"), ("say", 2, "typed in kiwi")],
        )
        self.assertEqual(list(self.model.conversations), ["session:10", "session:1", "session:2", "private:bob"])
        self.assertEqual([line.text for line in self.conversation("private:bob").lines if line.sender][:1], ["psst"])
        for key in ("session:10", "session:1", "session:2"):
            self.assertEqual(self.conversation(key).lines[-1].text, "Reconnected.")

    def test_lost_while_the_list_is_shown_the_list_comes_back_beside_the_sessions(self) -> None:
        """At the session list (from + Join / create) when the connection drops: the disconnected screen,
        then the list again while every session is rejoined."""
        self.in_three()
        self.model.show_sessions()
        self.protocol.connectionLost(Failure(ConnectionLost()))
        self.assertIs(self.model.screen, Screen.DISCONNECTED)
        self.clock.advance(0.5)
        self.assertIs(self.model.screen, Screen.LOBBY)
        self.assertEqual([f["type"] for f in self.sent()], ["list", "join"])
        self.assertEqual(len(self.model.conversations), 3)

    def test_with_only_private_chats_reconnecting_takes_the_name_back(self) -> None:
        """No session left but a private chat shown: after the drop the client asks for its name again
        (nick) and sends what was typed to bob meanwhile."""
        self.in_garden("alice")
        self.private("psst")
        self.event({"type": "left", "session": 10, "name": "garden", "reason": "quit", "message": "You left garden."})
        self.model.switch_to("private:bob")
        self.sent()
        self.protocol.connectionLost(Failure(ConnectionLost()))
        self.assertIs(self.model.screen, Screen.CHAT, "the private chat stays shown")
        self.model.send("still there?")
        self.clock.advance(0.5)
        (nick,) = self.sent()
        self.assertEqual((nick["type"], nick["name"]), ("nick", "alice"))
        self.answer({"type": "nick_changed", "old": None, "name": "alice"}, nick)
        (private,) = self.sent()
        self.assertEqual((private["type"], private["to"], private["text"]), ("private", "bob", "still there?"))

    def test_a_refused_rejoin_drops_that_session_only(self) -> None:
        """If one session is gone after the restart, the others are rejoined and the shown one says which was lost."""
        self.in_three()
        self.protocol.connectionLost(Failure(ConnectionLost()))
        self.clock.advance(0.5)
        (join,) = self.sent()
        self.answer({"type": "error", "code": "no_such_session", "message": "There is no session 10."}, join)
        (join,) = self.sent()
        self.assertEqual(join["session"], 1)
        self.assertNotIn("session:10", self.model.conversations)
        self.assertIn("could not rejoin garden: There is no session 10.", self.model.conversation.lines[-1].text)


class UnreadAndMentionTests(ConversationTestCase):
    def test_messages_elsewhere_count_as_unread_until_you_look(self) -> None:
        """Looking at kiwi: garden's messages count, kiwi's do not; switching to garden clears its count."""
        self.in_three()
        self.message(10, "one")
        self.message(10, "two")
        self.message(2, "here")
        self.assertEqual([c.unread for c in self.model.conversations.values()], [2, 0, 0])
        self.assertIn(Aspect.CONVERSATIONS, self.view.rendered)
        self.model.switch_to("session:10")
        self.assertEqual(self.conversation("session:10").unread, 0)

    def test_your_own_lines_and_history_are_never_unread(self) -> None:
        """Your messages, notices and the scrollback of a join do not count."""
        self.in_three()
        self.event({"type": "member_joined", "session": 10, "name": "dave", "joined": 5000.0})
        self.join(session(3, "mango"), history=1)
        self.event({"type": "history", "session": 3, "from": "bob", "text": "long ago", "ts": 100.0})
        self.assertEqual(self.conversation("session:10").unread, 0)
        self.assertEqual(self.conversation("session:3").unread, 0)

    def test_a_message_naming_you_elsewhere_marks_that_conversation(self) -> None:
        """"Alice, look" in avocado marks avocado (the line too); "alicex" does not; naming you where
        you look marks the line only."""
        self.in_three()
        self.message(1, "hi alicex")
        self.assertFalse(self.conversation("session:1").mentioned)
        self.message(1, "Alice, look")
        avocado = self.conversation("session:1")
        self.assertTrue(avocado.mentioned)
        self.assertEqual([line.mentioned for line in avocado.lines[-2:]], [False, True])
        self.message(2, "@alice here")
        self.assertTrue(self.conversation("session:2").lines[-1].mentioned)
        self.assertFalse(self.conversation("session:2").mentioned)
        self.model.switch_to("session:1")
        self.assertEqual((avocado.unread, avocado.mentioned), (0, False))

    def test_an_unfocused_window_counts_where_you_look_too(self) -> None:
        """While the window is not focused, the shown conversation's messages are unread; focus reads them."""
        self.in_three()
        self.model.set_focused(False)
        self.message(2, "while you were out")
        self.assertEqual(self.conversation("session:2").unread, 1)
        self.model.set_focused(True)
        self.assertEqual(self.conversation("session:2").unread, 0)


class AttentionTests(ConversationTestCase):
    def test_title_urgency_and_notifications_while_unfocused(self) -> None:
        """Unfocused: a plain message changes nothing; a mention and a private message each count in the
        title ("(2) GloziChat"), raise urgency and ask for a notification; focus resets title and urgency."""
        self.in_three()
        self.assertEqual(self.model.window_title, "GloziChat")
        self.model.set_focused(False)
        self.message(10, "nothing for you")
        self.assertEqual((self.model.window_title, self.model.urgent), ("GloziChat", False))
        self.message(10, "alice: lunch?")
        self.assertEqual((self.model.window_title, self.model.urgent), ("(1) GloziChat", True))
        self.private("psst")
        self.assertEqual(self.model.window_title, "(2) GloziChat")
        self.assertEqual(
            [(n.summary, n.body) for n in self.model.take_notifications()],
            [("bob in garden", "alice: lunch?"), ("bob privately", "psst")],
        )
        self.assertEqual(self.model.take_notifications(), [])
        self.assertIn(Aspect.ATTENTION, self.view.rendered)
        self.model.set_focused(True)
        self.assertEqual((self.model.window_title, self.model.urgent), ("GloziChat", False))

    def test_focused_the_window_asks_for_nothing(self) -> None:
        """A mention in another session while you use the window marks it, without title, urgency or notification."""
        self.in_three()
        self.message(10, "alice!")
        self.private("psst")
        self.assertEqual((self.model.window_title, self.model.urgent, self.model.notifications), ("GloziChat", False, []))

    def test_each_alert_has_its_option(self) -> None:
        """title_count, urgency and notifications off: each one alone stops its own effect."""
        self.in_three()
        self.model.alerts.title_count = False
        self.model.set_focused(False)
        self.private("one")
        self.assertEqual((self.model.window_title, self.model.urgent, len(self.model.take_notifications())),
                         ("GloziChat", True, 1))
        self.model.set_focused(True)
        self.model.alerts.title_count, self.model.alerts.urgency = True, False
        self.model.set_focused(False)
        self.private("two")
        self.assertEqual((self.model.window_title, self.model.urgent, len(self.model.take_notifications())),
                         ("(1) GloziChat", False, 1))
        self.model.alerts.urgency, self.model.alerts.notifications = True, False
        self.private("three")
        self.assertEqual((self.model.window_title, self.model.urgent, self.model.take_notifications()),
                         ("(2) GloziChat", True, []))

    def test_a_notification_body_is_cut_to_200_characters(self) -> None:
        """A long message is cut: 200 characters kept whole, 201 cut to 199 and an ellipsis."""
        self.in_three()
        self.model.set_focused(False)
        self.private("x" * 200)
        self.private("y" * 201)
        first, second = self.model.take_notifications()
        self.assertEqual(first.body, "x" * 200)
        self.assertEqual(second.body, "y" * 199 + "\u2026")


class PrivateChatTests(ConversationTestCase):
    def test_a_private_chat_from_the_member_list(self) -> None:
        """open_private starts a chat with bob; what you type goes as private to bob; the ack's away is noted;
        commands are refused there; /me is an action."""
        self.in_three()
        self.model.open_private("bob")
        self.assertEqual((self.model.current, self.model.screen), ("private:bob", Screen.CHAT))
        self.model.send("psst")
        (private,) = self.sent()
        self.assertEqual((private["type"], private["to"], private["text"]), ("private", "bob", "psst"))
        self.answer({"type": "ack", "to": "bob", "ts": 5000.0, "away": "at lunch"}, private)
        line = self.conversation("private:bob").lines[-1]
        self.assertEqual((line.delivery, line.note), (Delivery.SENT, "bob is away: at lunch"))
        self.assertFalse(self.model.send("/help"))
        self.assertEqual(self.sent(), [])
        self.model.send("/me waves")
        (action,) = self.sent()
        self.assertEqual((action["type"], action["action"]), ("private", True))
        self.model.open_private("Alice")
        self.assertEqual(self.model.current, "private:bob", "no private chat with yourself")

    def test_an_incoming_private_message_opens_a_chat(self) -> None:
        """carol's private message opens a chat with her (not shown, unread) in any case of her name."""
        self.in_three()
        self.private("hello", sender="carol")
        self.private("again", sender="Carol")
        chat = self.conversation("private:carol")
        self.assertEqual((chat.title, chat.unread, self.model.current), ("carol", 2, "session:2"))
        self.model.leave("private:carol")
        self.assertNotIn("private:carol", self.model.conversations)

    def test_a_refused_private_message_can_be_sent_again(self) -> None:
        """no_such_user marks the message failed with the server's words, and resendable."""
        self.in_three()
        self.model.open_private("bob")
        self.model.send("are you there?")
        (private,) = self.sent()
        self.answer({"type": "error", "code": "no_such_user", "message": "Nobody is called bob."}, private)
        line = self.conversation("private:bob").lines[-1]
        self.assertEqual((line.delivery, line.note, line.resendable), (Delivery.FAILED, "Not sent: Nobody is called bob.", True))
        self.assertTrue(self.model.resend(line.serial))
        self.assertEqual(self.sent()[0]["to"], "bob")


class GroupingAndDayTests(ConversationTestCase):
    def lines(self) -> list[Any]:
        return [line for line in self.model.conversation.lines if line.sender]

    def test_grouped_under_4_59_not_at_5_00(self) -> None:
        """bob at t, t+4:59 (grouped), t+9:59 (5:00 later: not), then alice (not), then bob (not)."""
        self.in_three()
        t = self.clock.seconds()
        for offset, sender in ((0, "bob"), (299, "bob"), (599, "bob"), (600, "alicia"), (601, "bob")):
            self.message(2, f"at {offset}", sender=sender, ts=t + offset)
        self.assertEqual([line.grouped for line in self.lines()], [False, True, False, False, False])

    def test_a_notice_or_an_action_breaks_a_group(self) -> None:
        """A system line between two of bob's messages, or an action, starts a new group."""
        self.in_three()
        t = self.clock.seconds()
        self.message(2, "one", ts=t)
        self.event({"type": "member_joined", "session": 2, "name": "dave", "joined": t})
        self.message(2, "two", ts=t + 1)
        self.message(2, "waves", ts=t + 2, action=True)
        self.message(2, "three", ts=t + 3)
        self.message(2, "four", ts=t + 4)
        self.assertEqual([line.grouped for line in self.lines()], [False, False, False, False, True])

    def test_the_date_where_the_day_changes(self) -> None:
        """bob at 23:58 and at 00:01 the next day (3 minutes later): a date line between, not grouped."""
        self.in_three()
        self.message(2, "late", ts=local(2026, 12, 1, 23, 58))
        self.message(2, "early", ts=local(2026, 12, 2, 0, 1))
        lines = self.model.conversation.lines
        self.assertEqual((lines[-2].kind, lines[-2].text), (LineKind.DAY, "Wednesday 2 December 2026"))
        self.assertFalse(lines[-1].grouped)

    def test_the_date_above_a_conversation_and_its_history(self) -> None:
        """A join's history starts with its date; the divider after it gets today's when that is another day."""
        self.clock.advance(local(2026, 12, 1, 9, 0) - self.clock.seconds())
        self.model.start()
        self.join(SESSIONS[1], history=2)
        for ts in (local(2026, 11, 30, 18, 0), local(2026, 11, 30, 18, 1)):
            self.event({"type": "history", "session": 10, "from": "bob", "text": "before", "ts": ts})
        kinds = [(line.kind, line.text if line.kind is LineKind.DAY else "", line.grouped)
                 for line in self.model.conversation.lines[:5]]
        self.assertEqual(
            kinds,
            [
                (LineKind.DAY, "Monday 30 November 2026", False),
                (LineKind.MESSAGE, "", False),
                (LineKind.MESSAGE, "", True),
                (LineKind.DAY, "Tuesday 1 December 2026", False),
                (LineKind.DIVIDER, "", False),
            ],
        )


class SessionDetailsTests(ConversationTestCase):
    def test_topic_from_the_session_and_its_changes(self) -> None:
        """The topic comes with the session; topic_changed updates it and says who set it."""
        self.model.start()
        self.join({**SESSIONS[1], "topic": "plants"})
        self.assertEqual(self.model.chat.session.topic, "plants")
        self.event({"type": "topic_changed", "session": 10, "topic": "trees", "by": "bob", "ts": 5000.0})
        self.assertEqual(self.model.chat.session.topic, "trees")
        self.assertEqual(self.model.chat.lines[-1].text, "bob set the topic: trees")
        self.assertIn(Aspect.HEADER, self.view.rendered)
        self.event({"type": "topic_changed", "session": 10, "topic": "", "by": "alice", "ts": 5001.0})
        self.assertEqual(self.model.chat.lines[-1].text, "You cleared the topic.")

    def test_away_members(self) -> None:
        """A member object's away, then member_away (away and back), show in the member list."""
        self.model.start()
        members = [
            {"name": "bob", "joined": 1000.0, "admin": False, "away": "at lunch"},
            {"name": "alice", "joined": 1010.0, "admin": False, "away": None},
        ]
        self.join(SESSIONS[1], members=members)
        self.assertEqual([m.away for m in self.model.chat.members], ["at lunch", None])
        self.event({"type": "member_away", "session": 10, "name": "bob", "away": None})
        self.assertEqual(self.model.chat.members[0].away, None)
        self.event({"type": "member_away", "session": 10, "name": "bob", "away": "meeting"})
        self.assertEqual(self.model.chat.members[0].away, "meeting")
        self.assertIn(Aspect.MEMBERS, self.view.rendered)

    def test_modes_renames_and_invitations_are_said(self) -> None:
        """mode_changed and member_renamed in their session; an invitation where you look; nick_changed everywhere."""
        self.in_three()
        self.private("hi")
        self.event({"type": "mode_changed", "session": 10, "by": "bob", "mode": "+l", "parameter": "10"})
        self.assertEqual(self.conversation("session:10").lines[-1].text, "bob set the mode +l 10.")
        self.event({"type": "member_renamed", "session": 1, "old": "bob", "name": "robert"})
        self.assertEqual(self.conversation("session:1").lines[-1].text, "bob is now known as robert.")
        self.assertEqual(self.conversation("session:1").members[0].name, "robert")
        self.assertIn("private:robert", self.model.conversations, "the private chat follows the rename")
        self.event({"type": "invited", "session": 7, "name": "mango", "by": "carol"})
        self.assertEqual(self.conversation("session:2").lines[-1].text,
                         "carol invited you to mango: join it from the session list (+ Join / create).")
        self.event({"type": "nick_changed", "old": "alice", "name": "alicia"})
        self.assertEqual(self.model.nick, "alicia")
        for key in ("session:10", "session:1", "session:2"):
            self.assertEqual(self.conversation(key).you, "alicia")
            self.assertEqual(self.conversation(key).lines[-1].text, "You are now known as alicia (you were alice).")
