"""Soak benchmark: many clients on every door of a real GloziChat server.

Not a unit test. For a bounded time, ``--clients`` clients (50 % native, 25 %
IRC, 25 % web: the native frames over WebSocket; a cluster, whose nodes have no
web door: 75 % native, 25 % IRC) join, chat, leave, get kicked, time out and disconnect abruptly; some
flood, some never read, some guess passwords. Afterwards the script checks
that every message the server confirmed reached every member present at that
moment, that no session, member or connection leaked, and that the server's
memory meets the soak memory criterion (below), and prints those figures.

    PYTHONPATH=. python benchmarks/soak.py --seconds 60 --clients 1000 --seed 1

With ``--cluster N`` the clients are spread over the N nodes of a cluster
(benchmarks/cluster.py), one node is SIGKILLed and started again mid-run, and
every leak and memory check is made on each node (benchmarks/README.md, "The
soak against a cluster").

Everything runs on 127.0.0.1 (guessers use 127.0.1.x sources); every loop is
bounded in count and time; the script stops every process it started and exits
non-zero when a check fails.

How a delivery is judged (all times are wall-clock seconds, the same clock for
the server and for this process):

- Every message text starts with a unique id. A native ``say`` is confirmed by
  its ``ack``, whose ``ts`` is the server's stamp. An IRC ``PRIVMSG`` is
  followed by ``PING``; its ``PONG``, with no membership change in between,
  confirms it, stamped somewhere in [sent, pong received].
- Each well-behaved receiver records its membership intervals. The start is
  the server's ``joined`` time (native) or the time the ``JOIN`` echo was read
  (IRC, an upper bound). The end is a time the server surely had not yet
  removed it: when it sent its own quit, when the admin sent the kick or the
  close, its last confirmed activity plus the idle timeout, or failing those
  the time ``left`` was read less ``LEFT_MARGIN``.
- A receiver must have every confirmed message of its session stamped inside
  (start + ``JOIN_MARGIN``, end), and must never receive a message while it is
  not in that message's session.

The soak memory criterion: after a warm-up round at full scale, RSS after
each later round (at least three) within 3 % of the RSS after warm-up, and
live objects counted by the collector at the end within 5 % of the count at
the start of the first round.

- Rounds. The load comes in rounds with the same clients and behaviours: one
  warm-up round, then ``--rounds`` measured rounds (3 by default; with fewer
  the RSS criterion has no verdict and the run does not pass). ``--seconds``
  is the measured rounds' load in all, so each round lasts
  ``--seconds / --rounds``, the warm-up round too.
- RSS is the server's VmRSS, always read after the server was quiet for
  ``QUIET_SECONDS`` (longer than its housekeeping period): after start-up and
  a small warm-up (ten connections, a locked session created and joined, a
  few stored messages), after each round once all clients are gone, and at
  the end. An allocator's high-water mark is reached in the warm-up round and
  stays; a leak goes on growing, so each measured round is held to
  ``RSS_ROUND_LIMIT`` of the RSS after the warm-up round.
- Live objects come from the server itself: on SIGUSR2 it runs a full
  collection and logs ``memory: live_objects=N frozen=F rss_kib=M``
  (glozi/process/memory.py), N counting every object the collector tracks, those
  frozen at start-up included. "The first round" is read as the warm-up round,
  the stricter reading: the start count is taken after the small warm-up,
  before the warm-up round's load, so whatever the whole load leaves behind
  counts, and unlike RSS, live objects have no high-water mark to excuse a
  first round. The end count is taken after the last round and a last look
  at the session list, when the end RSS is read; it must be within
  ``LIVE_OBJECTS_LIMIT`` of the start. The count after each round is printed
  as well, with N - F, what was made since start-up and still lives.
"""

import argparse
import asyncio
import bisect
import json
import os
import random
import re
import resource
import signal
import socket
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import websocket
from benchmarks.cluster import PRESENCE_TIMEOUT, Cluster
from benchmarks.servers import RunningServer, start_glozichat
from glozi.domain.chat import DEFAULT_SESSIONS as BUILTIN_SESSIONS
from glozi.process.memory import FULL_COLLECTION_SECONDS, REPORT_SIGNAL, resident_kib

# Never-readers sit in this session, and chatters there send long lines, so
# enough bytes pile up for the server's send-queue bound to drop them in seconds.
LOUD_SESSIONS = ("watermelon",)
LOUD_TEXT_CHARS = 1500
HOST = "127.0.0.1"
# Guessers come from their own addresses: the server's per-address backoff
# must not (and would) hold up the well-behaved clients on 127.0.0.1.
GUESSER_NET = "127.0.1."
DEFAULT_CLIENTS = 1000
DEFAULT_IDLE_TIMEOUT = 8.0
DEFAULT_SEND_QUEUE = 64 * 1024
NATIVE_SHARE = 0.75
# Of the native share, with one server: clients of the web door (a cluster's nodes run without one).
WEB_SHARE = 0.25
# A never-reader's receive buffer and segment size. On loopback the MSS is
# 64 KiB and the server's kernel send buffer autotunes to tcp_wmem's maximum
# (4 MiB here), which would hide minutes of traffic from the server's own
# bound; with an Ethernet-sized MSS the kernel keeps about 120 KB, as on a LAN.
NEVER_READER_RCVBUF = 4096
NEVER_READER_MSS = 1448
# A never-reader starts only with this much of the round left, enough for the
# loud session to fill its buffers.
NEVER_READER_MIN_SECONDS = 15.0
JOIN_MARGIN = 0.05
LEFT_MARGIN = 0.5
# In a cluster a message reaches the members when it is committed and, on the
# other nodes, after the bus: a member who joined or left on its node within
# that time of the message's stamp may or may not have it (docs/cluster.md,
# Guarantees); under this load (three nodes, PostgreSQL, Redis and 1,000
# clients on two cores) that is up to half a second, as LEFT_MARGIN allows IRC.
CLUSTER_JOIN_MARGIN = 0.5
MIN_ROUND_SECONDS = 20.0
# The memory criterion. RSS after each measured round against RSS after the
# warm-up round: the allocators reach their high-water mark in the warm-up, a
# leak goes on growing. Live objects at the end against the start of the warm-up.
RSS_ROUND_LIMIT = 0.03
LIVE_OBJECTS_LIMIT = 0.05
MIN_MEASURED_ROUNDS = 3
MEMORY_REPORT = re.compile(r"memory: live_objects=(\d+) frozen=(\d+) rss_kib=(\d+)")
CONNECT_TIMEOUT = 10.0
REQUEST_TIMEOUT = 10.0
LOG_POLL_SECONDS = 0.05
# Clients connecting per second at the start: Twisted listens with a backlog of 50.
RAMP_PER_SECOND = 250.0
# After the deadline, clients have this long to leave; stragglers are aborted.
WIND_DOWN_SECONDS = 12.0
# Memory is read after the server was quiet this long: longer than its
# housekeeping period (a full collection, then freed pages handed back).
QUIET_SECONDS = FULL_COLLECTION_SECONDS + 2.0
# A cluster node is killed this far into its round (a fraction), so that once
# restarted it still serves most of the round.
KILL_AT = 0.3
ERRORS_LOGGED = ("Traceback", "Unhandled", "failed", "CRITICAL")
FLOOD_LINES = 150
MAX_CONNECTIONS_PER_CLIENT = 200
UID = re.compile(r"^m\d+q\d+$")
RETRY_NOTICE = re.compile(r"Too many wrong .*try again in (\d+) s")
WORDS = ("lorem", "ipsum", "kiwi", "mango", "dolor", "amet", "tea", "guava", "ping", "melon")
# Behaviours and their shares of the clients (the rest are chatters).
SHARES = {
    "admin": 0.05,
    "silent": 0.08,
    "abrupt": 0.08,
    "flooder": 0.02,
    "neverreader": 0.02,
    "guesser": 0.01,
    "loud": 0.10,
}
RECEIVERS = frozenset({"chatter", "loud", "admin", "silent"})


def key(name: str) -> str:
    """Session and user names compare case-insensitively (ASCII)."""
    return name.lower()


@dataclass
class Interval:
    """A receiver's stay in one session and the message ids it got there."""

    client: int
    session: str
    start: float
    end: float | None = None
    reason: str = ""
    received: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Confirmed:
    """A message the server accepted, stamped within [lo, hi]."""

    uid: str
    session: str
    lo: float
    hi: float
    sender: int


@dataclass
class Room:
    """A created session other clients may join."""

    name: str
    sid: int | None
    password: str | None


class Record:
    """Everything the clients saw, for the checks at the end."""

    def __init__(self, idle_timeout: float, cluster: bool = False) -> None:
        self.idle_timeout = idle_timeout
        self.cluster = cluster
        self.counts: Counter[str] = Counter()
        self.confirmed: list[Confirmed] = []
        self.intervals: list[Interval] = []
        self.sent_session: dict[str, str] = {}
        self.truncated: set[str] = set()
        self.strays: list[str] = []
        self.kicks: defaultdict[tuple[str, str], list[float]] = defaultdict(list)
        self.closes: defaultdict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.uids = 0

    def stray(self, text: str) -> None:
        self.counts["stray deliveries"] += 1
        if len(self.strays) < 20:
            self.strays.append(text)

    def first_after(self, times: list[float], start: float, until: float) -> float | None:
        """The earliest of ``times`` sent during a membership, if any."""
        inside = [t for t in times if start - 1.0 < t <= until]
        return min(inside) if inside else None


