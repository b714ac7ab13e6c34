"""The browser page in a real headless Chromium against the real ``twistd -n glozichat``.

Selenium's calls block, so each scenario runs in a thread (``deferToThread``)
while the reactor keeps reading the server's output and can restart it. The
IRC user is a plain socket speaking hand-written lines.
"""

import os
import socket
import time
from collections.abc import Callable
from typing import Any

from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
from selenium.webdriver.common.keys import Keys
from twisted.internet import defer, reactor, threads
from twisted.trial.unittest import TestCase
from twisted.web import server as web_server
from twisted.web import static

from tests.realbrowser import WAIT_SECONDS, Browser, PageUser
from tests.realserver import connect_client, start_server

OPEN_SOCKET = """
const done = arguments[arguments.length - 1];
const socket = new WebSocket(arguments[0]);
socket.onmessage = (event) => { done(JSON.parse(event.data).type); socket.close(); };
socket.onclose = () => done("closed");
"""
RECORD_ALERTS = "window.__alerts = []; window.alert = (text) => window.__alerts.push(String(text));"
IMG_PAYLOAD = "<img src=x onerror=\"window.__pwned = 'img'\">"
SCRIPT_PAYLOAD = "<script>window.__pwned = 'script'</script>"
ALERT_PAYLOAD = "<img src=x onerror=alert(1)>"


