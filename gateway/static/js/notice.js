"use strict";
// The page's one live region: status messages and errors, read out by screen readers
// (aria-live="polite" in index.html) and shown at the top of the page. A message belongs to the
// view it was said on and is cleared when the buyer moves to another, unless it was said for the
// next one ("You're logged in", said as the login form sends the buyer on).

import { plainWords } from "./errors.js";

let forNextView = null;

function region() {
  return document.getElementById("notice");
}

export function announce(text) {
  const node = region();
  node.classList.remove("notice-error");
  node.textContent = text;
}

export function announceError(error) {
  const node = region();
  node.classList.add("notice-error");
  node.textContent = plainWords(error);
}

/** Say `text` on the view the buyer is about to be sent to. */
export function announceOnNextView(text) {
  forNextView = text;
}

/** A new view is showing: drop the last view's message, or say the one left for this view. */
export function newView() {
  announce(forNextView ?? "");
  forNextView = null;
}
