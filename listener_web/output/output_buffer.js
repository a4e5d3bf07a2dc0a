// @ts-check
/**
 * The size of the output buffer the page asks the browser for, and when to ask for a bigger
 * one; pure.
 *
 * An AudioContext's `latencyHint` sets how much audio the browser hands the device at a
 * time. 'interactive', the usual choice, is the platform's normal low-latency size (on
 * desktop Chromium 10 ms blocks, and about 30 ms of output latency). A hint of 0 asks for
 * the smallest size the platform can do (one 128-sample render quantum on Chromium, with
 * about 8 ms of output latency). Smaller blocks take latency off twice: the device queues
 * less, and the jitter buffer need not cover the wait for the next block.
 *
 * Some devices cannot keep up with the smallest size: the device then gets no audio in time
 * and glitches. Chromium counts that (`AudioContext.playbackStats.underrunEvents`); a
 * GlitchWatch fed the count once a second says when to move up to 'interactive'. Where the
 * browser does not count glitches nobody would notice them, so the page asks for the
 * smallest size only where it does. Nor with a ScriptProcessor output (no AudioWorklet,
 * plain http): it hands every block over through the main thread, which the smallest
 * buffer leaves too little time for.
 *
 * A ScriptProcessor's block is its deadline: the page's main thread must hand each block
 * over before the engine has played the previous one, or the engine plays a block of
 * silence. Chromium renders steadily (a callback per device buffer of about 10 ms): 512
 * frames do there. WebKit renders in bursts (about 35 ms of audio at once, then nothing),
 * so several blocks fall due at the same moment: at 512 frames it played 8 blocks of
 * silence in 5 s on plain http; at 2048 (42.7 ms) none in 20 s. Engines whose render
 * thread is not known to be steady (those that do not count their glitches) get 2048.
 */

import { MaxWindow } from '../link/max_window.js';

/** @typedef {'smallest' | 'interactive'} OutputBuffer */

/** Glitches within GLITCH_WINDOW_MS that make the smallest output buffer too small. */
export const GLITCHES_TO_WIDEN = 2;
export const GLITCH_WINDOW_MS = 60000;

/**
 * The output buffer to start with.
 * @param {{ worklet: boolean, countsGlitches: boolean }} browser  whether it has
 *   AudioWorklet (a secure context) and AudioContext.playbackStats
 * @returns {OutputBuffer}
 */
export function firstOutputBuffer({ worklet, countsGlitches }) {
  return worklet && countsGlitches ? 'smallest' : 'interactive';
}

/** ScriptProcessor blocks (frames): on a steady render thread, and on any other. */
export const STEADY_BLOCK_FRAMES = 512;
export const BURST_BLOCK_FRAMES = 2048;

/**
 * The ScriptProcessor block size for an engine.
 * @param {{ countsGlitches: boolean }} browser  whether it has AudioContext.playbackStats
 * @returns {number}
 */
export function scriptProcessorBlock({ countsGlitches }) {
  return countsGlitches ? STEADY_BLOCK_FRAMES : BURST_BLOCK_FRAMES;
}

/**
 * The AudioContext latencyHint for an output buffer size.
 * @param {OutputBuffer} size
 * @returns {number | AudioContextLatencyCategory}
 */
export function latencyHint(size) {
  return size === 'smallest' ? 0 : 'interactive';
}

/**
 * Says when a device glitches too often, from its running count of glitches. The count at
 * the first look is where counting starts: a context may glitch while it starts up.
 */
export class GlitchWatch {
  /**
   * @param {number} [limit]
   * @param {number} [windowMs]
   */
  constructor(limit = GLITCHES_TO_WIDEN, windowMs = GLITCH_WINDOW_MS) {
    this.limit = limit;
    /** @type {number | null} the count at the previous look */
    this.last = null;
    // Each look's count before it, negated: the largest is minus the count the window
    // starts from, so the glitches within the window are the count now plus it.
    this.before = new MaxWindow(windowMs);
  }

  /**
   * @param {number | null | undefined} total  glitches so far (null: the browser does not say)
   * @param {number} nowMs  a monotonic clock
   * @returns {boolean}  whether `limit` glitches happened within the last `windowMs`
   */
  check(total, nowMs) {
    if (typeof total !== 'number' || !Number.isFinite(total)) return false;
    const last = this.last;
    this.last = total;
    if (last === null) return false;
    this.before.add(-last, nowMs);
    const windowStart = -(this.before.max ?? -last); // the count the window starts from
    return total - windowStart >= this.limit;
  }
}
