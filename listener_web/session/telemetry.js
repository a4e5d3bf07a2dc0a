// @ts-check
/**
 * Latency telemetry, pure (no DOM, no network): the clock offset to the server, the capture
 * time of each packet, the figures the page shows, and the report it sends to
 * `POST /audio/telemetry` (docs/protocol.md).
 *
 * Times: "local" is this page's clock, `performance.timeOrigin + performance.now()` (the
 * clock AudioContext.getOutputTimestamp() answers in); "server" is the broadcaster's Unix
 * wall clock in ms, the clock of `server_ms` and `capture_ms`.
 */

/** How often the page reports its figures. */
export const REPORT_EVERY_MS = 5000;

/**
 * The range of each number in a report: what broadcaster/telemetry.py accepts.
 * @type {Record<string, [number, number]>}
 */
export const REPORT_LIMITS = {
  latency_ms: [-1000, 60000],
  output_ms: [0, 10000],
  buffer_ms: [0, 60000],
  target_ms: [0, 60000],
  drift_ppm: [-10000, 10000],
  underruns: [0, 1e9],
  glitches: [0, 1e9],
  reconnects: [0, 1e9],
};
const NULLABLE = new Set(['latency_ms', 'output_ms', 'glitches', 'path']);
const COUNTS = new Set(['underruns', 'glitches', 'reconnects']);
const LISTENER_ID = /^[A-Za-z0-9_-]{8,64}$/;
const PATH = /^[A-Za-z0-9][A-Za-z0-9 ._:/+-]{0,31}$/;
const AGENT = /^[\x20-\x7e]{0,64}$/;
export const REPORT_FIELDS = [
  'listener', 'latency_ms', 'output_ms', 'buffer_ms', 'target_ms', 'drift_ppm', 'underruns',
  'glitches', 'reconnects', 'path', 'agent',
];

/** The largest of the values added in the last `windowMs` (and always the newest). */
class MaxWindow {
  /** @param {number} windowMs */
  constructor(windowMs) {
    this.windowMs = windowMs;
    /** @type {{atMs: number, value: number}[]} oldest first */
    this.samples = [];
  }

  /**
   * @param {number} value
   * @param {number} atMs
   */
  add(value, atMs) {
    if (!Number.isFinite(value) || !Number.isFinite(atMs)) return;
    this.samples.push({ atMs, value });
    while (this.samples.length > 1 && atMs - this.samples[0].atMs > this.windowMs) {
      this.samples.shift();
    }
  }

  /** @returns {number | null} */
  get max() {
    if (this.samples.length === 0) return null;
    let best = -Infinity;
    for (const sample of this.samples) best = Math.max(best, sample.value);
    return best;
  }

  clear() {
    this.samples.length = 0;
  }
}

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

