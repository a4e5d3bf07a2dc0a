// @ts-check
/**
 * Where a decoder's PCM goes: each block is dated (when its first sample was captured),
 * held while a connection's first audio comes in (prefill.js), and pushed on to the output.
 * The one place a Prefill runs, on the main thread and in the decoder Worker alike.
 */
import { Prefill } from './prefill.js';

/**
 * @callback PcmPush  hands PCM on to the output, transferring its buffer
 * @param {Float32Array} samples  interleaved
 * @param {number | undefined} captureMs  when its first sample was captured (server clock)
 * @returns {void}
 */

/** Decoded PCM on its way to the output. */
export class PcmOutlet {
  /**
   * @param {(id: number) => number | undefined} captureMsOf  when the first sample decoded
   *   from packet `id` was captured (server clock), if known; asked once per packet
   */
  constructor(captureMsOf) {
    this.captureMsOf = captureMsOf;
    /** What the current connection starts with (nothing is held before the first). */
    this.prefill = new Prefill(0, 0);
    /** @type {PcmPush | null} where the PCM goes; dropped until there is one */
    this.push = null;
  }

  /**
   * A connection starts: hold its first audio as prefill.js says.
   * @param {number} nextId  the first id it sends
   * @param {number} liveId  the first id captured after it was made
   * @param {boolean} [fresh]  from another moment (a seek): drop the earlier stream's audio
   */
  start(nextId, liveId, fresh = false) {
    this.prefill = new Prefill(nextId, liveId, fresh);
  }

  /** @param {PcmPush | null} push  where the PCM goes from now on */
  connect(push) {
    this.push = push;
  }

  /**
   * One decoded packet, in id order.
   * @param {Float32Array} samples  interleaved
   * @param {number} id
   */
  take(samples, id) {
    const piece = this.prefill.add(samples, id, this.captureMsOf(id));
    if (piece && this.push) this.push(piece.samples, piece.captureMs);
  }
}
