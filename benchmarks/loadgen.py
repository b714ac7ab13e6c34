"""A load generator for chat servers: GloziChat's native or web door, or any IRC server.

One asyncio process opens every client connection to 127.0.0.1, puts them in
rooms (native: ``create``/``join``; IRC: ``JOIN #roomN``; web: the native
frames, each one WebSocket text message on ``/ws``), waits until the
server is quiet, then lets the senders talk and counts what every other
member of their room receives. Each message carries its send time
(``time.monotonic_ns``, one clock for every process on the machine), so each
delivery gives one latency sample. The server's own CPU time and memory are
read from /proc of ``--server-pid``: CPU per delivery is a figure that the
generator's own speed cannot hide.

    python -m benchmarks.loadgen --proto native --port 7557 --server-pid PID --scenario F1

A cluster is several ports and pids (``--port 7557,7567,7577 --server-pid
P1,P2,P3``, in node order): client i connects to node i mod N, each room is
created on its creator's node and the others join only once every node lists
it, and CPU time and memory are the sums over the node processes.

Every loop is bounded in count and in time; the process ends by itself.
"""

import argparse
import asyncio
import itertools
import json
import os
import re
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

from benchmarks import websocket

# Every message text is "zq<send time in ns> <sender> <seq>": the marker finds
# deliveries in a received chunk with one regex, through any door.
_STAMP = re.compile(rb"zq(\d+) ")
# Clients connecting at once: ngircd listens with a backlog of 10, and a full
# accept queue drops handshakes that are then retried seconds later.
IRC_TAGS = "message-tags server-time batch labeled-response multi-prefix userhost-in-names away-notify extended-join"
"""What ``--irc-tags`` asks for: every capability that tags or changes a delivered line, but
echo-message, whose echoes would count as deliveries the scenario does not expect."""
SETUP_CONCURRENCY = 8
SETUP_TIMEOUT = 120.0
QUIET_SECONDS = 0.5
QUIET_TIMEOUT = 30.0
# How long ``--handshake`` waits for the go-ahead on stdin (a tracer attaching or detaching).
HANDSHAKE_TIMEOUT = 60.0
# How long every node of a cluster has to list a room created on one of them.
ROOMS_KNOWN_TIMEOUT = 15.0
ROOMS_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Scenario:
    """Who connects, which rooms they share, and who says how much how fast."""

    name: str
    description: str
    clients: int
    rooms: int
    senders: int = 0
    messages: int = 0
    rate: float | None = None
    hold: float = 0.0

    @property
    def room_size(self) -> int:
        return self.clients // self.rooms

    @property
    def expected(self) -> int:
        """Deliveries: every message reaches every other member of its room."""
        return self.senders * self.messages * (self.room_size - 1)

    def room_of(self, index: int) -> int:
        return index % self.rooms

    def is_sender(self, index: int) -> bool:
        # Clients 0..rooms-1 create the rooms and are their admins; senders are
        # ordinary members (they have an inactivity timer to re-arm).
        return self.rooms <= index < self.rooms + self.senders


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("F1", "one room: 200 clients, 10 senders x 300 messages, unpaced", 200, 1, 10, 300),
        Scenario(
            "F2", "many rooms: 1000 clients in 50 rooms of 20, 50 senders x 100, unpaced", 1000, 50, 50, 100
        ),
        Scenario(
            "P1", "paced: 200 clients in one room, 10 senders x 20/s for 10 s", 200, 1, 10, 200, rate=20.0
        ),
        Scenario("I1", "idle: 5000 clients in 100 rooms of 50, held 3 s", 5000, 100, hold=3.0),
    )
}


def process_cpu_ns(pid: int) -> int:
    """CPU time (user + system) of every thread of ``pid``, in nanoseconds (schedstat)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:  # a thread that just ended
            continue
    return total


def processes_cpu_ns(pids: list[int]) -> list[int]:
    """``process_cpu_ns`` of each of ``pids``."""
    return [process_cpu_ns(pid) for pid in pids]


def process_rss_bytes(pid: int) -> int:
    """Resident set size of ``pid``."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class Run:
    """The shared state of one scenario run."""

    def __init__(self, scenario: Scenario, proto: str, irc_tags: bool = False) -> None:
        self.scenario = scenario
        self.proto = proto
        # The web door carries the native door's frames, one per WebSocket message.
        self.native_frames = proto != "irc"
        self.irc_tags = irc_tags
        self.loop = asyncio.get_running_loop()
        self.rooms: list[asyncio.Future] = [self.loop.create_future() for _ in range(scenario.rooms)]
        self.received = 0
        self.latencies: list[int] = []
        self.last_delivery_ns = 0
        self.last_bytes_at = time.monotonic()
        self.done = asyncio.Event()
        self.errors: list[str] = []

    def fail(self, message: str) -> None:
        if len(self.errors) < 20:
            self.errors.append(message)


