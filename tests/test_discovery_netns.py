"""Discovery on a bridged LAN of three hosts, each a network namespace, with the real server.

The test makes its own LAN: a ``switch`` namespace holding a Linux bridge,
and ``server``, ``client`` and ``third`` namespaces, each joined to the
bridge by a veth pair; addresses in 10.213.7.0/24 (and 10.213.9.0/24, a
second subnet on the server) exist only inside them.  Names carry the test
process's pid, and every namespace is deleted even when the test fails.
``twistd -n glozichat`` runs in the server namespace; ``glozichat-discover``
(as ``python -m``) and the steps of ``tests.netns_helper`` run in the
others.  Nothing is sent in the host's own namespace.
"""

import json
import os
import re
import subprocess
import sys
import time

from twisted.internet import defer, reactor, utils
from twisted.trial.unittest import TestCase

from tests.discovery_process import DaemonProcess
from tests.realserver import REPO_ROOT, twistd_command

SERVER_ADDRESS = "10.213.7.1"
SERVER_SECONDARY = "10.213.9.1"
CLIENT_ADDRESS = "10.213.7.2"
THIRD_ADDRESS = "10.213.7.3"
NETWORK_ADDRESS = "10.213.7.0"
BROADCAST_ADDRESS = "10.213.7.255"
NO_SUCH_HOST = "198.18.2.77"
SERVER_MAC = "02:47:7a:07:00:01"
UNKNOWN_MAC = "02:47:7a:07:00:77"
BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
NATIVE_PORT = 7557
DISCOVERY_PORT = 7558
REPLY_PORT = 47000
IP_TIMEOUT = 10
START_TIMEOUT = 30
HELPER_TIMEOUT = 20


def ip(*args: str) -> str:
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=IP_TIMEOUT).stdout


class BridgedLAN:
    """Four namespaces named after ``tag``: a switch with a bridge, and three hosts plugged into it."""

    HOSTS = (("s", SERVER_ADDRESS), ("c", CLIENT_ADDRESS), ("t", THIRD_ADDRESS))

    def __init__(self, test: TestCase, tag: str) -> None:
        self.switch = f"{tag}w"
        self.namespaces = {role: f"{tag}{role}" for role, _ in self.HOSTS}
        self.devices = {role: f"{tag}{role}0" for role, _ in self.HOSTS}
        for namespace in (self.switch, *self.namespaces.values()):
            ip("netns", "add", namespace)
            test.addCleanup(ip, "netns", "del", namespace)
        bridge = f"{tag}br"
        ip("-n", self.switch, "link", "add", bridge, "type", "bridge")
        ip("-n", self.switch, "link", "set", bridge, "up")
        for role, address in self.HOSTS:
            port = f"{tag}p{role}"
            namespace, device = self.namespaces[role], self.devices[role]
            ip("link", "add", port, "netns", self.switch, "type", "veth", "peer", "name", device, "netns", namespace)
            ip("-n", self.switch, "link", "set", port, "master", bridge)
            ip("-n", self.switch, "link", "set", port, "up")
            ip("-n", namespace, "addr", "add", f"{address}/24", "dev", device)
            ip("-n", namespace, "link", "set", "lo", "up")
        ip("-n", self.namespaces["s"], "link", "set", self.devices["s"], "address", SERVER_MAC)
        ip("-n", self.namespaces["s"], "addr", "add", f"{SERVER_SECONDARY}/24", "dev", self.devices["s"])
        for role, _ in self.HOSTS:
            ip("-n", self.namespaces[role], "link", "set", self.devices[role], "up")

    def promiscuity(self, role: str) -> int:
        details = ip("-n", self.namespaces[role], "-d", "link", "show", "dev", self.devices[role])
        return int(re.search(r"promiscuity (\d+)", details).group(1))


def helper_env() -> dict:
    return dict(os.environ, PYTHONPATH=REPO_ROOT, PYTHONUNBUFFERED="1")


