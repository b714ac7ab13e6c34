"""The one seam through which a session's events reach its members.

``LocalFanout`` delivers to members connected to this process. A shared
deployment (several servers, Redis pub/sub) replaces it with an implementation
that publishes the event and lets each server deliver to its own members.
"""

from typing import TYPE_CHECKING, Protocol

from twisted.logger import Logger

from glozi.domain.events import Event

if TYPE_CHECKING:
    from glozi.domain.chat import Member, Session


class Fanout(Protocol):
    """Delivers an event to a session's members."""

    def publish(self, session: "Session", event: Event, exclude: "Member | None" = None) -> None:
        """Deliver ``event`` to every member of ``session`` but ``exclude``."""


class LocalFanout:
    """Delivers to each member's own connection; one failing connection is
    logged and closed, and the others still get the event."""

    log = Logger()

    def publish(self, session: "Session", event: Event, exclude: "Member | None" = None) -> None:
        for member in tuple(session.members.values()):
            if member is exclude:
                continue
            connection = member.participant.connection
            try:
                connection.deliver(event)
            # Whatever broke one member's connection must not stop the others' delivery.
            except Exception:  # noqa: BLE001
                self.log.failure("Delivery to {name} failed; dropping the connection", name=member.name)
                connection.close()
