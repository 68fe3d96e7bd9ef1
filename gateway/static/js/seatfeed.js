"use strict";
// The live seat feed of one event over the gateway's websocket, kept in order by `seq`.
//
// Frames (see gateway/routes/seats_ws.py):
//   snapshot {seq, seats: [{seat_id, status}]}   every status; the feed restarts at seq
//            {seq, statuses: "aahb…"}            the same as a letter per seat, in layout order,
//                                                 when asked for with `seatOrder`
//   seats    {seq, changes: [{seat_id, status}]}  one decision batch
//   batches  {seq, messages: [seats, ...]}        several batches in order, in one frame
// A batch at or below the current seq is old news (a batches frame may repeat what a snapshot
// already covered) and is skipped; the next one is applied; one further ahead means batches
// were missed, so the feed reconnects and the server starts it again with a fresh snapshot.
// A dropped connection is retried with jittered, doubling back-off.

import { statusesFromLetters } from "./venue.js";

const FIRST_RETRY_MS = 500;
const LONGEST_RETRY_MS = 10_000;

/** The batches a frame carries, in order: a seats frame is one, a batches frame is many. */
export function batchesOf(frame) {
  if (frame.type === "seats") return [frame];
  if (frame.type === "batches") return frame.messages;
  return [];
}

export class SeatFeed {
  /**
   * onSnapshot(statuses: Map<seatId, status>) replaces every status; onChanges(changes, at)
   * applies one batch; onConnection("live" | "reconnecting") says whether the map is current.
   * seatOrder: the layout's seat ids in order, to have snapshots come as letters (a twentieth of
   * the bytes: what a phone on a big venue's map wants).
   */
  constructor(eventId, { onSnapshot, onChanges, onConnection = () => {}, seatOrder = null }) {
    const query = seatOrder ? "?snapshot=letters" : "";
    this.url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/events/${eventId}/seats/ws${query}`;
    this.seatOrder = seatOrder;
    this.handlers = { onSnapshot, onChanges, onConnection };
    this.seq = null;
    this.socket = null;
    this.retryMs = FIRST_RETRY_MS;
    this.retryTimer = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.connect();
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.socket?.close(1000);
    this.socket = null;
  }

  connect() {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("message", (event) => {
      if (this.socket === socket) this.receive(JSON.parse(event.data));
    });
    // An error is always followed by a close, so the close alone schedules the retry.
    socket.addEventListener("close", () => {
      if (this.socket === socket) this.retryLater();
    });
  }

  receive(frame) {
    if (frame.type === "snapshot") {
      this.seq = frame.seq;
      this.retryMs = FIRST_RETRY_MS; // a snapshot means the connection works again
      this.handlers.onSnapshot(frame.statuses === undefined
        ? new Map(frame.seats.map(({ seat_id, status }) => [seat_id, status]))
        : statusesFromLetters(this.seatOrder, frame.statuses));
      this.handlers.onConnection("live");
      return;
    }
    if (this.seq === null) return; // changes before any snapshot have nothing to apply to
    for (const batch of batchesOf(frame)) {
      if (batch.seq <= this.seq) continue;
      if (batch.seq > this.seq + 1) {
        this.resync();
        return;
      }
      this.seq = batch.seq;
      this.handlers.onChanges(batch.changes, batch.at);
    }
  }

  /** Missed batches: drop this connection and start again from a fresh snapshot. */
  resync() {
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000);
    this.seq = null;
    this.handlers.onConnection("reconnecting");
    this.connect();
  }

  retryLater() {
    this.socket = null;
    this.seq = null;
    if (this.stopped) return;
    this.handlers.onConnection("reconnecting");
    // Half fixed, half random: a crowd that lost its gateway at once does not return at once.
    const delay = this.retryMs / 2 + (Math.random() * this.retryMs) / 2;
    this.retryMs = Math.min(this.retryMs * 2, LONGEST_RETRY_MS);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}
