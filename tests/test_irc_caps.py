"""IRCv3 on the IRC door (docs/irc.md, *IRCv3 capabilities*): CAP negotiation,
message tags at the edge, one encoding per variant, batches, labeled
responses and each capability, on StringTransport with hand-written lines."""

from twisted.trial.unittest import SynchronousTestCase

from glozi.domain.events import Invited, MemberInvited, Message, RealNameChanged, SessionTagMessage
from glozi.doors.irc import tags, wire
from glozi.doors.irc.caps import Cap
from glozi.doors.irc.protocol import IRCFactory
from tests.helpers import connect, done, make_server
from tests.test_irc_protocol import SERVER, DoorTestCase, IRCClient

OFFERED = (
    "away-notify batch cap-notify draft/chathistory echo-message extended-join invite-notify labeled-response "
    "message-tags multi-prefix server-time setname userhost-in-names"
)
"""docs/irc.md's list of what ``CAP LS`` offers, in its order."""
NOW = "2025-11-24T16:00:00.000Z"
"""The test clock (1,764,000,000 s) as server-time writes it."""


def raw_lines(client: IRCClient) -> list[bytes]:
    """What the server wrote to ``client`` since last asked, line by line, bytes as sent."""
    data = client.transport.value()
    client.transport.clear()
    return [line for line in data.split(b"\r\n") if line]


def feed(client: IRCClient, *lines: str) -> None:
    """Send ``lines`` from ``client``, leaving what the server answers to ``raw_lines``."""
    for text in lines:
        client.protocol.dataReceived(text.encode() + b"\r\n")


class CapsTestCase(DoorTestCase):
    def capable(self, nick: str, caps: str, channel: str | None = None) -> IRCClient:
        """A registered client that negotiated ``caps`` (``CAP LS 302``, ``REQ``, ``END``), in ``channel`` if given."""
        client = self.connect()
        answers = client.send("CAP LS 302", f"CAP REQ :{caps}", f"NICK {nick}", f"USER {nick} 0 * :{nick} tester")
        self.assertIn(["*", "ACK", caps], [line.params for line in answers])
        self.assertEqual(client.commands("CAP END")[0], "001")
        if channel is not None:
            self.assertEqual(client.send(f"JOIN {channel}")[0].command, "JOIN")
        return client


class NegotiationTests(CapsTestCase):
    def test_ls_lists_every_capability_offered(self) -> None:
        """CAP LS 302 lists the capabilities docs/irc.md names, with no values; no sasl."""
        [ls] = self.connect().send("CAP LS 302")
        self.assertEqual(ls.params, ["*", "LS", OFFERED])
        self.assertNotIn("sasl", ls.params[-1].split())

    def test_ls_302_turns_cap_notify_on(self) -> None:
        """With 302, cap-notify is on without asking; with a bare LS it is not."""
        client = self.connect()
        client.send("CAP LS 302")
        self.assertEqual(client.one("CAP LIST").params, ["*", "LIST", "cap-notify"])
        older = self.connect()
        older.send("CAP LS")
        self.assertEqual(older.one("CAP LIST").params, ["*", "LIST", ""])

    def test_req_is_all_or_nothing(self) -> None:
        """A REQ with one unknown name (sasl) is NAKed whole and changes nothing; a good one is ACKed as sent."""
        client = self.connect()
        self.assertEqual(client.one("CAP REQ :server-time sasl").params, ["*", "NAK", "server-time sasl"])
        self.assertEqual(client.one("CAP LIST").params, ["*", "LIST", ""])
        self.assertEqual(client.one("CAP REQ :server-time echo-message").params, ["*", "ACK", "server-time echo-message"])
        self.assertEqual(client.one("CAP LIST").params, ["*", "LIST", "echo-message server-time"])

    def test_req_minus_removes(self) -> None:
        """``-name`` in a REQ takes that capability away again."""
        client = self.capable("alice", "server-time multi-prefix")
        self.assertEqual(client.one("CAP REQ :-server-time").params, ["alice", "ACK", "-server-time"])
        self.assertEqual(client.one("CAP LIST").params, ["alice", "LIST", "cap-notify multi-prefix"])

    def test_req_of_nothing_is_refused(self) -> None:
        """``CAP REQ :`` asks for nothing: NAK."""
        self.assertEqual(self.connect().one("CAP REQ :").params, ["*", "NAK", ""])

    def test_req_after_registration_needs_no_end(self) -> None:
        """Once registered, REQ changes the capabilities at once."""
        client = self.user("alice")
        self.assertEqual(client.one("CAP REQ server-time").params, ["alice", "ACK", "server-time"])
        self.member("bob", "#garden")
        client.send("JOIN #garden")
        raw_lines(client)
        self.member("carol", "#garden")
        self.assertEqual(raw_lines(client), [b"@time=" + NOW.encode() + b" :carol!carol@glozichat JOIN #garden"])

    def test_long_ls_comes_in_several_lines_for_302(self) -> None:
        """When one LS line would pass 512 bytes, a 302 client gets several, all but the last marked ``*``."""
        factory = IRCFactory(self.chat, "a" * 400, self.clock)
        lines = IRCClient(factory).send("CAP LS 302")
        self.assertGreater(len(lines), 1)
        self.assertEqual([line.params[2] for line in lines[:-1]], ["*"] * (len(lines) - 1))
        self.assertEqual(" ".join(line.params[-1] for line in lines), OFFERED)
        self.assertTrue(all(len(wire.line(line.prefix, line.command, *line.params)) <= 512 for line in lines))


