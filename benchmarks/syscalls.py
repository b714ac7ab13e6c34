"""System calls per delivery: ngircd and GloziChat's doors under one scenario, counted by the kernel.

    PYTHONPATH=. python -m benchmarks.syscalls --scenario P1 [--out FILE] [--no-check] [--nice N]

The targets and their start-up are ``benchmarks/compare``'s (benchmarks/run.py): ngircd, GloziChat
through its IRC, native and web doors, each a freshly started server on loopback, pinned to the
first core as there. The load generator runs with ``--handshake``: once every client is joined and
quiet it stops before its first send; the counting starts, the senders go, and after the last
delivery the generator stops again until the counting has stopped, before its clients disconnect.
So the counts cover the span the generator's CPU figure covers, without the joins and the quits.

The counting is ``perf stat -e 'syscalls:sys_enter_*' -p PID``: one kernel counter per system
call and thread (new threads inherit them), nothing done per call outside the kernel; it is
attached disabled and switched on and off through its control FIFO, each switch acknowledged.
``strace -f -c -p PID`` follows every thread too, but stops the server twice per system call; a
server slowed down so reads several messages at once and sends them together, so strace lowers
the very count it measures. ``--check`` (the default) shows it: a second fresh run per target
with strace attached as well, perf counting beside it, the two totals compared (they must agree)
and set against the run without strace. (``perf trace -s -p PID`` was left aside: it does not
follow threads started after it attached.)

It prints, per target: the deliveries (the generator's), system calls per delivery in all and by
call (sendto/write/writev, recvfrom/read, epoll_wait, epoll_ctl, the others), the largest of the
others, how many deliveries each send carried and how many calls each send cost, and the server's
CPU per delivery in that run, user and system (``/proc/PID/stat``); ngircd's row first, every
total also as a multiple of ngircd's. ``--out FILE`` writes everything as JSON. Loopback only,
every run bounded, every server and tracer stopped when its run ends.
"""

import argparse
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path

from benchmarks.loadgen import SCENARIOS, raise_fd_limit
from benchmarks.run import (
    GENERATOR_TIMEOUT,
    Target,
    environment,
    generator_command,
    generator_result,
    targets,
)
from benchmarks.servers import REPO_ROOT

# The columns of the table: each a family of system calls that does one job on a socket.
GROUPS = {
    "sendto/write/writev": ("sendto", "sendmsg", "sendmmsg", "write", "writev"),
    "recvfrom/read": ("recvfrom", "recvmsg", "recvmmsg", "read", "readv"),
    "epoll_wait": ("epoll_wait", "epoll_pwait", "epoll_pwait2"),
    "epoll_ctl": ("epoll_ctl",),
}
OTHERS = "others"
TRACER_TIMEOUT = 30.0
_PERF_EVENT = "syscalls:sys_enter_"


