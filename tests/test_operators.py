"""Server operators (docs/security.md, docs/protocol.md, docs/irc.md): the
``--oper`` options, OPER and its guessing limits, KILL, WALLOPS, user modes,
and an operator closing a session they are not in, in both doors."""

import io
import json
import os

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import globalLogPublisher
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from glozi import tap
from glozi.domain.chat import ChatServer
from glozi.domain.errors import ChatError
from glozi.domain.events import Killed, Left, MemberLeft, Wallops
from glozi.domain.operators import OperatorAccount, Operators, parse_operator
from glozi.doors.irc import wire
from glozi.doors.irc.protocol import IRCFactory
from glozi.doors.native import wire as native_wire
from glozi.doors.native.protocol import NativeFactory
from glozi.storage.passwords import hash_password
from tests.discovery_fakes import UDPMemoryReactor
from tests.helpers import SESSION_LIST_EVENTS, TEST_EXIT_CODE, connect, done, late_passwords, quick_passwords

SECRET = "s3cret:Pass"
"""An operator password (with a colon: NAME:PASSWORD splits at the first one)."""


def cheap_account(name: str = "root", password: str = SECRET) -> OperatorAccount:
    return OperatorAccount(name, hash_password(password, n=2, r=1, p=1))


class OperatorOptionTests(SynchronousTestCase):
    def parse(self, *args: str) -> tap.Options:
        options = tap.Options()
        options.parseOptions(list(args))
        return options

    def test_oper_is_repeatable_and_kept_hashed(self) -> None:
        """--oper NAME:PASSWORD twice gives two operators; only scrypt hashes are kept, never the password."""
        options = self.parse("--oper", f"root:{SECRET}", "--oper", "helper:other")
        names = [account.name for account in options["operators"]]
        self.assertEqual(names, ["root", "helper"])
        for account in options["operators"]:
            self.assertTrue(account.password_hash.startswith("scrypt$16384$8$1$"))
            self.assertNotIn("s3cret", account.password_hash)
        self.assertNotIn("s3cret", repr(dict(options)))

    def test_no_operators_by_default(self) -> None:
        """Without --oper there are no operators."""
        self.assertEqual(self.parse()["operators"], [])

    def test_bad_values_are_usage_errors_that_do_not_repeat_the_password(self) -> None:
        """No colon, an empty name, a name that is no nick, an empty or spaced password: refused at startup, the value never echoed."""
        cases = {
            "rootpassword": "there is no colon",
            ":hunter2pw": "the name is empty",
            "1root:hunter2pw": "an operator name must be 3 to 12",
            "ro:hunter2pw": "an operator name must be 3 to 12",
            "root:": "an operator password must be 1 to 100 characters with no spaces or control characters",
            "root:hunter2 pw": "an operator password must be",
            "root:" + "x" * 101: "an operator password must be",
        }
        for value, message in cases.items():
            with self.assertRaises(usage.UsageError) as raised:
                self.parse("--oper", value)
            self.assertIn(message, str(raised.exception))
            self.assertIn("--oper: ", str(raised.exception))
            self.assertNotIn("hunter2", str(raised.exception))
        self.assertEqual(len(self.parse("--oper", "root:" + "x" * 100)["operators"]), 1)

    def test_a_name_given_twice_is_refused(self) -> None:
        """Operator names compare as nicks do: root and ROOT are one name, refused twice."""
        with self.assertRaises(usage.UsageError) as raised:
            self.parse("--oper", "root:aaaa", "--oper", "ROOT:bbbb")
        self.assertIn("the operator ROOT is given twice", str(raised.exception))

    def oper_file(self, text: str, mode: int = 0o600) -> str:
        path = self.mktemp()
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(path, mode)
        return path

    def test_oper_file(self) -> None:
        """--oper-file reads NAME:PASSWORD lines; blank lines and # comment lines are skipped."""
        path = self.oper_file(f"# operators\n\nroot:{SECRET}\n  helper:other  \n")
        self.assertEqual([a.name for a in self.parse("--oper-file", path)["operators"]], ["root", "helper"])

    def test_oper_file_bad_line_names_its_number(self) -> None:
        """A bad line in --oper-file is a usage error naming the file and line, not the value."""
        path = self.oper_file("root:goodpass\nhunter2alone\n")
        with self.assertRaises(usage.UsageError) as raised:
            self.parse("--oper-file", path)
        self.assertIn(f"--oper-file {path}, line 2: an operator is given as NAME:PASSWORD", str(raised.exception))
        self.assertNotIn("hunter2", str(raised.exception))

    def test_oper_file_readable_by_others_is_refused(self) -> None:
        """An --oper-file others may read (0644) is refused: chmod 600 it."""
        path = self.oper_file("root:goodpass\n", 0o644)
        with self.assertRaises(usage.UsageError) as raised:
            self.parse("--oper-file", path)
        self.assertIn("other users may read it (mode 0644); chmod 600 it", str(raised.exception))
        self.assertEqual(len(self.parse("--oper-file", self.oper_file("root:goodpass\n", 0o400))["operators"]), 1)

    def test_missing_oper_file(self) -> None:
        """A missing --oper-file is a usage error."""
        with self.assertRaises(usage.UsageError) as raised:
            self.parse("--oper-file", "/nonexistent/opers")
        self.assertIn("No such file or directory", str(raised.exception))

    def test_operators_reach_both_doors(self) -> None:
        """makeService gives every door (native, IRC, web) the same operators."""
        options = self.parse("--oper", "root:goodpass", "--db", ":memory:", "--no-sniff", "--irc-port", "tcp:0")
        top = tap.makeService(options, reactor=UDPMemoryReactor(), announce_to=io.StringIO())
        [chat_service, *_] = list(top)
        native, irc, web = chat_service.factories
        self.assertIs(native.operators, irc.operators)
        self.assertIs(native.operators, web.operators)
        self.assertEqual(native.operators.names, ["root"])


class DomainTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_764_000_000)
        self.passwords, self.runner = late_passwords()
        self.chat = ChatServer(self.clock, exit_code=TEST_EXIT_CODE, passwords=self.passwords)
        self.operators = Operators(self.chat, [cheap_account()])

    def user(self, nick: str, source: str = "192.0.2.1"):
        participant, connection = connect(self.chat, source)
        self.chat.claim_nick(participant, nick)
        return participant, connection

    def oper(self, participant, name: str = "root", password: str = SECRET):
        checking = self.operators.oper(participant, name, password)
        self.runner.finish()
        return done(checking)


class OperTests(DomainTestCase):
    def test_right_name_and_password(self) -> None:
        """The right name (any case) and password make the user an operator, once the hash check answers."""
        alice, _ = self.user("alice")
        checking = self.operators.oper(alice, "ROOT", SECRET)
        self.assertIsNone(alice.operator)
        self.runner.finish()
        done(checking)
        self.assertEqual(alice.operator, "root")
        self.assertTrue(alice.whois("alice").operator)

    def test_wrong_password_and_unknown_name_are_one_error(self) -> None:
        """A wrong password and an unknown name both get bad_oper_password, each after a hash check."""
        alice, _ = self.user("alice")
        for name, password in (("root", "wrong"), ("nobody", SECRET)):
            checking = self.operators.oper(alice, name, password)
            self.assertEqual(len(self.runner.pending), 1)
            self.runner.finish()
            with self.assertRaises(ChatError) as raised:
                done(checking)
            self.assertEqual((raised.exception.code, raised.exception.message), ("bad_oper_password", "Wrong operator name or password."))
        self.assertIsNone(alice.operator)

    def test_no_accounts_refuses_everyone(self) -> None:
        """With no --oper, OPER is always bad_oper_password."""
        alice, _ = self.user("alice")
        with self.assertRaises(ChatError) as raised:
            done(Operators(self.chat).oper(alice, "root", SECRET))
        self.assertEqual(raised.exception.code, "bad_oper_password")

    def test_guessing_limit(self) -> None:
        """3 wrong passwords are free; the 4th starts a 2 s wait (too_many_attempts, retry_after 2); an address
        that failed shares 3 guesses an hour, so the right one then waits for the next of those."""
        alice, _ = self.user("alice")
        for _ in range(4):
            self.assertRaises(ChatError, self.oper, alice, "root", "wrong")
        with self.assertRaises(ChatError) as raised:
            self.oper(alice)
        self.assertEqual((raised.exception.code, raised.exception.retry_after), ("too_many_attempts", 2))
        self.clock.advance(2)
        with self.assertRaises(ChatError) as raised:
            self.oper(alice)
        self.assertEqual((raised.exception.code, raised.exception.retry_after), ("too_many_attempts", 1198))
        self.clock.advance(1198)
        self.oper(alice)
        self.assertEqual(alice.operator, "root")

    def test_guessing_limit_is_per_source(self) -> None:
        """Reconnecting does not help: a new connection from the same address waits too."""
        alice, _ = self.user("alice")
        for _ in range(4):
            self.assertRaises(ChatError, self.oper, alice, "root", "wrong")
        again, _ = self.user("again")
        with self.assertRaises(ChatError) as raised:
            self.oper(again)
        self.assertEqual(raised.exception.code, "too_many_attempts")
        other, _ = self.user("other", source="192.0.2.7")
        self.oper(other)
        self.assertEqual(other.operator, "root")

    def test_operator_guesses_do_not_slow_session_joins(self) -> None:
        """Operator guessing has its own records: session passwords from that address are not held up."""
        alice, _ = self.user("alice")
        for _ in range(6):
            self.assertRaises(ChatError, self.oper, alice, "root", "wrong")
        self.chat.password_guard.allow(alice, alice.source, 10)

    def test_one_check_at_a_time(self) -> None:
        """While one password is being checked, another OPER gets wrong_state."""
        alice, _ = self.user("alice")
        first = self.operators.oper(alice, "root", SECRET)
        with self.assertRaises(ChatError) as raised:
            done(self.operators.oper(alice, "root", SECRET))
        self.assertEqual(raised.exception.code, "wrong_state")
        self.runner.finish()
        done(first)

    def test_disconnected_before_the_check_answers(self) -> None:
        """A user gone before the hash check answers does not become an operator."""
        alice, _ = self.user("alice")
        checking = self.operators.oper(alice, "root", SECRET)
        alice.disconnected()
        self.runner.finish()
        with self.assertRaises(ChatError) as raised:
            done(checking)
        self.assertEqual(raised.exception.code, "wrong_state")
        self.assertIsNone(alice.operator)

    def test_no_nick_no_oper(self) -> None:
        """A native user with no name yet cannot oper (wrong_state)."""
        nobody, _ = connect(self.chat)
        with self.assertRaises(ChatError) as raised:
            done(self.operators.oper(nobody, "root", SECRET))
        self.assertEqual(raised.exception.code, "wrong_state")

    def test_drop_operator_status(self) -> None:
        """operator=False drops it; operator=True without OPER is not_operator."""
        alice, _ = self.user("alice")
        self.assertRaises(ChatError, self.operators.set_modes, alice, operator=True)
        self.oper(alice)
        self.operators.set_modes(alice, operator=False)
        self.assertIsNone(alice.operator)


