// The view-model: everything the page knows and decides, no DOM. The network
// layer calls frame() and state(); the views read the fields below, call the
// actions (join, sendText, showConversation...) and are told of every change
// through onchange. Time and timers are given, as the network layer's are.

import { ConnectionLost, State } from "./net.js";
import {
  mentions,
  nameKey,
  passwordProblem,
  sessionNameProblem,
  textProblem,
  usernameProblem,
  duration,
} from "./rules.js";

export const WAITING_NOTE = "Waiting for the connection; it is sent once reconnected.";
export const LOST_NOTE = "Not confirmed: the connection was lost. It is sent again once reconnected, unless the server has it.";
export const NO_COMMANDS_HERE = "Commands work in a session: switch to one (only /me, /msg, /away, /nick and /whois work here).";
export const CANNOT_WAIT = "Not connected: commands cannot wait. Try again once reconnected.";
export const HISTORY_DIVIDER = "Earlier messages above";
const NAME_TAKEN_RETRIES = 10;
const NOTIFICATION_TEXT = 200;
const DEFAULT_EXIT_DIGITS = 5;
export const MAX_LINES = 2000;
export const OLDER_PAGE = 100;

// Where a session's older messages are: none asked yet, on their way, all shown, or a failed try.
export const Older = Object.freeze({ IDLE: "idle", LOADING: "loading", START: "start", FAILED: "failed" });

const MEMBER_LEFT = {
  quit: "{name} left the session.",
  kicked: "{name} was kicked by {by}.",
  timeout: "{name} was removed after being inactive.",
  disconnected: "{name} disconnected.",
  killed: "{name} was disconnected by {by}.",
};

export function sessionKey(id) {
  return `session:${id}`;
}

export function privateKey(name) {
  return `private:${nameKey(name)}`;
}

// An error frame as people read it: its message, and when to try again.
export function errorText(frame) {
  let text = typeof frame.message === "string" && frame.message ? frame.message : `The server refused it (${frame.code}).`;
  if (typeof frame.retry_after === "number" && !text.includes("again in")) {
    text += ` Try again in ${duration(Math.max(1, frame.retry_after))}.`;
  }
  return text;
}

export class ChatModel {
  constructor({ now, timers, storage }) {
    this.now = now;
    this.timers = timers;
    this.storage = storage;
    this.connection = null;
    this.onchange = () => {};
    this.onalert = () => {};
    this.visible = true;
    this.online = false;
    this.stopped = false;
    this.status = "Connecting…";
    this.farewell = "";
    this.serverName = "";
    this.exitDigits = DEFAULT_EXIT_DIGITS;
    this.maxText = 2000;
    this.files = null;
    this.passwordNeeded = false;
    this.passwordError = "";
    this.serverPassword = null;
    this.sessions = new Map();
    this.conversations = new Map();
    this.current = null;
    this.nick = null;
    this.named = false;
    this.notice = { text: "", kind: "" };
    this.exitFeedback = { text: "", kind: "" };
    this.dialog = null;
    this.lastName = (storage && storage.get("lastName")) || "";
    this.attention = 0;
    this.outbox = [];
    this.serial = 1;
    this.joining = false;
    this.rejoinTries = 0;
  }

  attach(connection) {
    this.connection = connection;
  }

  changed() {
    this.onchange();
  }

  // ---- what the views read -------------------------------------------------

  get shown() {
    return this.current === null ? null : this.conversations.get(this.current) || null;
  }

  get sessionChats() {
    return [...this.conversations.values()].filter((c) => c.kind === "session");
  }

  get privateChats() {
    return [...this.conversations.values()].filter((c) => c.kind === "private");
  }

  get sessionRows() {
    return [...this.sessions.values()].sort((a, b) => a.id - b.id);
  }

  // The name the join and create dialogs offer: yours while in sessions (the
  // server wants the same one), else the last one the server accepted.
  get offeredName() {
    return this.sessionChats.length && this.nick ? this.nick : this.lastName;
  }

  // What is wrong with a dialog's fields ({field: message}; empty when it may be sent).
  dialogProblems(kind, values, locked) {
    const problems = {};
    const user = usernameProblem(values.username || "");
    if (user) problems.username = user;
    if (kind === "create") {
      const name = sessionNameProblem(values.name || "");
      if (name) problems.name = name;
      const password = passwordProblem(values.password || "", true);
      if (password) problems.password = password;
    } else if (locked) {
      const password = passwordProblem(values.password || "", false);
      if (password) problems.password = password;
    }
    return problems;
  }

  // ---- the network layer's calls ---------------------------------------------

