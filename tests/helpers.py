"""Shared test doubles for the chat domain."""

from twisted.internet.task import Clock

from glozi.chat import ChatServer, Participant
from glozi.events import Event

TEST_EXIT_CODE = "24680"


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


def make_server(**kwargs) -> tuple[ChatServer, Clock]:
    clock = Clock()
    clock.advance(1_764_000_000)
    kwargs.setdefault("exit_code", TEST_EXIT_CODE)
    return ChatServer(clock, **kwargs), clock


def connect(server: ChatServer, source: str = "192.0.2.1") -> tuple[Participant, RecordingConnection]:
    connection = RecordingConnection()
    return server.connect(connection, source), connection
