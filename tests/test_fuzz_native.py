"""Random frame sequences against the native door, checked against invariants.

Several clients on StringTransports act at random (join and create, in several
sessions at once, chat, every command, nick changes, private messages, away,
whois, malformed lines, abrupt disconnects, time passing), and an admin often
bans someone, makes a session invite-only or fills it right before someone
tries to join it, so that every join check is tried. Each client keeps its
own view of its sessions from the frames it received; after every step the views
must agree with the server's state (who is in each session, and which of them
are away), each user's sessions agree with each
session's members, every created session with members has exactly one admin,
nobody receives a message for a session they are not in, and a private message
reaches only the user it was sent to.
"""

import json

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import globalLogPublisher

from glozi.domain import rules
from glozi.domain.chat import ChatServer
from glozi.domain.masks import matches
from glozi.domain.names import name_key
from glozi.domain.sessions import Session
from glozi.doors.native import wire
from glozi.doors.native.protocol import NativeFactory
from glozi.storage.passwords import verify_password
from tests.helpers import TEST_EXIT_CODE, quick_passwords

NAMES = ["alice", "bob", "carol", "dave", "erin"]
SESSION_NAMES = ["garden", "attic", "Garden"]
RULE_COMMANDS = [
    ("mode", "+i"), ("mode", "-i"), ("mode", "+l 1"), ("mode", "+l 2"), ("mode", "-l"), ("mode", "+m"),
    ("mode", "-m"), ("mode", "-t"), ("mode", "+b bob"), ("mode", "-b bob!*@*"), ("mode", "+v carol"),
    ("mode", "+o carol"), ("mode", "+o dave"), ("mode", "+k 12345"), ("mode", "-k"), ("mode", "+x"),
    ("invite", "bob"), ("invite", "erin"), ("ban", "dave"), ("ban", "alice x"), ("admin", "bob"),
    ("topic", "figs"), ("topic", ""), ("lock", "54321"), ("unlock", ""), ("kick", "erin go"),
    ("mode", "+e bob"), ("mode", "-e bob!*@*"), ("mode", "+I carol"), ("mode", "-I carol!*@*"), ("mode", "+s"),
    ("mode", "-s"),
]
KEYS = ["12345", "54321"]
"""Every key the fuzz tests lock sessions with."""
ADMISSION_RULES = ["+b", "ban", "+i", "+l"]
"""What an admin does before someone joins: ban an outsider, kick-and-ban a
member, make the session invite-only, or set its limit to its member count."""
GARBAGE = [b"{", b"[]", b"\xff", b'{"type":"join","session":"x"}', b'{"type":"say","text":"\\ud800"}', b"x" * 5000]


class FuzzClient:
    """A client and its own view of the sessions it is in, built only from frames."""

    def __init__(self, factory: NativeFactory, number: int) -> None:
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", f"10.1.0.{number}", 5000 + number))
        self.protocol = factory.buildProtocol(self.transport.getPeer())
        self.protocol.makeConnection(self.transport)
        self.views: dict[int, dict[str, str | None]] = {}
        """The members of each session it is in, by session id: each one's away message, or ``None``."""
        self.me: str | None = None
        self.privates: list[str] = []
        self.gone = False

    @property
    def session(self) -> int | None:
        return next(iter(self.views), None)

    def send(self, frame: dict | bytes) -> None:
        line = frame if isinstance(frame, bytes) else json.dumps(frame).encode()
        self.protocol.dataReceived(line + b"\n")

    def read(self) -> list[dict]:
        data = self.transport.value()
        self.transport.clear()
        frames = [wire.parse_frame(line) for line in data.splitlines()]
        for frame in frames:
            self.apply(frame)
        return frames

    def apply(self, frame: dict) -> None:
        kind = frame["type"]
        if kind == "joined":
            session = frame["session"]["id"]
            assert session not in self.views, f"joined {session} twice"
            self.me = frame["you"].lower()
            self.views[session] = {m["name"].lower(): m["away"] for m in frame["members"]}
        elif kind == "member_joined":
            assert frame["session"] in self.views, "member_joined for another session"
            self.views[frame["session"]][frame["name"].lower()] = None
        elif kind == "member_left":
            assert frame["session"] in self.views, "member_left for another session"
            self.views[frame["session"]].pop(frame["name"].lower(), None)
        elif kind == "member_renamed":
            members = self.views[frame["session"]]
            members[frame["name"].lower()] = members.pop(frame["old"].lower(), None)
        elif kind == "nick_changed":
            old, self.me = (frame["old"] or "").lower(), frame["name"].lower()
            for members in self.views.values():
                members[self.me] = members.pop(old, None)
        elif kind == "member_away":
            members = self.views.get(frame["session"])
            assert members is not None, "member_away for a session we are not in"
            name = frame["name"].lower()
            assert name in members and name != self.me, ("member_away for a non-member or us", frame)
            members[name] = frame["away"]
        elif kind == "presence":
            for members in self.views.values():
                members[self.me] = frame["away"]
        elif kind in ("message", "admin_changed", "idle_warning"):
            assert frame["session"] in self.views, f"{kind} for a session we are not in"
        elif kind == "private_message":
            self.privates.append(frame["text"])
        elif kind == "left":
            assert frame["session"] in self.views
            del self.views[frame["session"]]

    def try_join(self, session: Session, name: str, key: str | None) -> None:
        self.send({"type": "join", "session": session.id, "username": name, "password": key})

    def set_rule(self, session: Session, how: str, parameter: str) -> None:
        """As the admin of ``session``, apply one of ``ADMISSION_RULES``."""
        name, args = {
            "+b": ("mode", f"+b {parameter}"),
            "ban": ("ban", parameter),
            "+i": ("mode", "+i"),
            "+l": ("mode", f"+l {parameter}"),
        }[how]
        self.send({"type": "command", "name": name, "args": args, "session": session.id})

    def drop(self) -> None:
        self.gone = True
        self.protocol.connectionLost(None)


class NativeMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.failures: list[str] = []
        globalLogPublisher.addObserver(self._observe)
        self.clock = Clock()
        self.clock.advance(1_764_000_000)
        self.chat = ChatServer(self.clock, exit_code=TEST_EXIT_CODE, passwords=quick_passwords(), idle_timeout=60)
        self.factory = NativeFactory(self.chat, "fuzz", login_grace=100)
        self.clients = [FuzzClient(self.factory, n) for n in range(4)]
        self.private_targets: dict[str, object] = {}
        """Each private message's text, and the participant it was sent to."""
        self.before: dict[int, tuple[set[int], set[int]]] = {}
        """Each session's members and invited users (by id) after the last step."""
        self.step()

    def _observe(self, event: dict) -> None:
        if "log_failure" in event:
            self.failures.append(str(event["log_failure"].value))

    def all_clients(self) -> list:
        return self.clients

    def step(self) -> None:
        self.clock.advance(0.3)
        # Connections the server closed end first, so that every other client
        # has read what their leaving caused before the invariants are checked.
        for client in self.all_clients():
            if client.transport.disconnecting and not client.gone:
                client.read()
                client.drop()
        for client in self.all_clients():
            if not client.gone:
                client.read()
        # A rule may take several steps (a create, a ban, then a join): each
        # step's joins are held to the rules as they were just before it.
        self.joins_keep_the_rules()

    def live(self) -> list[FuzzClient]:
        return [c for c in self.clients if not c.gone]

    def pick(self, data, in_session: bool) -> FuzzClient:
        """Mostly a client for which the action makes sense, sometimes any (to hit wrong_state)."""
        fitting = [c for c in self.live() if (c.session is not None) == in_session]
        wrong = data.draw(st.integers(0, 9)) == 0
        return data.draw(st.sampled_from(fitting if fitting and not wrong else self.live()))

    def sessions(self) -> list[int]:
        return [1, 1, 2, 3, 99, *[s for s in self.chat.sessions if s > 9]]

    def session_of(self, data, client: FuzzClient) -> int | None:
        """Mostly one of the client's sessions; sometimes none (ambiguous with 2+) or one it is not in."""
        return data.draw(st.sampled_from([*client.views, *client.views, None, 2]))

    @precondition(lambda self: any(not c.gone for c in self.clients))
    @rule(data=st.data(), name=st.sampled_from(NAMES), password=st.sampled_from([None, "12345", "12345", "54321"]))
    def join(self, data, name, password) -> None:
        client = self.pick(data, in_session=False)
        session = data.draw(st.sampled_from(self.sessions()))
        client.send({"type": "join", "session": session, "username": name, "password": password})
        self.step()

    @precondition(lambda self: any(not c.gone for c in self.clients))
    @rule(data=st.data(), session=st.sampled_from(SESSION_NAMES), name=st.sampled_from(NAMES),
          password=st.sampled_from([None, "12345"]))
    def create(self, data, session, name, password) -> None:
        client = self.pick(data, in_session=False)
        client.send({"type": "create", "name": session, "username": name, "password": password})
        self.step()

    @precondition(lambda self: any(not c.gone for c in self.clients))
    @rule(data=st.data(), text=st.text(min_size=1, max_size=30), action=st.sampled_from([None, False, True, "yes"]))
    def say(self, data, text, action) -> None:
        client = self.pick(data, in_session=True)
        client.send({"type": "say", "text": text, "session": self.session_of(data, client), "action": action})
        self.step()

    @precondition(lambda self: any(not c.gone for c in self.clients))
    @rule(data=st.data(), command=st.sampled_from(["help", "quote", "time", "echo", "kick", "quit", "close", "nope"]),
          args=st.sampled_from(["", "alice", "bob", "carol", "dave", "erin", "carol x", "  ", "see you"]))
    def command(self, data, command, args) -> None:
        client = self.pick(data, in_session=True)
        client.send({"type": "command", "name": command, "args": args, "session": self.session_of(data, client)})
        self.step()

    @precondition(lambda self: any(not c.gone for c in self.clients))
    @rule(data=st.data(), command=st.sampled_from(RULE_COMMANDS))
    def rule_command(self, data, command) -> None:
        client = self.pick(data, in_session=True)
        name, args = command
        client.send({"type": "command", "name": name, "args": args, "session": self.session_of(data, client)})
        self.step()

    @precondition(lambda self: any(not c.gone for c in self.clients))
    @rule(data=st.data(), name=st.sampled_from(NAMES + ["alice2", "GloziServ"]))
    def nick(self, data, name) -> None:
        data.draw(st.sampled_from(self.live())).send({"type": "nick", "name": name})
        self.step()

    @precondition(lambda self: any(not c.gone for c in self.clients))
    @rule(data=st.data(), to=st.sampled_from(NAMES + ["alice2", "irc0", "nobody"]), action=st.booleans())
    def private(self, data, to, action) -> None:
        client = data.draw(st.sampled_from(self.live()))
        text = f"pm{len(self.private_targets)}"
        self.private_targets[text] = self.chat.user_named(to) if client.protocol.participant.nick else None
        client.send({"type": "private", "to": to, "text": text, "action": action})
        self.step()

    @precondition(lambda self: any(not c.gone for c in self.clients))
    @rule(data=st.data(), message=st.sampled_from([None, "", "out", "out", "back soon", "x" * 201]), whois=st.sampled_from(NAMES))
    def presence(self, data, message, whois) -> None:
        client = data.draw(st.sampled_from(self.live()))
        client.send({"type": "away", "message": message})
        client.send({"type": "whois", "name": whois})
        self.step()

    @precondition(lambda self: any(not c.gone for c in self.clients))
    @rule(data=st.data(), line=st.sampled_from(GARBAGE))
    def garbage(self, data, line) -> None:
        client = data.draw(st.sampled_from(self.live()))
        client.send(line)
        self.step()

    @precondition(lambda self: any(not c.gone for c in self.clients))
    @rule(data=st.data())
    def disconnect(self, data) -> None:
        data.draw(st.sampled_from(self.live())).drop()
        self.step()

    @rule()
    def reconnect(self) -> None:
        self.clients.append(FuzzClient(self.factory, len(self.clients)))
        self.step()

    def admins(self) -> list[tuple[FuzzClient, Session]]:
        """Every live client that is the admin of a session, with that session."""
        return [
            (client, member.session)
            for client in self.all_clients()
            if not client.gone
            for member in client.protocol.participant.members.values()
            if member.is_admin
        ]

    def outsiders(self, session: Session) -> list:
        """Live clients of either door not in ``session`` that can ask to join it."""
        return [
            client
            for client in self.all_clients()
            if not client.gone
            and session.id not in client.protocol.participant.members
            and (client.protocol.participant.nick is not None or isinstance(client, FuzzClient))
        ]

    def free_name(self, client) -> str:
        """The name ``client`` joins with: its nick, else one nobody holds."""
        nick = client.protocol.participant.nick
        return nick or next((n for n in [*NAMES, "frank", "grace"] if self.chat.user_named(n) is None), "heidi")

    def key_of(self, session: Session) -> str | None:
        """The key that opens ``session``: sessions are locked only with ``KEYS``."""
        if session.password_hash is None:
            return None
        return next((key for key in KEYS if verify_password(key, session.password_hash)), None)

    @precondition(lambda self: any(not c.gone for c in self.clients))
    @rule(data=st.data(), how=st.sampled_from(ADMISSION_RULES))
    def admin_rules_then_someone_joins(self, data, how) -> None:
        """An admin (when there is none, a client creates a session first) bans,
        kick-and-bans, makes invite-only or fills a session and then the one it
        concerns (after +i or +l: everyone outside) joins with the right key, so
        that every join check (ban, invite-only, limit) is tried often, not only
        by chance."""
        if not self.admins():
            creator = data.draw(st.sampled_from(self.live()))
            creator.send({"type": "create", "name": "porch", "username": self.free_name(creator)})
            self.step()
            if not self.admins():
                return
        admin, session = data.draw(st.sampled_from(self.admins()))
        members = [
            c for c in self.all_clients()
            if not c.gone and c is not admin and session.id in c.protocol.participant.members
        ]
        if how == "ban" and members:
            joiners = [data.draw(st.sampled_from(members))]
        elif how in ("+b", "ban"):
            how = "+b"
            joiners = [data.draw(st.sampled_from(self.outsiders(session) or [admin]))]
        else:
            joiners = self.outsiders(session)
        name = self.free_name(joiners[0]) if joiners else "nobody"
        admin.set_rule(session, how, str(len(session.members)) if how == "+l" else name)
        self.step()
        for joiner in joiners:
            if not joiner.gone and session.id in self.chat.sessions:
                joiner.try_join(session, self.free_name(joiner), self.key_of(session))
                self.step()

    @rule(seconds=st.sampled_from([1, 1, 5, 31, 61, 101]))
    def wait(self, seconds) -> None:
        self.clock.advance(seconds)
        self.step()

    @invariant()
    def views_match_server(self) -> None:
        for client in self.live():
            members = client.protocol.participant.members
            assert set(client.views) == set(members), (client.views, members)
            for session_id, member in members.items():
                server_view = {m.name.lower(): m.participant.away for m in member.session.members.values()}
                assert client.views[session_id] == server_view, (client.views, server_view)

    @invariant()
    def users_agree_with_sessions(self) -> None:
        for participant in self.chat.participants:
            for session_id, member in participant.members.items():
                assert member.session.id == session_id and member.name == participant.nick
                assert member.session.members[name_key(participant.nick)] is member
        for session in self.chat.sessions.values():
            for member in session.members.values():
                assert member.participant.members[session.id] is member

    @invariant()
    def privates_reach_only_their_target(self) -> None:
        for client in self.all_clients():
            for text in client.privates:
                assert self.private_targets[text] is client.protocol.participant, text

    @invariant()
    def one_admin_per_created_session(self) -> None:
        for session in self.chat.sessions.values():
            if session.permanent:
                assert session.admin is None
            elif session.members:
                assert session.admin is not None and session.admin in session.members.values()
            else:
                raise AssertionError("an empty created session was kept")

    @invariant()
    def joins_keep_the_rules(self) -> None:
        """Who joined since the last step was not banned (or a ban exception
        matched them), was invited to an invite-only session (or an invite
        exception matched them), and did not take it past its limit (unless invited)."""
        for session in self.chat.sessions.values():
            members, invited = self.before.get(session.id, (set(), set()))
            new = [m for m in session.members.values() if id(m) not in members]
            for member in new:
                who = rules.user_mask(member.name)
                banned = any(matches(mask, who) for mask in session.rules.bans)
                assert not banned or any(matches(mask, who) for mask in session.rules.exceptions), (session.name, member.name)
                excepted = any(matches(mask, who) for mask in session.rules.invite_exceptions)
                if session.rules.invite_only and members and not excepted:
                    assert id(member.participant) in invited, (session.name, member.name)
            # An invitation lets its user past the limit (Modern IRC); nobody else gets past it.
            uninvited = [m for m in new if id(m.participant) not in invited]
            if uninvited and session.rules.limit is not None:
                past = len(session.members) - (len(new) - len(uninvited))
                assert past <= session.rules.limit, (session.name, len(session.members))
        self.before = {
            session.id: ({id(m) for m in session.members.values()}, {id(p) for p in session.rules.invited})
            for session in self.chat.sessions.values()
        }

    @invariant()
    def no_failure_logged(self) -> None:
        assert self.failures == [], self.failures

    def teardown(self) -> None:
        globalLogPublisher.removeObserver(self._observe)


NativeMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


class NativeFuzzTests(NativeMachine.TestCase):
    def test_random_sequences_keep_invariants(self) -> None:
        """Random frame sequences from several clients never break the invariants."""
        self.runTest()
