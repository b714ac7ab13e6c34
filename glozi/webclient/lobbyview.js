// The session list: renders the model's sessions, notice and exit-code
// feedback; forwards clicks and the exit code to the model.

import { byId, el, fillWhenChanged, setText } from "./dom.js";
import { dateTime } from "./rules.js";

export class LobbyView {
  constructor(model) {
    this.model = model;
    this.section = byId("lobby");
    this.list = byId("sessions");
    this.notice = byId("notice");
    this.exitCode = byId("exit-code");
    this.exitFeedback = byId("exit-feedback");
    byId("reload").addEventListener("click", () => model.showList());
    byId("create").addEventListener("click", () => model.openDialog("create"));
    byId("exit-form").addEventListener("submit", (event) => {
      event.preventDefault();
      model.submitExitCode(this.exitCode.value.trim());
    });
    this.exitCode.addEventListener("input", () => model.exitCodeEdited());
  }

  render() {
    const model = this.model;
    this.section.hidden = model.current !== null || model.passwordNeeded;
    if (this.section.hidden) return;
    setText(this.notice, model.notice.text);
    this.notice.className = model.notice.kind;
    setText(this.exitFeedback, model.exitFeedback.text);
    this.exitFeedback.className = model.exitFeedback.kind;
    this.exitCode.maxLength = model.exitDigits;
    this.exitCode.placeholder = `${model.exitDigits} digits`;
    const sessions = model.sessionRows;
    const joined = sessions.map((session) => model.conversations.has(`session:${session.id}`));
    fillWhenChanged(this.list, [sessions, joined, model.online], () => {
      const rows = sessions.map((session, index) => this.row(session, joined[index]));
      if (!rows.length) {
        rows.push(el("li", { className: "empty", text: model.online ? "No sessions yet: create one." : "Not connected." }));
      }
      return rows;
    });
  }

  row(session, joined) {
    const members = `${session.members} member${session.members === 1 ? "" : "s"}`;
    const label = `${session.locked ? "Locked session" : "Session"} ${session.name}, number ${session.id}, ${members}${joined ? ", you are in it" : ""}`;
    const button = el("button", { className: "session-row", attrs: { type: "button", "aria-label": label, "data-session": String(session.id) } }, [
      el("span", { className: "lock", text: session.locked ? "🔒" : "", attrs: { "aria-hidden": "true" } }),
      el("span", { className: "code", text: `#${session.id}` }),
      el("span", { className: "name", text: session.name }),
      el("span", { className: "count", text: members }),
      el("span", { className: "created", text: dateTime(session.created) }),
      el("span", { className: "creator", text: `by ${session.creator}` }),
      el("span", { className: "state", text: joined ? "joined" : "" }),
    ]);
    button.addEventListener("click", () => this.model.openDialog("join", session.id));
    return el("li", {}, [button]);
  }
}