class TagParsingTests(CapsTestCase):
    def test_tags_are_read_and_unescaped(self) -> None:
        """``@a=b\\sc;+x;bad!key=1`` gives a = "b c", +x = "", and no bad key."""
        line = wire.parse_line(rb"@a=b\sc\:d;+x;bad!key=1;e=f\ :nick PRIVMSG #garden :hi")
        assert line is not None
        self.assertEqual((line.prefix, line.command, line.params), ("nick", "PRIVMSG", ["#garden", "hi"]))
        self.assertEqual(dict(line.tags), {"a": "b c;d", "+x": "", "e": "f"})

    def test_escaping_round_trips(self) -> None:
        """Every character that needs it is escaped, and unescaping gives it back."""
        value = "raw+:=,escaped; \\ \r\n"
        self.assertEqual(tags.escape(value), "raw+:=,escaped\\:\\s\\\\\\s\\r\\n")
        self.assertEqual(tags.unescape(tags.escape(value)), value)

    def test_tags_go_in_front_of_every_line_and_the_first_only_on_the_first(self) -> None:
        """One line, a line that has tags already, and two lines: ``first`` (a msgid) names the first line only."""
        self.assertEqual(tags.with_tags(b":n PRIVMSG #g :hi\r\n", "time=T", first="msgid=m"),
                         b"@msgid=m;time=T :n PRIVMSG #g :hi\r\n")  # fmt: skip
        self.assertEqual(tags.with_tags(b"@batch=1 :n PRIVMSG #g :hi\r\n", "time=T"), b"@time=T;batch=1 :n PRIVMSG #g :hi\r\n")
        self.assertEqual(tags.with_tags(b":n PRIVMSG #g :a\r\n:n PRIVMSG #g :b\r\n", "time=T", first="msgid=m"),
                         b"@msgid=m;time=T :n PRIVMSG #g :a\r\n@time=T :n PRIVMSG #g :b\r\n")  # fmt: skip
        self.assertEqual(tags.with_tags(b":n PRIVMSG #g :a\r\n:n PRIVMSG #g :b\r\n", "", first="msgid=m"),
                         b"@msgid=m :n PRIVMSG #g :a\r\n:n PRIVMSG #g :b\r\n")  # fmt: skip
        self.assertEqual(tags.with_tags(b":n PRIVMSG #g :hi\r\n", ""), b":n PRIVMSG #g :hi\r\n")

    def test_a_key_given_twice_keeps_the_last(self) -> None:
        """Of ``+a=1;+a=2``, the last counts."""
        self.assertEqual(tags.parse_tags("+a=1;+a=2"), {"+a": "2"})

    def test_client_tag_data_of_4094_bytes_is_taken_4095_refused(self) -> None:
        """Tag data up to 4094 bytes passes; 4095 gets 417 and the line is not run."""
        alice = self.member("alice", "#garden")
        bob = self.capable("bob", "message-tags", "#garden")
        raw_lines(bob)
        fits = "+a=" + "x" * (4094 - 3)
        feed(alice, f"@{fits} PRIVMSG #garden :fits")
        [relayed] = raw_lines(bob)
        self.assertTrue(relayed.startswith(b"@msgid="))
        self.assertIn(fits.encode(), relayed)
        raw_lines(alice)
        [too_long] = alice.send(f"@{fits}x PRIVMSG #garden :too long")
        self.assertEqual((too_long.command, too_long.params), ("417", ["alice", "Input line was too long"]))
        self.assertEqual(raw_lines(bob), [])

    def test_tagged_line_keeps_the_512_limit_for_the_rest(self) -> None:
        """After the tags, the line is still at most 510 bytes without CR LF: 511 is 417."""
        alice = self.member("alice", "#garden")
        rest = "NOTICE #garden :"
        self.assertEqual(alice.send(f"@+a=b {rest}{'x' * (510 - len(rest))}"), [])
        [answer] = alice.send(f"@+a=b {rest}{'x' * (511 - len(rest))}")
        self.assertEqual(answer.command, "417")

    def test_unknown_tags_change_nothing(self) -> None:
        """A tag the server does not know (``foo=bar``) is ignored and not relayed."""
        alice = self.member("alice", "#garden")
        bob = self.capable("bob", "message-tags", "#garden")
        raw_lines(bob)
        alice.send("@foo=bar PRIVMSG #garden :hi")
        [relayed] = raw_lines(bob)
        self.assertNotIn(b"foo", relayed)
        self.assertTrue(relayed.endswith(b":alice!alice@glozichat PRIVMSG #garden hi"))

    def test_unterminated_tagged_line_is_not_buffered_past_its_limit(self) -> None:
        """A tagged line with no end is refused (417) once past 1 + 4094 + 1 + 512 bytes; the connection lives."""
        alice = self.user("alice")
        self.assertEqual(alice.send(b"@" + b"a" * (4094 + 1 + 512)), [])
        [refused] = alice.send(b"x")
        self.assertEqual(refused.command, "417")
        self.assertEqual(alice.send(b"rest of it\r\n"), [])
        self.assertEqual(alice.one("PING x").command, "PONG")


