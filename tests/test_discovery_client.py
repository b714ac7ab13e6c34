"""The discovery client on a memory reactor: schedule, answers, de-duplication, failure; a real ICMP send on lo."""

import select

from twisted.internet.defer import CancelledError, fail, succeed
from twisted.trial.unittest import SynchronousTestCase

from glozi.discovery.client import NoServerFound, discover
from glozi.discovery.icmpwire import internet_checksum
from glozi.discovery.probe import Answer, decode_probe, encode_answer
from tests.discovery_fakes import UDPMemoryReactor
from tests.test_discovery_sniffer import LOOPBACK_LINK_HEADER_BYTES, loopback_echo_request_capture

TARGET = "10.9.0.255"


def answer_for(nonce: str, host: str = "10.9.0.1", port: int = 7557, name: str = "lab") -> bytes:
    return encode_answer(Answer(name=name, host=host, port=port, irc_port=None, nonce=nonce))


class ClientTests(SynchronousTestCase):
    def start(self, **kwargs):
        reactor = UDPMemoryReactor()
        kwargs.setdefault("targets", [TARGET])
        kwargs.setdefault("methods", ("udp",))
        finding = discover(reactor, **kwargs)
        [(_, _, transport)] = reactor.udp_ports
        return reactor, transport, finding

    def probes(self, transport):
        return [(decode_probe(data), addr) for data, addr in transport.written]

    def test_retries_with_backoff(self) -> None:
        """Probes go out at 0, 0.25 and 0.75 s, each with a fresh nonce naming our port, then stop."""
        reactor, transport, finding = self.start(
            timeout=2.0, attempts=3, first_retry=0.25, discovery_port=7558
        )
        self.assertTrue(transport.broadcast_allowed)
        self.assertEqual(len(transport.written), 1)
        reactor.advance(0.25)
        self.assertEqual(len(transport.written), 2)
        reactor.advance(0.5)
        self.assertEqual(len(transport.written), 3)
        reactor.advance(1.0)
        probes = self.probes(transport)
        self.assertEqual(len(probes), 3)
        self.assertNoResult(finding)
        reactor.advance(0.25)
        self.assertEqual({addr for _, addr in probes}, {(TARGET, 7558)})
        self.assertEqual({p.reply_port for p, _ in probes}, {transport.getHost().port})
        self.assertEqual(len({p.nonce for p, _ in probes}), 3)
        self.failureResultOf(finding, NoServerFound)

    def test_collects_and_deduplicates(self) -> None:
        """Answers from two servers, repeated, become two entries ordered by first answer."""
        reactor, transport, finding = self.start(timeout=1.0)
        first = self.probes(transport)[0][0].nonce
        reactor.advance(0.1)
        transport.protocol.datagramReceived(
            answer_for(first, host="10.9.0.7", name="second"), ("10.9.0.7", 7558)
        )
        reactor.advance(0.15)
        second = self.probes(transport)[1][0].nonce
        transport.protocol.datagramReceived(answer_for(first), ("10.9.0.1", 7558))
        transport.protocol.datagramReceived(answer_for(second), ("10.9.0.1", 7558))
        transport.protocol.datagramReceived(
            answer_for(second, host="10.9.0.7", name="second"), ("10.9.0.7", 7558)
        )
        self.assertNoResult(finding)
        reactor.advance(1.0)
        servers = self.successResultOf(finding)
        self.assertEqual(
            [(s.name, s.host, s.port, s.via) for s in servers],
            [("second", "10.9.0.7", 7557, ("udp",)), ("lab", "10.9.0.1", 7557, ("udp",))],
        )
        self.assertAlmostEqual(servers[0].seconds, 0.1)
        self.assertFalse(transport.listening)

    def test_unsolicited_answers_ignored(self) -> None:
        """Answers echoing a nonce we never sent, or garbage, are not servers."""
        reactor, transport, finding = self.start(timeout=1.0)
        transport.protocol.datagramReceived(answer_for("f" * 32), ("10.9.0.66", 7558))
        transport.protocol.datagramReceived(b"not an answer", ("10.9.0.66", 7558))
        reactor.advance(1.0)
        self.failureResultOf(finding, NoServerFound)

    def test_no_server_found_says_what_was_tried(self) -> None:
        """Nothing answering gives NoServerFound naming the window, the targets and a skipped ICMP probe."""
        reactor, _, finding = self.start(timeout=1.5, methods=("icmp", "udp"), may_send_icmp=lambda: False)
        reactor.advance(1.5)
        message = str(self.failureResultOf(finding, NoServerFound).value)
        self.assertIn("1.5 s", message)
        self.assertIn(TARGET, message)
        self.assertIn("needs root or CAP_NET_RAW", message)

    def test_icmp_path(self) -> None:
        """With privilege the ICMP sender gets the targets and a probe; its answer is marked via icmp."""
        sent = []

        def sender(targets, payload):
            sent.append((list(targets), decode_probe(payload)))
            return succeed(None)

        reactor, transport, finding = self.start(
            timeout=1.0, methods=("icmp",), icmp_sender=sender, may_send_icmp=lambda: True
        )
        [(targets, probe)] = sent
        self.assertEqual(targets, [TARGET])
        self.assertEqual(probe.reply_port, transport.getHost().port)
        self.assertEqual(transport.written, [])
        transport.protocol.datagramReceived(answer_for(probe.nonce), ("10.9.0.1", 50000))
        reactor.advance(1.0)
        [server] = self.successResultOf(finding)
        self.assertEqual(server.via, ("icmp",))

    def test_icmp_send_failure_noted(self) -> None:
        """A failing ICMP send does not stop the UDP path and is reported if nothing answers."""

        def sender(targets, payload):
            return fail(PermissionError(1, "Operation not permitted"))

        reactor, transport, finding = self.start(
            timeout=1.0, methods=("icmp", "udp"), icmp_sender=sender, may_send_icmp=lambda: True
        )
        self.assertEqual(len(transport.written), 1)
        reactor.advance(1.0)
        self.assertIn("ICMP probe failed", str(self.failureResultOf(finding, NoServerFound).value))

    def test_stop_at_first(self) -> None:
        """With stop_at_first the result comes with the first answer and the port closes."""
        reactor, transport, finding = self.start(timeout=5.0, stop_at_first=True)
        nonce = self.probes(transport)[0][0].nonce
        reactor.advance(0.05)
        transport.protocol.datagramReceived(answer_for(nonce), ("10.9.0.1", 7558))
        [server] = self.successResultOf(finding)
        self.assertEqual(server.host, "10.9.0.1")
        self.assertFalse(transport.listening)
        self.assertEqual(reactor.getDelayedCalls(), [])

    def test_cancel(self) -> None:
        """Cancelling stops the timers and closes the port."""
        reactor, transport, finding = self.start(timeout=5.0)
        finding.cancel()
        self.failureResultOf(finding, CancelledError)
        self.assertFalse(transport.listening)
        self.assertEqual(reactor.getDelayedCalls(), [])

    def test_bad_arguments(self) -> None:
        """Unknown methods or a non-positive window fail at once with ValueError."""
        reactor = UDPMemoryReactor()
        self.failureResultOf(discover(reactor, methods=("carrier-pigeon",)), ValueError)
        self.failureResultOf(discover(reactor, timeout=0), ValueError)
        self.assertEqual(reactor.udp_ports, [])


class RealIcmpSendTests(SynchronousTestCase):
    def test_probe_leaves_during_discover_without_threads(self) -> None:
        """The ICMP probe is on lo when discover() returns, sent on the reactor thread (a memory reactor has no thread pool)."""
        capture = loopback_echo_request_capture(self)
        reactor = UDPMemoryReactor(first_port=40123)
        finding = discover(reactor, targets=["127.0.0.1"], methods=("icmp",), timeout=1.0)
        seen = []
        for _ in range(20):
            if not select.select([capture], [], [], 0.5)[0]:
                break
            datagram = capture.recv(4096)[LOOPBACK_LINK_HEADER_BYTES:]
            header = (datagram[0] & 0x0F) * 4
            probe = decode_probe(datagram[header + 8 :])
            if probe is not None and probe.reply_port == 40123:
                seen.append((datagram[header], internet_checksum(datagram[header:])))
        self.assertEqual(seen, [(8, 0)])
        reactor.advance(1.0)
        self.failureResultOf(finding, NoServerFound)
