"""The fan-out of one process: each event goes straight to the members connected here."""

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from glozi.domain.events import Event, Message
from glozi.domain.sessions import Member, Session
from glozi.fanout.delivery import deliver_to


class LocalFanout:
    """Delivers to each member's own connection; one failing connection is
    logged and closed, and the others still get the event."""

    log = Logger()
    delivers_before_commit = True
    """One process needs no order beyond its own: a message goes out at once."""

    def publish_message(
        self, session: Session, message: Message, written: "Deferred[object]", exclude: Member | None = None
    ) -> None:
        self.publish(session, message, exclude)
        session.history.append(message)

    def publish(self, session: Session, event: Event, exclude: Member | None = None) -> None:
        deliver_to(
            [member.participant.connection for member in tuple(session.members.values()) if member is not exclude],
            event,
            self.log,
        )
