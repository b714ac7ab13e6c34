"""The twistd plugin's options and service tree, without running twistd."""

import io
import os
import sqlite3
from unittest import mock

from twisted.application.service import IServiceCollection
from twisted.plugin import getPlugins
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import Site

from glozi import tap
from glozi.discovery.service import DiscoveryService
from glozi.doors.irc.protocol import IRCFactory
from glozi.doors.native.protocol import NativeFactory
from glozi.doors.web.connection import WebSocketFactory
from glozi.doors.web.site import HTTPConnectionLimits
from glozi.process.service import ChatService, ListeningService, WebListeningService
from glozi.storage.sqlitestore import MIGRATIONS
from tests.discovery_fakes import UDPMemoryReactor
from tests.helpers import RecordingConnection, done


class OptionsTests(SynchronousTestCase):
    def test_defaults(self) -> None:
        """With no arguments: tcp:7557, a 240 s timeout and the documented exit-code file."""
        options = tap.Options()
        options.parseOptions([])
        self.assertEqual(options["port"], "tcp:7557")
        self.assertEqual(options["irc-port"], "tcp:6667")
        self.assertEqual(options["web-port"], "tcp:8080")
        self.assertEqual(options["idle-timeout"], 240.0)
        self.assertEqual(options["exit-code-file"], "glozichat.exitcode")

    def test_values(self) -> None:
        """Options parse into their types."""
        options = tap.Options()
        options.parseOptions(["--port", "tcp:0:interface=127.0.0.1", "--idle-timeout", "30", "--name", "box"])
        self.assertEqual((options["port"], options["idle-timeout"], options["name"]), ("tcp:0:interface=127.0.0.1", 30.0, "box"))

    def test_description(self) -> None:
        """--description: 1 to 100 printable characters (100 accepted, 101 refused, empty or a control
        character refused); by default GloziChat LAN chat server."""
        defaults = tap.Options()
        defaults.parseOptions([])
        self.assertEqual(defaults["description"], "GloziChat LAN chat server")
        options = tap.Options()
        options.parseOptions(["--description", "d" * 100])
        self.assertEqual(options["description"], "d" * 100)
        for value in ("d" * 101, "", "two\nlines"):
            self.assertRaises(usage.UsageError, tap.Options().parseOptions, ["--description", value])

    def test_bad_timeout(self) -> None:
        """A non-positive or non-numeric timeout is a usage error."""
        for value in ("0", "-5", "soon"):
            self.assertRaises(usage.UsageError, tap.Options().parseOptions, ["--idle-timeout", value])


