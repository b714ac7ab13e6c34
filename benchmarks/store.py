"""Messages per second through the whole server, with the SQLite store on a file and with ``--db :memory:``.

Starts the real ``twistd -n glozichat`` twice on loopback (a database file in a
temporary directory, then ``:memory:``). Each time, SENDERS native clients and
LISTENERS more join one session; every sender keeps WINDOW messages in flight
(a new one for each ack) until MESSAGES were acknowledged in all. Printed for
each run: acknowledged messages a second (an ack means committed to the
database) and the time until every listener had every message.

    PYTHONPATH=. python benchmarks/store.py [--messages 20000] [--senders 4] [--listeners 4] [--window 50]
"""

import argparse
import json
import os
import re
import sys
import tempfile
import time
from typing import Any

from twisted.internet import defer, protocol, task
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.protocols.basic import LineReceiver

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
LISTENING = re.compile(rb"native protocol listening on 127\.0\.0\.1:(\d+)")
START_TIMEOUT = 30.0
RUN_TIMEOUT = 300.0


class Server(protocol.ProcessProtocol):
    def __init__(self) -> None:
        self.output = b""
        self.port: defer.Deferred[int] = defer.Deferred()
        self.ended: defer.Deferred[None] = defer.Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data
        match = LISTENING.search(self.output)
        if match and not self.port.called:
            self.port.callback(int(match.group(1)))

    errReceived = outReceived

    def processEnded(self, reason: Any) -> None:
        if not self.port.called:
            self.port.errback(RuntimeError(self.output.decode(errors="replace")))
        self.ended.callback(None)


class Client(LineReceiver):
    delimiter = b"\n"
    MAX_LENGTH = 1024 * 1024

    def __init__(self, run: "Run", listening: bool) -> None:
        self.run = run
        self.listening = listening
        self.joined: defer.Deferred[dict] = defer.Deferred()
        self.received = 0

    def lineReceived(self, line: bytes) -> None:
        frame = json.loads(line)
        kind = frame["type"]
        if kind == "ack":
            self.run.acked(self)
        elif kind == "message" and self.listening:
            self.received += 1
            self.run.delivered()
        elif kind == "joined" and not self.joined.called:
            self.joined.callback(frame)
        elif kind == "error":
            raise RuntimeError(f"the server refused: {frame}")

    def say(self, n: int) -> None:
        self.sendLine(json.dumps({"type": "say", "text": f"benchmark message {n}", "id": n}).encode())


class Run:
    def __init__(self, total: int, window: int, listeners: int) -> None:
        self.total = total
        self.window = window
        self.sent = 0
        self.acks = 0
        self.expected_deliveries = total * listeners
        self.deliveries = 0
        self.all_acked: defer.Deferred[float] = defer.Deferred()
        self.all_delivered: defer.Deferred[float] = defer.Deferred()

    def send(self, client: Client) -> None:
        if self.sent < self.total:
            client.say(self.sent)
            self.sent += 1

    def acked(self, client: Client) -> None:
        self.acks += 1
        self.send(client)
        if self.acks == self.total:
            self.all_acked.callback(time.perf_counter())

    def delivered(self) -> None:
        self.deliveries += 1
        if self.deliveries == self.expected_deliveries:
            self.all_delivered.callback(time.perf_counter())


@defer.inlineCallbacks
def measure(reactor: Any, db: str, options: argparse.Namespace, workdir: str) -> Any:
    server = Server()
    args = [
        sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
        "-n", "--pidfile=", "glozichat",
        "--port", "tcp:0:interface=127.0.0.1", "--irc-port", "none", "--web-port", "none",
        "--no-sniff", "--discovery-port", "0",
        "--exit-code-file", os.path.join(workdir, "exitcode"),
        "--db", db,
        "--flood-burst", "1000000", "--flood-rate", "1000000",
        "--max-per-source", "1000",
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    reactor.spawnProcess(server, sys.executable, args, env=env, path=workdir)
    killer = reactor.callLater(START_TIMEOUT + RUN_TIMEOUT, server.transport.signalProcess, "KILL")
    try:
        port = yield server.port.addTimeout(START_TIMEOUT, reactor)
        run = Run(options.messages, options.window, options.listeners)
        clients = []
        for index in range(options.senders + options.listeners):
            client = Client(run, listening=index >= options.senders)
            yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
            client.sendLine(json.dumps({"type": "join", "session": 1, "username": f"user{index}"}).encode())
            yield client.joined.addTimeout(10, reactor)
            clients.append(client)
        senders = clients[: options.senders]
        started = time.perf_counter()
        for client in senders:
            for _ in range(options.window):
                run.send(client)
        acked_at = yield run.all_acked.addTimeout(RUN_TIMEOUT, reactor)
        delivered_at = yield run.all_delivered.addTimeout(RUN_TIMEOUT, reactor)
        for client in clients:
            client.transport.loseConnection()
        return options.messages / (acked_at - started), delivered_at - started
    finally:
        if server.transport.pid is not None:
            server.transport.signalProcess("TERM")
        yield server.ended
        if killer.active():
            killer.cancel()


@defer.inlineCallbacks
def main(reactor: Any) -> Any:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--listeners", type=int, default=4)
    parser.add_argument("--window", type=int, default=50)
    options = parser.parse_args()
    print(
        f"{options.messages} messages, {options.senders} senders with {options.window} in flight each, "
        f"{options.listeners} listeners, one session"
    )
    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        for label, db in (("SQLite file", os.path.join(workdir, "bench.db")), (":memory:", ":memory:")):
            rate, delivered = yield measure(reactor, db, options, workdir)
            results[label] = rate
            print(f"  --db {label:<12} {rate:9.0f} acknowledged messages/s; all delivered after {delivered:.2f} s")
    print(f"  the file costs {100 * (1 - results['SQLite file'] / results[':memory:']):.0f}% of the :memory: rate")


if __name__ == "__main__":
    task.react(main)
