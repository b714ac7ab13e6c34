"""History in the domain and the doors: scrollback, restore after restart, acks after commit, hashing."""

import json
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.testing import StringTransport
from twisted.logger import Logger, LogLevel, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from glozi.domain.errors import ChatError
from glozi.domain.events import Message
from glozi.domain.names import name_key
from glozi.doors.irc import wire as irc_wire
from glozi.doors.irc.protocol import IRCFactory
from glozi.doors.native import wire
from glozi.doors.native.protocol import NativeFactory
from glozi.storage.passwords import verify_password
from glozi.storage.store import MemoryStore, StoredMessage, StoredSession, StoreError
from tests.helpers import BrokenStore, connect, done, make_server, quick_passwords


class ScrollbackTests(SynchronousTestCase):
    def test_late_joiner_gets_the_last_messages(self) -> None:
        """A member who joins late receives the session's last N messages, oldest first."""
        server, clock = make_server(scrollback=3)
        alice, _ = connect(server)
        done(alice.join(2, "alice"))
        for n in range(5):
            clock.advance(1)
            done(alice.say(f"message {n}"))
        bob, _ = connect(server)
        joined = done(bob.join(2, "bob"))
        self.assertEqual([(m.sender, m.text) for m in joined.history], [("alice", f"message {n}") for n in (2, 3, 4)])

    def test_scrollback_zero_sends_none(self) -> None:
        """--scrollback 0: no history on joining."""
        server, _ = make_server(scrollback=0)
        alice, _ = connect(server)
        done(alice.join(2, "alice"))
        done(alice.say("hi"))
        bob, _ = connect(server)
        self.assertEqual(done(bob.join(2, "bob")).history, ())


class DurabilityTests(SynchronousTestCase):
    def test_ack_waits_for_the_commit_but_delivery_does_not(self) -> None:
        """The others get the message at once; the sender's answer comes only when the store committed it."""
        store = MemoryStore()
        commits: list[Deferred[None]] = []
        store.add_message = lambda message: commits.append(Deferred()) or commits[-1]  # type: ignore[method-assign]
        server, _ = make_server(store=store)
        alice, _ = connect(server)
        bob, bob_conn = connect(server)
        done(alice.join(1, "alice"))
        done(bob.join(1, "bob"))
        acked = alice.say("durable?")
        self.assertEqual([e.text for e in bob_conn.of_type(Message)], ["durable?"])
        self.assertNoResult(acked)
        commits[0].callback(None)
        self.assertEqual(self.successResultOf(acked).text, "durable?")

    def test_failed_commit_is_reported_and_not_in_history(self) -> None:
        """A message the store could not commit fails with not_stored and is not shown as history."""
        server, _ = make_server(store=BrokenStore())
        alice, _ = connect(server)
        done(alice.join(1, "alice"))
        error = self.failureResultOf(alice.say("lost"), ChatError).value
        self.assertEqual(error.code, "not_stored")
        bob, _ = connect(server)
        self.assertEqual(done(bob.join(1, "bob")).history, ())
        self.flushLoggedErrors(StoreError)


class RestoreTests(SynchronousTestCase):
    def run_first_server(self) -> MemoryStore:
        store = MemoryStore()
        server, clock = make_server(store=store)
        alice, _ = connect(server)
        bob, _ = connect(server)
        done(alice.create("garden", "alice", "12345"))
        done(bob.create("shed", "bob", None))
        done(bob.run_command("close", ""))
        clock.advance(1)
        done(alice.say("before the crash"))
        carol, _ = connect(server)
        done(carol.join(3, "carol"))
        done(carol.say("fruit talk"))
        return store

    def test_sessions_and_history_come_back(self) -> None:
        """After a restart the created sessions are back with the same ids, names, creators and locks,
        with their history; closed sessions stay gone and their ids are not given again."""
        store = self.run_first_server()
        self.assertNotIn("12345", repr(store.sessions))
        self.assertTrue(verify_password("12345", store.sessions[10].password_hash))
        server, _ = make_server(store=store)
        server.restore(store.snapshot(50))
        garden = next(s for s in server.list_sessions() if s.id == 10)
        self.assertEqual((garden.name, garden.creator, garden.locked, garden.member_count), ("garden", "alice", True, 0))
        self.assertNotIn("shed", [s.name for s in server.list_sessions()])
        dave, _ = connect(server, "192.0.2.9")
        refusal = self.failureResultOf(dave.join(10, "dave", "11111"), ChatError).value
        self.assertEqual(refusal.code, "wrong_password")
        joined = done(dave.join(10, "dave", "12345"))
        self.assertEqual(joined.session.admin, "dave", "the first member back becomes admin")
        self.assertEqual([m.text for m in joined.history], ["before the crash"])
        self.assertEqual([m.text for m in server.sessions[3].history], ["fruit talk"], "built-in sessions too")
        erin, _ = connect(server)
        self.assertEqual(done(erin.create("attic", "erin", None)).session.id, 12)

    def test_restored_empty_session_stays_until_used(self) -> None:
        """A restored session with nobody in it stays listed; it goes when its last member leaves."""
        store = self.run_first_server()
        server, _ = make_server(store=store)
        server.restore(store.snapshot(50))
        self.assertIn(10, server.sessions)
        frank, _ = connect(server)
        done(frank.join(10, "frank", "12345"))
        done(frank.run_command("quit", ""))
        self.assertNotIn(10, server.sessions)
        self.assertNotIn(10, store.sessions)
        self.assertNotIn(10, store.messages)


