"""Side by side: every scenario against ngircd and GloziChat, one table.

Run through ``benchmarks/compare`` (which raises the open-file limit first):

    benchmarks/compare [--scenarios F1,F2,P1,I1] [--repeat 3] [--out FILE] [--plot PNG] [--cluster N]

For each scenario and each repetition, each target gets a freshly started
server on loopback: ngircd through IRC, GloziChat through its IRC door (when
this checkout has one) and through its native door. The load generator runs
in its own process. Of the repetitions, the median is reported (by server CPU
per delivery, or by RSS per connection for the idle scenario), so one noisy
run on a shared machine does not decide the figure.

GloziChat's web door (the native frames over WebSocket) is a target of
every run, held to its own goal against the native door of the same run.

``--cluster N`` adds two targets: a fresh GloziChat cluster of N nodes
(benchmarks/cluster.py: PostgreSQL, Redis and N ``twistd glozichat``) through
each door, the clients spread over the nodes round robin, its CPU per
delivery summed over the nodes; their goals are checked against the one-node
GloziChat of the same run and door.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import twisted

from benchmarks.cluster import Cluster
from benchmarks.loadgen import SCENARIOS
from benchmarks.servers import REPO_ROOT, RunningServer, glozichat_has_irc, start_glozichat, start_ngircd

GENERATOR_TIMEOUT = 300.0
# The goals of issue 6, checked on every run.
MAX_CPU_RATIO = 2.0
TWISTED_WORDS_US = 13.0
MIN_GAIN_OVER_TWISTED_WORDS = 5.0
MAX_P99_RATIO = 1.5
MAX_IDLE_BYTES_PER_CONN = 8 * 1024
# The goals of issue 15 for a cluster, against one node of the same run and door.
MAX_CLUSTER_P99_EXTRA_MS = 2.0
MAX_CLUSTER_CPU_RATIO = 1.5
# The goal of issue 16: IRC with tags negotiated by every client, against the same door untagged.
MAX_TAGS_CPU_RATIO = 1.15
# The goal of issue 17: the web door against the native door of the same run.
MAX_WEB_CPU_RATIO = 1.5

Servers = Callable[[Path], AbstractContextManager[list[RunningServer]]]


class Target:
    """Servers (one, or a cluster's nodes) and the door the generator uses.

    ``reference`` names the target this one is measured against (a cluster's one node, tagged IRC's
    untagged IRC, the web door's native door), and ``goal`` the checklist of that comparison.
    """

    def __init__(
        self,
        label: str,
        proto: str,
        start: Servers,
        reference: str | None = None,
        irc_tags: bool = False,
        goal: str = "",
    ) -> None:
        self.label = label
        self.proto = proto
        self.start = start
        self.reference = reference
        self.irc_tags = irc_tags
        self.goal = goal


@contextmanager
def _alone(start: Callable[[], RunningServer]) -> Iterator[list[RunningServer]]:
    server = start()
    try:
        yield [server]
    finally:
        server.stop()


@contextmanager
def _cluster(workdir: Path, size: int) -> Iterator[list[RunningServer]]:
    with Cluster(workdir, size) as cluster:
        yield cluster.nodes


def targets(cluster: int = 0, tags: bool = False) -> list[Target]:
    """ngircd first (the reference), then GloziChat's doors (the web door last of them), then
    (``cluster`` > 0) a cluster's, then (``tags``) the IRC door with every client negotiating IRCv3 tags."""
    found = [Target("ngircd (IRC)", "irc", lambda d: _alone(lambda: start_ngircd(d)))]
    doors = [("IRC", "irc")] if glozichat_has_irc() else []
    doors.append(("native", "native"))
    for door, proto in doors:
        found.append(
            Target(f"GloziChat ({door})", proto, lambda d: _alone(lambda: start_glozichat(d, irc=True)))
        )
    found.append(
        Target("GloziChat (web)", "web", lambda d: _alone(lambda: start_glozichat(d, irc=True, web=True)),
               reference="GloziChat (native)", goal="web")
    )  # fmt: skip
    if cluster:
        for door, proto in doors:
            found.append(
                Target(f"GloziChat {cluster} nodes ({door})", proto, lambda d: _cluster(d, cluster),
                       reference=f"GloziChat ({door})", goal="cluster")
            )  # fmt: skip
    if tags and glozichat_has_irc():
        found.append(
            Target("GloziChat (IRC, tags)", "irc", lambda d: _alone(lambda: start_glozichat(d, irc=True)),
                   reference="GloziChat (IRC)", irc_tags=True, goal="tags")
        )  # fmt: skip
    return found


def generator_cpus(servers: list[RunningServer]) -> list[str]:
    """``taskset`` words for the generator: with one server and two cores or
    more, the server's threads stay on the first core and the generator runs
    on the others, so that the two never share a core by the scheduler's
    choice. Run to run, that choice alone moved CPU per delivery by 30 %.
    A cluster's processes are left to the scheduler."""
    cores = sorted(os.sched_getaffinity(0))
    if len(servers) != 1 or len(cores) < 2 or shutil.which("taskset") is None:
        return []
    subprocess.run(
        ["taskset", "--all-tasks", "--pid", "--cpu-list", str(cores[0]), str(servers[0].pid)],
        check=True, capture_output=True,
    )
    return ["taskset", "--cpu-list", ",".join(map(str, cores[1:]))]


def generator_command(target: Target, scenario: str, servers: list[RunningServer]) -> list[str]:
    """The load generator's command line for ``scenario`` against ``servers`` through ``target``'s
    door, pinned apart from the server (``generator_cpus``); it prints its figures as JSON."""
    return [
        *generator_cpus(servers), sys.executable, "-m", "benchmarks.loadgen", "--proto", target.proto,
        "--port", ",".join(str(server.ports[target.proto]) for server in servers),
        "--server-pid", ",".join(str(server.pid) for server in servers),
        "--scenario", scenario, "--json", *(["--irc-tags"] if target.irc_tags else []),
    ]  # fmt: skip


def generator_result(target: Target, scenario: str, stdout: str, stderr: str) -> dict:
    """The figures the generator printed (its last line), labelled with ``target``."""
    lines = stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"{target.label} {scenario}: the generator failed:\n{stderr[-2000:]}")
    result = json.loads(lines[-1])
    result["target"] = target.label
    result["reference"] = target.reference
    result["goal"] = target.goal
    return result


def run_one(target: Target, scenario: str, workdir: Path) -> dict:
    """Start fresh servers, run the generator against them, stop them."""
    with target.start(workdir) as servers:
        done = subprocess.run(
            generator_command(target, scenario, servers),
            check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=GENERATOR_TIMEOUT,
        )  # fmt: skip
    return generator_result(target, scenario, done.stdout, done.stderr)


def _median_run(runs: list[dict]) -> dict:
    key = "server_cpu_us_per_delivery" if runs[0]["expected"] else "rss_per_conn_bytes"
    ordered = sorted(runs, key=lambda r: (r["lost"] != 0, r[key] if r[key] is not None else float("inf")))
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["repeats"] = [r[key] for r in runs]
    return chosen


def _fmt(value: object, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(results: list[dict]) -> str:
    """Markdown: one row per scenario and target."""
    rows = [
        (
            "| scenario | server (door) | delivered/expected | lost | deliveries/s | p50 ms | p99 ms | max ms "
            "| server CPU µs/delivery | server RSS/conn KB |"
        ),
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        delivered = f"{r['delivered']}/{r['expected']}" if r["expected"] else f"idle ({r['clients']} conns)"
        rows.append(
            f"| {r['scenario']} | {r['target']} | {delivered} | {r['lost']} | {r['deliveries_per_s'] or '-'} "
            f"| {_fmt(r['p50_ms'] if r['expected'] else None)} | {_fmt(r['p99_ms'] if r['expected'] else None)} "
            f"| {_fmt(r['max_ms'] if r['expected'] else None)} | {_fmt(r['server_cpu_us_per_delivery'], 3)} "
            f"| {r['rss_per_conn_bytes'] / 1024:.1f} |"
        )
    return "\n".join(rows)


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b:
        return None
    return a / b


def ratios(results: list[dict]) -> tuple[str, list[tuple[str, bool, str]]]:
    """Markdown of GloziChat/ngircd per scenario and door, and the goal checks."""
    rows = [
        "| scenario | GloziChat door | CPU/delivery | p99 latency | deliveries/s | RSS/conn |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    checks: list[tuple[str, bool, str]] = []
    by_key = {(r["scenario"], r["target"]): r for r in results}
    lost = [f"{r['scenario']} {r['target']}: {r['lost']}" for r in results if r["lost"] or r["errors"]]
    checks.append(("lost 0 everywhere", not lost, ", ".join(lost) or "0 lost in every run"))
    for r in results:
        if r["target"].startswith("ngircd") or r.get("reference"):
            continue
        ref = by_key.get((r["scenario"], "ngircd (IRC)"))
        if ref is None:
            continue
        cpu = _ratio(r["server_cpu_us_per_delivery"], ref["server_cpu_us_per_delivery"])
        p99 = _ratio(r["p99_ms"], ref["p99_ms"]) if r["expected"] else None
        rate = _ratio(r["deliveries_per_s"], ref["deliveries_per_s"]) if r["expected"] else None
        rss = _ratio(r["rss_per_conn_bytes"], ref["rss_per_conn_bytes"])
        door = r["target"].removeprefix("GloziChat ")
        rows.append(f"| {r['scenario']} | {door} | {_fmt(cpu)} | {_fmt(p99)} | {_fmt(rate)} | {_fmt(rss)} |")
        if r["scenario"] in ("F1", "F2") and cpu is not None:
            us = r["server_cpu_us_per_delivery"]
            checks.append(
                (f"{r['scenario']} {door}: CPU/delivery at most {MAX_CPU_RATIO:g}x ngircd", cpu <= MAX_CPU_RATIO,
                 f"{us:.3f} vs {ref['server_cpu_us_per_delivery']:.3f} us = {cpu:.2f}x")
            )  # fmt: skip
            checks.append(
                (f"{r['scenario']} {door}: 5x better than twisted.words ({TWISTED_WORDS_US:g} us)",
                 us * MIN_GAIN_OVER_TWISTED_WORDS <= TWISTED_WORDS_US, f"{TWISTED_WORDS_US / us:.1f}x better")
            )  # fmt: skip
        if r["scenario"] == "P1" and p99 is not None:
            checks.append(
                (f"P1 {door}: p99 at most {MAX_P99_RATIO:g}x ngircd", p99 <= MAX_P99_RATIO,
                 f"{r['p99_ms']:.1f} vs {ref['p99_ms']:.1f} ms = {p99:.2f}x")
            )  # fmt: skip
        if r["scenario"] == "I1":
            per_conn = r["rss_per_conn_bytes"]
            checks.append(
                (f"I1 {door}: RSS per connection under 8 KB", per_conn < MAX_IDLE_BYTES_PER_CONN,
                 f"{per_conn / 1024:.2f} KB (ngircd {ref['rss_per_conn_bytes'] / 1024:.2f} KB)")
            )  # fmt: skip
    return "\n".join(rows), checks


def _with_reference(results: list[dict], goal: str) -> Iterator[tuple[dict, dict]]:
    """Each delivering result of the targets of ``goal`` (``Target.goal``), with its reference
    target's result of the same scenario."""
    by_key = {(r["scenario"], r["target"]): r for r in results}
    for r in results:
        reference = by_key.get((r["scenario"], r.get("reference")))
        if reference is not None and r["expected"] and r.get("goal") == goal:
            yield r, reference


def _cpu_check(what: str, result: dict, reference: dict, ratio: float, most: float) -> tuple[str, bool, str]:
    """The goal check that ``result``'s CPU per delivery is at most ``most`` times ``reference``'s."""
    us, reference_us = result["server_cpu_us_per_delivery"], reference["server_cpu_us_per_delivery"]
    return what, ratio <= most, f"{us:.3f} vs {reference_us:.3f} us = {ratio:.2f}x"


def cluster_ratios(results: list[dict]) -> tuple[str, list[tuple[str, bool, str]]]:
    """Markdown of each cluster target against its one-node target, and the goal checks of issue 15."""
    rows = [
        "| scenario | cluster (door) | CPU/delivery, cluster / one node | p99, cluster − one node | deliveries/s |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    checks: list[tuple[str, bool, str]] = []
    for r, one in _with_reference(results, "cluster"):
        cpu = _ratio(r["server_cpu_us_per_delivery"], one["server_cpu_us_per_delivery"])
        extra = r["p99_ms"] - one["p99_ms"]
        rate = _ratio(r["deliveries_per_s"], one["deliveries_per_s"])
        rows.append(f"| {r['scenario']} | {r['target']} | {_fmt(cpu)} | {extra:+.2f} ms | {_fmt(rate)} |")
        if r["scenario"] in ("F1", "P1") and cpu is not None:
            what = f"{r['scenario']} {r['target']}: CPU/delivery at most {MAX_CLUSTER_CPU_RATIO:g}x one node's"
            checks.append(_cpu_check(what, r, one, cpu, MAX_CLUSTER_CPU_RATIO))
        if r["scenario"] == "P1":
            checks.append(
                (f"P1 {r['target']}: p99 within {MAX_CLUSTER_P99_EXTRA_MS:g} ms of one node's",
                 extra <= MAX_CLUSTER_P99_EXTRA_MS, f"{r['p99_ms']:.2f} vs {one['p99_ms']:.2f} ms = {extra:+.2f} ms")
            )  # fmt: skip
    return "\n".join(rows), checks


def _against_reference(
    results: list[dict], goal: str, this: str, other: str, check: str, most: float
) -> tuple[str, list[tuple[str, bool, str]]]:
    """Markdown of the targets of ``goal`` (``this``) against their reference (``other``): CPU per
    delivery and each one's p99; and for F1 and P1 the check ``check`` that CPU per delivery is at
    most ``most`` times the reference's."""
    rows = [f"| scenario | CPU/delivery, {this} / {other} | p99 {this} | p99 {other} |", "| --- | ---: | ---: | ---: |"]
    checks: list[tuple[str, bool, str]] = []
    for r, reference in _with_reference(results, goal):
        cpu = _ratio(r["server_cpu_us_per_delivery"], reference["server_cpu_us_per_delivery"])
        rows.append(f"| {r['scenario']} | {_fmt(cpu)} | {_fmt(r['p99_ms'])} ms | {_fmt(reference['p99_ms'])} ms |")
        if r["scenario"] in ("F1", "P1") and cpu is not None:
            checks.append(_cpu_check(f"{r['scenario']} {check}", r, reference, cpu, most))
    return "\n".join(rows), checks


def tags_ratios(results: list[dict]) -> tuple[str, list[tuple[str, bool, str]]]:
    """Markdown of the tagged IRC target against the untagged one, and the goal checks of issue 16."""
    check = f"IRC with tags: CPU/delivery within {MAX_TAGS_CPU_RATIO - 1:.0%} of untagged"
    return _against_reference(results, "tags", "tagged", "untagged", check, MAX_TAGS_CPU_RATIO)


def web_ratios(results: list[dict]) -> tuple[str, list[tuple[str, bool, str]]]:
    """Markdown of the web door against the native door, and the goal checks of issue 17."""
    check = f"web: CPU/delivery within {MAX_WEB_CPU_RATIO:g}x of the native door's, same run"
    return _against_reference(results, "web", "web", "native", check, MAX_WEB_CPU_RATIO)


def environment() -> dict:
    """What the figures were measured on."""
    ngircd = shutil.which("ngircd") or "/usr/sbin/ngircd"
    version = subprocess.run([ngircd, "--version"], check=False, capture_output=True, text=True).stdout
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "twisted": twisted.__version__,
        "ngircd": version.splitlines()[0] if version else "?",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: run everything, print the tables and the goal checks."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default="F1,F2,P1,I1")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--out", type=Path, help="default benchmarks/results/latest.json (cluster.json with --cluster, tags.json with --tags)"
    )
    parser.add_argument(
        "--plot", type=Path, help="default docs/performance.png (performance-cluster.png with --cluster)"
    )
    parser.add_argument(
        "--cluster", type=int, default=0, metavar="N", help="also a cluster of N nodes through each door"
    )
    parser.add_argument(
        "--tags", action="store_true", help="also the IRC door with IRCv3 tags negotiated by every client"
    )
    args = parser.parse_args(argv)
    if args.cluster < 0:
        parser.error("--cluster takes a number of nodes")
    # A cluster or tags run keeps the one-node run's files as they are.
    suffix = "cluster" if args.cluster else "tags" if args.tags else ""
    args.out = args.out or REPO_ROOT / "benchmarks" / "results" / f"{suffix or 'latest'}.json"
    args.plot = args.plot or REPO_ROOT / "docs" / f"performance{'-' + suffix if suffix else ''}.png"
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios: {unknown}")
    env = environment()
    print(f"# {env['date']}: {env['cpu']}, {env['cores']} cores, Linux {env['kernel']}, Python {env['python']}, "
          f"Twisted {env['twisted']}, {env['ngircd']}", flush=True)  # fmt: skip
    started = time.monotonic()
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="glozi-bench-") as tmp:
        for scenario in scenarios:
            runs: dict[str, list[dict]] = {}
            for repeat in range(args.repeat):
                # Targets take turns within each repetition, so drift on a
                # shared machine falls on all of them alike.
                for target in targets(args.cluster, args.tags):
                    result = run_one(target, scenario, Path(tmp) / f"{scenario}-{repeat}-{target.proto}")
                    runs.setdefault(target.label, []).append(result)
                    print(f"  {scenario} #{repeat + 1} {target.label:<20} lost {result['lost']:>3}  "
                          f"{_fmt(result['server_cpu_us_per_delivery'], 3):>6} us/delivery  "
                          f"p99 {_fmt(result['p99_ms'])} ms  {result['rss_per_conn_bytes']} B/conn", flush=True)  # fmt: skip
            results.extend(_median_run(r) for r in runs.values())
    ratio_table, checks = ratios(results)
    print()
    print(table(results))
    print()
    print("GloziChat / ngircd (lower is better, except deliveries/s):")
    print()
    print(ratio_table)
    print()
    for name, ok, detail in checks:
        print(f"- [{'x' if ok else ' '}] {name}: {detail}")
    # Each target measured against another of the same run: its table and its own checklist.
    sections = [("The web door against the native door, the same run:", web_ratios(results))]
    if args.cluster:
        sections.append((f"A cluster of {args.cluster} against one node, the same door and run:", cluster_ratios(results)))
    if args.tags:
        sections.append(
            ("The IRC door with tags negotiated by every client against untagged, the same run:", tags_ratios(results))
        )
    for title, (section_table, section_checks) in sections:
        print()
        print(title)
        print()
        print(section_table)
        print()
        for name, ok, detail in section_checks:
            print(f"- [{'x' if ok else ' '}] {name}: {detail}")
        checks += section_checks
    print(f"\n{time.monotonic() - started:.0f} s in all")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"environment": env, "command": sys.argv, "results": results}, indent=1) + "\n")
    print(f"results: {args.out}")
    try:
        from benchmarks.plot import plot
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
    else:
        plot(results, args.plot)
        print(f"plot: {args.plot}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
