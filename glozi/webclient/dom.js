// Small DOM helpers the views share. Text always goes in as text nodes
// (textContent), never as HTML, whatever it holds.

// An element: `options` may give className, text, and attributes (attrs).
export function el(tag, options = {}, children = []) {
  const node = document.createElement(tag);
  if (options.className) node.className = options.className;
  if (options.text !== undefined) node.textContent = options.text;
  for (const [name, value] of Object.entries(options.attrs || {})) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

export function byId(id) {
  return document.getElementById(id);
}

const drawn = new WeakMap();

// Rebuild `node`'s children with `build()` only when `what` (any JSON value)
// differs from what they were built from: a list that did not change keeps its
// elements, so a click or the keyboard focus on one is never lost to a redraw.
export function fillWhenChanged(node, what, build) {
  const signature = JSON.stringify(what);
  if (drawn.get(node) === signature) return;
  drawn.set(node, signature);
  node.replaceChildren(...build());
}

// One of 12 colour classes for a name, the same on every page.
export function nameColour(name) {
  // FNV-1a: short names that differ by one letter still land far apart.
  let hash = 0x811c9dc5;
  for (const char of name.toLowerCase()) hash = Math.imul(hash ^ char.codePointAt(0), 0x01000193) >>> 0;
  return `hue${hash % 12}`;
}

export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}
