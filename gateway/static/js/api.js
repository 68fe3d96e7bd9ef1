"use strict";
// The one way the page calls the API: JSON in and out, the bearer token when logged in, and
// every failure turned into an ApiError carrying the API's error code.

import { currentToken, forgetSession } from "./session.js";

export class ApiError extends Error {
  constructor({ status, code, message, retryAfter = null, details = {} }) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.details = details;
  }
}

/**
 * `method` on `path` (e.g. "/api/v1/events"); resolves to the decoded JSON body, or null for an
 * empty answer. `body` is sent as JSON; `idempotencyKey` makes a retry safe.
 */
export async function api(method, path, { body, idempotencyKey, anonymous = false } = {}) {
  const headers = { Accept: "application/json" };
  // Public resources go without the token, so any cache between may keep them.
  const token = anonymous ? null : currentToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError({ status: 0, code: "network", message: "The network request failed" });
  }
  const text = await response.text();
  const data = text ? parseJson(text) : null;
  if (response.ok) return data;
  const error = data?.error ?? {};
  const { status: _status, code, message, ...details } = error; // the rest are details
  // The token itself was refused (expired, or its account is gone), not a password.
  if (code === "unauthorized" && token) forgetSession();
  throw new ApiError({
    status: response.status,
    code: code ?? "http_error",
    message: message ?? response.statusText,
    retryAfter: retryAfterSeconds(response.headers.get("Retry-After")),
    details,
  });
}

/** An event with every seat and its status (the organizer's sales panel counts from them). */
export async function eventWithSeats(eventId) {
  const [{ event }, seatMap] = await Promise.all([
    api("GET", `/api/v1/events/${eventId}`),
    api("GET", `/api/v1/events/${eventId}/seats`),
  ]);
  return { event, seatMap };
}

/** What the buyer's map is drawn from: the event, its layout (cached by the browser: it never
 *  changes) and every seat's status now. */
export async function eventMap(eventId) {
  const [{ event }, layout, live] = await Promise.all([
    api("GET", `/api/v1/events/${eventId}`),
    api("GET", `/api/v1/events/${eventId}/layout`, { anonymous: true }),
    api("GET", `/api/v1/events/${eventId}/seats/live`, { anonymous: true }),
  ]);
  return { event, layout, live };
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function retryAfterSeconds(header) {
  const seconds = Number.parseInt(header ?? "", 10);
  return Number.isFinite(seconds) ? seconds : null;
}
