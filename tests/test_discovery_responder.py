"""The responder, on a fake UDP transport and a Clock: who gets answers, and how often."""

import json

from twisted.internet.task import Clock
from twisted.logger import LogLevel, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from glozi.discovery.interfaces import LocalAddresses, advertised_address
from glozi.discovery.limits import NonceMemory, SourceRateLimiter
from glozi.discovery.probe import decode_answer, encode_probe, new_probe
from glozi.discovery.responder import DiscoveryResponder, SniffedProbe
from glozi.discovery.service import UDPListenerService
from tests.discovery_fakes import PortTakenReactor, RecordingDatagramTransport, interface

CLIENT = "10.9.0.2"
SERVER_LOCAL = LocalAddresses.of(
    [
        interface("lo", "127.0.0.1", 8, loopback=True),
        interface("eth0", "10.9.0.1", 24),
        interface("eth0", "10.9.5.1", 24),
    ]
)


def make_responder(**kwargs: object) -> tuple[DiscoveryResponder, RecordingDatagramTransport, Clock]:
    clock = Clock()
    kwargs.setdefault("address_for", lambda source, interface: "10.9.0.1")
    kwargs.setdefault("read_local_addresses", lambda: SERVER_LOCAL)
    responder = DiscoveryResponder(
        clock,
        server_name=kwargs.pop("server_name", "lab"),
        native_port=kwargs.pop("native_port", lambda: 7557),
        irc_port=kwargs.pop("irc_port", None),
        **kwargs,
    )
    transport = RecordingDatagramTransport(responder, port=7558)
    responder.makeConnection(transport)
    return responder, transport, clock


class UDPPathTests(SynchronousTestCase):
    def test_answers_to_datagram_source(self) -> None:
        """A UDP probe is answered once, to the datagram's source address and port, with our endpoint."""
        responder, transport, _ = make_responder(irc_port=lambda: 6667)
        probe = new_probe(reply_port=50001)
        responder.datagramReceived(encode_probe(probe), (CLIENT, 40404))
        [(data, addr)] = transport.written
        self.assertEqual(addr, (CLIENT, 40404))
        answer = decode_answer(data)
        self.assertEqual(
            (answer.name, answer.host, answer.port, answer.irc_port, answer.nonce),
            ("lab", "10.9.0.1", 7557, 6667, probe.nonce),
        )

    def test_third_address_in_payload_gets_nothing(self) -> None:
        """A probe naming another address in its payload is answered to its source only."""
        responder, transport, _ = make_responder()
        fields = json.loads(encode_probe(new_probe(50001)))
        fields.update(host="10.9.0.77", reply_host="10.9.0.77", address=["10.9.0.77", 50001])
        responder.datagramReceived(json.dumps(fields).encode(), (CLIENT, 40404))
        self.assertEqual([addr for _, addr in transport.written], [(CLIENT, 40404)])

    def test_garbage_ignored_silently(self) -> None:
        """Invalid datagrams get no answer and log nothing."""
        logged: list[dict] = []
        responder, transport, _ = make_responder()
        globalLogPublisher.addObserver(logged.append)
        self.addCleanup(globalLogPublisher.removeObserver, logged.append)
        for data in (
            b"",
            b"hello",
            b"{}",
            b"\x00" * 2000,
            encode_probe(new_probe(50000)).replace(b'"version":1', b'"version":2'),
        ):
            responder.datagramReceived(data, (CLIENT, 40404))
        self.assertEqual(transport.written, [])
        self.assertEqual(logged, [])

    def test_privileged_source_port_refused(self) -> None:
        """A datagram from a port below 1024 (a spoofed service) is not answered."""
        responder, transport, _ = make_responder()
        for port in (7, 19, 53, 123):
            responder.datagramReceived(encode_probe(new_probe(50000)), (CLIENT, port))
        self.assertEqual(transport.written, [])

    def test_broadcast_or_multicast_source_refused(self) -> None:
        """Sources that are not unicast addresses get no answer."""
        responder, transport, _ = make_responder()
        for source in ("255.255.255.255", "224.0.0.1", "0.0.0.0", "240.0.0.1"):
            responder.datagramReceived(encode_probe(new_probe(50000)), (source, 40404))
        self.assertEqual(transport.written, [])

    def test_not_listening_yet(self) -> None:
        """While the native port is unknown, probes are not answered."""
        responder, transport, _ = make_responder(native_port=lambda: None)
        responder.datagramReceived(encode_probe(new_probe(50000)), (CLIENT, 40404))
        self.assertEqual(transport.written, [])

    def test_nothing_to_advertise(self) -> None:
        """When no reachable address can be found, no answer is sent."""
        responder, transport, _ = make_responder(address_for=lambda source, interface: None)
        responder.datagramReceived(encode_probe(new_probe(50000)), (CLIENT, 40404))
        self.assertEqual(transport.written, [])

    def test_send_error_does_not_stop_others(self) -> None:
        """An answer that fails to send does not break the next one."""
        responder, transport, _ = make_responder()
        original = transport.write
        failures = iter([OSError("network unreachable")])

        def flaky_write(data: bytes, addr: tuple[str, int]) -> None:
            error = next(failures, None)
            if error is not None:
                raise error
            original(data, addr)

        transport.write = flaky_write
        responder.datagramReceived(encode_probe(new_probe(50000)), ("10.9.0.3", 40404))
        responder.datagramReceived(encode_probe(new_probe(50000)), (CLIENT, 40404))
        self.assertEqual([addr for _, addr in transport.written], [(CLIENT, 40404)])


