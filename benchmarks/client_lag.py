"""The desktop client under a busy session: its worst event-loop lag while it renders.

    PYTHONPATH=. python -m benchmarks.client_lag [--rate 200] [--seconds 20] [--senders 10]
        [--profile DIR] [--json]

Starts a real server (``twistd -n glozichat`` on a free loopback port, with the
benchmark limits of benchmarks/servers.py), an Xvfb display of its own, and
the real desktop client (``start_client``: ``ClientWindow`` and
``ClientViewModel`` on tksupport) in a process of its own, which joins one
session as ``watcher`` through the view-model's public actions only
(``session_by_id``, ``open_join``, ``submit_join``). Native sender bots in
this process then send ``--rate`` messages a second in all, for ``--seconds``
seconds, with the text people send: short lines, long paragraphs, links,
emoji (😀🎉🇫🇷, skin tones, a family sequence) and lines that mention the
watcher.

In the client process two tickers run every 10 ms while the messages come
and until the last one is on screen: one on the reactor (``callLater``) and
one on Tk (``after``, which tksupport's 10 ms ``update`` drives), each
recording how late it ran. Each message ends with its number (``·00042``);
the client reads the numbers back from its transcripts' text once a second,
so *rendered* counts messages that reached the screen. The goal (issue 14):
the worst lag under 100 ms, and every message rendered.

Everything stays on 127.0.0.1; the sending is bounded in count and time, the
drain in time; the server, the client and Xvfb are stopped at the end.
"""

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.servers import REPO_ROOT, start_glozichat

GOAL_MS = 100.0
TICK_SECONDS = 0.010
SESSION = 2
"""The built-in session ``kiwi``: it exists on a fresh server and has no admin to time anyone out."""
WATCHER = "watcher"
SETUP_TIMEOUT = 60.0
DRAIN_TIMEOUT = 30.0
"""How long the client may take, after the last message is sent, to show them all."""
SAMPLE_SECONDS = 0.5
DRAIN_SAMPLE_SECONDS = 0.2
"""After the last send, how often the client looks whether every message is on screen."""
TAIL_LINES_PER_MESSAGE = 4
"""Transcript lines read per message a sample may have missed: a message is one line, or
a few with a name or day heading; a last full read at the end catches what the tail missed."""
TOKEN = re.compile(r"·(\d{5})")
MAX_MESSAGES = 99_999
"""Five digits number every message."""

_SHORT = (
    "ok", "sounds good", "lunch at 12?", "on my way", "brb", "thanks!", "who broke the build?",
    "merged", "can someone review #512", "nice 😀", "👍", "I'll take it", "done, deploying now",
)  # fmt: skip
_LINKS = (
    "see https://example.org/docs/install#tls for the steps",
    "the ticket: https://tracker.example.com/issues/4242?tab=comments&sort=new",
    "notes are on www.example.net/wiki/GloziChat and https://example.org/a/b/c",
    "slides: https://example.com/talks/2026/fanout.pdf (page 12)",
)
_EMOJI = (
    "😀🎉🇫🇷",
    "party time 🎉🎉🎉",
    "thumbs up 👍🏽 from me",
    "the family 👨‍👩‍👧‍👦 says hi",
    "🇫🇷🇩🇪🇯🇵 flags for the trip",
    "the clef 𝄞 and a heart ❤️",
)
_MENTIONS = (
    "{nick}, can you look at this?",
    "ping @{nick}",
    "{nick}: the deploy is done 🎉",
    "thanks {Nick}!",
)
_PROSE = (
    "the server keeps each session's history in SQLite and every member gets a line per message while "
    "the client paces its own sends below the flood budget and renders each line with its sender colour"
)


def message_texts(count: int, seed: int, nick: str) -> Iterator[str]:
    """``count`` chat lines as people write them, each ending with its number (``·00042``)."""
    rng = random.Random(seed)
    words = _PROSE.split()
    for number in range(count):
        kind = rng.random()
        if kind < 0.50:
            text = rng.choice(_SHORT)
        elif kind < 0.65:
            text = rng.choice(_LINKS)
        elif kind < 0.80:
            text = rng.choice(_EMOJI)
        elif kind < 0.90:
            text = rng.choice(_MENTIONS).format(nick=nick, Nick=nick.capitalize())
        else:
            text = " ".join(rng.choice(words) for _ in range(rng.randint(100, 250)))[:1900]
        yield f"{text} ·{number:05d}"


