"""RedisBus: its reconnection rules in memory, then the wire against a real redis-server."""

import json
import os
from itertools import count
from typing import Any

from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import inlineCallbacks
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.task import LoopingCall, deferLater
from twisted.internet.testing import MemoryReactorClock, StringTransportWithDisconnection
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from glozi.fanout import bus as bus_module
from glozi.fanout.bus import (
    DEFAULT_CHANNEL,
    RedisBus,
    RedisUnavailable,
    client_names,
    parse_redis_url,
    retry_delay,
)
from tests.realthings import RedisServer, redis_command, shared_redis, start_redis
from tests.test_client_reconnect import POLL_SECONDS, wait_for

SUBSCRIBED = b"*3\r\n$9\r\nsubscribe\r\n$12\r\nglozi:events\r\n:1\r\n"


def bulk(payload: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(payload), payload)


def pushed(payload: bytes) -> bytes:
    """What Redis sends a subscriber for one message on glozi:events."""
    return b"*3\r\n" + bulk(b"message") + bulk(b"glozi:events") + bulk(payload)


def recording_bus(test: Any, url: str, channel: str = DEFAULT_CHANNEL) -> RedisBus:
    """A bus (not started) that keeps what it receives in ``received`` and counts its resubscriptions;
    stopped at ``test``'s cleanup."""
    bus = RedisBus(reactor, url, channel=channel)
    bus.received = []
    bus.resubscribed = 0
    bus.on_message = bus.received.append

    def resubscribed() -> None:
        bus.resubscribed += 1

    bus.on_resubscribed = resubscribed
    test.addCleanup(bus.stop)
    return bus


class ParseRedisUrlTests(SynchronousTestCase):
    def test_host_port_and_database_are_read(self) -> None:
        """redis://HOST:PORT/DB gives the three parts; the database defaults to 0 and the port to 6379."""
        self.assertEqual(parse_redis_url("redis://10.0.0.5:6380/2"), ("10.0.0.5", 6380, 2))
        self.assertEqual(parse_redis_url("redis://redis.lan:6379"), ("redis.lan", 6379, 0))
        self.assertEqual(parse_redis_url("redis://redis.lan:6379/"), ("redis.lan", 6379, 0))
        self.assertEqual(parse_redis_url("redis://redis.lan"), ("redis.lan", 6379, 0))
        self.assertEqual(parse_redis_url("redis://[::1]:7000/1"), ("::1", 7000, 1))

    def test_bad_addresses_are_refused_with_the_reason(self) -> None:
        """Each malformed address fails with a ValueError that names what is wrong."""
        cases = {
            "http://h:6379": "must start with redis://",
            "rediss://h:6379": "must start with redis://",
            "h:6379": "must start with redis://",
            "redis://:6379": "no host",
            "redis://h:port": "expected redis://HOST:PORT[/DB]",
            "redis://h:70000": "expected redis://HOST:PORT[/DB]",
            "redis://h:0": "port 0",
            "redis://h:6379/one": "the database must be a number",
            "redis://h:6379/-1": "the database must be a number",
            "redis://h:6379/1/2": "the database must be a number",
            "redis://me:secret@h:6379": "passwords are not supported",
            "redis://h:6379/0?timeout=3": "nothing may follow the database number",
        }
        for url, reason in cases.items():
            with self.assertRaises(ValueError, msg=url) as caught:
                parse_redis_url(url)
            self.assertIn(reason, str(caught.exception), url)

    def test_the_bus_refuses_a_bad_address_at_once(self) -> None:
        """RedisBus checks its URL when it is made, not when it first connects."""
        self.assertRaises(ValueError, RedisBus, MemoryReactorClock(), "redis://h:6379/x")


class ClientNamesTests(SynchronousTestCase):
    def test_only_glozi_node_names_are_read_from_a_client_list(self) -> None:
        """name=glozi-node:N gives N; other names and unnamed connections are left out."""
        listing = (
            b"id=3 addr=127.0.0.1:5001 laddr=127.0.0.1:6379 fd=8 name=glozi-node:alpha db=0 sub=1 cmd=subscribe\n"
            b"id=4 addr=127.0.0.1:5002 laddr=127.0.0.1:6379 fd=9 name= db=0 sub=0 cmd=client|list\n"
            b"id=5 addr=127.0.0.1:5003 laddr=127.0.0.1:6379 fd=10 name=monitoring db=0 sub=0 cmd=ping\n"
            b"id=6 addr=127.0.0.1:5004 laddr=127.0.0.1:6379 fd=11 name=glozi-node:host:7557 db=0 sub=1\n"
        )
        self.assertEqual(client_names(listing), {"alpha", "host:7557"})


