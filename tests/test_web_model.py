"""The page's network layer, view-model and rules, run in a real headless Chromium without a server.

The modules are served from ``glozi/webclient/`` by a plain static site in
this process; each test imports them into a blank page and drives the
view-model with a fake connection (frames in, frames out) and a still clock,
so the rules are checked one by one, deterministically, as the desktop
client's are on StringTransport.
"""

from typing import Any

from twisted.internet import defer, reactor, threads
from twisted.trial.unittest import TestCase
from twisted.web import server, static

from glozi.doors.web.site import WEBCLIENT_DIR
from tests.realbrowser import Browser

HARNESS = """
const done = arguments[arguments.length - 1];
(async () => {
  const net = await import("/net.js");
  const rules = await import("/rules.js");
  const { ChatModel } = await import("/model.js");
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

  class FakeConnection {
    constructor() { this.sent = []; this.waiting = []; this.isOpen = true; }
    send(frame) { this.sent.push(frame); }
    request(frame) {
      const sent = { ...frame, id: this.sent.length + 1 };
      this.sent.push(sent);
      return new Promise((resolve, reject) => this.waiting.push({ sent, resolve, reject }));
    }
    // Answer the oldest request of `type` with `frame` (its id added), and let the model run.
    async answer(type, frame) {
      const index = this.waiting.findIndex((w) => w.sent.type === type);
      if (index < 0) throw new Error(`no ${type} request waits`);
      const [waiter] = this.waiting.splice(index, 1);
      waiter.resolve({ ...frame, id: waiter.sent.id });
      await settle();
    }
    async lose() {
      this.isOpen = false;
      for (const waiter of this.waiting.splice(0)) waiter.reject(new net.ConnectionLost("closed"));
    }
    types() { return this.sent.map((frame) => frame.type); }
    setFlood() {}
    welcomed() {}
    stopRetrying() { this.stoppedRetrying = true; }
    connect() {}
  }

  const session = { id: 10, name: "garden", members: 1, created: 1, creator: "alice", locked: false, admin: "alice" };
  const joined = (history) => ({
    type: "joined", session, you: "alice", members: [{ name: "alice", joined: 1, admin: true, away: null }],
    idle_timeout: null, history,
  });
  const welcome = { type: "welcome", protocol: 1, name: "lanbox", exit_code_digits: 10, max_text: 2000,
                    flood: { burst: 20, per_second: 5 } };
  const model = new ChatModel({ now: () => 1000000, timers: { setTimeout() {}, clearTimeout() {} }, storage: null });
  const connection = new FakeConnection();
  model.attach(connection);
  // Online, with alice in garden (its admin): where most tests start.
  const inGarden = async () => {
    model.state(net.State.OPEN, {});
    model.frame(welcome);
    model.openDialog("create");
    model.submitDialog({ name: "garden", username: "alice", password: "" });
    await connection.answer("create", joined(0));
    return model.conversations.get("session:10");
  };
  const reconnect = async () => {
    await connection.lose();
    model.state(net.State.WAITING, { attempt: 1, delay: 0.5 });
    await settle();
  };
  const says = () => connection.sent.filter((frame) => frame.type === "say" || frame.type === "private");
  const body = async () => { BODY };
  return await body();
})().then(done, (error) => done({ error: String(error && error.stack || error) }));
"""