class KillTests(DomainTestCase):
    def test_kill(self) -> None:
        """The target gets Killed and is closed; each session's others get MemberLeft killed with by and the reason; the nick is free."""
        root, _ = self.user("root")
        self.oper(root)
        bob, bob_seen = self.user("bob")
        carol, carol_seen = self.user("carol")
        done(bob.join(1, "bob"))
        done(bob.join(2, "bob"))
        done(carol.join(1, "carol"))
        done(carol.join(2, "carol"))
        carol_seen.clear()
        self.assertEqual(self.operators.kill(root, "BOB", "spamming"), "bob")
        self.assertEqual(bob_seen.of_type(Killed), [Killed(by="root", reason="spamming")])
        self.assertEqual(bob_seen.of_type(Left), [], "a killed user has no session list to go back to")
        self.assertTrue(bob_seen.closed)
        left = carol_seen.of_type(MemberLeft)
        self.assertEqual(
            [(e.session_id, e.name, e.reason, e.by, e.comment) for e in left],
            [(1, "bob", "killed", "root", "spamming"), (2, "bob", "killed", "root", "spamming")],
        )
        self.assertIsNone(self.chat.user_named("bob"))
        self.assertEqual(bob.members, {})

    def test_non_operator_and_unknown_nick(self) -> None:
        """Killing needs operator status (not_operator), and a connected nick (no_such_user)."""
        root, _ = self.user("root")
        self.user("bob")
        with self.assertRaises(ChatError) as raised:
            self.operators.kill(root, "bob", "why")
        self.assertEqual(raised.exception.code, "not_operator")
        self.oper(root)
        with self.assertRaises(ChatError) as raised:
            self.operators.kill(root, "nobody", "why")
        self.assertEqual(raised.exception.code, "no_such_user")

    def test_killed_while_a_join_is_being_checked(self) -> None:
        """A join waiting for its password hash when its user is killed is refused when the hash answers."""
        root, _ = self.user("root")
        self.oper(root)
        alice, _ = self.user("alice")
        created = alice.create("garden", "alice", "12345")
        self.runner.finish()
        done(created)
        bob, _ = self.user("bob")
        joining = bob.join(10, "bob", "12345")
        self.operators.kill(root, "bob", "bye")
        self.runner.finish()
        with self.assertRaises(ChatError) as raised:
            done(joining)
        self.assertEqual(raised.exception.code, "wrong_state")
        self.assertEqual(list(self.chat.sessions[10].members), ["alice"])


