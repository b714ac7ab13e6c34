"""One event to many local connections: the same bytes written in one pass.

Each door's connection says, per event, whether its bytes are the ones every
connection of its kind gets (``shared_bytes``): then the connections with the
same bytes are gathered and the door's write batch writes those bytes to each
in one loop (glozi/doors/writebatch.py), with no per-recipient Python call
beyond the write. An event a connection words for itself (a private message,
its own leaving) and a connection of no door (a replica's, a closed one's) go
through its ``deliver`` as before.
"""

from collections.abc import Iterable, Sequence
from typing import Protocol

from twisted.logger import Logger

from glozi.domain.events import Event
from glozi.domain.sessions import Connection


class SharingConnection(Connection, Protocol):
    """A door's connection that can take a broadcast's bytes as they are."""

    def shared_bytes(self, event: Event) -> bytes | None:
        """The bytes ``event`` is for every connection like this one (b"": nothing
        to send), or None when only ``deliver`` can word it for this one."""

    def broadcast(self, connections: Sequence["SharingConnection"], data: bytes) -> None:
        """Write ``data`` to each of ``connections`` (of this door)."""


def deliver_to(connections: Iterable[Connection], event: Event, log: Logger) -> None:
    """Deliver ``event`` to each of ``connections``; one that fails is logged
    and closed, and the others still get the event."""
    groups: dict[bytes, list[SharingConnection]] = {}
    for connection in connections:
        try:
            shared = getattr(connection, "shared_bytes", None)
            data = shared(event) if shared is not None else None
            if data is None:
                connection.deliver(event)
            elif data:
                group = groups.get(data)
                if group is None:
                    groups[data] = [connection]  # type: ignore[list-item]
                else:
                    group.append(connection)  # type: ignore[arg-type]
        # Whatever broke one member's connection must not stop the others' delivery.
        except Exception:  # noqa: BLE001
            log.failure("Delivery to a connection failed; dropping it")
            connection.close()
    for data, group in groups.items():
        group[0].broadcast(group, data)
