"""Profile GloziChat under one scenario with py-spy and print where its time goes.

    PYTHONPATH=. python -m benchmarks.profile --scenario F1 [--proto native|irc|web] [--out DIR]

Starts ``twistd -n glozichat`` on loopback, attaches ``py-spy record`` to it,
runs the load generator, and prints the functions with the most samples:
self (the function itself was running) and total (it was on the stack). The
server's CPU figures of a profiled run are inflated by the sampling; take
those from ``benchmarks/compare``.
"""

import argparse
import collections
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.servers import REPO_ROOT, glozichat_has_irc, start_glozichat

SAMPLE_RATE = 1000
# What a function is, for the summary by kind: the first kind one of whose patterns is in the
# innermost frame ("function (file)"), else its file's owner. Function names, so it has to follow
# the code: a kind that grows a new function needs it here.
KINDS = (
    ("socket send (send(), Twisted's write buffer)", (
        "untilConcludes (", "writeSomeData (", "FileDescriptor.doWrite (", "FileDescriptor.write (",
        "_maybePauseProducer (", "_isSendBufferFull (", "FileDescriptor.writeSequence (", "_dataMustBeBytes (",
        "ConnectionMixin.write (", "(glozi/doors/directwrite.py)",
    )),
    ("epoll registration (addWriter/removeWriter)", (
        "EPollReactor._add (", "EPollReactor._remove (", "addWriter (", "removeWriter (", "startWriting (",
        "stopWriting (", "addReader (", "removeReader (",
    )),
    ("reactor loop (epoll_wait, dispatch, recv())", (
        "EPollReactor.doPoll (", "_doReadOrWrite (", "ReactorBase.mainLoop (", "runUntilCurrent (",
        "callWithLogger (", "callWithContext (", "Connection.doRead (", "Connection._dataReceived (",
        "(twisted/python/context.py)", "_FDWaker.doRead (",
    )),
    ("timers", ("DelayedCall", "callLater (", "(glozi/domain/idle.py)", "resetTimeout (")),
    ("logging", ("(twisted/logger/", "(twisted/python/log.py)")),
    # Before the encoding: the IRC door's wire.py holds its parser (parse_line) too.
    ("reading and parsing input", ("(json/decoder.py)", "loads (", "dataReceived (", "_lines_received (", "parse")),
    ("JSON / IRC encoding", (
        "(json/encoder.py)", "(glozi/doors/irc/wire.py)", "(glozi/doors/irc/messages.py)", "encode", "dumps (",
    )),
    ("our fan-out (publish, deliver, write batch)", (
        "LocalFanout.", ".deliver (", "BatchedWrites.", "WriteBatch.", "publish", "deliver_to (", "shared_bytes (",
        "_write_each (",
    )),
    ("the store, on the reactor's side", (
        "(glozi/storage/", "(twisted/enterprise/", "(twisted/_threads/", "callFromThread (", "Condition.notify (",
    )),
    # Dataclasses' generated __init__ is "(<string>)": Message, StoredMessage, events.
    ("the chat domain (messages, scrollback, flood control)", ("(glozi/domain/", "(glozi/limits/", "(<string>)")),
    ("Deferreds", ("(twisted/internet/defer.py)",)),
)  # fmt: skip
_WORKER = "Thread._bootstrap (threading.py)"
_WAITING = ("Condition.wait (threading.py)", "Queue.get (queue.py)")


def kind_of(frame: str) -> str:
    """What ``frame`` ("function (file)") is: one of ``KINDS``, else whose code it is."""
    for kind, patterns in KINDS:
        if any(pattern in frame for pattern in patterns):
            return kind
    if "(glozi/" in frame:
        return "other GloziChat code (doors)"
    if "(twisted/" in frame:
        return "other Twisted code"
    return "other (standard library, interpreter)"


def read_stacks(collapsed: Path) -> list[tuple[list[str], int]]:
    """Each stack of py-spy's raw (collapsed) output, outermost frame first, with its samples."""
    stacks = []
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        # Thread and process frames are py-spy's labels, not code.
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if frames:
            stacks.append((frames, int(count_text)))
    return stacks


def by_kind(collapsed: Path) -> str:
    """The reactor thread's samples by what their innermost function is (``KINDS``), each a share of
    that thread's samples; the worker threads' (the store's, password hashing) beside, busy and waiting."""
    kinds: collections.Counter[str] = collections.Counter()
    workers: collections.Counter[str] = collections.Counter()
    for frames, count in read_stacks(collapsed):
        if _WORKER in frames:
            workers["waiting" if frames[-1] in _WAITING else "busy"] += count
        else:
            kinds[kind_of(frames[-1])] += count
    reactor = sum(kinds.values())
    lines = [f"reactor thread: {reactor} samples, by kind (self)"]
    lines += [f"{100 * count / reactor:5.1f}%  {kind}" for kind, count in kinds.most_common()]
    lines.append(f"worker threads: {workers['busy']} samples busy, {workers['waiting']} waiting")
    return "\n".join(lines)


def summarize(collapsed: Path, top: int) -> str:
    """The ``top`` functions by self and by total samples, from py-spy's raw (collapsed) output."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for frames, count in read_stacks(collapsed):
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    lines = [f"{samples} samples"]
    for title, counter in (("self", own), ("total", total)):
        lines.append(f"\n{title:>6}  function")
        for frame, count in counter.most_common(top):
            lines.append(f"{100 * count / samples:5.1f}%  {frame}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: profile one scenario and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="F1")
    parser.add_argument("--proto", choices=("native", "irc", "web"), default="native")
    parser.add_argument("--out", type=Path, help="keep the collapsed stacks and the summary here")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        parser.error("py-spy is not installed (pip install py-spy)")
    workdir = Path(tempfile.mkdtemp(prefix="glozi-profile-"))
    out = args.out or workdir
    out.mkdir(parents=True, exist_ok=True)
    collapsed = out / f"{args.scenario}-{args.proto}.collapsed"
    server = start_glozichat(
        workdir / "server", irc=args.proto == "irc" and glozichat_has_irc(), web=args.proto == "web"
    )
    try:
        spy = subprocess.Popen(
            [py_spy, "record", "--pid", str(server.pid), "--rate", str(SAMPLE_RATE), "--format", "raw",
             "--nolineno", "--output", str(collapsed)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(1.0)
        generator = subprocess.run(
            [sys.executable, "-m", "benchmarks.loadgen", "--proto", args.proto, "--port",
             str(server.ports[args.proto]), "--server-pid", str(server.pid), "--scenario", args.scenario, "--json"],
            check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        spy.send_signal(signal.SIGINT)
        spy.wait(60)
    finally:
        server.stop()
    if generator.returncode != 0 and not generator.stdout:
        print(generator.stderr, file=sys.stderr)
        return 1
    result = json.loads(generator.stdout.splitlines()[-1])
    summary = summarize(collapsed, args.top) + "\n\n" + by_kind(collapsed)
    header = (
        f"{args.scenario} over {args.proto}: {result['delivered']}/{result['expected']} delivered, "
        f"{result['server_cpu_us_per_delivery']} us server CPU per delivery (inflated by sampling)"
    )
    (out / f"{args.scenario}-{args.proto}.txt").write_text(header + "\n" + summary + "\n")
    print(header)
    print(summary)
    print(f"\ncollapsed stacks: {collapsed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
