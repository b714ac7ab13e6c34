"""Shared test doubles for the chat domain."""

from typing import Any

from twisted.internet.defer import Deferred, fail, maybeDeferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from glozi.domain.chat import ChatServer, Participant
from glozi.domain.events import Event
from glozi.storage.passwords import ScryptPasswords
from glozi.storage.store import MemoryStore, StoreError

TEST_EXIT_CODE = "2468013579"


class RecordingConnection:
    """A Connection that keeps what the domain delivered to it."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.closed = False

    def deliver(self, event: Event) -> None:
        self.events.append(event)

    def close(self) -> None:
        self.closed = True

    def of_type(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    def clear(self) -> None:
        self.events.clear()


def quick_passwords() -> ScryptPasswords:
    """Real scrypt hashes, but cheap and computed synchronously (no threads in unit tests)."""
    return ScryptPasswords(maybeDeferred, n=2, r=1, p=1)


class LateRunner:
    """A password runner that answers later, as the real hashing thread does:
    each hash or check waits in ``pending`` until ``finish()`` runs it."""

    def __init__(self) -> None:
        self.pending: list[tuple[Deferred[Any], Any, tuple, dict]] = []

    def __call__(self, function: Any, *args: Any, **kwargs: Any) -> "Deferred[Any]":
        answer: Deferred[Any] = Deferred()
        self.pending.append((answer, function, args, kwargs))
        return answer

    def finish(self) -> None:
        """Answer every waiting hash or check, in the order they were asked."""
        while self.pending:
            answer, function, args, kwargs = self.pending.pop(0)
            maybeDeferred(function, *args, **kwargs).chainDeferred(answer)


def late_passwords() -> tuple[ScryptPasswords, LateRunner]:
    """Cheap scrypt hashes whose answers come only when the runner is told to finish."""
    runner = LateRunner()
    return ScryptPasswords(runner, n=2, r=1, p=1), runner


def done(result: "Deferred[Any] | Any") -> Any:
    """The outcome of a Deferred that has already fired: its result, or its
    exception raised here (so ``assertRaises`` works on a domain call)."""
    if not isinstance(result, Deferred):
        return result
    outcome: list[Any] = []
    result.addBoth(outcome.append)
    if not outcome:
        raise AssertionError(f"{result!r} has not fired")
    if isinstance(outcome[0], Failure):
        outcome[0].raiseException()
    return outcome[0]


def make_server(**kwargs) -> tuple[ChatServer, Clock]:
    clock = Clock()
    clock.advance(1_764_000_000)
    kwargs.setdefault("exit_code", TEST_EXIT_CODE)
    kwargs.setdefault("passwords", quick_passwords())
    return ChatServer(clock, **kwargs), clock


def connect(server: ChatServer, source: str = "192.0.2.1") -> tuple[Participant, RecordingConnection]:
    connection = RecordingConnection()
    return server.connect(connection, source), connection


class RecordingList:
    """A door's session-list side: what the connections at the list were told."""

    def __init__(self) -> None:
        self.events: list = []

    def watching(self) -> bool:
        return True

    def session_list_changed(self, event) -> None:
        self.events.append(event)


class BrokenStore(MemoryStore):
    """A store whose disk has failed: every write fails (with ``StoreError``)."""

    def _fail(self) -> "Deferred[None]":
        return fail(StoreError("disk I/O error"))

    def add_session(self, session: Any) -> "Deferred[None]":
        return self._fail()

    def delete_session(self, session_id: int) -> "Deferred[None]":
        return self._fail()

    def add_message(self, message: Any) -> "Deferred[None]":
        return self._fail()


SESSION_LIST_EVENTS = frozenset({"session_added", "session_changed", "session_removed"})
"""The events pushed to every native connection at the session list."""