class Conn:
    """One client connection of either door; a reader task keeps its state.

    ``receiver`` clients record membership intervals and are held to the
    delivery check; every reading client is checked for stray deliveries.
    """

    door = ""
    port_name = ""

    def __init__(self, soak: "Soak", cid: int, behaviour: str, serial: int) -> None:
        self.soak = soak
        self.rec = soak.rec
        self.cid = cid
        self.behaviour = behaviour
        self.receiver = behaviour in RECEIVERS
        self.serial = serial
        self.name = f"{self.door}{behaviour[0]}{cid:04d}c{serial}"
        # The node this connection went to, and that node's kill count then.
        self.node: Node | None = None
        self.node_kills = 0
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.task: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        self.session: str | None = None
        self.session_name = ""
        self.session_id: int | None = None
        self.join_ts = 0.0
        self.interval: Interval | None = None
        self.members: set[str] = set()
        self.is_admin = False
        self.last_active = 0.0
        self.quit_sent: float | None = None
        self.epoch = 0
        self.left = asyncio.Event()
        self.left_reason = ""
        self.flood_errors = 0
        self.seq = 0
        self.pinned: Node | None = None

    async def connect(self, source: str | None = None, lan_like: bool = False) -> bool:
        """Open the TCP connection to a node (Soak.node_for) and start reading; False when it fails.

        ``source`` binds the local address; ``lan_like`` gives the connection
        a small receive buffer and an Ethernet-sized MSS (never-readers).
        """
        self.node = self.soak.node_for(self)
        self.node_kills = self.node.kills
        port = self.node.server.ports[self.port_name]
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            if lan_like:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, NEVER_READER_RCVBUF)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, NEVER_READER_MSS)
            if source is not None:
                sock.bind((source, 0))
            loop = asyncio.get_running_loop()
            await asyncio.wait_for(loop.sock_connect(sock, (HOST, port)), CONNECT_TIMEOUT)
            self.reader, self.writer = await asyncio.open_connection(sock=sock, limit=1 << 16)
        except (OSError, TimeoutError):
            sock.close()
            self.rec.counts["connects cut by the node kill" if self.node_lost() else "connect failures"] += 1
            return False
        self.rec.counts[f"connections ({self.door})"] += 1
        self.task = asyncio.create_task(self._read())
        return True

    async def _read(self) -> None:
        assert self.reader is not None
        try:
            while True:
                line = await self.reader.readline()
                if not line:
                    break
                if line.endswith(b"\n"):
                    self.handle(line.rstrip(b"\r\n"), time.time())
        except (OSError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            self.closed.set()
            self.on_closed()

    def node_lost(self) -> bool:
        """Whether this connection's node was killed since it connected (or is being killed)."""
        return self.node is not None and (self.node.kills != self.node_kills or not self.node.up)

    def on_closed(self) -> None:
        """The connection is gone: fail whatever waits for an answer."""

    def handle(self, line: bytes, now: float) -> None:
        raise NotImplementedError

    def send(self, data: bytes) -> None:
        if self.writer is not None and not self.writer.is_closing():
            self.writer.write(data)

    def new_uid(self) -> str:
        self.rec.uids += 1
        return f"m{self.cid}q{self.rec.uids}"

    def text(self, uid: str, rng: random.Random, chars: int = 0) -> str:
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 8)))
        body = f"{uid} {words}"
        if chars > len(body):
            body += " " + ("x" * 9 + " ") * ((chars - len(body)) // 10)
        return body

    # Membership, from server-side facts.

    def enter(self, name: str, sid: int | None, start: float, active_from: float, members: set[str]) -> None:
        self.session, self.session_name, self.session_id = key(name), name, sid
        self.join_ts = start
        self.last_active = active_from
        self.members = members
        self.quit_sent = None
        self.epoch += 1
        self.left.clear()
        self.rec.counts["joins"] += 1
        if self.receiver:
            self.interval = Interval(self.cid, self.session, start + JOIN_MARGIN)
            self.rec.intervals.append(self.interval)

    def leave(self, reason: str, now: float) -> None:
        if self.session is None:
            return
        self.rec.counts[f"left: {reason}"] += 1
        if self.interval is not None:
            self.interval.end = self.end_bound(reason, now)
            self.interval.reason = reason
        self.session, self.session_id, self.interval = None, None, None
        self.is_admin = False
        self.members = set()
        self.epoch += 1
        self.left_reason = reason
        self.left.set()

    def end_bound(self, reason: str, now: float) -> float:
        """A time at which the server surely still had this member (see the module doc)."""
        assert self.interval is not None and self.session is not None
        bound: float | None = None
        if reason == "quit" and self.quit_sent is not None:
            bound = self.quit_sent
        elif reason == "kicked":
            bound = self.rec.first_after(
                self.rec.kicks[(self.session, key(self.name))], self.interval.start, now
            )
        elif reason == "closed":
            bound = self.rec.first_after(self.rec.closes[self.session], self.interval.start, now)
        elif reason == "timeout":
            bound = self.last_active + self.rec.idle_timeout
        if bound is None:
            self.rec.counts["ends from left time"] += 1
            return now - LEFT_MARGIN
        return min(bound - JOIN_MARGIN, now)

    def got_message(self, session: str, uid: str, ts: float | None, now: float) -> None:
        self.rec.counts["messages received"] += 1
        if not UID.match(uid):
            return
        if self.session is None or session != self.session:
            self.rec.stray(f"{self.name} got {uid} of {session} while in {self.session}")
            return
        meant = self.rec.sent_session.get(uid)
        if meant is not None and meant != self.session:
            self.rec.stray(f"{self.name} in {self.session} got {uid} sent to {meant}")
        if uid in self.rec.truncated:
            self.rec.stray(f"{self.name} got {uid}, whose line was cut off")
        if ts is not None and ts < self.join_ts - (JOIN_MARGIN if self.rec.cluster else 0.0):
            self.rec.stray(f"{self.name} got {uid} stamped {self.join_ts - ts:.3f} s before it joined")
        if self.interval is not None:
            if uid in self.interval.received:
                self.rec.counts["duplicate deliveries"] += 1
            self.interval.received.add(uid)

    # Actions every door offers.

    async def open(self, source: str | None = None, lan_like: bool = False) -> bool:
        """Connect and get past the greeting (native) or registration (IRC)."""
        raise NotImplementedError

    async def join(self, room: Room) -> bool:
        raise NotImplementedError

    async def create(self, name: str, password: str | None) -> bool:
        raise NotImplementedError

    async def say(self, rng: random.Random, chars: int = 0) -> bool:
        raise NotImplementedError

    async def quit(self) -> bool:
        raise NotImplementedError

    async def kick(self, name: str) -> None:
        raise NotImplementedError

    async def close_session(self) -> None:
        raise NotImplementedError

    async def guess(self, room: Room, password: str) -> str:
        raise NotImplementedError

    def flood_lines(self, rng: random.Random, count: int) -> bytes:
        raise NotImplementedError

    def partial_line(self) -> bytes:
        raise NotImplementedError

    def blind_say(self, rng: random.Random) -> bytes:
        """A line that says something, for a client that will not read the answer."""
        raise NotImplementedError

    async def flood(self, rng: random.Random, count: int) -> bool:
        """Send ``count`` lines at once; True when the server cut us off for it."""
        self.send(self.flood_lines(rng, count))
        try:
            await asyncio.wait_for(self.closed.wait(), REQUEST_TIMEOUT)
        except TimeoutError:
            return False
        return True

    async def wait_left(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.left.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def abort(self, how: str) -> None:
        """Drop the connection without leaving: ``close``, ``reset`` or ``midline``."""
        if self.writer is None or self.writer.is_closing():
            return
        if how == "midline":
            self.writer.write(self.partial_line())
            self.writer.close()
        elif how == "reset":
            self.writer.transport.abort()
        else:
            self.writer.close()
        self.rec.counts[f"abrupt disconnects ({how})"] += 1

    async def finish(self) -> None:
        """Leave any session politely and close the connection."""
        if self.session is not None and not self.closed.is_set() and not await self.quit():
            if self.node_lost():
                self.rec.counts["quits cut by the node kill"] += 1
                await self.shut()
                return
            self.rec.counts["quits unanswered"] += 1
            # Which client and what it saw, to tell a server fault from a race of the script.
            print(
                f"quit unanswered: {self.name} ({self.behaviour}) in {self.session_name!r},"
                f" connection {'closed' if self.closed.is_set() else 'open'}",
                file=sys.stderr,
            )
        await self.shut()

    async def shut(self) -> None:
        if self.writer is not None and not self.writer.is_closing():
            self.writer.close()
        if self.task is not None:
            try:
                await asyncio.wait_for(self.closed.wait(), 3.0)
            except TimeoutError:
                self.task.cancel()
        if self.writer is not None:
            self.writer.transport.abort()


class NativeConn(Conn):
    """A client of the native JSON-line door (docs/protocol.md)."""

    door = "n"
    port_name = "native"

    def __init__(self, soak: "Soak", cid: int, behaviour: str, serial: int) -> None:
        super().__init__(soak, cid, behaviour, serial)
        self.pending: dict[int, asyncio.Future[tuple[dict[str, Any], str | None]]] = {}
        self.welcomed = asyncio.Event()
        self.request_id = 0

    def on_closed(self) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionError("closed"))
        if self.session is not None:
            self.session, self.interval = None, None

    def handle(self, line: bytes, now: float) -> None:
        frame = json.loads(line)
        kind = frame.get("type")
        if kind == "message":
            uid = frame["text"].split(" ", 1)[0]
            session = self.session if frame["session"] == self.session_id else f"#{frame['session']}"
            self.got_message(session or "", uid, frame["ts"], now)
        elif kind == "joined":
            me = next(m for m in frame["members"] if m["name"] == frame["you"])
            session = frame["session"]
            self.enter(
                session["name"],
                session["id"],
                me["joined"],
                me["joined"],
                {key(m["name"]) for m in frame["members"]},
            )
            self.is_admin = me["admin"]
        elif kind == "member_joined":
            self.members.add(key(frame["name"]))
        elif kind == "member_left":
            self.members.discard(key(frame["name"]))
        elif kind == "admin_changed":
            self.is_admin = key(frame["admin"]) == key(self.name)
        elif kind == "left":
            self.leave(frame["reason"], now)
        elif kind == "welcome":
            self.welcomed.set()
        elif kind == "error":
            self.rec.counts[f"native errors: {frame['code']}"] += 1
            if frame["code"] == "flood":
                self.flood_errors += 1
        future = self.pending.pop(frame.get("id"), None) if "id" in frame else None
        if future is not None and not future.done():
            future.set_result((frame, self.session))

    async def request(self, **frame: Any) -> tuple[dict[str, Any], str | None] | None:
        """Send a frame and wait for its answer (and our session as of it)."""
        self.request_id += 1
        future: asyncio.Future[tuple[dict[str, Any], str | None]] = asyncio.get_running_loop().create_future()
        self.pending[self.request_id] = future
        self.send(json.dumps({**frame, "id": self.request_id}).encode() + b"\n")
        try:
            return await asyncio.wait_for(future, REQUEST_TIMEOUT)
        except TimeoutError:
            self.rec.counts["requests unanswered in time"] += 1
            return None
        except ConnectionError:
            return None
        finally:
            self.pending.pop(self.request_id, None)

    async def open(self, source: str | None = None, lan_like: bool = False) -> bool:
        if not await self.connect(source, lan_like):
            return False
        try:
            await asyncio.wait_for(self.welcomed.wait(), REQUEST_TIMEOUT)
        except TimeoutError:
            return False
        return True

    async def session_id_of(self, room: Room) -> int | None:
        if room.sid is not None:
            return room.sid
        answer = await self.request(type="list")
        if answer is None or answer[0]["type"] != "sessions":
            return None
        for info in answer[0]["sessions"]:
            if key(info["name"]) == key(room.name):
                room.sid = info["id"]
                return room.sid
        return None

    async def join(self, room: Room) -> bool:
        sid = await self.session_id_of(room)
        if sid is None:
            return False
        answer = await self.request(type="join", session=sid, username=self.name, password=room.password)
        if answer is None:
            return False
        if answer[0]["type"] == "error":
            if room.password is not None and answer[0]["code"] in ("too_many_attempts", "wrong_password"):
                self.rec.counts["well-behaved joins refused as guessing"] += 1
            return False
        return True

    async def create(self, name: str, password: str | None) -> bool:
        answer = await self.request(type="create", name=name, username=self.name, password=password)
        return answer is not None and answer[0]["type"] == "joined"

    async def say(self, rng: random.Random, chars: int = 0) -> bool:
        if self.session is None:
            return False
        uid = self.new_uid()
        self.rec.sent_session[uid] = self.session
        sent = time.time()
        answer = await self.request(type="say", text=self.text(uid, rng, chars))
        if answer is None or answer[0]["type"] != "ack" or answer[1] is None:
            return False
        self.rec.confirmed.append(Confirmed(uid, answer[1], answer[0]["ts"], answer[0]["ts"], self.cid))
        self.last_active = max(self.last_active, sent)
        return True

    async def quit(self) -> bool:
        self.quit_sent = time.time()
        answer = await self.request(type="command", name="quit")
        if answer is None or self.session is not None:
            return False
        # A kick or a close that crossed the quit removed us first (its "left"
        # came before this answer): then the quit is answered "not in a session".
        return answer[0]["type"] == "reply" or answer[0].get("code") == "wrong_state"

    async def kick(self, name: str) -> None:
        if self.session is None:
            return
        self.rec.kicks[(self.session, key(name))].append(time.time())
        answer = await self.request(type="command", name="kick", args=name)
        if answer is not None and answer[0]["type"] == "reply":
            self.rec.counts["kicks"] += 1

    async def close_session(self) -> None:
        if self.session is None:
            return
        self.rec.closes[self.session].append(time.time())
        answer = await self.request(type="command", name="close")
        if answer is not None and answer[0]["type"] == "reply":
            self.rec.counts["sessions closed by admins"] += 1

    async def guess(self, room: Room, password: str) -> str:
        sid = await self.session_id_of(room)
        if sid is None:
            return "gone"
        answer = await self.request(type="join", session=sid, username=self.name, password=password)
        if answer is None:
            return "no answer"
        frame = answer[0]
        if frame["type"] == "joined":
            return "joined"
        if frame.get("code") == "too_many_attempts":
            return f"wait {frame['retry_after']}"
        return str(frame.get("code"))

    def flood_lines(self, rng: random.Random, count: int) -> bytes:
        lines = []
        for _ in range(count):
            uid = self.new_uid()
            if self.session is not None:
                self.rec.sent_session[uid] = self.session
            self.request_id += 1
            rid = self.request_id
            future: asyncio.Future[tuple[dict[str, Any], str | None]] = (
                asyncio.get_running_loop().create_future()
            )
            future.add_done_callback(self._flood_answer(uid))
            self.pending[rid] = future
            lines.append(json.dumps({"type": "say", "text": self.text(uid, rng), "id": rid}).encode())
        return b"\n".join(lines) + b"\n"

    def _flood_answer(self, uid: str) -> Callable[[asyncio.Future[Any]], None]:
        def answered(future: asyncio.Future[Any]) -> None:
            if future.cancelled() or future.exception() is not None:
                return
            frame, session = future.result()
            if frame["type"] == "ack" and session is not None:
                self.rec.confirmed.append(Confirmed(uid, session, frame["ts"], frame["ts"], self.cid))
                self.rec.counts["flood lines acked"] += 1

        return answered

    def blind_say(self, rng: random.Random) -> bytes:
        return json.dumps({"type": "say", "text": self.text(self.new_uid(), rng)}).encode() + b"\n"

    def partial_line(self) -> bytes:
        uid = self.new_uid()
        self.rec.truncated.add(uid)
        return f'{{"type":"say","text":"{uid} cut off mid'.encode()


class IRCConn(Conn):
    """A client of the IRC door (docs/irc.md)."""

    door = "i"
    port_name = "irc"

    def __init__(self, soak: "Soak", cid: int, behaviour: str, serial: int) -> None:
        super().__init__(soak, cid, behaviour, serial)
        self.registered = asyncio.Event()
        self.pongs: dict[str, asyncio.Future[tuple[int, str | None, float]]] = {}
        self.joining: asyncio.Future[bool] | None = None
        self.join_sent = 0.0
        self.join_members: set[str] = set()
        self.retry_after: int | None = None
        self.join_refusal = ""

    def on_closed(self) -> None:
        for future in (*self.pongs.values(), self.joining):
            if future is not None and not future.done():
                future.set_exception(ConnectionError("closed"))
        if self.session is not None:
            self.session, self.interval = None, None

    def handle(self, line: bytes, now: float) -> None:
        text = line.decode("utf-8", "replace")
        prefix = ""
        if text.startswith(":"):
            prefix, _, text = text[1:].partition(" ")
        trailing: str | None = None
        if " :" in text:
            text, _, trailing = text.partition(" :")
        params = text.split()
        if not params:
            return
        command = params.pop(0)
        if trailing is not None:
            params.append(trailing)
        nick = key(prefix.split("!", 1)[0])
        me = key(self.name)
        if command == "PRIVMSG" and len(params) == 2:
            uid = params[1].split(" ", 1)[0]
            self.got_message(key(params[0].lstrip("#")), uid, None, now)
        elif command == "PONG" and params:
            future = self.pongs.pop(params[-1], None)
            if future is not None and not future.done():
                future.set_result((self.epoch, self.session, now))
        elif command == "JOIN" and params:
            if nick == me:
                # The server joined us somewhere between join_sent and now.
                self.enter(params[0].lstrip("#"), None, now, self.join_sent, set())
                self.join_members = set()
            else:
                self.members.add(nick)
        elif command == "353" and len(params) >= 4:
            for name in params[3].split():
                self.join_members.add(key(name.lstrip("@")))
                if name == f"@{self.name}":
                    self.is_admin = True
        elif command == "366":
            self.members |= self.join_members
            if self.joining is not None and not self.joining.done():
                self.joining.set_result(True)
        elif command in ("403", "405", "437", "471", "473", "474", "475", "477"):
            if command == "475":
                self.rec.counts["IRC 475 (bad key)"] += 1
            if self.joining is not None and not self.joining.done():
                self.join_refusal = command
                self.joining.set_result(False)
        elif command == "PART" and params:
            if nick == me:
                self.leave("quit", now)
            else:
                self.members.discard(nick)
        elif command == "KICK" and len(params) >= 2:
            if key(params[1]) == me:
                reason = params[2] if len(params) > 2 else ""
                if reason == "Removed for inactivity":
                    self.leave("timeout", now)
                elif reason == "Session closed":
                    self.leave("closed", now)
                else:
                    self.leave("kicked", now)
            else:
                self.members.discard(key(params[1]))
        elif command == "QUIT":
            self.members.discard(nick)
        elif command == "MODE" and len(params) >= 3 and params[1] == "+o":
            self.is_admin = key(params[2]) == me
        elif command == "001":
            self.registered.set()
        elif command == "PING" and params:
            self.send(f"PONG :{params[-1]}\r\n".encode())
        elif command == "NOTICE" and len(params) == 2 and "too fast" in params[1]:
            self.flood_errors += 1
            self.rec.counts["IRC flood notices"] += 1
        elif command == "NOTICE" and len(params) == 2 and (wait := RETRY_NOTICE.search(params[1])):
            # A guessing refusal comes as a server notice, not as a numeric.
            self.retry_after = int(wait.group(1))
            if self.joining is not None and not self.joining.done():
                self.join_refusal = "retry notice"
                self.joining.set_result(False)
        elif command == "ERROR":
            self.rec.counts[f"IRC ERROR: {params[-1] if params else ''}"[:60]] += 1

    async def open(self, source: str | None = None, lan_like: bool = False) -> bool:
        if not await self.connect(source, lan_like):
            return False
        self.send(f"NICK {self.name}\r\nUSER {self.name} 0 * :{self.name}\r\n".encode())
        try:
            await asyncio.wait_for(self.registered.wait(), REQUEST_TIMEOUT)
        except TimeoutError:
            return False
        return True

    async def join(self, room: Room) -> bool:
        self.joining = asyncio.get_running_loop().create_future()
        self.join_sent = time.time()
        self.join_refusal = ""
        self.send(f"JOIN #{room.name}{' ' + room.password if room.password else ''}\r\n".encode())
        try:
            joined = await asyncio.wait_for(self.joining, REQUEST_TIMEOUT)
        except TimeoutError:
            self.rec.counts["requests unanswered in time"] += 1
            return False
        except ConnectionError:
            return False
        # Only the key numeric and the wait notice refuse a password; a 405 here
        # means an earlier join, given up on, was answered after all.
        if not joined and room.password is not None and self.join_refusal in ("475", "retry notice"):
            self.rec.counts["well-behaved joins refused as guessing"] += 1
        return joined and self.session is not None

    async def create(self, name: str, password: str | None) -> bool:
        return await self.join(Room(name, None, password)) and self.is_admin

    async def ping(self) -> tuple[int, str | None, float] | None:
        self.seq += 1
        token = f"k{self.seq}"
        future: asyncio.Future[tuple[int, str | None, float]] = asyncio.get_running_loop().create_future()
        self.pongs[token] = future
        self.send(f"PING :{token}\r\n".encode())
        try:
            return await asyncio.wait_for(future, REQUEST_TIMEOUT)
        except (TimeoutError, ConnectionError):
            return None
        finally:
            self.pongs.pop(token, None)

    async def say(self, rng: random.Random, chars: int = 0) -> bool:
        if self.session is None:
            return False
        session, epoch = self.session, self.epoch
        uid = self.new_uid()
        self.rec.sent_session[uid] = session
        sent = time.time()
        self.send(f"PRIVMSG #{self.session_name} :{self.text(uid, rng)}\r\n".encode())
        answer = await self.ping()
        if answer is None or answer[0] != epoch or answer[1] != session:
            return False
        self.rec.confirmed.append(Confirmed(uid, session, sent, answer[2], self.cid))
        self.last_active = max(self.last_active, sent)
        return True

    async def quit(self) -> bool:
        if self.session is None:
            return True
        self.quit_sent = time.time()
        self.send(f"PART #{self.session_name}\r\n".encode())
        return await self.wait_left(REQUEST_TIMEOUT)

    async def kick(self, name: str) -> None:
        if self.session is None:
            return
        self.rec.kicks[(self.session, key(name))].append(time.time())
        self.send(f"KICK #{self.session_name} {name}\r\n".encode())
        # IRC answers a kick with nothing but the KICK line; the PONG says it was handled.
        await self.ping()
        self.rec.counts["kicks"] += 1

    async def close_session(self) -> None:
        if self.session is None:
            return
        self.rec.closes[self.session].append(time.time())
        self.send(b"PRIVMSG GloziServ :close\r\n")
        if await self.wait_left(REQUEST_TIMEOUT):
            self.rec.counts["sessions closed by admins"] += 1

    async def guess(self, room: Room, password: str) -> str:
        self.joining = asyncio.get_running_loop().create_future()
        self.retry_after = None
        self.send(f"JOIN #{room.name} {password}\r\n".encode())
        try:
            joined = await asyncio.wait_for(self.joining, REQUEST_TIMEOUT)
        except (TimeoutError, ConnectionError):
            return "no answer"
        if joined and self.is_admin:
            # The session was closed meanwhile, and JOIN of a free name creates one.
            return "gone"
        if self.retry_after is not None:
            return f"wait {self.retry_after}"
        return "joined" if joined else "wrong_password"

    def flood_lines(self, rng: random.Random, count: int) -> bytes:
        lines = []
        for _ in range(count):
            uid = self.new_uid()
            if self.session is not None:
                self.rec.sent_session[uid] = self.session
            lines.append(f"PRIVMSG #{self.session_name} :{self.text(uid, rng)}\r\n".encode())
        return b"".join(lines)

    def blind_say(self, rng: random.Random) -> bytes:
        return f"PRIVMSG #{self.session_name} :{self.text(self.new_uid(), rng)}\r\n".encode()

    def partial_line(self) -> bytes:
        uid = self.new_uid()
        self.rec.truncated.add(uid)
        return f"PRIVMSG #{self.session_name} :{uid} cut off mid".encode()


class WebConn(NativeConn):
    """A client of the web door (docs/web.md): the native frames, each one WebSocket text message,
    after the upgrade from the page's own origin (benchmarks/websocket.py)."""

    door = "w"
    port_name = "web"

    async def _read(self) -> None:
        assert self.reader is not None and self.node is not None
        key = websocket.new_key()
        frames = websocket.FrameReader()
        try:
            self.writer.write(websocket.upgrade_request(HOST, self.node.server.ports["web"], key))  # type: ignore[union-attr]
            websocket.check_upgrade_answer((await self.reader.readuntil(b"\r\n\r\n"))[:-4], key)
            while data := await self.reader.read(1 << 16):
                messages, controls = frames.feed(data)
                now = time.time()
                for message in messages:
                    self.handle(bytes(message), now)
                for opcode, payload in controls:
                    if opcode == websocket.PING:
                        self.writer.write(websocket.client_frame(payload, websocket.PONG))  # type: ignore[union-attr]
                if any(opcode == websocket.CLOSE for opcode, _ in controls):
                    break
        except websocket.WebSocketError as error:
            self.rec.counts[f"web door: {error}"[:60]] += 1
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self.closed.set()
            self.on_closed()

    def send(self, data: bytes) -> None:
        """Each native line of ``data`` as one masked text message."""
        super().send(b"".join(websocket.client_frame(line) for line in data.split(b"\n") if line))

    def partial_line(self) -> bytes:
        """A text message cut off in its payload."""
        return websocket.client_frame(super().partial_line())[:-8]


DOORS: dict[str, type[Conn]] = {"native": NativeConn, "irc": IRCConn, "web": WebConn}


class Soak:
    """The clients of one run, their shared registry of sessions, the nodes and the deadline."""

    def __init__(self, args: argparse.Namespace, nodes: list["Node"], rec: Record) -> None:
        self.args = args
        self.nodes = nodes
        self.rec = rec
        self.rooms: dict[str, Room] = {}
        self.deadline = 0.0
        self.room_serial = 0

    def node_for(self, conn: Conn) -> "Node":
        """The node a connection goes to: the next up node, round robin by client and connection,
        as a client that lost its node tries another; a probe's own node when it has one."""
        if conn.pinned is not None:
            return conn.pinned
        up = [node for node in self.nodes if node.up]
        return up[(conn.cid + conn.serial) % len(up)]

    def conn(self, cid: int, door: str, behaviour: str, serial: int) -> Conn:
        return DOORS[door](self, cid, behaviour, serial)

    def remaining(self) -> float:
        return self.deadline - time.time()

    def pick_room(self, rng: random.Random, loud: bool = False) -> Room:
        if loud:
            name = rng.choice(LOUD_SESSIONS)
            return Room(name, BUILTIN_SESSIONS.index(name) + 1, None)
        if self.rooms and rng.random() < 0.5:
            return rng.choice(list(self.rooms.values()))
        quiet = [n for n in BUILTIN_SESSIONS if n not in LOUD_SESSIONS]
        name = rng.choice(quiet)
        return Room(name, BUILTIN_SESSIONS.index(name) + 1, None)

    async def pause(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, min(seconds, self.remaining())))

    async def run_client(self, cid: int, door: str, behaviour: str, rng: random.Random) -> None:
        """One client: connections one after another until the deadline."""
        behave = getattr(self, f"_{behaviour}")
        for serial in range(MAX_CONNECTIONS_PER_CLIENT):
            if self.remaining() <= 1.0:
                return
            conn = self.conn(cid, door, behaviour, serial)
            try:
                await behave(conn, rng)
            except Exception:  # noqa: BLE001
                # A bug in this script, not in the server: reported, and counted as a failure.
                self.rec.counts["client script errors"] += 1
                if len(self.rec.errors) < 5:
                    self.rec.errors.append(traceback.format_exc())
            finally:
                await conn.shut()
            await self.pause(rng.uniform(0.3, 1.5))

    async def _talk(self, conn: Conn, rng: random.Random, seconds: float, pace: tuple[float, float]) -> None:
        """Say something every ``pace`` seconds while in the session, up to ``seconds``."""
        until = time.time() + min(seconds, max(0.0, self.remaining()))
        chars = LOUD_TEXT_CHARS if conn.session in LOUD_SESSIONS and conn.door == "n" else 0
        while conn.session is not None and time.time() < until and not conn.closed.is_set():
            await conn.say(rng, chars)
            try:
                await asyncio.wait_for(conn.left.wait(), rng.uniform(*pace))
            except TimeoutError:
                pass

    async def _chatter(self, conn: Conn, rng: random.Random, loud: bool = False) -> None:
        if not await conn.open():
            return
        for _ in range(50):
            if self.remaining() <= 2.0 or conn.closed.is_set():
                break
            if await conn.join(self.pick_room(rng, loud)):
                await self._talk(conn, rng, rng.uniform(4.0, 20.0), (1.0, 2.0) if loud else (1.0, 4.0))
                if conn.session is not None:
                    await conn.quit()
            await self.pause(rng.uniform(0.3, 2.0))
        await conn.finish()

    async def _loud(self, conn: Conn, rng: random.Random) -> None:
        await self._chatter(conn, rng, loud=True)

    async def _silent(self, conn: Conn, rng: random.Random) -> None:
        """Join and say nothing: the server should time us out."""
        if not await conn.open():
            return
        idle = self.rec.idle_timeout
        for _ in range(20):
            if self.remaining() <= idle + 3.0 or conn.closed.is_set():
                break
            joined = await conn.join(self.pick_room(rng))
            if joined and not await conn.wait_left(idle + 4.0) and conn.session is not None:
                # Made admin when the admin left: admins never time out.
                await conn.quit()
            await self.pause(rng.uniform(0.3, 2.0))
        await conn.finish()

    async def _admin(self, conn: Conn, rng: random.Random) -> None:
        """Create a session, chat, kick now and then, then close it or quit."""
        if not await conn.open():
            return
        for _ in range(20):
            if self.remaining() <= 5.0 or conn.closed.is_set():
                break
            self.room_serial += 1
            name = f"r{conn.cid:04d}x{self.room_serial}"
            password = f"{rng.randrange(100000):05d}" if rng.random() < 0.4 else None
            if not await conn.create(name, password):
                await self.pause(1.0)
                continue
            room = self.rooms[key(name)] = Room(name, conn.session_id, password)
            until = time.time() + rng.uniform(15.0, 35.0)
            next_kick = time.time() + rng.uniform(3.0, 8.0)
            while conn.session is not None and time.time() < until and self.remaining() > 1.0:
                await conn.say(rng)
                if time.time() >= next_kick:
                    victims = sorted(m for m in conn.members if m != key(conn.name) and m[1] not in "az")
                    if victims:
                        await conn.kick(rng.choice(victims))
                    next_kick = time.time() + rng.uniform(3.0, 8.0)
                await self.pause(rng.uniform(1.0, 3.0))
            self.rooms.pop(key(room.name), None)
            if conn.session is not None:
                if rng.random() < 0.5 and conn.is_admin:
                    await conn.close_session()
                else:
                    await conn.quit()
            await self.pause(rng.uniform(0.5, 2.0))
        await conn.finish()

    async def _abrupt(self, conn: Conn, rng: random.Random) -> None:
        """Chat a little, then drop the connection in the middle of the session."""
        if not await conn.open():
            return
        if await conn.join(self.pick_room(rng, loud=rng.random() < 0.2)):
            await self._talk(conn, rng, rng.uniform(1.0, 10.0), (1.0, 3.0))
        if self.remaining() <= 0.5:
            await conn.finish()
            return
        how = rng.choices(("close", "reset", "midline"), (0.6, 0.25, 0.15))[0]
        conn.abort(how)

    async def _flooder(self, conn: Conn, rng: random.Random) -> None:
        """Chat normally, then send far more than 5 lines a second."""
        if not await conn.open():
            return
        if not await conn.join(self.pick_room(rng)):
            await conn.finish()
            return
        await self._talk(conn, rng, rng.uniform(2.0, 6.0), (1.0, 2.0))
        if conn.session is None or self.remaining() <= REQUEST_TIMEOUT:
            await conn.finish()
            return
        self.rec.counts["floods started"] += 1
        if await conn.flood(rng, FLOOD_LINES):
            self.rec.counts["flooders cut off"] += 1
            if conn.flood_errors:
                self.rec.counts["flooders told before the cut"] += 1
        else:
            self.rec.counts["flooders not cut off"] += 1
        await self.pause(rng.uniform(2.0, 6.0))

    async def _neverreader(self, conn: Conn, rng: random.Random) -> None:
        """Join a busy session and stop reading; keep talking so as not to time out."""
        if self.remaining() < NEVER_READER_MIN_SECONDS:
            # Too little time left for the bytes to pile up: be a chatter instead.
            conn.behaviour = "chatter"
            await self.pause(self.remaining())
            return
        if not await conn.open(lan_like=True):
            return
        if not await conn.join(self.pick_room(rng, loud=True)):
            await conn.finish()
            return
        assert conn.writer is not None
        conn.writer.transport.pause_reading()
        self.rec.counts["never-readers stopped reading"] += 1
        started = time.time()
        while self.remaining() > 1.0 and not conn.writer.is_closing():
            # Written blind: the answer is never read. Only the server's bound tells us off.
            conn.send(conn.blind_say(rng))
            await asyncio.sleep(2.0)
        if conn.node_lost():
            self.rec.counts["never-readers cut by the node kill"] += 1
        elif conn.writer.is_closing():
            self.rec.counts["never-readers dropped by the server"] += 1
            self.rec.counts["never-reader seconds to drop (sum)"] += int(time.time() - started)
        else:
            self.rec.counts["never-readers never dropped"] += 1
            await conn.shut()
            return
        await self.pause(rng.uniform(1.0, 3.0))

    async def _guesser(self, conn: Conn, rng: random.Random) -> None:
        """Try wrong passwords on locked sessions from an address of its own."""
        source = f"{GUESSER_NET}{conn.cid % 250 + 2}"
        if not await conn.open(source=source):
            return
        locked = [room for room in self.rooms.values() if room.password is not None]
        if not locked:
            await conn.finish()
            await self.pause(2.0)
            return
        room = rng.choice(locked)
        for _ in range(6):
            if self.remaining() <= REQUEST_TIMEOUT:
                break
            wrong = f"{(int(room.password or '0') + rng.randrange(1, 99999)) % 100000:05d}"
            outcome = await conn.guess(room, wrong)
            self.rec.counts[f"guesses: {outcome.split(' ')[0]}"] += 1
            if outcome == "joined":
                self.rec.counts["guessers got in"] += 1
                break
            if outcome.startswith("wait"):
                wait = int(outcome.split()[1])
                if wait > 5:
                    break
                await self.pause(wait)
        await conn.finish()
        await self.pause(rng.uniform(1.0, 4.0))