class HistoryOptionsTests(SynchronousTestCase):
    def test_max_sessions_per_user(self) -> None:
        """--max-sessions-per-user defaults to 20, reaches the chat server, and must be positive."""
        options = tap.Options()
        options.parseOptions([])
        self.assertEqual(options["max-sessions-per-user"], 20)
        options.parseOptions(["--max-sessions-per-user", "3", "--db", ":memory:", "--no-sniff", "--irc-port", "none"])
        top = tap.makeService(options, reactor=UDPMemoryReactor(), announce_to=io.StringIO())
        [chat_service, *_] = IServiceCollection(top)
        self.assertEqual(chat_service.chat.max_sessions_per_user, 3)
        for value in ("0", "-1", "many"):
            self.assertRaises(usage.UsageError, tap.Options().parseOptions, ["--max-sessions-per-user", value])

    def test_history_defaults(self) -> None:
        """By default: glozichat.db in the working directory, 50 messages of scrollback, 10,000 kept per session."""
        options = tap.Options()
        options.parseOptions([])
        self.assertEqual((options["db"], options["scrollback"], options["retention"]), ("glozichat.db", 50, 10_000))

    def test_bad_history_values(self) -> None:
        """Scrollback may be 0 but not negative; retention must be positive."""
        options = tap.Options()
        options.parseOptions(["--scrollback", "0", "--retention", "5", "--db", ":memory:"])
        self.assertEqual((options["scrollback"], options["retention"]), (0, 5))
        for args in (["--scrollback", "-1"], ["--retention", "0"], ["--scrollback", "many"]):
            self.assertRaises(usage.UsageError, tap.Options().parseOptions, args)

    def test_postgres_url(self) -> None:
        """--db takes a postgresql:// (or postgres://) URL besides a SQLite path; a malformed one is refused at once."""
        for url in ("postgresql://glozi@db.example:5432/glozi", "postgres://db.example/glozi"):
            options = tap.Options()
            options.parseOptions(["--db", url])
            self.assertEqual(options["db"], url)
        error = self.assertRaises(usage.UsageError, tap.Options().parseOptions, ["--db", "postgresql://%zz"])
        self.assertIn("not a PostgreSQL URL: invalid percent-encoded token", str(error))

    def test_cluster_options(self) -> None:
        options = tap.Options()
        options.parseOptions(["--db", "postgresql://h/glozi", "--redis", "redis://127.0.0.1:6380/2", "--node", "n1"])
        self.assertEqual((options["redis"], options["node"], options["presence-timeout"]), ("redis://127.0.0.1:6380/2", "n1", 15.0))
        for args, says in (
            (["--redis", "redis://127.0.0.1"], "--redis needs --db postgresql://"),
            (["--db", "postgresql://h/glozi", "--node", "n1"], "--node names a node of a cluster: give --redis too"),
            (["--db", "postgresql://h/glozi", "--redis", "http://h"], "it must start with redis://"),
            (["--db", "postgresql://h/glozi", "--redis", "redis://h", "--node", "two words"], "no spaces"),
            (["--db", "postgresql://h/glozi", "--redis", "redis://h", "--node", "n" * 65], "1 to 64"),
            (["--db", "postgresql://h/glozi", "--redis", "redis://h", "--presence-timeout", "0"], "positive"),
        ):
            error = self.assertRaises(usage.UsageError, tap.Options().parseOptions, args)
            self.assertIn(says, str(error))
        options = tap.Options()
        options.parseOptions(["--db", "postgresql://h/glozi", "--redis", "redis://h", "--node", "n" * 64])

    def test_postgres_url_without_psycopg(self) -> None:
        """Without the [cluster] extra a PostgreSQL URL is refused with what to install; a SQLite path still works."""
        with mock.patch.dict("sys.modules", {"psycopg": None, "psycopg.conninfo": None}):
            error = self.assertRaises(usage.UsageError, tap.Options().parseOptions, ["--db", "postgresql://h/glozi"])
            tap.Options().parseOptions(["--db", "glozichat.db"])
        self.assertIn("pip install 'glozichat[cluster]'", str(error))

    def stored_database(self, *statements: str) -> str:
        """A database file at the current schema holding the session garden (id 17), then ``statements``."""
        path = os.path.abspath(self.mktemp())
        with sqlite3.connect(path) as db:
            for migration in MIGRATIONS:
                for statement in migration:
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
            db.execute("INSERT INTO sessions VALUES (17, 'garden', 5.0, 'alice', NULL)")
            for statement in statements:
                db.execute(statement)
        db.close()
        return path

    def chat_served(self, args: list[str]):
        """The chat server makeService builds for ``args``."""
        options = tap.Options()
        options.parseOptions(args)
        top = tap.makeService(options, reactor=UDPMemoryReactor(), announce_to=io.StringIO())
        return next(iter(IServiceCollection(top))).chat

    def test_make_service_restores_from_the_database(self) -> None:
        """makeService reads the database before serving: a stored session is listed again, and the id counter goes on."""
        path = self.stored_database("UPDATE meta SET value = 20")
        chat = self.chat_served(["--db", path, "--exit-code-file", self.mktemp(), "--no-sniff", "--irc-port", "none"])
        self.assertEqual([(s.id, s.name, s.creator) for s in chat.list_sessions()][-1], (17, "garden", "alice"))
        creator = chat.connect(RecordingConnection(), "192.0.2.1")
        self.assertEqual(done(creator.create("shed", "bob")).session.id, 21, "ids given before are not reused")

    def test_no_builtin_sessions(self) -> None:
        """--no-builtin-sessions: off by default; on, a database holding avocado's history lists only
        its created session, and the next session created is 18, not one of the built-ins' ids 1 to 9."""
        self.assertFalse(tap.Options()["no-builtin-sessions"])
        path = self.stored_database(
            "INSERT INTO messages (session_id, sender, text, sent_at) VALUES (1, 'bob', 'avocado talk', 6.0)",
            "UPDATE meta SET value = 17",
        )
        chat = self.chat_served(
            ["--no-builtin-sessions", "--db", path, "--exit-code-file", self.mktemp(), "--no-sniff", "--irc-port", "none"]
        )
        self.assertEqual([(s.id, s.name) for s in chat.list_sessions()], [(17, "garden")])
        creator = chat.connect(RecordingConnection(), "192.0.2.1")
        self.assertEqual(done(creator.create("shed", "bob")).session.id, 18)


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
                "--web-port",
                "tcp:8125:interface=127.0.0.1",
                "--exit-code-file",
                path,
                "--no-sniff",
                "--db",
                ":memory:",
            ]
        )
        announced = io.StringIO()
        top = tap.makeService(options, reactor=reactor, announce_to=announced)
        children = list(IServiceCollection(top))
        self.assertEqual(
            [type(c) for c in children],
            [ChatService, ListeningService, ListeningService, WebListeningService, DiscoveryService, tap.FileHousekeeping],
        )
        top.privilegedStartService()
        top.startService()
        [(port, native, _, interface), (irc_port, irc, _, irc_interface), (web_port, site, _, web_interface)] = (
            reactor.tcpServers
        )
        self.assertEqual(
            (port, interface, irc_port, irc_interface, web_port, web_interface),
            (8123, "127.0.0.1", 8124, "127.0.0.1", 8125, "127.0.0.1"),
        )
        self.assertEqual((type(native), type(irc), type(site)), (NativeFactory, IRCFactory, HTTPConnectionLimits))
        self.assertIsInstance(site.wrappedFactory, Site)
        [native_tracked, irc_tracked, websockets] = children[0].factories
        self.assertEqual((native_tracked, irc_tracked, type(websockets)), (native, irc, WebSocketFactory))
        with open(path) as f:
            code = f.read()
        self.assertRegex(code, r"^\d{10}\n$")
        self.assertEqual(announced.getvalue(), f"exit code: {code}")
        self.successResultOf(top.stopService())
        self.assertFalse(os.path.exists(path))

    def test_irc_port_none(self) -> None:
        """--irc-port none --web-port none listens on the native port only, and shutdown waits for native clients only."""
        reactor = UDPMemoryReactor()
        options = tap.Options()
        options.parseOptions(
            [
                "--port",
                "tcp:8123",
                "--irc-port",
                "none",
                "--web-port",
                "none",
                "--exit-code-file",
                self.mktemp(),
                "--no-sniff",
                "--db",
                ":memory:",
            ]
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