class NoBuiltinSessionsTests(SynchronousTestCase):
    def test_without_built_in_sessions_their_history_waits_for_them(self) -> None:
        """--no-builtin-sessions: none of the nine is listed, the first created session is 10 (not 1) and
        starts empty although a previous run stored kiwi's history; with them back on, kiwi has it again."""
        store = MemoryStore()
        store.add_message(StoredMessage(2, "alice", "kiwi talk", 5.0))
        server, _ = make_server(store=store, builtin_sessions=False)
        server.restore(store.snapshot(50))
        self.assertEqual(server.list_sessions(), [])
        alice, _ = connect(server)
        joined = done(alice.create("garden", "alice", None))
        self.assertEqual((joined.session.id, joined.history), (10, ()))
        done(alice.say("garden talk"))
        server, _ = make_server(store=store)
        server.restore(store.snapshot(50))
        self.assertEqual([s.name for s in server.list_sessions()][-2:], ["cactus", "garden"])
        self.assertEqual([m.text for m in server.sessions[2].history], ["kiwi talk"])
        self.assertEqual([m.text for m in server.sessions[10].history], ["garden talk"])

    def test_a_session_named_like_a_built_in_one_waits_while_they_are_on(self) -> None:
        """A `kiwi` created with --no-builtin-sessions is not restored beside the built-in kiwi, but is once they are off again."""
        store = MemoryStore()
        server, _ = make_server(store=store, builtin_sessions=False)
        alice, _ = connect(server)
        self.assertEqual(done(alice.create("kiwi", "alice", None)).session.id, 10)
        server, _ = make_server(store=store)
        server.restore(store.snapshot(50))
        self.assertEqual([s.id for s in server.list_sessions() if s.name == "kiwi"], [2])
        server, _ = make_server(store=store, builtin_sessions=False)
        server.restore(store.snapshot(50))
        self.assertEqual([(s.id, s.name) for s in server.list_sessions()], [(10, "kiwi")])


