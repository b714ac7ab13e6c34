"""The discovery wire formats: encoding and validating probes and answers.

Pure functions, no I/O.  A *probe* is what a client sends (inside an ICMP echo
request, or as a UDP datagram to the discovery port); an *answer* is what a
server sends back over UDP.  Both are one UTF-8 JSON object::

    probe  {"magic": "GLOZICHAT-PROBE", "version": 1,
            "reply_port": 50123, "nonce": "<32 hex digits>"}
    answer {"magic": "GLOZICHAT-SERVER", "version": 1, "name": "lab",
            "host": "10.0.0.5", "port": 7557, "irc_port": 6667,
            "nonce": "<the probe's nonce>", "nodes": [<the cluster's other nodes>]}

Decoders never raise on bad input: anything that is not ours, malformed,
oversize, of another version or missing a field decodes to ``None``.  Unknown
extra keys are ignored, so a later version may add fields.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from glozi.discovery.nodes import Node, decode_nodes, is_port, is_unicast_ipv4

PROBE_MAGIC = "GLOZICHAT-PROBE"
ANSWER_MAGIC = "GLOZICHAT-SERVER"
PROTOCOL_VERSION = 1

DEFAULT_DISCOVERY_PORT = 7558
"""The well-known UDP port servers listen on for broadcast probes."""

MAX_PROBE_BYTES = 512
MAX_ANSWER_BYTES = 1024
NONCE_HEX_DIGITS = 32
MAX_SERVER_NAME_LENGTH = 64

MIN_REPLY_PORT = 1024
"""Lowest port an answer is sent to.

Clients listen on an ephemeral port; refusing the well-known range keeps a
spoofed probe from pointing answers at another service (echo, DNS, NTP...).
"""


@dataclass(frozen=True)
class Probe:
    """A client's request: answer me on UDP ``reply_port``, echoing ``nonce``."""

    reply_port: int
    nonce: str


@dataclass(frozen=True)
class Answer:
    """A server's reply to a probe.

    ``host`` and ``port`` are the native protocol endpoint the client should
    connect to; ``irc_port`` is on the same host, or ``None`` when the server
    has no IRC listener; ``tls`` says the native endpoint speaks TLS;
    ``password`` that the server asks every client for a password (``--password``);
    ``nodes`` the other nodes of its cluster (none for a server alone);
    ``web_port`` the browser client's port on the same host (``None``: no web
    door), ``web_tls`` whether it is https.
    """

    name: str
    host: str
    port: int
    irc_port: int | None
    nonce: str
    tls: bool = False
    password: bool = False
    nodes: tuple[Node, ...] = ()
    web_port: int | None = None
    web_tls: bool = False


