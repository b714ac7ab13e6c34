"""A chat session over TLS with the real server and a certificate made by the test."""

import json
import os
from pathlib import Path

from twisted.internet import defer, reactor, ssl
from twisted.internet.endpoints import SSL4ClientEndpoint, connectProtocol
from twisted.trial.unittest import TestCase

from glozi.client.protocol import connect
from glozi.client.state import trust_notice
from glozi.client.trust import CertificateChanged, KnownServers, TrustResult
from glozi.discovery.probe import Answer, decode_answer, encode_answer
from tests.certs import make_self_signed
from tests.realserver import FrameClient, start_server


class TLSTests(TestCase):
    timeout = 60

    @defer.inlineCallbacks
    def test_session_over_tls(self) -> None:
        """With an ssl: endpoint, two clients that trust the certificate chat through TLS."""
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        key, cert = make_self_signed(directory)
        server = yield start_server(self, "--port", f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}")
        with open(cert) as f:
            authority = ssl.Certificate.loadPEM(f.read())
        options = ssl.optionsForClientTLS("localhost", trustRoot=authority)
        clients = []
        for _ in range(2):
            client = FrameClient()
            yield connectProtocol(SSL4ClientEndpoint(reactor, "127.0.0.1", server.port, options), client)
            self.addCleanup(client.transport.loseConnection)
            welcome = yield client.next()
            self.assertEqual(welcome["type"], "welcome")
            clients.append(client)
        alice, bob = clients
        created = yield alice.request(type="create", name="secure", username="alice", password="27182")
        joined = yield bob.request(type="join", session=created["session"]["id"], username="bob", password="27182")
        self.assertEqual(joined["type"], "joined")
        yield alice.next()
        ack = yield bob.request(type="say", text="over TLS")
        message = yield alice.next()
        self.assertEqual((message["text"], message["ts"]), ("over TLS", ack["ts"]))
        self.assertIsNotNone(bob.transport.getPeerCertificate())

    @defer.inlineCallbacks
    def test_untrusted_certificate_refused(self) -> None:
        """A client that does not trust the server's certificate gets no chat."""
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        key, cert = make_self_signed(directory)
        _other_key, other_cert = make_self_signed(os.path.dirname(directory))
        server = yield start_server(self, "--port", f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}")
        with open(other_cert) as f:
            stranger = ssl.Certificate.loadPEM(f.read())
        client = FrameClient()
        options = ssl.optionsForClientTLS("localhost", trustRoot=stranger)
        yield connectProtocol(SSL4ClientEndpoint(reactor, "127.0.0.1", server.port, options), client)
        yield client.lost
        self.assertEqual(list(client.frames), [])


class ClientTrustTests(TestCase):
    """The client trusts a TLS server on first use, or through a CA file."""

    timeout = 60

    @defer.inlineCallbacks
    def start_tls_server(self):
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        key, cert = make_self_signed(directory)
        server = yield start_server(self, "--port", f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}")
        return server, cert, directory

    @defer.inlineCallbacks
    def test_trust_on_first_use_then_refuse_a_changed_certificate(self) -> None:
        """First visit remembers the fingerprint, the next is checked, a different one is refused."""
        server, _cert, directory = yield self.start_tls_server()
        known = KnownServers(Path(directory) / "known.json")
        first = yield connect(reactor, "127.0.0.1", server.port, _Quiet(), tls=True, known_servers=known)
        self.addCleanup(first.transport.loseConnection)
        self.assertTrue(first.trust.first_use)
        self.assertRegex(first.trust.fingerprint, r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$")
        notice = trust_notice(first.trust)
        self.assertIn(first.trust.fingerprint, notice.text)
        again = yield connect(reactor, "127.0.0.1", server.port, _Quiet(), tls=True, known_servers=known)
        self.addCleanup(again.transport.loseConnection)
        self.assertEqual(again.trust, TrustResult(first.trust.fingerprint, first_use=False))
        answer = yield again.request("list")
        self.assertEqual(answer["type"], "sessions")

        (Path(directory) / "known.json").write_text(json.dumps({f"127.0.0.1:{server.port}": "AA:BB"}))
        attempt = connect(reactor, "127.0.0.1", server.port, _Quiet(), tls=True, known_servers=known)
        changed = yield self.assertFailure(attempt, CertificateChanged)
        self.assertEqual((changed.known, changed.presented), ("AA:BB", first.trust.fingerprint))

    @defer.inlineCallbacks
    def test_ca_file(self) -> None:
        """With a CA file the certificate is verified by OpenSSL and nothing is remembered."""
        server, cert, directory = yield self.start_tls_server()
        known = KnownServers(Path(directory) / "untouched.json")
        protocol = yield connect(
            reactor, "localhost", server.port, _Quiet(), tls=True, ca_file=cert, known_servers=known
        )
        self.addCleanup(protocol.transport.loseConnection)
        self.assertFalse(protocol.trust.first_use)
        self.assertFalse(known.path.exists())

    def test_discovery_answer_says_tls(self) -> None:
        """Discovery answers carry the tls flag; an answer without it means plain TCP."""
        answer = Answer(name="lab", host="10.0.0.1", port=7557, irc_port=None, nonce="ab" * 16, tls=True)
        self.assertTrue(decode_answer(encode_answer(answer)).tls)
        fields = json.loads(encode_answer(answer))
        del fields["tls"]
        self.assertFalse(decode_answer(json.dumps(fields).encode()).tls)
        fields["tls"] = "yes"
        self.assertIsNone(decode_answer(json.dumps(fields).encode()))


class _Quiet:
    def frame_received(self, protocol: object, frame: dict) -> None:
        pass

    def connection_lost(self, protocol: object, clean: bool) -> None:
        pass
