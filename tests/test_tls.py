"""A chat session over TLS with the real server and a certificate made by the test."""

import os

from twisted.internet import defer, reactor, ssl
from twisted.internet.endpoints import SSL4ClientEndpoint, connectProtocol
from twisted.trial.unittest import TestCase

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
