"use strict";
// The buyer's page: the header's links follow who is logged in, and the hash picks the view.

import { api } from "./api.js";
import { loginPage, signupPage } from "./auth.js";
import { bookingPrintPage, bookingsPage, paymentPage } from "./bookings.js";
import { eventPage } from "./eventpage.js";
import { eventsPage } from "./events.js";
import { announceOnNextView, newView } from "./notice.js";
import { organizerPage } from "./organizer.js";
import { reviewPage } from "./review.js";
import { navigate, startRouter } from "./router.js";
import { salesPage } from "./salespanel.js";
import { currentSession, forgetSession, onSessionChange, updateUser } from "./session.js";

const ROUTES = [
  [/^\/$/, eventsPage],
  [/^\/events\/(\d+)$/, eventPage],
  [/^\/events\/(\d+)\/review$/, reviewPage],
  [/^\/login$/, loginPage],
  [/^\/signup$/, signupPage],
  [/^\/bookings$/, bookingsPage],
  [/^\/bookings\/(\d+)\/print$/, bookingPrintPage],
  [/^\/payment\/(success|cancel)$/, paymentPage],
  [/^\/organizer$/, organizerPage],
  [/^\/organizer\/events\/(\d+)$/, salesPage],
];

function notFound(container) {
  container.textContent = "There is no such page. ";
  const home = document.createElement("a");
  home.href = "#/";
  home.textContent = "See all events";
  container.append(home);
}

/** Show the header links that fit: logged out, logged in, organizer. */
function renderHeader(session) {
  const shown = { "signed-out": !session, "signed-in": Boolean(session), admin: session?.user.role === "admin" };
  for (const item of document.querySelectorAll("[data-when]")) item.hidden = !shown[item.dataset.when];
  document.getElementById("who").textContent = session ? session.user.name : "";
}

/** The role may have changed since login (an organizer promoted a buyer): ask again. */
async function refreshUser() {
  if (!currentSession()) return;
  try {
    const { user } = await api("GET", "/api/v1/me");
    updateUser(user);
  } catch {
    // A refused token has already logged the buyer out (api.js); anything else can wait.
  }
}

onSessionChange(renderHeader);
renderHeader(currentSession());
document.getElementById("logout").addEventListener("click", () => {
  forgetSession();
  announceOnNextView("You're logged out.");
  navigate("#/");
});
await refreshUser();
await startRouter(document.getElementById("view"), ROUTES, notFound, { beforeView: newView });
