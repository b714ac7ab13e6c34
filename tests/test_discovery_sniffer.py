"""The ICMP sniffer: the pure packet reduction, the service's reports, and (as root) real capture on lo."""

import os
import select
import socket
import struct
import threading

from twisted.internet import defer, reactor
from twisted.logger import LogLevel, globalLogPublisher
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from glozi.discovery.icmpfilter import attach_echo_request_filter
from glozi.discovery.probe import encode_probe, new_probe
from glozi.discovery.sniffer import (
    START_TIMEOUT_SECONDS,
    SnifferError,
    SnifferService,
    probe_from_packet,
)
from tests.discovery_fakes import ThreadlessReactor


def capture_log(test: SynchronousTestCase) -> list[dict]:
    events: list[dict] = []
    globalLogPublisher.addObserver(events.append)
    test.addCleanup(globalLogPublisher.removeObserver, events.append)
    return events


def sniffer_events(events: list[dict], level: LogLevel) -> list[dict]:
    return [e for e in events if e.get("log_level") == level and "sniffer" in e.get("log_format", "")]


class ProbeFromPacketTests(SynchronousTestCase):
    def setUp(self) -> None:
        from scapy.layers.inet import ICMP, IP, UDP
        from scapy.layers.l2 import Ether
        from scapy.packet import Raw

        self.layers = (Ether, IP, ICMP, UDP, Raw)
        self.probe = new_probe(50000)

    def test_echo_request_with_probe(self) -> None:
        """An ICMP echo request carrying a probe yields it, with the IP source and capture interface."""
        Ether, IP, ICMP, _, Raw = self.layers
        packet = Ether() / IP(src="10.9.0.2", dst="10.9.0.255") / ICMP(type=8) / Raw(encode_probe(self.probe))
        sniffed = probe_from_packet(Ether(bytes(packet)), "veth0")
        self.assertEqual(
            (sniffed.probe, sniffed.source, sniffed.interface), (self.probe, "10.9.0.2", "veth0")
        )

    def test_other_packets(self) -> None:
        """Echo replies, other ICMP, UDP, fragments, foreign payloads and None yield None."""
        Ether, IP, ICMP, UDP, Raw = self.layers
        payload = Raw(encode_probe(self.probe))
        packets = [
            IP(src="10.9.0.2", dst="10.9.0.1") / ICMP(type=0) / payload,
            IP(src="10.9.0.2", dst="10.9.0.1") / ICMP(type=13) / payload,
            IP(src="10.9.0.2", dst="10.9.0.1") / UDP(dport=7558) / payload,
            IP(src="10.9.0.2", dst="10.9.0.1", flags="MF") / ICMP(type=8) / payload,
            IP(src="10.9.0.2", dst="10.9.0.1") / ICMP(type=8) / Raw(b"abcdefgh" * 7),
            IP(src="10.9.0.2", dst="10.9.0.1") / ICMP(type=8),
        ]
        for packet in packets:
            self.assertIsNone(probe_from_packet(Ether() / packet, "eth0"), packet.summary())
        self.assertIsNone(probe_from_packet(None, "eth0"))
        self.assertIsNone(probe_from_packet(Raw(b"\x00" * 30), "eth0"))


def inline_thread(target) -> None:
    target()


class SnifferServiceReportTests(SynchronousTestCase):
    def test_no_privilege_one_warning(self) -> None:
        """Without CAP_NET_RAW the sniffer logs exactly one warning, no error, and stops cleanly."""
        events = capture_log(self)

        def refuse(interfaces):
            raise PermissionError(1, "Operation not permitted")

        service = SnifferService(
            ThreadlessReactor(), lambda sniffed: None, open_sockets=refuse, start_thread=inline_thread
        )
        service.startService()
        [warning] = sniffer_events(events, LogLevel.warn)
        self.assertIn("CAP_NET_RAW", warning["log_format"])
        self.assertEqual(sniffer_events(events, LogLevel.error), [])
        self.successResultOf(service.stopService())

    def test_filter_failure_reported(self) -> None:
        """A filter the kernel refuses is logged as an error naming the interface."""
        events = capture_log(self)

        def fail(interfaces):
            raise SnifferError("cannot attach the ICMP probe filter on 'eth0': [Errno 22] Invalid argument")

        service = SnifferService(
            ThreadlessReactor(), lambda sniffed: None, open_sockets=fail, start_thread=inline_thread
        )
        service.startService()
        [error] = sniffer_events(events, LogLevel.error)
        self.assertIn("filter on 'eth0'", str(error["error"]))
        self.successResultOf(service.stopService())

    def test_silent_start_reported(self) -> None:
        """A thread that never reports is called out after the start timeout."""
        events = capture_log(self)
        clock = ThreadlessReactor()
        service = SnifferService(clock, lambda sniffed: None, start_thread=lambda target: None)
        service.startService()
        clock.advance(START_TIMEOUT_SECONDS)
        [error] = sniffer_events(events, LogLevel.error)
        self.assertIn("did not report", error["log_format"])


