// @ts-check
/**
 * The connection policy of a listening session: it opens the stream (first with the newest
 * BACKLOG_MS of audio, then resuming after the newest packet received), holds what arrives
 * while the player loads, notices a stream that stalls, waits longer after each refusal,
 * catches up with live after a reconnect (catch_up.js), starts again at live rather than
 * resume far behind it (resume.js), and counts reconnects. It hands every event on,
 * with the local time it arrived, to the session (ConnectionEvents); it decodes and plays
 * nothing itself.
 */
import { CatchUp } from './catch_up.js';
import { AudioStream } from './stream.js';
import { crossesRestart, liveResumeAfter, resumedTooFar, startsBehindMs, streamQuery } from './resume.js';

// Audio comes every frame while capture runs: a connection silent this long is dead even if
// the browser has not noticed (a phone that changed networks, a NAT that forgot it).
const STALL_MS = 3000;
// Waits before opening the stream again after the server refused it, doubling from the first.
const REFUSED_FIRST_MS = 1000;
const REFUSED_MAX_MS = 30000;
// Audio a new connection starts with (docs/protocol.md, backlog_ms): at least the jitter
// buffer's starting target for any frame size up to 40 ms; the buffer skips what is more.
const BACKLOG_MS = 100;
const SHUT_DOWN_TEXT = 'the broadcaster has shut down: reconnecting…';

/**
 * @typedef {import('./wire.js').StreamConfig} StreamConfig
 * @typedef {import('./wire.js').ClockFrame} ClockFrame
 * @typedef {import('./wire.js').StateChange} StateChange
 * @typedef {import('./wire.js').Gap} Gap
 * @typedef {import('./wire.js').CaptureState} CaptureState
 * @typedef {import('./activity.js').ActivityChange} ActivityChange
 *
 * @typedef {object} ConnectionEvents  what the session does with the stream
 * @property {(config: StreamConfig, localMs: number) => void} onConfig  a connection's first
 *   event; its liveId counts what arrived while the player loaded as backlog
 * @property {(id: number, packet: Uint8Array, localMs: number) => void} onPacket
 * @property {(clock: ClockFrame, localMs: number) => void} onClock
 * @property {(change: StateChange) => void} onState
 * @property {(gap: Gap) => void} onGap
 * @property {(change: ActivityChange) => void} onActivity  a sound episode began or ended
 * @property {(text: string) => void} onReconnecting  the stream is down, and why
 * @property {(text: string) => void} onRefused  the server refuses this page's key: the end
 *
 * @typedef {{ type: 'config', config: StreamConfig, localMs: number }
 *   | { type: 'packet', id: number, packet: Uint8Array, localMs: number }
 *   | { type: 'clock', clock: ClockFrame, localMs: number }
 *   | { type: 'state', change: StateChange } | { type: 'gap', gap: Gap }
 *   | { type: 'activity', change: ActivityChange }
 *   | { type: 'disconnect', closed: boolean }} StreamEvent
 *
 * @typedef {object} SessionUrls  where to reach the broadcaster (with the page's key)
 * @property {string} stream  GET /audio/stream
 * @property {string} telemetry  POST /audio/telemetry
 * @property {string} status  GET /status
 */

/** This page's clock, the one AudioContext.getOutputTimestamp() answers in (ms). */
export function localNowMs() {
  return performance.timeOrigin + performance.now();
}

/** The session's connection to /audio/stream, across reconnects. */
export class Connection {
  /**
   * @param {SessionUrls} urls
   * @param {ConnectionEvents} events
   */
  constructor(urls, events) {
    this.urls = urls;
    this.events = events;
    this.closed = false;
    /** @type {AudioStream | null} */
    this.stream = null;
    /** @type {number | null} id of the newest packet handled, whichever connection brought it */
    this.lastId = null;
    /** @type {number | null} performance.now() when it arrived */
    this.lastPacketMs = null;
    /** Live reconnects that would have resumed too far behind, started at live instead. */
    this.restartsAtLive = 0;
    /** @type {CaptureState | null} the capture state the server announced last */
    this.captureState = null;
    /** Connections that sent their config: each after the first is a reconnect. */
    this.connections = 0;
    this.reconnects = 0;
    /** The current connection has sent its config, and no error since. */
    this.connected = false;
    /** performance.now() of the current connection's last event. */
    this.lastEventMs = 0;
    /** @type {number | null} performance.now() of the latest event to arrive, held or not */
    this.lastArrivalMs = null;
    /** Refused connections in a row: how long to wait before the next. */
    this.refusals = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.retryTimer = undefined;
    /** @type {StreamEvent[] | null} events that arrived while the player loads, in order */
    this.held = null;
    this.catchUp = new CatchUp();
    /** @type {number | null} a replay's distance behind live (docs/protocol.md); null: live */
    this.behindMs = null;
    /** Audio a fresh live stream starts with. */
    this.backlogMs = BACKLOG_MS;
    /** Frames in bundles of this long (docs/protocol.md, "Choosing the cost"); 0: each. */
    this.bundleMs = 0;
  }

