"""Scenarios that a real IRC client (irssi, WeeChat) in tmux plays against a native user on the real server.

Each client prints the same things its own way, so a scenario takes what to
wait for on that client's screen.
"""

from dataclasses import dataclass

from twisted.internet import defer
from twisted.trial.unittest import TestCase


@dataclass(frozen=True)
class Screen:
    """What one IRC client shows, for ircalice talking with the native bob in #garden."""

    joined: str
    """Seen once ircalice is in #garden."""
    bob_action: str
    """bob's `/me dances` in the channel."""
    server_window: str
    """The command that shows the window where the client prints WHOIS."""
    end_of_whois: str
    whois_shows: tuple[str, ...]
    """Parts of the WHOIS answer, as the client prints them (bob's user and host, his channels)."""
    bob_private: str
    """bob's private `hi back`."""
    bob_private_action: str
    """bob's private `/me grins`."""


@defer.inlineCallbacks
def me_whois_away_and_msg(test: TestCase, tmux, bob, screen: Screen):
    """/me, /whois, /away and /msg between the IRC client ircalice and the native bob
    (already in #garden), each way: on the client's screen and in bob's frames
    (ircalice's /away as member_away)."""
    yield tmux.type("/join #garden")
    yield screen_and_frame(tmux, screen.joined, bob)

    yield tmux.type("/me waves")
    action = yield bob.next()
    test.assertEqual((action["type"], action["text"], action["action"]), ("message", "waves", True))
    yield bob.request(type="say", text="dances", action=True)
    yield tmux.wait_for(screen.bob_action)

    yield bob.request(type="away", message="at lunch")
    yield tmux.type("/whois bob")
    yield tmux.type(screen.server_window)
    whois = yield tmux.wait_for(screen.end_of_whois)
    tmux.save("whois", whois)
    for part in screen.whois_shows:
        test.assertIn(part, whois)
    test.assertIn("at lunch", whois)

    yield tmux.type("/away back soon")
    yield tmux.wait_for("You have been marked as being away")
    seen = yield bob.next()
    test.assertEqual((seen["type"], seen["name"], seen["away"]), ("member_away", "ircalice", "back soon"))
    user = yield bob.request(type="whois", name="ircalice")
    test.assertEqual((user["type"], user["away"]), ("user", "back soon"))

    yield tmux.type("/msg bob psst")
    private = yield bob.next()
    test.assertEqual((private["type"], private["from"], private["text"]), ("private_message", "ircalice", "psst"))
    yield tmux.type("/query bob")
    yield bob.request(type="private", to="ircalice", text="hi back")
    yield tmux.wait_for(screen.bob_private)
    yield bob.request(type="private", to="ircalice", text="grins", action=True)
    query = yield tmux.wait_for(screen.bob_private_action)
    tmux.save("query", query)
    yield tmux.type("/me nods")
    private = yield bob.next()
    test.assertEqual((private["type"], private["text"], private["action"]), ("private_message", "nods", True))
    return whois


@defer.inlineCallbacks
def screen_and_frame(tmux, text: str, native):
    """Wait for ``text`` on the screen and for the native user's next frame (the join it saw)."""
    yield tmux.wait_for(text)
    yield native.next()
