"""benchmarks/servers.py: a benchmark server listens on the doors it is asked for, on loopback, and on no other."""

from pathlib import Path

from twisted.trial import unittest

from benchmarks.servers import start_glozichat


class DoorsTests(unittest.TestCase):
    def test_a_server_without_irc_or_web_has_only_its_native_door(self) -> None:
        """``irc=False`` (profile.py, client_lag.py) opens no IRC port, not even the default 6667, and no web port."""
        server = start_glozichat(Path(self.mktemp()), irc=False)
        self.addCleanup(server.stop)
        self.assertEqual(list(server.ports), ["native"])
        log = server.log_text()
        self.assertIn("native protocol listening on 127.0.0.1:", log)
        self.assertNotIn("IRC listening", log)
        self.assertNotIn("web listening", log)

    def test_each_door_asked_for_listens_on_loopback(self) -> None:
        """``irc=True, web=True`` gives the three doors, each on a 127.0.0.1 port of its own."""
        server = start_glozichat(Path(self.mktemp()), irc=True, web=True)
        self.addCleanup(server.stop)
        self.assertEqual(sorted(server.ports), ["irc", "native", "web"])
        self.assertEqual(len(set(server.ports.values())), 3)
        log = server.log_text()
        for door in ("native protocol", "IRC", "web"):
            self.assertIn(f"{door} listening on 127.0.0.1:{server.ports[door.split()[0].lower()]}", log)
