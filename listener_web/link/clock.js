// @ts-check
/**
 * The stream's clocks as the page estimates them, pure (no DOM, no network): the offset of
 * the server's clock to this page's, how old packets are when they arrive, and when each
 * packet was captured.
 *
 * Times: "local" is this page's clock, `performance.timeOrigin + performance.now()` (the
 * clock AudioContext.getOutputTimestamp() answers in); "server" is the broadcaster's Unix
 * wall clock in ms, the clock of `server_ms` and `capture_ms` (docs/protocol.md).
 */
import { MaxWindow } from './max_window.js';

/**
 * The offset of the server's clock to ours (server − local, ms), from events the server
 * stamped when it sent them (`config` and `clock` events' `server_ms`) and the local time
 * each was handled. Each sample is short of the true offset by its delivery delay, so the
 * largest sample of the last `windowMs` is the estimate (a min filter on the delay); the
 * window lets it follow a clock that is stepped or drifts.
 */
export class ClockOffset {
  /** @param {number} [windowMs] */
  constructor(windowMs = 30000) {
    this.window = new MaxWindow(windowMs);
  }

  /**
   * One sample: an event the server stamped `serverMs` when it sent it was handled at
   * local time `localMs`.
   * @param {number} serverMs
   * @param {number} localMs
   */
  add(serverMs, localMs) {
    this.window.add(serverMs - localMs, localMs);
  }

  /** Server clock − local clock in ms; null before the first sample. */
  get offsetMs() {
    return this.window.max;
  }

  /** Forget every sample (another server process: maybe another clock). */
  clear() {
    this.window.clear();
  }
}

// A packet older than the freshest recent one by more than a frame and this is backlog.
const STALE_SLACK_MS = 40;
const UNKNOWN_FRESH_MS = 100; // how old a live packet is taken to be before any was timed

/**
 * How old packets are when they arrive (capture to arrival, server clock), to tell the
 * backlog a resumed connection brings in a burst from live packets. The freshest age of
 * the last `windowMs` of live packets is the reference.
 */
export class PacketAge {
  /** @param {number} [windowMs] */
  constructor(windowMs = 10000) {
    this.window = new MaxWindow(windowMs);
  }

  /**
   * A live packet `ageMs` old arrived at local time `localMs`.
   * @param {number} ageMs
   * @param {number} localMs
   */
  note(ageMs, localMs) {
    this.window.add(-ageMs, localMs);
  }

  /** The age of the freshest live packet lately; null before any. */
  get freshMs() {
    const max = this.window.max;
    return max === null ? null : -max;
  }

  /**
   * Whether a packet `ageMs` old is backlog rather than live.
   * @param {number} ageMs
   * @param {number} frameMs
   */
  isStale(ageMs, frameMs) {
    return ageMs > (this.freshMs ?? UNKNOWN_FRESH_MS) + frameMs + STALE_SLACK_MS;
  }
}

/**
 * When each packet was captured, from the `clock` events: a packet's first sample was
 * captured at `captureMs + (id - clockId) * frameMs` of the newest clock event at or before
 * it (ids are consecutive within a stream; the server sends a fresh clock event whenever
 * capture restarts, so a packet is never timed across a restart).
 */
export class CaptureClock {
  /**
   * @param {number} frameMs  duration of one packet
   * @param {number} [keep]  clock events remembered (packets still in the decoder may be
   *   older than the newest one)
   */
  constructor(frameMs, keep = 8) {
    this.frameMs = frameMs;
    this.keep = keep;
    /** @type {{id: number, captureMs: number}[]} by id, oldest first */
    this.anchors = [];
  }

  /** @param {{id: number, captureMs: number}} clock */
  add({ id, captureMs }) {
    // An id at or before a known one means the ids started again (a new stream): forget.
    while (this.anchors.length > 0 && this.anchors[this.anchors.length - 1].id >= id) {
      this.anchors.pop();
    }
    this.anchors.push({ id, captureMs });
    if (this.anchors.length > this.keep) this.anchors.shift();
  }

  /**
   * Capture time (server clock, ms) of packet `id`'s first sample; null when no clock event
   * at or before it is known.
   * @param {number} id
   * @returns {number | null}
   */
  captureMs(id) {
    for (let i = this.anchors.length - 1; i >= 0; i--) {
      const anchor = this.anchors[i];
      if (anchor.id <= id) return anchor.captureMs + (id - anchor.id) * this.frameMs;
    }
    return null;
  }

  clear() {
    this.anchors.length = 0;
  }
}