class BackoffTests(SynchronousTestCase):
    def test_retry_delays_double_from_a_tenth_of_a_second_to_two_seconds(self) -> None:
        """0.1 s, 0.2, 0.4, 0.8, 1.6, then 2 s for ever."""
        self.assertEqual([retry_delay(n) for n in range(1, 8)], [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0])
        self.assertEqual(retry_delay(10_000), 2.0)


class InMemoryBusTests(SynchronousTestCase):
    """The bus on a MemoryReactorClock: each connection it dials is accepted (or
    refused) by the test, which plays Redis on a StringTransport."""

    def setUp(self) -> None:
        self.clock = MemoryReactorClock()
        self.bus = RedisBus(self.clock, "redis://127.0.0.1:6379")
        self.received: list[bytes] = []
        self.resubscribed: list[bool] = []
        self.bus.on_message = self.received.append
        self.bus.on_resubscribed = lambda: self.resubscribed.append(True)
        self.attempts = 0

    def dialled(self) -> int:
        """How many connection attempts the bus made since the last call."""
        made = len(self.clock.tcpClients) - self.attempts
        self.attempts = len(self.clock.tcpClients)
        return made

    def accept(self, index: int = -1) -> StringTransportWithDisconnection:
        host, port, factory, _, _ = self.clock.tcpClients[index]
        protocol = factory.buildProtocol(IPv4Address("TCP", host, port))
        transport = StringTransportWithDisconnection()
        transport.protocol = protocol
        protocol.makeConnection(transport)
        return transport

    def refuse(self, index: int) -> None:
        _, _, factory, _, _ = self.clock.tcpClients[index]
        factory.clientConnectionFailed(None, Failure(ConnectionRefusedError()))

    def connect_both(self) -> tuple[StringTransportWithDisconnection, StringTransportWithDisconnection]:
        """Start the bus and let both its connections in; returns (subscriber, commands)."""
        started = self.bus.start()
        self.assertEqual(self.dialled(), 2)
        subscriber, commands = self.accept(0), self.accept(1)
        self.assertIn(b"SUBSCRIBE", subscriber.value())
        subscriber.protocol.dataReceived(SUBSCRIBED)
        self.clock.advance(0)
        self.successResultOf(started)
        subscriber.clear()
        return subscriber, commands

    def test_start_waits_for_the_subscription_and_the_command_connection(self) -> None:
        """start() fires only once the SUBSCRIBE is confirmed and the command connection is open."""
        started = self.bus.start()
        subscriber = self.accept(0)
        self.assertNoResult(started)
        subscriber.protocol.dataReceived(SUBSCRIBED)
        self.clock.advance(0)
        self.assertNoResult(started)
        self.assertTrue(self.bus.connected)
        self.accept(1)
        self.successResultOf(started)
        self.assertEqual(self.resubscribed, [])

    def test_refused_connections_are_retried_with_the_capped_backoff(self) -> None:
        """While Redis refuses, each connection is tried again after 0.1, 0.2, 0.4, 0.8, 1.6, 2 and 2 s."""
        started = self.bus.start()
        self.assertEqual(self.dialled(), 2)
        for delay in [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]:
            self.refuse(-1)
            self.refuse(-2)
            self.clock.advance(delay - 0.001)
            self.assertEqual(self.dialled(), 0, delay)
            self.clock.advance(0.001)
            self.assertEqual(self.dialled(), 2, delay)
        self.assertNoResult(started)
        self.assertFalse(self.bus.connected)

    def test_a_lost_subscription_comes_back_and_says_so(self) -> None:
        """The subscription drops: connected goes False, the bus dials again 0.1 s later, subscribes,
        and calls on_resubscribed once."""
        subscriber, _ = self.connect_both()
        subscriber.loseConnection()
        self.assertFalse(self.bus.connected)
        self.assertEqual(self.resubscribed, [])
        self.dialled()
        self.clock.advance(0.099)
        self.assertEqual(self.dialled(), 0)
        self.clock.advance(0.001)
        self.assertEqual(self.dialled(), 1)
        again = self.accept()
        self.assertIn(b"SUBSCRIBE", again.value())
        again.protocol.dataReceived(SUBSCRIBED)
        self.clock.advance(0)
        self.assertTrue(self.bus.connected)
        self.assertEqual(self.resubscribed, [True])

    def test_messages_reach_on_message_as_bytes(self) -> None:
        """Each pushed message reaches on_message as the same bytes, even one that looks like a number."""
        subscriber, _ = self.connect_both()
        for payload in [b'{"t":"msg"}', b"123", "héllo 👋".encode()]:
            subscriber.protocol.dataReceived(pushed(payload))
            self.clock.advance(0)
        self.assertEqual(self.received, [b'{"t":"msg"}', b"123", "héllo 👋".encode()])

    def test_messages_are_read_as_they_come_however_the_bytes_are_cut(self) -> None:
        """A thousand messages in one chunk and one message cut into 7-byte pieces all reach on_message at
        once, in order, without waiting for a reactor turn."""
        subscriber, _ = self.connect_both()
        subscriber.protocol.dataReceived(b"".join(pushed(b"%d" % number) for number in range(1000)))
        split = pushed(b'{"text":"' + "é".encode() * 100 + b'"}')
        for start in range(0, len(split), 7):
            subscriber.protocol.dataReceived(split[start : start + 7])
        self.assertEqual(self.received[:1000], [b"%d" % number for number in range(1000)])
        self.assertEqual(self.received[1000:], [b'{"text":"' + "é".encode() * 100 + b'"}'])

    def test_the_messages_of_one_read_are_handed_on_inside_one_receiving_batch(self) -> None:
        """``receiving`` (the doors' write batch) is open once around all the messages of a read."""
        subscriber, _ = self.connect_both()
        batches: list[list[bytes]] = []

        class Batch:
            def __enter__(batch) -> None:
                batches.append([])

            def __exit__(batch, *exc_info: object) -> None:
                pass

        self.bus.receiving = Batch()
        self.bus.on_message = lambda payload: batches[-1].append(payload)
        subscriber.protocol.dataReceived(pushed(b"one") + pushed(b"two"))
        subscriber.protocol.dataReceived(pushed(b"three"))
        self.assertEqual(batches, [[b"one", b"two"], [b"three"]])

    def test_a_reply_the_bus_cannot_read_cuts_the_connection(self) -> None:
        """An unknown reply type, or a bulk string over 16 MiB, cuts the connection; the bus reconnects."""
        subscriber, _ = self.connect_both()
        for garbage in [b"?what\r\n", b"*3\r\n$7\r\nmessage\r\n$12\r\nglozi:events\r\n$16777217\r\n"]:
            subscriber.protocol.dataReceived(garbage)
            self.assertFalse(subscriber.connected, garbage)
            self.assertFalse(self.bus.connected, garbage)
            self.clock.advance(0.1)
            subscriber = self.accept()
            subscriber.protocol.dataReceived(SUBSCRIBED)
            self.assertTrue(self.bus.connected)
        self.assertEqual(self.resubscribed, [True, True])

    def test_a_failing_on_message_does_not_lose_later_messages(self) -> None:
        """on_message raising is logged; the subscription stays and the next message arrives."""
        subscriber, _ = self.connect_both()

        def fragile(payload: bytes) -> None:
            if payload == b"bad":
                raise RuntimeError("bug in the handler")
            self.received.append(payload)

        self.bus.on_message = fragile
        subscriber.protocol.dataReceived(pushed(b"bad"))
        self.clock.advance(0)
        subscriber.protocol.dataReceived(pushed(b"good"))
        self.clock.advance(0)
        self.assertEqual(self.received, [b"good"])
        self.assertTrue(self.bus.connected)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_publishes_while_the_command_connection_is_down_are_dropped_and_counted(self) -> None:
        """Three publishes with the command connection gone: dropped is 3, nothing is queued for later;
        once it is back, publishes are written again."""
        _, commands = self.connect_both()
        self.bus.publish(b"one")
        self.assertIn(b"PUBLISH", commands.value())
        commands.protocol.dataReceived(b":1\r\n")
        commands.loseConnection()
        for payload in [b"two", b"three", b"four"]:
            self.bus.publish(payload)
        self.assertEqual(self.bus.dropped, 3)
        self.clock.advance(0.1)
        again = self.accept()
        self.bus.publish(b"five")
        self.assertIn(bulk(b"five"), again.value())
        self.assertNotIn(b"two", again.value())
        self.assertEqual(self.bus.dropped, 3)

    def test_a_publish_lost_with_its_connection_is_counted(self) -> None:
        """A publish sent but not answered when the connection breaks counts as dropped."""
        _, commands = self.connect_both()
        self.bus.publish(b"in flight")
        commands.loseConnection()
        self.assertEqual(self.bus.dropped, 1)

    def test_a_publish_from_a_failure_handler_during_the_loss_is_dropped(self) -> None:
        """Code reacting to a heartbeat lost with the connection may publish at once: that publish is
        dropped and counted, not raised into the caller."""
        _, commands = self.connect_both()
        published: list[bool] = []

        def publish_about_it(failure: Failure) -> None:
            failure.trap(RedisUnavailable)
            self.bus.publish(b"heartbeat failed")
            published.append(True)

        self.bus.heartbeat("alpha", {}, 15).addErrback(publish_about_it)
        commands.loseConnection()
        self.assertEqual(published, [True])
        self.assertEqual(self.bus.dropped, 1)

    def test_commands_fail_at_once_while_redis_is_away(self) -> None:
        """heartbeat, live_nodes and forget fail with RedisUnavailable instead of waiting."""
        self.bus.start()
        self.failureResultOf(self.bus.heartbeat("a", {}, 15), RedisUnavailable)
        self.failureResultOf(self.bus.live_nodes(), RedisUnavailable)
        self.failureResultOf(self.bus.forget("a"), RedisUnavailable)

    def test_a_heartbeat_is_set_again_when_the_command_connection_is_back(self) -> None:
        """Redis restarted empty: the last heartbeat is written again as soon as the bus reconnects."""
        _, commands = self.connect_both()
        self.bus.heartbeat("alpha", {"name": "alpha"}, 15)
        self.assertIn(bulk(b"glozi:node:alpha"), commands.value())
        commands.protocol.dataReceived(b"+OK\r\n")
        commands.loseConnection()
        self.clock.advance(0.1)
        again = self.accept()
        self.assertIn(bulk(b"glozi:node:alpha") + bulk(b'{"name":"alpha"}') + bulk(b"PX") + bulk(b"15000"),
                      again.value())

    def test_a_silent_redis_is_cut_after_an_unanswered_ping(self) -> None:
        """Every 5 s each connection sends PING; one still unanswered 5 s later cuts the connection,
        and the bus reconnects."""
        subscriber, commands = self.connect_both()
        commands.clear()
        self.clock.advance(5)
        self.assertIn(b"PING", subscriber.value())
        self.assertIn(b"PING", commands.value())
        commands.protocol.dataReceived(b"+PONG\r\n")
        self.clock.advance(5)
        self.assertFalse(subscriber.connected)
        self.assertTrue(commands.connected)
        self.assertFalse(self.bus.connected)

    def test_stop_closes_both_connections_without_resubscribing(self) -> None:
        """After stop() nothing is dialled again and on_resubscribed is not called."""
        subscriber, commands = self.connect_both()
        stopped = self.bus.stop()
        self.assertFalse(subscriber.connected or commands.connected)
        self.successResultOf(stopped)
        self.dialled()
        self.clock.advance(10)
        self.assertEqual(self.dialled(), 0)
        self.assertFalse(self.bus.connected)
        self.assertEqual(self.resubscribed, [])