class WallopsAndCloseTests(DomainTestCase):
    def test_wallops_reach_those_who_asked(self) -> None:
        """A wallops goes, as one event, to every user who asked for wallops, the sender too when they did."""
        root, root_seen = self.user("root")
        self.oper(root)
        listener, listener_seen = self.user("listener")
        _, deaf_seen = self.user("deaf")
        self.operators.set_modes(listener, wallops=True)
        self.operators.set_modes(root, wallops=True)
        self.operators.wallops(root, "restart at noon")
        [event] = listener_seen.of_type(Wallops)
        self.assertEqual((event.sender, event.text), ("root", "restart at noon"))
        self.assertIs(root_seen.of_type(Wallops)[0], event)
        self.assertEqual(deaf_seen.of_type(Wallops), [])

    def test_wallops_needs_an_operator(self) -> None:
        """A non-operator's wallops is not_operator."""
        alice, _ = self.user("alice")
        self.assertRaises(ChatError, self.operators.wallops, alice, "hi")

    def test_operator_closes_a_session_they_are_not_in(self) -> None:
        """An operator closes a created session they are not in; its members get Left closed by the operator."""
        root, _ = self.user("root")
        self.oper(root)
        alice, _ = self.user("alice")
        done(alice.create("garden", "alice"))
        self.assertTrue(self.operators.may_close(root, 10))
        self.assertEqual(self.operators.close_session(root, 10), "You closed garden.")
        self.assertNotIn(10, self.chat.sessions)
        self.assertEqual(alice.members, {})
        with self.assertRaises(ChatError) as raised:
            self.operators.close_session(root, 1)
        self.assertEqual(raised.exception.code, "builtin_session")

    def test_operator_member_closes_with_the_command(self) -> None:
        """An operator who is a member but not the admin may /close; a plain member may not."""
        alice, _ = self.user("alice")
        done(alice.create("garden", "alice"))
        root, _ = self.user("root")
        done(root.join(10, "root"))
        with self.assertRaises(ChatError) as raised:
            root.run_command("close", "", 10)
        self.assertEqual(raised.exception.code, "not_admin")
        self.oper(root)
        self.assertEqual(root.run_command("close", "", 10), "You closed garden.")
        done(root.join(1, "root"))
        with self.assertRaises(ChatError) as raised:
            root.run_command("close", "", 1)
        self.assertEqual(raised.exception.code, "builtin_session")


