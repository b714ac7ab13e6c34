// Files on the page: the 📎 button and its file input, dropping files on the
// chat, pasting an image into the message field, the card under a file's
// message (an image's thumbnail, a Download link, an upload's progress with
// Cancel) and the full-size image's dialog. Renders and forwards only: the
// transfers are files.js's.

import { byId, el } from "./dom.js";
import { sizeText } from "./files.js";

export class FilesView {
  constructor(sharing) {
    this.sharing = sharing;
    this.input = byId("file-input");
    this.viewer = byId("image-view");
    this.fullImage = byId("image-full");
    byId("attach").addEventListener("click", () => this.input.click());
    this.input.addEventListener("change", () => {
      for (const file of this.input.files) sharing.attach(file);
      this.input.value = "";
    });
    const chat = byId("chat");
    chat.addEventListener("dragover", (event) => {
      if (![...event.dataTransfer.types].includes("Files")) return;
      event.preventDefault();
      chat.classList.add("dropping");
    });
    chat.addEventListener("dragleave", () => chat.classList.remove("dropping"));
    chat.addEventListener("drop", (event) => {
      chat.classList.remove("dropping");
      if (!event.dataTransfer.files.length) return;
      event.preventDefault();
      for (const file of event.dataTransfer.files) sharing.attach(file);
    });
    byId("message").addEventListener("paste", (event) => {
      const images = [...event.clipboardData.items].filter((item) => item.kind === "file" && item.type.startsWith("image/"));
      if (!images.length) return;
      event.preventDefault();
      for (const item of images) {
        const image = item.getAsFile();
        sharing.attach(image, image.name || `pasted.${item.type.split("/")[1]}`);
      }
    });
    byId("image-close").addEventListener("click", () => this.viewer.close());
    this.viewer.addEventListener("close", () => this.fullImage.removeAttribute("src"));
  }

  // The card of `line`'s file.
  card(line) {
    const file = line.file;
    const card = el("div", { className: "file-card" });
    // No link for a path that is not on this server (the view-model gives none).
    const href = file.url ? this.sharing.link(file.url) : "";
    const thumbnail = file.thumbnail && href ? this.sharing.link(file.thumbnail.url) : "";
    if (thumbnail) {
      const thumb = el("img", {
        className: "thumbnail",
        attrs: {
          src: thumbnail,
          width: String(file.thumbnail.width),
          height: String(file.thumbnail.height),
          alt: file.name,
          title: "Show full size",
        },
      });
      thumb.addEventListener("click", () => this.show(file));
      card.append(thumb);
    }
    const size = file.width && file.height ? `${sizeText(file.size)} · ${file.width} × ${file.height}` : sizeText(file.size);
    card.append(el("span", { className: "file-name", text: file.name }), el("span", { className: "file-size", text: size }));
    if (href) {
      card.append(el("a", { className: "download", text: "Download", attrs: { href, download: file.name } }));
    }
    if (line.own && line.delivery === "pending") {
      card.append(el("progress", { attrs: { max: "100", value: String(line.progress || 0), "aria-label": `Uploading ${file.name}` } }));
      const cancel = el("button", { className: "cancel", text: "Cancel", attrs: { type: "button" } });
      cancel.addEventListener("click", () => this.sharing.cancel(line.serial));
      card.append(cancel);
    }
    return card;
  }

  show(file) {
    this.fullImage.setAttribute("src", this.sharing.link(file.url));
    this.fullImage.setAttribute("alt", file.name);
    byId("image-title").textContent = file.name;
    if (!this.viewer.open) this.viewer.showModal();
  }
}