def assign_behaviours(count: int, rng: random.Random, web: bool = False) -> list[tuple[str, str]]:
    """(door, behaviour) for each client, in a seeded random order; with ``web``, a share of the
    native clients (but loud ones) on the web door."""
    plan: list[str] = []
    for behaviour, share in SHARES.items():
        plan += [behaviour] * max(1, round(count * share))
    plan += ["chatter"] * max(0, count - len(plan))
    plan = plan[:count]
    rng.shuffle(plan)
    doors = ["web"] * round(count * WEB_SHARE) if web else []
    doors += ["native"] * (round(count * NATIVE_SHARE) - len(doors))
    doors += ["irc"] * (count - len(doors))
    rng.shuffle(doors)
    return [
        ("native" if behaviour == "loud" else door, behaviour)
        for door, behaviour in zip(doors, plan, strict=True)
    ]


# The server processes.


class Node:
    """One server process of the run (a cluster's node, or the one server) and what was measured of it.

    The process itself is started by benchmarks/servers.py or benchmarks/cluster.py; its log is a file.
    ``baseline`` and ``rounds`` belong to the process now running: a node killed and
    restarted starts them again. Its baseline is taken after the round it came back
    in (its first quiet moment), and its warm-up round is the next one, the first it
    serves whole.
    """

    def __init__(self, name: str, server: RunningServer) -> None:
        self.name = name
        self.server = server
        self.up = True
        self.kills = 0
        self.killed_status: int | None = None
        self.warm_round = 0
        self.baseline: dict[str, Any] | None = None
        # (round, RSS KiB, live objects report) after each round.
        self.rounds: list[tuple[int, int, tuple[int, int] | None]] = []

    def restarted(self, server: RunningServer, in_round: int) -> None:
        self.server = server
        self.warm_round = in_round + 1
        self.baseline = None
        self.rounds = []
        self.up = True

    @property
    def pid(self) -> int:
        return self.server.pid

    def rss_kib(self) -> int:
        return resident_kib(self.pid)

    async def live_objects(self) -> tuple[int, int] | None:
        """(live objects, of them frozen at start-up), from the report the
        server logs on SIGUSR2 (glozi/process/memory.py); None when none comes."""
        before = len(MEMORY_REPORT.findall(self.server.log_text()))
        os.kill(self.pid, REPORT_SIGNAL)
        for _ in range(int(REQUEST_TIMEOUT / LOG_POLL_SECONDS)):
            reports = MEMORY_REPORT.findall(self.server.log_text())
            if len(reports) > before:
                objects, frozen, _ = reports[before]
                return int(objects), int(frozen)
            await asyncio.sleep(LOG_POLL_SECONDS)
        return None

    async def measure(self) -> dict[str, Any]:
        """What the leak checks compare: sockets held, RSS and live objects, now."""
        return {"sockets": self.open_sockets(), "rss": self.rss_kib(), "objects": await self.live_objects()}

    def open_sockets(self) -> int:
        """Sockets the server process holds (listeners included)."""
        fds = Path(f"/proc/{self.pid}/fd")
        count = 0
        for fd in fds.iterdir():
            try:
                count += os.readlink(fd).startswith("socket:")
            except OSError:
                pass
        return count

    def established(self) -> int:
        """TCP connections in any state but LISTEN on the server's two ports."""
        ports = {f"{port:04X}" for port in self.server.ports.values()}
        count = 0
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].split(":")[1] in ports and fields[3] not in ("0A", "06"):
                count += 1
        return count

    def log_lines(self) -> list[str]:
        """Every line of the node's log, the processes before a restart included."""
        assert self.server.log_path is not None
        return self.server.log_path.read_text(errors="replace").splitlines()

    def log_count(self, pattern: str) -> int:
        return sum(1 for line in self.log_lines() if pattern in line)

    def shut_down_cleanly(self) -> bool:
        """twistd logs this after stopService; it then re-raises SIGTERM, hence status -15."""
        return self.server.log_text().count("Server Shut Down.") == 1


