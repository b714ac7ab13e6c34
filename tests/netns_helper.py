"""Steps of the namespace tests, each run inside one of the test's namespaces.

``python -m tests.netns_helper join HOST PORT``: connect over TCP, read the
welcome, join session 1 as ``alice``; print the ``joined`` frame as JSON.

``python -m tests.netns_helper redirect SERVER DISCOVERY_PORT THIRD``: send a
UDP probe whose payload names THIRD as where to answer; print whether the
answer came back to us within a second.

``python -m tests.netns_helper watch``: capture IPv4 UDP and ICMP on every
interface of this namespace; print ``watching`` once capturing, and at end
of standard input (or after ``WATCH_LIMIT`` seconds) one JSON list of the
packets seen.

``python -m tests.netns_helper forge IFACE CASES``: send each case of the
JSON list CASES as a hand-built Ethernet frame out of IFACE (its source
address may be anything: that is the point), then listen a second on the
reply port; print the names of the cases answered.

``python -m tests.netns_helper hold-udp PORT``: bind UDP PORT on all
addresses, print ``holding``, keep it until end of standard input.

Blocking sockets with timeouts: this runs in its own process, for a test.
"""

import json
import select
import socket
import struct
import sys
import time

from glozi.discovery.icmpwire import ICMP_ECHO_REQUEST, icmp_message, internet_checksum
from glozi.discovery.probe import decode_answer, encode_probe, new_probe

TIMEOUT = 10.0
ANSWER_WINDOW = 1.0
WATCH_LIMIT = 60.0
MAX_WATCHED = 1000
_ETH_P_ALL = 0x0003
_ETH_P_IP = 0x0800
_IPPROTO_ICMP = 1
_IPPROTO_UDP = 17


def join(host: str, port: int) -> dict:
    with socket.create_connection((host, port), timeout=TIMEOUT) as conn:
        reader = conn.makefile("rb")
        welcome = json.loads(reader.readline())
        if welcome.get("type") != "welcome":
            raise SystemExit(f"expected a welcome, got {welcome}")
        conn.sendall(b'{"type":"join","session":1,"username":"alice"}\n')
        return json.loads(reader.readline())


def redirect(server: str, discovery_port: int, third: str) -> dict:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("0.0.0.0", 0))
        probe = new_probe(udp.getsockname()[1])
        fields = json.loads(encode_probe(probe))
        fields.update(host=third, reply_host=third, reply_to=[third, probe.reply_port])
        udp.sendto(json.dumps(fields).encode(), (server, discovery_port))
        nonces = answered_nonces(udp, time.monotonic() + ANSWER_WINDOW)
    return {"answered_source": probe.nonce in nonces}


def answered_nonces(udp: socket.socket, deadline: float) -> set[str]:
    nonces = set()
    while (left := deadline - time.monotonic()) > 0:
        if select.select([udp], [], [], left)[0]:
            answer = decode_answer(udp.recv(2048))
            if answer is not None:
                nonces.add(answer.nonce)
    return nonces


def watch() -> list[dict]:
    seen: list[dict] = []
    # Only ETH_P_ALL taps see outgoing packets too.
    with socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(_ETH_P_ALL)) as capture:
        print("watching", flush=True)
        deadline = time.monotonic() + WATCH_LIMIT
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([capture, sys.stdin], [], [], left)
            if sys.stdin in ready and not sys.stdin.readline():
                break
            if capture in ready:
                packet, address = capture.recvfrom(65535)
                if len(seen) < MAX_WATCHED and address[1] == _ETH_P_IP:
                    described = describe(packet, address[0], address[2] == socket.PACKET_OUTGOING)
                    if described is not None:
                        seen.append(described)
    return seen


def describe(packet: bytes, interface: str, outgoing: bool) -> dict | None:
    if len(packet) < 20 or packet[9] not in (_IPPROTO_ICMP, _IPPROTO_UDP):
        return None
    header = (packet[0] & 0x0F) * 4
    # UDP: source and destination ports; ICMP: type and code.
    ports = struct.unpack_from("!HH" if packet[9] == _IPPROTO_UDP else "!BB", packet, header)
    return {
        "interface": interface,
        "outgoing": outgoing,
        "protocol": "udp" if packet[9] == _IPPROTO_UDP else "icmp",
        "src": socket.inet_ntoa(packet[12:16]),
        "dst": socket.inet_ntoa(packet[16:20]),
        "sport": ports[0] if packet[9] == _IPPROTO_UDP else None,
        "dport": ports[1] if packet[9] == _IPPROTO_UDP else None,
        "icmp_type": ports[0] if packet[9] == _IPPROTO_ICMP else None,
    }


def forge(interface: str, cases: list[dict]) -> list[str]:
    """Each case: name, path (icmp/udp), src, dst, dst_mac, reply_port, and bad_checksum (icmp)."""
    reply_port = cases[0]["reply_port"]
    nonces: dict[str, str] = {}
    with (
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as link,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
    ):
        link.bind((interface, 0))
        own_mac = link.getsockname()[4]
        udp.bind(("0.0.0.0", reply_port))
        for number, case in enumerate(cases, start=1):
            probe = new_probe(reply_port)
            nonces[probe.nonce] = case["name"]
            payload = encode_probe(probe)
            if case["path"] == "icmp":
                message = bytearray(icmp_message(ICMP_ECHO_REQUEST, 0x5151, number, payload))
                if case.get("bad_checksum"):
                    message[2] ^= 0x01
                transport, protocol = bytes(message), _IPPROTO_ICMP
            else:
                # UDP checksum 0: "none computed", valid for IPv4.
                transport = struct.pack("!HHHH", reply_port, case["dport"], 8 + len(payload), 0) + payload
                protocol = _IPPROTO_UDP
            frame = bytes.fromhex(case["dst_mac"].replace(":", "")) + own_mac + struct.pack("!H", _ETH_P_IP)
            link.send(frame + ip_header(case["src"], case["dst"], protocol, len(transport), number) + transport)
        answered = answered_nonces(udp, time.monotonic() + ANSWER_WINDOW)
    return sorted(nonces[nonce] for nonce in answered if nonce in nonces)


def ip_header(src: str, dst: str, protocol: int, payload_length: int, ident: int) -> bytes:
    fields = [0x45, 0, 20 + payload_length, ident, 0, 64, protocol, 0, socket.inet_aton(src), socket.inet_aton(dst)]
    unsummed = struct.pack("!BBHHHBBH4s4s", *fields)
    fields[7] = internet_checksum(unsummed)
    return struct.pack("!BBHHHBBH4s4s", *fields)


def hold_udp(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind(("0.0.0.0", port))
        print("holding", flush=True)
        sys.stdin.read()


def main(argv: list[str]) -> None:
    step, args = argv[0], argv[1:]
    if step == "join":
        print(json.dumps(join(args[0], int(args[1]))))
    elif step == "redirect":
        print(json.dumps(redirect(args[0], int(args[1]), args[2])))
    elif step == "watch":
        print(json.dumps(watch()))
    elif step == "forge":
        print(json.dumps(forge(args[0], json.loads(args[1]))))
    elif step == "hold-udp":
        hold_udp(int(args[0]))
    else:
        raise SystemExit(f"unknown step {step!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
