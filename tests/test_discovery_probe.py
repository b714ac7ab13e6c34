"""The discovery payloads: encoding, and validation that never lets a bad one through."""

import json

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from glozi.discovery.cli import format_server
from glozi.discovery.client import FoundServer
from glozi.discovery.probe import (
    MAX_PROBE_BYTES,
    Answer,
    Probe,
    decode_answer,
    decode_probe,
    encode_answer,
    encode_probe,
    new_probe,
)

NONCE = "0123456789abcdef0123456789abcdef"


def probe_fields(**changes: object) -> dict:
    fields = {"magic": "GLOZICHAT-PROBE", "version": 1, "reply_port": 50000, "nonce": NONCE}
    fields.update(changes)
    return fields


def answer_fields(**changes: object) -> dict:
    fields = {
        "magic": "GLOZICHAT-SERVER",
        "version": 1,
        "name": "lab",
        "host": "10.0.0.5",
        "port": 7557,
        "irc_port": None,
        "nonce": NONCE,
    }
    fields.update(changes)
    return fields


def encoded(fields: dict) -> bytes:
    return json.dumps(fields).encode()


class ProbeTests(SynchronousTestCase):
    def test_round_trip(self) -> None:
        """A probe decodes to what was encoded, and stays well under the size limit."""
        probe = new_probe(50123)
        data = encode_probe(probe)
        self.assertEqual(decode_probe(data), probe)
        self.assertLess(len(data), MAX_PROBE_BYTES // 2)

    def test_fresh_nonces(self) -> None:
        """Every new probe carries a different 32-hex-digit nonce."""
        nonces = {new_probe(50000).nonce for _ in range(50)}
        self.assertEqual(len(nonces), 50)
        self.assertTrue(all(len(n) == 32 for n in nonces))

    def test_extra_fields_ignored(self) -> None:
        """Unknown keys, an address among them, are ignored: they cannot redirect the answer."""
        probe = decode_probe(encoded(probe_fields(host="203.0.113.9", reply_host="203.0.113.9")))
        self.assertEqual(probe, Probe(reply_port=50000, nonce=NONCE))

    def test_rejected(self) -> None:
        """Garbage, wrong magic or version, missing or ill-typed fields all decode to None."""
        bad = [
            b"",
            b"\xff\xfe not utf-8",
            b"ping ping ping",
            b"[1, 2, 3]",
            b'"GLOZICHAT-PROBE"',
            b"{",
            b'{"magic": "GLOZICHAT-PROBE", "version": NaN}',
            encoded(probe_fields(magic="GLOZICHAT-SERVER")),
            encoded(probe_fields(magic="glozichat-probe")),
            encoded(probe_fields(version=2)),
            encoded(probe_fields(version=0)),
            encoded(probe_fields(version="1")),
            encoded(probe_fields(version=True)),
            encoded(probe_fields(version=1.0)),
            encoded(probe_fields(reply_port=True)),
            encoded(probe_fields(reply_port="50000")),
            encoded(probe_fields(reply_port=0)),
            encoded(probe_fields(reply_port=53)),
            encoded(probe_fields(reply_port=65536)),
            encoded(probe_fields(nonce="short")),
            encoded(probe_fields(nonce=NONCE.upper())),
            encoded(probe_fields(nonce=NONCE[:-1] + "g")),
            encoded(probe_fields(nonce=12345)),
        ]
        for field in ("magic", "version", "reply_port", "nonce"):
            fields = probe_fields()
            del fields[field]
            bad.append(encoded(fields))
        for data in bad:
            self.assertIsNone(decode_probe(data), data)

    def test_oversize(self) -> None:
        """A valid probe padded past MAX_PROBE_BYTES is ignored."""
        data = encoded(probe_fields(padding="x" * MAX_PROBE_BYTES))
        self.assertIsNone(decode_probe(data))

    def test_deep_nesting(self) -> None:
        """Deeply nested JSON inside the size limit is rejected, not a crash."""
        self.assertIsNone(decode_probe(b"[" * 500 + b"]" * 5))

    @given(st.binary(max_size=600))
    def test_any_bytes(self, data: bytes) -> None:
        """No input makes the decoders raise."""
        decode_probe(data)
        decode_answer(data)

    @given(
        st.dictionaries(
            st.sampled_from(list(probe_fields())), st.none() | st.integers() | st.text(max_size=40)
        )
    )
    def test_any_fields(self, fields: dict) -> None:
        """Any mix of fields and values decodes to None or to a probe that re-encodes the same."""
        probe = decode_probe(encoded(fields))
        if probe is not None:
            self.assertEqual(decode_probe(encode_probe(probe)), probe)


class AnswerTests(SynchronousTestCase):
    def test_round_trip(self) -> None:
        """An answer, with or without an IRC port, decodes to what was encoded."""
        for irc in (None, 6667):
            answer = Answer(name="lab pc ✓", host="10.0.0.5", port=7557, irc_port=irc, nonce=NONCE)
            self.assertEqual(decode_answer(encode_answer(answer)), answer)

    def test_rejected(self) -> None:
        """Answers a client must not act on decode to None."""
        bad = [
            encoded(answer_fields(magic="GLOZICHAT-PROBE")),
            encoded(answer_fields(version=2)),
            encoded(answer_fields(name="")),
            encoded(answer_fields(name="x" * 65)),
            encoded(answer_fields(name="evil\x1b[2J")),
            encoded(answer_fields(host="lab.example")),
            encoded(answer_fields(host="224.0.0.1")),
            encoded(answer_fields(host="0.0.0.0")),
            encoded(answer_fields(host="255.255.255.255")),
            encoded(answer_fields(port=0)),
            encoded(answer_fields(irc_port="6667")),
            encoded(answer_fields(nonce="nope")),
        ]
        for data in bad:
            self.assertIsNone(decode_answer(data), data)


class WebPortAnswerTests(SynchronousTestCase):
    def test_an_answer_carries_the_web_door(self) -> None:
        """The web door's port and whether it is https go in the answer as ``web_port`` and
        ``web_tls``; absent (older servers) they mean no web door; a bad one refuses the answer."""
        answer = Answer(name="lab", host="10.0.0.5", port=7557, irc_port=None, nonce=NONCE, web_port=8080, web_tls=True)
        data = encode_answer(answer)
        self.assertEqual((json.loads(data)["web_port"], json.loads(data)["web_tls"]), (8080, True))
        self.assertEqual(decode_answer(data), answer)
        older = decode_answer(encoded(answer_fields()))
        self.assertEqual((older.web_port, older.web_tls), (None, False))
        self.assertEqual(decode_answer(encoded(answer_fields(web_port=None))).web_port, None)
        for bad in ({"web_port": "8080"}, {"web_port": 0}, {"web_port": 65536}, {"web_tls": "yes"}):
            self.assertIsNone(decode_answer(encoded(answer_fields(**bad))), bad)

    def test_discover_shows_the_browser_url(self) -> None:
        """glozichat-discover ends a server's line with ``web=URL``, and ``--json`` gives ``web_port`` and ``web_tls``."""
        found = FoundServer("lanbox", "192.168.1.20", 7557, None, ("udp",), 0.0021, web_port=8080)
        self.assertEqual(
            format_server(found), '192.168.1.20:7557 name="lanbox" web=http://192.168.1.20:8080/ via=udp time=2ms'
        )
        fields = json.loads(format_server(found, as_json=True))
        self.assertEqual((fields["web_port"], fields["web_tls"]), (8080, False))
        secure = FoundServer("lanbox", "192.168.1.20", 7557, None, ("udp",), 0.0021, web_port=443, web_tls=True)
        self.assertIn(" web=https://192.168.1.20/ ", format_server(secure))
        without = FoundServer("lanbox", "192.168.1.20", 7557, None, ("udp",), 0.0021)
        self.assertNotIn("web=", format_server(without))
        self.assertIsNone(json.loads(format_server(without, as_json=True))["web_port"])
