// The page's entry: builds the network layer, the view-model and the views,
// and ties the browser's events (visibility, storage) to them.

import { ChatModel } from "./model.js";
import { Connection, socketUrl } from "./net.js";
import { Notifier } from "./notifier.js";
import { ChatView } from "./chatview.js";
import { FileSharing } from "./files.js";
import { FilesView } from "./fileview.js";
import { LobbyView } from "./lobbyview.js";
import { ShellView } from "./shellview.js";

const storage = {
  get(key) {
    try {
      return window.localStorage.getItem(`glozichat.${key}`);
    } catch {
      return null;
    }
  },
  set(key, value) {
    try {
      window.localStorage.setItem(`glozichat.${key}`, value);
    } catch {
      // Private windows may refuse storage: the page works without remembering.
    }
  },
};

const timers = { setTimeout: (f, ms) => window.setTimeout(f, ms), clearTimeout: (t) => window.clearTimeout(t) };
const model = new ChatModel({ now: () => Date.now(), timers, storage });
const connection = new Connection({
  url: socketUrl(window.location),
  makeSocket: (url) => new WebSocket(url),
  timers,
  now: () => Date.now(),
  listener: model,
});
model.attach(connection);

const notifier = new Notifier();
const shell = new ShellView(model, notifier);
const lobby = new LobbyView(model);
const sharing = new FileSharing(model, () => new XMLHttpRequest());
const chat = new ChatView(model, shell, new FilesView(sharing));
let shownBefore;
model.onchange = () => {
  shell.render();
  lobby.render();
  chat.render();
  if (model.current !== shownBefore) {
    shownBefore = model.current;
    chat.focusField();
  }
};
model.onalert = (summary, body) => notifier.show(summary, body);
model.visible = document.visibilityState === "visible";
document.addEventListener("visibilitychange", () => model.setVisible(document.visibilityState === "visible"));
model.onchange();
connection.connect();