def server_options(args: argparse.Namespace) -> list[str]:
    """The glozichat options of every server of the run."""
    cap = str(max(5000, args.clients * 3))
    return [
        "--idle-timeout", str(args.idle_timeout),
        "--max-connections", cap,
        "--max-per-source", cap,
        "--max-send-queue", str(args.max_send_queue),
        # Each client here keeps one session at a time. A join the client gave
        # up on (no answer within 10 s under load) may still be answered; then
        # its next join must be refused, as before sessions could be several,
        # not make it a member of two sessions it does not know it is in.
        "--max-sessions-per-user", "1",
    ]  # fmt: skip


async def kill_and_restart(
    soak: "Soak", cluster: Cluster, index: int, round_index: int, seconds: float
) -> None:
    """SIGKILL node ``index`` at KILL_AT of the round, and start it again (its name and ports)
    ``--down-seconds`` later. Clients stop choosing it before the kill and choose it again
    once it is back."""
    args = soak.args
    node = soak.nodes[index]
    await asyncio.sleep(seconds * KILL_AT)
    node.up = False
    node.kills += 1
    node.killed_status = await asyncio.to_thread(cluster.kill, index)
    soak.rec.counts["node kills"] += 1
    await asyncio.sleep(args.down_seconds)
    server = await asyncio.to_thread(cluster.restart, index)
    node.restarted(server, round_index)


