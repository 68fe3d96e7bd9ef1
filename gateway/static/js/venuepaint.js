"use strict";
// Drawing the venue on two stacked canvases. The lower one holds what changes rarely: the stage
// and each section's shape, shaded by the share of its seats still free, with its name and
// count. The upper one holds the seats, and a status change repaints just that seat's cell, so
// a batch of changes costs a few dozen fills, not a redraw of the venue.

const SEAT_FILL = 0.8; // a seat's dot spans this share of the distance to its neighbour
const SMALLEST_DOT_PX = 1.5;
const LABEL_MIN_PX = 36; // sections narrower than this on screen go unlabelled
const LABEL_FONT = "600 12px system-ui, sans-serif";
const SHADES = 10; // a section's shade moves in tenths of its seats left
const shades = new Map(); // "colour paper step" -> the shade, worked out once

/** Colours from the stylesheet's custom properties, so CSS and canvas agree. */
export function readPalette(element, categoryCount) {
  const style = getComputedStyle(element);
  const read = (name) => style.getPropertyValue(name).trim();
  return {
    categories: Array.from({ length: categoryCount }, (_, index) => read(`--cat-${index % 8}`)),
    held: read("--taken"),
    booked: read("--sold"),
    chosen: read("--chosen"),
    mine: read("--mine"),
    yours: read("--yours"),
    ink: read("--ink"),
    paper: read("--paper"),
    stage: read("--stage"),
    muted: read("--muted"),
    stranded: read("--stranded"),
  };
}

/** Size a canvas to the view in device pixels and draw in CSS pixels. */
export function sizeCanvas(canvas, view) {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(view.width * ratio);
  canvas.height = Math.round(view.height * ratio);
  canvas.style.width = `${view.width}px`;
  canvas.style.height = `${view.height}px`;
  const context = canvas.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  return context;
}

export function seatColour(seat, palette) {
  if (seat.selected) return palette.chosen;
  if (seat.mine) return palette.mine;
  if (seat.stranded) return palette.stranded;
  if (seat.status === "held") return palette.held;
  if (seat.status === "booked") return seat.yours ? palette.yours : palette.booked;
  return palette.categories[seat.categoryIndex];
}

/** The stage and the sections, each shaded by how much of it is left. (Sections are labelled
 *  by the map's own elements, above the seats, so a count changes without a repaint.) */
export function paintBase(context, view, venue, palette) {
  context.clearRect(0, 0, view.width, view.height);
  context.font = LABEL_FONT;
  context.textAlign = "center";
  context.textBaseline = "middle";
  const { stage } = venue;
  const [sx, sy] = view.toScreen(stage.x - stage.width / 2, stage.y - stage.depth / 2);
  context.fillStyle = palette.stage;
  context.fillRect(sx, sy, stage.width * view.scale, stage.depth * view.scale);
  label(context, palette.paper, "Stage", ...view.toScreen(stage.x, stage.y), stage.width * view.scale);
  for (const section of venue.sections) {
    const path = new Path2D();
    section.outline.forEach(([x, y], index) => {
      const [px, py] = view.toScreen(x, y);
      if (index === 0) path.moveTo(px, py);
      else path.lineTo(px, py);
    });
    path.closePath();
    const left = section.total ? section.available / section.total : 0;
    context.fillStyle = shade(palette.categories[section.categoryIndex], palette.paper, left);
    context.fill(path);
  }
}

/** Every seat. */
export function paintSeats(context, view, seats, palette) {
  const largest = Math.max(...seats.map((seat) => seat.pitch)) * view.scale * SEAT_FILL;
  if (largest < SMALLEST_DOT_PX * 4) {
    paintPixels(context, view, seats, palette);
    return;
  }
  context.clearRect(0, 0, view.width, view.height);
  const { minX, minY, maxX, maxY } = view.visible(8);
  const paths = new Map(); // colour -> one path for all its seats: one fill per colour
  for (const seat of seats) {
    if (seat.x < minX || seat.x > maxX || seat.y < minY || seat.y > maxY) continue;
    const colour = seatColour(seat, palette);
    let path = paths.get(colour);
    if (!path) paths.set(colour, (path = new Path2D()));
    dot(path, view, seat);
  }
  for (const [colour, path] of paths) {
    context.fillStyle = colour;
    context.fill(path);
  }
}