class TwoDoorsCase(SynchronousTestCase):
    """One chat server with an operator account "root", both doors, and helpers for users of each."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_764_000_000)
        self.chat = ChatServer(self.clock, exit_code=TEST_EXIT_CODE, passwords=quick_passwords())
        self.operators = Operators(self.chat, [cheap_account()])
        self.native = NativeFactory(self.chat, "testbox", operators=self.operators)
        self.irc = IRCFactory(self.chat, "testbox", self.clock, operators=self.operators)

    def native_user(self, name: str, session: int | None = None, host: str = "127.0.0.1"):
        transport = StringTransport(peerAddress=IPv4Address("TCP", host, 40000))
        protocol = self.native.buildProtocol(transport.getPeer())
        protocol.makeConnection(transport)
        transport.clear()
        client = (protocol, transport)
        self.send(client, type="nick", name=name) if session is None else self.send(
            client, type="join", session=session, username=name
        )
        return client

    def send(self, client, **frame) -> list[dict]:
        protocol, _ = client
        self.clock.advance(0.25)
        protocol.dataReceived(json.dumps(frame).encode() + b"\n")
        return self.frames(client)

    def frames(self, client) -> list[dict]:
        _, transport = client
        data = transport.value()
        transport.clear()
        frames = [native_wire.parse_frame(line) for line in data.splitlines()]
        return [f for f in frames if f["type"] not in SESSION_LIST_EVENTS]

    def irc_user(self, nick: str):
        transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40001))
        protocol = self.irc.buildProtocol(transport.getPeer())
        protocol.makeConnection(transport)
        client = (protocol, transport)
        self.irc_send(client, f"NICK {nick}", f"USER {nick} 0 * :{nick}")
        return client

    def irc_send(self, client, *lines: str) -> list[wire.ParsedLine]:
        protocol, transport = client
        for text in lines:
            protocol.dataReceived(text.encode() + b"\r\n")
        data = transport.value()
        transport.clear()
        return [p for p in (wire.parse_line(raw) for raw in data.split(b"\r\n") if raw) if p is not None]



class NativeOperatorTests(TwoDoorsCase):
    def test_oper_frame(self) -> None:
        """oper with the right password answers modes with operator true (and wallops as asked); whois says operator."""
        root = self.native_user("root")
        answer = self.send(root, type="oper", name="root", password=SECRET, wallops=True, id=3)
        self.assertEqual(answer, [{"type": "modes", "operator": True, "wallops": True, "invisible": False, "id": 3}])
        [user] = self.send(root, type="whois", name="root")
        self.assertIs(user["operator"], True)

    def test_oper_refusals(self) -> None:
        """A wrong password: bad_oper_password; the 5th try from one address: too_many_attempts with retry_after."""
        root = self.native_user("root")
        codes = [self.send(root, type="oper", name="root", password="nope")[0]["code"] for _ in range(4)]
        self.assertEqual(codes, ["bad_oper_password"] * 4)
        [refused] = self.send(root, type="oper", name="root", password=SECRET)
        self.assertEqual((refused["code"], refused["retry_after"]), ("too_many_attempts", 2))
        self.assertEqual(self.send(root, type="oper", name="root", password="")[0]["code"], "bad_field")
        self.assertEqual(self.send(root, type="oper", name="root")[0]["code"], "missing_field")

    def test_modes_frame(self) -> None:
        """modes reads and sets wallops and invisible; operator false drops the status; operator true is not_operator without oper."""
        root = self.native_user("root")
        self.assertEqual(
            self.send(root, type="modes"), [{"type": "modes", "operator": False, "wallops": False, "invisible": False}]
        )
        self.assertEqual(self.send(root, type="modes", wallops=True)[0]["wallops"], True)
        self.assertEqual(self.send(root, type="modes", invisible=True)[0]["invisible"], True)
        self.assertEqual(self.send(root, type="modes", invisible=1)[0]["code"], "bad_field")
        self.assertEqual(self.send(root, type="modes", operator=True)[0]["code"], "not_operator")
        self.assertEqual(self.send(root, type="modes", wallops="yes")[0]["code"], "bad_field")
        self.send(root, type="oper", name="root", password=SECRET)
        self.assertEqual(
            self.send(root, type="modes", operator=False),
            [{"type": "modes", "operator": False, "wallops": True, "invisible": True}],
        )

    def test_native_kill_of_an_irc_user(self) -> None:
        """A native operator kills an IRC user: ERROR Closing Link with Killed (root (reason)); a sharer sees QUIT :Killed (root (reason))."""
        root = self.native_user("root", session=1)
        self.send(root, type="oper", name="root", password=SECRET)
        bob = self.irc_user("bob")
        carol = self.irc_user("carol")
        self.irc_send(bob, "JOIN #avocado")
        self.irc_send(carol, "JOIN #avocado")
        self.frames(root)
        bob[1].clear()
        self.assertEqual(self.send(root, type="kill", name="BOB", reason="flooding", id=9), [
            {"type": "member_left", "session": 1, "name": "bob", "reason": "killed", "by": "root", "comment": "flooding"},
            {"type": "ack", "killed": "bob", "id": 9},
        ])
        _, bob_transport = bob
        self.assertEqual(
            bob_transport.value(), b"ERROR :Closing Link: bob[glozichat] (Killed (root (flooding)))\r\n"
        )
        self.assertTrue(bob_transport.disconnecting)
        [quit] = self.irc_send(carol)
        self.assertEqual((quit.prefix, quit.command, quit.params), ("bob!bob@glozichat", "QUIT", ["Killed (root (flooding))"]))

    def test_native_kill_refusals(self) -> None:
        """kill: not_operator for others, no_such_user for nobody, bad_field for an empty or over-long reason."""
        root = self.native_user("root")
        self.native_user("bob")
        self.assertEqual(self.send(root, type="kill", name="bob", reason="x")[0]["code"], "not_operator")
        self.send(root, type="oper", name="root", password=SECRET)
        self.assertEqual(self.send(root, type="kill", name="nobody", reason="x")[0]["code"], "no_such_user")
        self.assertEqual(self.send(root, type="kill", name="bob", reason=" ")[0]["code"], "bad_field")
        self.assertEqual(self.send(root, type="kill", name="bob", reason="x" * 201)[0]["code"], "bad_field")
        self.assertEqual(self.send(root, type="kill", name="bob")[0]["code"], "missing_field")
        self.assertEqual(self.send(root, type="kill", name="bob", reason="x" * 200)[0]["killed"], "bob")

    def test_irc_kill_of_a_native_user(self) -> None:
        """An IRC operator kills a native user: the target gets killed and is closed; a native sharer gets member_left killed."""
        root = self.irc_user("root")
        self.assertEqual(
            [(line.command, line.params) for line in self.irc_send(root, f"OPER root {SECRET}")],
            [("381", ["root", "You are now an IRC operator"]), ("MODE", ["root", "+o"])],
        )
        bob = self.native_user("bob", session=1)
        carol = self.native_user("carol", session=1)
        self.frames(bob)
        self.irc_send(root, "KILL bob :go away")
        self.assertEqual(self.frames(bob), [{"type": "killed", "by": "root", "reason": "go away"}])
        self.assertTrue(bob[1].disconnecting)
        self.assertEqual(self.frames(carol), [
            {"type": "member_left", "session": 1, "name": "bob", "reason": "killed", "by": "root", "comment": "go away"},
        ])

    def test_wallops_both_ways(self) -> None:
        """An IRC operator's WALLOPS reaches +w IRC users and native users who asked; a native operator's reaches IRC +w users."""
        root = self.irc_user("root")
        self.irc_send(root, f"OPER root {SECRET}")
        listener = self.irc_user("listen")
        self.assertEqual([(x.command, x.params) for x in self.irc_send(listener, "MODE listen +w")], [("MODE", ["listen", "+w"])])
        native = self.native_user("native")
        self.send(native, type="modes", wallops=True)
        deaf = self.irc_user("deaf")
        self.irc_send(root, "WALLOPS :server restart at noon")
        [line] = self.irc_send(listener)
        self.assertEqual((line.prefix, line.command, line.params), ("root!root@glozichat", "WALLOPS", ["server restart at noon"]))
        self.assertEqual(self.frames(native), [{"type": "wallops", "from": "root", "text": "server restart at noon", "ts": self.clock.seconds()}])
        self.assertEqual(self.irc_send(deaf), [])
        self.send(native, type="oper", name="root", password=SECRET)
        answer = self.send(native, type="wallops", text="from native", id=1)
        self.assertEqual(answer, [
            {"type": "wallops", "from": "native", "text": "from native", "ts": self.clock.seconds()},
            {"type": "ack", "wallops": True, "ts": self.clock.seconds(), "id": 1},
        ])
        self.assertEqual(self.irc_send(listener)[0].params, ["from native"])

    def test_irc_refusals(self) -> None:
        """Non-operators: 481 for KILL and WALLOPS; OPER: 464 wrong, 461 short; KILL 401 unknown, 461 without a reason."""
        alice = self.irc_user("alice")
        not_oper = ["alice", "Permission Denied- You're not an IRC operator"]
        self.assertEqual([(x.command, x.params) for x in self.irc_send(alice, "KILL bob :x")], [("481", not_oper)])
        self.assertEqual([(x.command, x.params) for x in self.irc_send(alice, "WALLOPS :x")], [("481", not_oper)])
        self.assertEqual([(x.command, x.params) for x in self.irc_send(alice, "OPER root wrong")], [("464", ["alice", "Password incorrect"])])
        self.assertEqual([x.command for x in self.irc_send(alice, "OPER root")], ["461"])
        self.irc_send(alice, f"OPER root {SECRET}")
        self.assertEqual([(x.command, x.params[1]) for x in self.irc_send(alice, "KILL nobody :x")], [("401", "nobody")])
        self.assertEqual([x.command for x in self.irc_send(alice, "KILL nobody")], ["461"])

    def test_irc_oper_too_many_attempts(self) -> None:
        """The 5th OPER from one address within the wait gets 464 saying when to try again."""
        alice = self.irc_user("alice")
        for _ in range(4):
            self.irc_send(alice, "OPER root wrong")
        [line] = self.irc_send(alice, f"OPER root {SECRET}")
        self.assertEqual(
            (line.command, line.params[1]),
            ("464", "Password incorrect: Too many wrong operator passwords; try again in 2 s."),
        )

    def test_irc_user_modes(self) -> None:
        """221 shows i, o and w; -o drops operator status; +o by MODE is 481; 004 lists iow."""
        alice = self.irc_user("alice")
        self.assertEqual(self.irc_send(alice, "MODE alice")[0].params, ["alice", "+"])
        self.irc_send(alice, f"OPER root {SECRET}")
        self.irc_send(alice, "MODE alice +iw")
        self.assertEqual(self.irc_send(alice, "MODE alice")[0].params, ["alice", "+iow"])
        self.assertEqual([(x.command, x.params) for x in self.irc_send(alice, "MODE alice -o")], [("MODE", ["alice", "-o"])])
        self.assertIsNone(self.chat.user_named("alice").operator)
        self.assertEqual(
            [(x.command, x.params) for x in self.irc_send(alice, "MODE alice +o")],
            [("481", ["alice", "Permission Denied- Only OPER makes you an IRC operator"])],
        )

    def test_irc_whois_shows_operators(self) -> None:
        """WHOIS of an operator has 313 NICK :is an IRC operator; of others none."""
        root = self.irc_user("root")
        self.assertNotIn("313", [x.command for x in self.irc_send(root, "WHOIS root")])
        self.irc_send(root, f"OPER root {SECRET}")
        lines = self.irc_send(root, "WHOIS root")
        self.assertIn(("313", ["root", "root", "is an IRC operator"]), [(x.command, x.params) for x in lines])

    def test_irc_operator_closes_a_session_they_are_not_in(self) -> None:
        """/msg GloziServ close #garden by an operator not in it closes it; the members are KICKed by the operator."""
        root = self.irc_user("root")
        self.irc_send(root, f"OPER root {SECRET}")
        alice = self.irc_user("alice")
        self.irc_send(alice, "JOIN #garden")
        native = self.native_user("native")
        self.send(native, type="join", session=10, username="native")
        lines = self.irc_send(root, "PRIVMSG GloziServ :close #garden")
        self.assertEqual([(x.command, x.params) for x in lines], [("NOTICE", ["root", "You closed garden."])])
        kick = self.irc_send(alice)[-1]
        self.assertEqual((kick.prefix, kick.command, kick.params), ("root!root@glozichat", "KICK", ["#garden", "alice", "Session closed"]))
        self.assertEqual(self.frames(native)[0]["reason"], "closed")
        self.assertNotIn(10, self.chat.sessions)

    def test_native_operator_closes_a_session_they_are_not_in(self) -> None:
        """command close with the session of an operator not in it: reply You closed garden.; a non-operator gets not_in_session."""
        alice = self.native_user("alice")
        self.send(alice, type="create", name="garden", username="alice")
        root = self.native_user("root", session=1)
        self.assertEqual(self.send(root, type="command", name="close", session=10)[0]["code"], "not_in_session")
        self.send(root, type="oper", name="root", password=SECRET)
        self.assertEqual(
            self.send(root, type="command", name="close", session=10),
            [{"type": "reply", "session": 10, "command": "close", "text": "You closed garden."}],
        )
        self.assertEqual(self.frames(alice)[0]["by"], "root")


