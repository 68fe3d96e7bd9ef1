"use strict";
// Who is logged in: the bearer token and the user it belongs to, kept in sessionStorage so a
// reload keeps the buyer logged in but closing the tab does not leave a token behind.

const STORAGE_KEY = "rushqueue.session";
const listeners = new Set();

export function currentSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null");
    if (saved && Date.parse(saved.expiresAt) > Date.now()) return saved;
  } catch {
    // A damaged entry is the same as none.
  }
  return null;
}

export function currentToken() {
  return currentSession()?.token ?? null;
}

export function isAdmin() {
  return currentSession()?.user.role === "admin";
}

/** Keep the answer of signup or login: `{user, token, expires_at}`. */
export function saveSession(answer) {
  const session = { token: answer.token, user: answer.user, expiresAt: answer.expires_at };
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  notify();
}

/** The user as `/api/v1/me` now describes them (a role may have changed since login). */
export function updateUser(user) {
  const session = currentSession();
  if (!session) return;
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ ...session, user }));
  notify();
}

export function forgetSession() {
  if (sessionStorage.getItem(STORAGE_KEY) === null) return;
  sessionStorage.removeItem(STORAGE_KEY);
  notify();
}

export function onSessionChange(listener) {
  listeners.add(listener);
}

function notify() {
  for (const listener of listeners) listener(currentSession());
}
