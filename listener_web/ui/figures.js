// @ts-check
/** The page's figures line as text, pure: one part per figure, with its bare value. */

import { durationText } from './timeline_scale.js';

/** @typedef {import('../session/report.js').Figures} Figures */

/**
 * @typedef {object} FigurePart  one figure of the page's figures line
 * @property {string} name  latency, buffer, drift, underruns, paused, glitches, reconnects, lost,
 *   saver or path
 * @property {string} text  what the page shows
 * @property {string} value  the bare number (or text), for tests and tools; '' when unknown
 */

/**
 * The page's figures line, one part per figure: latency, buffer and target, drift,
 * underruns, the browser's pauses and output glitches (each when any), reconnects, lost
 * frames (when any), the battery saver's bundles (when on) and the playback path (when
 * known). In a replay the latency is how far behind live it plays, and says so.
 * @param {Figures & {lostFrames: number, replaying?: boolean, bundleMs?: number}} f
 * @returns {FigurePart[]}
 */
export function figureParts(f) {
  const ms = (/** @type {number} */ v) => v.toFixed(0);
  const drift = Math.round(f.driftPpm) || 0; // never "-0"
  /** @type {FigurePart[]} */
  const parts = [
    f.latencyMs === null
      ? { name: 'latency', text: f.replaying ? 'replay' : 'latency –', value: '' }
      : f.replaying ? {
        name: 'latency',
        text: `replay, ${durationText(f.latencyMs)} behind live`,
        value: f.latencyMs.toFixed(1),
      } : {
        name: 'latency',
        // ≥: the browser's output figures were not believable, so the device's share is left out.
        text: `latency ${f.latencyIsLowerBound ? '≥' : '≈'} ${ms(f.latencyMs)} ms`,
        value: f.latencyMs.toFixed(1),
      },
    {
      name: 'buffer',
      // On an engine that pauses whole the target keeps a margin (pause_margin.js).
      text: `buffer ${ms(f.bufferMs)} ms (target ${ms(f.targetMs)}${
        f.marginMs ? `, at least ${ms(f.marginMs)} for this browser's pauses` : ''})`,
      value: f.bufferMs.toFixed(1),
    },
    { name: 'drift', text: `drift ${drift > 0 ? '+' : ''}${drift} ppm`, value: f.driftPpm.toFixed(1) },
    { name: 'underruns', text: `underruns ${f.underruns}`, value: String(f.underruns) },
  ];
  if (f.pauses) {
    // The browser stopped rendering: its dropouts, not the network's (pause_watch.js).
    const caused = f.pauseUnderruns ? `, ${f.pauseUnderruns} of the underruns` : '';
    parts.push({
      name: 'paused',
      text: `browser paused ${f.pauses}× (longest ${ms(f.longestPauseMs)} ms${caused})`,
      value: `${f.pauses},${f.pauseUnderruns},${ms(f.longestPauseMs)}`,
    });
  }
  if (f.glitches) {
    parts.push({ name: 'glitches', text: `output glitches ${f.glitches}`, value: String(f.glitches) });
  }
  parts.push({ name: 'reconnects', text: `reconnects ${f.reconnects}`, value: String(f.reconnects) });
  if (f.lostFrames > 0) {
    parts.push({ name: 'lost', text: `lost ${f.lostFrames} frames`, value: String(f.lostFrames) });
  }
  if (f.bundleMs) {
    parts.push({ name: 'saver', text: `battery saver (${ms(f.bundleMs)} ms bundles)`, value: ms(f.bundleMs) });
  }
  if (f.path) parts.push({ name: 'path', text: `path ${f.path}`, value: f.path });
  return parts;
}
