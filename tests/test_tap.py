"""The twistd plugin's options and service tree, without running twistd."""

import io
import os

from twisted.application.service import IServiceCollection
from twisted.plugin import getPlugins
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from glozi import tap
from glozi.discovery.service import DiscoveryService
from glozi.irc.protocol import IRCFactory
from glozi.native.protocol import NativeFactory
from glozi.service import ChatService, ListeningService
from tests.discovery_fakes import UDPMemoryReactor


class OptionsTests(SynchronousTestCase):
    def test_defaults(self) -> None:
        """With no arguments: tcp:7557, a 240 s timeout and the documented exit-code file."""
        options = tap.Options()
        options.parseOptions([])
        self.assertEqual(options["port"], "tcp:7557")
        self.assertEqual(options["irc-port"], "tcp:6667")
        self.assertEqual(options["idle-timeout"], 240.0)
        self.assertEqual(options["exit-code-file"], "glozichat.exitcode")

    def test_values(self) -> None:
        """Options parse into their types."""
        options = tap.Options()
        options.parseOptions(["--port", "tcp:0:interface=127.0.0.1", "--idle-timeout", "30", "--name", "box"])
        self.assertEqual((options["port"], options["idle-timeout"], options["name"]), ("tcp:0:interface=127.0.0.1", 30.0, "box"))

    def test_bad_timeout(self) -> None:
        """A non-positive or non-numeric timeout is a usage error."""
        for value in ("0", "-5", "soon"):
            self.assertRaises(usage.UsageError, tap.Options().parseOptions, ["--idle-timeout", value])


class MakeServiceTests(SynchronousTestCase):
    def test_service_tree_and_listening(self) -> None:
        """makeService listens on the endpoint and writes the exit code file at start."""
        reactor = UDPMemoryReactor()
        options = tap.Options()
        path = os.path.abspath(self.mktemp())
        options.parseOptions(
            [
                "--port",
                "tcp:8123:interface=127.0.0.1",
                "--irc-port",
                "tcp:8124:interface=127.0.0.1",
                "--exit-code-file",
                path,
                "--no-sniff",
            ]
        )
        announced = io.StringIO()
        top = tap.makeService(options, reactor=reactor, announce_to=announced)
        children = list(IServiceCollection(top))
        self.assertEqual(
            [type(c) for c in children], [ChatService, ListeningService, ListeningService, DiscoveryService]
        )
        top.privilegedStartService()
        top.startService()
        [(port, native, _, interface), (irc_port, irc, _, irc_interface)] = reactor.tcpServers
        self.assertEqual((port, interface, irc_port, irc_interface), (8123, "127.0.0.1", 8124, "127.0.0.1"))
        self.assertEqual((type(native), type(irc)), (NativeFactory, IRCFactory))
        self.assertEqual(children[0].factories, [native, irc])
        with open(path) as f:
            code = f.read()
        self.assertRegex(code, r"^\d{5}\n$")
        self.assertEqual(announced.getvalue(), f"exit code: {code}")
        self.successResultOf(top.stopService())
        self.assertFalse(os.path.exists(path))

    def test_irc_port_none(self) -> None:
        """--irc-port none listens on the native port only, and shutdown waits for native clients only."""
        reactor = UDPMemoryReactor()
        options = tap.Options()
        options.parseOptions(
            ["--port", "tcp:8123", "--irc-port", "none", "--exit-code-file", self.mktemp(), "--no-sniff"]
        )
        top = tap.makeService(options, reactor=reactor, announce_to=io.StringIO())
        children = list(IServiceCollection(top))
        self.assertEqual([type(c) for c in children], [ChatService, ListeningService, DiscoveryService])
        self.assertEqual([type(f) for f in children[0].factories], [NativeFactory])


class PluginTests(SynchronousTestCase):
    def test_plugin_found(self) -> None:
        """twistd finds a plugin named glozichat that builds our options."""
        from twisted import plugins
        from twisted.application.service import IServiceMaker

        makers = {p.tapname: p for p in getPlugins(IServiceMaker, plugins)}
        self.assertIn("glozichat", makers)
        self.assertIsInstance(makers["glozichat"].options(), tap.Options)