def icmp_packet(icmp_type: int, payload: bytes) -> bytes:
    header = struct.pack("!BBHHH", icmp_type, 0, 0, 0x4242, 1) + payload
    padded = header + (b"\0" if len(header) % 2 else b"")
    total = sum(struct.unpack(f"!{len(padded) // 2}H", padded))
    total = (total >> 16) + (total & 0xFFFF)
    checksum = ~(total + (total >> 16)) & 0xFFFF
    return struct.pack("!BBHHH", icmp_type, 0, checksum, 0x4242, 1) + payload


def require_raw_sockets() -> None:
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()
    except (OSError, AttributeError) as error:
        raise SkipTest(f"capturing needs root or CAP_NET_RAW on Linux: {error}") from error


def send_to_loopback(icmp_type: int, payload: bytes) -> None:
    """Send one ICMP message to 127.0.0.1 (loopback only)."""
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as raw:
        raw.sendto(icmp_packet(icmp_type, payload), ("127.0.0.1", 0))


class KernelFilterTests(SynchronousTestCase):
    def test_only_incoming_echo_requests_pass(self) -> None:
        """On lo, the filter passes an echo request once (not its outgoing copy), and no reply or UDP."""
        require_raw_sockets()
        capture = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.addCleanup(capture.close)
        attach_echo_request_filter(capture)
        capture.bind(("lo", 0x0003))
        marker = os.urandom(6).hex().encode()
        send_to_loopback(0, b"reply-" + marker)
        send_to_loopback(13, b"stamp-" + marker)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(b"udp-" + marker, ("127.0.0.1", 9))
        send_to_loopback(8, b"request-" + marker)
        seen = []
        for _ in range(20):
            if not select.select([capture], [], [], 0.1)[0]:
                break
            data = capture.recv(4096)
            if marker in data:
                seen.append(data[data.index(marker) - 8 : data.index(marker)])
        self.assertEqual(seen, [b"request-"])


class RealCaptureTests(TestCase):
    timeout = 30

    @defer.inlineCallbacks
    def test_capture_on_loopback_and_clean_stop(self) -> None:
        """The real sniffer on lo hands one probe to the reactor thread, then its thread ends at stop."""
        require_raw_sockets()
        delivered = []
        arrived: defer.Deferred[None] = defer.Deferred()

        def deliver(sniffed) -> None:
            delivered.append((sniffed, threading.current_thread() is threading.main_thread()))
            if not arrived.called:
                reactor.callLater(0.3, arrived.callback, None)

        service = SnifferService(reactor, deliver, ["lo"])
        service.startService()
        stopped = False

        def stop():
            return None if stopped else service.stopService()

        self.addCleanup(stop)
        names = yield service.when_capturing().addTimeout(20, reactor)
        self.assertEqual(names, ["lo"])
        probe = new_probe(50000)
        send_to_loopback(8, encode_probe(probe))
        yield arrived.addTimeout(10, reactor)
        self.assertEqual(
            [(s.probe, s.source, s.interface, on_main) for s, on_main in delivered],
            [(probe, "127.0.0.1", "lo", True)],
        )
        stopped = True
        yield service.stopService()
        self.assertEqual([t for t in threading.enumerate() if t.name == "glozi-discovery-sniffer"], [])