class RealRedisTests(TestCase):
    """Two buses on a real redis-server, as two nodes would be."""

    timeout = 60

    def setUp(self) -> None:
        self.redis = shared_redis()

    @inlineCallbacks
    def bus(self, url: str | None = None, channel: str = "glozi:test") -> Any:
        """A started bus on the shared Redis (or ``url``) that records what it receives."""
        bus = recording_bus(self, url or self.redis.url, channel)
        yield bus.start()
        return bus

    @inlineCallbacks
    def test_every_bus_receives_each_payload_once_its_sender_too(self) -> None:
        """A publishes three payloads: A and B each receive the three, once, in order."""
        a = yield self.bus()
        b = yield self.bus()
        for payload in [b"1", b"2", b"3"]:
            a.publish(payload)
        yield wait_for("both buses to get three payloads", lambda: len(a.received) == len(b.received) == 3)
        self.assertEqual(a.received, [b"1", b"2", b"3"])
        self.assertEqual(b.received, [b"1", b"2", b"3"])
        self.assertEqual(a.dropped, 0)

    @inlineCallbacks
    def test_payload_bytes_arrive_intact(self) -> None:
        """UTF-8 with emoji, line breaks, a number-looking payload and 64 KB arrive byte for byte."""
        a = yield self.bus()
        b = yield self.bus()
        payloads = [
            json.dumps({"text": "héllo 👋 мир", "n": 1}, ensure_ascii=False).encode(),
            b"line one\r\nline two\n",
            b"12345",
            ("ü" * 32_768).encode(),
        ]
        self.assertEqual(len(payloads[-1]), 65_536)
        for payload in payloads:
            a.publish(payload)
        yield wait_for("four payloads", lambda: len(b.received) == 4)
        self.assertEqual(b.received, payloads)

    @inlineCallbacks
    def test_buses_on_other_channels_hear_nothing(self) -> None:
        """A bus on another channel (another cluster) gets none of this channel's payloads."""
        a = yield self.bus()
        other = yield self.bus(channel="glozi:other")
        a.publish(b"for glozi:test only")
        other.publish(b"for glozi:other only")
        yield wait_for("each bus's own payload", lambda: a.received and other.received)
        self.assertEqual(a.received, [b"for glozi:test only"])
        self.assertEqual(other.received, [b"for glozi:other only"])

    @inlineCallbacks
    def test_keepalive_pings_leave_a_live_connection_alone(self) -> None:
        """With a PING every 20 ms, a real Redis answers each (the subscriber's too, in subscribed mode):
        after 20 beats both connections are still the first ones and payloads still arrive."""
        self.patch(bus_module, "KEEPALIVE_SECONDS", 0.02)
        a = yield self.bus()
        yield deferLater(reactor, 0.4, lambda: None)
        a.publish(b"still here")
        yield wait_for("the payload", lambda: a.received)
        self.assertEqual(a.received, [b"still here"])
        self.assertEqual((a.resubscribed, a.dropped), (0, 0))
        self.assertTrue(a.connected)

    @inlineCallbacks
    def test_live_nodes_lists_each_heartbeat_until_its_ttl_runs_out(self) -> None:
        """A heartbeat with a 0.3 s TTL is listed, then gone; one with 30 s stays; info is the JSON given."""
        a = yield self.bus()
        b = yield self.bus()
        alpha = {"name": "alpha", "host": "10.0.0.1", "port": 7557, "tls": False, "irc_port": 6667,
                 "started_at": 1700000000.5}
        yield a.heartbeat("alpha", alpha, 30)
        yield b.heartbeat("beta", {"name": "beta"}, 0.3)
        nodes = yield a.live_nodes()
        self.assertEqual(nodes, {"alpha": alpha, "beta": {"name": "beta"}})
        remaining: dict = {}

        @inlineCallbacks
        def beta_gone() -> Any:
            remaining.clear()
            remaining.update((yield a.live_nodes()))
            return "beta" not in remaining

        for _ in range(100):
            if (yield beta_gone()):
                break
            yield deferLater(reactor, POLL_SECONDS, lambda: None)
        self.assertEqual(remaining, {"alpha": alpha})

    @inlineCallbacks
    def test_forget_removes_the_heartbeat(self) -> None:
        """forget(node) deletes glozi:node:<node> at once."""
        a = yield self.bus()
        yield a.heartbeat("alpha", {"name": "alpha"}, 30)
        yield a.heartbeat("beta", {"name": "beta"}, 30)
        yield a.forget("alpha")
        self.assertEqual((yield a.live_nodes()), {"beta": {"name": "beta"}})

    @inlineCallbacks
    def test_live_nodes_reads_every_batch_of_the_scan(self) -> None:
        """250 heartbeats (more than one SCAN batch) are all listed; keys that are not JSON objects are skipped."""
        a = yield self.bus()
        for number in range(250):
            a.heartbeat(f"node{number}", {"n": number}, 30)
        yield a.heartbeat("last", {"n": -1}, 30)
        nodes = yield a.live_nodes()
        self.assertEqual(len(nodes), 251)
        self.assertEqual(nodes["node249"], {"n": 249})

    @inlineCallbacks
    def test_a_value_that_is_not_a_json_object_is_skipped(self) -> None:
        """A glozi:node:* key holding something else is left out of live_nodes, the others stay."""
        a = yield self.bus()
        yield a.heartbeat("good", {"name": "good"}, 30)
        yield a.heartbeat("list", [1, 2], 30)
        self.assertEqual((yield a.live_nodes()), {"good": {"name": "good"}})

    @inlineCallbacks
    def test_the_database_number_separates_heartbeats(self) -> None:
        """A heartbeat set through redis://…/1 is not listed by a bus on database 0, and is on database 1."""
        zero = yield self.bus()
        one = yield self.bus(self.redis.url + "/1")
        yield one.heartbeat("alpha", {"name": "alpha"}, 30)
        self.assertEqual((yield zero.live_nodes()), {})
        self.assertEqual((yield one.live_nodes()), {"alpha": {"name": "alpha"}})

    @inlineCallbacks
    def test_connected_names_lists_each_named_subscription_while_it_lasts(self) -> None:
        """Two buses named alpha and beta are in CLIENT LIST; an unnamed bus is not; beta stopped is gone."""
        alpha = RedisBus(reactor, self.redis.url, channel="glozi:test")
        alpha.client_name = "alpha"
        beta = RedisBus(reactor, self.redis.url, channel="glozi:test")
        beta.client_name = "beta"
        for bus in (alpha, beta):
            self.addCleanup(bus.stop)
            yield bus.start()
        unnamed = yield self.bus()
        self.assertEqual((yield unnamed.connected_names()), {"alpha", "beta"})
        yield beta.stop()
        names: set[str] = set()
        for _ in range(100):
            names = yield alpha.connected_names()
            if names == {"alpha"}:
                break
            yield deferLater(reactor, POLL_SECONDS, lambda: None)
        self.assertEqual(names, {"alpha"})

    @inlineCallbacks
    def test_a_database_redis_refuses_fails_start(self) -> None:
        """redis://…/99 (Redis has 16 databases) fails start() with a ValueError naming the database."""
        bus = RedisBus(reactor, self.redis.url + "/99")
        self.addCleanup(bus.stop)
        failure = yield self.assertFailure(bus.start(), ValueError)
        self.assertIn("refused database 99", str(failure))