class Client(asyncio.Protocol):
    """One connection: joins its room, then counts deliveries as fast as it can."""

    def __init__(self, run: Run, index: int) -> None:
        self.run = run
        self.index = index
        self.room = run.scenario.room_of(index)
        self.creator = index < run.scenario.rooms
        self.name = f"usr{index}"
        self.transport: asyncio.Transport | None = None
        self.joined = run.loop.create_future()
        self.measuring = False
        self.tail = b""

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.run.proto == "irc":
            caps = f"CAP LS 302\r\nCAP REQ :{IRC_TAGS}\r\nCAP END\r\n" if self.run.irc_tags else ""
            self.send(f"{caps}NICK {self.name}\r\nUSER {self.name} 0 * :bench\r\n".encode())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.joined.done():
            self.joined.set_exception(ConnectionError(f"{self.name}: connection lost before joining"))
        elif not self.run.done.is_set():
            self.run.fail(f"{self.name}: connection lost ({exc})")

    def data_received(self, data: bytes) -> None:
        buf = self.tail + data
        cut = buf.rfind(b"\n") + 1
        self.tail = buf[cut:]
        self.lines_received(buf, cut)

    def lines_received(self, buf: bytes, cut: int) -> None:
        """Act on the complete lines ``buf[:cut]``: set-up answers, or (measuring) deliveries to count."""
        run = self.run
        if not self.measuring:
            run.last_bytes_at = time.monotonic()
            for line in buf[:cut].splitlines():
                self.setup_line(line)
            return
        stamps = _STAMP.findall(buf, 0, cut)
        if stamps:
            now = time.monotonic_ns()
            run.received += len(stamps)
            run.latencies.extend([now - int(s) for s in stamps])
            run.last_delivery_ns = now
            if run.received >= run.scenario.expected:
                run.done.set()
        if b"PING" in buf:
            for line in buf[:cut].splitlines():
                if line.startswith(b"PING"):
                    self.send(b"PONG" + line[4:] + b"\r\n")

    # Setup

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def join_room(self, session_id: object) -> None:
        if self.run.native_frames:
            self.send_frame({"type": "join", "session": session_id, "username": self.name})
        else:
            self.send(f"JOIN #room{self.room}\r\n".encode())

    def send_frame(self, frame: dict) -> None:
        self.send(self.framed(json.dumps(frame, separators=(",", ":")).encode()))

    def framed(self, native_frame: bytes) -> bytes:
        """The bytes that carry one native frame: a line."""
        return native_frame + b"\n"

    def _joined(self, session_id: object) -> None:
        if self.creator and not self.run.rooms[self.room].done():
            self.run.rooms[self.room].set_result(session_id)
        if not self.joined.done():
            self.joined.set_result(None)

    def _start_joining(self) -> None:
        if self.creator:
            if self.run.native_frames:
                self.send_frame({"type": "create", "name": f"room{self.room}", "username": self.name})
            else:
                self.join_room(None)
        else:
            room = self.run.rooms[self.room]
            room.add_done_callback(lambda f: None if f.cancelled() else self.join_room(f.result()))

    def setup_line(self, line: bytes) -> None:
        if self.run.native_frames:
            self._native_line(line)
        else:
            self._irc_line(line)

    def _native_line(self, line: bytes) -> None:
        frame = json.loads(line)
        kind = frame.get("type")
        if kind == "welcome":
            self._start_joining()
        elif kind == "joined":
            self._joined(frame["session"]["id"])
        elif kind == "error":
            message = f"{self.name}: {frame.get('code')}: {frame.get('message')}"
            self.run.fail(message)
            if not self.joined.done():
                self.joined.set_exception(RuntimeError(message))

    def _irc_line(self, line: bytes) -> None:
        if line.startswith(b"@"):
            line = line.partition(b" ")[2]
        parts = line.rstrip(b"\r").split(b" ")
        if parts[0] == b"PING":
            self.send(b"PONG" + line.rstrip(b"\r")[4:] + b"\r\n")
            return
        if parts[0] == b"ERROR":
            self.run.fail(f"{self.name}: {line!r}")
            return
        if len(parts) < 2:
            return
        command = parts[1]
        if command == b"001":
            self._start_joining()
        elif command == b"366":
            self._joined(None)
        # 422 (no MOTD) is an error numeric that only informs.
        elif command[:1] in (b"4", b"5") and command.isdigit() and command != b"422":
            message = f"{self.name}: {line.decode(errors='replace')}"
            self.run.fail(message)
            if not self.joined.done():
                self.joined.set_exception(RuntimeError(message))

    # Sending

    def message_line(self, seq: int) -> bytes:
        text = f"zq{time.monotonic_ns()} {self.index} {seq}"
        if self.run.native_frames:
            return self.framed(b'{"type":"say","text":"' + text.encode() + b'"}')
        return f"PRIVMSG #room{self.room} :{text}\r\n".encode()