def summary(values_ms: list[float]) -> dict[str, float | None]:
    """Worst, p99 and p50 of ``values_ms``, rounded to 0.1 ms (``None`` when there are none)."""
    if not values_ms:
        return {"worst_ms": None, "p99_ms": None, "p50_ms": None}
    ordered = sorted(values_ms)

    def at(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 1)

    return {"worst_ms": round(ordered[-1], 1), "p99_ms": at(0.99), "p50_ms": at(0.50)}


# The client process: the real client, two tickers and a reader of the transcript.


class LagProbe:
    """Every ``TICK_SECONDS`` on the reactor and on Tk, how late the tick ran (ms)."""

    def __init__(self, reactor: Any, root: Any) -> None:
        self.reactor = reactor
        self.root = root
        self.reactor_late: list[float] = []
        self.tk_late: list[float] = []
        self.reactor_at: list[float] = []
        """When each reactor tick ran, in seconds since ``start``: the worst ones are reported with it."""
        self.running = False
        self.started = 0.0

    def start(self) -> None:
        self.running = True
        now = self.started = time.monotonic()
        self.reactor.callLater(TICK_SECONDS, self._reactor_tick, now + TICK_SECONDS)
        self.root.after(round(TICK_SECONDS * 1000), self._tk_tick, now + TICK_SECONDS)

    def stop(self) -> None:
        self.running = False

    def _reactor_tick(self, due: float) -> None:
        if not self.running:
            return
        now = time.monotonic()
        self.reactor_late.append((now - due) * 1000)
        self.reactor_at.append(now - self.started)
        self.reactor.callLater(TICK_SECONDS, self._reactor_tick, now + TICK_SECONDS)

    def worst_reactor_ticks(self, count: int) -> list[tuple[float, float]]:
        """The ``count`` latest reactor ticks: (seconds since start, ms late), in time order."""
        worst = sorted(zip(self.reactor_at, self.reactor_late), key=lambda tick: tick[1])[-count:]
        return sorted((round(at, 2), round(late, 1)) for at, late in worst)

    def _tk_tick(self, due: float) -> None:
        if not self.running:
            return
        now = time.monotonic()
        self.tk_late.append((now - due) * 1000)
        self.root.after(round(TICK_SECONDS * 1000), self._tk_tick, now + TICK_SECONDS)


def text_widgets(top: Any) -> Iterator[Any]:
    """Every Tk ``Text`` under ``top``: the transcripts, however many conversations the client shows."""
    import tkinter as tk

    stack = [top]
    while stack:
        widget = stack.pop()
        if isinstance(widget, tk.Text):
            yield widget
        stack.extend(widget.winfo_children())


class RenderedMessages:
    """The numbers of the messages on screen, read from the transcripts' text."""

    def __init__(self, top: Any, tail_lines: int) -> None:
        self.top = top
        self.tail_lines = tail_lines
        self.seen: set[int] = set()
        self.slowest_read_ms = 0.0

    def sample(self, *, everything: bool = False) -> None:
        """Read the newest lines of every transcript (``everything``: all of them)."""
        started = time.monotonic()
        start = "1.0" if everything else f"end-{self.tail_lines}lines"
        for text in text_widgets(self.top):
            self.seen.update(int(n) for n in TOKEN.findall(text.get(start, "end")))
        if not everything:
            self.slowest_read_ms = max(self.slowest_read_ms, (time.monotonic() - started) * 1000)


