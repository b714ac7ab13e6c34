// The chat: the conversation's header, its transcript, the message field and
// the member list. Renders the model and forwards what is typed and clicked.

import { byId, el, fillWhenChanged, nameColour, setText } from "./dom.js";
import { clockTime, segments } from "./rules.js";

const STICK_TO_BOTTOM = 48;

export class ChatView {
  constructor(model, shell, files = null) {
    this.model = model;
    this.shell = shell;
    this.files = files;
    this.section = byId("chat");
    this.title = byId("chat-title");
    this.code = byId("chat-code");
    this.topic = byId("topic");
    this.leave = byId("leave");
    this.closeSession = byId("close-session");
    this.transcript = byId("transcript");
    this.field = byId("message");
    this.members = byId("members");
    this.membersPanel = byId("members-panel");
    this.shownKey = null;
    this.places = new Map();
    this.rendered = new Map();
    byId("compose").addEventListener("submit", (event) => {
      event.preventDefault();
      if (model.sendText(this.field.value)) this.field.value = "";
    });
    this.newBelow = byId("new-below");
    this.newBelow.addEventListener("click", () => {
      this.transcript.scrollTop = this.transcript.scrollHeight;
      this.newBelow.hidden = true;
    });
    this.olderRow = el("li", { className: "older", attrs: { id: "older" } });
    this.transcript.addEventListener("scroll", () => {
      if (this.atBottom()) this.newBelow.hidden = true;
      this.reachedTop();
    });
    this.transcript.addEventListener("wheel", (event) => {
      if (event.deltaY < 0) this.reachedTop();
    });
    this.transcript.addEventListener("keydown", (event) => {
      if (["ArrowUp", "PageUp", "Home"].includes(event.key)) this.reachedTop();
    });
    this.leave.addEventListener("click", () => model.leave(model.current));
    this.closeSession.addEventListener("click", () => model.closeSession(model.current));
  }

  render() {
    const model = this.model;
    const chat = model.shown;
    if (this.shownKey !== null && (chat === null || chat.key !== this.shownKey)) this.keepPlace();
    this.section.hidden = chat === null || model.passwordNeeded;
    this.membersPanel.hidden = this.section.hidden || chat.kind !== "session";
    if (this.section.hidden) return;
    const isSession = chat.kind === "session";
    setText(this.title, isSession ? `${chat.session.locked ? "🔒 " : ""}${chat.name}` : `@${chat.name}`);
    setText(this.code, isSession ? `#${chat.id}` : "private chat");
    setText(this.topic, isSession ? chat.topic : "");
    setText(this.leave, isSession ? "Leave" : "Close");
    const admin = isSession && chat.session.admin && model.nick && chat.session.admin.toLowerCase() === model.nick.toLowerCase();
    this.closeSession.hidden = !admin;
    this.field.maxLength = model.maxText;
    this.renderTranscript(chat);
    if (isSession) this.renderMembers(chat, admin);
  }

  atBottom() {
    const box = this.transcript;
    return box.scrollHeight - box.scrollTop - box.clientHeight < STICK_TO_BOTTOM;
  }

  // Leaving a conversation: where you were reading, to come back to (null: at the newest line).
  keepPlace() {
    this.places.set(this.shownKey, this.atBottom() ? null : this.transcript.scrollTop);
    this.shownKey = null;
  }

  renderTranscript(chat) {
    const box = this.transcript;
    const fresh = this.shownKey !== chat.key;
    const atBottom = fresh || this.atBottom();
    if (fresh) {
      this.shownKey = chat.key;
      this.rendered = new Map();
      box.replaceChildren(this.olderRow);
    }
    this.renderOlder(chat);
    const heightBefore = box.scrollHeight;
    const topBefore = box.scrollTop;
    let added = false;
    let above = false;
    let previous = this.olderRow;
    for (const line of chat.lines) {
      const known = this.rendered.get(line.serial);
      if (known && known.version === line.version) {
        previous = known.node;
        continue;
      }
      const node = this.line(line);
      if (known) known.node.replaceWith(node);
      else if (previous.nextSibling) {
        // Older messages go above what is shown.
        previous.after(node);
        above = true;
      } else {
        box.append(node);
        added = true;
      }
      this.rendered.set(line.serial, { node, version: line.version });
      previous = node;
    }
    if (this.rendered.size > chat.lines.length) {
      // The model let its oldest lines go: so does the transcript.
      const kept = new Set(chat.lines.map((line) => line.serial));
      for (const [serial, known] of this.rendered) {
        if (!kept.has(serial)) {
          known.node.remove();
          this.rendered.delete(serial);
        }
      }
    }
    const place = fresh ? this.places.get(chat.key) : null;
    if (place !== undefined && place !== null) box.scrollTop = place;
    else if (atBottom) box.scrollTop = box.scrollHeight;
    // Lines put above keep the line you were reading on the same spot.
    else if (above) box.scrollTop = topBefore + (box.scrollHeight - heightBefore);
    // Scrolled up to read while lines arrive: say so, and let one click bring you to them.
    if (fresh) this.newBelow.hidden = true;
    else if (added && !atBottom) this.newBelow.hidden = false;
  }