class WebModelTests(TestCase):
    """The rules the page keeps, with no server and no screen in the way."""

    timeout = 120

    @defer.inlineCallbacks
    def setUp(self) -> Any:
        files = static.File(WEBCLIENT_DIR)
        files.contentTypes = {".js": "text/javascript", ".html": "text/html", ".css": "text/css"}
        port = reactor.listenTCP(0, server.Site(files), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.browser = yield threads.deferToThread(Browser)
        self.addCleanup(lambda: threads.deferToThread(self.browser.quit))
        # A blank page of the site's origin, to import the modules into.
        yield threads.deferToThread(
            self.browser.driver.get, f"http://127.0.0.1:{port.getHost().port}/style.css"
        )

    def run_js(self, body: str) -> "defer.Deferred[Any]":
        """Run ``body`` (an async function's body, with the harness's names) and return what it returns."""

        def run() -> Any:
            result = self.browser.driver.execute_async_script(HARNESS.replace("BODY", body))
            if isinstance(result, dict) and "error" in result:
                raise AssertionError(result["error"])
            return result

        return threads.deferToThread(run)

    @defer.inlineCallbacks
    def test_reconnection_waits_half_a_second_then_1_6_times_longer_up_to_15_s_for_20_attempts(self) -> Any:
        """docs/web.md: 0.5 s, then each delay 1.6 times the last, at most 15 s, 20 attempts."""
        delays = yield self.run_js("return [1, 2, 3, 8, 9, 20].map(net.retryDelay).concat([net.ATTEMPTS]);")
        self.assertEqual([round(delay, 3) for delay in delays], [0.5, 0.8, 1.28, 13.422, 15, 15, 20])

    @defer.inlineCallbacks
    def test_the_pacer_sends_18_lines_at_once_then_4_5_a_second_under_a_budget_of_20_and_5(self) -> Any:
        """The welcome's flood budget less 2 lines of burst and at 90 % of its rate, as the desktop client."""
        result = yield self.run_js(
            """
            let now = 0;
            const pacer = new net.Pacer(() => now, 20, 5);
            let sent = 0;
            while (pacer.wait() === 0) { pacer.take(); sent += 1; }
            const wait = pacer.wait();
            now += wait;
            return [sent, wait, pacer.wait()];
            """
        )
        self.assertEqual(result, [18, 223, 0])

    @defer.inlineCallbacks
    def test_a_whole_name_in_any_case_is_a_mention_and_a_longer_name_is_not(self) -> Any:
        """ "Alice," and "@alice" name alice, "alicex" does not; bob is not named by "bob_" (a name of its own)."""
        result = yield self.run_js(
            """
            return [rules.mentions("Alice, look", "alice"), rules.mentions("@alice!", "alice"),
                    rules.mentions("alicex", "alice"), rules.mentions("bob_ here", "bob"),
                    rules.segments("see https://example.org/a_(b)). ok", "")];
            """
        )
        self.assertEqual(
            result,
            [
                True,
                True,
                False,
                False,
                [
                    {"text": "see "},
                    {"text": "https://example.org/a_(b)", "link": "https://example.org/a_(b)"},
                    {"text": "). ok"},
                ],
            ],
        )

    @defer.inlineCallbacks
    def test_messages_typed_while_disconnected_are_sent_in_order_after_the_rejoin(self) -> Any:
        """The outbox: nothing is sent before the session is rejoined; then every waiting line, in the order typed."""
        result = yield self.run_js(
            """
            const chat = await inGarden();
            await reconnect();
            model.sendText("two");
            model.sendText("three");
            const notes = chat.lines.filter((line) => line.own).map((line) => line.note);
            connection.sent = [];
            model.state(net.State.OPEN, {});
            model.frame(welcome);
            const beforeRejoin = connection.types();
            await connection.answer("join", joined(0));
            return { notes, beforeRejoin, join: connection.sent[1], sent: says().map((frame) => frame.text),
                     last: chat.lines.slice(-1)[0].text };
            """
        )
        self.assertEqual(result["notes"], ["Waiting for the connection; it is sent once reconnected."] * 2)
        self.assertEqual(result["beforeRejoin"], ["list", "join"])
        self.assertEqual(
            {key: result["join"][key] for key in ("type", "session", "username")},
            {"type": "join", "session": 10, "username": "alice"},
        )
        self.assertEqual(result["sent"], ["two", "three"])
        self.assertEqual(result["last"], "Reconnected.")

    @defer.inlineCallbacks
    def test_a_message_whose_ack_was_cut_off_is_not_sent_again_when_the_scrollback_has_it(self) -> Any:
        """A say unanswered when the connection went: after the rejoin, the server's scrollback holding it
        (from you, the same text) marks it sent, and only the one it lacks is sent again."""
        result = yield self.run_js(
            """
            const chat = await inGarden();
            model.sendText("kept by the server");
            model.sendText("lost on the way");
            await reconnect();
            const note = chat.lines.filter((line) => line.own)[0].note;
            connection.sent = [];
            model.state(net.State.OPEN, {});
            model.frame(welcome);
            await connection.answer("join", joined(1));
            const early = says().length;
            model.frame({ type: "history", session: 10, from: "alice", text: "kept by the server", ts: 2, msgid: "m1" });
            await settle();
            return { note, early, sent: says().map((frame) => frame.text),
                     deliveries: chat.lines.filter((line) => line.own).map((line) => [line.text, line.delivery]),
                     shown: chat.lines.filter((line) => line.text === "kept by the server").length };
            """
        )
        self.assertTrue(result["note"].startswith("Not confirmed: the connection was lost."))
        self.assertEqual(result["early"], 0, "nothing is sent before the scrollback is in")
        self.assertEqual(result["sent"], ["lost on the way"])
        self.assertEqual(
            result["deliveries"], [["kept by the server", "sent"], ["lost on the way", "pending"]]
        )
        self.assertEqual(result["shown"], 1, "the scrollback's copy is not shown twice")

    @defer.inlineCallbacks
    def test_typed_commands_become_their_frames(self) -> Any:
        """/me, /msg, /away, /nick, /whois and // are the page's; any other /NAME is the server's command, in the session shown."""
        frames = yield self.run_js(
            """
            await inGarden();
            connection.sent = [];
            for (const typed of ["/me waves", "/away at lunch", "/away", "/nick alicia", "/whois bob",
                                 "//not a command", "/kick bob too loud", "/HELP", "/msg bob psst"]) {
              model.sendText(typed);
            }
            return connection.sent.map(({ id, ...frame }) => frame);
            """
        )
        self.assertEqual(
            frames,
            [
                {"type": "say", "text": "waves", "session": 10, "action": True},
                {"type": "away", "message": "at lunch"},
                {"type": "away", "message": None},
                {"type": "nick", "name": "alicia"},
                {"type": "whois", "name": "bob"},
                {"type": "say", "text": "/not a command", "session": 10},
                {"type": "command", "name": "kick", "session": 10, "args": "bob too loud"},
                {"type": "command", "name": "help", "session": 10},
                {"type": "private", "to": "bob", "text": "psst"},
            ],
        )

    @defer.inlineCallbacks
    def test_a_new_nick_is_said_in_every_session_and_used_from_then_on(self) -> Any:
        """/nick's answer (nick_changed) renames you in the member list and says so; the next join offers the new name."""
        result = yield self.run_js(
            """
            const chat = await inGarden();
            model.sendText("/nick alicia");
            await connection.answer("nick", { type: "nick_changed", old: "alice", name: "alicia" });
            return { last: chat.lines.slice(-1)[0].text, members: chat.members.map((m) => m.name),
                     offered: model.offeredName };
            """
        )
        self.assertEqual(
            result, {"last": "You are now known as alicia.", "members": ["alicia"], "offered": "alicia"}
        )

    @defer.inlineCallbacks
    def test_a_server_password_is_asked_for_sent_in_the_hello_and_kept_for_reconnecting(self) -> Any:
        """A welcome with password_required shows the password screen; the typed password goes in a hello,
        and the next connection's welcome is answered with it without asking again."""
        result = yield self.run_js(
            """
            model.state(net.State.OPEN, {});
            model.frame({ ...welcome, password_required: true });
            const asked = [model.passwordNeeded, model.status, connection.types()];
            model.submitServerPassword("sesame");
            const hello = connection.sent.slice(-1)[0];
            await connection.answer("hello", welcome);
            const after = [model.passwordNeeded, connection.types()];
            await reconnect();
            connection.sent = [];
            model.state(net.State.OPEN, {});
            model.frame({ ...welcome, password_required: true });
            return { asked, hello: [hello.type, hello.password], after, again: connection.sent.map((f) => f.password),
                     screen: model.passwordNeeded };
            """
        )
        self.assertEqual(result["asked"], [True, "This server needs a password.", []])
        self.assertEqual(result["hello"], ["hello", "sesame"])
        self.assertEqual(result["after"], [False, ["hello", "list"]])
        self.assertEqual(result["again"], ["sesame"])
        self.assertFalse(result["screen"])

    @defer.inlineCallbacks
    def test_a_conversation_keeps_its_newest_2000_lines(self) -> Any:
        """docs/web.md: 2,000 lines are kept; the 2,001st drops the oldest."""
        result = yield self.run_js(
            """
            const chat = await inGarden();
            let n = 0;
            while (chat.lines.length < 2000) {
              n += 1;
              model.frame({ type: "message", session: 10, from: "bob", text: `line ${n}`, ts: n, msgid: `m${n}` });
            }
            const second = chat.lines[1].text;
            model.frame({ type: "message", session: 10, from: "bob", text: "one more", ts: 9999, msgid: "last" });
            return [chat.lines.length, chat.lines[0].text === second, chat.lines.slice(-1)[0].text];
            """
        )
        self.assertEqual(result, [2000, True, "one more"])

    @defer.inlineCallbacks
    def test_older_messages_are_asked_before_the_oldest_shown_put_above_and_end_at_the_start(self) -> Any:
        """The top of the transcript asks 100 messages before the oldest msgid shown; a full page (more)
        lets the next ask go on, a page not full is the start of history, and nothing is asked twice at once."""
        result = yield self.run_js(
            """
            model.state(net.State.OPEN, {});
            model.frame(welcome);
            model.sessions.set(2, { ...session, id: 2, name: "kiwi" });
            model.openDialog("join", 2);
            model.submitDialog({ username: "alice" });
            await connection.answer("join", { ...joined(1), session: { ...session, id: 2, name: "kiwi" } });
            model.frame({ type: "history", session: 2, from: "bob", text: "newest stored", ts: 50, msgid: "m50" });
            const chat = model.conversations.get("session:2");
            model.loadOlder(chat.key);
            model.loadOlder(chat.key);
            const asks = connection.sent.filter((frame) => frame.type === "history").map(({ id, ...frame }) => frame);
            const states = [chat.older];
            const page = [];
            for (let n = 49; n > 49 - 100; n -= 1) page.unshift({ msgid: `m${n}`, ts: n, from: "bob", text: `stored ${n}` });
            await connection.answer("history", { type: "messages", session: 2, messages: page, more: true });
            states.push(chat.older);
            model.loadOlder(chat.key);
            const second = connection.sent.filter((frame) => frame.type === "history").slice(-1)[0].at;
            await connection.answer("history", { type: "messages", session: 2, more: false,
              messages: [{ msgid: "m-51", ts: 1, from: "bob", text: "the first" }, page[0]] });
            states.push(chat.older);
            model.loadOlder(chat.key);
            const messages = chat.lines.filter((line) => line.kind === "message").map((line) => line.text);
            return { asks, states, second, first: messages.slice(0, 2), count: messages.length,
                     last: messages.slice(-1)[0], asked: connection.sent.filter((frame) => frame.type === "history").length };
            """
        )
        self.assertEqual(
            result["asks"],
            [{"type": "history", "session": 2, "direction": "before", "at": {"msgid": "m50"}, "limit": 100}],
        )
        self.assertEqual(result["states"], ["loading", "idle", "start"])
        self.assertEqual(result["second"], {"msgid": "m-50"})
        self.assertEqual(
            result["first"], ["the first", "stored -50"], "a message already shown is not shown twice"
        )
        self.assertEqual([result["count"], result["last"], result["asked"]], [102, "newest stored", 2])

    @defer.inlineCallbacks
    def test_unread_counts_and_mentions_count_where_you_do_not_look_and_a_hidden_page_alerts(self) -> Any:
        """A message in a conversation not shown counts, with @ when it names you; a private message to a hidden
        page alerts with who and where; showing the conversation clears its count."""
        result = yield self.run_js(
            """
            const chat = await inGarden();
            const alerts = [];
            model.onalert = (summary, text) => alerts.push([summary, text]);
            model.showList();
            model.frame({ type: "message", session: 10, from: "bob", text: "hi all", ts: 2, msgid: "a" });
            model.frame({ type: "message", session: 10, from: "bob", text: "ALICE?", ts: 3, msgid: "b" });
            const counted = [chat.unread, chat.mentioned, alerts.length];
            model.showConversation("session:10");
            const cleared = [chat.unread, chat.mentioned];
            model.setVisible(false);
            model.frame({ type: "private_message", from: "erin", text: "x".repeat(250), ts: 4, msgid: "c" });
            const privateChat = model.conversations.get("private:erin");
            return { counted, cleared, alerts, title: model.attention, privateUnread: privateChat.unread,
                     shown: model.current };
            """
        )
        self.assertEqual(result["counted"], [2, True, 0], "no alert while the page is seen")
        self.assertEqual(result["cleared"], [0, False])
        self.assertEqual(result["alerts"], [["erin privately", "x" * 199 + "…"]])
        self.assertEqual([result["title"], result["privateUnread"], result["shown"]], [1, 1, "session:10"])

    @defer.inlineCallbacks
    def test_every_refusal_shows_the_servers_words_and_when_to_try_again(self) -> Any:
        """A refused join stays in its dialog with the server's message and retry_after; a refused say is failed
        with its reason and may be sent again."""
        result = yield self.run_js(
            """
            model.state(net.State.OPEN, {});
            model.frame(welcome);
            model.openDialog("create");
            model.submitDialog({ name: "garden", username: "1alice", password: "" });
            const local = model.dialog.error;
            model.submitDialog({ name: "garden", username: "alice", password: "" });
            await connection.answer("create", { type: "error", code: "rate_limited",
                                                message: "Joins are coming too fast.", retry_after: 3 });
            const refused = model.dialog.error;
            model.submitDialog({ name: "garden", username: "alice", password: "" });
            await connection.answer("create", joined(0));
            const chat = model.conversations.get("session:10");
            model.sendText("hello");
            await connection.answer("say", { type: "error", code: "not_stored", message: "The server could not store your message." });
            const line = chat.lines.slice(-1)[0];
            const failed = [line.delivery, line.note, line.resendable];
            const again = model.resend(line.serial);
            return { local, refused, failed, again, pendingAgain: line.delivery,
                     resent: says().map((frame) => frame.text) };
            """
        )
        self.assertEqual(
            result["local"],
            "The username must be 3 to 12 letters, digits or _ - [ ] \\ ^ { } | `, not starting with a digit or -.",
        )
        self.assertEqual(result["refused"], "Joins are coming too fast. Try again in 3 s.")
        self.assertEqual(result["failed"], ["failed", "The server could not store your message.", True])
        self.assertTrue(result["again"])
        self.assertEqual(result["pendingAgain"], "pending")
        self.assertEqual(result["resent"], ["hello", "hello"])
