"""Run irctest's server tests against each named server and print the figures.

Usage (benchmarks/irc-conformance sets this up)::

    python benchmarks/conformance/run.py --irctest DIR [--log FILE] glozichat ngircd inspircd

``DIR`` is the unpacked irctest sdist. Only the RFC 1459 and RFC 2812 tests
are selected (irctest 0.1.2 has no "Modern" set; its IRCv3 tests are left
out), and tests that take no specification run too. Every test is bounded in
time; a server is started afresh for every test, on 127.0.0.1 only.
"""

import argparse
import io
import signal
import socket
import sys
import unittest
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

TEST_TIME_LIMIT = 60
"""Seconds one test may take; irctest's own waits have no bound of their own."""
NOT_SELECTED = "Tests not required by the set of tested specification(s)."
RFC_MODULES = ("test_connection_registration", "test_channel_operations", "test_messages")
"""irctest 0.1.2's modules with RFC tests; the others (CAP, SASL, METADATA, MONITOR, ...) are IRCv3 only."""


@dataclass
class Figures:
    """What one server scored."""

    server: str
    passed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def line(self) -> str:
        total = len(self.passed) + len(self.failed) + len(self.skipped)
        return (
            f"{self.server}: {len(self.passed)} passed, {len(self.failed)} failed, "
            f"{len(self.skipped)} skipped (of {total})"
        )


class _TestTookTooLong(Exception):
    pass


def _time_is_up(signum: int, frame: FrameType | None) -> None:
    raise _TestTookTooLong(f"test still running after {TEST_TIME_LIMIT} s")


def _loopback_only(test: object) -> None:
    """irctest binds ("", 0) to find a port and hands the wildcard address on; stay on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        test.hostname, test.port = probe.getsockname()


def _each_test(suite: unittest.TestSuite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _each_test(item)
        else:
            yield item


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def measure(server: str, log: io.TextIOBase) -> Figures:
    """Run every selected server test against ``server``; a test's failure never stops the others."""
    from controllers import CONTROLLERS
    from irctest import cases
    from irctest.specifications import Specifications

    cases._IrcTestCase.controllerClass = CONTROLLERS[server]
    cases._IrcTestCase.show_io = False
    cases._IrcTestCase.strictTests = True
    cases._IrcTestCase.testedSpecifications = frozenset({Specifications.RFC1459, Specifications.RFC2812})
    cases.BaseServerTestCase.find_hostname_and_port = _loopback_only
    suite = unittest.defaultTestLoader.loadTestsFromNames(f"irctest.server_tests.{name}" for name in RFC_MODULES)
    figures = Figures(server)
    previous = signal.signal(signal.SIGALRM, _time_is_up)
    try:
        for test in sorted(_each_test(suite), key=lambda t: t.id()):
            result = unittest.TestResult()
            signal.alarm(TEST_TIME_LIMIT)
            try:
                test.run(result)
            finally:
                signal.alarm(0)
            name = test.id().removeprefix("irctest.server_tests.")
            if any(reason == NOT_SELECTED for _, reason in result.skipped):
                continue
            if result.failures or result.errors:
                trace = (result.failures + result.errors)[0][1]
                figures.failed.append((name, _first_line(trace)))
                log.write(f"FAIL {server} {name}\n{trace}\n")
            elif result.skipped:
                figures.skipped.append((name, str(result.skipped[0][1])))
                log.write(f"SKIP {server} {name}: {result.skipped[0][1]}\n")
            else:
                figures.passed.append(name)
                log.write(f"PASS {server} {name}\n")
            log.flush()
    finally:
        signal.signal(signal.SIGALRM, previous)
    return figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--irctest", type=Path, required=True, help="the unpacked irctest sdist")
    parser.add_argument("--log", type=Path, help="where each test's outcome and traceback go")
    parser.add_argument("servers", nargs="+", choices=["glozichat", "ngircd", "inspircd"])
    args = parser.parse_args(argv)
    sys.path[:0] = [str(args.irctest), str(Path(__file__).resolve().parent)]
    log: io.TextIOBase = args.log.open("w") if args.log else io.StringIO()
    results = [measure(server, log) for server in args.servers]
    for figures in results:
        sys.stdout.write(figures.line() + "\n")
    for figures in results:
        if figures.server == "glozichat":
            for name, why in figures.failed:
                sys.stdout.write(f"  glozichat fails {name}: {why}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
