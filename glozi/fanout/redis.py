"""The fan-out of a cluster node: its own members directly, the other nodes through the Redis bus.

Each event is published once for the whole cluster (glozi/fanout/bus.py)
and delivered here to the members connected to this node; the other nodes
deliver it to theirs (glozi/cluster/replica.py). A chat message goes out
only once committed, with its session's sequence number, and every node,
this one too, hands messages on in number order (glozi/fanout/sequencer.py),
so every member sees a session's messages in the same order.
"""

from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from glozi.domain.events import Event, Message
from glozi.domain.sessions import Member, Session
from glozi.fanout.delivery import deliver_to
from glozi.fanout.envelope import encode_event, message_envelope, pack, session_state
from glozi.fanout.sequencer import DEFAULT_GAP_WAIT, Sequencer

Delivery = tuple[Message, str | None]
"""A message and the name of the member it is not for (its sender), if any."""


class Publisher(Protocol):
    def publish(self, payload: bytes) -> None:
        """Send ``payload`` to every node (this one too)."""


class Sessions(Protocol):
    sessions: dict[int, Session]


class ClusterFanout:
    """Delivers to this node's members and publishes to the others."""

    log = Logger()
    delivers_before_commit = False

    def __init__(
        self,
        node: str,
        bus: Publisher,
        clock: IReactorTime,
        read_after: "Callable[[int, int], Deferred[list[tuple[int, Delivery]]]]",
        gap_wait: float = DEFAULT_GAP_WAIT,
    ) -> None:
        """``read_after(session_id, seq)`` reads a session's committed
        messages numbered above ``seq`` from the store, to fill gaps."""
        self.node = node
        self.bus = bus
        self.sequencer: Sequencer[Delivery] = Sequencer(clock, read_after, self._hand_on, gap_wait)
        self.chat: Sessions | None = None
        self.published: Callable[[Session, Event], None] = lambda session, event: None
        """Called after each session event this node published (the cluster keeps its record)."""

    def attach(self, chat: Sessions) -> None:
        """The chat server whose sessions this fan-out serves."""
        self.chat = chat

    def publish(self, session: Session, event: Event, exclude: Member | None = None) -> None:
        self.deliver_here(session, event, exclude.name if exclude is not None else None)
        self.publish_elsewhere(session, event, exclude)

    def publish_elsewhere(self, session: Session, event: Event, exclude: Member | None = None) -> None:
        """Publish ``event`` to the other nodes only (this one has it already)."""
        envelope: dict[str, Any] = {
            "node": self.node,
            "kind": "event",
            "session": session.id,
            "event": encode_event(event),
            "exclude": exclude.name if exclude is not None else None,
            "state": session_state(session),
        }
        self.bus.publish(pack(envelope))
        self.published(session, event)

    def publish_message(
        self, session: Session, message: Message, written: "Deferred[Any]", exclude: Member | None = None
    ) -> None:
        excluded = exclude.name if exclude is not None else None

        def committed(seq: Any) -> Any:
            self.bus.publish(message_envelope(self.node, seq, message, excluded))
            self.sequencer.arrived(session.id, seq, (message, excluded))
            return seq

        written.addCallback(committed)

    def arrived(self, seq: int, message: Message, exclude: str | None) -> None:
        """Another node's committed message reached this one."""
        self.sequencer.arrived(message.session_id, seq, (message, exclude))

    def _hand_on(self, session_id: int, delivery: Delivery) -> None:
        assert self.chat is not None
        session = self.chat.sessions.get(session_id)
        if session is None:
            return
        message, exclude = delivery
        session.history.append(message)
        self.deliver_here(session, message, exclude)

    def deliver_here(self, session: Session, event: Event, exclude: str | None) -> None:
        """Deliver ``event`` to the members of ``session`` connected to this node, but the one named ``exclude``."""
        deliver_to(
            [
                member.participant.connection
                for member in tuple(session.members.values())
                if not member.participant.remote and member.name != exclude
            ],
            event,
            self.log,
        )
