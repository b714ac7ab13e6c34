"""The one seam through which a session's events reach its members.

``glozi.fanout.local.LocalFanout`` delivers to members connected to this
process. A shared deployment (several servers, Redis pub/sub) slots in beside
it: an implementation that publishes the event and lets each server deliver to
its own members.
"""

from typing import Protocol

from twisted.internet.defer import Deferred

from glozi.domain.events import Event, Message
from glozi.domain.sessions import Member, Session


class Fanout(Protocol):
    """Delivers an event to a session's members."""

    def publish(self, session: Session, event: Event, exclude: Member | None = None) -> None:
        """Deliver ``event`` to every member of ``session`` but ``exclude``."""

    delivers_before_commit: bool
    """Whether ``publish_message`` delivers before the store answers (then a
    message the store refuses was seen all the same)."""

    def publish_message(
        self, session: Session, message: Message, written: "Deferred[object]", exclude: Member | None = None
    ) -> None:
        """Deliver a chat message, which the store is committing (``written``
        fires with its sequence number, or fails), and add it to the session's
        history."""