  state(state, info) {
    if (state === State.OPEN) {
      this.status = "Connected, waiting for the server…";
    } else if (state === State.CONNECTING) {
      this.status = info.attempt ? "Reconnecting…" : "Connecting…";
    } else if (state === State.WAITING) {
      this.connectionLost();
      this.status = `${this.farewell}Reconnecting in ${duration(info.delay)}… (attempt ${info.attempt})`;
    } else if (state === State.STOPPED) {
      this.connectionLost();
      this.stopped = true;
      if (!this.status.startsWith("Disconnected")) this.status = `${this.farewell}Disconnected. Reconnect when you are ready.`;
    }
    this.changed();
  }

  connectionLost() {
    if (!this.online && !this.joining) return;
    const wasOnline = this.online;
    this.online = false;
    this.named = false;
    this.joining = false;
    if (this.dialog && this.dialog.busy) {
      this.dialog.busy = false;
      this.dialog.error = "The connection was lost; try again once reconnected.";
    }
    if (this.exitFeedback.kind === "busy") this.exitFeedback = { text: "", kind: "" };
    if (!wasOnline) return;
    for (const conversation of this.conversations.values()) {
      if (conversation.kind === "session") conversation.rejoining = true;
      this.addLine(conversation, { kind: "system", text: "Reconnecting…" });
    }
  }

  reconnect() {
    this.stopped = false;
    this.status = "Connecting…";
    this.connection.connect();
    this.changed();
  }

  frame(frame) {
    const handler = EVENTS[frame.type];
    if (handler) {
      handler.call(this, frame);
      this.changed();
    }
  }

  // ---- connecting -------------------------------------------------------------

  welcome(frame) {
    this.serverName = typeof frame.name === "string" ? frame.name : "";
    if (Number.isInteger(frame.exit_code_digits)) this.exitDigits = frame.exit_code_digits;
    if (Number.isInteger(frame.max_text)) this.maxText = frame.max_text;
    this.files = frame.files && typeof frame.files === "object" ? frame.files : null;
    this.connection.setFlood(frame.flood);
    if (frame.password_required && !this.online) {
      if (this.serverPassword === null) {
        this.passwordNeeded = true;
        this.status = "This server needs a password.";
        return;
      }
      this.sendServerPassword(this.serverPassword);
      return;
    }
    this.connected();
  }

  sendServerPassword(password) {
    this.passwordError = "";
    this.connection.request({ type: "hello", protocol: 1, password }).then(
      (answer) => {
        if (answer.type === "welcome") {
          this.serverPassword = password;
          this.passwordNeeded = false;
          this.connected();
        } else {
          this.serverPassword = null;
          this.passwordNeeded = true;
          this.passwordError = errorText(answer);
          this.status = "This server needs a password.";
          this.connection.stopRetrying();
        }
        this.changed();
      },
      () => {},
    );
  }

  // The typed server password: connect again and give it in the hello.
  submitServerPassword(password) {
    this.serverPassword = password;
    this.passwordError = "";
    if (this.connection.isOpen) this.sendServerPassword(password);
    else this.reconnect();
    this.changed();
  }

  connected() {
    this.connection.welcomed();
    const again = this.conversations.size > 0;
    this.online = true;
    this.stopped = false;
    this.status = "";
    this.farewell = "";
    this.requestList();
    if (again) this.rejoinNext();
  }

  requestList() {
    this.connection.request({ type: "list" }).then((answer) => {
      if (answer.type !== "sessions") return;
      this.sessions = new Map(answer.sessions.map((session) => [session.id, session]));
      this.changed();
    }, () => {});
  }

  // ---- the session list -------------------------------------------------------

  showList() {
    this.current = null;
    if (this.online) this.requestList();
    this.changed();
  }

  openDialog(kind, sessionId) {
    if (kind === "join") {
      const chat = this.conversations.get(sessionKey(sessionId));
      if (chat) {
        this.showConversation(chat.key);
        return;
      }
      const session = this.sessions.get(sessionId);
      if (!session) return;
      this.dialog = { kind, sessionId, name: session.name, locked: Boolean(session.locked), error: "", busy: false };
    } else {
      this.dialog = { kind, sessionId: null, name: "", locked: false, error: "", busy: false };
    }
    this.changed();
  }

  closeDialog() {
    this.dialog = null;
    this.changed();
  }

