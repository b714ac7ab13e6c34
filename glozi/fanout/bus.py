"""The cluster's wire: one Redis pub/sub channel, and each node's heartbeat key.

``RedisBus`` keeps two connections to Redis on the reactor, as Synapse's
replication does: one that only subscribes to the channel, and one for every
command (PUBLISH, the heartbeat SET, SCAN). Both reconnect by themselves with
a capped backoff; a PING every ``KEEPALIVE_SECONDS`` finds a Redis that went
silent without closing the connection. Redis is never the only copy of
anything: what is lost while it is away is read back from PostgreSQL by the
bus's user (``on_resubscribed``).
"""

import json
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any
from urllib.parse import urlsplit

from twisted.application.internet import ClientService
from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.defer import CancelledError, Deferred, DeferredList, fail, inlineCallbacks
from twisted.internet.endpoints import HostnameEndpoint, TCP4ClientEndpoint, TCP6ClientEndpoint
from twisted.internet.interfaces import IAddress, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from txredisapi import ConnectionError as RedisConnectionError
from txredisapi import RedisProtocol, ResponseError, SubscriberProtocol

DEFAULT_CHANNEL = "glozi:events"
DEFAULT_PORT = 6379
NODE_KEY_PREFIX = "glozi:node:"
CLIENT_NAME_PREFIX = "glozi-node:"
"""What a node's subscription is called in CLIENT LIST: gone from it, the process is gone."""
FIRST_RETRY_SECONDS = 0.1
MAX_RETRY_SECONDS = 2.0
KEEPALIVE_SECONDS = 5.0
SCAN_BATCH = 100
MAX_REPLY_BYTES = 16 * 1024 * 1024
URL_FORM = "redis://HOST:PORT[/DB]"


class RedisUnavailable(Exception):
    """The bus has no working connection to Redis now; the command was not sent."""


