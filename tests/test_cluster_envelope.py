"""Envelopes: the events that travel between nodes, and what is refused."""

from twisted.trial.unittest import TestCase

from glozi.domain.events import Left, MemberJoined, Message, PrivateMessage
from glozi.domain.sessions import Session
from glozi.fanout.envelope import (
    TRAVELLING,
    decode_event,
    encode_event,
    message_envelope,
    message_from,
    pack,
    session_state,
    unpack,
)


class EnvelopeTests(TestCase):
    def test_each_event_that_travels_comes_back_equal(self) -> None:
        for event in (
            MemberJoined(session_id=3, name="zoë", joined_at=1.5),
            Left(session_id=3, session_name="kiwi", reason="kicked", by="ann", comment="out"),
            PrivateMessage(sender="ann", text="hi 😀", sent_at=2.0, action=True),
        ):
            self.assertEqual(decode_event(unpack(pack({"node": "n1", "kind": "event", "event": encode_event(event)}))["event"]), event)

    def test_an_event_that_does_not_travel_or_has_wrong_fields_is_refused(self) -> None:
        self.assertNotIn("SessionAdded", TRAVELLING)
        self.assertNotIn("Joined", TRAVELLING)
        for body in ({"type": "SessionAdded"}, {"type": "Left", "colour": 1}, ["Left"], {"type": "Killed"}):
            with self.assertRaises(ValueError):
                decode_event(body)

    def test_payloads_that_are_not_envelopes_are_refused(self) -> None:
        for payload in (b"\xff", b"[]", b'{"kind": "event"}', b'{"node": 1, "kind": "x"}', b"not json"):
            with self.assertRaises(ValueError):
                unpack(payload)

    def test_a_message_envelope_carries_its_number_id_and_who_it_is_not_for(self) -> None:
        message = Message(session_id=4, sender="ann", text="x" * 2000, sent_at=9.25, notice=True, msgid="9c01f2a7e4b3d5")
        seq, back, exclude = message_from(unpack(message_envelope("n2", 17, message, "ann")))
        self.assertEqual((seq, back, exclude), (17, message, "ann"))
        with self.assertRaises(ValueError):
            message_from({"node": "n2", "kind": "message", "seq": "x", "session": 4})
        for msgid in (None, "", 7, "x" * 101):
            with self.assertRaises(ValueError):
                message_from({**unpack(message_envelope("n2", 17, message, "ann")), "msgid": msgid})

    def test_session_state_has_the_rules_and_never_more_than_another_node_needs(self) -> None:
        session = Session(12, "plans", 0.0, "ann", "scrypt$hash", permanent=False)
        session.rules.topic, session.rules.bans = "hello", ["*!*@bad"]
        state = session_state(session)
        self.assertEqual(state["admin"], None)
        self.assertEqual(state["rules"]["topic"], "hello")
        self.assertEqual(state["rules"]["bans"], ["*!*@bad"])
        self.assertEqual(state["password_hash"], "scrypt$hash")
