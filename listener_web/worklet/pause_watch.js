// @ts-check
/**
 * The engine pausing, noticed from the output's own render callbacks; pure.
 *
 * A callback that comes more than `pauseMs` (beyond its own block's length) of wall-clock
 * time after the one before means that the engine rendered nothing for that long. An engine
 * that pauses then renders the lost time at once, to refill the device, so the catch-up
 * plays the jitter buffer's whole margin within a few ms while the audio for the rest of the
 * pause is still in the network and the decoder, which paused too: an underrun that only a
 * buffer deeper than the pause would have covered. WebKitGTK did this (its whole web
 * process, page and audio thread, stood still for 156 ms in one of two 5-minute runs) and so
 * may any engine on a starved device.
 *
 * The watch counts the pauses, the longest, and the underruns that began in a pause's
 * catch-up (within the pause's length plus CATCH_UP_MS of output after it): the page can
 * then tell the browser's dropouts from the network's. Only pauses while playing count: an
 * idle buffer loses nothing to one.
 */

/** A gap between render callbacks longer than this (beyond the block's length) is a pause. */
export const PAUSE_MS = 100;
/** An underrun within a pause's length plus this much output after it came of the pause. */
export const CATCH_UP_MS = 250;

/** Pauses of the output's render callbacks, and the underruns they caused. */
export class PauseWatch {
  /** @param {number} [pauseMs] */
  constructor(pauseMs = PAUSE_MS) {
    this.pauseMs = pauseMs;
    /** Pauses seen while playing. */
    this.pauses = 0;
    /** The longest, in ms (0 before the first). */
    this.longestMs = 0;
    /** Underruns that began in a pause's catch-up. */
    this.underruns = 0;
    this.lastMs = NaN;
    /** The output frame up to which an underrun is the last pause's. */
    this.catchUpEnd = -Infinity;
  }

  /**
   * One render callback.
   * @param {number} nowMs  wall clock when it came (NaN: unknown, nothing is judged)
   * @param {number} frame  the output frame its block starts at
   * @param {number} blockFrames  its length
   * @param {number} rateHz  the output's sample rate
   * @param {boolean} playing  whether the buffer was playing before the block
   * @param {boolean} underran  whether an underrun began in it
   */
  block(nowMs, frame, blockFrames, rateHz, playing, underran) {
    const gapMs = nowMs - this.lastMs;
    this.lastMs = nowMs;
    if (playing && gapMs > this.pauseMs + (1000 * blockFrames) / rateHz) {
      this.pauses++;
      this.longestMs = Math.max(this.longestMs, gapMs);
      this.catchUpEnd = frame + Math.round(((gapMs + CATCH_UP_MS) * rateHz) / 1000);
    }
    if (underran && frame <= this.catchUpEnd) this.underruns++;
  }
}