def parse_redis_url(url: str) -> tuple[str, int, int]:
    """``redis://HOST[:PORT][/DB]`` as ``(host, port, db)``; the port defaults
    to 6379 and the database to 0. Raises ``ValueError`` saying what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ValueError(f"bad Redis address {url!r} ({error}); expected {URL_FORM}") from None
    if parts.scheme != "redis":
        raise ValueError(f"bad Redis address {url!r}: it must start with redis:// ({URL_FORM})")
    if not parts.hostname:
        raise ValueError(f"bad Redis address {url!r}: no host ({URL_FORM})")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"bad Redis address {url!r}: user names and passwords are not supported")
    if parts.query or parts.fragment:
        raise ValueError(f"bad Redis address {url!r}: nothing may follow the database number")
    if port == 0:
        raise ValueError(f"bad Redis address {url!r}: port 0 ({URL_FORM})")
    path = parts.path.removeprefix("/")
    if path and not (path.isascii() and path.isdigit()):
        raise ValueError(f"bad Redis address {url!r}: the database must be a number ({URL_FORM})")
    return parts.hostname, port or DEFAULT_PORT, int(path or 0)


def retry_delay(failed_attempts: int) -> float:
    """Seconds to wait before reconnecting after ``failed_attempts`` failures in a
    row: 0.1 s, doubling each time, never more than 2 s."""
    return min(FIRST_RETRY_SECONDS * 2 ** min(failed_attempts - 1, 32), MAX_RETRY_SECONDS)


def redis_endpoint(reactor: Any, host: str, port: int) -> IStreamClientEndpoint:
    """Where to connect: an address is dialled directly, so each retry waits
    exactly ``retry_delay``; a host name goes through HostnameEndpoint."""
    if isIPAddress(host):
        return TCP4ClientEndpoint(reactor, host, port)
    if isIPv6Address(host):
        return TCP6ClientEndpoint(reactor, host, port)
    return HostnameEndpoint(reactor, host, port)


_INCOMPLETE = object()


class RedisProtocolError(Exception):
    """Redis sent something that is not a reply this bus can read."""


def parse_reply(buffer: bytes, start: int = 0) -> tuple[Any, int]:
    """The RESP2 reply starting at ``start`` and where it ends, or ``(_INCOMPLETE,
    start)`` if ``buffer`` does not hold all of it yet. Bulk strings stay bytes,
    status lines are text, error lines are ``ResponseError`` values, as txredisapi
    gives them. Raises ``RedisProtocolError`` for anything else or a bulk string
    longer than ``MAX_REPLY_BYTES``."""
    end = buffer.find(b"\r\n", start)
    if end < 0:
        return _INCOMPLETE, start
    kind, line, after = buffer[start : start + 1], buffer[start + 1 : end], end + 2
    if kind == b"$":
        length = _reply_number(line)
        if length < 0:
            return None, after
        if length > MAX_REPLY_BYTES:
            raise RedisProtocolError(f"a {length}-byte bulk string is more than {MAX_REPLY_BYTES}")
        if len(buffer) < after + length + 2:
            return _INCOMPLETE, start
        return buffer[after : after + length], after + length + 2
    if kind == b"*":
        count = _reply_number(line)
        items = []
        for _ in range(count):
            item, after = parse_reply(buffer, after)
            if item is _INCOMPLETE:
                return _INCOMPLETE, start
            items.append(item)
        return (items if count >= 0 else None), after
    if kind == b":":
        return _reply_number(line), after
    if kind == b"+":
        return line.decode("utf-8", "replace"), after
    if kind == b"-":
        text = line.decode("utf-8", "replace")
        return ResponseError(text.removeprefix("ERR ")), after
    raise RedisProtocolError(f"unknown reply type {kind!r}")


def _reply_number(line: bytes) -> int:
    try:
        return int(line)
    except ValueError:
        raise RedisProtocolError(f"{line!r} is not a number") from None


class _WholeReplies:
    """Reads replies with ``parse_reply``, as many as each chunk holds, in one go.

    txredisapi's own reader pauses the transport and waits a reactor turn after
    each bulk string that has more data behind it, so a busy channel was read
    at a few thousand messages a second."""

    _unparsed = b""

    def dataReceived(self, data: bytes) -> None:
        buffer = self._unparsed + data if self._unparsed else data
        position = 0
        try:
            while position < len(buffer):
                reply, position = parse_reply(buffer, position)
                if reply is _INCOMPLETE:
                    break
                self.replyReceived(reply)
        except RedisProtocolError as error:
            self.bus.log.error("Cutting the connection to {bus!r}: {error}", bus=self.bus, error=error)
            self._unparsed = b""
            self.transport.abortConnection()
            return
        self._unparsed = buffer[position:]


class _Subscriber(_WholeReplies, SubscriberProtocol):
    bus: "RedisBus"

    def dataReceived(self, data: bytes) -> None:
        with self.bus.receiving:
            super().dataReceived(data)

    def messageReceived(self, pattern: Any, channel: bytes, message: bytes) -> None:
        self.bus._message_received(message)

    def connectionLost(self, reason: Failure) -> None:
        super().connectionLost(reason)
        self.bus._subscription_lost(self)


class _Commands(_WholeReplies, RedisProtocol):
    bus: "RedisBus"

    def connectionLost(self, reason: Failure) -> None:
        super().connectionLost(reason)
        self.bus._commands_lost(self)


class _BusFactory(Factory):
    """Builds txredisapi protocols that hand back bytes untouched (no charset,
    no number conversion) and schedule on the bus's reactor, not the global one."""

    noisy = False

    def __init__(self, bus: "RedisBus", protocol_class: type[RedisProtocol]) -> None:
        self.bus = bus
        self.protocol_class = protocol_class

    def buildProtocol(self, addr: IAddress) -> RedisProtocol:
        protocol = self.protocol_class(charset=None, convertNumbers=False)
        protocol.factory = self
        protocol.bus = self.bus
        protocol.callLater = self.bus.reactor.callLater
        return protocol