def run_client(port: int, session: int, nick: str, rate: float) -> None:
    """The client process: join, then obey ``start`` and ``stop N`` on stdin; one JSON result on stdout."""
    import tkinter as tk

    from twisted.internet import reactor, stdio, tksupport
    from twisted.protocols.basic import LineReceiver

    from glozi.client.app import start_client
    from glozi.client.state import ServerAddress

    root = tk.Tk(className="GloziChatLag")
    root.geometry("980x640+0+0")
    window = start_client(root, reactor, ServerAddress("127.0.0.1", port, "benchmark"))
    tksupport.install(root)
    probe = LagProbe(reactor, root)
    rendered = RenderedMessages(root, max(200, round(rate * SAMPLE_SECONDS * TAIL_LINES_PER_MESSAGE)))
    joining_deadline = time.monotonic() + SETUP_TIMEOUT

    class Orders(LineReceiver):
        delimiter = b"\n"

        def __init__(self) -> None:
            self.started = 0.0
            self.cpu_at_start = 0.0
            self.expected: int | None = None
            self.stop_at = 0.0

        def tell(self, **fields: Any) -> None:
            self.transport.write(json.dumps(fields).encode() + b"\n")

        def lineReceived(self, line: bytes) -> None:
            order, _, argument = line.decode().partition(" ")
            if order == "start":
                self.started = time.monotonic()
                self.cpu_at_start = time.process_time()
                probe.start()
                reactor.callLater(SAMPLE_SECONDS, self.sample)
            elif order == "stop":
                self.expected = int(argument)
                self.stop_at = time.monotonic()

        def sample(self) -> None:
            before = len(rendered.seen)
            rendered.sample()
            now = time.monotonic()
            if self.expected is None:
                reactor.callLater(SAMPLE_SECONDS, self.sample)
                return
            # Only the newest lines are read, so a burst may hide a few from a
            # sample: once the last message is on screen and nothing more
            # comes, the full read below counts them.
            settled = self.expected - 1 in rendered.seen and len(rendered.seen) == before
            if not (len(rendered.seen) >= self.expected or settled or now > self.stop_at + DRAIN_TIMEOUT):
                reactor.callLater(DRAIN_SAMPLE_SECONDS, self.sample)
                return
            probe.stop()
            rendered.sample(everything=True)
            self.tell(
                event="result",
                reactor_late_ms=probe.reactor_late,
                tk_late_ms=probe.tk_late,
                worst_reactor_ticks=probe.worst_reactor_ticks(8),
                rendered=len(rendered.seen),
                measured_s=round(now - self.started, 2),
                cpu_s=round(time.process_time() - self.cpu_at_start, 2),
                drain_s=round(now - self.stop_at, 2),
                slowest_read_ms=round(rendered.slowest_read_ms, 1),
            )
            reactor.callLater(0, finish)

    orders = Orders()
    stdio.StandardIO(orders)

    def join() -> None:
        model = window.model
        if model.session_by_id(session) is not None:
            model.open_join(session)
            if model.submit_join(nick):
                orders.tell(event="joining")
                return
        if time.monotonic() > joining_deadline:
            orders.tell(event="failed", reason="the client never offered the join")
            reactor.callLater(0, finish)
            return
        reactor.callLater(0.1, join)

    def finish() -> None:
        window.model.view = None
        window.model.close()
        tksupport.uninstall()
        root.destroy()
        reactor.stop()

    reactor.callWhenRunning(join)
    reactor.run()


# The benchmark process: server, Xvfb, the client process and the sender bots.


class Bot(asyncio.Protocol):
    """A native sender: joins the session, sends what it is given, reads everything it is sent."""

    def __init__(self, name: str, session: int, on_watcher: Callable[[], None]) -> None:
        self.name = name
        self.session = session
        self.on_watcher = on_watcher
        self.transport: asyncio.Transport | None = None
        self.joined: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.errors: list[str] = []
        self._buffer = b""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        lines = (self._buffer + data).split(b"\n")
        self._buffer = lines.pop()
        for line in lines:
            # Everyone's messages and acks are most of it: only the rest is read.
            if line.startswith((b'{"type":"message"', b'{"type":"ack"')):
                continue
            self._frame(json.loads(line))

    def _frame(self, frame: dict) -> None:
        kind = frame.get("type")
        if kind == "welcome":
            self.say_frame({"type": "join", "session": self.session, "username": self.name})
        elif kind == "joined" and not self.joined.done():
            self.joined.set_result(None)
        elif kind == "member_joined" and frame.get("name") == WATCHER:
            self.on_watcher()
        elif kind == "error":
            self.errors.append(f"{self.name}: {frame.get('code')}: {frame.get('message')}")
            if not self.joined.done():
                self.joined.set_exception(RuntimeError(self.errors[-1]))

    def say_frame(self, frame: dict) -> None:
        assert self.transport is not None
        self.transport.write(json.dumps(frame, separators=(",", ":")).encode() + b"\n")


