"use strict";
// Building DOM from data. Text always goes in as text nodes (never as HTML), so nothing an API
// returns can inject markup.

/**
 * Make an element. `props` may hold: className, text, attrs (set with setAttribute), dataset,
 * on (event name -> listener), and any plain DOM property such as type, value, disabled.
 * Children are nodes or strings (added as text); null and undefined are skipped.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "attrs") for (const [name, v] of Object.entries(value)) node.setAttribute(name, String(v));
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "on") for (const [name, listener] of Object.entries(value)) node.addEventListener(name, listener);
    else node[key] = value;
  }
  append(node, children);
  return node;
}

export function append(parent, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return parent;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

/** A labelled form field: the label wraps its input, so the two are tied without ids. */
export function field(labelText, input, hint) {
  return el("label", { className: "field" }, el("span", { className: "field-label", text: labelText }), input,
    hint ? el("span", { className: "field-hint", text: hint }) : null);
}