class RestoreClashTests(SynchronousTestCase):
    """A stored session that clashes with a built-in one (docs/history.md): it is not restored, the log says so."""

    def restore_logging(self, store: MemoryStore, **options: Any) -> tuple[Any, list[dict[str, Any]]]:
        server, _ = make_server(store=store, **options)
        logged: list[dict[str, Any]] = []
        server.log = Logger(observer=logged.append)
        server.restore(store.snapshot(50))
        return server, logged

    def assert_clash_logged(self, logged: list[dict[str, Any]], session_id: int, name: str) -> None:
        warnings = [formatEvent(event) for event in logged if event["log_level"] is LogLevel.warn]
        self.assertEqual(warnings, [f"Not restoring session {session_id} ({name}): it clashes"])

    def test_a_stored_session_with_a_built_in_id_is_not_restored(self) -> None:
        """A stored session with id 2 (kiwi's, from a damaged database) is not restored: session 2 stays the
        built-in kiwi with its own history, the stored name is nowhere, and the log names the clash."""
        store = MemoryStore()
        store.add_session(StoredSession(2, "intruder", 5.0, "mallory", None))
        store.add_message(StoredMessage(2, "alice", "kiwi talk", 6.0))
        server, logged = self.restore_logging(store)
        kiwi = server.sessions[2].info()
        self.assertEqual((kiwi.name, kiwi.creator, kiwi.locked), ("kiwi", "server", False))
        self.assertNotIn("intruder", [s.name for s in server.list_sessions()])
        self.assertIsNone(server.session_named("intruder"))
        self.assertEqual([m.text for m in server.sessions[2].history], ["kiwi talk"])
        self.assert_clash_logged(logged, 2, "intruder")
        self.assertIn(2, store.sessions, "nothing is deleted from the database")

    def test_ids_1_to_9_stay_the_built_in_ones_with_them_off(self) -> None:
        """--no-builtin-sessions: a stored session with id 9 (cactus's) is not restored either (ids 1-9 stay
        theirs), so cactus's history is shown in no session, and the first created session is still 10."""
        store = MemoryStore()
        store.add_session(StoredSession(9, "intruder", 5.0, "mallory", None))
        store.add_message(StoredMessage(9, "alice", "cactus talk", 6.0))
        server, logged = self.restore_logging(store, builtin_sessions=False)
        self.assertEqual(server.list_sessions(), [])
        self.assertIsNone(server.session_named("intruder"))
        self.assert_clash_logged(logged, 9, "intruder")
        alice, _ = connect(server)
        joined = done(alice.create("garden", "alice", None))
        self.assertEqual((joined.session.id, joined.history), (10, ()))

    def test_a_stored_session_named_like_a_built_in_one_in_any_case_is_not_restored(self) -> None:
        """A stored `Kiwi` (id 10, created while the built-in sessions were off) clashes with the built-in kiwi:
        kiwi stays id 2 with its history, `Kiwi`'s history is shown nowhere, the log names it, and its id is not
        given again."""
        store = MemoryStore()
        store.add_session(StoredSession(10, "Kiwi", 5.0, "alice", None))
        store.add_message(StoredMessage(2, "bob", "built-in kiwi talk", 6.0))
        store.add_message(StoredMessage(10, "alice", "created kiwi talk", 7.0))
        server, logged = self.restore_logging(store)
        kiwis = [(s.id, s.name) for s in server.list_sessions() if name_key(s.name) == "kiwi"]
        self.assertEqual(kiwis, [(2, "kiwi")])
        self.assertNotIn(10, server.sessions)
        self.assertEqual([m.text for m in server.session_named("KIWI").history], ["built-in kiwi talk"])
        self.assert_clash_logged(logged, 10, "Kiwi")
        alice, _ = connect(server)
        self.assertEqual(done(alice.create("garden", "alice", None)).session.id, 11)
        self.assertIn(10, store.sessions, "it waits in the database for --no-builtin-sessions")

    def test_sessions_that_clash_with_nothing_are_restored_beside_a_clashing_one(self) -> None:
        """Only the clashing session is left out: the stored sessions before and after it are restored."""
        store = MemoryStore()
        for stored in (
            StoredSession(10, "garden", 5.0, "alice", None),
            StoredSession(11, "kiwi", 5.0, "bob", None),
            StoredSession(12, "shed", 5.0, "carol", None),
        ):
            store.add_session(stored)
        server, logged = self.restore_logging(store)
        self.assertEqual(
            [(s.id, s.name) for s in server.list_sessions()][-3:], [(9, "cactus"), (10, "garden"), (12, "shed")]
        )
        self.assert_clash_logged(logged, 11, "kiwi")


class HashingTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.hashes: list[Deferred[Any]] = []
        passwords = quick_passwords()
        real_verify = passwords.verify

        def slow_verify(password: str, encoded: str) -> "Deferred[bool]":
            pending: Deferred[bool] = Deferred()
            self.hashes.append(pending)
            pending.addCallback(lambda _: done(real_verify(password, encoded)))
            return pending

        passwords.verify = slow_verify  # type: ignore[method-assign]
        self.server, self.clock = make_server(passwords=passwords)
        owner, _ = connect(self.server)
        done(owner.create("vault", "owner", "31415"))

    def test_one_join_at_a_time_while_hashing(self) -> None:
        """While a password is being checked, the same connection cannot start another join."""
        guest, _ = connect(self.server)
        pending = guest.join(10, "guest", "31415")
        self.assertNoResult(pending)
        self.assertEqual(self.failureResultOf(guest.join(1, "guest"), ChatError).value.code, "wrong_state")
        self.hashes[0].callback(None)
        self.assertEqual(self.successResultOf(pending).you, "guest")

    def test_world_moving_on_during_the_check(self) -> None:
        """A session closed, or a connection gone, while the password is checked: nobody is admitted."""
        guest, _ = connect(self.server)
        gone, _ = connect(self.server)
        pending = guest.join(10, "guest", "31415")
        leaving = gone.join(10, "gone", "31415")
        gone.disconnected()
        self.hashes[1].callback(None)
        self.assertEqual(self.failureResultOf(leaving, ChatError).value.code, "wrong_state")
        done(self.server.sessions[10].admin.participant.run_command("close", ""))
        self.hashes[0].callback(None)
        self.assertEqual(self.failureResultOf(pending, ChatError).value.code, "no_such_session")


