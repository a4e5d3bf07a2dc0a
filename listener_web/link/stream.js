// @ts-check
/**
 * The broadcaster's Server-Sent Events stream (`/audio/stream`, docs/protocol.md).
 *
 * Transport only: parses each event with wire.js and hands typed values to callbacks.
 * Reconnecting is EventSource's own: it waits the server's `retry:` delay and sends
 * Last-Event-ID, so the server can resume where this connection stopped.
 */
import {
  base64ToBytes,
  parseAudioId,
  parseClock,
  parseConfig,
  parseGap,
  parseState,
} from './wire.js';
import { parseActivity } from './activity.js';

/**
 * @typedef {import('./wire.js').StreamConfig} StreamConfig
 * @typedef {import('./wire.js').ClockFrame} ClockFrame
 * @typedef {import('./wire.js').StateChange} StateChange
 * @typedef {import('./wire.js').Gap} Gap
 * @typedef {import('./activity.js').ActivityChange} ActivityChange
 *
 * @typedef {object} StreamHandlers
 * @property {(config: StreamConfig) => void} onConfig  first event of every connection
 * @property {(id: number, packet: Uint8Array) => void} onPacket  one raw Opus packet
 * @property {(clock: ClockFrame) => void} onClock
 * @property {(state: StateChange) => void} onState
 * @property {(gap: Gap) => void} onGap
 * @property {(change: ActivityChange) => void} onActivity  a sound episode began or ended
 * @property {(closed: boolean) => void} onDisconnect  closed: EventSource gave up for good
 * @property {(err: Error) => void} onBadEvent  an event that does not follow the protocol
 */

/** One EventSource on the audio stream. */
export class AudioStream {
  /**
   * @param {string} url  usually '/audio/stream'
   * @param {StreamHandlers} handlers
   */
  constructor(url, handlers) {
    this.handlers = handlers;
    this.source = new EventSource(url);
    const on = (/** @type {string} */ type, /** @type {(e: MessageEvent) => void} */ fn) => {
      this.source.addEventListener(type, (event) => {
        try {
          fn(/** @type {MessageEvent} */ (event));
        } catch (err) {
          handlers.onBadEvent(err instanceof Error ? err : new Error(String(err)));
        }
      });
    };
    on('config', (e) => handlers.onConfig(parseConfig(e.data)));
    on('message', (e) => handlers.onPacket(parseAudioId(e.lastEventId), base64ToBytes(e.data)));
    on('clock', (e) => handlers.onClock(parseClock(e.data)));
    on('state', (e) => handlers.onState(parseState(e.data)));
    on('gap', (e) => handlers.onGap(parseGap(e.data)));
    on('activity', (e) => handlers.onActivity(parseActivity(e.data)));
    this.source.addEventListener('error', () => {
      handlers.onDisconnect(this.source.readyState === EventSource.CLOSED);
    });
  }

  /** Close the connection for good; no more callbacks. */
  close() {
    this.source.close();
  }
}

/**
 * The https port a `config` event advertises (`"https_port": N`), or null when TLS is off.
 * @param {string} text  the event's data
 * @returns {number | null}
 */
export function httpsPortOf(text) {
  let port;
  try {
    port = JSON.parse(text)?.https_port;
  } catch {
    return null;
  }
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? port : null;
}

/**
 * Open the stream only for its `config` event and close it again: for a page that cannot
 * play here but can still point to the https page. Resolves null when TLS is off, or when
 * no config arrives within `timeoutMs`.
 * @param {string} url
 * @param {number} [timeoutMs]
 * @returns {Promise<number | null>}
 */
export function peekHttpsPort(url, timeoutMs = 5000) {
  return new Promise((resolve) => {
    const source = new EventSource(url);
    /** @param {number | null} port */
    const done = (port) => {
      clearTimeout(timer);
      source.close();
      resolve(port);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    source.addEventListener('config', (event) => done(httpsPortOf(event.data)));
    source.addEventListener('error', () => done(null));
  });
}