  /**
   * Listen from another moment: a replay `behindMs` behind live, or live (null). A fresh
   * stream, neither a reconnect nor a catch-up; a reconnect later keeps the same distance
   * and resumes after the last packet (the server continues the replay from there).
   * @param {number | null} behindMs
   * @param {number} [backlogMs]  live: the audio to start with (the jitter buffer's target
   *   by then, which may be more than BACKLOG_MS: with less it would fill in real time)
   */
  seek(behindMs, backlogMs = BACKLOG_MS) {
    this.behindMs = behindMs;
    this.backlogMs = Math.round(Math.min(1000, Math.max(BACKLOG_MS, backlogMs)));
    this.lastId = null;
    this.lastPacketMs = null;
    this.connections = 0;
    this.catchUp = new CatchUp();
    if (this.held) {
      this.drop(); // the player is loading: release() opens the stream
    } else {
      this.open();
    }
  }

  /**
   * Ask for the frames in bundles of `bundleMs` (0: frame by frame), from the next stream
   * on; a stream already open is reopened, resuming after its last packet (one opened
   * while the player loads is dropped: release() opens it afresh).
   * @param {number} bundleMs
   */
  setBundleMs(bundleMs) {
    if (bundleMs === this.bundleMs) return;
    this.bundleMs = bundleMs;
    if (this.closed || !this.stream) return;
    if (this.held) {
      this.drop();
    } else {
      this.open();
    }
  }

  /** Hold what arrives until release(): the player is not ready for it. */
  hold() {
    this.held = [];
  }

  /** Close the stream and forget what it held: release() opens a fresh one. */
  drop() {
    this.stream?.close();
    this.stream = null;
    this.held = [];
  }

  /**
   * Hand on what was held, in order, and from now on each event as it comes. What arrived
   * meanwhile is decoded in a burst: the connection's first audio holds through the newest
   * of it (the config's liveId is raised past it).
   */
  release() {
    /** @type {StreamEvent[]} */
    const held = this.held ?? [];
    this.held = null;
    if (!this.stream) {
      this.open();
      return;
    }
    let newest = -Infinity;
    for (let i = held.length - 1; i >= 0; i--) {
      const event = held[i];
      if (event.type === 'packet') newest = Math.max(newest, event.id);
      if (event.type === 'config') {
        event.config = { ...event.config, liveId: Math.max(event.config.liveId, newest + 1) };
      }
    }
    for (const event of held) this.handle(event);
  }

  /**
   * Open the stream (again), resuming after the newest packet handled (a replay: as far
   * behind live as before). EventSource sends Last-Event-ID by itself only when it
   * reconnects on its own: a new one is told with ?last_id=. The first connection asks for
   * the newest BACKLOG_MS of audio at once, so that the jitter buffer starts full instead of
   * filling in real time; so does a live one whose last packet came too long ago
   * (resume.js).
   */
  open() {
    clearTimeout(this.retryTimer);
    this.stream?.close();
    this.connected = false;
    this.lastEventMs = performance.now();
    const live = this.behindMs === null;
    const resume = streamQuery({
      behindMs: this.behindMs,
      // Live, long after the last packet: at the live edge, not hours behind it.
      afterId: live ? liveResumeAfter(this.lastId, this.lastPacketMs, performance.now()) : this.lastId,
      // Bundles come up to bundleMs apart: start with that much, or the buffer starves.
      backlogMs: Math.min(1000, this.backlogMs + this.bundleMs),
      bundleMs: this.bundleMs,
    });
    const url = `${this.urls.stream}${this.urls.stream.includes('?') ? '&' : '?'}${resume}`;
    this.stream = new AudioStream(url, {
      onConfig: (config) => this.arrive({ type: 'config', config, localMs: localNowMs() }),
      onPacket: (id, packet) => this.arrive({ type: 'packet', id, packet, localMs: localNowMs() }),
      onClock: (clock) => this.arrive({ type: 'clock', clock, localMs: localNowMs() }),
      onState: (change) => this.arrive({ type: 'state', change }),
      onGap: (gap) => this.arrive({ type: 'gap', gap }),
      onActivity: (change) => this.arrive({ type: 'activity', change }),
      onDisconnect: (closed) => this.arrive({ type: 'disconnect', closed }),
      onBadEvent: (err) => console.warn('broadcaster: ignored a malformed event:', err),
    });
  }

