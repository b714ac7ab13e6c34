"""Discovery over real sockets on 127.0.0.1 only: the UDP path, the CLI, and an unprivileged server."""

import json
import os
import re
import shutil
import sys

from twisted.internet import defer, reactor, utils
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from glozi.discovery.cli import DiscoverOptions, format_server
from glozi.discovery.client import FoundServer, discover
from glozi.discovery.options import DiscoveryOptions
from glozi.discovery.service import advertised_name, make_discovery_service
from tests.discovery_process import DaemonProcess
from tests.realserver import REPO_ROOT, twistd_command


def start_responder(test: TestCase, **kwargs):
    service = make_discovery_service(
        reactor,
        server_name="loop",
        native_port=lambda: 7557,
        irc_port=lambda: 6667,
        discovery_port=0,
        sniff=False,
        sniff_interfaces=None,
        udp_interface="127.0.0.1",
        **kwargs,
    )
    service.startService()
    test.addCleanup(service.stopService)
    return service


class LoopbackUDPTests(TestCase):
    timeout = 30

    @defer.inlineCallbacks
    def test_udp_probe_finds_server(self) -> None:
        """A real UDP probe to 127.0.0.1 finds the responder, once, with its endpoint."""
        service = start_responder(self)
        servers = yield discover(
            reactor, targets=["127.0.0.1"], discovery_port=service.udp_port(), methods=("udp",), timeout=0.5
        )
        self.assertEqual(
            [(s.name, s.host, s.port, s.irc_port, s.via) for s in servers],
            [("loop", "127.0.0.1", 7557, 6667, ("udp",))],
        )

    @defer.inlineCallbacks
    def test_cli_lists_server_and_fails_without(self) -> None:
        """glozichat-discover prints the server and exits 0; with nobody listening it says so and exits 1."""
        service = start_responder(self)
        env = dict(os.environ, PYTHONPATH=REPO_ROOT)
        base = ["-m", "glozi.discovery.cli", "--target", "127.0.0.1", "--method", "udp", "--timeout", "0.5"]
        out, err, code = yield utils.getProcessOutputAndValue(
            sys.executable, [*base, "--port", str(service.udp_port()), "--json"], env=env
        )
        self.assertEqual(code, 0, err)
        [line] = out.decode().splitlines()
        self.assertEqual(json.loads(line)["host"], "127.0.0.1")
        port = service.udp_port()
        yield service.stopService()
        out, err, code = yield utils.getProcessOutputAndValue(
            sys.executable, [*base, "--port", str(port)], env=env
        )
        self.assertEqual((out, code), (b"", 1))
        self.assertIn(b"no GloziChat server answered within 0.5 s (probed 127.0.0.1)", err)


class UnprivilegedServerTests(TestCase):
    timeout = 60

    @defer.inlineCallbacks
    def test_answers_udp_with_one_warning(self) -> None:
        """The real server without CAP_NET_RAW warns once about the sniffer and still answers UDP probes."""
        command = twistd_command()
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                raise SkipTest("needs util-linux's setpriv to drop CAP_NET_RAW")
            # A root process whose capability sets lack CAP_NET_RAW: it cannot capture.
            command = [setpriv, "--inh-caps=-net_raw", "--bounding-set=-net_raw", *command]
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        server = DaemonProcess()
        args = [*command, "-n", "--pidfile=", "glozichat", "--port", "tcp:0:interface=127.0.0.1", "--irc-port", "none"]
        args += ["--web-port", "none"]
        args += ["--discovery-port", "0", "--exit-code-file", os.path.join(workdir, "exit-code")]
        env = dict(os.environ, PYTHONPATH=REPO_ROOT, PYTHONUNBUFFERED="1")
        reactor.spawnProcess(server, args[0], args, env=env, path=workdir)
        self.addCleanup(server.terminate)
        listening = yield server.wait_for(re.compile(rb"Discovery responder listening on UDP \*:(\d+)"), 30)
        native = yield server.wait_for(re.compile(rb"native protocol listening on 127\.0\.0\.1:(\d+)"), 30)
        yield server.wait_for(re.compile(rb"Discovery sniffer disabled"), 30)
        servers = yield discover(
            reactor,
            targets=["127.0.0.1"],
            discovery_port=int(listening.group(1)),
            methods=("udp",),
            timeout=0.5,
        )
        self.assertEqual([(s.host, s.port) for s in servers], [("127.0.0.1", int(native.group(1)))])
        levels = re.compile(rb"#(warn|error|critical)\]|Traceback")
        warnings = [line for line in server.output.splitlines() if levels.search(line)]
        self.assertEqual(len(warnings), 1, server.output.decode(errors="replace"))
        self.assertIn(b"needs root or CAP_NET_RAW", warnings[0])


class OptionTests(SynchronousTestCase):
    def parse(self, *args: str) -> DiscoveryOptions:
        options = DiscoveryOptions()
        options.parseOptions(list(args))
        return options

    def test_defaults(self) -> None:
        """By default: UDP port 7558, sniffing on every interface."""
        options = self.parse()
        self.assertEqual(
            (options["discovery-port"], options["no-sniff"], options["sniff-interface"]), (7558, 0, [])
        )

    def test_interfaces_repeat_and_comma(self) -> None:
        """--sniff-interface may repeat and take comma lists; duplicates collapse."""
        options = self.parse(
            "--sniff-interface", "eth0,wlan0", "--sniff-interface=eth0", "--sniff-interface", "lo"
        )
        self.assertEqual(options["sniff-interface"], ["eth0", "wlan0", "lo"])

    def test_bad_values(self) -> None:
        """Out-of-range ports, empty names and interfaces with --no-sniff are usage errors."""
        from twisted.python.usage import UsageError

        for args in (
            ["--discovery-port", "70000"],
            ["--discovery-port", "-1"],
            ["--sniff-interface", ","],
            ["--no-sniff", "--sniff-interface", "eth0"],
        ):
            self.assertRaises(UsageError, self.parse, *args)

    def test_cli_options(self) -> None:
        """glozichat-discover parses targets and refuses a bad method or timeout."""
        from twisted.python.usage import UsageError

        options = DiscoverOptions()
        options.parseOptions(["--target", "127.0.0.1", "-a", "127.0.0.2", "-m", "udp", "-t", "1.5"])
        self.assertEqual(
            (options["target"], options["method"], options["timeout"]),
            (["127.0.0.1", "127.0.0.2"], "udp", 1.5),
        )
        for args in (["-m", "smoke"], ["-t", "0"], ["--attempts", "0"]):
            self.assertRaises(UsageError, DiscoverOptions().parseOptions, args)

    def test_output_line(self) -> None:
        """A found server prints as host:port, quoted name, IRC port, paths and time."""
        server = FoundServer(
            name="lab pc", host="10.0.0.5", port=7557, irc_port=6667, via=("icmp", "udp"), seconds=0.0123
        )
        self.assertEqual(format_server(server), '10.0.0.5:7557 name="lab pc" irc=6667 via=icmp,udp time=12ms')

    def test_advertised_name(self) -> None:
        """Server names are cut to 64 printable characters, never empty."""
        self.assertEqual(advertised_name("x" * 100), "x" * 64)
        self.assertEqual(advertised_name("a\x1bb"), "a?b")
        self.assertEqual(advertised_name("  "), "GloziChat")