class VariantTests(CapsTestCase):
    def test_untagged_members_get_todays_bytes(self) -> None:
        """A member without capabilities gets exactly the untagged line, whoever else is tagged."""
        alice = self.member("alice", "#garden")
        plain = self.member("plain", "#garden")
        self.capable("tagged", "message-tags server-time", "#garden")
        raw_lines(plain)
        alice.send("PRIVMSG #garden :hello")
        self.assertEqual(raw_lines(plain), [b":alice!alice@glozichat PRIVMSG #garden hello"])

    def test_tagged_members_get_time_and_msgid(self) -> None:
        """server-time and message-tags: ``@msgid=…;time=2025-11-24T16:00:00.000Z`` before the same line."""
        alice = self.member("alice", "#garden")
        bob = self.capable("bob", "message-tags server-time", "#garden")
        raw_lines(bob)
        alice.send("PRIVMSG #garden :hello")
        [line] = raw_lines(bob)
        head, _, rest = line.partition(b" ")
        self.assertEqual(rest, b":alice!alice@glozichat PRIVMSG #garden hello")
        found = tags.parse_tags(head[1:].decode())
        self.assertEqual(found["time"], NOW)
        self.assertRegex(found["msgid"], "^[0-9a-f]+$")

    def test_server_time_alone_has_no_msgid(self) -> None:
        """server-time without message-tags: only ``time``."""
        alice = self.member("alice", "#garden")
        bob = self.capable("bob", "server-time", "#garden")
        raw_lines(bob)
        self.clock.advance(1.2345)
        alice.send("PRIVMSG #garden :hello")
        self.assertEqual(
            raw_lines(bob), [b"@time=2025-11-24T16:00:01.234Z :alice!alice@glozichat PRIVMSG #garden hello"]
        )

    def test_one_encoding_per_variant(self) -> None:
        """Members of one variant get the very same bytes: the event holds one encoding per variant."""
        server = SERVER
        event = Message(session_id=1, sender="alice", text="hi", sent_at=1_764_000_000.0, msgid="m1")
        variant = Cap.MESSAGE_TAGS | Cap.SERVER_TIME
        first = wire.encode_variant(event, "#garden", server, variant, 0.0)
        again = wire.encode_variant(event, "#garden", server, variant, 5.0)
        self.assertIs(first, again)
        self.assertEqual(first, b"@msgid=m1;time=2025-11-24T16:00:00.000Z :alice!alice@glozichat PRIVMSG #garden hi\r\n")
        self.assertEqual(wire.encode_event(event, "#garden", server), b":alice!alice@glozichat PRIVMSG #garden hi\r\n")
        self.assertEqual(set(event.encoded), {"irc", "irc+3"})

    def test_variants_do_not_mix(self) -> None:
        """Two tagged members, one also with extended-join and away-notify: each JOIN and AWAY in its own form."""
        alice = self.capable("alice", "message-tags", "#garden")
        extended = self.capable("extended", "message-tags extended-join away-notify", "#garden")
        raw_lines(alice)
        raw_lines(extended)
        bob = self.member("bob", "#garden")
        bob.send("AWAY :lunch")
        self.assertEqual(raw_lines(alice), [b":bob!bob@glozichat JOIN #garden"])
        self.assertEqual(
            raw_lines(extended), [b":bob!bob@glozichat JOIN #garden * :bob tester", b":bob!bob@glozichat AWAY lunch"]
        )

    def test_capabilities_that_change_no_line_share_the_untagged_bytes(self) -> None:
        """A message to a client with only multi-prefix or echo-message is the untagged variant."""
        self.assertEqual(wire.variant_of(Message(session_id=1, sender="a", text="b", sent_at=0.0), Cap.MULTI_PREFIX), 0)

    def test_split_message_has_its_msgid_on_the_first_line_only(self) -> None:
        """A NOTICE too long for one line is several lines: each has the time, the first the msgid."""
        alice = self.member("alice", "#garden")
        bob = self.capable("bob", "message-tags server-time", "#garden")
        raw_lines(bob)
        alice.send("NOTICE #garden :" + "word " * 98)
        lines = raw_lines(bob)
        self.assertEqual(len(lines), 2)
        self.assertTrue(lines[0].startswith(b"@msgid="))
        self.assertTrue(lines[1].startswith(b"@time=" + NOW.encode() + b" "))