  /** @param {StreamEvent} event */
  arrive(event) {
    if (event.type !== 'disconnect') this.lastArrivalMs = performance.now();
    if (this.held) {
      this.held.push(event);
    } else {
      this.handle(event);
    }
  }

  /** @param {StreamEvent} event */
  handle(event) {
    if (event.type === 'disconnect') {
      this.onDisconnect(event.closed);
      return;
    }
    this.lastEventMs = performance.now();
    switch (event.type) {
      case 'config':
        if (this.behindMs === null && this.lastId !== null && resumedTooFar(event.config)) {
          this.restartAtLive(event.config);
          return;
        }
        this.connected = true;
        this.refusals = 0;
        this.connections += 1;
        if (this.connections > 1) {
          this.reconnects += 1;
          // A replay resumes at its own pace: nothing to skip to get back to live.
          if (event.config.replayBehindMs === null) this.catchUp.begin();
        }
        this.captureState = event.config.state;
        this.events.onConfig(event.config, event.localMs);
        break;
      case 'packet':
        this.lastId = event.id;
        this.lastPacketMs = performance.now();
        this.events.onPacket(event.id, event.packet, event.localMs);
        break;
      case 'clock':
        this.events.onClock(event.clock, event.localMs);
        break;
      case 'state':
        this.captureState = event.change.state;
        this.events.onState(event.change);
        break;
      case 'gap':
        this.events.onGap(event.gap);
        break;
      case 'activity':
        this.events.onActivity(event.change);
        break;
    }
  }

  /**
   * A live reconnect (EventSource's own, with Last-Event-ID) resumes far behind live, from
   * the archive: open the stream again at the live edge; what it skips is lost to this
   * listener, and said so as a gap.
   * @param {StreamConfig} config
   */
  restartAtLive(config) {
    this.restartsAtLive += 1;
    this.lastId = null;
    this.lastPacketMs = null;
    this.events.onGap(crossesRestart(config)
      ? { lost: null, nextId: config.liveId, reason: 'restart' }
      : { lost: Math.round(startsBehindMs(config) / config.frameMs), nextId: config.liveId, reason: 'behind' });
    this.open();
  }

  /**
   * Once a second: reopen a stream that has been silent too long while capture runs.
   * @param {number} nowMs  performance.now()
   * @returns {boolean}  whether it stalled
   */
  checkStall(nowMs) {
    if (this.captureState !== 'running' || nowMs - this.lastEventMs <= STALL_MS) return false;
    this.events.onReconnecting('the stream stalled: reconnecting…');
    this.open();
    return true;
  }

  /** @param {boolean} closed  EventSource gave up (the server answered with an error) */
  onDisconnect(closed) {
    if (this.closed) return;
    this.connected = false;
    if (closed) {
      this.recover().catch((err) => console.warn('broadcaster: reconnecting failed:', err));
    } else if (this.captureState === 'shutdown') {
      this.events.onReconnecting(SHUT_DOWN_TEXT);
    } else {
      this.events.onReconnecting('cannot reach the broadcaster: reconnecting…');
    }
  }

  /**
   * EventSource gives up when the server answers with an error instead of the stream. A
   * missing or wrong key ends the session, saying so; anything else (a full server, one
   * shutting down, a proxy's error page) is tried again, waiting longer each time.
   */
  async recover() {
    const refusal = await keyRefusal(this.urls.status);
    if (this.closed || this.connected) return;
    if (refusal !== null) {
      this.events.onRefused(`the broadcaster refused the stream: ${refusal}`);
      return;
    }
    const waitMs = Math.min(REFUSED_MAX_MS, REFUSED_FIRST_MS * 2 ** this.refusals) *
      (0.5 + Math.random() / 2); // spread out, so that refused listeners do not come back at once
    this.refusals += 1;
    const inS = Math.ceil(waitMs / 1000);
    this.events.onReconnecting(this.captureState === 'shutdown'
      ? SHUT_DOWN_TEXT
      : `the broadcaster refused the stream (too many listeners?): trying again in ${inS} s…`);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), waitMs);
  }

  /** Close the stream for good. */
  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.stream?.close();
  }
}

/**
 * Why the server refuses this page's listening key (/status needs the same key as the
 * stream), or null when the key is not the problem.
 * @param {string} statusUrl  /status, with the page's key
 * @returns {Promise<string | null>}
 */
async function keyRefusal(statusUrl) {
  try {
    const response = await fetch(statusUrl, { cache: 'no-store' });
    if (response.status !== 401 && response.status !== 403) return null;
    const answer = await response.json().catch(() => ({}));
    return String(answer.error ?? response.statusText);
  } catch {
    return null; // unreachable: worth trying again
  }
}