async def _client_event(client: asyncio.subprocess.Process, wanted: str, timeout: float) -> dict:
    """The next line the client process tells (``{"event": ...}``) of kind ``wanted``."""
    assert client.stdout is not None
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError(f"the client did not say {wanted!r} within {timeout:.0f} s")
        line = await asyncio.wait_for(client.stdout.readline(), left)
        if not line:
            raise RuntimeError(f"the client exited before saying {wanted!r}")
        told = json.loads(line)
        if told.get("event") == "failed":
            raise RuntimeError(f"the client failed: {told.get('reason')}")
        if told.get("event") == wanted:
            return told


def sender_turns(count: int, senders: int, seed: int) -> list[int]:
    """Who sends each of ``count`` messages: as in a chat, often the last sender again (a run of
    lines a client may group under one name), else anyone."""
    rng = random.Random(seed)
    turns = [0]
    while len(turns) < count:
        turns.append(turns[-1] if rng.random() < 0.4 else rng.randrange(senders))
    return turns[:count]


async def _send(bots: list[Bot], texts: list[str], turns: list[int], rate: float, seconds: float) -> tuple[int, float]:
    """Send ``texts`` from the ``bots`` whose turn it is, at ``rate`` a second, for ``seconds`` at most."""
    started = time.monotonic()
    sent = 0
    for number, (text, turn) in enumerate(zip(texts, turns)):
        delay = started + number / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if time.monotonic() - started > seconds:
            break
        bots[turn].say_frame({"type": "say", "text": text})
        sent += 1
    return sent, time.monotonic() - started


def _start_profiler(pid: int, out: Path) -> subprocess.Popen | None:
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--rate", "250", "--format", "raw", "--nolineno",
         "--output", str(out / "client.collapsed")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def run_benchmark(rate: float, seconds: float, senders: int, seed: int, profile: Path | None) -> dict:
    """Start everything, run the load, stop everything; the figures."""
    from tests.realthings import Xvfb

    count = min(MAX_MESSAGES, int(rate * seconds))
    texts = list(message_texts(count, seed, WATCHER))
    workdir = Path(tempfile.mkdtemp(prefix="glozi-client-lag-"))
    server = start_glozichat(workdir / "server", irc=False)
    xvfb = Xvfb()
    client: asyncio.subprocess.Process | None = None
    spy: subprocess.Popen | None = None
    bots: list[Bot] = []
    try:
        display = xvfb.start()
        port = server.ports["native"]
        client = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.client_lag", "--role", "client", "--port", str(port),
            "--rate", str(rate),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=REPO_ROOT,
            env=dict(os.environ, DISPLAY=display, PYTHONPATH=str(REPO_ROOT)),
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        watcher_in = loop.create_future()

        def watcher_joined() -> None:
            if not watcher_in.done():
                watcher_in.set_result(None)

        for number in range(senders):
            _, bot = await loop.create_connection(
                lambda n=number: Bot(f"sender{n + 1}", SESSION, watcher_joined), "127.0.0.1", port
            )
            bots.append(bot)
        await asyncio.wait_for(asyncio.gather(*(bot.joined for bot in bots)), SETUP_TIMEOUT)
        await _client_event(client, "joining", SETUP_TIMEOUT)
        await asyncio.wait_for(watcher_in, SETUP_TIMEOUT)
        if profile is not None:
            spy = _start_profiler(client.pid, profile)
        assert client.stdin is not None
        client.stdin.write(b"start\n")
        sent, sending_s = await _send(bots, texts, sender_turns(count, senders, seed), rate, seconds)
        client.stdin.write(f"stop {sent}\n".encode())
        told = await _client_event(client, "result", DRAIN_TIMEOUT + 30)
        await asyncio.wait_for(client.wait(), 30)
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        for bot in bots:
            if bot.transport is not None:
                bot.transport.close()
        if client is not None and client.returncode is None:
            client.kill()
            await client.wait()
        server.stop()
        xvfb.stop()
    reactor_lag, tk_lag = summary(told["reactor_late_ms"]), summary(told["tk_late_ms"])
    worst = max(reactor_lag["worst_ms"] or 0.0, tk_lag["worst_ms"] or 0.0)
    result = {
        "benchmark": "client_lag",
        "rate_per_s": rate,
        "senders": senders,
        "sent": sent,
        "rendered": told["rendered"],
        "sending_s": round(sending_s, 2),
        "measured_s": told["measured_s"],
        "drain_s": told["drain_s"],
        "client_cpu_s": told["cpu_s"],
        "reactor_lag": reactor_lag,
        "tk_lag": tk_lag,
        "ticks": {"reactor": len(told["reactor_late_ms"]), "tk": len(told["tk_late_ms"])},
        "worst_reactor_ticks": told["worst_reactor_ticks"],
        "slowest_transcript_read_ms": told["slowest_read_ms"],
        "bot_errors": [error for bot in bots for error in bot.errors],
        "goal_ms": GOAL_MS,
        "pass": worst < GOAL_MS and told["rendered"] == sent,
    }
    if profile is not None:
        from benchmarks.profile import summarize

        result["profile"] = str(profile / "client.collapsed")
        (profile / "client.txt").write_text(summarize(profile / "client.collapsed", 30) + "\n")
    return result


