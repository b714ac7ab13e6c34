"""Server operators on the real ``twistd -n glozichat --oper ... --oper-file ...``:
an IRC operator kills a native user and closes a session they are not in, a
native operator kills an IRC user, and no operator password reaches the log."""

import os

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from tests.realserver import connect_client, start_server
from tests.test_people_e2e import connect_irc

IRC_OPER_PASSWORD = "irc-Secret-81"
NATIVE_OPER_PASSWORD = "file-Secret-27"


class OperatorsEndToEndTests(TestCase):
    timeout = 60

    @defer.inlineCallbacks
    def test_operators_kill_and_close_across_doors(self) -> None:
        """ircroot (--oper) kills native bob and closes alice's garden without being in it;
        native admin2 (--oper-file) kills IRC carol; the passwords are nowhere in the server's output."""
        oper_file = os.path.abspath(self.mktemp())
        with open(oper_file, "w", encoding="utf-8") as lines:
            lines.write(f"# native operators\nadmin2:{NATIVE_OPER_PASSWORD}\n")
        os.chmod(oper_file, 0o600)
        server = yield start_server(self, "--oper", f"ircroot:{IRC_OPER_PASSWORD}", "--oper-file", oper_file)

        ircroot = yield connect_irc(self, server.irc_port, "ircroot")
        ircroot.sendLine(b"OPER ircroot wrong-guess-55")
        yield ircroot.expect("464", "ircroot")
        ircroot.sendLine(f"OPER ircroot {IRC_OPER_PASSWORD}".encode())
        yield ircroot.expect("381", "ircroot")
        yield ircroot.expect("MODE", "ircroot", "+o")

        alice = yield connect_client(self, server.port)
        created = yield alice.request(type="create", name="garden", username="alice")
        garden = created["session"]["id"]
        bob = yield connect_client(self, server.port)
        joined = yield bob.request(type="join", session=garden, username="bob")
        self.assertEqual(joined["type"], "joined")
        seen = yield alice.next()
        self.assertEqual((seen["type"], seen["name"]), ("member_joined", "bob"))

        ircroot.sendLine(b"KILL bob :testing kills")
        killed = yield bob.next()
        self.assertEqual(killed, {"type": "killed", "by": "ircroot", "reason": "testing kills"})
        yield bob.lost
        left = yield alice.next()
        self.assertEqual(
            (left["type"], left["name"], left["reason"], left["by"], left["comment"]),
            ("member_left", "bob", "killed", "ircroot", "testing kills"),
        )

        notice = yield ircroot.expect("NOTICE", "ircroot")
        self.assertEqual(notice.params[1], "You killed bob (testing kills).")

        ircroot.sendLine(b"PRIVMSG GloziServ :close #garden")
        notice = yield ircroot.expect("NOTICE", "ircroot")
        self.assertEqual(notice.params[1], "You closed garden.")
        closed = yield alice.next()
        self.assertEqual((closed["type"], closed["reason"], closed["by"]), ("left", "closed", "ircroot"))

        carol = yield connect_irc(self, server.irc_port, "carol")
        admin2 = yield connect_client(self, server.port)
        named = yield admin2.request(type="nick", name="admin2")
        self.assertEqual(named["type"], "nick_changed")
        opered = yield admin2.request(type="oper", name="admin2", password=NATIVE_OPER_PASSWORD)
        self.assertEqual(opered, {"type": "modes", "operator": True, "wallops": False, "invisible": False})
        ack = yield admin2.request(type="kill", name="carol", reason="native kill")
        self.assertEqual(ack, {"type": "ack", "killed": "carol"})
        error = yield carol.expect("ERROR")
        self.assertEqual(error.params, ["Closing Link: carol[glozichat] (Killed (admin2 (native kill)))"])
        yield carol.lost

        output = server.output.decode(errors="replace")
        self.assertIn("ircroot", output)
        for secret in (IRC_OPER_PASSWORD, NATIVE_OPER_PASSWORD, "wrong-guess-55"):
            self.assertNotIn(secret, output)