class ClientTagTests(CapsTestCase):
    def test_client_only_tags_reach_message_tags_members_only(self) -> None:
        """``+draft/reply`` goes on to members with message-tags, after the server's tags; others get the bare line."""
        alice = self.member("alice", "#garden")
        tagged = self.capable("tagged", "message-tags", "#garden")
        plain = self.member("plain", "#garden")
        raw_lines(tagged)
        alice.send(r"@+draft/reply=abc;+example=a\sb;secret=1 PRIVMSG #garden :hi")
        [line] = raw_lines(tagged)
        head = line.partition(b" ")[0].decode()
        self.assertEqual(list(tags.parse_tags(head[1:])), ["msgid", "+draft/reply", "+example"])
        self.assertTrue(head.endswith(r";+draft/reply=abc;+example=a\sb"))
        self.assertEqual(raw_lines(plain), [b":alice!alice@glozichat PRIVMSG #garden hi"])

    def test_tagmsg_to_a_channel(self) -> None:
        """TAGMSG reaches the members with message-tags only, with the client-only tags."""
        alice = self.capable("alice", "message-tags", "#garden")
        tagged = self.capable("tagged", "message-tags", "#garden")
        plain = self.member("plain", "#garden")
        raw_lines(tagged)
        raw_lines(alice)
        self.assertEqual(alice.send("@+typing=active TAGMSG #garden"), [])
        self.assertEqual(raw_lines(tagged), [b"@+typing=active :alice!alice@glozichat TAGMSG #garden"])
        self.assertEqual(raw_lines(plain), [])

    def test_tagmsg_to_a_nick(self) -> None:
        """TAGMSG to an IRC user with message-tags reaches them; to one without, nothing."""
        alice = self.capable("alice", "message-tags")
        bob = self.capable("bob", "message-tags")
        carol = self.user("carol")
        alice.send("@+typing=active TAGMSG bob", "@+typing=active TAGMSG carol")
        [line] = raw_lines(bob)
        self.assertTrue(line.startswith(b"@msgid="))
        self.assertTrue(line.endswith(b";+typing=active :alice!alice@glozichat TAGMSG bob"))
        self.assertEqual(raw_lines(carol), [])

    def test_tagmsg_refusals(self) -> None:
        """TAGMSG to a channel you are not in: 404; to nobody: 401; without a target: 461."""
        alice = self.capable("alice", "message-tags")
        self.member("bob", "#garden")
        self.assertEqual(alice.one("@+typing=active TAGMSG #garden").command, "404")
        self.assertEqual(alice.one("@+typing=active TAGMSG nobody").command, "401")
        self.assertEqual(alice.one("TAGMSG").command, "461")

    def test_tagmsg_under_moderation_is_refused(self) -> None:
        """TAGMSG follows the channel's modes as PRIVMSG does: +m refuses a member who may not talk (404)."""
        admin = self.member("admin", "#garden")
        alice = self.capable("alice", "message-tags", "#garden")
        admin.send("MODE #garden +m")
        raw_lines(alice)
        [refused] = alice.send("@+typing=active TAGMSG #garden")
        self.assertEqual((refused.command, refused.params[1]), ("404", "#garden"))