def report(result: dict) -> str:
    """The figures as a text block."""
    lines = [
        f"client lag at {result['rate_per_s']:g} messages/s from {result['senders']} senders, one session",
        f"  messages sent / rendered: {result['sent']} / {result['rendered']}",
        (
            f"  sending {result['sending_s']} s, measured {result['measured_s']} s, "
            f"screen read until {result['drain_s']} s after the last send"
        ),
        f"  client CPU: {result['client_cpu_s']} s in the {result['measured_s']} s measured",
    ]
    for loop in ("reactor", "tk"):
        lag = result[f"{loop}_lag"]
        lines.append(
            f"  {loop:>7} lag: worst {lag['worst_ms']} ms, p99 {lag['p99_ms']} ms, p50 {lag['p50_ms']} ms "
            f"({result['ticks'][loop]} ticks of 10 ms)"
        )
    worst = ", ".join(f"{late} ms at {at} s" for at, late in result["worst_reactor_ticks"])
    lines.append(f"  the latest reactor ticks: {worst}")
    read_ms = result["slowest_transcript_read_ms"]
    lines.append(f"  slowest transcript read (the benchmark's own, every {SAMPLE_SECONDS:g} s): {read_ms} ms")
    if result["bot_errors"]:
        lines.append(f"  sender errors: {result['bot_errors'][:5]}")
    verdict = "PASS" if result["pass"] else "FAIL"
    lines.append(f"  {verdict}: worst lag under {result['goal_ms']:g} ms and every message rendered")
    if "profile" in result:
        lines.append(f"  profile: {result['profile']} (summary beside it, client.txt)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: run the benchmark (or, with ``--role client``, be its client process)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", choices=("benchmark", "client"), default="benchmark", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=200.0, help="messages a second, all senders together")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the senders send")
    parser.add_argument("--senders", type=int, default=10, help="sender bots, taking turns")
    parser.add_argument("--seed", type=int, default=1, help="seed of the message texts")
    parser.add_argument("--profile", type=Path, help="record the client with py-spy into this directory")
    parser.add_argument("--json", action="store_true", help="print the JSON line only")
    args = parser.parse_args(argv)
    if args.role == "client":
        run_client(args.port, SESSION, WATCHER, args.rate)
        return 0
    if not (0 < args.rate <= 2000 and 0 < args.seconds <= 600 and 1 <= args.senders <= 100):
        parser.error("--rate is 1 to 2000, --seconds up to 600, --senders 1 to 100")
    result = asyncio.run(run_benchmark(args.rate, args.seconds, args.senders, args.seed, args.profile))
    if not args.json:
        print(report(result))
    print(json.dumps(result))
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
