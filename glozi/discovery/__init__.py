"""Zero-configuration discovery of GloziChat servers on the local network.

A client sends a probe (an ICMP echo request carrying a JSON payload, and the
same JSON in a UDP broadcast); every server that sees it answers over UDP with
its name and the endpoint to connect to.  See ``docs/discovery.md``.

Importing this package is cheap: scapy is only imported by the server's
sniffer, and only when it runs; the client sends its ICMP probes without it.
"""
