"""Discovery across two network namespaces joined by a veth pair, with the real server.

The test makes its own hosts: namespaces ``gz<pid>s`` (server) and
``gz<pid>c`` (client), addresses in 10.213.7.0/24 that exist only inside
them, and deletes both even when it fails.  ``twistd -n glozichat`` runs in
the server namespace; ``glozichat-discover`` (as ``python -m``) and a TCP
client run in the client namespace.  Nothing is sent in the host's own
namespace.  Skipped, with the reason, where namespaces cannot be made.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time

from twisted.internet import defer, reactor, utils
from twisted.trial.unittest import SkipTest, TestCase

from tests.discovery_process import DaemonProcess
from tests.realserver import REPO_ROOT, twistd_command

SERVER_ADDRESS = "10.213.7.1"
CLIENT_ADDRESS = "10.213.7.2"
THIRD_ADDRESS = "10.213.7.3"
NATIVE_PORT = 7557
DISCOVERY_PORT = 7558
IP_TIMEOUT = 10


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=IP_TIMEOUT)


class NamespaceDiscoveryTests(TestCase):
    timeout = 120

    def setUp(self) -> None:
        if shutil.which("ip") is None:
            raise SkipTest("needs iproute2's ip command (apt-get install iproute2)")
        if os.geteuid() != 0:
            raise SkipTest("creating network namespaces needs root")
        tag = f"gz{os.getpid() % 100000}"
        self.server_ns, self.client_ns = f"{tag}s", f"{tag}c"
        try:
            ip("netns", "add", self.server_ns)
        except (subprocess.CalledProcessError, OSError) as error:
            raise SkipTest(f"cannot create a network namespace here: {error}") from error
        self.addCleanup(ip, "netns", "del", self.server_ns)
        ip("netns", "add", self.client_ns)
        self.addCleanup(ip, "netns", "del", self.client_ns)
        ip(
            "link",
            "add",
            f"{tag}a",
            "netns",
            self.server_ns,
            "type",
            "veth",
            "peer",
            "name",
            f"{tag}b",
            "netns",
            self.client_ns,
        )
        ip("-n", self.server_ns, "addr", "add", f"{SERVER_ADDRESS}/24", "dev", f"{tag}a")
        ip("-n", self.client_ns, "addr", "add", f"{CLIENT_ADDRESS}/24", "dev", f"{tag}b")
        # The "third party" lives on the client's side, where a packet to it would be seen.
        ip("-n", self.client_ns, "addr", "add", f"{THIRD_ADDRESS}/24", "dev", f"{tag}b")
        for namespace, device in ((self.server_ns, f"{tag}a"), (self.client_ns, f"{tag}b")):
            ip("-n", namespace, "link", "set", "lo", "up")
            ip("-n", namespace, "link", "set", device, "up")

    @defer.inlineCallbacks
    def start_server(self, ready: bytes, *options: str) -> defer.Generator:
        """Run the real ``twistd -n glozichat`` in the server namespace until ``ready`` is logged."""
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        server = DaemonProcess()
        args = [
            "ip", "netns", "exec", self.server_ns, *twistd_command(), "-n", "--pidfile=", "glozichat",
            "--exit-code-file", os.path.join(workdir, "exit-code"), *options,
        ]  # fmt: skip
        env = dict(os.environ, PYTHONPATH=REPO_ROOT, PYTHONUNBUFFERED="1")
        reactor.spawnProcess(server, "/usr/bin/env", ["env", *args], env=env, path=workdir)
        self.addCleanup(server.terminate)
        yield server.wait_for(re.compile(ready), 30)

    def in_client_ns(self, *args: str) -> defer.Deferred:
        env = dict(os.environ, PYTHONPATH=REPO_ROOT, PYTHONUNBUFFERED="1")
        return utils.getProcessOutputAndValue(
            "/usr/bin/env",
            ["ip", "netns", "exec", self.client_ns, sys.executable, *args],
            env=env,
            path=REPO_ROOT,
        )

    @defer.inlineCallbacks
    def discover(self, method: str) -> defer.Generator:
        started = time.monotonic()
        out, err, code = yield self.in_client_ns(
            "-m", "glozi.discovery.cli", "--method", method, "--json", "--timeout", "2"
        )
        elapsed = time.monotonic() - started
        self.assertEqual(code, 0, f"{method} discovery failed: {err.decode(errors='replace')}")
        servers = [json.loads(line) for line in out.decode().splitlines()]
        return servers, elapsed

    @defer.inlineCallbacks
    def test_both_paths_find_server_and_client_joins(self) -> None:
        """ICMP-sniffed and UDP-broadcast probes each find the real server; the client then joins session 1."""
        yield self.start_server(
            rb"Discovery sniffer capturing ICMP probes on (.+)", "--name", "nsserver"
        )

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

        out, err, code = yield self.in_client_ns(
            "-m", "tests.netns_helper", "join", SERVER_ADDRESS, str(NATIVE_PORT)
        )
        self.assertEqual(code, 0, err.decode(errors="replace"))
        joined = json.loads(out)
        self.assertEqual((joined["type"], joined["you"], joined["session"]["id"]), ("joined", "alice", 1))

        for method, (answer, total) in found.items():
            print(
                f"\n  namespace discovery via {method}: first answer after {answer * 1000:.0f} ms, glozichat-discover ran {total:.2f} s (2 s window)"
            )

    @defer.inlineCallbacks
    def test_payload_cannot_redirect_answer(self) -> None:
        """A probe naming a third address gets its answer at its source, and no packet goes to the third address."""
        yield self.start_server(rb"Discovery responder listening on UDP \*:(\d+)", "--no-sniff")
        out, err, code = yield self.in_client_ns(
            "-m", "tests.netns_helper", "third-party", SERVER_ADDRESS, str(DISCOVERY_PORT), THIRD_ADDRESS
        )
        self.assertEqual(code, 0, err.decode(errors="replace"))
        self.assertEqual(json.loads(out), {"answered_source": True, "packets_to_third": 0})