class RedisRestartTests(TestCase):
    """A Redis of the test's own, stopped and started again under the buses."""

    timeout = 60

    def setUp(self) -> None:
        self.redis: RedisServer = start_redis(os.path.abspath(self.mktemp()))
        self.addCleanup(self.redis.stop)

    def bus(self) -> RedisBus:
        return recording_bus(self, self.redis.url)

    @inlineCallbacks
    def test_start_waits_until_redis_answers(self) -> None:
        """A bus started while Redis is down connects by itself once Redis is up."""
        self.redis.stop()
        bus = self.bus()
        started = bus.start()
        yield deferLater(reactor, 0.3, lambda: None)
        self.assertFalse(started.called)
        self.redis.start()
        yield started
        self.assertTrue(bus.connected)
        self.assertEqual(bus.resubscribed, 0)

    @inlineCallbacks
    def test_redis_restarted_under_a_publishing_loop(self) -> None:
        """Redis stops while A publishes every 5 ms: connected goes False on both buses and what A
        published meanwhile is counted in dropped; Redis starts again on the same port: both call
        on_resubscribed once, later payloads arrive again, B never gets one twice or out of order, and
        A's heartbeat is back in the empty Redis."""
        a, b = self.bus(), self.bus()
        yield a.start()
        yield b.start()
        yield a.heartbeat("a", {"name": "a"}, 30)
        sent: list[int] = []
        dropped_while_down: list[int] = []
        numbers = count()

        def publish_next() -> None:
            number = next(numbers)
            before = a.dropped
            a.publish(b"%d" % number)
            sent.append(number)
            if a.dropped > before:
                dropped_while_down.append(number)

        loop = LoopingCall(publish_next)
        loop.start(0.005)
        self.addCleanup(lambda: loop.running and loop.stop())
        yield wait_for("B to hear A", lambda: len(b.received) >= 20)
        self.redis.stop()
        yield wait_for("both buses to see Redis gone", lambda: not a.connected and not b.connected)
        yield wait_for("a publish dropped while Redis is down", lambda: len(dropped_while_down) >= 3)
        self.redis.start()
        yield wait_for("both buses to subscribe again", lambda: a.resubscribed and b.resubscribed)
        first_after = len(sent)
        yield wait_for("B to hear A again", lambda: b.received and int(b.received[-1]) > first_after + 5)
        loop.stop()

        heard = [int(payload) for payload in b.received]
        self.assertEqual(heard, sorted(set(heard)))
        self.assertTrue(set(heard) <= set(sent))
        self.assertFalse(set(heard) & set(dropped_while_down))
        self.assertGreaterEqual(a.dropped, len(dropped_while_down))
        self.assertEqual((a.resubscribed, b.resubscribed), (1, 1))
        self.assertTrue(a.connected and b.connected)
        yield wait_for("A's heartbeat to be set again", lambda: self.redis_has(b"glozi:node:a"))

    def redis_has(self, key: bytes) -> bool:
        return redis_command(self.redis.port, b"EXISTS", key) == b":1"
