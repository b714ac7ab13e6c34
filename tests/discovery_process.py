"""A long-running child process for discovery's end-to-end tests: wait for log lines, stop at cleanup."""

import re
from typing import Any

from twisted.internet import defer, protocol, reactor

STOP_TIMEOUT = 15.0


class DaemonProcess(protocol.ProcessProtocol):
    """Collects the child's output; ``wait_for`` a pattern in it; ``terminate`` it."""

    def __init__(self) -> None:
        self.output = b""
        self.exited = False
        self.ended: defer.Deferred[None] = defer.Deferred()
        self._waiting: list[tuple[re.Pattern[bytes], defer.Deferred[re.Match[bytes]]]] = []

    def outReceived(self, data: bytes) -> None:
        self.output += data
        still = []
        for pattern, waiting in self._waiting:
            match = pattern.search(self.output)
            if match:
                waiting.callback(match)
            else:
                still.append((pattern, waiting))
        self._waiting = still

    errReceived = outReceived

    def processEnded(self, reason: Any) -> None:
        self.exited = True
        waiting, self._waiting = self._waiting, []
        for _, deferred in waiting:
            deferred.errback(RuntimeError(f"process ended:\n{self.output.decode(errors='replace')}"))
        self.ended.callback(None)

    def wait_for(self, pattern: re.Pattern[bytes], timeout: float) -> "defer.Deferred[re.Match[bytes]]":
        """The first match of ``pattern`` in the output, failing after ``timeout`` seconds."""
        match = pattern.search(self.output)
        if match:
            return defer.succeed(match)
        if self.exited:
            return defer.fail(RuntimeError(f"process ended:\n{self.output.decode(errors='replace')}"))
        waiting: defer.Deferred[re.Match[bytes]] = defer.Deferred()
        self._waiting.append((pattern, waiting))
        return waiting.addTimeout(timeout, reactor)

    def terminate(self) -> "defer.Deferred[None] | None":
        """SIGTERM, then SIGKILL if it has not ended within ``STOP_TIMEOUT``."""
        if self.exited:
            return None
        self.transport.signalProcess("TERM")
        kill = reactor.callLater(STOP_TIMEOUT, self._kill)
        return self.ended.addBoth(lambda result: kill.cancel() if kill.active() else None)

    def _kill(self) -> None:
        if not self.exited:
            self.transport.signalProcess("KILL")