# The checks.


@dataclass
class DeliveryResult:
    confirmed: int = 0
    expected: int = 0
    delivered: int = 0
    missing: int = 0
    loud_expected: int = 0
    loud_missing: int = 0
    examples: list[str] = field(default_factory=list)


def check_deliveries(rec: Record) -> DeliveryResult:
    """Every confirmed message against every receiver interval of its session."""
    result = DeliveryResult(confirmed=len(rec.confirmed))
    by_session: defaultdict[str, list[Confirmed]] = defaultdict(list)
    for message in rec.confirmed:
        by_session[message.session].append(message)
    for messages in by_session.values():
        messages.sort(key=lambda m: m.lo)
    starts = {session: [m.lo for m in messages] for session, messages in by_session.items()}
    for interval in rec.intervals:
        if interval.end is None:
            continue
        messages = by_session.get(interval.session, [])
        first = bisect.bisect_right(starts.get(interval.session, []), interval.start)
        for message in messages[first:]:
            if message.lo >= interval.end:
                break
            if message.hi >= interval.end or message.sender == interval.client:
                continue
            result.expected += 1
            loud = interval.session in LOUD_SESSIONS
            result.loud_expected += loud
            if message.uid in interval.received:
                result.delivered += 1
            else:
                result.missing += 1
                result.loud_missing += loud
                if len(result.examples) < 10:
                    result.examples.append(
                        f"{message.uid} ({message.session}, ts {message.lo:.3f}) not received by client"
                        f" {interval.client} in [{interval.start:.3f}, {interval.end:.3f}] ({interval.reason})"
                    )
    return result


