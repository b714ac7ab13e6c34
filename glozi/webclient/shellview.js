// The frame around the screens: the header (status, Reconnect, notifications),
// the sidebar, the phone's drawers, the password screen and the join/create
// dialog. Renders the model and forwards clicks; the drawers' open state is
// the only state kept here (it is how the page looks, not what it knows).

import { byId, el, fillWhenChanged, setText } from "./dom.js";
import { PASSWORD_RULE, SESSION_NAME_RULE, USERNAME_RULE } from "./rules.js";

const PHONE = "(max-width: 760px)";

export class ShellView {
  constructor(model, notifier) {
    this.model = model;
    this.notifier = notifier;
    this.status = byId("status");
    this.serverName = byId("server-name");
    this.reconnect = byId("reconnect");
    this.notify = byId("notify");
    this.menu = byId("menu");
    this.sidebar = byId("sidebar");
    this.scrim = byId("scrim");
    this.membersToggle = byId("members-toggle");
    this.membersPanel = byId("members-panel");
    this.sessionChats = byId("session-chats");
    this.privateChats = byId("private-chats");
    this.passwordScreen = byId("password-screen");
    this.passwordError = byId("password-error");
    this.dialog = byId("dialog");
    this.phone = window.matchMedia(PHONE);
    this.shownDialog = null;
    this.fields = {
      name: byId("dialog-name"),
      username: byId("dialog-username"),
      password: byId("dialog-password"),
    };
    this.reconnect.addEventListener("click", () => model.reconnect());
    this.notify.addEventListener("click", () => notifier.ask().then(() => this.render()));
    this.menu.addEventListener("click", () => this.toggle(this.sidebar, this.menu));
    this.membersToggle.addEventListener("click", () => this.toggle(this.membersPanel, this.membersToggle));
    this.scrim.addEventListener("click", () => this.closeDrawers());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.dialog.open) this.closeDrawers();
    });
    byId("join-create").addEventListener("click", () => {
      this.closeDrawers();
      model.showList();
    });
    byId("password-form").addEventListener("submit", (event) => {
      event.preventDefault();
      model.submitServerPassword(byId("server-password").value);
    });
    byId("dialog-form").addEventListener("submit", (event) => {
      event.preventDefault();
      model.submitDialog(this.values());
    });
    byId("dialog-cancel").addEventListener("click", () => model.closeDialog());
    // Escape closes the dialog: the browser fires `cancel`, the model forgets it.
    this.dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      model.closeDialog();
    });
    // The browser may close a modal dialog by itself (a second Escape): the model forgets it too.
    this.dialog.addEventListener("close", () => {
      if (model.dialog) model.closeDialog();
    });
    for (const field of Object.values(this.fields)) field.addEventListener("input", () => this.checkFields());
  }

  values() {
    return {
      name: this.fields.name.value.trim(),
      username: this.fields.username.value.trim(),
      password: this.fields.password.value.trim(),
    };
  }

  toggle(drawer, button) {
    const open = !drawer.classList.contains("open");
    this.closeDrawers();
    if (open) {
      drawer.classList.add("open");
      button.setAttribute("aria-expanded", "true");
      this.scrim.hidden = false;
      const first = drawer.querySelector("button");
      if (first) first.focus();
    }
  }

  closeDrawers() {
    for (const drawer of [this.sidebar, this.membersPanel]) drawer.classList.remove("open");
    this.menu.setAttribute("aria-expanded", "false");
    this.membersToggle.setAttribute("aria-expanded", "false");
    this.scrim.hidden = true;
  }

  render() {
    const model = this.model;
    setText(this.status, model.status);
    setText(this.serverName, model.serverName ? `· ${model.serverName}` : "");
    this.reconnect.hidden = !model.stopped;
    this.notify.hidden = !this.notifier.canAsk();
    document.title = model.attention ? `(${model.attention}) GloziChat` : "GloziChat";
    this.passwordScreen.hidden = !model.passwordNeeded;
    setText(this.passwordError, model.passwordError);
    this.renderSidebar();
    this.renderDialog();
  }

  renderSidebar() {
    const model = this.model;
    const total = [...model.conversations.values()].reduce((sum, chat) => sum + chat.unread, 0);
    const mention = [...model.conversations.values()].some((chat) => chat.mentioned);
    setText(this.menu, total ? `☰ ${mention ? "@ " : ""}${total}` : "☰");
    this.menu.classList.toggle("has-mention", mention);
    const state = (chats) => chats.map((chat) => [chat.key, chat.name, chat.unread, chat.mentioned, model.current === chat.key]);
    fillWhenChanged(this.sessionChats, state(model.sessionChats), () =>
      this.items(model.sessionChats, (chat) => chat.name, "None yet"),
    );
    fillWhenChanged(this.privateChats, state(model.privateChats), () =>
      this.items(model.privateChats, (chat) => `@${chat.name}`, "None"),
    );
    byId("join-create").setAttribute("aria-current", model.current === null ? "page" : "false");
  }

  items(chats, title, none) {
    if (!chats.length) return [el("li", { className: "empty", text: none })];
    return chats.map((chat) => {
      const shown = this.model.current === chat.key;
      const badge = chat.unread ? `${chat.mentioned ? "@ " : ""}${chat.unread}` : "";
      const label = `${title(chat)}${chat.unread ? `, ${chat.unread} unread` : ""}${chat.mentioned ? ", you were mentioned" : ""}`;
      const button = el(
        "button",
        { className: `conversation${shown ? " shown" : ""}`, attrs: { type: "button", "aria-label": label, "data-key": chat.key } },
        [el("span", { className: "title", text: title(chat) }), el("span", { className: `badge${chat.mentioned ? " mention" : ""}`, text: badge })],
      );
      if (shown) button.setAttribute("aria-current", "page");
      button.addEventListener("click", () => {
        this.closeDrawers();
        this.model.showConversation(chat.key);
      });
      return el("li", {}, [button]);
    });
  }

  renderDialog() {
    const state = this.model.dialog;
    if (!state) {
      if (this.dialog.open) this.dialog.close();
      this.shownDialog = null;
      return;
    }
    const creating = state.kind === "create";
    if (this.shownDialog !== state) {
      this.shownDialog = state;
      setText(byId("dialog-title"), creating ? "New session" : `Join ${state.name}`);
      setText(byId("dialog-submit"), creating ? "Create" : "Join");
      this.fields.name.value = "";
      this.fields.password.value = "";
      this.fields.username.value = this.model.offeredName;
      if (!this.dialog.open) this.dialog.showModal();
      const first = Object.values(this.fields).find((field) => !field.closest(".field").hidden && !field.value && field.offsetParent !== null);
      (first || this.fields.username).focus();
    }
    byId("field-name").hidden = !creating;
    byId("field-password").hidden = !creating && !state.locked;
    setText(byId("label-password"), creating ? "Password (optional)" : "Password");
    setText(byId("dialog-error"), state.error);
    byId("dialog-submit").disabled = state.busy;
    this.checkFields();
  }

  // Each field says while typing whether it is right, and states its rule.
  checkFields() {
    const state = this.model.dialog;
    if (!state) return;
    const values = this.values();
    const problems = this.model.dialogProblems(state.kind, values, state.locked);
    const rules = { name: SESSION_NAME_RULE, username: USERNAME_RULE, password: state.kind === "create" ? `Optional: ${PASSWORD_RULE}` : PASSWORD_RULE };
    for (const [name, field] of Object.entries(this.fields)) {
      const typed = values[name] !== "";
      field.setAttribute("aria-invalid", problems[name] && typed ? "true" : "false");
      field.classList.toggle("valid", typed && !problems[name]);
      setText(byId(`hint-${name}`), rules[name]);
    }
  }
}