class ICMPPathTests(SynchronousTestCase):
    def test_answers_source_on_probe_port(self) -> None:
        """A sniffed probe is answered to the packet's source, on the port the probe names."""
        seen: list[tuple[str, str | None]] = []

        def address_for(source: str, interface: str | None) -> str:
            seen.append((source, interface))
            return "10.9.0.1"

        responder, transport, _ = make_responder(address_for=address_for)
        probe = new_probe(50002)
        responder.icmp_probe_received(SniffedProbe(probe, CLIENT, "veth0"))
        [(data, addr)] = transport.written
        self.assertEqual(addr, (CLIENT, 50002))
        self.assertEqual(decode_answer(data).nonce, probe.nonce)
        self.assertEqual(seen, [(CLIENT, "veth0")])

    def test_same_probe_twice_answered_once(self) -> None:
        """The same nonce seen twice (loopback capture, or ICMP and UDP) is answered once."""
        responder, transport, _ = make_responder()
        probe = new_probe(50002)
        responder.icmp_probe_received(SniffedProbe(probe, CLIENT, "lo"))
        responder.icmp_probe_received(SniffedProbe(probe, CLIENT, "lo"))
        responder.datagramReceived(encode_probe(probe), (CLIENT, 50002))
        self.assertEqual(len(transport.written), 1)

    def test_bound_to_one_address(self) -> None:
        """A native port bound to one address advertises it; bound to loopback, only loopback clients hear."""
        responder, transport, _ = make_responder(native_host=lambda: "10.9.0.42")
        responder.datagramReceived(encode_probe(new_probe(50000)), (CLIENT, 40404))
        self.assertEqual(decode_answer(transport.written[-1][0]).host, "10.9.0.42")

        responder, transport, _ = make_responder(native_host=lambda: "127.0.0.1")
        responder.datagramReceived(encode_probe(new_probe(50000)), (CLIENT, 40404))
        self.assertEqual(transport.written, [])
        responder.datagramReceived(encode_probe(new_probe(50000)), ("127.0.0.1", 40404))
        self.assertEqual(decode_answer(transport.written[-1][0]).host, "127.0.0.1")


def capture_log(test: SynchronousTestCase) -> list[dict]:
    events: list[dict] = []
    globalLogPublisher.addObserver(events.append)
    test.addCleanup(globalLogPublisher.removeObserver, events.append)
    return events