class EchoTests(CapsTestCase):
    def test_echo_carries_the_same_msgid_and_time(self) -> None:
        """With echo-message the sender gets its message back with the msgid and time the others get."""
        alice = self.capable("alice", "echo-message message-tags server-time", "#garden")
        bob = self.capable("bob", "message-tags server-time", "#garden")
        raw_lines(alice)
        raw_lines(bob)
        feed(alice, "PRIVMSG #garden :hello")
        [echoed] = raw_lines(alice)
        [delivered] = raw_lines(bob)
        self.assertEqual(echoed, delivered)
        self.assertIn(b"msgid=", echoed)

    def test_without_echo_message_the_sender_gets_nothing(self) -> None:
        """No echo-message, no echo."""
        alice = self.capable("alice", "message-tags server-time", "#garden")
        raw_lines(alice)
        feed(alice, "PRIVMSG #garden :hello")
        self.assertEqual(raw_lines(alice), [])

    def test_private_echo(self) -> None:
        """A private message is echoed to its sender as sent (to bob), with the id bob got."""
        alice = self.capable("alice", "echo-message message-tags")
        bob = self.capable("bob", "message-tags")
        feed(alice, "PRIVMSG Bob :psst")
        [echoed] = raw_lines(alice)
        [delivered] = raw_lines(bob)
        self.assertTrue(echoed.endswith(b":alice!alice@glozichat PRIVMSG bob psst"))
        self.assertEqual(tags.split_tags(echoed).tags, tags.split_tags(delivered).tags)


