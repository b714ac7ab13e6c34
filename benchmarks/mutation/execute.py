"""Run each mutant against the tests that cover its line, in a forked child.

The parent imports the heavy third-party modules once (Twisted's trial, test
helpers, hypothesis, Pillow) and then forks one child per mutant. The child
puts an import hook in front of the others that loads the mutated code for the
one module under test, imports the tests (which import the rest of ``glozi``
fresh, since the parent never imported it) and runs them with trial, stopping
at the first failure. A child that outlives its time limit is killed and its
mutant counted as killed ("timeout"): a change that makes the tests hang is one
they notice.
"""

import importlib.abc
import importlib.util
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, ModuleType

# Whatever the tests import from outside glozi and does not install a reactor:
# importing it once in the parent saves every child the time.
_PRELOADED = (
    "twisted.trial.unittest", "twisted.scripts.trial", "twisted.internet.defer", "twisted.internet.task",
    "twisted.internet.protocol", "twisted.internet.testing", "twisted.protocols.basic", "twisted.logger",
    "twisted.web.server", "twisted.web.resource", "twisted.internet.endpoints", "twisted.application.service",
    "twisted.enterprise.adbapi", "hypothesis", "hypothesis.strategies", "PIL.Image", "sqlite3", "json",
)  # fmt: skip


@dataclass
class Outcome:
    killed: bool
    how: str
    """"failed", "timeout", "survived", or "not covered"."""
    seconds: float


class _MutantLoader(importlib.abc.Loader):
    def __init__(self, code: CodeType) -> None:
        self._code = code

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        exec(self._code, module.__dict__)  # noqa: S102 - the mutant is ours


class _MutantFinder(importlib.abc.MetaPathFinder):
    def __init__(self, name: str, path: Path, code: CodeType) -> None:
        self._name = name
        self._path = path
        self._code = code

    def find_spec(
        self, name: str, path: object, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != self._name:
            return None
        return importlib.util.spec_from_file_location(name, self._path, loader=_MutantLoader(self._code))


def preload() -> None:
    """Import what every child would otherwise import again."""
    for name in _PRELOADED:
        __import__(name)
    if "twisted.internet.reactor" in sys.modules:
        raise RuntimeError("a preloaded module installed a reactor; the children need their own")


def module_name(path: Path) -> str:
    return ".".join(path.with_suffix("").parts)


def _child(
    root: Path, temp: str, name: str | None, path: Path, code: CodeType | None, tests: Sequence[str]
) -> None:
    """In the forked child: load the mutant, run the tests, exit with trial's verdict."""
    status = 2
    try:
        os.chdir(root)
        sys.path.insert(0, str(root))
        # GLOZI_MUTATION_SHOW=1 lets trial's output through, to see why a run fails.
        if not os.environ.get("GLOZI_MUTATION_SHOW"):
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
        if code is not None and name is not None:
            sys.meta_path.insert(0, _MutantFinder(name, path.resolve(), code))
        sys.argv = ["trial", "--exitfirst", f"--temp-directory={temp}/{os.getpid()}", *tests]
        from twisted.scripts import trial

        try:
            trial.run()
            status = 0
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        os._exit(status)


@dataclass
class Job:
    key: object
    path: Path
    code: CodeType | None
    """None: the unchanged module (the baseline run)."""
    tests: Sequence[str]
    timeout: float


def run_jobs(root: Path, jobs: Sequence[Job], parallel: int, done: Callable[[Job, Outcome], None]) -> None:
    """Run every job, ``parallel`` at a time; ``done`` hears each outcome as it comes."""
    with tempfile.TemporaryDirectory(prefix="glozi-mutants-") as temp:
        _run_jobs(root, temp, list(reversed(jobs)), parallel, done)


def _run_jobs(
    root: Path, temp: str, waiting: list[Job], parallel: int, done: Callable[[Job, Outcome], None]
) -> None:
    running: dict[int, tuple[Job, float]] = {}
    while waiting or running:
        while waiting and len(running) < parallel:
            job = waiting.pop()
            if not job.tests:
                done(job, Outcome(False, "not covered", 0.0))
                continue
            pid = os.fork()
            if pid == 0:
                _child(root, temp, module_name(job.path), job.path, job.code, job.tests)
            running[pid] = (job, time.monotonic())
        if not running:
            continue
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            now = time.monotonic()
            for child, (job, started) in list(running.items()):
                if now - started > job.timeout:
                    os.kill(child, signal.SIGKILL)
                    os.waitpid(child, 0)
                    del running[child]
                    done(job, Outcome(True, "timeout", now - started))
            time.sleep(0.02)
            continue
        job, started = running.pop(pid)
        seconds = time.monotonic() - started
        failed = not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0)
        done(job, Outcome(failed, "failed" if failed else "survived", seconds))
