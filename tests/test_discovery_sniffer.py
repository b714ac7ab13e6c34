"""The ICMP sniffer: the pure packet reduction, the service's reports, and (as root) real capture on lo."""

import os
import select
import socket
import threading
from typing import Any

from twisted.internet import defer, reactor
from twisted.logger import LogLevel, globalLogPublisher
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from glozi.discovery.icmpfilter import attach_echo_request_filter
from glozi.discovery.icmpwire import icmp_message
from glozi.discovery.interfaces import LocalAddresses
from glozi.discovery.probe import encode_probe, new_probe
from glozi.discovery.sniffer import (
    START_TIMEOUT_SECONDS,
    SnifferError,
    SnifferService,
    probe_from_packet,
)
from tests.discovery_fakes import ThreadlessReactor, interface


def capture_log(test: SynchronousTestCase) -> list[dict]:
    events: list[dict] = []
    globalLogPublisher.addObserver(events.append)
    test.addCleanup(globalLogPublisher.removeObserver, events.append)
    return events


def sniffer_events(events: list[dict], level: LogLevel) -> list[dict]:
    return [e for e in events if e.get("log_level") == level and "sniffer" in e.get("log_format", "")]


LOCAL = LocalAddresses.of(
    [
        interface("lo", "127.0.0.1", 8, loopback=True),
        interface("veth0", "10.9.0.1", 24),
        interface("veth0", "10.9.6.1", 24),
        interface("eth1", "172.20.0.1", 16),
    ]
)


class ProbeFromPacketTests(SynchronousTestCase):
    def setUp(self) -> None:
        from scapy.layers.inet import ICMP, IP, UDP
        from scapy.layers.l2 import Ether
        from scapy.packet import Raw

        self.layers = (Ether, IP, ICMP, UDP, Raw)
        self.probe = new_probe(50000)

    def captured(self, destination: str, interface: str = "veth0", **icmp_fields: int) -> object:
        """What the sniffer would read: a probe echo request from 10.9.0.2, dissected from its bytes."""
        Ether, IP, ICMP, _, Raw = self.layers
        packet = Ether() / IP(src="10.9.0.2", dst=destination) / ICMP(type=8, **icmp_fields) / Raw(encode_probe(self.probe))
        return probe_from_packet(Ether(bytes(packet)), interface, LOCAL)

    def test_echo_request_with_probe(self) -> None:
        """An ICMP echo request carrying a probe yields it, with the IP source and capture interface."""
        sniffed = self.captured("10.9.0.255")
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
            self.assertIsNone(probe_from_packet(Ether(bytes(Ether() / packet)), "veth0", LOCAL), packet.summary())
        self.assertIsNone(probe_from_packet(None, "veth0", LOCAL))
        self.assertIsNone(probe_from_packet(Raw(b"\x00" * 30), "veth0", LOCAL))

    def test_only_probes_addressed_to_this_host(self) -> None:
        """Probes to our addresses or the arrival interface's broadcast pass; ones for other hosts do not."""
        for destination, arrived_on in (
            ("10.9.0.1", "veth0"),
            ("10.9.6.1", "veth0"),
            ("172.20.0.1", "veth0"),
            ("10.9.0.255", "veth0"),
            ("10.9.6.255", "veth0"),
            ("255.255.255.255", "veth0"),
        ):
            self.assertIsNotNone(self.captured(destination, arrived_on), (destination, arrived_on))
        for destination, arrived_on in (
            ("198.18.2.77", "veth0"),
            ("10.9.0.3", "veth0"),
            ("10.9.0.0", "veth0"),
            ("172.20.255.255", "veth0"),
            ("10.9.0.255", "eth1"),
            ("224.0.0.1", "veth0"),
        ):
            self.assertIsNone(self.captured(destination, arrived_on), (destination, arrived_on))

    def test_wrong_checksums_dropped(self) -> None:
        """A valid probe under a wrong ICMP checksum, or a wrong IP header checksum, is dropped."""
        Ether, IP, ICMP, _, Raw = self.layers
        good = bytes(Ether() / IP(src="10.9.0.2", dst="10.9.0.1") / ICMP(type=8) / Raw(encode_probe(self.probe)))
        self.assertIsNotNone(probe_from_packet(Ether(good), "veth0", LOCAL))
        icmp_checksum_at, ip_checksum_at = 14 + 20 + 2, 14 + 10
        for offset in (icmp_checksum_at, ip_checksum_at):
            bad = bytearray(good)
            bad[offset] ^= 0x01
            self.assertIsNone(probe_from_packet(Ether(bytes(bad)), "veth0", LOCAL), offset)
        self.assertIsNone(self.captured("10.9.0.1", chksum=0))

    def test_link_padding_outside_checksum(self) -> None:
        """Bytes after the IP datagram (Ethernet padding) do not spoil the checksum check."""
        Ether, IP, ICMP, _, Raw = self.layers
        good = bytes(Ether() / IP(src="10.9.0.2", dst="10.9.0.1") / ICMP(type=8) / Raw(encode_probe(self.probe)))
        self.assertIsNotNone(probe_from_packet(Ether(good + b"\x00\x07" * 9), "veth0", LOCAL))