class IrcUser:
    """A bare IRC client on a blocking loopback socket: hand-written lines, bounded reads."""

    def __init__(self, port: int, nick: str) -> None:
        self.nick = nick
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=WAIT_SECONDS)
        self.buffer = b""
        self.send(f"NICK {nick}")
        self.send(f"USER {nick} 0 * :{nick} on IRC")
        self.expect(lambda line: f" 001 {nick} " in line)

    def send(self, line: str) -> None:
        self.socket.sendall(line.encode() + b"\r\n")

    def expect(self, matches: Callable[[str], bool], timeout: float = WAIT_SECONDS) -> str:
        """The first line from now on that ``matches`` (PINGs answered); fails after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\r\n" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\r\n", 1)
                line = raw.decode()
                if line.startswith("PING "):
                    self.send("PONG " + line[5:])
                elif matches(line):
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.nick} waited {timeout} s for a line")
            self.socket.settimeout(left)
            data = self.socket.recv(65536)
            if not data:
                raise AssertionError(f"the server closed {self.nick}'s connection")
            self.buffer += data

    def close(self) -> None:
        self.socket.close()


class PageTests(TestCase):
    """Browser users, an IRC user, one server: what the page promises (docs/web.md)."""

    timeout = 180

    def browser(self) -> Browser:
        browser = Browser()
        self.addCleanup(browser.quit)
        return browser

    def irc_user(self, port: int, nick: str) -> IrcUser:
        user = IrcUser(port, nick)
        self.addCleanup(user.close)
        return user

    @staticmethod
    def url(server: Any, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{server.web_port}/"

    @defer.inlineCallbacks
    def test_two_browser_users_and_an_irc_user_chat_both_ways_in_one_session(self) -> Any:
        """Alice creates garden on the page, Bob joins it on the page, Carol over IRC; each one's words reach the other two."""
        server = yield start_server(self)
        browser = self.browser()

        def scenario() -> None:
            alice = PageUser(browser, self.url(server), first_tab=True)
            alice.create("garden", "alice")
            bob = PageUser(browser, self.url(server))
            bob.join("garden", "bob")
            carol = self.irc_user(server.irc_port, "carol")
            carol.send("JOIN #garden")
            carol.expect(lambda line: " 366 carol #garden " in line)
            alice.wait_line("carol joined.")

            alice.type("hello from alice")
            bob.wait_line("alice hello from alice")
            carol.expect(
                lambda line: line.startswith(":alice!") and line.endswith("PRIVMSG #garden :hello from alice")
            )
            bob.type("hi alice, bob here")
            carol.expect(
                lambda line: line.startswith(":bob!") and line.endswith("PRIVMSG #garden :hi alice, bob here")
            )
            alice.wait_line("bob hi alice, bob here")
            carol.send("PRIVMSG #garden :carol from IRC")
            alice.wait_line("carol carol from IRC")
            bob.wait_line("carol carol from IRC")

            self.assertEqual(bob.members(), ["★ alice", "bob (you)", "carol"])
            alice_page = alice.front()
            self.assertIn("shown", alice_page.find("#sidebar .conversation").get_attribute("class"))
            mentioned = alice_page.texts("#transcript .line.mentioned")
            self.assertEqual(len(mentioned), 1, "bob's line names alice")
            self.assertIn("hi alice, bob here", mentioned[0])
            self.assertEqual(alice_page.texts("#transcript .line.mentioned mark"), ["alice"])

            # Each conversation keeps the place you were reading in it.
            alice.join("kiwi", "alice")
            alice_page.find('#sidebar .conversation[data-key="session:10"]').click()
            # Long lines, few of them: within the IRC door's flood budget, more than the window holds.
            for number in range(12):
                carol.send(f"PRIVMSG #garden :filler {number} " + "words to wrap " * 30)
            alice.wait_line("filler 11")
            alice_page.driver.execute_script("document.getElementById('transcript').scrollTop = 0")
            alice_page.find('#sidebar .conversation[data-key="session:2"]').click()
            alice_page.wait("kiwi", lambda: "kiwi" in alice_page.find("#chat-title").text)
            alice_page.find('#sidebar .conversation[data-key="session:10"]').click()
            alice_page.wait("garden", lambda: "garden" in alice_page.find("#chat-title").text)
            place = "const box = document.getElementById('transcript'); return [box.scrollTop, box.scrollHeight > box.clientHeight]"
            self.assertEqual(alice_page.driver.execute_script(place), [0, True])
            self.assertFalse(alice_page.visible("#new-below"))
            carol.send("PRIVMSG #garden :while alice reads above")
            alice_page.wait("New messages below", lambda: alice_page.visible("#new-below"))
            self.assertEqual(
                alice_page.driver.execute_script(place), [0, True], "the view stays where she reads"
            )
            alice_page.find("#new-below").click()
            alice_page.wait("the button to go", lambda: not alice_page.visible("#new-below"))
            at_bottom = "const box = document.getElementById('transcript'); return box.scrollHeight - box.scrollTop - box.clientHeight"
            self.assertLess(alice_page.driver.execute_script(at_bottom), 2)

            # At a phone's width the sidebar is a drawer: out of sight until the menu opens it.
            alice_page.set_size(390, 844)
            sidebar_left = "return document.getElementById('sidebar').getBoundingClientRect().right"
            alice_page.wait(
                "the sidebar to leave", lambda: alice_page.driver.execute_script(sidebar_left) <= 0
            )
            self.assertTrue(alice_page.visible("#transcript"))
            alice_page.find("#menu").click()
            alice_page.wait("the drawer", lambda: alice_page.driver.execute_script(sidebar_left) > 200)
            alice_page.find("#sidebar .conversation").click()
            alice_page.wait(
                "the drawer to close", lambda: alice_page.driver.execute_script(sidebar_left) <= 0
            )

        yield threads.deferToThread(scenario)

    @defer.inlineCallbacks
    def test_a_locked_session_takes_its_password_and_a_kick_is_seen_by_the_kicked(self) -> Any:
        """Bob's list shows Alice's new locked session by itself; his wrong password is refused with the server's
        words in the dialog, the right one lets him in; Alice's Kick button removes him and his page says so."""
        server = yield start_server(self)
        browser = self.browser()

        def scenario() -> None:
            bob = PageUser(browser, self.url(server), first_tab=True)
            alice = PageUser(browser, self.url(server))
            alice.create("vault", "alice", password="12345")
            page = bob.front()
            row = bob.session_row("vault")
            self.assertEqual(row.get_attribute("aria-label"), "Locked session vault, number 10, 1 member")
            row.click()
            page.wait("the join dialog", lambda: page.find("#dialog").get_attribute("open") is not None)
            page.find("#dialog-username").send_keys(Keys.ESCAPE)
            page.wait("Escape to close it", lambda: page.find("#dialog").get_attribute("open") is None)
            bob.session_row("vault").click()
            bob.fill_dialog("bob", password="11111")
            page.wait_text("#dialog-error", "Wrong password for session vault.")
            self.assertTrue(page.find("#dialog").get_attribute("open") is not None, "the dialog stays open")
            bob.fill_dialog("bob", password="12345")
            bob.wait_chat("vault")

            alice.wait_line("bob joined.")
            kick = alice.front().wait("Kick bob", lambda: alice.front().find("#members .kick"))
            self.assertEqual(kick.get_attribute("aria-label"), "Kick bob")
            kick.click()
            alice.wait_line("bob was kicked by alice.")
            page = bob.front()
            page.wait_text("#notice", "You were kicked from vault by alice.")
            self.assertTrue(page.visible("#lobby"), "bob is back at the session list")
            self.assertEqual(bob.sidebar(), {})

            alice_page = alice.front()
            alice_page.find("#close-session").click()
            alice_page.wait_text("#notice", "alice closed the session vault.")
            page = bob.front()
            page.wait("vault to leave bob's list", lambda: "vault" not in page.texts(".session-row .name"))

        yield threads.deferToThread(scenario)

    @defer.inlineCallbacks
    def test_a_private_message_to_a_hidden_page_shows_a_notification(self) -> Any:
        """Notifications are asked for on a click, not on load; Bob's /msg to Alice, whose tab is in the background, makes one and counts unread."""
        server = yield start_server(self)
        browser = self.browser()
        browser.record_notifications()

        def scenario() -> None:
            alice = PageUser(browser, self.url(server), first_tab=True)
            page = alice.front()
            self.assertEqual(
                page.driver.execute_script("return Notification.permission"), "default", "not asked on load"
            )
            self.assertTrue(page.visible("#notify"))
            browser.grant_notifications(self.url(server).rstrip("/"))
            page.find("#notify").click()
            page.wait("the button to go", lambda: not page.visible("#notify"))
            alice.join("kiwi", "alice")

            bob = PageUser(browser, self.url(server))
            bob.join("kiwi", "bob")
            self.assertEqual(bob.front().driver.execute_script("return document.visibilityState"), "visible")
            bob.type("/msg alice psst, alice")
            bob.front().wait(
                "bob's line to be sent", lambda: bob.front().find_all("#transcript .line.own.sent")
            )

            page = alice.front()
            page.wait("a notification", lambda: browser.notifications())
            self.assertEqual(browser.notifications(), [{"title": "bob privately", "body": "psst, alice"}])
            self.assertEqual(alice.sidebar(), {"kiwi": "", "@bob": "@ 1"})
            page.wait(
                "the title's count to go once the page is seen", lambda: page.driver.title == "GloziChat"
            )

        yield threads.deferToThread(scenario)

    @defer.inlineCallbacks
    def test_the_page_reconnects_after_a_restart_and_sends_what_was_typed_meanwhile(self) -> Any:
        """The server stops; what Alice types is kept as waiting; the same server comes back on the same ports and database; the page rejoins and sends it, once."""
        database = os.path.abspath(self.mktemp())
        server = yield start_server(self, "--db", database)
        ports = (
            "--port",
            f"tcp:{server.port}:interface=127.0.0.1",
            "--web-port",
            f"tcp:{server.web_port}:interface=127.0.0.1",
        )
        browser = self.browser()
        alice: list[PageUser] = []

        def before() -> None:
            alice.append(PageUser(browser, self.url(server), first_tab=True))
            alice[0].join("kiwi", "alice")
            alice[0].type("before the restart")
            alice[0].front().wait("the ack", lambda: alice[0].front().find_all("#transcript .line.own.sent"))

        yield threads.deferToThread(before)
        server.signal("TERM")
        yield server.ended

        def while_away() -> None:
            page = alice[0].front()
            page.wait_text("#status", "Reconnecting")
            alice[0].type("typed while the server was away")
            alice[0].wait_line("Waiting for the connection")

        yield threads.deferToThread(while_away)
        yield start_server(self, "--db", database, *ports)

        def after() -> None:
            page = alice[0].front()
            page.wait(
                "the line to be sent",
                lambda: len(page.find_all("#transcript .line.own.sent")) == 2,
                timeout=60,
            )
            lines = alice[0].lines()
            self.assertIn("Reconnected.", " ".join(lines))
            self.assertEqual(
                len([line for line in lines if "before the restart" in line]),
                1,
                "not again from the scrollback",
            )
            self.assertEqual(page.find("#status").text, "")

        yield threads.deferToThread(after)
        reader = yield connect_client(self, server.port)
        joined = yield reader.request(type="join", session=2, username="reader")
        self.assertEqual(joined["type"], "joined")
        texts = []
        for _ in range(joined["history"]):
            frame = yield reader.next()
            texts.append(frame["text"])
        self.assertEqual(texts, ["before the restart", "typed while the server was away"])

    @defer.inlineCallbacks
    def test_html_and_script_in_messages_show_as_text_and_run_nothing(self) -> Any:
        """Markup from the page itself and from an IRC user is shown as its characters: no element made, no handler run, no alert."""
        server = yield start_server(self)
        browser = self.browser()
        browser.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_ALERTS})

        def scenario() -> None:
            alice = PageUser(browser, self.url(server), first_tab=True)
            alice.create("lab", "alice")
            carol = self.irc_user(server.irc_port, "carol")
            carol.send("JOIN #lab")
            carol.expect(lambda line: " 366 carol #lab " in line)
            alice.type(IMG_PAYLOAD)
            alice.type(SCRIPT_PAYLOAD)
            alice.type("/topic <b>bold?</b>")
            carol.expect(lambda line: " TOPIC #lab " in line and line.endswith("<b>bold?</b>"))
            carol.send(f"PRIVMSG #lab :{ALERT_PAYLOAD}")
            carol.send(f"PRIVMSG #lab :{SCRIPT_PAYLOAD}")
            page = alice.front()
            page.wait("carol's lines", lambda: len(page.find_all("#transcript .line.message")) == 4)
            self.assertEqual(page.find("#topic").text, "<b>bold?</b>")
            self.assertEqual(
                page.texts("#transcript .line.message .text"),
                [IMG_PAYLOAD, SCRIPT_PAYLOAD, ALERT_PAYLOAD, SCRIPT_PAYLOAD],
            )
            made = page.driver.execute_script(
                "return document.querySelectorAll('#transcript img, #transcript script, #transcript b, #topic b').length"
            )
            self.assertEqual(made, 0)
            self.assertIsNone(
                page.driver.execute_script("return window.__pwned === undefined ? null : window.__pwned")
            )
            self.assertEqual(page.driver.execute_script("return window.__alerts"), [])
            with self.assertRaises(NoAlertPresentException):
                _ = page.driver.switch_to.alert.text

        yield threads.deferToThread(scenario)

    @defer.inlineCallbacks
    def test_the_exit_code_field_refuses_a_wrong_code_and_closes_the_server_with_the_right_one(self) -> Any:
        """The session list's exit-code field: a short code is checked on the page, a wrong one gets the
        server's words, the right one closes the server, which every page says."""
        server = yield start_server(self)
        browser = self.browser()

        def scenario() -> None:
            alice = PageUser(browser, self.url(server), first_tab=True)
            page = alice.front()
            field = page.find("#exit-code")
            field.send_keys("123\n")
            page.wait_text("#exit-feedback", "The exit code is 10 digits.")
            field.send_keys("4567890\n")
            page.wait_text("#exit-feedback", "Wrong exit code (2 attempts left).")
            field.clear()
            field.send_keys(server.exit_code + "\n")
            page.wait_text("#status", "The server is closing: The server was closed with its exit code.")

        yield threads.deferToThread(scenario)
        status = yield server.ended
        self.assertEqual(status, 0)

    @defer.inlineCallbacks
    def test_a_page_of_another_origin_cannot_open_the_websocket(self) -> Any:
        """Chromium's own Origin header: a page served from another loopback port is refused, the server's page is welcomed."""
        server = yield start_server(self)
        other = reactor.listenTCP(
            0,
            web_server.Site(static.Data(b"<!DOCTYPE html><p>elsewhere</p>", "text/html")),
            interface="127.0.0.1",
        )
        self.addCleanup(other.stopListening)
        browser = self.browser()
        socket_url = f"ws://127.0.0.1:{server.web_port}/ws"

        def scenario() -> list[str]:
            browser.driver.get(f"http://127.0.0.1:{other.getHost().port}/")
            elsewhere = browser.driver.execute_async_script(OPEN_SOCKET, socket_url)
            browser.driver.get(self.url(server))
            here = browser.driver.execute_async_script(OPEN_SOCKET, socket_url)
            return [elsewhere, here]

        outcomes = yield threads.deferToThread(scenario)
        self.assertEqual(outcomes, ["closed", "welcome"])

    @defer.inlineCallbacks
    def test_a_wheel_turn_up_at_the_top_loads_the_older_messages_above(self) -> Any:
        """Joined with the last 5 of 12 messages (--scrollback 5), Alice turns the wheel up: the 7 older ones
        come above in order, and the top says Start of history."""
        server = yield start_server(self, "--scrollback", "5")
        browser = self.browser()

        def scenario() -> None:
            carol = self.irc_user(server.irc_port, "carol")
            carol.send("JOIN #kiwi")
            carol.expect(lambda line: " 366 carol #kiwi " in line)
            for number in range(12):
                carol.send(f"PRIVMSG #kiwi :stored {number}")
            carol.send("PING :all-sent")
            carol.expect(lambda line: " PONG " in line and line.endswith("all-sent"))
            alice = PageUser(browser, self.url(server), first_tab=True)
            alice.join("kiwi", "alice")
            page = alice.front()

            def messages() -> list[str]:
                return page.texts("#transcript .line.message .text")

            page.wait("the scrollback", lambda: messages() == [f"stored {n}" for n in range(7, 12)])
            transcript = page.find("#transcript")
            ActionChains(page.driver).scroll_from_origin(
                ScrollOrigin.from_element(transcript), 0, -400
            ).perform()
            page.wait("the older messages", lambda: messages() == [f"stored {n}" for n in range(12)])
            page.wait_text("#older", "Start of history")

        yield threads.deferToThread(scenario)