class ForgedSourceTests(SynchronousTestCase):
    FORGED_ALWAYS = (
        "10.9.0.0",
        "10.9.0.255",
        "10.9.5.0",
        "10.9.5.255",
        "224.0.0.1",
        "239.255.255.250",
        "0.0.0.0",
        "240.0.0.1",
        "255.255.255.255",
    )
    LOCAL_ONLY = ("127.0.0.1", "127.8.9.10", "10.9.0.1", "10.9.5.1")

    def test_icmp_from_network_with_local_or_edge_source_refused(self) -> None:
        """ICMP probes captured on eth0 from loopback, our own, subnet-edge, multicast or reserved sources get nothing."""
        responder, transport, _ = make_responder()
        for source in self.LOCAL_ONLY + self.FORGED_ALWAYS:
            responder.icmp_probe_received(SniffedProbe(new_probe(40000), source, "eth0"))
        self.assertEqual(transport.written, [])
        responder.icmp_probe_received(SniffedProbe(new_probe(40000), CLIENT, "eth0"))
        self.assertEqual([addr for _, addr in transport.written], [(CLIENT, 40000)])

    def test_udp_from_edge_source_refused(self) -> None:
        """UDP datagrams from a subnet's network or broadcast address, multicast or reserved get nothing."""
        responder, transport, _ = make_responder()
        for source in self.FORGED_ALWAYS:
            responder.datagramReceived(encode_probe(new_probe(50000)), (source, 40404))
        self.assertEqual(transport.written, [])

    def test_local_clients_still_answered(self) -> None:
        """UDP from loopback or our own address (the kernel lets those in only from this host) is answered, so is ICMP on lo."""
        responder, transport, _ = make_responder()
        for source in self.LOCAL_ONLY:
            responder.datagramReceived(encode_probe(new_probe(50000)), (source, 40404))
        responder.icmp_probe_received(SniffedProbe(new_probe(40001), "127.0.0.1", "lo"))
        self.assertEqual(
            [addr for _, addr in transport.written],
            [(source, 40404) for source in self.LOCAL_ONLY] + [("127.0.0.1", 40001)],
        )

    def test_refusals_counted_not_logged_each(self) -> None:
        """A flood of forged probes logs one warning, then the count when the responder stops."""
        events = capture_log(self)
        responder, transport, _ = make_responder()
        for _ in range(50):
            responder.icmp_probe_received(SniffedProbe(new_probe(40000), "127.0.0.1", "eth0"))
            responder.datagramReceived(encode_probe(new_probe(50000)), ("10.9.0.255", 40404))
        transport.stopListening()
        lines = [e for e in events if "forged" in e.get("log_format", "")]
        self.assertEqual([e["log_level"] for e in lines], [LogLevel.warn, LogLevel.info])
        self.assertEqual((lines[0]["host"], lines[0]["interface"]), ("127.0.0.1", "eth0"))
        self.assertEqual(lines[1]["count"], 100)

    def test_addresses_read_again_after_a_while(self) -> None:
        """An address the host gains is treated as its own once the snapshot is a few seconds old."""
        snapshots = [SERVER_LOCAL, LocalAddresses.of([interface("eth0", "10.9.7.1", 24)])]
        responder, transport, clock = make_responder(read_local_addresses=lambda: snapshots[0])
        responder.icmp_probe_received(SniffedProbe(new_probe(40000), "10.9.7.1", "eth0"))
        self.assertEqual(len(transport.written), 1)
        snapshots.pop(0)
        clock.advance(5.0)
        responder.icmp_probe_received(SniffedProbe(new_probe(40000), "10.9.7.1", "eth0"))
        self.assertEqual(len(transport.written), 1)


def icmp_probe_from_client() -> SniffedProbe:
    return SniffedProbe(new_probe(50002), CLIENT, "eth0")


class DiscoveryPortTakenTests(SynchronousTestCase):
    def listener(self, answer_from_any_port: bool) -> tuple[UDPListenerService, DiscoveryResponder, list[dict]]:
        events = capture_log(self)
        reactor = PortTakenReactor(taken={7558}, first_port=41000)
        responder = DiscoveryResponder(
            reactor,
            server_name="lab",
            native_port=lambda: 7557,
            address_for=lambda source, interface: "10.9.0.1",
            read_local_addresses=lambda: SERVER_LOCAL,
        )
        listener = UDPListenerService(reactor, 7558, responder, answer_from_any_port=answer_from_any_port)
        listener.startService()
        self.addCleanup(listener.stopService)
        return listener, responder, [e for e in events if e.get("log_level") in (LogLevel.warn, LogLevel.error)]

    def test_taken_port_with_sniffer_answers_icmp_elsewhere(self) -> None:
        """Port 7558 taken: one error line, and ICMP probes are still answered, from a free port."""
        listener, responder, problems = self.listener(answer_from_any_port=True)
        [error] = problems
        self.assertEqual((error["log_level"], error["port"], error["fallback"]), (LogLevel.error, 7558, 41000))
        self.assertIn("cannot be bound", error["log_format"])
        self.assertIn("ICMP probes are answered from UDP port 41000", error["outcome"])
        self.assertEqual(listener.port_number(), 41000)
        probe = icmp_probe_from_client()
        responder.icmp_probe_received(probe)
        [(data, addr)] = responder.transport.written
        self.assertEqual((decode_answer(data).nonce, addr), (probe.probe.nonce, (CLIENT, 50002)))

    def test_taken_port_without_sniffer_runs_without_discovery(self) -> None:
        """Port 7558 taken and no sniffer: one error line saying so, nothing listens, stopping works."""
        listener, responder, problems = self.listener(answer_from_any_port=False)
        [error] = problems
        self.assertIn("running without discovery", error["outcome"])
        self.assertIsNone(listener.port_number())
        responder.icmp_probe_received(icmp_probe_from_client())
        self.successResultOf(listener.stopService())