class Counted:
    """What one tracer counted, by system call; filled in when its ``with`` block ends."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}


Tracer = Callable[[int, Path], AbstractContextManager[Counted]]


def parse_perf_stat(text: str) -> dict[str, int]:
    """Counts by system call from ``perf stat -x,`` output of ``syscalls:sys_enter_*`` events.

    A call that never happened is left out (perf prints ``<not counted>`` or 0 for it).
    """
    calls: dict[str, int] = {}
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) < 3 or not fields[2].startswith(_PERF_EVENT):
            continue
        if fields[0].isdigit() and int(fields[0]):
            calls[fields[2].removeprefix(_PERF_EVENT)] = int(fields[0])
    return calls


def parse_strace_summary(text: str) -> dict[str, int]:
    """Counts by system call from the table ``strace -c`` prints (its ``total`` row left out).

    Its rows are ``% time, seconds, usecs/call, calls, [errors,] syscall``, the errors column
    empty for a call that never failed.
    """
    calls: dict[str, int] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) not in (5, 6) or words[-1] == "total" or not words[3].isdigit():
            continue
        try:
            float(words[0])
        except ValueError:  # the header, or strace's own messages
            continue
        calls[words[-1]] = calls.get(words[-1], 0) + int(words[3])
    return calls


def per_delivery(calls: dict[str, int], deliveries: int) -> dict[str, float]:
    """System calls per delivery: ``total``, each of ``GROUPS`` and ``others``."""
    grouped = {group: sum(calls.get(name, 0) for name in names) for group, names in GROUPS.items()}
    total = sum(calls.values())
    figures = {"total": total, **grouped, OTHERS: total - sum(grouped.values())}
    return {name: count / deliveries for name, count in figures.items()}


def largest_others(calls: dict[str, int], deliveries: int, count: int = 4) -> list[tuple[str, float]]:
    """The ``count`` most frequent calls outside ``GROUPS``, each per delivery."""
    grouped = {name for names in GROUPS.values() for name in names}
    others = sorted(((n, c) for n, c in calls.items() if n not in grouped), key=lambda item: -item[1])
    return [(name, calls_made / deliveries) for name, calls_made in others[:count]]


def _await_ack(ack: int, what: str) -> None:
    ready, _, _ = select.select([ack], [], [], TRACER_TIMEOUT)
    if not ready:
        raise RuntimeError(f"perf stat did not acknowledge {what!r} within {TRACER_TIMEOUT:.0f} s")
    os.read(ack, 64)


def _stop(process: subprocess.Popen, name: str) -> None:
    """SIGINT (a tracer then writes its summary and detaches), SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(TRACER_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(TRACER_TIMEOUT)
            raise RuntimeError(f"{name} did not stop on SIGINT") from None


@contextmanager
def perf_counting(pid: int, workdir: Path) -> Iterator[Counted]:
    """Count every system call of every thread of ``pid`` with kernel counters while the block runs."""
    counted = Counted()
    control, acknowledge, out = workdir / "perf-control", workdir / "perf-ack", workdir / "perf-stat.txt"
    os.mkfifo(control)
    os.mkfifo(acknowledge)
    # Read-write, so neither open waits for perf to open its end.
    ctl = os.open(control, os.O_RDWR)
    ack = os.open(acknowledge, os.O_RDWR)
    perf = subprocess.Popen(
        ["perf", "stat", "-x,", "-o", str(out), "-e", _PERF_EVENT + "*", "-p", str(pid),
         "--delay", "-1", "--control", f"fifo:{control},{acknowledge}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        # perf reads its control FIFO once its counters are open: the acknowledgement means counting.
        os.write(ctl, b"enable\n")
        _await_ack(ack, "enable")
        yield counted
        os.write(ctl, b"disable\n")
        _await_ack(ack, "disable")
    finally:
        _stop(perf, "perf stat")
        os.close(ctl)
        os.close(ack)
    counted.calls = parse_perf_stat(out.read_text())


def _traced_by(pid: int, tracer: int) -> bool:
    """Whether every thread of ``pid`` is traced by ``tracer`` (its ``TracerPid``)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
        except FileNotFoundError:  # a thread that just ended
            continue
        if f"\nTracerPid:\t{tracer}\n" not in status:
            return False
    return True


@contextmanager
def strace_counting(pid: int, workdir: Path) -> Iterator[Counted]:
    """``strace -f -c`` on every thread of ``pid`` while the block runs (``-f`` with ``-p`` attaches
    each thread the process has, and follows those it starts)."""
    counted = Counted()
    out = workdir / "strace-summary.txt"
    strace = subprocess.Popen(
        ["strace", "-f", "-c", "-o", str(out), "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + TRACER_TIMEOUT
        while not _traced_by(pid, strace.pid):
            if strace.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"strace did not attach to every thread of {pid}")
            time.sleep(0.02)
        yield counted
    finally:
        _stop(strace, "strace")
    counted.calls = parse_strace_summary(out.read_text())


def _expect(generator: subprocess.Popen, step: str, deadline: float) -> None:
    """Wait until the generator prints ``step`` (its ``--handshake``), bounded by ``deadline``."""
    assert generator.stdout is not None
    ready, _, _ = select.select([generator.stdout], [], [], max(0.0, deadline - time.monotonic()))
    line = generator.stdout.readline() if ready else ""
    if line.strip() != step:
        raise RuntimeError(f"the generator printed {line!r}, not {step!r} (exit status {generator.poll()})")


def _go(generator: subprocess.Popen) -> None:
    assert generator.stdin is not None
    generator.stdin.write("go\n")
    generator.stdin.flush()


def user_and_system_seconds(pid: int) -> tuple[float, float]:
    """CPU time of process ``pid`` in user mode and in the kernel (every thread, ended ones too)."""
    # The fields after the command name, which is in parentheses and may hold spaces.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def _renice(pid: int, niceness: int) -> None:
    """Give every thread of ``pid`` the ``niceness`` (Linux keeps one per thread; new ones inherit it)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.setpriority(os.PRIO_PROCESS, int(tid), niceness)


def traced_run(
    target: Target, scenario: str, workdir: Path, tracers: list[Tracer], niceness: int = 0
) -> tuple[dict, list[Counted]]:
    """A fresh server for ``target``, the generator against it, and ``tracers`` (the innermost last)
    counting its system calls from the first send to the last delivery; the generator's figures
    and what each tracer counted. A ``niceness`` other than 0 is given to the server and the
    generator."""
    deadline = time.monotonic() + GENERATOR_TIMEOUT
    with target.start(workdir) as servers:
        (server,) = servers
        nice = []
        if niceness:
            _renice(server.pid, niceness)
            nice = ["nice", "-n", str(niceness)]
        log = open(workdir / "generator.err", "w+")  # noqa: SIM115 - read back after the run
        generator = subprocess.Popen(
            [*nice, *generator_command(target, scenario, servers), "--handshake"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, cwd=REPO_ROOT,
        )  # fmt: skip
        try:
            _expect(generator, "measure", deadline)
            with ExitStack() as attached:
                counted = [attached.enter_context(tracer(server.pid, workdir)) for tracer in tracers]
                cpu_before = user_and_system_seconds(server.pid)
                _go(generator)
                _expect(generator, "measured", deadline)
                cpu_after = user_and_system_seconds(server.pid)
            _go(generator)
            stdout, _ = generator.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except RuntimeError as error:
            log.seek(0)
            raise RuntimeError(f"{target.label} {scenario}: {error}\n{log.read()[-2000:]}") from None
        finally:
            if generator.poll() is None:
                generator.kill()
                generator.wait()
            log.seek(0)
            errors = log.read()
            log.close()
    result = generator_result(target, scenario, stdout, errors)
    result["server_user_s"], result["server_system_s"] = (
        after - before for before, after in zip(cpu_before, cpu_after, strict=True)
    )
    if result["lost"] or result["errors"]:
        raise RuntimeError(f"{target.label} {scenario}: lost {result['lost']}, {result['errors'][:3]}")
    return result, counted


def measure(target: Target, scenario: str, workdir: Path, check: bool, niceness: int = 0) -> dict:
    """Calls per delivery for ``target``: a run counted by perf; with ``check``, a second run with
    strace attached as well and perf counting inside strace's span (``traced_run``'s ``niceness``)."""
    result, (counted,) = traced_run(target, scenario, workdir / "counted", [perf_counting], niceness)
    deliveries = result["delivered"]
    figures = {
        "target": target.label,
        "deliveries": deliveries,
        "calls": counted.calls,
        "per_delivery": per_delivery(counted.calls, deliveries),
        "largest_others": largest_others(counted.calls, deliveries),
        "generator": result,
    }
    if check:
        under, (by_strace, by_perf) = traced_run(
            target, scenario, workdir / "checked", [strace_counting, perf_counting], niceness
        )
        figures["check"] = {
            "deliveries": under["delivered"],
            "strace_calls": by_strace.calls,
            "perf_calls": by_perf.calls,
            "strace_per_delivery": per_delivery(by_strace.calls, under["delivered"]),
            "perf_per_delivery": per_delivery(by_perf.calls, under["delivered"]),
            "generator": under,
        }
    return figures


def _ratio(value: float, reference: float | None) -> str:
    return f"{value / reference:.2f}×" if reference else "-"


def table(measured: list[dict]) -> str:
    """Markdown: one row per target, ngircd's first, calls per delivery by family.

    How many deliveries each send carried, and the p99 latency, say whether the server kept up:
    one that lags reads several messages at once and sends them together, with fewer calls per
    delivery. Calls per send do not depend on that as much.
    """
    reference = next((m["per_delivery"]["total"] for m in measured if m["target"].startswith("ngircd")), None)
    send, columns = next(iter(GROUPS)), ["total", *GROUPS, OTHERS]
    rows = [
        "| server (door) | deliveries | " + " | ".join(f"{c} /delivery" for c in columns)
        + " | total × ngircd | deliveries /send | calls /send | server CPU µs/delivery: user + system | p99 ms |",
        "| --- | ---: | " + " | ".join("---:" for _ in columns) + " | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in measured:
        figures, generator = m["per_delivery"], m["generator"]
        sends = figures[send]
        user, system = (generator[key] / m["deliveries"] * 1e6 for key in ("server_user_s", "server_system_s"))
        rows.append(
            f"| {m['target']} | {m['deliveries']} | " + " | ".join(_calls(figures[c]) for c in columns)
            + f" | {_ratio(figures['total'], reference)} | {_fmt_ratio(1, sends)} | {_fmt_ratio(figures['total'], sends)}"
            f" | {user:.2f} + {system:.2f} | {generator['p99_ms']:.2f} |"
        )
    return "\n".join(rows)


def _calls(per_delivery: float) -> str:
    # Unpaced runs make a few calls per thousand deliveries: three significant digits, not three decimals.
    return f"{per_delivery:.3f}" if per_delivery >= 0.1 or not per_delivery else f"{per_delivery:.3g}"


def _fmt_ratio(value: float, by: float) -> str:
    return f"{value / by:.2f}" if by else "-"


def others_lines(measured: list[dict]) -> str:
    """One line per target: the largest of the others, per delivery."""
    return "\n".join(
        f"- {m['target']}: " + ", ".join(f"{name} {_calls(value)}" for name, value in m["largest_others"])
        for m in measured
    )


def check_table(measured: list[dict]) -> str:
    """Markdown: the run counted by perf alone against the run with strace attached too."""
    rows = [
        (
            "| server (door) | perf alone: calls/delivery | with strace: perf | with strace: strace | strace / perf "
            "| sendto/write/writev alone → with strace | server CPU µs/delivery alone → with strace "
            "| p99 ms alone → with strace |"
        ),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    send = next(iter(GROUPS))
    for m in measured:
        check = m["check"]
        alone, by_perf, by_strace = m["per_delivery"], check["perf_per_delivery"], check["strace_per_delivery"]
        rows.append(
            f"| {m['target']} | {_calls(alone['total'])} | {_calls(by_perf['total'])} | {_calls(by_strace['total'])} "
            f"| {by_strace['total'] / by_perf['total']:.3f} | {_calls(alone[send])} → {_calls(by_perf[send])} "
            f"| {m['generator']['server_cpu_us_per_delivery']:.3f} → {check['generator']['server_cpu_us_per_delivery']:.3f} "
            f"| {m['generator']['p99_ms']:.2f} → {check['generator']['p99_ms']:.2f} |"
        )
    return "\n".join(rows)


def _commit() -> str:
    """The checkout's commit, and whether tracked files differ from it."""

    def git(*words: str) -> str:
        return subprocess.run(["git", *words], check=False, cwd=REPO_ROOT, capture_output=True, text=True).stdout

    head, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "--untracked-files=no")
    return head.strip() + (" (with uncommitted changes)" if dirty.strip() else "")


def main(argv: list[str] | None = None) -> int:
    """Command line: count every target's system calls under one scenario, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="P1", help="one of the scenarios that deliver (F1, F2, P1)")
    parser.add_argument("--out", type=Path, help="write every count and figure here as JSON")
    parser.add_argument(
        "--check", action=argparse.BooleanOptionalAction, default=True,
        help="a second run per target with strace attached as well (default: on)",
    )  # fmt: skip
    parser.add_argument(
        "--nice", type=int, default=0, metavar="N",
        help="run the servers and the generator at niceness N (below 0 needs root): on a shared machine, "
        "-10 keeps other work from making the server lag, which would merge its sends",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.scenario not in SCENARIOS or not SCENARIOS[args.scenario].expected:
        parser.error(f"--scenario: one of {sorted(n for n, s in SCENARIOS.items() if s.expected)}")
    for tool, package in (("perf", "linux-perf"), ("strace", "strace")):
        if shutil.which(tool) is None and (tool == "perf" or args.check):
            parser.error(f"{tool} is not installed (apt-get install -y {package})")
    # The server inherits the limit: F2's 1,000 clients are more than the usual 1,024 less the rest.
    raise_fd_limit(SCENARIOS[args.scenario].clients * 2 + 100)
    env = environment()
    env["commit"] = _commit()
    env["load_average"] = os.getloadavg()
    env["nice"] = args.nice
    print(f"# {env['date']}, commit {env['commit']}: {env['cpu']}, {env['cores']} cores, Linux {env['kernel']}, "
          f"Python {env['python']}, Twisted {env['twisted']}, {env['ngircd']}; load average "
          f"{env['load_average'][0]:.2f}, niceness {args.nice}", flush=True)  # fmt: skip
    measured = []
    with tempfile.TemporaryDirectory(prefix="glozi-syscalls-") as tmp:
        for number, target in enumerate(targets()):
            workdir = Path(tmp) / str(number)
            (workdir / "counted").mkdir(parents=True)
            (workdir / "checked").mkdir()
            figures = measure(target, args.scenario, workdir, args.check, args.nice)
            measured.append(figures)
            print(f"  {target.label:<20} {figures['per_delivery']['total']:.3f} calls/delivery", flush=True)
    print(f"\n{args.scenario}: system calls per delivery, counted by perf stat from the first send to the last "
          "delivery\n")  # fmt: skip
    print(table(measured))
    print("\nThe largest of the others, per delivery:\n")
    print(others_lines(measured))
    if args.check:
        print("\nThe check: a second run per target with strace -f -c attached too, perf counting inside it:\n")
        print(check_table(measured))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        document = {"environment": env, "command": sys.argv, "scenario": args.scenario, "results": measured}
        args.out.write_text(json.dumps(document, indent=1) + "\n")
        print(f"\nresults: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