class LabelTests(CapsTestCase):
    def test_one_line_answer_carries_the_label(self) -> None:
        """``@label=abc PING x`` is answered ``@label=abc :server PONG server x``."""
        alice = self.capable("alice", "labeled-response batch")
        feed(alice, "@label=abc PING x")
        self.assertEqual(raw_lines(alice), [b"@label=abc :testbox.glozichat PONG testbox.glozichat x"])

    def test_no_answer_is_an_ack(self) -> None:
        """A labeled command that answers nothing (PONG) gets a labeled ACK."""
        alice = self.capable("alice", "labeled-response batch")
        feed(alice, "@label=abc PONG x")
        self.assertEqual(raw_lines(alice), [b"@label=abc :testbox.glozichat ACK"])

    def test_several_lines_come_in_a_labeled_batch(self) -> None:
        """WHOIS: ``BATCH +ref labeled-response`` carrying the label, every line tagged with the batch, ``BATCH -ref``."""
        alice = self.capable("alice", "labeled-response batch")
        self.user("bob")
        feed(alice, "@label=w1 WHOIS bob")
        lines = raw_lines(alice)
        start, *inside, end = lines
        ref = start.split(b" ")[3][1:]
        self.assertEqual(start, b"@label=w1 :testbox.glozichat BATCH +" + ref + b" labeled-response")
        self.assertEqual(end, b":testbox.glozichat BATCH -" + ref)
        self.assertTrue(all(line.startswith(b"@batch=" + ref + b" ") for line in inside))
        self.assertEqual([IRCClient.parsed(line + b"\r\n")[0].command for line in inside], ["311", "312", "317", "318"])

    def test_echo_carries_the_label(self) -> None:
        """A labeled PRIVMSG with echo-message: the echo is the labeled answer; the others get no label."""
        alice = self.capable("alice", "labeled-response batch echo-message", "#garden")
        bob = self.capable("bob", "message-tags", "#garden")
        raw_lines(alice)
        raw_lines(bob)
        feed(alice, "@label=m1 PRIVMSG #garden :hi")
        self.assertEqual(raw_lines(alice), [b"@label=m1 :alice!alice@glozichat PRIVMSG #garden hi"])
        self.assertNotIn(b"label", raw_lines(bob)[0])

    def test_label_needs_both_capabilities(self) -> None:
        """labeled-response without batch: the answer is not labeled."""
        alice = self.capable("alice", "labeled-response")
        feed(alice, "@label=abc PING x")
        self.assertEqual(raw_lines(alice), [b":testbox.glozichat PONG testbox.glozichat x"])

    def test_label_over_64_bytes_is_not_repeated(self) -> None:
        """A label of 64 bytes is repeated; of 65, the answer goes unlabeled."""
        alice = self.capable("alice", "labeled-response batch")
        feed(alice, f"@label={'a' * 64} PING x")
        self.assertTrue(raw_lines(alice)[0].startswith(b"@label=" + b"a" * 64 + b" "))
        feed(alice, f"@label={'a' * 65} PING x")
        self.assertEqual(raw_lines(alice), [b":testbox.glozichat PONG testbox.glozichat x"])

    def test_batch_helper_nests_whole_batches(self) -> None:
        """A labeled answer that holds a batch of its own: its lines keep only their own batch tag."""
        alice = self.capable("alice", "labeled-response batch")
        inner = alice.protocol.open_batch("chathistory", b":a PRIVMSG #garden :one\r\n", "#garden")
        lines = inner.split(b"\r\n")[:-1]
        self.assertEqual(lines[0], b":testbox.glozichat BATCH +g1 chathistory #garden")
        self.assertEqual(lines[1], b"@batch=g1 :a PRIVMSG #garden :one")
        from glozi.doors.irc.batches import batch_lines

        outer = batch_lines(SERVER, "g2", "labeled-response", inner, start_tags="label=x")
        self.assertEqual(
            outer.split(b"\r\n")[:-1],
            [
                b"@label=x :testbox.glozichat BATCH +g2 labeled-response",
                b"@batch=g2 :testbox.glozichat BATCH +g1 chathistory #garden",
                b"@batch=g1 :a PRIVMSG #garden :one",
                b"@batch=g2 :testbox.glozichat BATCH -g1",
                b":testbox.glozichat BATCH -g2",
            ],
        )

    def test_no_batch_without_the_capability(self) -> None:
        """open_batch gives the lines unchanged to a client without batch."""
        alice = self.user("alice")
        self.assertEqual(alice.protocol.open_batch("chathistory", b":a X\r\n"), b":a X\r\n")