  submitDialog(values) {
    const dialog = this.dialog;
    if (!dialog || dialog.busy) return;
    const problems = this.dialogProblems(dialog.kind, values, dialog.locked);
    const first = Object.values(problems)[0];
    if (first) {
      dialog.error = first;
      this.changed();
      return;
    }
    if (!this.online) {
      dialog.error = "Not connected to the server; try again once reconnected.";
      this.changed();
      return;
    }
    const frame =
      dialog.kind === "create"
        ? { type: "create", name: values.name, username: values.username }
        : { type: "join", session: dialog.sessionId, username: values.username };
    if (values.password) frame.password = values.password;
    dialog.busy = true;
    dialog.error = "";
    this.joining = true;
    this.changed();
    this.connection.request(frame).then(
      (answer) => {
        this.joining = false;
        if (this.dialog !== dialog) {
          if (answer.type === "joined") this.enterSession(answer, values.password || null);
        } else if (answer.type === "joined") {
          this.dialog = null;
          this.lastName = answer.you;
          if (this.storage) this.storage.set("lastName", answer.you);
          this.enterSession(answer, values.password || null);
        } else {
          dialog.busy = false;
          dialog.error = errorText(answer);
        }
        this.changed();
      },
      () => {},
    );
  }

  submitExitCode(code) {
    const digits = this.exitDigits;
    if (!new RegExp(`^[0-9]{${digits}}$`).test(code)) {
      this.exitFeedback = { text: `The exit code is ${digits} digits.`, kind: "error" };
      this.changed();
      return;
    }
    if (!this.online) {
      this.exitFeedback = { text: "Not connected to the server.", kind: "error" };
      this.changed();
      return;
    }
    this.exitFeedback = { text: "Checking the exit code…", kind: "busy" };
    this.changed();
    this.connection.request({ type: "exit", code }).then(
      (answer) => {
        if (answer.type === "error") this.exitFeedback = { text: errorText(answer), kind: "error" };
        this.changed();
      },
      () => {},
    );
  }

  exitCodeEdited() {
    if (this.exitFeedback.kind === "error") {
      this.exitFeedback = { text: "", kind: "" };
      this.changed();
    }
  }

  // ---- conversations ------------------------------------------------------------

  enterSession(frame, password) {
    this.nick = frame.you;
    this.named = true;
    const session = frame.session;
    const key = sessionKey(session.id);
    const chat = {
      key,
      kind: "session",
      id: session.id,
      name: session.name,
      session,
      topic: session.topic || "",
      members: frame.members.map((member) => ({ ...member })),
      you: frame.you,
      password,
      lines: [],
      unread: 0,
      mentioned: false,
      rejoining: false,
      historyLeft: Number(frame.history) || 0,
      seen: new Set(),
      older: Older.IDLE,
      olderProblem: "",
    };
    this.conversations.set(key, chat);
    this.sessions.set(session.id, session);
    this.notice = { text: "", kind: "" };
    this.exitFeedback = { text: "", kind: "" };
    const created = session.creator === frame.you && session.admin === frame.you && frame.members.length === 1;
    chat.intro = [
      created ? `You created ${session.name}. You are its admin.` : `You joined ${session.name} as ${frame.you}.`,
    ];
    if (frame.idle_timeout) {
      chat.intro.push(
        `Members who write nothing for ${duration(frame.idle_timeout)} are removed. /help lists the commands.`,
      );
    } else {
      chat.intro.push("/help lists the commands.");
    }
    if (chat.historyLeft === 0) this.historyDone(chat);
    this.showConversation(key);
    this.flushPrivate();
  }

  historyDone(chat) {
    if (chat.intro) {
      if (chat.lines.length) this.addLine(chat, { kind: "divider", text: HISTORY_DIVIDER });
      for (const text of chat.intro) this.addLine(chat, { kind: "system", text });
      chat.intro = null;
    }
    if (chat.rejoining) {
      chat.rejoining = false;
      this.addLine(chat, { kind: "system", text: "Reconnected." });
      this.flushOutbox(chat);
      this.rejoinNext();
    }
  }

  showConversation(key) {
    const conversation = this.conversations.get(key);
    if (!conversation) return;
    this.current = key;
    if (this.visible) this.markRead(conversation);
    this.changed();
  }

  markRead(conversation) {
    conversation.unread = 0;
    conversation.mentioned = false;
  }

  setVisible(visible) {
    this.visible = visible;
    if (visible) {
      this.attention = 0;
      if (this.shown) this.markRead(this.shown);
    }
    this.changed();
  }

  openPrivate(name) {
    if (this.nick && nameKey(name) === nameKey(this.nick)) return;
    this.showConversation(this.privateChat(name).key);
  }

