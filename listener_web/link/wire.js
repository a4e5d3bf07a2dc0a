// @ts-check
/**
 * Parsing of the broadcaster's Server-Sent Events payloads (see docs/protocol.md).
 *
 * Pure: no DOM, no network. Every parser takes the event's `data` text and returns a
 * camelCase value object, or throws WireError naming the bad field.
 */

/** A payload that does not follow docs/protocol.md. */
export class WireError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'WireError';
  }
}

/**
 * @typedef {'running' | 'stopped' | 'offline' | 'shutdown'} CaptureState
 *
 * @typedef {object} StreamConfig  The `config` event: always first on a connection.
 * @property {'opus'} codec
 * @property {number} sampleRateHz
 * @property {1 | 2} channels
 * @property {number} frameMs
 * @property {number} frameSamples  per channel
 * @property {number | null} bitrateBps
 * @property {string | null} application
 * @property {number} codecDelayMs  how much older decoded audio is than its packet's capture
 *   time (the encoder's lookahead); 0 when the server does not say
 * @property {string} source
 * @property {CaptureState} state
 * @property {number} serverMs
 * @property {number} nextId
 * @property {number} liveId  the id of the first packet captured after the connection
 * @property {number | null} replayBehindMs  a replay (docs/protocol.md, "Replay"): how far
 *   behind live it started; null for the live stream
 * @property {number} bundleMs  frames come in bundles of this long; 0: frame by frame
 * @property {number | null} epoch  the first id of the server's process (null: not said)
 *
 * @typedef {object} ClockFrame  The `clock` event: capture time of one audio frame.
 * @property {number} id
 * @property {number} captureMs
 * @property {number} serverMs
 *
 * @typedef {object} StateChange  The `state` event.
 * @property {CaptureState} state
 * @property {string} source
 * @property {string | null} reason  why the source is offline
 *
 * @typedef {object} Gap  The `gap` event.
 * @property {number | null} lost  null: unknown (the server restarted)
 * @property {number} nextId
 * @property {'behind' | 'restart' | 'missing'} reason  missing: frames the archive lacks
 */

/**
 * @param {string} text
 * @param {string} what  event name, for messages
 * @returns {Record<string, unknown>}
 */
