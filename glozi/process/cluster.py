"""A server as one node of a cluster (``--redis``): its parts, built from the options.

Imported only when ``--redis`` is given: txredisapi and psycopg are the
``cluster`` extra.
"""

import socket
import time
from typing import Any

from twisted.application.service import IService
from twisted.internet.defer import Deferred

from glozi.cluster.node import ClusterNode
from glozi.cluster.record import ClusterRecord
from glozi.cluster.replica import Replica
from glozi.discovery.service import PortRecordingEndpoint
from glozi.domain.chat import ChatServer
from glozi.domain.history import as_event
from glozi.doors.writebatch import WriteBatch
from glozi.fanout.bus import RedisBus
from glozi.fanout.redis import ClusterFanout, Delivery
from glozi.storage.pgstore import PostgresStore

FILL_LIMIT = 10_000
"""Messages read at most to fill one session's gap (a session keeps no more than ``--retention``)."""
WILDCARDS = ("", "0.0.0.0", "::")


def default_node_name(port_option: str) -> str:
    """``host:port`` from the host name and the native endpoint's port (``tcp:7557``)."""
    port = next((part.split("=")[-1] for part in port_option.split(":")[1:] if part.split("=")[-1].isdigit()), "")
    return f"{socket.gethostname()}:{port}" if port else socket.gethostname()


class ClusterParts:
    """The fan-out, record, bus and replica of this node, and the service that runs them."""

    def __init__(self, options: Any, reactor: Any, store: PostgresStore) -> None:
        self.reactor = reactor
        self.options = options
        self.node = options["node"] or default_node_name(options["port"])
        self.store = store
        self.bus = RedisBus(reactor, options["redis"])
        self.record = ClusterRecord(reactor, options["db"])
        self.fanout = ClusterFanout(self.node, self.bus, reactor, self._read_after)
        self.started_at = time.time()
        self.service: ClusterNode | None = None

    def _read_after(self, session_id: int, seq: int) -> "Deferred[list[tuple[int, Delivery]]]":
        def as_deliveries(rows: list[Any]) -> list[tuple[int, Delivery]]:
            return [(number, (as_event(stored), stored.sender)) for number, stored in rows]

        return self.store.messages_after(session_id, seq, FILL_LIMIT).addCallback(as_deliveries)

    def other_nodes(self) -> list[dict[str, Any]]:
        """The other live nodes, from the last look (the welcome calls this: it must not wait)."""
        return self.service.other_nodes() if self.service is not None else []

    def node_service(
        self,
        chat: ChatServer,
        listeners: list[IService],
        native: PortRecordingEndpoint,
        irc: PortRecordingEndpoint | None,
        writes: WriteBatch,
    ) -> ClusterNode:
        """The service that joins the cluster, then starts ``listeners``."""
        self.fanout.attach(chat)
        self.bus.receiving = writes
        replica = Replica(self.node, chat, self.fanout, self.bus.publish, self.record)
        chat.replication = replica
        tls = self.options["port"].lower().startswith("ssl:")

        def info() -> dict[str, Any]:
            host = native.bound_host()
            return {
                "name": self.node,
                "host": socket.gethostname() if host in WILDCARDS or host is None else host,
                "port": native.port_number(),
                "tls": tls,
                "irc_port": irc.port_number() if irc is not None else None,
                "started_at": self.started_at,
            }

        self.service = ClusterNode(
            self.reactor, replica, self.bus, self.record, info, self.options["presence-timeout"],
            listeners=listeners, on_failure=self.reactor.stop,
        )
        return self.service