class NamespaceDiscoveryTests(TestCase):
    timeout = 120

    def setUp(self) -> None:
        self.lan = BridgedLAN(self, f"gz{os.getpid()}")

    @defer.inlineCallbacks
    def start_server(self, ready: bytes, *options: str) -> defer.Generator:
        """Run the real ``twistd -n glozichat`` in the server namespace until ``ready`` is logged."""
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        server = DaemonProcess()
        args = [
            "ip", "netns", "exec", self.lan.namespaces["s"], *twistd_command(), "-n", "--pidfile=", "glozichat",
            "--exit-code-file", os.path.join(workdir, "exit-code"), *options,
        ]  # fmt: skip
        reactor.spawnProcess(server, "/usr/bin/env", ["env", *args], env=helper_env(), path=workdir)
        self.addCleanup(server.terminate)
        yield server.wait_for(re.compile(ready), START_TIMEOUT)
        return server

    @defer.inlineCallbacks
    def start_helper(self, role: str, ready: bytes, *args: str) -> defer.Generator:
        """A long-running ``tests.netns_helper`` step in ``role``'s namespace, once it printed ``ready``."""
        helper = DaemonProcess()
        command = ["ip", "netns", "exec", self.lan.namespaces[role], sys.executable, "-m", "tests.netns_helper", *args]
        reactor.spawnProcess(helper, "/usr/bin/env", ["env", *command], env=helper_env(), path=REPO_ROOT)
        self.addCleanup(helper.terminate)
        yield helper.wait_for(re.compile(ready), HELPER_TIMEOUT)
        return helper

    @defer.inlineCallbacks
    def watched(self, watcher: DaemonProcess) -> defer.Generator:
        """End a ``watch`` step and return the packets it saw."""
        watcher.transport.closeStdin()
        yield watcher.ended.addTimeout(HELPER_TIMEOUT, reactor)
        return json.loads(watcher.output.decode().splitlines()[-1])

    def in_ns(self, role: str, *args: str) -> defer.Deferred:
        return utils.getProcessOutputAndValue(
            "/usr/bin/env",
            ["ip", "netns", "exec", self.lan.namespaces[role], sys.executable, *args],
            env=helper_env(),
            path=REPO_ROOT,
        )

    @defer.inlineCallbacks
    def helper(self, role: str, *args: str) -> defer.Generator:
        out, err, code = yield self.in_ns(role, "-m", "tests.netns_helper", *args)
        self.assertEqual(code, 0, err.decode(errors="replace"))
        return json.loads(out)

    @defer.inlineCallbacks
    def discover(self, method: str, expect_found: bool = True) -> defer.Generator:
        started = time.monotonic()
        out, err, code = yield self.in_ns("c", "-m", "glozi.discovery.cli", "--method", method, "--json", "--timeout", "2")
        elapsed = time.monotonic() - started
        self.assertEqual(code, 0 if expect_found else 1, f"{method} discovery: {err.decode(errors='replace')}")
        servers = [json.loads(line) for line in out.decode().splitlines()]
        return servers, elapsed

    @defer.inlineCallbacks
    def join_from_client(self) -> defer.Generator:
        joined = yield self.helper("c", "join", SERVER_ADDRESS, str(NATIVE_PORT))
        self.assertEqual((joined["type"], joined["you"], joined["session"]["id"]), ("joined", "alice", 1))

    @defer.inlineCallbacks
    def test_both_paths_find_server_and_client_joins(self) -> None:
        """ICMP-sniffed and UDP-broadcast probes each find the real server; the client then joins session 1."""
        yield self.start_server(rb"Discovery sniffer capturing ICMP probes on (.+)", "--name", "nsserver")

        found = {}
        for method in ("icmp", "udp"):
            servers, elapsed = yield self.discover(method)
            self.assertEqual(
                [(s["name"], s["host"], s["port"], s["via"]) for s in servers],
                [("nsserver", SERVER_ADDRESS, NATIVE_PORT, [method])],
            )
            found[method] = (servers[0]["seconds"], elapsed)
        servers, _ = yield self.discover("both")
        self.assertEqual([(s["host"], s["via"]) for s in servers], [(SERVER_ADDRESS, ["icmp", "udp"])])
        yield self.join_from_client()

        for method, (answer, total) in found.items():
            print(
                f"\n  namespace discovery via {method}: first answer after {answer * 1000:.0f} ms, glozichat-discover ran {total:.2f} s (2 s window)"
            )

    @defer.inlineCallbacks
    def test_payload_cannot_redirect_answer(self) -> None:
        """A probe naming the third host gets its answer at its source, and the third host receives nothing."""
        yield self.start_server(rb"Discovery responder listening on UDP \*:(\d+)", "--no-sniff")
        third = yield self.start_helper("t", rb"watching", "watch")
        result = yield self.helper("c", "redirect", SERVER_ADDRESS, str(DISCOVERY_PORT), THIRD_ADDRESS)
        self.assertEqual(result, {"answered_source": True})
        seen = yield self.watched(third)
        self.assertEqual([p for p in seen if p["src"] in (SERVER_ADDRESS, SERVER_SECONDARY)], [])

    @defer.inlineCallbacks
    def test_only_real_probes_for_this_host_are_answered(self) -> None:
        """Forged sources, other hosts' probes, unknown MACs and bad checksums get nothing; the controls are answered."""
        yield self.start_server(rb"Discovery sniffer capturing ICMP probes on (.+)", "--name", "nsserver")
        self.assertEqual(self.lan.promiscuity("s"), 0)
        server_side = yield self.start_helper("s", rb"watching", "watch")
        third = yield self.start_helper("t", rb"watching", "watch")

        def case(name: str, src: str, dst: str = SERVER_ADDRESS, path: str = "icmp", **more: object) -> dict:
            fields = {"name": name, "path": path, "src": src, "dst": dst, "dst_mac": SERVER_MAC}
            return {**fields, "reply_port": REPLY_PORT, "dport": DISCOVERY_PORT, **more}

        refused = [
            case("icmp from 127.0.0.1", "127.0.0.1"),
            case("icmp from the server", SERVER_ADDRESS),
            case("icmp from the server's second address", SERVER_SECONDARY),
            case("icmp from the network address", NETWORK_ADDRESS),
            case("icmp from the broadcast address", BROADCAST_ADDRESS),
            case("icmp to no such host", CLIENT_ADDRESS, dst=NO_SUCH_HOST),
            case("icmp to the third host", CLIENT_ADDRESS, dst=THIRD_ADDRESS),
            case("icmp to no such host, unknown MAC", CLIENT_ADDRESS, dst=NO_SUCH_HOST, dst_mac=UNKNOWN_MAC),
            case("icmp to the server, unknown MAC", CLIENT_ADDRESS, dst_mac=UNKNOWN_MAC),
            case("icmp with a wrong checksum", CLIENT_ADDRESS, bad_checksum=True),
            case("udp from 127.0.0.1", "127.0.0.1", path="udp"),
            case("udp from the server", SERVER_ADDRESS, path="udp"),
            case("udp from the network address", NETWORK_ADDRESS, path="udp"),
            case("udp from the broadcast address", BROADCAST_ADDRESS, path="udp"),
        ]
        controls = [
            case("control: icmp to the server", CLIENT_ADDRESS),
            case("control: icmp to the broadcast address", CLIENT_ADDRESS, dst=BROADCAST_ADDRESS, dst_mac=BROADCAST_MAC),
            case("control: udp to the server", CLIENT_ADDRESS, path="udp"),
        ]
        answered = yield self.helper("c", "forge", self.lan.devices["c"], json.dumps(refused + controls))
        self.assertEqual(answered, sorted(c["name"] for c in controls))
        self.assertEqual(self.lan.promiscuity("s"), 0)

        sent = yield self.watched(server_side)
        answers = [(p["dst"], p["dport"]) for p in sent if p["outgoing"] and p["sport"] == DISCOVERY_PORT]
        self.assertEqual(answers, [(CLIENT_ADDRESS, REPLY_PORT)] * len(controls))
        to_third = yield self.watched(third)
        from_server = [p for p in to_third if p["src"] in (SERVER_ADDRESS, SERVER_SECONDARY)]
        # The server's kernel itself echoes the ping forged from the broadcast address (to
        # it, so the third host hears it); a discovery answer would be UDP.
        self.assertEqual([p for p in from_server if p["protocol"] != "icmp" or p["icmp_type"] != 0], [], to_third)

    @defer.inlineCallbacks
    def test_taken_discovery_port_leaves_chat_and_icmp_running(self) -> None:
        """With UDP 7558 held by another program the server logs one error, serves chat and answers ICMP probes."""
        holder = yield self.start_helper("s", rb"holding", "hold-udp", str(DISCOVERY_PORT))
        self.addCleanup(holder.transport.closeStdin)
        server = yield self.start_server(rb"Discovery sniffer capturing ICMP probes on (.+)", "--name", "nsserver")
        yield self.join_from_client()
        servers, _ = yield self.discover("icmp")
        self.assertEqual([(s["host"], s["via"]) for s in servers], [(SERVER_ADDRESS, ["icmp"])])
        yield self.discover("udp", expect_found=False)
        self.assertFalse(server.exited)
        problems = [line for line in server.output.splitlines() if re.search(rb"#(warn|error|critical)\]|Traceback", line)]
        self.assertEqual(len(problems), 1, server.output.decode(errors="replace"))
        self.assertRegex(
            problems[0],
            rb"Discovery UDP port \*:7558 cannot be bound \(\[Errno 98\] Address already in use\): "
            rb"UDP discovery probes go unanswered; ICMP probes are answered from UDP port \d+$",
        )
