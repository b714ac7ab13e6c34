"""Client-side steps of the namespace test, run inside the client's namespace.

``python -m tests.netns_helper join HOST PORT``: connect over TCP, read the
welcome, join session 1 as ``alice``; print the ``joined`` frame as JSON.

``python -m tests.netns_helper third-party SERVER DISCOVERY_PORT THIRD``:
send a UDP probe whose payload names THIRD as where to answer, and capture on
every interface for a second; print whether the answer came back to us and
how many packets went to THIRD.

Blocking sockets with timeouts: this runs in its own process, for a test.
"""

import json
import select
import socket
import sys
import time

from glozi.discovery.probe import decode_answer, encode_probe, new_probe

TIMEOUT = 10.0


def join(host: str, port: int) -> dict:
    with socket.create_connection((host, port), timeout=TIMEOUT) as conn:
        reader = conn.makefile("rb")
        welcome = json.loads(reader.readline())
        if welcome.get("type") != "welcome":
            raise SystemExit(f"expected a welcome, got {welcome}")
        conn.sendall(b'{"type":"join","session":1,"username":"alice"}\n')
        return json.loads(reader.readline())


def third_party(server: str, discovery_port: int, third: str) -> dict:
    capture = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    third_packed = socket.inet_aton(third)
    with capture, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("0.0.0.0", 0))
        probe = new_probe(udp.getsockname()[1])
        fields = json.loads(encode_probe(probe))
        fields.update(host=third, reply_host=third, reply_to=[third, probe.reply_port])
        udp.sendto(json.dumps(fields).encode(), (server, discovery_port))
        answered = False
        to_third = 0
        deadline = time.monotonic() + 1.0
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([capture, udp], [], [], left)
            if udp in ready:
                answer = decode_answer(udp.recv(2048))
                answered = answered or (answer is not None and answer.nonce == probe.nonce)
            if capture in ready:
                packet, address = capture.recvfrom(65535)
                # IPv4 destination address, at offset 16 of the IP header.
                if address[2] != socket.PACKET_OUTGOING and packet[16:20] == third_packed:
                    to_third += 1
    return {"answered_source": answered, "packets_to_third": to_third}


def main(argv: list[str]) -> None:
    if argv[0] == "join":
        print(json.dumps(join(argv[1], int(argv[2]))))
    elif argv[0] == "third-party":
        print(json.dumps(third_party(argv[1], int(argv[2]), argv[3])))
    else:
        raise SystemExit(f"unknown step {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
