"""Mutation testing: how much of the code's behaviour the fast tests hold in place.

    PYTHONPATH=. python -m benchmarks.mutation [--jobs N] [--survivors] [FILE ...]

Without files it runs the issue-20 scope (``SCOPE``). Prints, per module, the
mutants, how many the tests killed, the listed equivalents, and the score
(killed / (mutants - equivalents)); then every survivor. See README.md here.
"""

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.mutation import coveragemap
from benchmarks.mutation.equivalents import Excuse, excuse, excuses_for
from benchmarks.mutation.execute import Job, Outcome, preload, run_jobs
from benchmarks.mutation.mutants import Mutant, compiled, mutants

ROOT = Path(__file__).resolve().parents[2]
SCOPE = (
    *(f"glozi/domain/{name}.py" for name in (
        "chat", "commands", "errors", "events", "exitcode", "files", "history", "idle", "masks", "names",
        "operators", "replication", "rules", "scrollback", "serverpassword", "sessions", "whowas",
    )),
    "glozi/limits/flood.py", "glozi/limits/guessing.py", "glozi/limits/ratelimit.py", "glozi/limits/sendqueue.py",
    "glozi/doors/native/wire.py", "glozi/doors/irc/wire.py", "glozi/doors/web/frames.py",
    "glozi/storage/store.py", "glozi/storage/sqlitestore.py", "glozi/storage/passwords.py",
)  # fmt: skip
RESULTS = coveragemap.CACHE / "results"


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _coverage(jobs: int, files: list[Path]) -> coveragemap.CoverageMap:
    modules = coveragemap.fast_test_modules(ROOT)
    # The key covers the whole scope, so that one file's run and the whole run share the cache.
    targets = sorted({*(Path(name) for name in SCOPE), *files})
    # Measure the modules missing from the cache in parallel first; then read them all.
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(lambda module: coveragemap.CoverageMap.measure(ROOT, [module], targets, _say), modules))
    return coveragemap.CoverageMap.measure(ROOT, modules, targets, _say)


def _tests_for(cover: coveragemap.CoverageMap, mutant: Mutant, whole_file: list[str]) -> list[str]:
    if mutant.at_import:
        # Runs at import: every test that imports the module may see it.
        return whole_file
    tests: set[str] = set()
    for line in range(mutant.line, mutant.end_line + 1):
        tests.update(cover.tests_for(mutant.path, line))
    return _quickest_first(cover, tests)


def _quickest_first(cover: coveragemap.CoverageMap, tests: set[str]) -> list[str]:
    # Trial stops at the first failure: a quick test that kills saves the slow ones.
    return sorted(tests, key=lambda test: (cover.seconds_per_test(test), test))


def _timeout(cover: coveragemap.CoverageMap, tests: list[str]) -> float:
    modules = {test.rsplit(".", 2)[0] for test in tests}
    return 20.0 + 3.0 * sum(cover.seconds.get(module, 10.0) for module in modules)


def _previous_survivors(path: Path) -> set[tuple[str, str, int]] | None:
    saved = RESULTS / f"{path.as_posix().replace('/', '.')}.json"
    if not saved.exists():
        return None
    return {(m["label"], m["source_line"], m["index"]) for m in json.loads(saved.read_text())["survivors"]}


def _run_file(path: Path, cover: coveragemap.CoverageMap, args: argparse.Namespace) -> dict | None:
    """The file's record; {} when only listing; None when its tests fail unmutated."""
    entries = excuses_for(path)
    every = list(mutants(path))
    whole_file = _quickest_first(
        cover,
        {t for m in every for line in range(m.line, m.end_line + 1) for t in cover.tests_for(path, line)},
    )
    previous = _previous_survivors(path) if args.survivors else None
    excused: list[tuple[Mutant, Excuse]] = []
    to_run: list[Job] = []
    for mutant in every:
        found = excuse(entries, mutant)
        if found is not None and found.equivalent:
            excused.append((mutant, found))
            continue
        if previous is not None and (mutant.label, mutant.source_line, mutant.index) not in previous:
            continue
        tests = _tests_for(cover, mutant, whole_file)
        to_run.append(Job((mutant, found), path, compiled(mutant), tests, _timeout(cover, tests)))
    if args.list:
        for job in to_run:
            print(f"{job.key[0].describe()}  [{len(job.tests)} tests]")
        return {}
    baseline: list[Outcome] = []
    run_jobs(ROOT, [Job(None, path, None, whole_file, _timeout(cover, whole_file))], 1,
             lambda job, outcome: baseline.append(outcome))  # fmt: skip
    if baseline[0].killed:
        _say(f"{path}: the covering tests fail without any mutant ({baseline[0].how}); skipped")
        return None
    outcomes: list[tuple[Mutant, Excuse | None, Outcome]] = []
    started = time.monotonic()

    def done(job: Job, outcome: Outcome) -> None:
        mutant, found = job.key
        outcomes.append((mutant, found, outcome))
        if len(outcomes) % 25 == 0 or len(outcomes) == len(to_run):
            _say(f"{path}: {len(outcomes)}/{len(to_run)} run, {time.monotonic() - started:.0f} s")

    run_jobs(ROOT, to_run, args.jobs, done)
    outcomes.sort(key=lambda o: o[0].index)
    killed = sum(1 for _, _, outcome in outcomes if outcome.killed)
    survivors = [(m, f, o) for m, f, o in outcomes if not o.killed]
    if previous is not None:
        # Only the survivors ran: the others stay killed as before.
        killed += len(every) - len(excused) - len(to_run)
    counted = len(every) - len(excused)
    record = {
        "module": str(path), "mutants": len(every), "killed": killed, "equivalent": len(excused),
        "survived": len(survivors), "score": round(100 * killed / counted, 1) if counted else 100.0,
        "survivors": [
            {"index": m.index, "line": m.line, "label": m.label, "source_line": m.source_line, "how": o.how,
             "excuse": f.reason if f else None}
            for m, f, o in survivors
        ],
    }  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{path.as_posix().replace('/', '.')}.json").write_text(json.dumps(record, indent=1))
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "files", nargs="*", type=Path, help=f"modules to mutate (default: the {len(SCOPE)} of SCOPE)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument(
        "--survivors", action="store_true", help="run only the last run's survivors of each file"
    )
    parser.add_argument("--list", action="store_true", help="list the mutants and their tests; run nothing")
    parser.add_argument("--json", type=Path, help="write every outcome here")
    args = parser.parse_args(argv)
    files = args.files or [Path(name) for name in SCOPE]
    preload()
    cover = _coverage(args.jobs, files)
    summary: list[dict] = []
    failed_baseline = False
    for path in files:
        record = _run_file(path, cover, args)
        if record is None:
            failed_baseline = True
        elif record:
            summary.append(record)
    if args.list:
        return 0
    print("| module | mutants | killed | equivalent | survived | of those not worth a test | score |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for record in summary:
        named = sum(1 for s in record["survivors"] if s["excuse"])
        print(f"| {record['module']} | {record['mutants']} | {record['killed']} | {record['equivalent']} "
              f"| {record['survived']} | {named} | {record['score']} % |")  # fmt: skip
    for record in summary:
        for survivor in record["survivors"]:
            reason = f"  ({survivor['excuse']})" if survivor["excuse"] else ""
            print(f"{survivor['how'].upper()}: {record['module']}:{survivor['line']}: {survivor['label']}: "
                  f"{survivor['source_line']}{reason}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    return 1 if failed_baseline else 0


if __name__ == "__main__":
    sys.exit(main())