/**
 * A random listener id for one page load: base64url of `bytes` (12 random bytes: 16 chars).
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function listenerId(bytes) {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

const BROWSERS = /** @type {[RegExp, string][]} */ ([
  [/Edg(?:e|A|iOS)?\/(\d+)/, 'Edge'],
  [/OPR\/(\d+)/, 'Opera'],
  [/SamsungBrowser\/(\d+)/, 'Samsung Internet'],
  [/(?:Firefox|FxiOS)\/(\d+)/, 'Firefox'],
  [/HeadlessChrome\/(\d+)/, 'Headless Chrome'],
  [/(?:Chrome|CriOS|Chromium)\/(\d+)/, 'Chrome'],
  [/Version\/(\d+)[\d.]*(?: Mobile\/\S+)? Safari\//, 'Safari'],
]);
const SYSTEMS = /** @type {[RegExp, string][]} */ ([
  [/Android/, 'Android'],
  [/iPhone|iPad|iPod/, 'iOS'],
  [/CrOS/, 'ChromeOS'],
  [/Windows/, 'Windows'],
  [/Macintosh|Mac OS X/, 'macOS'],
  [/Linux/, 'Linux'],
]);

/**
 * A short name for a browser from its user agent string: "Chrome 131 on Android".
 * @param {string} userAgent
 * @returns {string}  at most 64 printable ASCII characters
 */
export function shortAgent(userAgent) {
  const found = BROWSERS.find(([pattern]) => pattern.test(userAgent));
  const browser = found ? `${found[1]} ${userAgent.match(found[0])?.[1]}` : 'a browser';
  const system = SYSTEMS.find(([pattern]) => pattern.test(userAgent))?.[1];
  return (system ? `${browser} on ${system}` : browser).slice(0, 64);
}

/**
 * @typedef {object} Figures  what the page measures, in the page's units
 * @property {string} listener
 * @property {number | null} latencyMs  capture to heard; null when unknown
 * @property {number | null} outputMs  the output device's share of it (outputLatency)
 * @property {number} bufferMs
 * @property {number} targetMs
 * @property {number} driftPpm
 * @property {number} underruns
 * @property {number | null} glitches  times the output device got no audio in time (not
 *   the buffer's underruns: the browser's; output_buffer.js); null where it does not say
 * @property {number} reconnects
 * @property {string | null} path  how the page plays (player.path), when it says
 * @property {string} agent  shortAgent(navigator.userAgent)
 *
 * @typedef {object} TelemetryReport  the JSON body of POST /audio/telemetry
 * @property {string} listener
 * @property {number | null} latency_ms
 * @property {number | null} output_ms
 * @property {number} buffer_ms
 * @property {number} target_ms
 * @property {number} drift_ppm
 * @property {number} underruns
 * @property {number | null} glitches
 * @property {number} reconnects
 * @property {string | null} path
 * @property {string} agent
 */

/**
 * @param {number | null} value
 * @param {string} key
 * @returns {number | null}  rounded to 0.1 (counts: to 1); null when unknown or out of range
 */
function inRange(value, key) {
  if (value === null || !Number.isFinite(value)) return null;
  const rounded = COUNTS.has(key) ? Math.round(value) : Math.round(value * 10) / 10;
  const [lowest, highest] = REPORT_LIMITS[key];
  return rounded >= lowest && rounded <= highest ? rounded : null;
}

/**
 * @param {number} value
 * @param {string} key
 * @returns {number}  rounded and clamped into the range (0 when not a number)
 */
function clamped(value, key) {
  const [lowest, highest] = REPORT_LIMITS[key];
  if (!Number.isFinite(value)) return Math.max(lowest, Math.min(highest, 0));
  const rounded = COUNTS.has(key) ? Math.round(value) : Math.round(value * 10) / 10;
  return Math.max(lowest, Math.min(highest, rounded));
}

/**
 * The report to send: every field the server wants, each in its range (an unknown or
 * implausible latency is null rather than a refused report).
 * @param {Figures} f
 * @returns {TelemetryReport}
 */
export function buildReport(f) {
  return {
    listener: f.listener,
    latency_ms: inRange(f.latencyMs, 'latency_ms'),
    output_ms: inRange(f.outputMs, 'output_ms'),
    buffer_ms: clamped(f.bufferMs, 'buffer_ms'),
    target_ms: clamped(f.targetMs, 'target_ms'),
    drift_ppm: clamped(f.driftPpm, 'drift_ppm'),
    underruns: clamped(f.underruns, 'underruns'),
    glitches: inRange(f.glitches, 'glitches'),
    reconnects: clamped(f.reconnects, 'reconnects'),
    path: f.path !== null && PATH.test(f.path) ? f.path : null,
    agent: AGENT.test(f.agent) ? f.agent : f.agent.replace(/[^\x20-\x7e]/g, '?').slice(0, 64),
  };
}

/**
 * What the server would refuse in `report` (the checks of broadcaster/telemetry.py), or null.
 * @param {Record<string, unknown>} report
 * @returns {string | null}
 */
export function reportProblem(report) {
  const unknown = Object.keys(report).filter((key) => !REPORT_FIELDS.includes(key));
  if (unknown.length > 0) return `unknown field ${JSON.stringify(unknown[0])}`;
  for (const key of REPORT_FIELDS) {
    if (!(key in report)) return `missing field ${key}`;
    const value = report[key];
    if (value === null) {
      if (!NULLABLE.has(key)) return `${key} must not be null`;
      continue;
    }
    if (key in REPORT_LIMITS) {
      const [lowest, highest] = REPORT_LIMITS[key];
      if (typeof value !== 'number' || !Number.isFinite(value)) return `${key} must be a number`;
      if (COUNTS.has(key) && !Number.isInteger(value)) return `${key} must be an integer`;
      if (value < lowest || value > highest) return `${key} must be from ${lowest} to ${highest}`;
    } else {
      const pattern = { listener: LISTENER_ID, path: PATH, agent: AGENT }[key];
      if (typeof value !== 'string' || !pattern?.test(value)) return `${key} is malformed`;
    }
  }
  return null;
}

/**
 * @typedef {object} FigurePart  one figure of the page's figures line
 * @property {string} name  latency, buffer, drift, underruns, glitches, reconnects, lost or
 *   path
 * @property {string} text  what the page shows
 * @property {string} value  the bare number (or text), for tests and tools; '' when unknown
 */

/**
 * The page's figures line, one part per figure: latency, buffer and target, drift,
 * underruns, output glitches, reconnects and lost frames (each of these two when any) and
 * the playback path (when known).
 * @param {Figures & {lostFrames: number}} f
 * @returns {FigurePart[]}
 */
export function figureParts(f) {
  const ms = (/** @type {number} */ v) => v.toFixed(0);
  const drift = Math.round(f.driftPpm) || 0; // never "-0"
  /** @type {FigurePart[]} */
  const parts = [
    f.latencyMs === null
      ? { name: 'latency', text: 'latency –', value: '' }
      : { name: 'latency', text: `latency ≈ ${ms(f.latencyMs)} ms`, value: f.latencyMs.toFixed(1) },
    {
      name: 'buffer',
      text: `buffer ${ms(f.bufferMs)} ms (target ${ms(f.targetMs)})`,
      value: f.bufferMs.toFixed(1),
    },
    { name: 'drift', text: `drift ${drift > 0 ? '+' : ''}${drift} ppm`, value: f.driftPpm.toFixed(1) },
    { name: 'underruns', text: `underruns ${f.underruns}`, value: String(f.underruns) },
  ];
  if (f.glitches) {
    parts.push({ name: 'glitches', text: `output glitches ${f.glitches}`, value: String(f.glitches) });
  }
  parts.push({ name: 'reconnects', text: `reconnects ${f.reconnects}`, value: String(f.reconnects) });
  if (f.lostFrames > 0) {
    parts.push({ name: 'lost', text: `lost ${f.lostFrames} frames`, value: String(f.lostFrames) });
  }
  if (f.path) parts.push({ name: 'path', text: `path ${f.path}`, value: f.path });
  return parts;
}