  privateChat(name) {
    const key = privateKey(name);
    let chat = this.conversations.get(key);
    if (!chat) {
      chat = { key, kind: "private", name, lines: [], unread: 0, mentioned: false };
      this.conversations.set(key, chat);
    }
    return chat;
  }

  closePrivate(key) {
    const chat = this.conversations.get(key);
    if (!chat || chat.kind !== "private") return;
    this.forget(chat);
    this.showAnother();
    this.changed();
  }

  forget(conversation) {
    this.conversations.delete(conversation.key);
    this.outbox = this.outbox.filter((item) => item.key !== conversation.key);
    if (this.current === conversation.key) this.current = null;
  }

  // After the shown conversation went: the last session joined, else the last private chat, else the list.
  showAnother() {
    if (this.current !== null) return;
    const remaining = this.sessionChats.length ? this.sessionChats : [...this.conversations.values()];
    if (remaining.length) this.showConversation(remaining[remaining.length - 1].key);
    else this.showList();
  }

  addLine(conversation, fields) {
    const line = { serial: this.serial++, version: 0, ts: this.now() / 1000, ...fields };
    conversation.lines.push(line);
    // A page left open for days keeps the newest lines only, so it stays light.
    if (conversation.lines.length > MAX_LINES) {
      const dropped = conversation.lines.shift();
      // Gone from the page, it may be loaded again from the history.
      if (dropped.msgid && conversation.seen) conversation.seen.delete(dropped.msgid);
    }
    return line;
  }

  // A line someone else wrote: unread where you are not looking, attention while the page is hidden.
  addMessage(conversation, frame, { history = false } = {}) {
    const text = String(frame.text);
    const mention = !history && mentions(text, this.nick || "");
    const member = conversation.kind === "session" ? this.member(conversation, frame.from) : null;
    if (frame.msgid && conversation.seen) conversation.seen.add(frame.msgid);
    this.addLine(conversation, {
      kind: "message",
      text,
      ts: Number(frame.ts) || this.now() / 1000,
      sender: String(frame.from),
      admin: Boolean(member && member.admin),
      action: frame.action === true,
      notice: frame.notice === true,
      mention,
      history,
      file: frame.file && typeof frame.file === "object" ? frame.file : null,
      msgid: frame.msgid ? String(frame.msgid) : "",
    });
    if (history || frame.notice === true) return;
    const looking = this.visible && this.current === conversation.key;
    if (!looking) {
      conversation.unread += 1;
      if (mention) conversation.mentioned = true;
    }
    if (!this.visible && (mention || conversation.kind === "private")) {
      this.attention += 1;
      const where = conversation.kind === "private" ? "privately" : `in ${conversation.name}`;
      const body = [...text].length > NOTIFICATION_TEXT ? `${[...text].slice(0, NOTIFICATION_TEXT - 1).join("")}…` : text;
      this.onalert(`${frame.from} ${where}`, body);
    }
  }

  member(chat, name) {
    const key = nameKey(String(name));
    return chat.members.find((member) => nameKey(member.name) === key) || null;
  }

  sessionOf(frame) {
    if (frame.session === undefined || frame.session === null) {
      const chats = this.sessionChats;
      return chats.length === 1 ? chats[0] : null;
    }
    const chat = this.conversations.get(sessionKey(frame.session));
    return chat && chat.kind === "session" ? chat : null;
  }

  // A line about the whole connection: where the person looks, or above the session list.
  say(text, kind = "system") {
    const shown = this.shown;
    if (shown) this.addLine(shown, { kind, text });
    else this.notice = { text, kind };
  }

  // ---- typing -----------------------------------------------------------------------

  // What was typed in the conversation shown. False: nothing sent, keep the field's text.
  sendText(text) {
    const conversation = this.shown;
    if (!conversation || !text.trim()) return false;
    if (text.startsWith("//")) return this.sendMessage(conversation, text.slice(1));
    if (!text.startsWith("/")) return this.sendMessage(conversation, text);
    const [, rawName, rawArgs] = /^\/(\S*)\s*([\s\S]*)$/u.exec(text);
    const name = rawName.toLowerCase();
    const args = rawArgs.trim();
    if (name === "me") {
      if (!args) return this.refuse(conversation, "Type what you do after /me, like /me waves.");
      return this.sendMessage(conversation, rawArgs, { action: true });
    }
    if (name === "msg") {
      const [, to, words] = /^(\S*)\s*([\s\S]*)$/u.exec(args);
      if (!to) return this.refuse(conversation, "Usage: /msg NAME TEXT");
      const problem = usernameProblem(to);
      if (problem) return this.refuse(conversation, problem);
      this.openPrivate(to);
      if (!words.trim()) return true;
      return this.sendMessage(this.privateChat(to), words);
    }
    if (!this.online) return this.refuse(conversation, CANNOT_WAIT);
    if (name === "away") return this.simpleRequest(conversation, text, { type: "away", message: args || null });
    if (name === "nick") return this.simpleRequest(conversation, text, { type: "nick", name: args });
    if (name === "whois") return this.simpleRequest(conversation, text, { type: "whois", name: args });
    if (conversation.kind !== "session") return this.refuse(conversation, NO_COMMANDS_HERE);
    if (conversation.rejoining) return this.refuse(conversation, CANNOT_WAIT);
    this.runCommand(conversation, name, args, text.trim());
    return true;
  }