class IcmpWireTests(SynchronousTestCase):
    def test_echo_request_matches_scapy(self) -> None:
        """Our echo request bytes, odd-length payload too, are what scapy builds (checksum included)."""
        from scapy.layers.inet import ICMP
        from scapy.packet import Raw

        for payload in (b"", b"abc", encode_probe(new_probe(50000))):
            self.assertEqual(
                icmp_message(8, 0x4242, 7, payload), bytes(ICMP(type=8, id=0x4242, seq=7) / Raw(payload))
            )


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


class LingeringThread:
    """A started thread whose end has been reported but which has not yet returned."""

    def __init__(self) -> None:
        self.alive = True
        self.body: Any = None

    def is_alive(self) -> bool:
        return self.alive


class SnifferServiceStopTests(SynchronousTestCase):
    def test_stop_fires_only_once_the_thread_is_gone(self) -> None:
        """The stop Deferred waits, without blocking, for a thread that reported its end but still runs."""
        clock = ThreadlessReactor()
        thread = LingeringThread()

        def start(target):
            thread.body = target
            return thread

        service = SnifferService(clock, lambda sniffed: None, open_sockets=lambda names: {}, start_thread=start)
        service.startService()
        stopped = service.stopService()
        thread.body()  # no sockets: it reports started, then its end, and is about to return
        clock.advance(1)
        self.assertNoResult(stopped)
        thread.alive = False
        clock.advance(1)
        self.successResultOf(stopped)


def require_raw_sockets() -> None:
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()
    except (OSError, AttributeError) as error:
        raise SkipTest(f"capturing needs root or CAP_NET_RAW on Linux: {error}") from error


def send_to_loopback(icmp_type: int, payload: bytes) -> None:
    """Send one ICMP message to 127.0.0.1 (loopback only)."""
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as raw:
        raw.sendto(icmp_message(icmp_type, 0x4242, 1, payload), ("127.0.0.1", 0))


LOOPBACK_LINK_HEADER_BYTES = 14


def loopback_echo_request_capture(test: SynchronousTestCase) -> socket.socket:
    """A packet socket on lo behind the sniffer's kernel filter; frames start with a 14-byte link header."""
    require_raw_sockets()
    # Protocol 0 receives nothing until bind: no frame can queue before the
    # filter is attached (other traffic on lo would crowd out the probe).
    capture = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    test.addCleanup(capture.close)
    attach_echo_request_filter(capture)
    capture.bind(("lo", 0x0003))
    return capture


class KernelFilterTests(SynchronousTestCase):
    def test_only_incoming_echo_requests_pass(self) -> None:
        """On lo, the filter passes an echo request once (not its outgoing copy), and no reply or UDP."""
        capture = loopback_echo_request_capture(self)
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