class NativeDoorHistoryTests(SynchronousTestCase):
    def client(self, factory: NativeFactory) -> tuple[Any, StringTransport]:
        protocol = factory.buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        transport.clear()
        return protocol, transport

    def test_joined_then_history_frames_then_live(self) -> None:
        """The joined answer says how many history frames follow; they come next, before anything live."""
        server, clock = make_server()
        factory = NativeFactory(server, "box")
        alice, _ = self.client(factory)
        alice.dataReceived(b'{"type":"join","session":4,"username":"alice","id":1}\n')
        for text in ("one", "two"):
            clock.advance(0.5)
            alice.dataReceived(json.dumps({"type": "say", "text": text}).encode() + b"\n")
        bob, bob_out = self.client(factory)
        bob.dataReceived(b'{"type":"join","session":4,"username":"bob","id":"j"}\n')
        clock.advance(0.5)
        alice.dataReceived(b'{"type":"say","text":"three"}\n')
        frames = [wire.parse_frame(line) for line in bob_out.value().splitlines()]
        self.assertEqual([f["type"] for f in frames], ["joined", "history", "history", "message"])
        self.assertEqual((frames[0]["id"], frames[0]["history"]), ("j", 2))
        self.assertEqual([(f["from"], f["text"]) for f in frames[1:]], [("alice", "one"), ("alice", "two"), ("alice", "three")])
        self.assertNotIn("id", frames[1])

    def test_not_stored_error_answers_the_say(self) -> None:
        """A failed commit answers the say with a not_stored error carrying its id, never an ack."""
        server, _ = make_server(store=BrokenStore())
        alice, out = self.client(NativeFactory(server, "box"))
        alice.dataReceived(b'{"type":"join","session":4,"username":"alice"}\n')
        out.clear()
        alice.dataReceived(b'{"type":"say","text":"lost","id":7}\n')
        [answer] = [wire.parse_frame(line) for line in out.value().splitlines()]
        self.assertEqual((answer["type"], answer["code"], answer["id"]), ("error", "not_stored", 7))
        self.flushLoggedErrors(StoreError)


class IRCDoorHistoryTests(SynchronousTestCase):
    def test_history_as_notices_after_names(self) -> None:
        """An IRC joiner gets the history as server NOTICEs to the channel, framed, after NAMES."""
        server, clock = make_server()
        server.sessions[2].history.append(Message(session_id=2, sender="alice", text="hello there", sent_at=0.0))
        factory = IRCFactory(server, "box", clock)
        protocol = factory.buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(b"NICK bob\r\nUSER bob 0 * :Bob\r\n")
        transport.clear()
        protocol.dataReceived(b"JOIN #kiwi\r\n")
        lines = [irc_wire.parse_line(raw) for raw in transport.value().splitlines()]
        commands = [line.command for line in lines]
        self.assertEqual(commands[-3:], ["NOTICE", "NOTICE", "NOTICE"])
        self.assertLess(commands.index("366"), commands.index("NOTICE"))
        self.assertEqual(lines[-2].params, ["#kiwi", "[1970-01-01 00:00:00] <alice> hello there"])
        self.assertIn("History", lines[-3].params[1])

    def test_irc_store_failure_is_a_notice(self) -> None:
        """IRC has no acknowledgement; a message that could not be stored is reported by a NOTICE."""
        server, clock = make_server(store=BrokenStore())
        server.store.add_session = lambda session: succeed(None)  # type: ignore[method-assign]
        factory = IRCFactory(server, "box", clock)
        protocol = factory.buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(b"NICK bob\r\nUSER bob 0 * :Bob\r\nJOIN #kiwi\r\n")
        transport.clear()
        protocol.dataReceived(b"PRIVMSG #kiwi :lost\r\n")
        [line] = [irc_wire.parse_line(raw) for raw in transport.value().splitlines()]
        self.assertEqual(line.command, "NOTICE")
        self.assertIn("could not store", line.params[1])
        self.flushLoggedErrors(StoreError)


class StoredMessageTests(SynchronousTestCase):
    def test_memory_store_snapshot_is_bounded(self) -> None:
        """The in-memory store keeps ``retention`` messages and restores the last ``history_limit``."""
        store = MemoryStore(retention=5)
        for n in range(8):
            store.add_message(StoredMessage(1, "a", str(n), float(n)))
        self.assertEqual([m.text for m in store.snapshot(3).history[1]], ["5", "6", "7"])