  refuse(conversation, text) {
    this.addLine(conversation, { kind: "error", text });
    this.changed();
    return false;
  }

  runCommand(chat, name, args, typed) {
    const frame = { type: "command", name, session: chat.id };
    if (args) frame.args = args;
    this.connection.request(frame).then(
      (answer) => {
        const where = this.conversations.get(chat.key) || this.shown;
        if (!where) {
          if (answer.type === "error") this.notice = { text: errorText(answer), kind: "error" };
        } else if (answer.type === "reply") {
          this.addLine(where, { kind: "reply", command: typed, text: String(answer.text) });
        } else if (answer.type === "error") {
          this.addLine(where, { kind: "error", text: errorText(answer) });
        }
        this.changed();
      },
      () => {},
    );
  }

  // away, nick and whois: answered with a line in the conversation they were typed in.
  simpleRequest(conversation, typed, frame) {
    this.connection.request(frame).then(
      (answer) => {
        // A new name is the connection's: every session says so, as when it comes as an event.
        if (answer.type === "nick_changed") EVENTS.nick_changed.call(this, answer);
        const where = this.conversations.get(conversation.key) || this.shown;
        const text = answer.type === "error" ? errorText(answer) : describeAnswer(answer);
        if (where && text) {
          this.addLine(where, answer.type === "error" ? { kind: "error", text } : { kind: "reply", command: typed, text });
        }
        this.changed();
      },
      () => {},
    );
    this.changed();
    return true;
  }

  sendMessage(conversation, text, { action = false } = {}) {
    const problem = textProblem(text, this.maxText);
    if (problem) return this.refuse(conversation, `Not sent: this ${action ? "action" : "message"} ${problem}.`);
    const me = conversation.kind === "session" ? this.member(conversation, conversation.you) : null;
    const waits = this.waits(conversation);
    const line = this.addLine(conversation, {
      kind: "message",
      text,
      sender: this.nick || "",
      own: true,
      admin: Boolean(me && me.admin),
      action,
      delivery: "pending",
      note: waits ? WAITING_NOTE : "",
    });
    if (waits) this.outbox.push({ key: conversation.key, line });
    else this.deliver(conversation, line);
    this.changed();
    return true;
  }

  waits(conversation) {
    if (!this.online) return true;
    if (conversation.kind === "session") return conversation.rejoining;
    return !this.named && this.sessionChats.length > 0;
  }

  deliver(conversation, line) {
    const frame =
      conversation.kind === "session"
        ? { type: "say", text: line.text, session: conversation.id }
        : { type: "private", to: conversation.name, text: line.text };
    if (line.action) frame.action = true;
    this.update(line, { delivery: "pending", note: "", resendable: false });
    this.connection.request(frame).then(
      (answer) => {
        if (answer.type === "ack") {
          // The scrollback of a later rejoin has it too: it is shown once.
          if (conversation.seen && answer.msgid) conversation.seen.add(answer.msgid);
          const note = typeof answer.away === "string" ? `${conversation.name} is away: ${answer.away}` : "";
          this.update(line, { delivery: "sent", note, ts: Number(answer.ts) || line.ts, msgid: String(answer.msgid || "") });
        } else {
          this.update(line, { delivery: "failed", note: errorText(answer), resendable: true });
        }
        this.changed();
      },
      (error) => {
        if (!(error instanceof ConnectionLost) || !this.conversations.has(conversation.key)) return;
        this.update(line, { delivery: "pending", note: LOST_NOTE, unconfirmed: conversation.kind === "session" });
        this.outbox.push({ key: conversation.key, line });
        this.outbox.sort((a, b) => a.line.serial - b.line.serial);
        this.changed();
      },
    );
  }

  update(line, fields) {
    Object.assign(line, fields);
    line.version += 1;
  }

