"""The other nodes of a cluster, as the welcome and discovery answers list them.

A node is ``{"name", "host", "port", "tls", "irc_port"}`` (docs/protocol.md
*Connecting*, docs/discovery.md *Answer format*): where a client may connect
when the node it uses goes away.  The server builds the list from what its
cluster knows (``nodes_from``); clients read it back with ``decode_nodes``,
which keeps the valid entries only, since the list is a hint and a bad entry
must not cost the good ones.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_LISTED_NODES = 16
"""Nodes a welcome (or a discovery answer) lists at most: the first ones the server knows of."""
MAX_NODE_NAME_LENGTH = 64
MAX_HOST_NAME_LENGTH = 253

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class Node:
    """Another node of the cluster: its name, native endpoint, TLS, and IRC port (``None``: no IRC)."""

    name: str
    host: str
    port: int
    tls: bool = False
    irc_port: int | None = None

    def fields(self) -> dict[str, Any]:
        """The node as the wire carries it."""
        return {"name": self.name, "host": self.host, "port": self.port, "tls": self.tls, "irc_port": self.irc_port}


def no_other_nodes() -> list[dict[str, Any]]:
    """The node list of a server running alone."""
    return []


def nodes_from(infos: Iterable[Mapping[str, Any]]) -> tuple[Node, ...]:
    """The first ``MAX_LISTED_NODES`` valid nodes of the cluster's node
    descriptions (``name``, ``host``, ``port``, and ``tls`` and ``irc_port``
    when there are; other keys, such as a heartbeat's ``started_at``, are left out).

    A description that is not a valid node (see ``decode_nodes``) is skipped:
    one written by a node of another version must not spoil every welcome.
    """
    nodes = []
    for info in infos:
        node = _decode_node(info)
        if node is not None:
            nodes.append(node)
            if len(nodes) == MAX_LISTED_NODES:
                break
    return tuple(nodes)


def decode_nodes(value: object) -> tuple[Node, ...]:
    """The valid nodes of a received ``nodes`` field, in order, at most ``MAX_LISTED_NODES``.

    Anything but a list means none; an entry is skipped unless it is an
    object with a ``name`` of 1 to 64 printable characters, a ``host`` that
    is a unicast IPv4 address or a host name, a ``port`` and an ``irc_port``
    (or ``null``; absent means ``null``) in 1..65535, and a boolean ``tls``
    (absent: ``false``).
    """
    return nodes_from(value) if isinstance(value, list) else ()


def _decode_node(entry: object) -> Node | None:
    if not isinstance(entry, Mapping):
        return None
    name, host, port = entry.get("name"), entry.get("host"), entry.get("port")
    tls, irc_port = entry.get("tls", False), entry.get("irc_port")
    if not (
        isinstance(name, str)
        and 0 < len(name) <= MAX_NODE_NAME_LENGTH
        and name.isprintable()
        and is_node_host(host)
        and is_port(port)
        and (irc_port is None or is_port(irc_port))
        and isinstance(tls, bool)
    ):
        return None
    return Node(name=name, host=host, port=port, tls=tls, irc_port=irc_port)


def is_port(value: object) -> bool:
    """Whether ``value`` is a TCP or UDP port number (JSON ``true`` is not port 1)."""
    return type(value) is int and 0 < value < 65536


def is_unicast_ipv4(host: str) -> bool:
    """Whether ``host`` is an IPv4 address a client may connect to (not multicast, ``0.0.0.0`` or broadcast)."""
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return not (address.is_multicast or address.is_unspecified or address == _LIMITED_BROADCAST)


_LIMITED_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def is_node_host(value: object) -> bool:
    """Whether ``value`` is a unicast IPv4 address or a DNS host name (letters, digits, ``-``, dots)."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_HOST_NAME_LENGTH:
        return False
    labels = value.removesuffix(".").split(".")
    if all(label.isdigit() for label in labels):
        return is_unicast_ipv4(value)
    return all(_HOST_LABEL.match(label) for label in labels)


def browser_url(host: str, port: int, tls: bool) -> str:
    """The browser client's URL on ``host`` (docs/web.md): ``http://HOST:PORT/``,
    ``https`` when ``tls``, the port left out when it is the scheme's own."""
    if ":" in host:
        host = f"[{host}]"
    scheme, default_port = ("https", 443) if tls else ("http", 80)
    return f"{scheme}://{host}/" if port == default_port else f"{scheme}://{host}:{port}/"
