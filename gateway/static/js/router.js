"use strict";
// Hash routes: `#/events/3`, `#/bookings`, `#/payment/success?session_id=…`. Each view renders
// into the main element and may return a function that stops what it started (sockets,
// timers), which runs before the next view renders.

/** `#/events/3?x=1` -> { path: "/events/3", query: URLSearchParams("x=1") } */
function parseHash(hash) {
  const raw = hash.replace(/^#/, "") || "/";
  const [path, search = ""] = raw.split("?", 2);
  return { path: path || "/", query: new URLSearchParams(search) };
}

export function navigate(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}

/**
 * `routes` is a list of [RegExp over the path, view(container, {params, query})]; the regexp's
 * groups are the params. `fallback` renders when nothing matches; `beforeView` runs before
 * every view renders.
 */
export function startRouter(container, routes, fallback, { beforeView = () => {} } = {}) {
  let stopView = null;
  let generation = 0;

  async function render(hashChange) {
    generation += 1;
    const mine = generation;
    if (stopView) {
      stopView();
      stopView = null;
    }
    beforeView();
    // Each render gets a fresh slot: a slow view that resolves after the buyer moved on writes
    // into a slot that is no longer on the page.
    const slot = document.createElement("div");
    container.replaceChildren(slot);
    // After following a link, keyboard and screen reader users start at the new content.
    if (hashChange) container.focus();
    const { path, query } = parseHash(location.hash);
    const match = routes.map(([pattern, view]) => [pattern.exec(path), view]).find(([found]) => found);
    const [found, view] = match ?? [[], fallback];
    const stop = await view(slot, { params: found.slice(1), query });
    // A view that finished after the buyer had already moved on stops at once.
    if (mine === generation) stopView = typeof stop === "function" ? stop : null;
    else if (typeof stop === "function") stop();
  }

  window.addEventListener("hashchange", render);
  return render(null);
}
