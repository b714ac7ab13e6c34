"""Memory housekeeping: the C allocator's thresholds and the cycle collector's,
and the report an operator asks for with SIGUSR2.

Ask the C allocator to give large freed blocks back to the system.

glibc raises its mmap threshold each time a large block is freed, so after a
peak (a scrypt hash needs 16 MiB; a burst of connections needs large write
buffers) later large blocks come from the heap and stay with the process when
freed. A fixed threshold keeps blocks of 256 KiB and more in their own
mappings, returned on free, so the server's memory comes back down after load
(in the soak run: 80 MiB after load without it, 62 MiB with it, from 53 MiB at
start). Elsewhere than glibc this does nothing.
"""

import ctypes
import ctypes.util
import gc
import re
import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from twisted.application.internet import TimerService
from twisted.application.service import Service
from twisted.internet.interfaces import IReactorFromThreads, IReactorTime
from twisted.logger import Logger

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
LARGE_BLOCK_BYTES = 256 * 1024


def _libc_function(name: str) -> Callable[..., int] | None:
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    try:
        return getattr(ctypes.CDLL(library), name)  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


def return_large_blocks() -> bool:
    """Fix glibc's mmap and trim thresholds; report whether it took."""
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, LARGE_BLOCK_BYTES)
    )


_malloc_trim = _libc_function("malloc_trim")


def give_back_free_pages() -> None:
    """Hand whole free pages inside glibc's heap back to the system.

    glibc returns only the top of its heap by itself; after a peak the freed
    chunks below live ones stay resident. ``malloc_trim`` releases every page
    no live chunk touches (1.4 MB after the soak's 1,000 clients). It walks
    the free lists, so it runs with the periodic full collection, not often.
    """
    if _malloc_trim is not None:
        _malloc_trim(0)


GC_FIRST_GENERATION_THRESHOLD = 20_000
FULL_COLLECTION_SECONDS = 10.0


def tune_garbage_collector() -> None:
    """Collect cycles less often, and never rescan what start-up built.

    Every message allocates a few short-lived objects; with Python's default
    threshold (700) the collector runs hundreds of times a second under load
    and its full collections walk every object the server holds. Freezing the
    objects that exist once the server is built (modules, Twisted, the
    sessions) and a higher first threshold took the server's CPU per delivery
    from 0.66 to 0.57 us in the one-room benchmark and from 2.9 to 2.0 us in
    the many-rooms one (docs/performance.md). With collections that rare, a
    closed connection's cycles (protocol and transport refer to each other)
    would wait long to be freed, so ``FullCollections`` runs one every ten
    seconds; with start-up frozen it walks only what the server holds now.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_FIRST_GENERATION_THRESHOLD, 20, 20)


def collect_and_give_back() -> None:
    """A full cycle collection, then the freed heap pages back to the system."""
    gc.collect()
    give_back_free_pages()


class FullCollections(TimerService):
    """A full cycle collection every ``FULL_COLLECTION_SECONDS``, and the
    memory it freed handed back."""

    def __init__(self, clock: IReactorTime, interval: float = FULL_COLLECTION_SECONDS) -> None:
        super().__init__(interval, collect_and_give_back)
        self.clock = clock


REPORT_SIGNAL = signal.SIGUSR2
_VM_RSS = re.compile(r"^VmRSS:\s+(\d+) kB", re.MULTILINE)


def resident_kib(pid: int | str = "self") -> int:
    """The resident set size (VmRSS) of process ``pid`` in KiB; 0 without ``/proc``."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = _VM_RSS.search(status)
    return int(match.group(1)) if match else 0


def report_memory(log: Logger) -> None:
    """Run a full collection, then log one line:
    ``memory: live_objects=N frozen=F rss_kib=M``.

    N counts every object the cycle collector tracks (containers and
    instances; not strings or numbers), F those of them start-up froze
    (``tune_garbage_collector``), so N - F is what was made since and still
    lives. M is the process's VmRSS, read after the collection.
    """
    gc.collect()
    frozen = gc.get_freeze_count()
    log.info(
        "memory: live_objects={live_objects} frozen={frozen} rss_kib={rss_kib}",
        live_objects=len(gc.get_objects()) + frozen,
        frozen=frozen,
        rss_kib=resident_kib(),
    )


class MemoryReports(Service):
    """``report_memory`` on each SIGUSR2, for as long as the service runs.

    twistd keeps SIGUSR1 for reopening its log file and, only with
    ``--debug``, binds SIGUSR2 to the debugger before the services start; a
    handler already there is left alone.
    """

    log = Logger()

    def __init__(self, reactor: IReactorFromThreads) -> None:
        self.reactor = reactor
        self._previous: Any = None
        self._installed = False

    def startService(self) -> None:
        super().startService()
        if signal.getsignal(REPORT_SIGNAL) not in (signal.SIG_DFL, None):
            self.log.warn("SIGUSR2 is taken (twistd --debug?): no memory reports")
            return
        self._previous = signal.signal(REPORT_SIGNAL, self._signalled)
        self._installed = True

    def stopService(self) -> None:
        super().stopService()
        if self._installed:
            signal.signal(REPORT_SIGNAL, self._previous)
            self._installed = False

    def _signalled(self, signum: int, frame: FrameType | None) -> None:
        # A handler runs between any two bytecodes of the main thread, perhaps
        # inside the log publisher: the report waits for the reactor's next turn.
        self.reactor.callFromThread(report_memory, self.log)