class WebClient(Client):
    """A client of the web door: the native frames, each one WebSocket text message (docs/web.md),
    after the HTTP upgrade from the page's own origin. Counted and timed as a native client."""

    def __init__(self, run: Run, index: int) -> None:
        super().__init__(run, index)
        self.key = websocket.new_key()
        self.upgraded = False
        self.frames = websocket.FrameReader()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        host, port = transport.get_extra_info("peername")[:2]
        self.send(websocket.upgrade_request(host, port, self.key))

    def data_received(self, data: bytes) -> None:
        try:
            if not self.upgraded:
                data = self._upgrade_answer(data)
            messages, controls = self.frames.feed(data)
        except websocket.WebSocketError as error:
            self._broken(str(error))
            return
        for opcode, payload in controls:
            if opcode == websocket.PING:
                self.send(websocket.client_frame(payload, websocket.PONG))
            elif opcode == websocket.CLOSE:
                self._broken(f"closed by the server ({payload!r})")
                return
        if messages:
            lines = b"\n".join(messages) + b"\n"
            self.lines_received(lines, len(lines))

    def _upgrade_answer(self, data: bytes) -> bytes:
        """Check the server's answer to the upgrade once it is whole; the bytes after it (frames already)."""
        head, blank, rest = (self.tail + data).partition(b"\r\n\r\n")
        if not blank:
            if len(head) > websocket.MAX_UPGRADE_ANSWER:
                raise websocket.WebSocketError("no end to the answer to the upgrade")
            self.tail = head
            return b""
        self.tail = b""
        websocket.check_upgrade_answer(head, self.key)
        self.upgraded = True
        return rest

    def _broken(self, reason: str) -> None:
        message = f"{self.name}: {reason}"
        self.run.fail(message)
        if not self.joined.done():
            self.joined.set_exception(ConnectionError(message))
        assert self.transport is not None
        self.transport.abort()

    def framed(self, native_frame: bytes) -> bytes:
        """The bytes that carry one native frame: a masked text frame."""
        return websocket.client_frame(native_frame)


async def _connect(run: Run, index: int, host: str, ports: list[int], gate: asyncio.Semaphore) -> Client:
    kind = WebClient if run.proto == "web" else Client
    async with gate:
        port = ports[index % len(ports)]
        _, client = await run.loop.create_connection(lambda: kind(run, index), host, port)
        await client.joined
        return client