  // "Send again" on a failed line.
  resend(serial) {
    for (const conversation of this.conversations.values()) {
      const line = conversation.lines.find((candidate) => candidate.serial === serial);
      if (line && line.resendable && !this.waits(conversation)) {
        this.deliver(conversation, line);
        this.changed();
        return true;
      }
    }
    return false;
  }

  flushOutbox(conversation) {
    const mine = this.outbox.filter((item) => item.key === conversation.key);
    this.outbox = this.outbox.filter((item) => item.key !== conversation.key);
    for (const item of mine) this.deliver(conversation, item.line);
  }

  flushPrivate() {
    if (!this.online) return;
    for (const conversation of this.privateChats) {
      if (!this.waits(conversation)) this.flushOutbox(conversation);
    }
  }

  // ---- older messages ---------------------------------------------------------------

  // The top of a session's transcript was reached: ask for the page of stored
  // messages before the oldest one shown (or before the transcript's start).
  loadOlder(key) {
    const chat = this.conversations.get(key);
    if (!chat || chat.kind !== "session" || !this.online || chat.rejoining || chat.historyLeft > 0) return;
    if (chat.older === Older.LOADING || chat.older === Older.START) return;
    const oldest = chat.lines.find((line) => line.msgid);
    const at = oldest ? { msgid: oldest.msgid } : { ts: chat.lines.length ? chat.lines[0].ts : this.now() / 1000 };
    chat.older = Older.LOADING;
    this.changed();
    this.connection.request({ type: "history", session: chat.id, direction: "before", at, limit: OLDER_PAGE }).then(
      (answer) => {
        if (this.conversations.get(key) !== chat) return;
        if (answer.type !== "messages") {
          chat.older = Older.FAILED;
          chat.olderProblem = errorText(answer);
        } else {
          const lines = answer.messages
            .filter((message) => !chat.seen.has(message.msgid))
            .map((message) => {
              chat.seen.add(message.msgid);
              return {
                serial: this.serial++,
                version: 0,
                kind: "message",
                text: String(message.text),
                ts: Number(message.ts),
                sender: String(message.from),
                action: message.action === true,
                history: true,
                msgid: String(message.msgid),
              };
            });
          chat.lines.unshift(...lines);
          chat.older = answer.more ? Older.IDLE : Older.START;
        }
        this.changed();
      },
      () => {
        if (this.conversations.get(key) !== chat) return;
        chat.older = Older.FAILED;
        chat.olderProblem = "The connection was lost.";
        this.changed();
      },
    );
  }

  // ---- the buttons ------------------------------------------------------------------

  leave(key) {
    const chat = this.conversations.get(key);
    if (!chat) return;
    if (chat.kind === "private") this.closePrivate(key);
    else if (this.online && !chat.rejoining) this.runCommand(chat, "quit", "", "/quit");
    else this.refuse(chat, CANNOT_WAIT);
  }

  kick(key, name) {
    const chat = this.conversations.get(key);
    if (chat && this.online) this.runCommand(chat, "kick", name, `/kick ${name}`);
  }

  closeSession(key) {
    const chat = this.conversations.get(key);
    if (chat && this.online) this.runCommand(chat, "close", "", "/close");
  }

  // ---- coming back after a reconnection --------------------------------------------

  rejoinNext() {
    if (!this.online || this.joining) return;
    const chat = this.sessionChats.find((candidate) => candidate.rejoining);
    if (!chat) {
      if (!this.named && this.nick && this.privateChats.length) this.takeNameBack();
      else this.flushPrivate();
      return;
    }
    this.joining = true;
    const frame = { type: "join", session: chat.id, username: this.nick };
    if (chat.password) frame.password = chat.password;
    this.connection.request(frame).then(
      (answer) => {
        this.joining = false;
        if (answer.type === "joined") {
          this.rejoinTries = 0;
          this.rejoined(chat, answer);
        } else if (answer.code === "name_taken" && this.rejoinTries < NAME_TAKEN_RETRIES) {
          // The server may not have noticed yet that our old connection is gone.
          this.rejoinTries += 1;
          this.timers.setTimeout(() => this.rejoinNext(), 1000);
        } else {
          this.rejoinTries = 0;
          this.rejoinRefused(chat, answer);
        }
        this.changed();
      },
      () => {},
    );
  }

  rejoined(chat, frame) {
    this.nick = frame.you;
    this.named = true;
    chat.you = frame.you;
    chat.session = frame.session;
    chat.members = frame.members.map((member) => ({ ...member }));
    chat.historyLeft = Number(frame.history) || 0;
    this.sessions.set(frame.session.id, frame.session);
    if (chat.historyLeft === 0) this.historyDone(chat);
  }