  // The top row: older messages on their way, the start of history, or why they could not come.
  renderOlder(chat) {
    const texts = {
      loading: "Loading…",
      start: "Start of history",
      failed: `Earlier messages could not be loaded: ${chat.olderProblem} Scroll up to try again.`,
    };
    const text = chat.kind === "session" ? texts[chat.older] || "" : "";
    setText(this.olderRow, text);
    this.olderRow.hidden = !text;
  }

  // At the top (a scroll there, or a wheel turned up when there is nothing to scroll): older messages.
  reachedTop() {
    if (this.shownKey !== null && this.transcript.scrollTop <= 1) this.model.loadOlder(this.shownKey);
  }


  line(line) {
    const classes = ["line", line.kind];
    if (line.own) classes.push("own", line.delivery);
    if (line.mention) classes.push("mentioned");
    if (line.action) classes.push("action");
    if (line.history) classes.push("history");
    if (line.notice) classes.push("notice");
    const node = el("li", { className: classes.join(" ") });
    if (line.kind === "divider") {
      node.append(el("span", { text: line.text }));
      return node;
    }
    node.append(el("time", { text: clockTime(line.ts), attrs: { datetime: new Date(line.ts * 1000).toISOString() } }));
    if (line.kind === "reply") {
      node.append(el("code", { className: "typed", text: `› ${line.command}` }));
      node.append(el("pre", { className: "answer", text: line.text }));
      return node;
    }
    if (line.kind !== "message") {
      node.append(el("span", { className: "text", text: line.text }));
      return node;
    }
    const who = `${line.admin ? "★ " : ""}${line.sender}`;
    const body = el("span", { className: "text" }, this.segments(line.text));
    if (line.action) {
      node.append(el("span", { className: "who", text: `* ${who}` }), " ", body);
    } else {
      node.append(el("span", { className: `who ${nameColour(line.sender)}`, text: who }), " ", body);
    }
    if (line.file && this.files) node.append(this.files.card(line));
    if (line.own && line.delivery !== "sent") {
      const mark = line.delivery === "failed" ? "✕" : "◌";
      node.append(el("span", { className: "note", text: ` ${mark} ${line.note || (line.delivery === "pending" ? "Sending…" : "")}` }));
      if (line.delivery === "failed" && line.resendable) {
        const again = el("button", { className: "link", text: "Send again", attrs: { type: "button" } });
        again.addEventListener("click", () => this.model.resend(line.serial));
        node.append(" ", again);
      }
    } else if (line.own && line.note) {
      node.append(el("span", { className: "note", text: ` ${line.note}` }));
    }
    return node;
  }

  segments(text) {
    return segments(text, this.model.nick || "").map((part) => {
      if (part.link) {
        return el("a", { text: part.text, attrs: { href: part.link, target: "_blank", rel: "noopener noreferrer" } });
      }
      if (part.mention) return el("mark", { text: part.text });
      return document.createTextNode(part.text);
    });
  }

  renderMembers(chat, admin) {
    const you = (this.model.nick || "").toLowerCase();
    const state = [chat.key, admin, you, chat.members.map((m) => [m.name, m.admin, m.away])];
    fillWhenChanged(this.members, state, () =>
      chat.members.map((member) => {
        const isYou = member.name.toLowerCase() === you;
        const label = `${member.admin ? "★ " : ""}${member.name}${isYou ? " (you)" : ""}`;
        const name = el("button", {
          className: `member ${nameColour(member.name)}${isYou ? " you" : ""}${member.away ? " away" : ""}`,
          text: label,
          attrs: {
            type: "button",
            title: member.away ? `${member.name} is away: ${member.away}` : isYou ? "You" : `Send ${member.name} a private message`,
            "aria-label": `${member.admin ? "Admin " : ""}${member.name}${isYou ? ", you" : ""}${member.away ? `, away: ${member.away}` : ""}`,
          },
        });
        if (isYou) name.disabled = true;
        name.addEventListener("click", () => {
          this.model.openPrivate(member.name);
          this.shell.closeDrawers();
        });
        const item = el("li", {}, [name]);
        if (member.away) item.append(el("small", { className: "away-text", text: `away: ${member.away}` }));
        if (admin && !isYou) {
          const kick = el("button", { className: "kick", text: "Kick", attrs: { type: "button", "aria-label": `Kick ${member.name}` } });
          kick.addEventListener("click", () => this.model.kick(chat.key, member.name));
          item.append(kick);
        }
        return item;
      }),
    );
  }

  focusField() {
    if (!this.section.hidden) this.field.focus();
  }
}
