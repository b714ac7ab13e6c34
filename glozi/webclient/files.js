// Sharing files and pictures (docs/files.md), with no DOM: the upload over
// HTTP (PUT /upload with the token the chat connection gave, progress and
// cancel through XMLHttpRequest) and what the view-model does with it. The
// request maker is given, as the network layer's socket maker is.

export const IMAGE_TYPES = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);
export const NO_FILES = "This server does not share files (its web door is off, or it is a cluster).";
export const CANCELLED = "Cancelled.";

// Bytes as docs/files.md writes them: decimal units, one decimal.
export function sizeText(size) {
  if (size < 1000) return `${size} B`;
  let value = size;
  for (const unit of ["kB", "MB"]) {
    value /= 1000;
    if (value < 1000) return `${value.toFixed(1)} ${unit}`;
  }
  return `${(value / 1000).toFixed(1)} GB`;
}

// The server's own file_too_large sentence, said before asking it.
export function tooLargeText(size, largest) {
  return `The file is ${size.toLocaleString("en-US")} bytes; this server takes files up to ${largest.toLocaleString("en-US")} bytes.`;
}

// A file's (or thumbnail's) path with this connection's download token: an <img> cannot send a header.
// Only a path on this server ("/files/..."): "//host/..." would hand the token to another host.
export function withToken(path, token) {
  if (typeof path !== "string" || !path.startsWith("/") || path.startsWith("//")) return "";
  return `${path}?token=${encodeURIComponent(token)}`;
}

// PUT `blob` to /upload with `token`. onprogress(bytesSent). Returns {done, cancel}: done resolves
// with the 201 answer, or rejects with {code, message} (the server's, or "connection"/"cancelled").
export function upload(makeRequest, path, token, blob, onprogress) {
  const request = makeRequest();
  let cancelled = false;
  const done = new Promise((resolve, reject) => {
    request.open("PUT", path);
    request.setRequestHeader("Authorization", `Bearer ${token}`);
    request.upload.onprogress = (event) => onprogress(event.loaded);
    request.onload = () => {
      let answer = null;
      try {
        answer = JSON.parse(request.responseText);
      } catch {
        answer = null;
      }
      if (request.status === 201 && answer) resolve(answer);
      else if (answer && typeof answer.message === "string") reject({ code: String(answer.code), message: answer.message });
      else reject({ code: `http_${request.status}`, message: `The server answered ${request.status}.` });
    };
    request.onerror = () => reject({ code: "connection", message: "The upload failed: the connection was lost." });
    request.onabort = () => reject({ code: "cancelled", message: cancelled ? CANCELLED : "The upload was stopped." });
    request.send(blob);
  });
  return {
    done,
    cancel() {
      cancelled = true;
      request.abort();
    },
  };
}

// What the view-model does with files: `model` is the ChatModel (its connection, lines and
// changed()); makeRequest makes an XMLHttpRequest.
export class FileSharing {
  constructor(model, makeRequest) {
    this.model = model;
    this.makeRequest = makeRequest;
    this.uploads = new Map();
  }

  // The welcome's `files` (null when the server shares none).
  get access() {
    return this.model.files || null;
  }

  // The URL an <img> or a download link uses for `path` (a file's url or its thumbnail's).
  link(path) {
    return this.access ? withToken(path, this.access.download_token) : "";
  }

  // Share `blob` (a File; a pasted image gets `name`) in the conversation shown. False, with a line
  // saying why, when it cannot be sent at all.
  attach(blob, name = blob.name) {
    const model = this.model;
    const conversation = model.shown;
    if (!conversation) return false;
    const problem = this.problem(blob.size);
    if (problem) return model.refuse(conversation, `Not sent: ${problem}`);
    const mediaType = (blob.type || "application/octet-stream").toLowerCase();
    const line = model.addLine(conversation, {
      kind: "message",
      text: `shared ${name} (${sizeText(blob.size)})`,
      sender: model.nick || "",
      own: true,
      action: true,
      delivery: "pending",
      note: "",
      file: { name, size: blob.size, media_type: mediaType, url: "", thumbnail: null },
      progress: 0,
    });
    const where = conversation.kind === "session" ? { session: conversation.id } : { to: conversation.name };
    const state = { cancelled: false, cancel: null };
    this.uploads.set(line.serial, state);
    model.connection.request({ type: "upload", ...where, name, size: blob.size, media_type: mediaType }).then(
      (answer) => {
        if (state.cancelled) return;
        if (answer.type !== "upload_ready") return this.failed(line, answer.message || `The server refused it (${answer.code}).`);
        const sending = upload(this.makeRequest, answer.path, answer.token, blob, (sent) => {
          const progress = Math.floor((sent / blob.size) * 100);
          if (progress !== line.progress) {
            model.update(line, { progress });
            model.changed();
          }
        });
        state.cancel = sending.cancel;
        sending.done.then(
          (stored) => {
            this.uploads.delete(line.serial);
            model.update(line, { delivery: "sent", progress: 100, file: stored.file || line.file, ts: Number(stored.ts) || line.ts });
            model.changed();
          },
          (refusal) => this.failed(line, refusal.message),
        );
      },
      () => this.failed(line, "the connection was lost."),
    );
    model.changed();
    return true;
  }

  problem(size) {
    const access = this.access;
    if (!access) return NO_FILES;
    if (!this.model.online) return "not connected. Attach it again once reconnected.";
    if (size === 0) return "the file is empty.";
    if (size > access.max_file_size) return tooLargeText(size, access.max_file_size);
    return "";
  }

  failed(line, message) {
    this.uploads.delete(line.serial);
    this.model.update(line, { delivery: "failed", note: `Not sent: ${message}` });
    this.model.changed();
  }

  // Cancel the upload of your line `serial` (before its token came, or while it goes).
  cancel(serial) {
    const state = this.uploads.get(serial);
    if (!state) return;
    state.cancelled = true;
    if (state.cancel) state.cancel();
    else {
      const line = [...this.model.conversations.values()].flatMap((c) => c.lines).find((l) => l.serial === serial);
      if (line) this.failed(line, CANCELLED);
    }
  }
}
