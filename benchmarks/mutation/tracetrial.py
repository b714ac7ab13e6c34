"""Trial under coverage.py with the context switched to each test's id.

Coverage's own ``dynamic_context = test_function`` names only the test method
itself: the lines a test's ``setUp`` and ``tearDown`` run (building a chat
server, a door's factory) would count for no test. Switching the context
around ``SynchronousTestCase.run`` (every trial test goes through it) counts
them for the test they set up. Lines run outside any test, at import, keep
the empty context.

    python -m coverage run --rcfile=RC -m benchmarks.mutation.tracetrial TRIAL-ARGUMENTS...
"""

import sys
from typing import Any

import coverage
from twisted.trial import unittest

_run = unittest.SynchronousTestCase.run


def _run_in_context(self: unittest.SynchronousTestCase, result: Any) -> Any:
    measuring = coverage.Coverage.current()
    if measuring is None:
        return _run(self, result)
    measuring.switch_context(self.id())
    try:
        return _run(self, result)
    finally:
        measuring.switch_context("")


def main() -> None:
    unittest.SynchronousTestCase.run = _run_in_context  # type: ignore[method-assign]
    from twisted.scripts.trial import run

    sys.argv = ["trial", *sys.argv[1:]]
    run()


if __name__ == "__main__":
    main()
