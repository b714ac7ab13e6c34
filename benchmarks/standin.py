"""A stand-in for cluster nodes while ``twistd glozichat`` has no cluster options yet.

``--stand-in`` (benchmarks/compare, soak.py) starts one real server as node 1
and, as every other node, this relay: a process that accepts connections on
loopback ports of its own (native and IRC) and pipes each one to node 1. So
every harness path runs (clients spread over the nodes, figures summed over
their processes, a node killed and restarted), but the figures are not a
cluster's: every message is handled by one server, and the relays add their
own CPU and latency. Delete this module and the switch once the cluster
options are in.

The relay passes on what the server would see of a client: its source
address (the relay's connection to the server is bound to it, so per-address
limits still tell clients apart) and a LAN-sized segment (a connection that
came with one gets small buffers towards the server too, so a client that
stops reading still fills the server's send queue, not the relay's).

The relay speaks what the harness reads of a node's log: the lines naming its
ports and an exit code, ``memory: live_objects=N frozen=0 rss_kib=M`` on
SIGUSR2, and ``Server Shut Down.`` after SIGTERM.

    python -m benchmarks.standin --to-native PORT --to-irc PORT [--port P] [--irc-port P]
"""

import argparse
import asyncio
import gc
import signal
import socket
import sys
from pathlib import Path

from benchmarks.servers import RunningServer, launch_logged
from glozi.process.memory import resident_kib

HOST = "127.0.0.1"
# Above this much unsent data one side stops reading the other.
HIGH_WATER = 64 * 1024
# A client's segment size below this is a LAN-like connection (soak.py's never-readers):
# its relayed connection gets the same small receive buffer and segment size.
LAN_MSS = 2000
LAN_RCVBUF = 4096


class Pipe(asyncio.Protocol):
    """One side of a relayed connection; ``peer`` is the other side's transport."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: Pipe | None = None
        self.pending = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.set_write_buffer_limits(high=HIGH_WATER)

    def data_received(self, data: bytes) -> None:
        if self.peer is None or self.peer.transport is None:
            self.pending += data
        else:
            self.peer.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            # A reset is passed on as one: closing would wait to hand over what the
            # other side buffered, forever for a client that stopped reading.
            if exc is None:
                self.peer.transport.close()
            else:
                self.peer.transport.abort()

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


class Inbound(Pipe):
    """A client's connection: opens its own connection to the server."""

    def __init__(self, target: int) -> None:
        super().__init__()
        self.target = target

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        asyncio.ensure_future(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        assert self.transport is not None
        client = self.transport.get_extra_info("socket")
        upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        upstream.setblocking(False)
        try:
            segment = client.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
            if segment < LAN_MSS:
                # And the relay itself holds back next to nothing for it.
                client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, LAN_RCVBUF)
                self.transport.set_write_buffer_limits(high=LAN_RCVBUF)
                upstream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, LAN_RCVBUF)
                upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, segment)
            upstream.bind((client.getpeername()[0], 0))
            await loop.sock_connect(upstream, (HOST, self.target))
            _, outbound = await loop.create_connection(Pipe, sock=upstream)
        except OSError:
            upstream.close()
            self.transport.close()
            return
        outbound.peer, self.peer = self, outbound
        if self.transport.is_closing():
            outbound.transport.close()
        elif self.pending:
            outbound.transport.write(bytes(self.pending))
            self.pending.clear()


async def relay(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    native = await loop.create_server(lambda: Inbound(args.to_native), HOST, args.port, backlog=1024)
    irc = await loop.create_server(lambda: Inbound(args.to_irc), HOST, args.irc_port, backlog=1024)
    print(f"stand-in GloziChat native protocol listening on {HOST}:{native.sockets[0].getsockname()[1]}")
    print(f"stand-in GloziChat IRC listening on {HOST}:{irc.sockets[0].getsockname()[1]}")
    print("exit code: 0000000000", flush=True)

    def report() -> None:
        gc.collect()
        print(f"memory: live_objects={len(gc.get_objects())} frozen=0 rss_kib={resident_kib()}", flush=True)

    loop.add_signal_handler(signal.SIGUSR2, report)
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    await stopped.wait()
    native.close()
    irc.close()
    print("Server Shut Down.", flush=True)


def start_relay(workdir: Path, to: dict[str, int], ports: dict[str, int] | None = None) -> RunningServer:
    """Start a relay to the server listening on ``to`` (by door), on ``ports`` or free ones."""
    ports = ports or {}
    argv = [
        sys.executable, "-m", "benchmarks.standin",
        "--to-native", str(to["native"]), "--to-irc", str(to["irc"]),
        "--port", str(ports.get("native", 0)), "--irc-port", str(ports.get("irc", 0)),
    ]  # fmt: skip
    return launch_logged("stand-in relay", argv, workdir, doors=("native", "irc"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--to-native", type=int, required=True)
    parser.add_argument("--to-irc", type=int, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--irc-port", type=int, default=0)
    asyncio.run(relay(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
