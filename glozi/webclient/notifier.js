// Browser notifications: asked for on a click (never on load), shown for a
// mention or a private message while the page is hidden.

export class Notifier {
  canAsk() {
    return "Notification" in window && Notification.permission === "default";
  }

  ask() {
    return this.canAsk() ? Notification.requestPermission() : Promise.resolve();
  }

  show(summary, body) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const note = new Notification(summary, { body, tag: "glozichat", icon: "/static/icon.svg" });
    note.onclick = () => {
      window.focus();
      note.close();
    };
  }
}