def new_probe(reply_port: int) -> Probe:
    """Make a probe with a fresh random nonce for a client listening on ``reply_port``."""
    return Probe(reply_port=reply_port, nonce=secrets.token_hex(NONCE_HEX_DIGITS // 2))


def encode_probe(probe: Probe) -> bytes:
    """Serialize ``probe`` to its JSON payload."""
    return _dump(
        {
            "magic": PROBE_MAGIC,
            "version": PROTOCOL_VERSION,
            "reply_port": probe.reply_port,
            "nonce": probe.nonce,
        }
    )


def decode_probe(data: bytes) -> Probe | None:
    """Read a probe payload, or return ``None`` if it is not a valid one.

    Valid means: at most ``MAX_PROBE_BYTES``, a JSON object with our magic,
    exactly ``PROTOCOL_VERSION``, a ``reply_port`` in
    ``MIN_REPLY_PORT..65535`` and a nonce of ``NONCE_HEX_DIGITS`` lowercase
    hex digits.
    """
    fields = _load(data, MAX_PROBE_BYTES, PROBE_MAGIC)
    if fields is None:
        return None
    reply_port = fields.get("reply_port")
    nonce = fields.get("nonce")
    if not (is_port(reply_port) and reply_port >= MIN_REPLY_PORT and is_nonce(nonce)):
        return None
    return Probe(reply_port=reply_port, nonce=nonce)


def encode_answer(answer: Answer) -> bytes:
    """Serialize ``answer`` to its JSON payload, at most ``MAX_ANSWER_BYTES``.

    Its ``nodes`` are listed in order as far as they fit: the ones that would
    make the answer longer are left out (clients drop longer answers unread,
    and a small answer keeps a spoofed probe from amplifying much).
    """
    without_nodes = _dump(
        {
            "magic": ANSWER_MAGIC,
            "version": PROTOCOL_VERSION,
            "name": answer.name,
            "host": answer.host,
            "port": answer.port,
            "irc_port": answer.irc_port,
            "nonce": answer.nonce,
            "tls": answer.tls,
            "password": answer.password,
            "web_port": answer.web_port,
            "web_tls": answer.web_tls,
            "nodes": [],
        }
    )
    head = without_nodes.removesuffix(b"]}")
    size = len(without_nodes)
    listed: list[bytes] = []
    for node in answer.nodes:
        encoded = _dump(node.fields())
        # One comma between entries.
        grown = size + len(encoded) + (1 if listed else 0)
        if grown > MAX_ANSWER_BYTES:
            break
        listed.append(encoded)
        size = grown
    return head + b",".join(listed) + b"]}"


def decode_answer(data: bytes) -> Answer | None:
    """Read an answer payload, or return ``None`` if it is not a valid one.

    Besides the magic and version, the name must be 1 to
    ``MAX_SERVER_NAME_LENGTH`` printable characters (clients display it),
    ``host`` a unicast IPv4 address and the ports in range.
    """
    fields = _load(data, MAX_ANSWER_BYTES, ANSWER_MAGIC)
    if fields is None:
        return None
    name = fields.get("name")
    host = fields.get("host")
    port = fields.get("port")
    irc_port = fields.get("irc_port")
    nonce = fields.get("nonce")
    # Absent in answers from servers that predate TLS: they speak plain TCP.
    tls = fields.get("tls", False)
    # Absent in answers from servers that predate the server password: they ask none.
    password = fields.get("password", False)
    # Absent in answers from servers that predate clusters; only the valid entries are kept.
    nodes = decode_nodes(fields.get("nodes"))
    # Absent in answers from servers that predate the web door: they have none.
    web_port = fields.get("web_port")
    web_tls = fields.get("web_tls", False)
    if not (
        isinstance(tls, bool)
        and isinstance(password, bool)
        and (web_port is None or is_port(web_port))
        and isinstance(web_tls, bool)
        and is_server_name(name)
        and isinstance(host, str)
        and is_unicast_ipv4(host)
        and is_port(port)
        and (irc_port is None or is_port(irc_port))
        and is_nonce(nonce)
    ):
        return None
    return Answer(
        name=name, host=host, port=port, irc_port=irc_port, nonce=nonce, tls=tls, password=password, nodes=nodes,
        web_port=web_port, web_tls=web_tls,
    )  # fmt: skip


def is_nonce(value: object) -> bool:
    """Whether ``value`` is a well-formed nonce string."""
    return (
        isinstance(value, str)
        and len(value) == NONCE_HEX_DIGITS
        and all(c in "0123456789abcdef" for c in value)
    )


def is_server_name(value: object) -> bool:
    """Whether ``value`` may be advertised as a server name."""
    return isinstance(value, str) and 0 < len(value) <= MAX_SERVER_NAME_LENGTH and value.isprintable()


def _dump(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _reject_constant(name: str) -> None:
    raise ValueError(f"non-standard JSON constant {name}")


def _load(data: bytes, limit: int, magic: str) -> dict[str, Any] | None:
    """Decode one JSON object carrying ``magic`` and our version, or ``None``."""
    if not isinstance(data, bytes) or len(data) > limit:
        return None
    try:
        fields = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(fields, dict):
        return None
    version = fields.get("version")
    if fields.get("magic") != magic or type(version) is not int or version != PROTOCOL_VERSION:
        return None
    return fields
