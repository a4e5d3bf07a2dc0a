// @ts-check
/**
 * The report the page sends to `POST /audio/telemetry` (docs/protocol.md), pure: its fields
 * and their ranges (what broadcaster/core/telemetry.py accepts), the listener's id and a
 * short name for the browser, and the report built from the page's figures.
 */

/** How often the page reports its figures. */
export const REPORT_EVERY_MS = 5000;

/**
 * The range of each number in a report: what broadcaster/core/telemetry.py accepts.
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
const FLAGS = new Set(['latency_lower_bound']);
const COUNTS = new Set(['underruns', 'glitches', 'reconnects']);
const LISTENER_ID = /^[A-Za-z0-9_-]{8,64}$/;
const PATH = /^[A-Za-z0-9][A-Za-z0-9 ._:/+-]{0,31}$/;
const AGENT = /^[\x20-\x7e]{0,64}$/;
export const REPORT_FIELDS = [
  'listener', 'latency_ms', 'output_ms', 'buffer_ms', 'target_ms', 'drift_ppm', 'underruns',
  'glitches', 'reconnects', 'path', 'agent', 'latency_lower_bound',
];

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
 * @property {boolean} latencyIsLowerBound  latencyMs leaves out the output device's share,
 *   which the browser did not give believably (output/output_clock.js): a lower bound
 * @property {number | null} outputMs  the output device's share of it (outputLatency); null
 *   when the page did not read it or did not believe it
 * @property {boolean} outputSettled  the page has learnt what it will of the output device
 * @property {number} bufferMs
 * @property {number} targetMs
 * @property {number} driftPpm
 * @property {number} underruns
 * @property {number} pauses  times the browser stopped rendering audio for over 100 ms
 *   (worklet/pause_watch.js); not reported to the server
 * @property {number} longestPauseMs
 * @property {number} pauseUnderruns  the underruns that began in a pause's catch-up
 * @property {number} marginMs  the buffer's floor for an engine that pauses whole
 *   (output/pause_margin.js; 0: none); not reported to the server
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
 * @property {boolean} latency_lower_bound  latency_ms leaves out the output device's share
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
  const latencyMs = inRange(f.latencyMs, 'latency_ms');
  return {
    listener: f.listener,
    latency_ms: latencyMs,
    output_ms: inRange(f.outputMs, 'output_ms'),
    buffer_ms: clamped(f.bufferMs, 'buffer_ms'),
    target_ms: clamped(f.targetMs, 'target_ms'),
    drift_ppm: clamped(f.driftPpm, 'drift_ppm'),
    underruns: clamped(f.underruns, 'underruns'),
    glitches: inRange(f.glitches, 'glitches'),
    reconnects: clamped(f.reconnects, 'reconnects'),
    path: f.path !== null && PATH.test(f.path) ? f.path : null,
    agent: AGENT.test(f.agent) ? f.agent : f.agent.replace(/[^\x20-\x7e]/g, '?').slice(0, 64),
    latency_lower_bound: latencyMs !== null && f.latencyIsLowerBound,
  };
}

/**
 * What the server would refuse in `report` (the checks of broadcaster/core/telemetry.py), or null.
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
    if (FLAGS.has(key)) {
      if (typeof value !== 'boolean') return `${key} must be true or false`;
    } else if (key in REPORT_LIMITS) {
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