  rejoinRefused(chat, answer) {
    const lost = this.outbox.filter((item) => item.key === chat.key).length;
    this.forget(chat);
    const unsent = lost ? ` ${lost} message${lost === 1 ? " was" : "s were"} not sent.` : "";
    this.showAnother();
    this.say(`Could not rejoin ${chat.name}: ${errorText(answer)}${unsent}`, "error");
    this.rejoinNext();
  }

  takeNameBack() {
    this.connection.request({ type: "nick", name: this.nick }).then(
      (answer) => {
        if (answer.type === "nick_changed") {
          this.named = true;
          this.flushPrivate();
        } else {
          this.say(`Could not take the name ${this.nick} back: ${errorText(answer)}`, "error");
        }
        this.changed();
      },
      () => {},
    );
  }

  // A scrollback message of a rejoin: one of ours whose ack the drop cut off is now known sent.
  confirmFromHistory(chat, frame) {
    if (!this.nick || nameKey(String(frame.from)) !== nameKey(this.nick)) return false;
    const index = this.outbox.findIndex(
      (item) => item.key === chat.key && item.line.unconfirmed && item.line.text === frame.text,
    );
    if (index < 0) return false;
    const [item] = this.outbox.splice(index, 1);
    this.update(item.line, { delivery: "sent", note: "", unconfirmed: false });
    return true;
  }
}

// The text of an answer to /away, /nick or /whois.
function describeAnswer(answer) {
  if (answer.type === "presence") return answer.away ? `You are away: ${answer.away}` : "You are back.";
  if (answer.type === "nick_changed") return "";
  if (answer.type === "user") {
    const sessions = (answer.sessions || []).map((session) => session.name).join(", ") || "none";
    const away = answer.away ? `away: ${answer.away}` : "here";
    return `${answer.name}: ${away}; sessions: ${sessions}; idle ${duration(answer.idle || 0)}${answer.operator ? "; a server operator" : ""}.`;
  }
  return "";
}

function memberLeftText(frame) {
  const template = MEMBER_LEFT[frame.reason] || "{name} left the session.";
  let text = template.replace("{name}", frame.name).replace("{by}", frame.by || "the server");
  if (frame.comment) text = `${text.slice(0, -1)}: ${frame.comment}`;
  return text;
}

