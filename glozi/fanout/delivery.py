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
from glozi.domain.sessions import Connection, Member


class SharingConnection(Connection, Protocol):
    """A door's connection that can take a broadcast's bytes as they are."""

    def shared_bytes(self, event: Event) -> bytes | None:
        """The bytes ``event`` is for every connection like this one (b"": nothing
        to send), or None when only ``deliver`` can word it for this one."""

    def broadcast(self, connections: Sequence["SharingConnection"], data: bytes) -> None:
        """Write ``data`` to each of ``connections`` (of this door)."""


_UNKNOWN = object()
_SHARES: dict[type, object] = {}
"""Each connection class's ``shared_bytes`` (None when it has none), looked up once."""


def deliver_to(
    members: Iterable[Member], event: Event, log: Logger, exclude: Member | None = None, local_only: bool = False
) -> None:
    """Deliver ``event`` to the connection of each of ``members`` but
    ``exclude`` (and, with ``local_only``, but the members connected to other
    nodes); one that fails is logged and closed, and the others still get the
    event. ``members`` is iterated once, before anything is delivered: pass a
    copy (a delivery may close a connection and so change the session)."""
    groups: dict[bytes, list[SharingConnection]] = {}
    # The last group found: recipients of one door and variant come in a row.
    last_data: bytes | None = None
    last_group: list[SharingConnection] = []
    for member in members:
        if member is exclude:
            continue
        participant = member.participant
        if local_only and participant.remote:
            continue
        connection = participant.connection
        try:
            kind = type(connection)
            share = _SHARES.get(kind, _UNKNOWN)
            if share is _UNKNOWN:
                share = _SHARES[kind] = getattr(kind, "shared_bytes", None)
            data = share(connection, event) if share is not None else None  # type: ignore[operator]
            if data is None:
                connection.deliver(event)
            elif data is last_data:
                last_group.append(connection)  # type: ignore[arg-type]
            elif data:
                group = groups.get(data)
                if group is None:
                    group = groups[data] = []
                group.append(connection)  # type: ignore[arg-type]
                last_data, last_group = data, group
        # Whatever broke one member's connection must not stop the others' delivery.
        except Exception:  # noqa: BLE001
            log.failure("Delivery to {name} failed; dropping the connection", name=member.name)
            connection.close()
    for data, group in groups.items():
        group[0].broadcast(group, data)
