"""The memory report an operator asks for with SIGUSR2 (glozi/process/memory.py), without a real signal."""

import gc
import re
import signal
from collections.abc import Callable
from typing import Any

from twisted.logger import Logger, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from glozi.process.memory import MemoryReports, report_memory, resident_kib

REPORT_LINE = re.compile(r"^memory: live_objects=(\d+) frozen=(\d+) rss_kib=(\d+)$")


class CallsFromThreads:
    """The reactor's callFromThread, run when the test says so."""

    def __init__(self) -> None:
        self.calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []

    def callFromThread(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.calls.append((f, args))

    def run(self) -> None:
        calls, self.calls = self.calls, []
        for f, args in calls:
            f(*args)


class Cycle:
    """An object that refers to itself: only the cycle collector frees it."""

    def __init__(self) -> None:
        self.me = self


def logged_lines(events: list[dict[str, Any]]) -> list[str]:
    return [formatEvent(event) for event in events]


class ReportTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.log = Logger(observer=self.events.append)

    def test_one_documented_line(self) -> None:
        """The report is one line, ``memory: live_objects=N frozen=F rss_kib=M``, with this process's VmRSS."""
        report_memory(self.log)
        [line] = logged_lines(self.events)
        match = REPORT_LINE.match(line)
        self.assertIsNotNone(match, line)
        live, frozen, rss = (int(group) for group in match.groups())
        self.assertGreaterEqual(live, frozen)
        self.assertGreater(rss, 0)
        self.assertLess(abs(rss - resident_kib()), 10 * 1024)

    def test_counts_after_a_full_collection(self) -> None:
        """Garbage cycles are collected before the count: only objects that still live are counted."""
        gc.disable()
        self.addCleanup(gc.enable)
        gc.collect()
        kept = [Cycle() for _ in range(1000)]
        for _ in range(5000):
            Cycle()
        with_garbage = len(gc.get_objects()) + gc.get_freeze_count()
        report_memory(self.log)
        live = int(REPORT_LINE.match(logged_lines(self.events)[0]).group(1))
        self.assertLessEqual(live, with_garbage - 5000)
        self.assertGreater(live, len(kept))

    def test_frozen_objects_are_counted_as_live(self) -> None:
        """Objects frozen at start-up still live, so they count, and ``frozen`` says how many they are."""
        gc.collect()
        gc.freeze()
        self.addCleanup(gc.unfreeze)
        before = gc.get_freeze_count()
        report_memory(self.log)
        live, frozen, _ = (int(group) for group in REPORT_LINE.match(logged_lines(self.events)[0]).groups())
        self.assertEqual(frozen, before)
        # Nearly everything was frozen, and yet nearly everything is counted.
        self.assertGreater(frozen, 10_000)
        self.assertLess(live - frozen, 1000)
        self.assertGreaterEqual(live - frozen, 0)


class SignalTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.previous = signal.signal(signal.SIGUSR2, signal.SIG_DFL)
        self.addCleanup(signal.signal, signal.SIGUSR2, self.previous)
        self.reactor = CallsFromThreads()
        self.service = MemoryReports(self.reactor)
        self.events: list[dict[str, Any]] = []
        self.service.log = Logger(observer=self.events.append)

    def test_sigusr2_reports_on_the_reactors_next_turn(self) -> None:
        """SIGUSR2 logs the report, not inside the handler but through the reactor."""
        self.service.startService()
        handler = signal.getsignal(signal.SIGUSR2)
        handler(signal.SIGUSR2, None)
        self.assertEqual(self.events, [])
        self.reactor.run()
        [line] = logged_lines(self.events)
        self.assertRegex(line, REPORT_LINE)
        handler(signal.SIGUSR2, None)
        self.reactor.run()
        self.assertEqual(len(self.events), 2)

    def test_stopping_puts_the_default_back(self) -> None:
        """After stopService, SIGUSR2 is back to what it was."""
        self.service.startService()
        self.service.stopService()
        self.assertIs(signal.getsignal(signal.SIGUSR2), signal.SIG_DFL)

    def test_a_taken_signal_is_left_alone(self) -> None:
        """twistd --debug binds SIGUSR2 to the debugger first: that handler stays, and a warning says so."""

        def debugger(signum: int, frame: object) -> None:
            """Stands for twistd's pdb handler."""

        signal.signal(signal.SIGUSR2, debugger)
        self.service.startService()
        self.assertIs(signal.getsignal(signal.SIGUSR2), debugger)
        self.assertIn("SIGUSR2 is taken", logged_lines(self.events)[0])
        self.service.stopService()
        self.assertIs(signal.getsignal(signal.SIGUSR2), debugger)