class CapabilityTests(CapsTestCase):
    def test_multi_prefix_shows_every_prefix(self) -> None:
        """An admin who is voiced too is ``@+alice`` in NAMES and WHO with multi-prefix, ``@alice`` without."""
        alice = self.member("alice", "#garden")
        alice.send("MODE #garden +v alice")
        both = self.capable("both", "multi-prefix", "#garden")
        [names] = [line for line in both.send("NAMES #garden") if line.command == "353"]
        self.assertIn("@+alice", names.params[-1].split())
        who = [line for line in both.send("WHO #garden") if line.command == "352" and line.params[5] == "alice"]
        self.assertEqual(who[0].params[6], "H@+")
        [plain] = [line for line in self.member("plain", "#garden").send("NAMES #garden") if line.command == "353"]
        self.assertIn("@alice", plain.params[-1].split())

    def test_userhost_in_names(self) -> None:
        """userhost-in-names: NAMES lists ``nick!user@host``."""
        self.member("alice", "#garden")
        lines = self.capable("bob", "userhost-in-names").send("JOIN #garden")
        [names] = [line for line in lines if line.command == "353"]
        self.assertEqual(names.params[-1].split(), ["@alice!alice@glozichat", "bob!bob@glozichat"])

    def test_away_notify_once_a_person(self) -> None:
        """away-notify: bob's AWAY reaches alice once though they share two channels; back is AWAY alone."""
        alice = self.capable("alice", "away-notify", "#garden")
        alice.send("JOIN #lime")
        bob = self.member("bob", "#garden")
        bob.send("JOIN #lime")
        plain = self.member("plain", "#garden")
        raw_lines(alice)
        bob.send("AWAY :lunch")
        self.assertEqual(raw_lines(alice), [b":bob!bob@glozichat AWAY lunch"])
        bob.send("AWAY")
        self.assertEqual(raw_lines(alice), [b":bob!bob@glozichat AWAY"])
        self.assertEqual(raw_lines(plain), [])

    def test_away_notify_after_join_of_someone_away(self) -> None:
        """Someone away who joins is followed by their AWAY line."""
        alice = self.capable("alice", "away-notify", "#garden")
        bob = self.user("bob")
        bob.send("AWAY :lunch")
        raw_lines(alice)
        bob.send("JOIN #garden")
        self.assertEqual(raw_lines(alice), [b":bob!bob@glozichat JOIN #garden", b":bob!bob@glozichat AWAY lunch"])

    def test_invite_notify(self) -> None:
        """invite-notify: members who asked see the admin's INVITE; the others do not."""
        admin = self.member("admin", "#garden")
        notified = self.capable("notified", "invite-notify", "#garden")
        plain = self.member("plain", "#garden")
        self.user("carol")
        raw_lines(notified)
        raw_lines(plain)
        admin.send("INVITE carol #garden")
        self.assertEqual(raw_lines(notified), [b":admin!admin@glozichat INVITE carol #garden"])
        self.assertEqual(raw_lines(plain), [])

    def test_setname(self) -> None:
        """SETNAME: you and members with setname see it; WHOIS shows the new real name."""
        alice = self.capable("alice", "setname", "#garden")
        bob = self.capable("bob", "setname", "#garden")
        plain = self.member("plain", "#garden")
        raw_lines(bob)
        raw_lines(alice)
        feed(alice, "SETNAME :Alice Liddell")
        self.assertEqual(raw_lines(alice), [b":alice!alice@glozichat SETNAME :Alice Liddell"])
        self.assertEqual(raw_lines(bob), [b":alice!alice@glozichat SETNAME :Alice Liddell"])
        self.assertEqual(raw_lines(plain), [])
        [whois] = [line for line in plain.send("WHOIS alice") if line.command == "311"]
        self.assertEqual(whois.params[-1], "Alice Liddell")

    def test_setname_refuses_a_bad_name(self) -> None:
        """An empty real name or one over 100 characters: ``FAIL SETNAME INVALID_REALNAME``; 100 are taken."""
        alice = self.capable("alice", "setname")
        for bad in (":", ":   ", ":" + "x" * 101):
            [fail] = alice.send(f"SETNAME {bad}")
            self.assertEqual((fail.command, fail.params[:2]), ("FAIL", ["SETNAME", "INVALID_REALNAME"]))
        self.assertEqual(alice.one("SETNAME :" + "x" * 100).command, "SETNAME")

    def test_extended_join(self) -> None:
        """extended-join: ``JOIN #garden * :real name``, for others' joins and your own."""
        alice = self.capable("alice", "extended-join", "#garden")
        raw_lines(alice)
        self.member("bob", "#garden")
        self.assertEqual(raw_lines(alice), [b":bob!bob@glozichat JOIN #garden * :bob tester"])
        [own] = self.capable("carol", "extended-join").send("JOIN #lime")[:1]
        self.assertEqual(own.params, ["#lime", "*", "carol tester"])

    def test_server_time_on_a_join(self) -> None:
        """server-time on other lines: a JOIN is stamped with when it happened."""
        alice = self.capable("alice", "server-time", "#garden")
        raw_lines(alice)
        self.member("bob", "#garden")
        self.assertEqual(raw_lines(alice), [b"@time=" + NOW.encode() + b" :bob!bob@glozichat JOIN #garden"])


