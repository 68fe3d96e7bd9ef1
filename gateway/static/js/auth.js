"use strict";
// `#/login` and `#/signup`: the forms that get the buyer a token.

import { api } from "./api.js";
import { el, field } from "./dom.js";
import { announceError, announceOnNextView } from "./notice.js";
import { navigate } from "./router.js";
import { saveSession } from "./session.js";

/** Where to go after logging in: the page that sent the buyer here, or the events. */
function nextHash(query) {
  const next = query.get("next") ?? "";
  return next.startsWith("#/") ? next : "#/";
}

export function loginPage(container, { query }) {
  renderForm(container, {
    title: "Log in",
    path: "/api/v1/auth/login",
    fields: ["email", "password"],
    query,
    other: el("p", {}, "No account yet? ", el("a", { href: `#/signup?${query}`, text: "Sign up" })),
  });
}

export function signupPage(container, { query }) {
  renderForm(container, {
    title: "Sign up",
    path: "/api/v1/auth/signup",
    fields: ["name", "email", "password"],
    query,
    other: el("p", {}, "Already have an account? ", el("a", { href: `#/login?${query}`, text: "Log in" })),
  });
}

const INPUTS = {
  name: () => field("Name", el("input", { name: "name", required: true, autocomplete: "name", maxLength: 200 })),
  email: () => field("Email", el("input", { name: "email", type: "email", required: true, autocomplete: "email" })),
  password: (signingUp) => field("Password",
    el("input", { name: "password", type: "password", required: true, minLength: signingUp ? 8 : 1, autocomplete: signingUp ? "new-password" : "current-password" }),
    signingUp ? "At least 8 characters." : null),
};

function renderForm(container, { title, path, fields, query, other }) {
  const signingUp = fields.includes("name");
  const submit = el("button", { type: "submit", className: "primary", text: title });
  const form = el("form", { className: "stacked-form" }, fields.map((name) => INPUTS[name](signingUp)), submit);
  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    submit.disabled = true;
    try {
      saveSession(await api("POST", path, { body: Object.fromEntries(new FormData(form)) }));
      announceOnNextView(signingUp ? "Welcome! Your account is ready." : "You're logged in.");
      navigate(nextHash(query));
    } catch (error) {
      announceError(error);
      submit.disabled = false;
    }
  });
  container.append(el("h1", { text: title }), form, other);
}
