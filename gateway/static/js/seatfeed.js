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
// A dropped connection is retried by `LiveSocket`.

import { LiveSocket, socketUrl } from "./livesocket.js";
import { statusesFromLetters } from "./venue.js";

/** The batches a frame carries, in order: a seats frame is one, a batches frame is many. */
export function batchesOf(frame) {
  if (frame.type === "seats") return [frame];
  if (frame.type === "batches") return frame.messages;
  return [];
}

export class SeatFeed extends LiveSocket {
  /**
   * onSnapshot(statuses: Map<seatId, status>) replaces every status; onChanges(changes, at)
   * applies one batch; onConnection("live" | "reconnecting") says whether the map is current.
   * seatOrder: the layout's seat ids in order, to have snapshots come as letters (a twentieth of
   * the bytes: what a phone on a big venue's map wants).
   */
  constructor(eventId, { onSnapshot, onChanges, onConnection = () => {}, seatOrder = null }) {
    const query = seatOrder ? "?snapshot=letters" : "";
    super(socketUrl(`/api/v1/events/${eventId}/seats/ws${query}`), onConnection);
    this.seatOrder = seatOrder;
    this.handlers = { onSnapshot, onChanges };
    this.seq = null;
  }

  receive(frame) {
    if (frame.type === "snapshot") {
      this.seq = frame.seq;
      this.handlers.onSnapshot(frame.statuses === undefined
        ? new Map(frame.seats.map(({ seat_id, status }) => [seat_id, status]))
        : statusesFromLetters(this.seatOrder, frame.statuses));
      this.connected(); // a snapshot means the connection works again
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
    this.onConnection("reconnecting");
    this.connect();
  }

  disconnected() {
    this.seq = null;
  }
}
