"use strict";
// The page's one live region: status messages and errors, read out by screen readers
// (aria-live="polite" in index.html) and shown at the top of the page. A message belongs to the
// view it was said on and is cleared when the buyer moves to another, unless it was said for the
// next one ("You're logged in", said as the login form sends the buyer on). A message about a
// part of the page that stays in view (the hold panel) is shown there instead, and the region
// only reads it out.

import { plainWords } from "./errors.js";

let forNextView = null;

function region() {
  return document.getElementById("notice");
}

export function announce(text) {
  say(text, { error: false, place: null });
}

export function announceError(error) {
  say(plainWords(error), { error: true, place: null });
}

/** Say `text` where the buyer is looking: shown in `place` (an element that stays on screen),
 *  and read out by the live region, which then does not show it at the top as well. */
export function announceIn(place, text) {
  say(text, { error: false, place });
}

export function announceErrorIn(place, error) {
  say(plainWords(error), { error: true, place });
}

function say(text, { error, place }) {
  const node = region();
  node.classList.toggle("notice-error", error);
  node.classList.toggle("notice-shown-elsewhere", place !== null);
  node.textContent = text;
  if (place) {
    place.textContent = text;
    place.dataset.tone = error ? "error" : "info";
    place.hidden = !text;
  }
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