class _Keepalive:
    """PINGs one connection every ``KEEPALIVE_SECONDS``; a PING still unanswered at
    the next beat means Redis is gone without saying so, and the connection is cut."""

    log = Logger()

    def __init__(self, reactor: Any, protocol: RedisProtocol, what: str) -> None:
        self.protocol = protocol
        self.what = what
        self.waiting = False
        self.loop = LoopingCall(self.beat)
        self.loop.clock = reactor
        self.loop.start(KEEPALIVE_SECONDS, now=False)

    def beat(self) -> None:
        if self.waiting:
            self.log.warn(
                "Redis did not answer a PING on the {what} connection in {seconds} s; reconnecting",
                what=self.what,
                seconds=KEEPALIVE_SECONDS,
            )
            self.stop()
            self.protocol.transport.abortConnection()
            return
        self.waiting = True
        self.protocol.ping().addCallbacks(self.answered, lambda failure: None)

    def answered(self, _: object) -> None:
        self.waiting = False

    def stop(self) -> None:
        if self.loop.running:
            self.loop.stop()


def client_names(listing: bytes | str) -> set[str]:
    """The bus names in a CLIENT LIST answer (one ``key=value ...`` line per connection)."""
    text = listing.decode("utf-8", "replace") if isinstance(listing, bytes) else listing
    names = set()
    for line in text.splitlines():
        for field in line.split(" "):
            if field.startswith("name=" + CLIENT_NAME_PREFIX):
                names.add(field.removeprefix("name=" + CLIENT_NAME_PREFIX))
    return names


