// @ts-check
/**
 * The latency/buffer graph: the figures of the last minute (the ones the figures line shows),
 * drawn on a canvas as wide as the card, so a phone shows it whole.
 *
 * Drawing runs on the page's main thread, which also hands every packet on to the player:
 * it reads no layout and no computed style (each would make the browser recalculate the
 * page there and then). The canvas's size comes from a ResizeObserver, the colours are read
 * once and again when the colour scheme changes.
 */
import { canvasColours } from './colours.js';
import { PointRing, axisTopMs, xFor, yFor } from './graph_points.js';

export const GRAPH_WINDOW_MS = 60000;
const POINT_EVERY_MS = 250;

/**
 * The graph's colours, from the page's style.
 * @param {HTMLCanvasElement} canvas
 */
function readColours(canvas) {
  return canvasColours(canvas, {
    track: ['--track', 'rgb(128 128 128 / 25%)'],
    muted: ['--muted', 'gray'],
    buffer: ['--live', 'green'],
    latency: ['--accent', 'blue'],
  });
}

/** The graph of the current session. */
export class Graph {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    this.canvas = canvas;
    const ctx2d = canvas.getContext('2d');
    if (!ctx2d) throw new Error('graph: no 2d canvas');
    this.g = ctx2d;
    this.points = new PointRing(Math.ceil(GRAPH_WINDOW_MS / POINT_EVERY_MS) + 8);
    this.lastPointMs = -Infinity;
    /** The canvas's size on screen, in CSS pixels. */
    this.cssWidth = canvas.clientWidth;
    this.cssHeight = canvas.clientHeight;
    if (typeof ResizeObserver === 'function') {
      new ResizeObserver(() => {
        this.cssWidth = canvas.clientWidth; // fresh in the observer's callback: no extra layout
        this.cssHeight = canvas.clientHeight;
      }).observe(canvas);
    }
    this.colours = readColours(canvas);
    window.matchMedia?.('(prefers-color-scheme: dark)')
      .addEventListener?.('change', () => { this.colours = readColours(canvas); });
    this.clear();
  }

  /**
   * Add the figures now (at most every POINT_EVERY_MS), and draw.
   * @param {number | null} latencyMs
   * @param {number} bufferMs
   * @param {number} [nowMs]
   */
  add(latencyMs, bufferMs, nowMs = performance.now()) {
    if (nowMs - this.lastPointMs < POINT_EVERY_MS) return;
    this.lastPointMs = nowMs;
    this.points.push(nowMs, latencyMs, bufferMs);
    this.draw(nowMs);
  }

  /** Forget the points and show an empty graph. */
  clear() {
    this.points.clear();
    this.lastPointMs = -Infinity;
    this.fit();
    this.g.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.canvas.dataset.points = '0';
  }

  /** Match the canvas's pixels to its size on screen (sharp on a phone's dense screen). */
  fit() {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.round(this.cssWidth * ratio);
    const height = Math.round(this.cssHeight * ratio);
    if (width > 0 && height > 0 && (this.canvas.width !== width || this.canvas.height !== height)) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    return ratio;
  }

  /** @param {number} nowMs */
  draw(nowMs) {
    const ratio = this.fit();
    const { g, points } = this;
    const { width, height } = this.canvas;
    const colours = this.colours;
    const sinceMs = nowMs - GRAPH_WINDOW_MS;
    // Headroom above the largest value, so that a steady line does not hug the top edge.
    const topMs = axisTopMs(1.2 * points.maxSince(sinceMs));
    const pad = 2 * ratio;
    const plotHeight = height - 2 * pad;
    g.clearRect(0, 0, width, height);
    // Grid: the top and the middle of the axis, labelled.
    g.strokeStyle = colours.track;
    g.lineWidth = ratio;
    g.beginPath();
    for (const y of [pad, pad + plotHeight / 2, pad + plotHeight]) {
      g.moveTo(0, Math.round(y) + 0.5);
      g.lineTo(width, Math.round(y) + 0.5);
    }
    g.stroke();
    g.fillStyle = colours.muted;
    g.font = `${11 * ratio}px system-ui, sans-serif`;
    g.textBaseline = 'top';
    g.fillText(`${topMs} ms`, 4 * ratio, pad + ratio);
    this.line(points.bufferMs, colours.buffer, nowMs, topMs, pad, plotHeight, ratio);
    this.line(points.latencyMs, colours.latency, nowMs, topMs, pad, plotHeight, ratio);
    this.canvas.dataset.points = String(points.length);
  }

  /**
   * One series as a line; an unknown value (NaN) breaks it.
   * @param {Float64Array} values
   * @param {string} colour
   * @param {number} nowMs
   * @param {number} topMs
   * @param {number} pad
   * @param {number} plotHeight
   * @param {number} ratio
   */
  line(values, colour, nowMs, topMs, pad, plotHeight, ratio) {
    const { g, points } = this;
    const width = this.canvas.width;
    g.strokeStyle = colour;
    g.lineWidth = 2 * ratio;
    g.lineJoin = 'round';
    g.beginPath();
    let drawing = false;
    for (let i = 0; i < points.length; i++) {
      const at = points.index(i);
      const x = xFor(points.timesMs[at], nowMs, GRAPH_WINDOW_MS, width);
      const value = values[at];
      if (x < 0 || Number.isNaN(value)) {
        drawing = false;
        continue;
      }
      const y = pad + yFor(value, topMs, plotHeight);
      if (drawing) g.lineTo(x, y);
      else g.moveTo(x, y);
      drawing = true;
    }
    g.stroke();
  }
}