async def _listed_rooms(proto: str, host: str, port: int, probe: int) -> set[str]:
    """The room names one node lists now (``room0``...), through a connection of its own.

    Each probe has a nick of its own (``probe`` numbers them): a cluster's nicks are
    unique across its nodes, and the last probe's may not be free again yet."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        if proto == "native":
            await reader.readline()  # the welcome
            writer.write(b'{"type":"list","id":1}\n')
            while True:
                frame = json.loads(await reader.readline())
                if frame.get("type") == "sessions":
                    return {s["name"] for s in frame["sessions"]}
        nick = f"roomprobe{probe}"
        writer.write(f"NICK {nick}\r\nUSER {nick} 0 * :probe\r\nLIST\r\n".encode())
        names = set()
        while line := await reader.readline():
            parts = line.split()
            if len(parts) > 3 and parts[1] == b"322":
                names.add(parts[3].decode().lstrip("#"))
            elif len(parts) > 1 and parts[1] == b"323":
                writer.write(b"QUIT\r\n")
                return names
        return names
    finally:
        writer.close()


async def _wait_rooms_known(scenario: Scenario, proto: str, host: str, ports: list[int]) -> None:
    """Until every node lists every room (a room is created on one node, and the
    others learn of it over the cluster's bus); bounded by ROOMS_KNOWN_TIMEOUT."""
    wanted = {f"room{room}" for room in range(scenario.rooms)}
    deadline = time.monotonic() + ROOMS_KNOWN_TIMEOUT
    probes = itertools.count()
    for port in ports:
        while not wanted <= await asyncio.wait_for(
            _listed_rooms(proto, host, port, next(probes)), ROOMS_KNOWN_TIMEOUT
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the node on port {port} does not list every room")
            await asyncio.sleep(ROOMS_POLL_SECONDS)


async def _wait_quiet(run: Run) -> None:
    """Until nothing has arrived for QUIET_SECONDS (join announcements drained)."""
    deadline = time.monotonic() + QUIET_TIMEOUT
    while time.monotonic() - run.last_bytes_at < QUIET_SECONDS and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


async def _send_unpaced(client: Client, messages: int) -> None:
    for seq in range(messages):
        client.send(client.message_line(seq))
        # One message per sender per turn of the loop, so that receiving goes on meanwhile.
        await asyncio.sleep(0)


async def _send_paced(client: Client, messages: int, rate: float, start: float) -> None:
    interval = 1.0 / rate
    for seq in range(messages):
        delay = start + seq * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        client.send(client.message_line(seq))


def _percentile(ordered: list[int], fraction: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1e6


async def _set_up(run: Run, host: str, ports: list[int]) -> list[Client]:
    """Every client connected and in its room, the room creators first."""
    scenario = run.scenario
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)
    # Room creators first, so that each room's admin is a client that never sends.
    creators = [asyncio.ensure_future(_connect(run, i, host, ports, gate)) for i in range(scenario.rooms)]
    others: list[asyncio.Future[Client]] = []
    try:
        if len(ports) > 1:
            await asyncio.gather(*creators)
            await _wait_rooms_known(scenario, run.proto, host, ports)
        others = [
            asyncio.ensure_future(_connect(run, i, host, ports, gate))
            for i in range(scenario.rooms, scenario.clients)
        ]
        return list(await asyncio.gather(*creators, *others))
    except BaseException:
        for task in creators + others:
            task.cancel()
        raise


class Handshake:
    """A ``pause`` for ``run_scenario``: prints each step on stdout and waits (at most
    ``HANDSHAKE_TIMEOUT``) for a line on stdin before going on."""

    def __init__(self) -> None:
        self._stdin: asyncio.StreamReader | None = None

    async def __call__(self, step: str) -> None:
        print(step, flush=True)
        if self._stdin is None:
            self._stdin = reader = asyncio.StreamReader()
            loop = asyncio.get_running_loop()
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        if not await asyncio.wait_for(self._stdin.readline(), HANDSHAKE_TIMEOUT):
            raise RuntimeError(f"stdin closed before the go-ahead after {step!r}")


async def run_scenario(
    scenario: Scenario, proto: str, host: str, ports: list[int], server_pids: list[int], timeout: float,
    irc_tags: bool = False, pause: Callable[[str], Awaitable[None]] | None = None,
) -> dict:
    """Run one scenario against servers that are already listening (one, or a cluster's nodes
    on ``ports`` with processes ``server_pids``); return its figures. With ``irc_tags`` every
    IRC client negotiates ``IRC_TAGS`` first. ``pause`` is awaited with ``"measure"`` once everyone
    is joined and quiet, just before the first send, and with ``"measured"`` after the last
    delivery, before the clients disconnect: the span the figures are taken over."""
    run = Run(scenario, proto, irc_tags)
    rss_before = sum(map(process_rss_bytes, server_pids))
    setup_started = time.monotonic()
    try:
        clients = await asyncio.wait_for(_set_up(run, host, ports), SETUP_TIMEOUT)
    # Whatever stopped one client's setup (refusal, reset, timeout) ends the run with its reason.
    except Exception as error:  # noqa: BLE001
        raise RuntimeError(f"setup failed: {error!r}; {run.errors[:3]}") from None
    setup_seconds = time.monotonic() - setup_started
    await _wait_quiet(run)
    rss_after = sum(map(process_rss_bytes, server_pids))

    senders = [c for c in clients if scenario.is_sender(c.index)]
    for client in clients:
        client.measuring = True
    if pause is not None:
        await pause("measure")
    my_cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = processes_cpu_ns(server_pids)
    started_ns = time.monotonic_ns()
    if scenario.expected:
        start = time.monotonic()
        if scenario.rate is None:
            tasks = [_send_unpaced(c, scenario.messages) for c in senders]
        else:
            # Senders spread evenly over one interval, not all at once.
            step = 1.0 / scenario.rate / len(senders)
            tasks = [
                _send_paced(c, scenario.messages, scenario.rate, start + k * step)
                for k, c in enumerate(senders)
            ]
        sending = asyncio.gather(*tasks)
        try:
            await asyncio.wait_for(run.done.wait(), timeout)
        except TimeoutError:
            run.fail(f"timed out after {timeout:.0f} s")
        sending.cancel()
        ended_ns = run.last_delivery_ns or time.monotonic_ns()
    else:
        await asyncio.sleep(scenario.hold)
        ended_ns = time.monotonic_ns()
    cpu_after = processes_cpu_ns(server_pids)
    my_cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    rss_held = sum(map(process_rss_bytes, server_pids))
    run.done.set()
    if pause is not None:
        await pause("measured")
    for client in clients:
        if client.transport is not None:
            client.transport.abort()

    elapsed = (ended_ns - started_ns) / 1e9
    node_cpu = [(after - before) / 1e9 for before, after in zip(cpu_before, cpu_after, strict=True)]
    server_cpu = sum(node_cpu)
    ordered = sorted(run.latencies)
    delivered = run.received
    my_cpu = (my_cpu_after.ru_utime + my_cpu_after.ru_stime) - (
        my_cpu_before.ru_utime + my_cpu_before.ru_stime
    )
    return {
        "scenario": scenario.name,
        "proto": proto,
        "irc_tags": irc_tags,
        "clients": scenario.clients,
        "expected": scenario.expected,
        "delivered": delivered,
        "lost": scenario.expected - delivered,
        "seconds": round(elapsed, 3),
        "deliveries_per_s": round(delivered / elapsed) if delivered and elapsed > 0 else 0,
        "p50_ms": round(_percentile(ordered, 0.50), 2),
        "p99_ms": round(_percentile(ordered, 0.99), 2),
        "max_ms": round(ordered[-1] / 1e6, 2) if ordered else float("nan"),
        "nodes": len(ports),
        "server_cpu_s": round(server_cpu, 4),
        "server_cpu_s_per_node": [round(cpu, 4) for cpu in node_cpu],
        "server_cpu_us_per_delivery": round(server_cpu / delivered * 1e6, 3) if delivered else None,
        "generator_cpu_s": round(my_cpu, 3),
        "rss_before_kb": rss_before // 1024,
        "rss_joined_kb": rss_after // 1024,
        "rss_end_kb": rss_held // 1024,
        # Measured with everyone joined and quiet: what holding a connection costs.
        "rss_per_conn_bytes": round((rss_after - rss_before) / scenario.clients),
        "setup_seconds": round(setup_seconds, 2),
        "errors": run.errors,
    }


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
        except ValueError:
            pass


def _numbers(text: str) -> list[int]:
    return [int(word) for word in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    """Command line: run one scenario, print a summary (or JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--proto", choices=("native", "irc", "web"), required=True, help="web: the native frames over WebSocket"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=_numbers, required=True, help="the server's port, or each node's: P1,P2,..."
    )
    parser.add_argument(
        "--server-pid",
        type=_numbers,
        required=True,
        help="the server process, or each node's, for /proc figures",
    )
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), required=True)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for every delivery")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--irc-tags", action="store_true", help=f"IRC: every client negotiates CAP REQ :{IRC_TAGS}"
    )
    parser.add_argument(
        "--handshake",
        action="store_true",
        help="print 'measure' before the first send and 'measured' after the last delivery, and after "
        "each wait for a line on stdin (benchmarks/syscalls.py attaches and detaches its tracer then)",
    )
    args = parser.parse_args(argv)
    if not args.host.startswith("127."):
        parser.error("the load generator only talks to loopback addresses")
    if len(args.port) != len(args.server_pid):
        parser.error("one --server-pid per --port")
    if args.proto == "web" and len(args.port) > 1:
        parser.error("the web door is measured on one server (a cluster's nodes run without it)")
    scenario = SCENARIOS[args.scenario]
    raise_fd_limit(scenario.clients + 100)
    result = asyncio.run(
        run_scenario(
            scenario, args.proto, args.host, args.port, args.server_pid, args.timeout, args.irc_tags,
            Handshake() if args.handshake else None,
        )
    )
    result["description"] = scenario.description
    result["scenario_spec"] = asdict(scenario)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>28}: {value}")
    return 0 if result["lost"] == 0 and not result["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
