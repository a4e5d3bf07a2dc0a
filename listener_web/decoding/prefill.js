// @ts-check
/**
 * The audio a connection starts with, handed to the player in one piece.
 *
 * A new connection asks for the newest audio at once (docs/protocol.md, `backlog_ms`), and a
 * resumed one gets what it missed: packets with ids below the config's `live_id` were
 * captured before the connection, and arrive together. Pushed one by one as they are
 * decoded, the player could start on the first few and then count the rest as jitter
 * (raising its target) and keep them as extra latency. So their PCM is collected here and
 * pushed as one piece when the last of them is decoded (or a live packet comes first);
 * the player then starts at its target depth, skipping the oldest of it. Pure: no DOM.
 *
 * A stream from another moment (a seek to a replay, or back to live) is `fresh`: what the
 * decoder still puts out of the stream before belongs to another time, and would start the
 * player on it; it is dropped until the new stream's first audio (an id from `nextId` to
 * `liveId`), at most STALE_MAX outputs.
 */

// Outputs of the stream before a seek that can still come out of a decoder: a few.
const STALE_MAX = 8;

/**
 * @typedef {object} Piece  PCM to push to the player
 * @property {Float32Array} samples  interleaved
 * @property {number | undefined} captureMs  capture time of its first sample, if known
 */

export class Prefill {
  /**
   * @param {number} nextId  the first id the connection sends
   * @param {number} liveId  the id of the first packet captured after it was made
   * @param {boolean} [fresh]  a stream from another moment: drop the stream before's audio
   */
  constructor(nextId, liveId, fresh = false) {
    this.nextId = nextId;
    this.liveId = liveId;
    /** Outputs of the stream before that may still come, to drop (fresh only). */
    this.staleLeft = fresh ? STALE_MAX : 0;
    this.lastHeldId = liveId - 1;
    /** @type {Piece[]} */
    this.parts = [];
    this.done = liveId <= nextId;
  }

  /**
   * One decoded packet, in id order.
   * @param {Float32Array} samples
   * @param {number} id
   * @param {number | undefined} captureMs
   * @returns {Piece | null}  what to push now, or null while collecting
   */
  add(samples, id, captureMs) {
    if (this.staleLeft > 0) {
      if (id < this.nextId || id > Math.max(this.liveId, this.nextId)) {
        this.staleLeft -= 1;
        return null;
      }
      this.staleLeft = 0;
    }
    if (this.done || id < this.nextId) return { samples, captureMs };
    this.parts.push({ samples, captureMs });
    if (id < this.lastHeldId) return null;
    this.done = true;
    const parts = this.parts;
    this.parts = [];
    if (parts.length === 1) return parts[0];
    let length = 0;
    for (const part of parts) length += part.samples.length;
    const all = new Float32Array(length);
    let at = 0;
    for (const part of parts) {
      all.set(part.samples, at);
      at += part.samples.length;
    }
    return { samples: all, captureMs: parts[0].captureMs };
  }
}