async def fresh_look(soak: Soak, node: Node) -> tuple[list[dict[str, Any]], int]:
    """On ``node``, a new native client lists sessions; a new IRC client counts LIST rows."""
    probe = NativeConn(soak, 0, "probe", 0)
    probe.pinned = node
    sessions: list[dict[str, Any]] = []
    if await probe.open():
        answer = await probe.request(type="list")
        if answer is not None and answer[0]["type"] == "sessions":
            sessions = answer[0]["sessions"]
    await probe.shut()
    irc = IRCConn(soak, 0, "probe", 0)
    irc.pinned = node
    rows = -1
    if await irc.open():
        listed: list[str] = []
        done = asyncio.get_running_loop().create_future()
        original = irc.handle

        def handle(line: bytes, now: float) -> None:
            original(line, now)
            words = line.split()
            if len(words) > 1 and words[1] == b"322":
                listed.append(line.decode())
            elif len(words) > 1 and words[1] == b"323" and not done.done():
                done.set_result(None)

        irc.handle = handle  # type: ignore[method-assign]
        irc.send(b"LIST\r\n")
        try:
            await asyncio.wait_for(done, REQUEST_TIMEOUT)
            rows = len(listed)
        except TimeoutError:
            pass
        irc.send(b"QUIT\r\n")
    await irc.shut()
    return sessions, rows


async def lag_monitor(stop: asyncio.Event, worst: list[float]) -> None:
    """How late this process's event loop wakes up: a slow client reads late."""
    while not stop.is_set():
        before = time.monotonic()
        await asyncio.sleep(0.1)
        worst[0] = max(worst[0], time.monotonic() - before - 0.1)


async def warm_up(soak: Soak) -> None:
    """A few connections through every door before the baseline is taken, and
    one of every kind of work the server starts lazily (a locked session's
    password hash and check, stored messages), so the baseline is a server
    that has been used, not one that has never hashed or written."""
    rng = random.Random(0)
    owner = NativeConn(soak, 9200, "warmup", 0)
    guest = NativeConn(soak, 9201, "warmup", 0)
    vault = Room("warmvault", None, "13579")
    if await owner.open() and await owner.create(vault.name, vault.password) and await guest.open():
        await guest.join(vault)
        # Under the flood budget (a burst of 20, then 5 a second): a line over it is dropped unanswered.
        for _ in range(20):
            await owner.say(rng)
            await asyncio.sleep(0.25)
    await guest.finish()
    await owner.finish()
    # Client numbers apart from the vault's owner and guest (9200, 9201).
    doors: list[tuple[type[Conn], int]] = [(NativeConn, 9000), (IRCConn, 9100)]
    if all("web" in node.server.ports for node in soak.nodes):
        doors.append((WebConn, 9300))
    for index in range(5):
        for door, first_cid in doors:
            conn = door(soak, first_cid + index, "warmup", 0)
            if await conn.open() and await conn.join(soak.pick_room(rng)):
                await conn.say(rng)
            await conn.finish()


