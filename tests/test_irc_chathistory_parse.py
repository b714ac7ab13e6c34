"""CHATHISTORY lines parsed at the edge (glozi/doors/irc/history.py): each
subcommand, each refusal docs/irc.md names, the limit cut to 100, and the
spec's one timestamp format; then a fuzz test that no line breaks the parser."""

import random
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import TestCase

from glozi.doors.irc.history import (
    HistoryFailure,
    HistoryRequest,
    TargetsRequest,
    parse_chathistory,
    parse_timestamp,
)
from glozi.doors.irc.wire import server_time
from glozi.storage.history import Anchor, Direction, HistoryQuery

T = "2023-11-14T22:13:20.123Z"
SECONDS = 1700000000.123
# A timestamp bound below the messages excludes its whole millisecond.
PAST_T = SECONDS + 0.0009995


class TimestampTests(TestCase):
    def test_a_stored_time_is_written_utc_to_the_millisecond(self) -> None:
        """server-time is YYYY-MM-DDThh:mm:ss.sssZ in UTC."""
        self.assertEqual(server_time(SECONDS), T)
        self.assertEqual(server_time(1764558245.0), "2025-12-01T03:04:05.000Z")

    def test_a_time_is_cut_to_its_millisecond_not_rounded_up(self) -> None:
        """A message at .9996 s shows .999: never later than it was sent."""
        self.assertEqual(server_time(1764558245.9996), "2025-12-01T03:04:05.999Z")

    def test_a_time_half_a_microsecond_before_a_second_shows_the_next_second(self) -> None:
        """Rounded to the microsecond first, as datetime does: .9999996 s is the next whole second."""
        self.assertEqual(server_time(1764558245.9999996), "2025-12-01T03:04:06.000Z")
        self.assertEqual(server_time(1764558245.9999994), "2025-12-01T03:04:05.999Z")

    def test_the_same_text_as_datetime_writes(self) -> None:
        """Seconds of many days, and the moments around each second's edges, read as datetime reads them."""
        rng = random.Random(16)
        moments = [rng.uniform(0, 4102444800) for _ in range(2000)]
        moments += [whole + edge for whole in (1764558245, 1764558246) for edge in (0.0, 1e-7, 0.9994999, 0.9999995)]
        for seconds in moments:
            moment = datetime.fromtimestamp(seconds, UTC)
            self.assertEqual(server_time(seconds), f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z")

    def test_a_timestamp_reads_back_as_the_time_it_shows(self) -> None:
        """parse_timestamp(server_time(t)) gives t back to the millisecond."""
        self.assertEqual(server_time(parse_timestamp(T)), T)

    def test_only_the_specs_format_is_a_timestamp(self) -> None:
        """No seconds-only, offset, missing-Z, epoch or impossible date forms."""
        for text in (
            "2023-11-14T22:13:20Z",
            "2023-11-14T22:13:20.123+00:00",
            "2023-11-14T22:13:20.123",
            "2023-11-14 22:13:20.123Z",
            "1700000000",
            "2023-02-30T22:13:20.123Z",
            "2023-11-14T25:13:20.123Z",
            "２０２３-11-14T22:13:20.123Z",
            "",
        ):
            self.assertIsNone(parse_timestamp(text), text)


def query(direction: Direction, limit: int, start: Anchor | None = None, end: Anchor | None = None) -> HistoryQuery:
    return HistoryQuery(direction, limit, start, end)


class RequestTests(TestCase):
    def test_each_subcommand_becomes_its_query(self) -> None:
        """LATEST, BEFORE, AFTER, AROUND, BETWEEN by msgid and by timestamp, in any case."""
        cases = [
            (["LATEST", "#kiwi", "*", "50"], query(Direction.LATEST, 50)),
            (["latest", "#kiwi", "msgid=ab1", "50"], query(Direction.LATEST, 50, Anchor(msgid="ab1"))),
            (["LATEST", "#kiwi", f"timestamp={T}", "50"], query(Direction.LATEST, 50, Anchor(time=PAST_T))),
            (["BEFORE", "#kiwi", "msgid=ab1", "10"], query(Direction.BEFORE, 10, Anchor(msgid="ab1"))),
            (["Before", "#kiwi", f"timestamp={T}", "10"], query(Direction.BEFORE, 10, Anchor(time=SECONDS))),
            (["AFTER", "#kiwi", "msgid=ab1", "10"], query(Direction.AFTER, 10, Anchor(msgid="ab1"))),
            (["AFTER", "#kiwi", f"timestamp={T}", "10"], query(Direction.AFTER, 10, Anchor(time=PAST_T))),
            (["AROUND", "#kiwi", "msgid=ab1", "7"], query(Direction.AROUND, 7, Anchor(msgid="ab1"))),
            (["AROUND", "#kiwi", f"timestamp={T}", "7"], query(Direction.AROUND, 7, Anchor(time=SECONDS))),
            (
                ["BETWEEN", "#kiwi", "msgid=a", "msgid=b", "5"],
                query(Direction.BETWEEN, 5, Anchor(msgid="a"), Anchor(msgid="b")),
            ),
            (
                ["BETWEEN", "#kiwi", f"timestamp={T}", "timestamp=2023-11-14T22:14:00.000Z", "5"],
                query(Direction.BETWEEN, 5, Anchor(time=PAST_T), Anchor(time=1700000040.0)),
            ),
            (
                ["BETWEEN", "#kiwi", "timestamp=2023-11-14T22:14:00.000Z", f"timestamp={T}", "5"],
                query(Direction.BETWEEN, 5, Anchor(time=1700000040.0), Anchor(time=PAST_T)),
            ),
            (
                ["BETWEEN", "#kiwi", f"timestamp={T}", "msgid=b", "5"],
                query(Direction.BETWEEN, 5, Anchor(time=SECONDS), Anchor(msgid="b")),
            ),
        ]
        for params, expected in cases:
            parsed = parse_chathistory(params)
            self.assertIsInstance(parsed, HistoryRequest, params)
            assert isinstance(parsed, HistoryRequest)
            self.assertEqual((parsed.subcommand, parsed.target), (params[0].upper(), "#kiwi"), params)
            self.assertEqual(parsed.query.direction, expected.direction, params)
            self.assertEqual(parsed.query.limit, expected.limit, params)
            for got, want in ((parsed.query.start, expected.start), (parsed.query.end, expected.end)):
                if want is None or want.time is None:
                    self.assertEqual(got, want, params)
                else:
                    assert got is not None and got.time is not None
                    self.assertAlmostEqual(got.time, want.time, places=5, msg=params)

    def test_a_limit_over_100_is_cut_to_100(self) -> None:
        """ISUPPORT CHATHISTORY=100: 100 is kept, 101 and 999999999 answer 100."""
        for asked, kept in (("1", 1), ("100", 100), ("101", 100), ("999999999", 100)):
            parsed = parse_chathistory(["LATEST", "#kiwi", "*", asked])
            assert isinstance(parsed, HistoryRequest)
            self.assertEqual(parsed.query.limit, kept)

    def test_targets_takes_two_timestamps_in_either_order(self) -> None:
        """TARGETS timestamp=a timestamp=b: the sessions between the earlier and the later."""
        for first, second in ((T, "2023-11-14T22:14:00.000Z"), ("2023-11-14T22:14:00.000Z", T)):
            parsed = parse_chathistory(["TARGETS", f"timestamp={first}", f"timestamp={second}", "20"])
            self.assertIsInstance(parsed, TargetsRequest)
            assert isinstance(parsed, TargetsRequest)
            self.assertAlmostEqual(parsed.after, PAST_T, places=5)
            self.assertAlmostEqual(parsed.before, 1700000040.0, places=5)
            self.assertEqual(parsed.limit, 20)

    def test_targets_limit_over_100_is_cut_to_100(self) -> None:
        """At most 100 sessions listed."""
        parsed = parse_chathistory(["TARGETS", f"timestamp={T}", f"timestamp={T}", "5000"])
        assert isinstance(parsed, TargetsRequest)
        self.assertEqual(parsed.limit, 100)


class RefusalTests(TestCase):
    def refusal(self, params: list[str]) -> tuple[str, ...]:
        parsed = parse_chathistory(params)
        self.assertIsInstance(parsed, HistoryFailure, params)
        assert isinstance(parsed, HistoryFailure)
        return parsed.params

    def test_no_subcommand_needs_more_params(self) -> None:
        """FAIL CHATHISTORY NEED_MORE_PARAMS * :Missing parameters."""
        self.assertEqual(self.refusal([]), ("CHATHISTORY", "NEED_MORE_PARAMS", "*", "Missing parameters"))

    def test_an_unknown_subcommand_is_unknown_command(self) -> None:
        """FAIL CHATHISTORY UNKNOWN_COMMAND the_given_command :Unknown command."""
        self.assertEqual(
            self.refusal(["EVERYTHING", "#kiwi", "*", "5"]),
            ("CHATHISTORY", "UNKNOWN_COMMAND", "EVERYTHING", "Unknown command"),
        )

    def test_too_few_parameters_need_more_params(self) -> None:
        """Each subcommand with one parameter short: NEED_MORE_PARAMS naming it."""
        for params in (
            ["LATEST", "#kiwi", "*"],
            ["BEFORE", "#kiwi"],
            ["AFTER"],
            ["AROUND", "#kiwi", "msgid=a"],
            ["BETWEEN", "#kiwi", "msgid=a", "msgid=b"],
            ["TARGETS", f"timestamp={T}", f"timestamp={T}"],
        ):
            self.assertEqual(
                self.refusal(params), ("CHATHISTORY", "NEED_MORE_PARAMS", params[0], "Missing parameters")
            )

    def test_bad_points_limits_and_extra_parameters_are_invalid_params(self) -> None:
        """FAIL CHATHISTORY INVALID_PARAMS <subcommand> <the parameter> :Invalid parameters: why."""
        cases = [
            (["BEFORE", "#kiwi", "*", "10"], "*"),
            (["AFTER", "#kiwi", "timestamp=1700000000", "10"], "timestamp=1700000000"),
            (["AROUND", "#kiwi", "msgid=", "10"], "msgid="),
            (["BEFORE", "#kiwi", "id=ab", "10"], "id=ab"),
            (["BETWEEN", "#kiwi", "*", "msgid=b", "10"], "*"),
            (["BETWEEN", "#kiwi", "msgid=a", "timestamp=x", "10"], "timestamp=x"),
            (["LATEST", "#kiwi", "*", "0"], "0"),
            (["LATEST", "#kiwi", "*", "-5"], "-5"),
            (["LATEST", "#kiwi", "*", "ten"], "ten"),
            (["LATEST", "#kiwi", "*", "1234567890"], "1234567890"),
            (["LATEST", "#kiwi", "*", "10", "more"], "more"),
            (["TARGETS", "msgid=a", f"timestamp={T}", "10"], "msgid=a"),
            (["TARGETS", f"timestamp={T}", "*", "10"], "*"),
            (["TARGETS", f"timestamp={T}", f"timestamp={T}", "0"], "0"),
        ]
        for params, bad in cases:
            params_out = self.refusal(params)
            self.assertEqual(params_out[:4], ("CHATHISTORY", "INVALID_PARAMS", params[0], bad), params)
            self.assertTrue(params_out[4].startswith("Invalid parameters: "), params_out)

    def test_a_bad_timestamp_refusal_says_the_format(self) -> None:
        """The description tells the one format the server takes."""
        self.assertIn(
            "timestamp=YYYY-MM-DDThh:mm:ss.sssZ", self.refusal(["BEFORE", "#kiwi", "timestamp=yesterday", "5"])[-1]
        )


class FuzzTests(TestCase):
    @given(
        st.lists(
            st.one_of(
                st.sampled_from(["LATEST", "BEFORE", "AFTER", "AROUND", "BETWEEN", "TARGETS", "*", "#kiwi"]),
                st.sampled_from(["msgid=", "timestamp=", f"timestamp={T}", "0", "100", "101"]),
                st.text(max_size=30),
                st.from_regex(r"timestamp=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z", fullmatch=True),
            ),
            max_size=7,
        )
    )
    def test_any_parameters_give_a_request_or_a_refusal(self, params: list[str]) -> None:
        """Never an exception; a request's limit is 1 to 100; a refusal is a FAIL with a known code."""
        parsed = parse_chathistory(params)
        if isinstance(parsed, HistoryFailure):
            self.assertIn(parsed.code, {"NEED_MORE_PARAMS", "UNKNOWN_COMMAND", "INVALID_PARAMS"})
            self.assertTrue(all(len(context) <= 64 for context in parsed.context))
        elif isinstance(parsed, HistoryRequest):
            self.assertTrue(1 <= parsed.query.limit <= 100)
        else:
            self.assertIsInstance(parsed, TargetsRequest)
            self.assertTrue(parsed.after <= parsed.before + 0.001 and 1 <= parsed.limit <= 100)
