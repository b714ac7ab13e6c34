"""Command-line options for the server's discovery, as a ``usage.Options`` mixin."""

from __future__ import annotations

from typing import ClassVar

from twisted.python import usage

from glozi.discovery.probe import DEFAULT_DISCOVERY_PORT


class DiscoveryOptions(usage.Options):
    """``--discovery-port``, ``--no-sniff`` and ``--sniff-interface``.

    Mix in first: ``class Options(DiscoveryOptions, usage.Options)``.  After
    parsing, ``self["discovery-port"]`` is an int (``0``: any free port),
    ``self["no-sniff"]`` a bool and ``self["sniff-interface"]`` a list of
    interface names, empty meaning every up interface.  ``postOptions``
    validates and then calls the next class's ``postOptions``.
    """

    optFlags: ClassVar[list[list[str | None]]] = [
        [
            "no-sniff",
            None,
            "Do not sniff ICMP discovery probes; answer UDP probes only.",
        ],
    ]
    optParameters: ClassVar[list[list[object]]] = [
        [
            "discovery-port",
            None,
            DEFAULT_DISCOVERY_PORT,
            "UDP port answering broadcast discovery probes (0: any free port).",
            int,
        ],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["sniff-interface"] = []

    def opt_sniff_interface(self, names: str) -> None:
        """Sniff for ICMP probes on this interface (repeatable, or a comma list).

        Default: every interface that is up with an IPv4 address.
        """
        for name in names.split(","):
            name = name.strip()
            if not name:
                raise usage.UsageError("--sniff-interface needs an interface name")
            if name not in self["sniff-interface"]:
                self["sniff-interface"].append(name)

    def postOptions(self) -> None:
        port = self["discovery-port"]
        if not 0 <= port <= 65535:
            raise usage.UsageError(f"--discovery-port must be 0..65535, not {port}")
        if self["no-sniff"] and self["sniff-interface"]:
            raise usage.UsageError("--sniff-interface makes no sense with --no-sniff")
        super().postOptions()