// What each server event does: handlers called with the model as `this`.
const EVENTS = {
  welcome(frame) {
    this.welcome(frame);
  },
  sessions(frame) {
    this.sessions = new Map(frame.sessions.map((session) => [session.id, session]));
  },
  session_added(frame) {
    this.sessions.set(frame.session.id, frame.session);
  },
  session_changed(frame) {
    this.sessions.set(frame.session.id, frame.session);
    if (this.dialog && this.dialog.sessionId === frame.session.id) this.dialog.locked = Boolean(frame.session.locked);
  },
  session_removed(frame) {
    this.sessions.delete(frame.session);
    if (this.dialog && this.dialog.sessionId === frame.session) {
      this.dialog.error = `The session ${frame.name} is gone.`;
    }
  },
  history(frame) {
    const chat = this.sessionOf(frame);
    if (!chat) return;
    chat.historyLeft = Math.max(0, chat.historyLeft - 1);
    const known = frame.msgid && chat.seen.has(frame.msgid);
    if (!known && !(chat.rejoining && this.confirmFromHistory(chat, frame))) {
      this.addMessage(chat, frame, { history: true });
    }
    if (chat.historyLeft === 0) this.historyDone(chat);
  },
  message(frame) {
    const chat = this.sessionOf(frame);
    if (chat) this.addMessage(chat, frame);
  },
  private_message(frame) {
    this.addMessage(this.privateChat(String(frame.from)), frame);
  },
  member_joined(frame) {
    const chat = this.sessionOf(frame);
    if (!chat) return;
    if (!this.member(chat, frame.name)) chat.members.push({ name: frame.name, joined: frame.joined, admin: false, away: null });
    this.addLine(chat, { kind: "system", text: `${frame.name} joined.` });
  },
  member_left(frame) {
    const chat = this.sessionOf(frame);
    if (!chat) return;
    chat.members = chat.members.filter((member) => nameKey(member.name) !== nameKey(frame.name));
    this.addLine(chat, { kind: "system", text: memberLeftText(frame) });
  },
  admin_changed(frame) {
    const chat = this.sessionOf(frame);
    if (!chat) return;
    for (const member of chat.members) member.admin = nameKey(member.name) === nameKey(String(frame.admin));
    chat.session = { ...chat.session, admin: frame.admin };
    const text = frame.by ? `${frame.by} made ${frame.admin} the admin.` : `${frame.admin} is now the admin.`;
    this.addLine(chat, { kind: "system", text });
  },
  topic_changed(frame) {
    const chat = this.sessionOf(frame);
    if (!chat) return;
    chat.topic = String(frame.topic || "");
    const text = chat.topic ? `${frame.by} set the topic: ${chat.topic}` : `${frame.by} cleared the topic.`;
    this.addLine(chat, { kind: "system", text });
  },
  mode_changed(frame) {
    const chat = this.sessionOf(frame);
    if (!chat) return;
    const parameter = frame.parameter === null || frame.parameter === undefined ? "" : ` ${frame.parameter}`;
    this.addLine(chat, { kind: "system", text: `${frame.by} set the mode ${frame.mode}${parameter}.` });
  },
  member_renamed(frame) {
    const chat = this.sessionOf(frame);
    if (!chat) return;
    const member = this.member(chat, frame.old);
    if (member) member.name = frame.name;
    this.addLine(chat, { kind: "system", text: `${frame.old} is now known as ${frame.name}.` });
    const privateChat = this.conversations.get(privateKey(frame.old));
    if (privateChat && privateKey(frame.old) !== privateKey(frame.name)) {
      this.conversations.delete(privateChat.key);
      privateChat.key = privateKey(frame.name);
      privateChat.name = frame.name;
      this.conversations.set(privateChat.key, privateChat);
      for (const item of this.outbox) if (item.key === privateKey(frame.old)) item.key = privateChat.key;
      if (this.current === privateKey(frame.old)) this.current = privateChat.key;
    }
  },
  member_away(frame) {
    const chat = this.sessionOf(frame);
    if (!chat) return;
    const member = this.member(chat, frame.name);
    if (member) member.away = frame.away;
    const text = frame.away ? `${frame.name} is away: ${frame.away}` : `${frame.name} is back.`;
    this.addLine(chat, { kind: "system", text });
  },
  nick_changed(frame) {
    const old = this.nick;
    this.nick = frame.name;
    this.named = true;
    for (const chat of this.sessionChats) {
      const member = old ? this.member(chat, old) : null;
      if (member) member.name = frame.name;
      chat.you = frame.name;
      this.addLine(chat, { kind: "system", text: `You are now known as ${frame.name}.` });
    }
    if (!this.sessionChats.length && this.shown) {
      this.addLine(this.shown, { kind: "system", text: `You are now known as ${frame.name}.` });
    }
  },
  idle_warning(frame) {
    const chat = this.sessionOf(frame);
    if (!chat) return;
    this.addLine(chat, {
      kind: "error",
      text: `You will be removed from ${chat.name} in ${duration(frame.seconds_left)} unless you write something.`,
    });
  },
  invited(frame) {
    this.say(`${frame.by} invited you to ${frame.name}: join it from the session list (+ Join / create).`);
  },
  wallops(frame) {
    this.say(`Wallops from ${frame.from}: ${frame.text}`);
  },
  left(frame) {
    const chat = this.conversations.get(sessionKey(frame.session));
    const text = String(frame.message || `You left ${frame.name}.`);
    if (chat) this.forget(chat);
    if (!this.sessionChats.length) {
      this.showList();
      this.notice = { text, kind: frame.reason === "quit" ? "info" : "error" };
      return;
    }
    this.showAnother();
    this.say(text, frame.reason === "quit" ? "system" : "error");
  },
  server_closing(frame) {
    // Said until the next welcome, through the reconnection attempts.
    this.farewell = `The server is closing: ${frame.reason} `;
    this.status = this.farewell;
    this.say(this.farewell.trim(), "error");
  },
  killed(frame) {
    this.connection.stopRetrying();
    this.status = `Disconnected by ${frame.by}: ${frame.reason}`;
    this.say(this.status, "error");
  },
  bye() {
    this.connection.stopRetrying();
    this.status = "Disconnected. Reconnect when you are ready.";
  },
  error(frame) {
    // An error answering no request of ours (idle, flood, too many connections...).
    if (["idle", "line_too_long", "bad_server_password", "server_password_required"].includes(frame.code)) {
      this.connection.stopRetrying();
      this.status = `Disconnected: ${errorText(frame)}`;
    }
    if (frame.code === "wrong_exit_code" || (frame.code === "too_many_attempts" && this.exitFeedback.kind === "busy")) {
      this.exitFeedback = { text: errorText(frame), kind: "error" };
      return;
    }
    this.say(errorText(frame), "error");
  },
};