class RedisBus:
    """One pub/sub channel shared by every node, and the nodes' heartbeats.

    Set ``on_message`` (called with each payload on the channel, this node's
    own included) and ``on_resubscribed`` (called when the subscription was
    lost and is back: what was published meanwhile never arrives) before
    ``start()``. ``connected`` says whether the subscription is live now.
    ``publish`` never waits: while the command connection is down the payload
    is dropped and counted in ``dropped``.
    """

    log = Logger()

    def __init__(self, reactor: Any, url: str, *, channel: str = DEFAULT_CHANNEL) -> None:
        self.reactor = reactor
        self.host, self.port, self.db = parse_redis_url(url)
        self.channel = channel
        self.on_message: Callable[[bytes], None] = lambda payload: None
        self.on_resubscribed: Callable[[], None] = lambda: None
        self.connected = False
        self.dropped = 0
        self.receiving: AbstractContextManager[Any] = nullcontext()
        """Held open while the messages of one read from Redis go to ``on_message``: the doors'
        write batch (glozi/doors/writebatch.py), so each connection gets one write per read."""
        self.client_name: str | None = None
        """Set before ``start``: the name (``glozi-node:NAME``) the subscription shows in Redis's
        CLIENT LIST, so the other nodes see at once when this process is gone."""
        self._commands: _Commands | None = None
        self._keepalives: dict[RedisProtocol, _Keepalive] = {}
        self._was_subscribed = False
        self._stopping = False
        self._dropped_at_loss = 0
        self._own_heartbeat: tuple[str, bytes, int] | None = None
        self._started: Deferred[None] = Deferred()
        endpoint = redis_endpoint(reactor, self.host, self.port)
        self._subscriber_service = ClientService(
            endpoint,
            _BusFactory(self, _Subscriber),
            retryPolicy=retry_delay,
            clock=reactor,
            prepareConnection=self._subscriber_connected,
        )
        self._commands_service = ClientService(
            endpoint,
            _BusFactory(self, _Commands),
            retryPolicy=retry_delay,
            clock=reactor,
            prepareConnection=self._commands_connected,
        )

    def __repr__(self) -> str:
        return f"<RedisBus {self.host}:{self.port}/{self.db} {self.channel}>"

    def start(self) -> "Deferred[None]":
        """Connect both connections and subscribe; fires once both are ready
        (retrying until Redis answers), fails if Redis refuses the database."""
        self._subscriber_service.startService()
        self._commands_service.startService()
        return self._started

    def stop(self) -> "Deferred[None]":
        """Close both connections and stop reconnecting (the heartbeat key stays
        until its TTL runs out: ``forget`` deletes it)."""
        self._stopping = True
        self.connected = False
        if not self._started.called:
            self._started.errback(CancelledError("the Redis bus was stopped before it connected"))
            self._started.addErrback(lambda failure: None)
        stopped = DeferredList(
            [self._subscriber_service.stopService(), self._commands_service.stopService()],
            consumeErrors=True,
        )
        return stopped.addCallback(lambda _: None)

    def publish(self, payload: bytes) -> None:
        """Send ``payload`` to every node's ``on_message`` (this one's too), at most once."""
        if not self._commands_usable():
            self.dropped += 1
            return
        self._commands.publish(self.channel, payload).addErrback(self._publish_failed)

    def heartbeat(self, node: str, info: dict, ttl: float) -> "Deferred[None]":
        """Set ``glozi:node:<node>`` to ``info`` as JSON for ``ttl`` seconds. The
        latest heartbeat is set again as soon as the command connection is back."""
        milliseconds = round(ttl * 1000)
        if milliseconds < 1:
            raise ValueError(f"a heartbeat needs a positive time to live, not {ttl!r}")
        self._own_heartbeat = (node, json.dumps(info, separators=(",", ":")).encode(), milliseconds)
        return self._set_heartbeat(*self._own_heartbeat)

    def forget(self, node: str) -> "Deferred[None]":
        """Delete ``glozi:node:<node>`` (a clean shutdown), and set it no more."""
        if self._own_heartbeat is not None and self._own_heartbeat[0] == node:
            self._own_heartbeat = None
        return self._command(lambda commands: commands.delete(NODE_KEY_PREFIX + node)).addCallback(
            lambda _: None
        )

    def live_nodes(self) -> "Deferred[dict[str, dict]]":
        """Every heartbeat still alive, as ``{node name: info}``; keys are listed with
        SCAN (never KEYS, which blocks Redis), and a value that is not a JSON object is skipped."""
        if not self._commands_usable():
            return fail(RedisUnavailable(f"{self!r} is not connected"))
        return self._live_nodes(self._commands).addErrback(self._unavailable)

    @inlineCallbacks
    def _live_nodes(self, commands: _Commands) -> Any:
        keys: set[bytes] = set()
        cursor = b"0"
        while True:
            cursor, batch = yield commands.scan(cursor, NODE_KEY_PREFIX + "*", SCAN_BATCH)
            keys.update(batch)
            if cursor == b"0":
                break
        if not keys:
            return {}
        ordered = sorted(keys)
        values = yield commands.mget(ordered)
        nodes: dict[str, dict] = {}
        for key, value in zip(ordered, values, strict=True):
            if value is None:
                continue
            name = key.decode("utf-8", "replace").removeprefix(NODE_KEY_PREFIX)
            try:
                info = json.loads(value)
            except ValueError:
                info = None
            if not isinstance(info, dict):
                self.log.warn("Skipping heartbeat {key!r}: its value is not a JSON object", key=key)
                continue
            nodes[name] = info
        return nodes

    def connected_names(self) -> "Deferred[set[str]]":
        """The ``client_name`` of every bus whose subscription Redis holds now (CLIENT LIST)."""
        return self._command(lambda commands: commands.execute_command("CLIENT", "LIST")).addCallback(client_names)

    def _set_heartbeat(self, node: str, value: bytes, milliseconds: int) -> "Deferred[None]":
        return self._command(
            lambda commands: commands.set(NODE_KEY_PREFIX + node, value, pexpire=milliseconds)
        ).addCallback(lambda _: None)

    def _command(self, send: Callable[[_Commands], "Deferred[Any]"]) -> "Deferred[Any]":
        if not self._commands_usable():
            return fail(RedisUnavailable(f"{self!r} is not connected"))
        return send(self._commands).addErrback(self._unavailable)

    def _commands_usable(self) -> bool:
        # While a connection is being lost, its failed replies run user code before
        # _commands_lost forgets it; txredisapi raises if used in that window.
        return self._commands is not None and bool(self._commands.connected)

    def _unavailable(self, failure: Failure) -> Failure:
        if failure.check(RedisConnectionError):
            return Failure(RedisUnavailable(f"{self!r} lost its connection: {failure.getErrorMessage()}"))
        return failure

    def _publish_failed(self, failure: Failure) -> None:
        # Lost with the connection: Redis may or may not have passed it on, so it counts as dropped.
        self.dropped += 1
        if not failure.check(RedisConnectionError):
            self.log.failure("Redis refused a PUBLISH on {channel}", failure, channel=self.channel)

    # ClientService counts a connection as made once TCP is up (prepareConnection returns at once):
    # a handshake that waited inside prepareConnection would leave ClientService without a
    # transition for a connection lost meanwhile. The handshakes run beside it instead.

    def _subscriber_connected(self, proxy: Any) -> None:
        proxy.whenConnected().addCallback(self._subscribe).addErrback(self._handshake_failed, proxy, "subscriber")

    def _commands_connected(self, proxy: Any) -> None:
        proxy.whenConnected().addCallback(self._prepare_commands).addErrback(self._handshake_failed, proxy, "command")

    def _handshake_failed(self, failure: Failure, proxy: Any, what: str) -> None:
        if failure.check(RedisConnectionError):
            return
        self.log.failure("Setting up the {what} connection to {bus!r} failed", failure, what=what, bus=self)
        proxy.transport.abortConnection()

    @inlineCallbacks
    def _subscribe(self, protocol: _Subscriber) -> Any:
        self._keepalives[protocol] = _Keepalive(self.reactor, protocol, "subscriber")
        if self.client_name is not None:
            yield protocol.execute_command("CLIENT", "SETNAME", CLIENT_NAME_PREFIX + self.client_name)
        yield protocol.subscribe(self.channel)
        if self._stopping or not protocol.connected:
            return
        self.connected = True
        if self._was_subscribed:
            self.log.info(
                "Subscribed to {channel} again after {dropped} dropped publishes",
                channel=self.channel,
                dropped=self.dropped - self._dropped_at_loss,
            )
            self._call_user(self.on_resubscribed)
        else:
            self._was_subscribed = True
            self.log.info("Subscribed to {channel} on {bus!r}", channel=self.channel, bus=self)
            self._maybe_started()

    @inlineCallbacks
    def _prepare_commands(self, protocol: _Commands) -> Any:
        self._keepalives[protocol] = _Keepalive(self.reactor, protocol, "command")
        if self.db:
            try:
                yield protocol.select(self.db)
            except ResponseError as error:
                self._refused(protocol, f"Redis at {self.host}:{self.port} refused database {self.db}: {error}")
                return
        if self._stopping or not protocol.connected:
            return
        self._commands = protocol
        if self._own_heartbeat is not None:
            self._set_heartbeat(*self._own_heartbeat).addErrback(
                lambda failure: self.log.warn("Could not set our heartbeat again: {error}", error=failure.value)
            )
        self._maybe_started()

    def _refused(self, protocol: _Commands, reason: str) -> None:
        """A configuration error: fatal while starting; later (Redis reconfigured), retried."""
        self.log.error("{reason}", reason=reason)
        if self._started.called:
            protocol.transport.loseConnection()
            return
        self._started.errback(ValueError(reason))
        self.stop()

    def _maybe_started(self) -> None:
        if self.connected and self._commands is not None and not self._started.called:
            self._started.callback(None)

    def _message_received(self, payload: bytes) -> None:
        self._call_user(self.on_message, payload)

    def _call_user(self, callback: Callable[..., None], *args: Any) -> None:
        # The user's bug must not cut the subscription (and lose every later message).
        try:
            callback(*args)
        except Exception:  # noqa: BLE001
            self.log.failure("The Redis bus's {callback!r} failed", callback=callback)

    def _forget_keepalive(self, protocol: RedisProtocol) -> None:
        keepalive = self._keepalives.pop(protocol, None)
        if keepalive is not None:
            keepalive.stop()

    def _subscription_lost(self, protocol: _Subscriber) -> None:
        self._forget_keepalive(protocol)
        if not self.connected or self._stopping:
            return
        self.connected = False
        self._dropped_at_loss = self.dropped
        self.log.warn("Lost the subscription to {channel} on {bus!r}; reconnecting", channel=self.channel, bus=self)

    def _commands_lost(self, protocol: _Commands) -> None:
        self._forget_keepalive(protocol)
        if self._commands is protocol:
            self._commands = None
            if not self._stopping:
                self.log.warn("Lost the command connection to {bus!r}; publishes are dropped until it is back",
                              bus=self)