/** One seat, over whatever was drawn in its cell before. */
export function paintSeat(context, view, seat, palette) {
  const [px, py] = view.toScreen(seat.x, seat.y);
  const half = (seat.pitch * view.scale) / 2;
  context.clearRect(px - half, py - half, 2 * half, 2 * half);
  const path = new Path2D();
  dot(path, view, seat);
  context.fillStyle = seatColour(seat, palette);
  context.fill(path);
}

/** The whole venue seen from afar: every seat a few pixels square, written straight into the
 *  bitmap. On a slowed phone this is ten times quicker than 20,000 paths through the canvas. */
function paintPixels(context, view, seats, palette) {
  const { canvas } = context;
  const ratio = canvas.width / view.width;
  const image = context.createImageData(canvas.width, canvas.height);
  const pixels = new Uint32Array(image.data.buffer);
  const packed = new Map(); // colour -> its pixel value
  for (const seat of seats) {
    const colour = seatColour(seat, palette);
    let value = packed.get(colour);
    if (value === undefined) packed.set(colour, (value = pixel(colour)));
    const side = Math.max(1, Math.round(Math.max(seat.pitch * view.scale * SEAT_FILL, SMALLEST_DOT_PX) * ratio));
    const left = Math.round((seat.x * view.scale + view.left) * ratio - side / 2);
    const top = Math.round((seat.y * view.scale + view.top) * ratio - side / 2);
    for (let y = Math.max(top, 0); y < Math.min(top + side, canvas.height); y += 1) {
      const row = y * canvas.width;
      for (let x = Math.max(left, 0); x < Math.min(left + side, canvas.width); x += 1) pixels[row + x] = value;
    }
  }
  context.putImageData(image, 0, 0);
}

/** "#rrggbb" as one opaque RGBA pixel in the platform's (little-endian) byte order. */
function pixel(hex) {
  const [red, green, blue] = rgb(hex);
  return ((255 << 24) | (blue << 16) | (green << 8) | red) >>> 0;
}

function dot(path, view, seat) {
  const [px, py] = view.toScreen(seat.x, seat.y);
  const radius = (seat.pitch * view.scale * SEAT_FILL) / 2;
  if (radius < SMALLEST_DOT_PX * 2) {
    // Squares are much cheaper than arcs, and at this size they look the same.
    const half = Math.max(radius, SMALLEST_DOT_PX / 2);
    path.rect(px - half, py - half, 2 * half, 2 * half);
    return;
  }
  path.moveTo(px + radius, py);
  path.arc(px, py, radius, 0, 2 * Math.PI);
}

function label(context, colour, text, x, y, widthPx) {
  if (widthPx < LABEL_MIN_PX) return;
  context.fillStyle = colour;
  context.fillText(text, x, y, widthPx);
}

/** A section's colour: its category's, paler the fewer seats it has left (`left`: 0 to 1). */
function shade(colour, paper, left) {
  const step = Math.round(left * SHADES);
  const key = `${colour} ${paper} ${step}`;
  if (!shades.has(key)) shades.set(key, mix(colour, paper, 0.25 + (0.6 * (SHADES - step)) / SHADES));
  return shades.get(key);
}

/** `colour` moved `share` of the way towards `towards` (both #rrggbb). */
function mix(colour, towards, share) {
  const from = rgb(colour);
  const to = rgb(towards);
  return `rgb(${from.map((value, index) => Math.round(value + (to[index] - value) * share)).join(" ")})`;
}

function rgb(hex) {
  const value = Number.parseInt(hex.replace("#", ""), 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}
