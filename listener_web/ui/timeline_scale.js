// @ts-check
/**
 * The timeline's maths, pure (no DOM): capture times to pixels and back, the level of each
 * pixel column, the episodes' spans, where a tap or a "−10 s" asks to replay from, a
 * dragged span, and how far behind live is said in words.
 *
 * Times are capture times on the server's clock (Unix ms); "behind" is how long before
 * the server's now a moment was captured, the `behind_ms` a replay asks for.
 */

/** A tap closer to live than this plays live: the archive has not written it yet. */
export const LIVE_EDGE_MS = 1500;
/** The quietest level drawn (dBFS): quieter is drawn as this. */
export const FLOOR_DBFS = -70;
/** A drag shorter than this (CSS px) is a tap. */
export const DRAG_MIN_PX = 8;

/** Capture times on an axis `widthPx` wide, the oldest at the left. */
export class TimeScale {
  /**
   * @param {number} fromMs  capture time at the left edge
   * @param {number} toMs  at the right edge
   * @param {number} widthPx
   */
  constructor(fromMs, toMs, widthPx) {
    this.fromMs = fromMs;
    this.toMs = Math.max(toMs, fromMs + 1);
    this.widthPx = Math.max(1, widthPx);
  }

  /** @param {number} ms */
  x(ms) {
    return ((ms - this.fromMs) / (this.toMs - this.fromMs)) * this.widthPx;
  }

  /** @param {number} x  clamped to the axis */
  ms(x) {
    const clamped = Math.min(this.widthPx, Math.max(0, x));
    return this.fromMs + (clamped / this.widthPx) * (this.toMs - this.fromMs);
  }
}

/**
 * The height of each pixel column (0..1, NaN where no audio was held): the loudest step
 * that falls in it, FLOOR_DBFS..0 dBFS mapped to 0..1.
 * @param {import('../link/archive.js').Levels} levels
 * @param {TimeScale} scale
 * @returns {Float32Array}  one per column, `Math.ceil(scale.widthPx)` long
 */
export function columnHeights(levels, scale) {
  const columns = new Float32Array(Math.ceil(scale.widthPx)).fill(NaN);
  levels.levels.forEach((level, i) => {
    if (level === null) return;
    const startMs = levels.fromMs + i * levels.stepMs;
    const first = Math.floor(scale.x(startMs));
    const last = Math.max(first, Math.ceil(scale.x(startMs + levels.stepMs)) - 1);
    const height = Math.min(1, Math.max(0, (level - FLOOR_DBFS) / -FLOOR_DBFS));
    for (let c = Math.max(0, first); c <= Math.min(columns.length - 1, last); c++) {
      if (!(columns[c] >= height)) columns[c] = height; // NaN compares false
    }
  });
  return columns;
}

/**
 * The episodes on the axis, clipped to it, each at least `minPx` wide so that a short
 * sound still shows.
 * @param {{ startMs: number, endMs: number, alerted: boolean }[]} episodes
 * @param {TimeScale} scale
 * @param {number} [minPx]
 * @returns {{ x: number, width: number, alerted: boolean }[]}
 */
export function episodeMarks(episodes, scale, minPx = 3) {
  const marks = [];
  for (const { startMs, endMs, alerted } of episodes) {
    if (endMs < scale.fromMs || startMs > scale.toMs) continue;
    const x0 = Math.max(0, scale.x(startMs));
    const x1 = Math.min(scale.widthPx, scale.x(endMs));
    const width = Math.max(minPx, x1 - x0);
    marks.push({ x: Math.min(x0, scale.widthPx - width), width, alerted });
  }
  return marks;
}

/**
 * How far behind live a replay from `captureMs` is; null: close enough to live to be live.
 * @param {number} captureMs
 * @param {number} serverNowMs
 * @returns {number | null}
 */
export function behindFor(captureMs, serverNowMs) {
  const behindMs = Math.round(serverNowMs - captureMs);
  return behindMs < LIVE_EDGE_MS ? null : behindMs;
}

/** An episode replays from this long before its onset: the sound is heard from its start. */
export const EPISODE_LEAD_MS = 1000;

/**
 * How far behind live a replay of an episode that began at `startMs` is: from
 * EPISODE_LEAD_MS before its onset, but no further back than the oldest audio held; null:
 * so recent that it plays live.
 * @param {number} startMs  the episode's onset (capture time, server clock)
 * @param {number} serverNowMs
 * @param {number | null} heldFromMs  capture time of the oldest audio held (null: unknown)
 * @returns {number | null}
 */
export function episodeBehind(startMs, serverNowMs, heldFromMs) {
  const fromMs = heldFromMs === null ? startMs - EPISODE_LEAD_MS
    : Math.max(startMs - EPISODE_LEAD_MS, heldFromMs);
  return behindFor(fromMs, serverNowMs);
}

/**
 * Where "−10 s" goes: `stepMs` further back than what plays now (`behindMs`, null when
 * live), but no further back than the oldest audio held (`oldestBehindMs`).
 * @param {number | null} behindMs
 * @param {number} stepMs
 * @param {number | null} oldestBehindMs  null: unknown (no limit)
 * @returns {number}
 */
export function stepBack(behindMs, stepMs, oldestBehindMs) {
  const wanted = Math.round((behindMs ?? 0) + stepMs);
  return oldestBehindMs === null ? wanted : Math.max(0, Math.min(wanted, Math.floor(oldestBehindMs)));
}

/**
 * A duration in words: "45 s", "2 min 5 s", "1 h 3 min".
 * @param {number} ms
 */
export function durationText(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return s % 60 ? `${min} min ${s % 60} s` : `${min} min`;
  const h = Math.floor(min / 60);
  return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
}

/**
 * What the indicator says: "live", or how far behind.
 * @param {number | null} behindMs
 */
export function behindText(behindMs) {
  return behindMs === null ? 'live' : `${durationText(behindMs)} behind live`;
}

/**
 * A drag from `x0` to `x1` as a span of capture times; null when it is a tap.
 * @param {number} x0
 * @param {number} x1
 * @param {TimeScale} scale
 * @returns {{ fromMs: number, toMs: number } | null}
 */
export function dragSpan(x0, x1, scale) {
  if (Math.abs(x1 - x0) < DRAG_MIN_PX) return null;
  const [a, b] = x0 < x1 ? [x0, x1] : [x1, x0];
  return { fromMs: scale.ms(a), toMs: scale.ms(b) };
}
