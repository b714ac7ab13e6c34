"""The responder, on a fake UDP transport and a Clock: who gets answers, and how often."""

import ipaddress
import json

from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from glozi.discovery.interfaces import InterfaceAddress, advertised_address
from glozi.discovery.limits import NonceMemory, SourceRateLimiter
from glozi.discovery.probe import decode_answer, encode_probe, new_probe
from glozi.discovery.responder import DiscoveryResponder, SniffedProbe
from tests.discovery_fakes import RecordingDatagramTransport

CLIENT = "10.9.0.2"


def make_responder(**kwargs: object) -> tuple[DiscoveryResponder, RecordingDatagramTransport, Clock]:
    clock = Clock()
    kwargs.setdefault("address_for", lambda source, interface: "10.9.0.1")
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


def interface(name: str, address: str, prefix: int, loopback: bool = False) -> InterfaceAddress:
    network = ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)
    return InterfaceAddress(
        name=name,
        address=ipaddress.IPv4Address(address),
        netmask=network.netmask,
        broadcast=None if loopback else network.broadcast_address,
        loopback=loopback,
    )


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