async def run_round(soak: Soak, plan: list[tuple[str, str]], seed: int, seconds: float) -> int:
    """All clients for ``seconds``; returns how many had to be cancelled."""
    soak.deadline = time.time() + seconds
    rngs = [random.Random(f"{seed}/{cid}/{soak.deadline}") for cid in range(len(plan))]

    async def start(cid: int, door: str, behaviour: str) -> None:
        await asyncio.sleep(cid / RAMP_PER_SECOND)
        await soak.run_client(cid, door, behaviour, rngs[cid])

    tasks = [
        asyncio.create_task(start(cid, door, behaviour), name=f"{door} {behaviour}")
        for cid, (door, behaviour) in enumerate(plan)
    ]
    done, pending = await asyncio.wait(tasks, timeout=seconds + WIND_DOWN_SECONDS)
    for task in pending:
        soak.rec.counts[f"cancelled: {task.get_name()}"] += 1
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=5.0)
    for task in done:
        if task.exception() is not None:
            soak.rec.counts["client script errors"] += 1
    return len(pending)


def raise_file_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(needed, soft)), hard))


async def start_nodes(args: argparse.Namespace, workdir: Path) -> tuple[list[Node], Cluster | None]:
    """The one server, or (``--cluster N``) a cluster's nodes, started off the event loop."""
    if not args.cluster:
        server = await asyncio.to_thread(
            start_glozichat, workdir / "server", irc=True, web=True, options=server_options(args)
        )
        return [Node("server", server)], None
    cluster = Cluster(
        workdir,
        args.cluster,
        options=server_options(args),
        presence_timeout=args.presence_timeout,
    )
    await asyncio.to_thread(cluster.start)
    return [Node(cluster.name(index), server) for index, server in enumerate(cluster.nodes)], cluster


async def soak_main(args: argparse.Namespace) -> int:
    raise_file_limit(args.clients * 3 + 1000)
    started = time.time()
    workdir = Path(tempfile.mkdtemp(prefix="glozi-soak-"))
    global JOIN_MARGIN
    if args.cluster:
        JOIN_MARGIN = CLUSTER_JOIN_MARGIN
    rec = Record(args.idle_timeout, cluster=bool(args.cluster))
    lag = [0.0]
    stop_lag = asyncio.Event()
    lag_task = asyncio.create_task(lag_monitor(stop_lag, lag))
    rows: list[tuple[str, str, str]] = []
    failures: list[str] = []
    nodes: list[Node] = []
    cluster: Cluster | None = None
    statuses: list[int | None] = []
    try:
        nodes, cluster = await start_nodes(args, workdir)
        soak = Soak(args, nodes, rec)
        await warm_up(soak)
        await asyncio.sleep(QUIET_SECONDS)
        for node in nodes:
            node.baseline = await node.measure()
        plan = assign_behaviours(args.clients, random.Random(args.seed), web=not args.cluster)
        # Round 0 is the warm-up round; the others are measured against it.
        cancelled = 0
        seconds = args.seconds / args.rounds
        for round_index in range(1 + args.rounds):
            killing = None
            if cluster is not None and round_index == args.kill_round:
                killing = asyncio.create_task(
                    kill_and_restart(soak, cluster, args.kill_node - 1, round_index, seconds)
                )
            cancelled += await run_round(soak, plan, args.seed + round_index, seconds)
            if killing is not None:
                await killing
            await asyncio.sleep(QUIET_SECONDS)
            for node in nodes:
                report = await node.measure()
                if node.baseline is None:
                    # Restarted in this round: its first quiet moment is its start.
                    node.baseline = report
                else:
                    node.rounds.append((round_index, report["rss"], report["objects"]))
        looks = [await fresh_look(soak, node) for node in nodes]
        await asyncio.sleep(QUIET_SECONDS)
        ends = [{"open": node.established(), **await node.measure()} for node in nodes]
    finally:
        if cluster is not None:
            statuses = await asyncio.to_thread(cluster.stop)
        elif nodes:
            statuses = [await asyncio.to_thread(nodes[0].server.stop)]
        stop_lag.set()
        await lag_task
    deliveries = check_deliveries(rec)
    counts = rec.counts
    undecided: list[str] = []

    def row(name: str, value: object, verdict: str = "") -> None:
        rows.append((name, str(value), verdict))

    def check(name: str, value: object, ok: bool, good: str = "ok") -> None:
        row(name, value, good if ok else "FAIL")
        if not ok:
            failures.append(name)

    clients_by_door = Counter(door for door, _ in plan)
    behaviours = Counter(b for _, b in plan)
    if cluster is not None:
        row("cluster", f"{len(nodes)} nodes; node{args.kill_node} killed in round {args.kill_round}")
    row(
        "clients (native / IRC / web)",
        f"{args.clients} ({clients_by_door['native']} / {clients_by_door['irc']} / {clients_by_door['web']})",
    )
    row("behaviours", ", ".join(f"{b} {n}" for b, n in sorted(behaviours.items())))
    row(
        "seconds of load (rounds)",
        f"{args.seconds / args.rounds * (1 + args.rounds):g} (1 warm-up + {args.rounds} measured,"
        f" {args.seconds / args.rounds:g} s each)",
    )
    row(
        "connections made (native / IRC / web)",
        f"{counts['connections (n)']} / {counts['connections (i)']} / {counts['connections (w)']}",
    )
    check("connect failures", counts["connect failures"], counts["connect failures"] == 0)
    if cluster is not None:
        check("node kills", counts["node kills"], counts["node kills"] == 1)
        row(
            "cut by the node kill: connects / quits / never-readers",
            " / ".join(
                str(counts[f"{what} cut by the node kill"]) for what in ("connects", "quits", "never-readers")
            ),
        )
    row(
        "joins / kicks / closes",
        f"{counts['joins']} / {counts['kicks']} / {counts['sessions closed by admins']}",
    )
    row(
        "left: quit / kicked / closed / timeout",
        " / ".join(str(counts[f"left: {r}"]) for r in ("quit", "kicked", "closed", "timeout")),
    )
    row(
        "abrupt: close / reset / mid-line",
        " / ".join(str(counts[f"abrupt disconnects ({h})"]) for h in ("close", "reset", "midline")),
    )
    check("timeouts happened", counts["left: timeout"], counts["left: timeout"] > 0)
    check("kicks happened", counts["left: kicked"], counts["left: kicked"] > 0)
    check(
        "flooders cut off / floods (told first)",
        f"{counts['flooders cut off']} / {counts['floods started']} ({counts['flooders told before the cut']})",
        counts["flooders cut off"] == counts["floods started"] > 0,
    )
    row("flood lines acked before the cut", counts["flood lines acked"])
    dropped = counts["never-readers dropped by the server"]
    check(
        "never-readers dropped / stopped reading",
        f"{dropped} / {counts['never-readers stopped reading']}",
        dropped > 0 and counts["never-readers never dropped"] == 0,
    )
    if dropped:
        row(
            "never-reader seconds to drop (mean)",
            f"{counts['never-reader seconds to drop (sum)'] / dropped:.1f}",
        )
    row(
        "guesses: wrong / refused (too many) / got in",
        f"{counts['guesses: wrong_password']} / {counts['guesses: wait']} / {counts['guessers got in']}",
    )
    check(
        "well-behaved joins refused as guessing",
        counts["well-behaved joins refused as guessing"],
        counts["well-behaved joins refused as guessing"] == 0,
    )
    row(
        f"requests unanswered within {REQUEST_TIMEOUT:g} s (native, IRC joins)",
        counts["requests unanswered in time"],
    )
    row("messages received (all clients)", counts["messages received"])
    row("receiver intervals (ends from left time)", f"{len(rec.intervals)} ({counts['ends from left time']})")
    check("messages confirmed (acked)", deliveries.confirmed, deliveries.confirmed > 0)
    row("deliveries expected", deliveries.expected)
    row("deliveries made", deliveries.delivered)
    check("deliveries missing", deliveries.missing, deliveries.missing == 0)
    row("  of which in the never-readers' session", deliveries.loud_expected)
    check("  missing there", deliveries.loud_missing, deliveries.loud_missing == 0)
    check("deliveries to non-members", counts["stray deliveries"], counts["stray deliveries"] == 0)
    check("duplicate deliveries", counts["duplicate deliveries"], counts["duplicate deliveries"] == 0)
    check("quits unanswered", counts["quits unanswered"], counts["quits unanswered"] == 0)
    check("clients cancelled at wind-down", cancelled, cancelled == 0)
    check("client script errors", counts["client script errors"], counts["client script errors"] == 0)
    row("client event-loop lag, worst (s)", f"{lag[0]:.3f}")
    leftovers: list[tuple[str, dict[str, Any]]] = []
    for node, (sessions, irc_rows), end, status in zip(nodes, looks, ends, statuses, strict=True):
        leftover = [s for s in sessions if s["id"] > 9 or s["members"]]
        leftovers += [(node.name, session) for session in leftover]
        report_node(
            node, sessions, leftover, irc_rows, end, status, single=cluster is None, row=row, check=check
        )
    undecided += [name for name, _, verdict in rows if verdict.startswith("NO VERDICT")]
    row("wall time (s)", f"{time.time() - started:.1f}")

    width = max(len(name) for name, _, _ in rows)
    print(f"GloziChat soak, seed {args.seed}")
    for name, value, verdict in rows:
        print(f"  {name:<{width}}  {value:<20} {verdict}")
    for example in deliveries.examples:
        print(f"  missing: {example}")
    for stray in rec.strays:
        print(f"  stray: {stray}")
    for node_name, session in leftovers:
        print(f"  leftover on {node_name}: {session}")
    for name, count in sorted(counts.items()):
        if name.startswith("cancelled: "):
            print(f"  {name}: {count}")
    for error in rec.errors:
        print(f"  client script error:\n{error}")
    for node in nodes:
        for line in node.log_lines():
            if any(p in line for p in ERRORS_LOGGED):
                print(f"  {node.name} log: {line}")
    if failures:
        print("RESULT: FAIL (" + ", ".join(failures) + ")")
    elif undecided:
        print("RESULT: NO VERDICT (" + ", ".join(undecided) + ")")
    else:
        print("RESULT: PASS")
    return 1 if failures or undecided else 0


