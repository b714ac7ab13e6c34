"""The fan-out of one process: each event goes straight to the members connected here."""

from twisted.logger import Logger

from glozi.domain.events import Event
from glozi.domain.sessions import Member, Session


class LocalFanout:
    """Delivers to each member's own connection; one failing connection is
    logged and closed, and the others still get the event."""

    log = Logger()

    def publish(self, session: Session, event: Event, exclude: Member | None = None) -> None:
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