class PasswordNeverLoggedTests(SynchronousTestCase):
    def test_password_never_in_the_log(self) -> None:
        """Neither a right nor a wrong operator password is logged, in either door."""
        logged: list[dict] = []
        globalLogPublisher.addObserver(logged.append)
        self.addCleanup(globalLogPublisher.removeObserver, logged.append)
        clock = Clock()
        chat = ChatServer(clock, exit_code=TEST_EXIT_CODE, passwords=quick_passwords())
        operators = Operators(chat, [cheap_account(*parse_operator(f"root:{SECRET}"))])
        irc = IRCFactory(chat, "testbox", clock, operators=operators)
        transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40001))
        protocol = irc.buildProtocol(transport.getPeer())
        protocol.makeConnection(transport)
        protocol.dataReceived(f"NICK root\r\nUSER root 0 * :root\r\nOPER root wrongpass1\r\nOPER root {SECRET}\r\n".encode())
        protocol.dataReceived(b"KILL root :bye\r\n")
        text = json.dumps([{k: str(v) for k, v in event.items()} for event in logged])
        self.assertIn("is a server operator now", text)
        self.assertIn("A wrong operator name or password", text)
        self.assertNotIn("s3cret", text)
        self.assertNotIn("wrongpass1", text)


class OperatorsInQueriesTests(TwoDoorsCase):
    """WHO, LUSERS and USERHOST show server operators (docs/irc.md)."""

    def test_who_lusers_and_userhost_show_operators(self) -> None:
        """An operator's WHO flags read H*@ (H*+ when voiced); WHO * o lists operators only; LUSERS 252 counts
        them; USERHOST marks them root*=+."""
        root, bob = self.irc_user("root"), self.irc_user("bob")
        self.irc_send(root, "JOIN #orchard")
        self.irc_send(bob, "JOIN #orchard")
        self.irc_send(root, f"OPER root {SECRET}", "MODE #orchard +v bob")
        self.irc_send(bob, f"OPER root {SECRET}")
        flags = {line.params[5]: line.params[6] for line in self.irc_send(root, "WHO #orchard") if line.command == "352"}
        self.assertEqual(flags, {"root": "H*@", "bob": "H*+"})
        self.irc_send(bob, "MODE bob -o")
        flags = {line.params[5]: line.params[6] for line in self.irc_send(root, "WHO #orchard") if line.command == "352"}
        self.assertEqual(flags, {"root": "H*@", "bob": "H+"})
        operators = [line.params[5] for line in self.irc_send(bob, "WHO * o") if line.command == "352"]
        self.assertEqual(operators, ["root"])
        [lusers_op] = [line for line in self.irc_send(bob, "LUSERS") if line.command == "252"]
        self.assertEqual(lusers_op.params[1], "1")
        [userhost] = self.irc_send(bob, "USERHOST root bob")
        self.assertEqual(userhost.params[1], "root*=+root@glozichat bob=+bob@glozichat")
