"""Random frame sequences against the native door, checked against invariants.

Several clients on StringTransports act at random (join, create, chat, every
command, malformed lines, abrupt disconnects, time passing). Each client keeps
its own view of its session from the frames it received; after every step the
views must agree with the server's state, every created session with members
has exactly one admin, and nobody receives a message for a session they are
not in.
"""

import json

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import globalLogPublisher

from glozi.domain.chat import ChatServer
from glozi.doors.native import wire
from glozi.doors.native.protocol import NativeFactory
from tests.helpers import TEST_EXIT_CODE, quick_passwords

NAMES = ["alice", "bob", "carol", "dave", "erin"]
SESSION_NAMES = ["garden", "attic", "Garden"]
GARBAGE = [b"{", b"[]", b"\xff", b'{"type":"join","session":"x"}', b'{"type":"say","text":"\\ud800"}', b"x" * 5000]


class FuzzClient:
    """A client and its own view of the session it is in, built only from frames."""

    def __init__(self, factory: NativeFactory, number: int) -> None:
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", f"10.1.0.{number}", 5000 + number))
        self.protocol = factory.buildProtocol(self.transport.getPeer())
        self.protocol.makeConnection(self.transport)
        self.session: int | None = None
        self.members: set[str] = set()
        self.me: str | None = None
        self.gone = False

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
            assert self.session is None, f"joined while in {self.session}"
            self.session = frame["session"]["id"]
            self.me = frame["you"]
            self.members = {m["name"].lower() for m in frame["members"]}
        elif kind == "member_joined":
            assert frame["session"] == self.session, "member_joined for another session"
            self.members.add(frame["name"].lower())
        elif kind == "member_left":
            assert frame["session"] == self.session, "member_left for another session"
            self.members.discard(frame["name"].lower())
        elif kind in ("message", "admin_changed", "idle_warning"):
            assert frame["session"] == self.session, f"{kind} for a session we are not in"
        elif kind == "left":
            assert frame["session"] == self.session
            self.session, self.members, self.me = None, set(), None

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

    def live(self) -> list[FuzzClient]:
        return [c for c in self.clients if not c.gone]

    def pick(self, data, in_session: bool) -> FuzzClient:
        """Mostly a client for which the action makes sense, sometimes any (to hit wrong_state)."""
        fitting = [c for c in self.live() if (c.session is not None) == in_session]
        wrong = data.draw(st.integers(0, 9)) == 0
        return data.draw(st.sampled_from(fitting if fitting and not wrong else self.live()))

    def sessions(self) -> list[int]:
        return [1, 1, 2, 99, *[s for s in self.chat.sessions if s > 9]]

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
    @rule(data=st.data(), text=st.text(min_size=1, max_size=30))
    def say(self, data, text) -> None:
        client = self.pick(data, in_session=True)
        client.send({"type": "say", "text": text})
        self.step()

    @precondition(lambda self: any(not c.gone for c in self.clients))
    @rule(data=st.data(), command=st.sampled_from(["help", "quote", "time", "echo", "kick", "quit", "close", "nope"]),
          args=st.sampled_from(["", "alice", "bob", "carol", "dave", "erin", "carol x", "  "]))
    def command(self, data, command, args) -> None:
        client = self.pick(data, in_session=True)
        client.send({"type": "command", "name": command, "args": args})
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

    @rule(seconds=st.sampled_from([1, 1, 5, 31, 61, 101]))
    def wait(self, seconds) -> None:
        self.clock.advance(seconds)
        self.step()

    @invariant()
    def views_match_server(self) -> None:
        for client in self.live():
            member = client.protocol.participant.member
            if client.session is None:
                assert member is None, "the server has a member the client thinks left"
                continue
            assert member is not None and member.session.id == client.session
            server_view = {m.name.lower() for m in member.session.members.values()}
            assert client.members == server_view, (client.members, server_view)

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
