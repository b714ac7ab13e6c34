"""Which fast tests run which lines of ``glozi/``.

Each fast test module is run once under coverage.py with its dynamic context
set to the test function, in a process of its own, and the lines each test ran
are kept in a cache keyed by the test module's text, the test helpers' (the
files under ``tests/`` that are no test module) and the text of the files to
be mutated: a changed test module is measured again, the others are read
back. Other code under ``glozi/`` is left out of the key (an edit there rarely
changes which test runs which line of a mutated file, and would otherwise
mean measuring every module again).

Fast tests are the modules under ``tests/`` that start no real server, browser,
display or terminal (the markers below); the end-to-end tests that do would
not see a mutant anyway, since they run the server in a process of its own.
The fuzz tests (``test_fuzz_*``, hypothesis) are left out too: they are slow,
and what they find depends on the examples drawn, so a kill by them would not
say that a test pins the rule.
"""

import ast
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

_SLOW_MARKERS = re.compile(
    r"realserver|realthings|realbrowser|realcluster|guitools|tmux|webclients|discovery_process|tkinter|Xvfb"
)
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "glozi-mutation"


def fast_test_modules(root: Path) -> list[Path]:
    """The test modules that run in-process only, sorted."""
    return sorted(
        path
        for path in (root / "tests").glob("test_*.py")
        if not path.name.startswith("test_fuzz_") and not _SLOW_MARKERS.search(path.read_text())
    )


def test_ids(module: Path) -> set[str]:
    """The trial ids (``tests.test_x.Class.test_y``) of the test methods ``module`` defines."""
    tree = ast.parse(module.read_text())
    return {
        f"tests.{module.stem}.{node.name}.{item.name}"
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        for item in node.body
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name.startswith("test")
    }


def _as_test_ids(contexts: Iterable[str], ids: set[str]) -> set[str]:
    """Coverage's contexts as trial ids. A context names the function that ran:
    a test method, or a function a decorator made inside one (hypothesis's
    ``given``), whose own name is the test's; other functions are no test."""
    by_name: dict[str, list[str]] = {}
    for test in ids:
        by_name.setdefault(test.rsplit(".", 1)[1], []).append(test)
    found: set[str] = set()
    for context in contexts:
        if context in ids:
            found.add(context)
        elif "<locals>" in context:
            found.update(by_name.get(context.rsplit(".", 1)[1], ()))
    return found


def _support_digest(root: Path, targets: Iterable[Path]) -> str:
    """A digest of the test helpers and of the files to be mutated."""
    digest = hashlib.sha256()
    files = [*sorted(root / path for path in targets), *sorted((root / "tests").glob("*.py"))]
    for path in files:
        if path.name.startswith("test_"):
            continue
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


class CoverageMap:
    """Line → test ids, for every file of ``glozi/`` the fast tests run."""

    def __init__(
        self,
        root: Path,
        lines: dict[str, dict[int, set[str]]],
        seconds: dict[str, float],
        tests: dict[str, int],
    ) -> None:
        self.root = root
        self._lines = lines
        self.seconds = seconds
        """Each test module's run time under coverage (an upper bound without it)."""
        self._tests = tests

    def seconds_per_test(self, test: str) -> float:
        """A test's likely run time: its module's, shared evenly among its tests."""
        module = test.rsplit(".", 2)[0]
        return self.seconds.get(module, 10.0) / max(1, self._tests.get(module, 1))

    def tests_for(self, path: Path, line: int) -> list[str]:
        """The test ids (``tests.test_x.Class.test_y``) that ran ``line`` of ``path``."""
        return sorted(self._lines.get(str(path), {}).get(line, ()))

    @classmethod
    def measure(
        cls, root: Path, modules: Iterable[Path], targets: Iterable[Path], report: Callable[[str], None]
    ) -> "CoverageMap":
        """The map for ``modules``' tests, measured where the cache has none; ``targets``: the files to mutate."""
        lines: dict[str, dict[int, set[str]]] = {}
        seconds: dict[str, float] = {}
        counts: dict[str, int] = {}
        support = _support_digest(root, targets)
        CACHE.mkdir(parents=True, exist_ok=True)
        for module in modules:
            key = hashlib.sha256((support + module.read_text()).encode()).hexdigest()[:32]
            cached = CACHE / f"{module.stem}-{key}.json"
            if not cached.exists():
                report(f"measuring coverage of {module.relative_to(root)}")
                cached.write_text(json.dumps(_measure_one(root, module)))
            record = json.loads(cached.read_text())
            seconds[record["module"]] = record["seconds"]
            ids = test_ids(module)
            counts[record["module"]] = len(ids)
            for path, by_line in record["lines"].items():
                into = lines.setdefault(path, {})
                for line, contexts in by_line.items():
                    into.setdefault(int(line), set()).update(_as_test_ids(contexts, ids))
        return cls(root, lines, seconds, counts)


def _measure_one(root: Path, module: Path) -> dict:
    import coverage

    name = f"tests.{module.stem}"
    with tempfile.TemporaryDirectory(prefix="glozi-mutation-cov-") as tmp:
        rc = Path(tmp) / "rc"
        data = Path(tmp) / "data"
        rc.write_text(f"[run]\ndynamic_context = test_function\nsource = glozi\ndata_file = {data}\n")
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "coverage", "run", f"--rcfile={rc}", "-m", "twisted.trial",
             f"--temp-directory={Path(tmp) / 'trial'}", name],
            cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        seconds = time.monotonic() - started
        measured = coverage.CoverageData(basename=str(data))
        measured.read()
        lines: dict[str, dict[int, list[str]]] = {}
        for filename in measured.measured_files():
            relative = str(Path(filename).resolve().relative_to(root.resolve()))
            by_line = {
                line: sorted(c for c in contexts if c.startswith("tests."))
                for line, contexts in measured.contexts_by_lineno(filename).items()
            }
            lines[relative] = {line: tests for line, tests in by_line.items() if tests}
    return {"module": name, "seconds": seconds, "lines": lines}
