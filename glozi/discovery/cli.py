"""``glozichat-discover``: list the GloziChat servers on the local network.

Prints one server a line and exits 0, or says that none was found on
standard error and exits 1 (2 for a usage error).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, ClassVar

from twisted.internet.defer import Deferred
from twisted.internet.task import react
from twisted.python import usage
from twisted.python.failure import Failure

from glozi.discovery.client import (
    DEFAULT_ATTEMPTS,
    DEFAULT_TIMEOUT,
    METHODS,
    FoundServer,
    NoServerFound,
    discover,
)
from glozi.discovery.nodes import browser_url
from glozi.discovery.probe import DEFAULT_DISCOVERY_PORT

EXIT_FOUND = 0
EXIT_NONE_FOUND = 1
EXIT_USAGE = 2


class DiscoverOptions(usage.Options):
    """Options of ``glozichat-discover``."""

    synopsis = "Usage: glozichat-discover [options]"
    optFlags: ClassVar[list[list[str | None]]] = [
        ["json", None, "Print each server as one JSON object."],
        [
            "first",
            None,
            "Stop at the first answer instead of waiting the whole window.",
        ],
    ]
    optParameters: ClassVar[list[list[Any]]] = [
        ["timeout", "t", DEFAULT_TIMEOUT, "Seconds to collect answers.", float],
        [
            "attempts",
            None,
            DEFAULT_ATTEMPTS,
            "Probes sent per path, with backoff.",
            int,
        ],
        ["port", "p", DEFAULT_DISCOVERY_PORT, "Servers' UDP discovery port.", int],
        ["method", "m", "both", "Probe with icmp, udp or both."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["target"] = []

    def opt_target(self, address: str) -> None:
        """Probe this address instead of broadcasting (repeatable)."""
        self["target"].append(address)

    opt_a = opt_target

    def postOptions(self) -> None:
        if self["timeout"] <= 0:
            raise usage.UsageError("--timeout must be positive")
        if not 1 <= self["attempts"] <= 10:
            raise usage.UsageError("--attempts must be 1..10")
        if not 1 <= self["port"] <= 65535:
            raise usage.UsageError("--port must be 1..65535")
        if self["method"] not in ("both", *METHODS):
            raise usage.UsageError("--method must be icmp, udp or both")


def format_server(server: FoundServer, as_json: bool = False) -> str:
    """One output line for ``server``."""
    if as_json:
        return json.dumps(
            {
                "name": server.name,
                "host": server.host,
                "port": server.port,
                "irc_port": server.irc_port,
                "via": list(server.via),
                "seconds": round(server.seconds, 4),
                "tls": server.tls,
                "password": server.password,
                "nodes": [node.fields() for node in server.nodes],
                "web_port": server.web_port,
                "web_tls": server.web_tls,
            }
        )
    irc = f" irc={server.irc_port}" if server.irc_port is not None else ""
    if server.web_port is not None:
        irc += f" web={browser_url(server.host, server.web_port, server.web_tls)}"
    tls = " tls" if server.tls else ""
    password = " password" if server.password else ""
    nodes = f" nodes={','.join(f'{node.host}:{node.port}' for node in server.nodes)}" if server.nodes else ""
    return (
        f"{server.host}:{server.port}{tls}{password} name={json.dumps(server.name)}{irc} "
        f"via={','.join(server.via)} time={server.seconds * 1000:.0f}ms{nodes}"
    )


def run(reactor: Any, options: DiscoverOptions) -> Deferred[int]:
    """Discover with ``options``; fires with the exit code after printing."""
    methods = METHODS if options["method"] == "both" else (options["method"],)
    finding = discover(
        reactor,
        timeout=options["timeout"],
        attempts=options["attempts"],
        discovery_port=options["port"],
        targets=options["target"] or None,
        methods=methods,
        stop_at_first=options["first"],
    )

    def found(servers: list[FoundServer]) -> int:
        for server in servers:
            print(format_server(server, options["json"]))
        return EXIT_FOUND

    def none_found(reason: Failure) -> int:
        reason.trap(NoServerFound)
        print(f"glozichat-discover: {reason.value}", file=sys.stderr)
        return EXIT_NONE_FOUND

    return finding.addCallbacks(found, none_found)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``glozichat-discover`` console script; exits."""
    options = DiscoverOptions()
    try:
        options.parseOptions(sys.argv[1:] if argv is None else list(argv))
    except usage.UsageError as error:
        print(f"glozichat-discover: {error}\n{options}", file=sys.stderr)
        sys.exit(EXIT_USAGE)

    react(lambda reactor: run(reactor, options).addCallback(_exit_unless_found))


def _exit_unless_found(code: int) -> None:
    if code != EXIT_FOUND:
        # react() turns a SystemExit failure into the process's exit code.
        raise SystemExit(code)


if __name__ == "__main__":
    main()
