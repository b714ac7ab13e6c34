"""A real cluster's faults (docs/cluster.md, *Guarantees*): Redis restarted under load, PostgreSQL halted,
a node restarted under its name after SIGKILL, one nick taken on two nodes at once."""

import os
import signal
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import LoopingCall, deferLater
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from tests.realcluster import (
    PRESENCE_TIMEOUT,
    irc_user,
    kill_node,
    native_user,
    nick_holder,
    others,
    start_node,
    start_nodes,
    stored_messages,
)
from tests.realthings import Postgres, fresh_database, shared_redis, start_redis
from tests.test_client_reconnect import wait_for

AVOCADO = 1
NOT_STORED = "The server could not store your message: nobody got it; send it again."
"""docs/cluster.md, *PostgreSQL unavailable*."""
TAKEN_AT_ONCE = (
    "The name dana was taken on another server of this network at the same moment; connect again with another name."
)
"""docs/cluster.md, *Names and sessions*: the Killed text of the later of two users taking one nick at once."""


class ClusterFaultTests(TestCase):
    timeout = 90

    @inlineCallbacks
    def test_redis_restarted_under_load_loses_nothing_and_delivery_resumes(self) -> Any:
        """Two nodes talk through a Redis that is restarted (empty) while they do: no acknowledged message lost
        or doubled, every member's in the committed order, nobody taken for gone, and afterwards a message
        from n1 alone reaches n2's members over the bus by itself."""
        redis = start_redis(os.path.abspath(self.mktemp()))
        self.addCleanup(redis.stop)
        db = fresh_database(self)
        n1, n2 = yield start_nodes(self, ["n1", "n2"], db, redis.url)
        amy = yield native_user(self, n1.port, "amy")
        ben = yield native_user(self, n2.port, "ben")
        cat = yield native_user(self, n2.port, "cat")
        for user in (amy, ben, cat):
            yield user.join(AVOCADO)
        ticks = iter(range(1, 10_000))

        def talk() -> None:
            number = next(ticks)
            for user in (amy, ben):
                user.say(AVOCADO, f"{user.name} {number}").addErrback(lambda _: None)

        loop = LoopingCall(talk)
        loop.start(0.05)
        self.addCleanup(lambda: loop.running and loop.stop())
        yield deferLater(reactor, 0.7, lambda: None)
        yield deferToThread(redis.restart)
        yield deferLater(reactor, 2.0, lambda: None)
        loop.stop()
        yield wait_for("every answer", lambda: not amy._answers and not ben._answers)

        stored = stored_messages(db)[AVOCADO]
        for user in (amy, ben):
            self.assertEqual(user.refused, [], "PostgreSQL stayed up: every message was stored")
            self.assertEqual(user.acked[AVOCADO], [text for sender, text in stored if sender == user.name])
        yield wait_for(
            "every stored message delivered",
            lambda: all(user.messages[AVOCADO] == others(stored, user.name) for user in (amy, ben, cat)),
        ).addErrback(lambda f: (print("DIFF", [(u.name, [(i, a, b) for i, (a, b) in enumerate(zip(u.messages[AVOCADO], others(stored, u.name))) if a != b][:6]) for u in (amy, ben, cat)], [(u.name, len(u.messages[AVOCADO]), len(others(stored, u.name)), [m for m in others(stored, u.name) if m not in u.messages[AVOCADO]], [m for m in u.messages[AVOCADO] if m not in others(stored, u.name)]) for u in (amy, ben, cat)]), f)[1])
        for user in (amy, ben, cat):
            self.assertEqual(user.of_type("member_left"), [], "nobody was taken for gone")

        # Only n1 talks now: nothing on n2 makes it read the store, so this comes over the bus again.
        last = yield amy.say(AVOCADO, "after the restart")
        self.assertEqual(last["type"], "ack")
        yield wait_for("the bus carries n1's messages to n2", lambda: cat.messages[AVOCADO][-1:] == [("amy", "after the restart")])

    @inlineCallbacks
    def test_postgresql_halted_refuses_new_messages_and_service_resumes_by_itself(self) -> Any:
        """PostgreSQL (the test's own) is halted: a message is refused with not_stored and the documented text,
        and nobody gets it; it is started again: the next message is acknowledged and delivered, with no node
        restarted, and a newcomer's history has every acknowledged message."""
        postgres = Postgres()
        self.addCleanup(postgres.stop)
        yield deferToThread(postgres.start)
        db = postgres.dsn("postgres")
        n1, n2 = yield start_nodes(self, ["n1", "n2"], db, shared_redis().url)
        amy = yield native_user(self, n1.port, "amy")
        ben = yield native_user(self, n2.port, "ben")
        for user in (amy, ben):
            yield user.join(AVOCADO)
        irc = yield irc_user(self, n2.irc_port, "ivy", "#avocado")
        before = yield amy.say(AVOCADO, "before")
        self.assertEqual(before["type"], "ack")
        yield wait_for("ben hears amy", lambda: ben.messages[AVOCADO] == [("amy", "before")])

        yield deferToThread(postgres.halt)
        refused = yield amy.say(AVOCADO, "while it is down")
        self.assertEqual((refused["type"], refused["code"], refused["message"]), ("error", "not_stored", NOT_STORED))
        irc.say("#avocado", "ivy while it is down")
        yield wait_for("ivy told", lambda: any(NOT_STORED in line and " NOTICE " in line for line in irc.lines))
        yield deferToThread(postgres.resume)

        after = yield amy.say(AVOCADO, "after")
        self.assertEqual(after["type"], "ack", "the next message after PostgreSQL is back is stored")
        yield wait_for("ben hears amy again", lambda: ben.messages[AVOCADO][-1:] == [("amy", "after")])
        yield wait_for("ivy hears amy again", lambda: irc.messages["#avocado"][-1:] == [("amy", "after")])
        self.assertEqual(ben.messages[AVOCADO], [("amy", "before"), ("amy", "after")], "nobody got the refused ones")
        self.assertEqual(irc.messages["#avocado"], [("amy", "before"), ("amy", "after")])
        self.assertTrue(n1.exited is False and n2.exited is False, "no node stopped")
        newcomer = yield native_user(self, n2.port, "dan")
        joined = yield newcomer.join(AVOCADO)
        yield wait_for("dan's history", lambda: len(newcomer.of_type("history")) == joined["history"])
        self.assertEqual([frame["text"] for frame in newcomer.of_type("history")], ["before", "after"])

    @inlineCallbacks
    def test_a_node_restarted_under_its_name_after_sigkill(self) -> Any:
        """n1 is SIGKILLed and started again as n1: n2's members see its old users leave (disconnected) and its
        new ones join, and its list of names has the new ones only; a returning user gets the old name back."""
        db, redis = fresh_database(self), shared_redis()
        n1, n2 = yield start_nodes(self, ["n1", "n2"], db, redis.url)
        old = yield native_user(self, n1.port, "olly")
        gone = yield irc_user(self, n1.irc_port, "gus", "#avocado")
        yield old.join(AVOCADO)
        watcher = yield native_user(self, n2.port, "wes")
        yield watcher.join(AVOCADO)
        ivy = yield irc_user(self, n2.irc_port, "ivy", "#avocado")
        names = yield ivy.names("#avocado")
        self.assertEqual(sorted(names), ["gus", "ivy", "olly", "wes"])

        yield kill_node(n1)
        killed_at = reactor.seconds()
        again = yield start_node(self, "n1", db, redis.url)
        back = yield native_user(self, again.port, "olly")
        yield back.join(AVOCADO)
        fresh = yield native_user(self, again.port, "nia")
        joined = yield fresh.join(AVOCADO)
        self.assertEqual(sorted(member["name"] for member in joined["members"]), ["ivy", "nia", "olly", "wes"])
        yield wait_for("wes sees nia", lambda: any(f["name"] == "nia" for f in watcher.of_type("member_joined")))
        changes = [(f["type"], f["name"]) for _, f in watcher.frames if f.get("type") in ("member_joined", "member_left")]
        self.assertEqual(changes[0], ("member_joined", "ivy"))
        self.assertEqual(set(changes[1:3]), {("member_left", "olly"), ("member_left", "gus")})
        self.assertEqual(changes[3:], [("member_joined", "olly"), ("member_joined", "nia")])
        self.assertEqual({f["reason"] for f in watcher.of_type("member_left")}, {"disconnected"})
        self.assertLessEqual(max(watcher.left[AVOCADO].values()) - killed_at, PRESENCE_TIMEOUT)
        names = yield ivy.names("#avocado")
        self.assertEqual(sorted(names), ["ivy", "nia", "olly", "wes"])
        self.assertTrue(gone.lost.called)

    @inlineCallbacks
    def test_one_nick_taken_on_two_nodes_at_once(self) -> Any:
        """The bus is held still (Redis stopped with SIGSTOP) so that n2 cannot know n1 gave dana away: both
        take dana, the record keeps n1's, and n2's dana gets killed with the documented text; n1's stays in
        avocado on every node, and a node started afterwards lists her once."""
        redis = start_redis(os.path.abspath(self.mktemp()))
        self.addCleanup(redis.stop)
        db = fresh_database(self)
        n1, n2 = yield start_nodes(self, ["n1", "n2"], db, redis.url)
        first = yield native_user(self, n1.port, "dana")
        second = yield native_user(self, n2.port, "dana")
        ivy = yield irc_user(self, n2.irc_port, "ivy", "#avocado")

        redis.process.send_signal(signal.SIGSTOP)
        try:
            yield first.join(AVOCADO)
            yield wait_for("n1's claim committed", lambda: nick_holder(db, "dana") == "n1")
            answer = yield second.request(type="join", session=AVOCADO, username="dana")
            yield wait_for("the later dana disconnected", lambda: second.closed)
        finally:
            redis.process.send_signal(signal.SIGCONT)
        self.assertEqual(answer["type"], "joined", "n2 could not know: it let her in for a moment")
        killed = second.of_type("killed")
        self.assertEqual([(frame["by"], frame["reason"]) for frame in killed], [("server", TAKEN_AT_ONCE)])
        self.assertEqual(nick_holder(db, "dana"), "n1")
        self.assertFalse(first.closed)

        yield deferLater(reactor, 1.0, lambda: None)
        lou = yield irc_user(self, n1.irc_port, "lou", "#avocado")
        for looker in (lou, ivy):
            names = yield looker.names("#avocado")
            self.assertEqual(names.count("dana"), 1, f"dana in avocado as {looker.nick}'s node lists it")
        n3 = yield start_node(self, "n3", db, redis.url)
        late = yield irc_user(self, n3.irc_port, "lee", "#avocado")
        names = yield late.names("#avocado")
        self.assertIn("dana", names, "the record still has n1's dana in avocado")
        said = yield first.say(AVOCADO, "still here")
        self.assertEqual(said["type"], "ack")
        yield wait_for("lee hears dana", lambda: late.messages["#avocado"] == [("dana", "still here")])