class RateLimitTests(SynchronousTestCase):
    def test_per_source_burst_then_rate(self) -> None:
        """One source gets its burst, then one answer a second; another source is unaffected."""
        responder, transport, clock = make_responder(answer_burst=3, answer_rate=1.0)
        for _ in range(10):
            responder.datagramReceived(encode_probe(new_probe(50000)), (CLIENT, 40404))
        self.assertEqual(len(transport.written), 3)
        responder.datagramReceived(encode_probe(new_probe(50000)), ("10.9.0.3", 40404))
        self.assertEqual(len(transport.written), 4)
        clock.advance(1.0)
        for _ in range(5):
            responder.datagramReceived(encode_probe(new_probe(50000)), (CLIENT, 40404))
        self.assertEqual(len(transport.written), 5)

    def test_limiter_table_is_bounded(self) -> None:
        """Past max_sources, the oldest source is forgotten instead of the table growing."""
        clock = Clock()
        limiter = SourceRateLimiter(clock, rate=1.0, burst=1, max_sources=2)
        self.assertTrue(limiter.allow("a"))
        self.assertFalse(limiter.allow("a"))
        limiter.allow("b")
        limiter.allow("c")
        self.assertTrue(limiter.allow("a"))

    def test_nonce_memory_expires_and_is_bounded(self) -> None:
        """A nonce is a repeat within its lifetime, new after it, and old ones are dropped past the bound."""
        clock = Clock()
        memory = NonceMemory(clock, lifetime=30.0, max_entries=2)
        self.assertTrue(memory.first_time("a"))
        self.assertFalse(memory.first_time("a"))
        clock.advance(30.0)
        self.assertTrue(memory.first_time("a"))
        memory.first_time("b")
        memory.first_time("c")
        self.assertTrue(memory.first_time("a"))


TABLE = {
    "lo": [interface("lo", "127.0.0.1", 8, loopback=True)],
    "eth0": [interface("eth0", "192.168.5.10", 24)],
    "eth1": [interface("eth1", "10.1.0.1", 16)],
}


class AdvertisedAddressTests(SynchronousTestCase):
    def choose(self, source: str, arrived_on: str | None, routed: str | None = None) -> str | None:
        return advertised_address(
            source, arrived_on, addresses_of=lambda name: TABLE.get(name, []), route_from=lambda _: routed
        )

    def test_interface_on_client_subnet(self) -> None:
        """A probe arriving on eth1 from its subnet gets eth1's address, whatever the route says."""
        self.assertEqual(self.choose("10.1.3.4", "eth1", routed="192.168.5.10"), "10.1.0.1")

    def test_loopback_client(self) -> None:
        """A client on this host probing 127.0.0.1 is told 127.0.0.1."""
        self.assertEqual(self.choose("127.0.0.1", "lo"), "127.0.0.1")

    def test_never_loopback_to_remote(self) -> None:
        """A remote client is never told a loopback address, even if the route lookup says so."""
        self.assertIsNone(self.choose("10.77.0.5", "lo", routed="127.0.0.1"))
        self.assertIsNone(self.choose("10.77.0.5", None, routed="127.0.0.1"))

    def test_routed_client(self) -> None:
        """A client beyond a router gets the address the route to it leaves from."""
        self.assertEqual(self.choose("172.20.0.9", "eth0", routed="192.168.5.10"), "192.168.5.10")
        self.assertEqual(self.choose("172.20.0.9", None, routed="10.1.0.1"), "10.1.0.1")

    def test_no_route_falls_back_to_interface(self) -> None:
        """With no route, the arrival interface's address is used."""
        self.assertEqual(self.choose("172.20.0.9", "eth0", routed=None), "192.168.5.10")