class DomainTests(SynchronousTestCase):
    """What the domain adds for IRCv3, with a Clock and recording connections: no door."""

    def setUp(self) -> None:
        self.chat, self.clock = make_server()
        self.alice, self.alice_sees = connect(self.chat)
        self.bob, self.bob_sees = connect(self.chat)
        session_id = done(self.alice.create("garden", "alice")).session.id
        done(self.bob.join(session_id, "bob"))
        done(self.alice.join(self.chat.session_named("kiwi").id, "alice"))
        done(self.bob.join(self.chat.session_named("kiwi").id, "bob"))
        self.garden = session_id
        self.alice_sees.clear()
        self.bob_sees.clear()

    def test_a_new_real_name_reaches_each_shared_session_with_one_change_number(self) -> None:
        """set_real_name: the others get RealNameChanged once per shared session, all with one change number."""
        self.alice.set_real_name("Alice Liddell")
        changes = self.bob_sees.of_type(RealNameChanged)
        self.assertEqual(len(changes), 2)
        self.assertEqual({(c.name, c.real_name) for c in changes}, {("alice", "Alice Liddell")})
        self.assertEqual(len({c.change for c in changes}), 1)
        self.assertEqual(self.alice_sees.of_type(RealNameChanged), [])
        self.assertEqual(self.bob.whois("alice").real_name, "Alice Liddell")

    def test_send_tags_reaches_the_others_and_is_not_stored(self) -> None:
        """send_tags: a SessionTagMessage to the others (the sender too with echo), nothing in the history."""
        self.alice.send_tags("+typing=active", self.garden)
        [tagged] = self.bob_sees.of_type(SessionTagMessage)
        self.assertEqual((tagged.sender, tagged.client_tags), ("alice", "+typing=active"))
        self.assertEqual(self.alice_sees.of_type(SessionTagMessage), [])
        self.alice.send_tags("+typing=done", self.garden, echo=True)
        self.assertEqual(len(self.alice_sees.of_type(SessionTagMessage)), 1)
        self.assertEqual(list(self.chat.sessions[self.garden].history), [])

    def test_an_invitation_is_told_to_the_other_members(self) -> None:
        """The admin's invitation: the invitee gets Invited, the other members MemberInvited."""
        carol, carol_sees = connect(self.chat)
        carol.rename("carol")
        self.alice.run_command("invite", "carol", self.garden)
        self.assertEqual(len(carol_sees.of_type(Invited)), 1)
        [told] = self.bob_sees.of_type(MemberInvited)
        self.assertEqual((told.by, told.nick), ("alice", "carol"))
        self.assertEqual(self.alice_sees.of_type(MemberInvited), [])

    def test_client_tags_ride_on_the_message(self) -> None:
        """say(client_tags=…): the Message every member gets carries them."""
        done(self.alice.say("hi", self.garden, client_tags="+draft/reply=x"))
        [message] = self.bob_sees.of_type(Message)
        self.assertEqual(message.client_tags, "+draft/reply=x")
