// The rules a person's input is checked by before it is sent, and how text is
// split for showing (mentions, links). Pure functions, no DOM: the same rules
// as docs/protocol.md ("Names, passwords, codes, text").

export const USERNAME = /^(?![0-9-])[A-Za-z0-9_\-[\]\\^{}|`]{3,12}$/;
export const SESSION_NAME = /^(?![0-9])[A-Za-z0-9]{3,12}$/;
export const PASSWORD = /^[0-9]{5}$/;
export const RESERVED_NAME = "gloziserv";
const NAME_CHAR = "A-Za-z0-9_\\-\\[\\]\\\\^{}|`";
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/u;
const LINK = /\b(?:https?:\/\/|www\.)[^\s<>"]+/giu;
const TRAILING = /[.,;:!?'"*_~]+$/u;

export const USERNAME_RULE =
  "3 to 12 letters, digits or _ - [ ] \\ ^ { } | `, not starting with a digit or -.";
export const SESSION_NAME_RULE = "3 to 12 letters or digits (A-Z, a-z, 0-9), not starting with a digit.";
export const PASSWORD_RULE = "Exactly 5 digits.";

// Why `name` is no username, or "" when it is one.
export function usernameProblem(name) {
  if (!USERNAME.test(name)) return `The username must be ${USERNAME_RULE}`;
  if (name.toLowerCase() === RESERVED_NAME) return `The username ${name} is reserved for the server; choose another.`;
  return "";
}

export function sessionNameProblem(name) {
  return SESSION_NAME.test(name) ? "" : `The name must be ${SESSION_NAME_RULE}`;
}

// An empty password means none (allowed where `optional`).
export function passwordProblem(password, optional) {
  if (password === "" && optional) return "";
  return PASSWORD.test(password) ? "" : "The password must be exactly 5 digits.";
}

// Names compare with only A-Z folded (CASEMAPPING=ascii).
export function nameKey(name) {
  return name.replace(/[A-Z]/g, (letter) => letter.toLowerCase());
}

// Why the server would refuse `text` as a message, or "".
export function textProblem(text, maxText) {
  const length = [...text].length;
  if (!text.trim()) return "is empty";
  if (length > maxText) return `has ${length} characters, over the limit of ${maxText}`;
  if (CONTROL.test(text)) return "has control characters";
  return "";
}

function wholeName(nick) {
  const escaped = nick.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
  return new RegExp(`(?<![${NAME_CHAR}])${escaped}(?![${NAME_CHAR}])`, "gi");
}

// Whether `text` names `nick` as a whole name, in any case ("@Bob," does, "bobby" does not).
export function mentions(text, nick) {
  return Boolean(nick) && wholeName(nick).test(text);
}

// `text` cut into parts to show: {text}, {text, mention: true} or {text, link: URL}.
export function segments(text, nick) {
  const marks = [];
  for (const match of text.matchAll(LINK)) {
    let found = match[0].replace(TRAILING, "");
    // A closing bracket the link did not open is the sentence's.
    while (found.endsWith(")") && (found.match(/\(/g) || []).length < (found.match(/\)/g) || []).length) {
      found = found.slice(0, -1);
    }
    const url = found.toLowerCase().startsWith("www.") ? `http://${found}` : found;
    marks.push({ start: match.index, end: match.index + found.length, link: url });
  }
  if (nick) {
    for (const match of text.matchAll(wholeName(nick))) {
      const start = match.index;
      const end = start + match[0].length;
      if (!marks.some((mark) => start < mark.end && end > mark.start)) marks.push({ start, end, mention: true });
    }
  }
  marks.sort((a, b) => a.start - b.start);
  const parts = [];
  let at = 0;
  for (const mark of marks) {
    if (mark.start > at) parts.push({ text: text.slice(at, mark.start) });
    const part = { text: text.slice(mark.start, mark.end) };
    if (mark.link) part.link = mark.link;
    if (mark.mention) part.mention = true;
    parts.push(part);
    at = mark.end;
  }
  if (at < text.length) parts.push({ text: text.slice(at) });
  return parts;
}

// "14:05", local time, of `seconds` since the epoch.
export function clockTime(seconds) {
  const date = new Date(seconds * 1000);
  const two = (n) => String(n).padStart(2, "0");
  return `${two(date.getHours())}:${two(date.getMinutes())}`;
}

// "2026-12-01 14:05" for the session list's creation times.
export function dateTime(seconds) {
  const date = new Date(seconds * 1000);
  const two = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${clockTime(seconds)}`;
}

// Durations as people read them: "20 s", "1 min 30 s", "4 min", "1 h".
export function duration(seconds) {
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  if (whole < 3600) {
    const rest = whole % 60;
    return rest ? `${Math.floor(whole / 60)} min ${rest} s` : `${whole / 60} min`;
  }
  const minutes = Math.round((whole % 3600) / 60);
  return minutes ? `${Math.floor(whole / 3600)} h ${minutes} min` : `${Math.floor(whole / 3600)} h`;
}