export function parseObject(text, what) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new WireError(`${what}: not JSON (${err instanceof Error ? err.message : err})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new WireError(`${what}: expected a JSON object, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * @param {Record<string, unknown>} obj
 * @param {string} key
 * @param {string} what
 */
export function finite(obj, key, what) {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new WireError(`${what}.${key}: expected a finite number, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * @param {Record<string, unknown>} obj
 * @param {string} key
 * @param {string} what
 * @param {number} min
 */
export function integer(obj, key, what, min) {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new WireError(`${what}.${key}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * @param {Record<string, unknown>} obj
 * @param {string} key
 * @param {string} what
 */
function string(obj, key, what) {
  const v = obj[key];
  if (typeof v !== 'string') {
    throw new WireError(`${what}.${key}: expected a string, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * @param {Record<string, unknown>} obj
 * @param {string} what
 * @returns {CaptureState}
 */
function captureState(obj, what) {
  const v = obj.state;
  if (v !== 'running' && v !== 'stopped' && v !== 'offline' && v !== 'shutdown') {
    throw new WireError(
      `${what}.state: expected "running", "stopped", "offline" or "shutdown", got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/**
 * Parse the `config` event. Fields the page does not need (`bitrate_bps`, `application`)
 * may be absent; when present they are type-checked.
 * @param {string} text
 * @returns {StreamConfig}
 */
export function parseConfig(text) {
  const what = 'config';
  const o = parseObject(text, what);
  if (o.codec !== 'opus') {
    throw new WireError(`config.codec: expected "opus", got ${JSON.stringify(o.codec)}`);
  }
  const channels = integer(o, 'channels', what, 1);
  if (channels !== 1 && channels !== 2) {
    throw new WireError(`config.channels: expected 1 or 2, got ${channels}`);
  }
  const frameMs = finite(o, 'frame_ms', what);
  if (frameMs <= 0) throw new WireError(`config.frame_ms: expected > 0, got ${frameMs}`);
  return {
    codec: 'opus',
    sampleRateHz: integer(o, 'sample_rate_hz', what, 1),
    channels,
    frameMs,
    frameSamples: integer(o, 'frame_samples', what, 1),
    bitrateBps: o.bitrate_bps === undefined ? null : integer(o, 'bitrate_bps', what, 1),
    application: o.application === undefined ? null : string(o, 'application', what),
    codecDelayMs: o.codec_delay_ms === undefined ? 0 : delay(o, 'codec_delay_ms', what),
    source: string(o, 'source', what),
    state: captureState(o, what),
    serverMs: finite(o, 'server_ms', what),
    nextId: integer(o, 'next_id', what, 0),
    liveId: o.live_id === undefined ? integer(o, 'next_id', what, 0) : integer(o, 'live_id', what, 0),
    replayBehindMs: replayOf(o, what),
    bundleMs: o.bundle_ms === undefined ? 0 : bundle(o, what),
    epoch: o.epoch === undefined ? null : integer(o, 'epoch', what, 0),
  };
}

/**
 * The config's `replay` field: `{"behind_ms": D}` for a replay, null or absent for live.
 * @param {Record<string, unknown>} o
 * @param {string} what
 * @returns {number | null}
 */
function replayOf(o, what) {
  if (o.replay === undefined || o.replay === null) return null;
  if (typeof o.replay !== 'object' || Array.isArray(o.replay)) {
    throw new WireError(`${what}.replay: expected an object or null, got ${JSON.stringify(o.replay)}`);
  }
  return integer(/** @type {Record<string, unknown>} */ (o.replay), 'behind_ms', `${what}.replay`, 0);
}

/**
 * A delay in ms: a finite number from 0 to 1000.
 * @param {Record<string, unknown>} o
 * @param {string} key
 * @param {string} what
 */
function delay(o, key, what) {
  const value = finite(o, key, what);
  if (value < 0 || value > 1000) throw new WireError(`${what}.${key}: expected 0..1000, got ${value}`);
  return value;
}

/**
 * The config's `bundle_ms`: 0 (frame by frame) to 2000.
 * @param {Record<string, unknown>} o
 * @param {string} what
 */
function bundle(o, what) {
  const value = finite(o, 'bundle_ms', what);
  if (value < 0 || value > 2000) throw new WireError(`${what}.bundle_ms: expected 0..2000, got ${value}`);
  return value;
}

/**
 * Parse the `clock` event.
 * @param {string} text
 * @returns {ClockFrame}
 */
export function parseClock(text) {
  const o = parseObject(text, 'clock');
  return {
    id: integer(o, 'id', 'clock', 0),
    captureMs: finite(o, 'capture_ms', 'clock'),
    serverMs: finite(o, 'server_ms', 'clock'),
  };
}

/**
 * Parse the `state` event.
 * @param {string} text
 * @returns {StateChange}
 */
export function parseState(text) {
  const o = parseObject(text, 'state');
  return {
    state: captureState(o, 'state'),
    source: string(o, 'source', 'state'),
    reason: o.reason === undefined ? null : string(o, 'reason', 'state'),
  };
}

/**
 * Parse the `gap` event.
 * @param {string} text
 * @returns {Gap}
 */
export function parseGap(text) {
  const o = parseObject(text, 'gap');
  const reason = o.reason === undefined ? 'behind' : o.reason;
  if (reason !== 'behind' && reason !== 'restart' && reason !== 'missing') {
    throw new WireError(
      `gap.reason: expected "behind", "restart" or "missing", got ${JSON.stringify(reason)}`,
    );
  }
  return {
    lost: o.lost === null ? null : integer(o, 'lost', 'gap', 0),
    nextId: integer(o, 'next_id', 'gap', 0),
    reason,
  };
}

/**
 * Parse an audio event's `id:` field (MessageEvent.lastEventId).
 * @param {string} text
 * @returns {number}
 */
export function parseAudioId(text) {
  if (!/^\d{1,15}$/.test(text)) {
    throw new WireError(`audio id: expected a non-negative integer, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decode standard padded base64 (an audio event's data) into bytes.
 * @param {string} text
 * @returns {Uint8Array}
 */
export function base64ToBytes(text) {
  if (text.length === 0 || !BASE64.test(text)) {
    throw new WireError(`audio: not padded base64 (${text.length} chars)`);
  }
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