def report_node(
    node: Node,
    sessions: list[dict[str, Any]],
    leftover: list[dict[str, Any]],
    irc_rows: int,
    end: dict[str, Any],
    status: int | None,
    *,
    single: bool,
    row: Callable[..., None],
    check: Callable[..., None],
) -> None:
    """One server's rows: what it lists afterwards, its sockets, log, memory and exit."""
    who = "server" if single else node.name
    # One server's criteria keep their names; a cluster's are named by node.
    criteria = "" if single else f"{node.name} "
    assert node.baseline is not None
    builtins_ok = [s["name"] for s in sessions if s["id"] <= 9] == list(BUILTIN_SESSIONS)
    if node.kills:
        check(
            f"{who} killed (SIGKILL): exit status", node.killed_status, node.killed_status == -signal.SIGKILL
        )
        row(f"{who} restarted in round {node.warm_round - 1}: its warm-up is round {node.warm_round}", "")
    check(
        f"{who}: sessions listed afterwards",
        len(sessions),
        builtins_ok and len(sessions) == len(BUILTIN_SESSIONS),
    )
    check(f"{who}: leftover sessions or members", len(leftover), not leftover)
    check(f"{who}: IRC LIST rows afterwards", irc_rows, irc_rows == len(BUILTIN_SESSIONS))
    check(f"{who} connections open afterwards", end["open"], end["open"] == 0)
    check(
        f"{who} sockets before / after",
        f"{node.baseline['sockets']} / {end['sockets']}",
        end["sockets"] <= node.baseline["sockets"],
    )
    row(f"{who} flood disconnects logged", node.log_count("for flooding"))
    row(f"{who} slow-reader drops logged", node.log_count("stopped reading"))
    errors_logged = sum(node.log_count(p) for p in ERRORS_LOGGED)
    check(f"{who} errors logged", errors_logged, errors_logged == 0)
    # A restarted node's start is after the round it came back in; its warm-up round is the next.
    start = f"after round {node.warm_round - 1} (its start)" if node.kills else "start"
    warm_up = f"round {node.warm_round} (its warm-up)" if node.kills else "the warm-up round"
    row(f"{who} RSS {start} (KiB)", node.baseline["rss"])
    measured = node.rounds[1:]
    rss_warm = node.rounds[0][1] if node.rounds else 0
    if node.rounds:
        row(f"{who} RSS after {warm_up} (KiB)", rss_warm)
    rss_ok = True
    for number, rss, _ in measured:
        within = abs(rss / rss_warm - 1) <= RSS_ROUND_LIMIT
        rss_ok = rss_ok and within
        row(f"{who} RSS after round {number} (KiB, / warm-up)", f"{rss} ({rss / rss_warm:.4f})",
            "ok" if within else "FAIL")  # fmt: skip
    rss_criterion = f"{criteria}RSS criterion: each round within {RSS_ROUND_LIMIT:.0%} of the warm-up"
    if len(measured) < MIN_MEASURED_ROUNDS:
        row(
            rss_criterion,
            f"{len(measured)} measured round(s)",
            f"NO VERDICT (needs {MIN_MEASURED_ROUNDS} or more after its warm-up)",
        )
    else:
        check(rss_criterion, f"{len(measured)} measured rounds", rss_ok, "PASS")
    row(f"{who} RSS end (KiB)", end["rss"])

    def objects(report: tuple[int, int] | None) -> str:
        return "no report" if report is None else f"{report[0]} ({report[0] - report[1]} made since start-up)"

    objects_start = node.baseline["objects"]
    objects_at = start if node.kills else "at the warm-up round's start"
    row(f"{who} live objects {objects_at}", objects(objects_start))
    for number, _, report in node.rounds:
        row(f"{who} live objects after {warm_up if number == node.warm_round else f'round {number}'}",
            objects(report))  # fmt: skip
    row(f"{who} live objects at the end", objects(end["objects"]))
    objects_criterion = f"{criteria}live objects criterion: end within {LIVE_OBJECTS_LIMIT:.0%} of the start"
    if objects_start is None or end["objects"] is None:
        check(objects_criterion, "no memory report logged", False, "PASS")
    else:
        objects_ratio = end["objects"][0] / objects_start[0]
        within = abs(objects_ratio - 1) <= LIVE_OBJECTS_LIMIT
        check(objects_criterion, f"end / start {objects_ratio:.4f}", within, "PASS")
    check(f"{who} exit status (clean shutdown)", status, node.shut_down_cleanly())
    row(f"{who} log", node.server.log_path)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds",
        type=float,
        help="seconds of load in the measured rounds, split evenly; the warm-up round before them"
        f" lasts as long as one of them (default {MIN_ROUND_SECONDS:g} s a round)",
    )
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS, help="clients at once, all doors")
    parser.add_argument("--seed", type=int, default=1, help="seed of every random choice")
    parser.add_argument(
        "--rounds",
        type=int,
        help="measured rounds after the warm-up round, each with the same load; the memory"
        f" criterion needs at least {MIN_MEASURED_ROUNDS} for a verdict (fewer: NO VERDICT, exit status 1);"
        f" default {MIN_MEASURED_ROUNDS}, and one more with --cluster, for the restarted node's warm-up",
    )
    parser.add_argument(
        "--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT, help="server idle timeout"
    )
    parser.add_argument(
        "--max-send-queue", type=int, default=DEFAULT_SEND_QUEUE, help="server send-queue bound (bytes)"
    )
    parser.add_argument(
        "--cluster",
        type=int,
        default=0,
        metavar="N",
        help="run against a cluster of N nodes (benchmarks/cluster.py), clients spread over them,"
        " and kill one node mid-run",
    )
    parser.add_argument(
        "--kill-node", type=int, help="the node (1 to N) SIGKILLed and restarted; default the last"
    )
    parser.add_argument(
        "--kill-round",
        type=int,
        default=0,
        help="the round it is killed in (default 0, the warm-up round); once restarted, the node's own"
        " warm-up round is the next one, and its memory criterion counts the rounds after that",
    )
    parser.add_argument(
        "--presence-timeout",
        type=float,
        default=PRESENCE_TIMEOUT,
        help="the nodes' --presence-timeout (s): how soon a dead node's members are removed",
    )
    parser.add_argument(
        "--down-seconds",
        type=float,
        help="how long the killed node stays down; default the presence timeout + 2 s, so that the"
        " others remove its members before it is back",
    )
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = MIN_MEASURED_ROUNDS + (1 if args.cluster else 0)
    if args.seconds is None:
        args.seconds = MIN_ROUND_SECONDS * args.rounds
    if args.clients < 20 or args.rounds < 1:
        parser.error("need at least 20 clients and at least one measured round")
    if args.cluster:
        args.kill_node = args.cluster if args.kill_node is None else args.kill_node
        if (
            args.cluster < 2
            or not 1 <= args.kill_node <= args.cluster
            or not 0 <= args.kill_round <= args.rounds
        ):
            parser.error(
                "--cluster needs 2 nodes or more, --kill-node one of them and --kill-round one of the rounds"
            )
        if args.down_seconds is None:
            args.down_seconds = args.presence_timeout + 2.0
    elif args.kill_node is not None:
        parser.error("--kill-node needs --cluster")
    if args.seconds / args.rounds < MIN_ROUND_SECONDS:
        # Shorter rounds leave no time for timeouts, floods and never-readers to happen.
        parser.error(f"each round needs at least {MIN_ROUND_SECONDS:g} s (--seconds / --rounds)")
    return args


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(soak_main(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
