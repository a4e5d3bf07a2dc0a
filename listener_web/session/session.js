// @ts-check
/**
 * One listening session, from the press of Start to the press of Stop: it ties one
 * AudioStream (transport), one OpusDecoder (decoding) and one Player (playback) together,
 * keeps the connection alive (reconnects, resumes, catches up with live), watches the audio
 * output (frozen contexts, glitches) and reports the page's figures to the server. It has
 * no DOM of its own: what it shows goes through a SessionView (app.js).
 */
import { AudioWatch } from '../output/audio_watch.js';
import { prestartDecoderWorker } from '../decoding/direct_decoder.js';
import { GlitchWatch, firstOutputBuffer } from '../output/output_buffer.js';
import { Player, SAMPLE_RATE_HZ, jitterTarget } from '../output/player.js';
import { AudioStream } from '../link/stream.js';
import { CaptureClock, ClockOffset, PacketAge } from '../link/clock.js';
import { StreamDecoder, chooseDecoder } from './decoder_choice.js';
import { REPORT_EVERY_MS, buildReport, listenerId, shortAgent } from './report.js';

/**
 * @typedef {import('../link/wire.js').StreamConfig} StreamConfig
 * @typedef {import('../link/wire.js').ClockFrame} ClockFrame
 * @typedef {import('./report.js').Figures} Figures
 * @typedef {'idle' | 'busy' | 'live' | 'warn' | 'error'} StatusTone
 *
 * @typedef {object} SessionView  what a session shows, and how it ends itself (app.js)
 * @property {(text: string, tone: StatusTone) => void} status  the connection's state
 * @property {(source: string) => void} source  the source's name
 * @property {(blocked: boolean) => void} blocked  whether the browser keeps sound blocked
 *   until the listener taps the page (then Session.unlock() inside the tap)
 * @property {(player: Player) => void} attach  a new player: route its output, measure it
 * @property {(figures: Figures, lostFrames: number) => void} figures  new figures
 * @property {(text: string, tone: 'error') => void} end  the session cannot go on, and why
 *
 * @typedef {object} SessionUrls  where to reach the broadcaster (with the page's key)
 * @property {string} stream  GET /audio/stream
 * @property {string} telemetry  POST /audio/telemetry
 * @property {string} status  GET /status
 */

// Audio comes every frame while capture runs: a connection silent this long is dead even if
// the browser has not noticed (a phone that changed networks, a NAT that forgot it).
const STALL_MS = 3000;
const TICK_MS = 1000;
// After a reconnect, backlog is skipped for at most this long (then played anyway).
const CATCH_UP_MAX_MS = 2000;
// Waits before opening the stream again after the server refused it, doubling from the first.
const REFUSED_FIRST_MS = 1000;
const REFUSED_MAX_MS = 30000;
// One id per page load for the server's list of listeners (nothing is stored).
const LISTENER_ID = listenerId(crypto.getRandomValues(new Uint8Array(12)));
const AGENT = shortAgent(navigator.userAgent);
// A context still suspended this long after Start was not allowed to play by the browser
// (starting one takes a few ms when it is allowed).
const BLOCKED_AFTER_MS = 500;
// Audio a new connection starts with (docs/protocol.md, backlog_ms): at least the jitter
// buffer's starting target for any frame size up to 40 ms; the buffer skips what is more.
const BACKLOG_MS = 100;
/** @type {import('../output/output_buffer.js').OutputBuffer} the smallest where it may be, until the
 * device glitches with it: then 'interactive' for as long as the page is open */
let outputBuffer = firstOutputBuffer({
  worklet: typeof AudioWorkletNode === 'function',
  countsGlitches: typeof AudioContext === 'function' && 'playbackStats' in AudioContext.prototype,
});

/** This page's clock, the one AudioContext.getOutputTimestamp() answers in (ms). */
function localNowMs() {
  return performance.timeOrigin + performance.now();
}

/** What each capture state other than `running` means for the listener. */
const STATE_TEXT = {
  stopped: 'the broadcaster stopped the stream: it plays again here when they restart it',
  offline: 'the source is offline',
  shutdown: 'the broadcaster is shutting down: reconnecting…',
};

/** One press of Start until the press of Stop. */
export class Session {
  /**
   * Create it inside the click on Start, where the browser lets its audio start.
   * @param {SessionView} view
   * @param {SessionUrls} urls
   */
  constructor(view, urls) {
    this.view = view;
    this.urls = urls;
    this.closed = false;
    this.live = false;
    /** @type {StreamConfig | null} */
    this.config = null;
    /** The server's clock − localNowMs(), from the server_ms stamps. */
    this.offset = new ClockOffset();
    /** @type {CaptureClock | null} capture time of each packet, from the `clock` events */
    this.captureClock = null;
    /** How old live packets are when they arrive. */
    this.ages = new PacketAge();
    /** After a reconnect: skipping the backlog the server resumes with, until live again. */
    this.catchingUp = false;
    /** @type {number | null} local time of the first packet while catching up */
    this.catchUpStartMs = null;
    /** Packets skipped to get back to live after reconnects. */
    this.skippedFrames = 0;
    /** @type {{serverMs: number, localMs: number} | null} the current connection's config */
    this.configStamp = null;
    /** @type {number | null} id of the newest audio event, whichever connection brought it */
    this.lastId = null;
    /** Connections that sent their config: each after the first is a reconnect. */
    this.connections = 0;
    this.reconnects = 0;
    /** The current connection has sent its config, and no error since. */
    this.connected = false;
    /** performance.now() of the current connection's last event. */
    this.lastEventMs = 0;
    /** Refused connections in a row: how long to wait before the next. */
    this.refusals = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.retryTimer = undefined;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.ticker = undefined;
    this.lastReportMs = -Infinity;
    this.latencyReported = false;
    this.reportRefused = false;
    this.lostFrames = 0;
    /** Decodes the stream (made for its first config), whatever decodes (decoder_choice.js). */
    this.decoder = new StreamDecoder({
      captureMsOf: (id) => this.decodedCaptureMs(id),
      onError: (err) => {
        this.live = false;
        this.view.status(`decoder error: ${err.message}`, 'error');
      },
    });
    /** @type {AudioStream | null} */
    this.stream = null;
    /** @type {number | null} the newest packet held while the player loaded: what arrived
     * meanwhile is decoded in a burst, so the Prefill of its config holds through it */
    this.heldNewestId = null;
    /** @type {(() => void)[] | null} events that arrived while the player loads, in order */
    this.held = null;
    /** The last capture state the server announced. */
    this.state = /** @type {import('../link/wire.js').CaptureState | null} */ (null);
    // Created synchronously, inside the click, so that the browser lets it play.
    this.player = new Player(() => this.showFigures(), outputBuffer);
    this.view.attach(this.player);
    /** Whether the audio context froze (audio_watch.js). */
    this.watch = new AudioWatch();
    /** Whether its device glitches too often for its output buffer (output_buffer.js). */
    this.glitchWatch = new GlitchWatch();
    /** Glitches of the players this one replaced. */
    this.glitchesBefore = 0;
    /** Underruns of the players this one replaced: the figure counts since Start. */
    this.underrunsBefore = 0;
    this.replacing = false;
  }

  async start() {
    this.view.status('connecting…', 'busy');
    const { ctx } = this.player;
    ctx.addEventListener('statechange', () => this.checkAudio());
    // Connect at once, while the decoder and the worklet load: what arrives meanwhile is held
    // (with its arrival time) and handled, in order, once they are ready.
    this.held = [];
    this.openStream();
    // A browser that blocks sound leaves the context suspended (and load() waiting for it
    // until a tap): then hold no audio that would be stale by then, and connect afresh.
    const check = setTimeout(() => {
      this.checkAudio();
      this.stream?.close();
      this.stream = null;
      this.held = [];
    }, BLOCKED_AFTER_MS);
    try {
      await this.player.load(await chooseDecoder(1));
    } finally {
      clearTimeout(check);
    }
    if (this.closed) return;
    this.checkAudio();
    /** @type {(() => void)[]} */
    const held = this.held ?? [];
    this.held = null;
    if (this.stream) {
      for (const handle of held) handle();
    } else {
      this.openStream();
    }
    this.ticker = setInterval(() => this.tick(), TICK_MS);
  }

  /**
   * Open the stream (again), resuming after the newest audio event received. EventSource
   * sends Last-Event-ID by itself only when it reconnects on its own: a new one is told
   * with ?last_id=. The first connection asks for the newest BACKLOG_MS of audio at once,
   * so that the jitter buffer starts full instead of filling in real time.
   */
  openStream() {
    clearTimeout(this.retryTimer);
    this.stream?.close();
    this.connected = false;
    this.lastEventMs = performance.now();
    const resume = this.lastId === null ? `backlog_ms=${BACKLOG_MS}` : `last_id=${this.lastId}`;
    const url = `${this.urls.stream}${this.urls.stream.includes('?') ? '&' : '?'}${resume}`;
    /**
     * A handler that runs now, or later in arrival order while the player loads.
     * @template {unknown[]} A
     * @param {(arrivedMs: number, ...args: A) => void} handler
     * @param {(...args: A) => void} [onHold]  also called when it is held
     * @returns {(...args: A) => void}
     */
    const when = (handler, onHold) => (...args) => {
      const arrivedMs = localNowMs();
      if (this.held) {
        onHold?.(...args);
        this.held.push(() => handler(arrivedMs, ...args));
      } else {
        handler(arrivedMs, ...args);
      }
    };
    this.heldNewestId = null;
    this.stream = new AudioStream(url, {
      onConfig: when((arrivedMs, config) => this.onConfig(config, arrivedMs)),
      onPacket: when((arrivedMs, id, packet) => this.onPacket(id, packet, arrivedMs),
        (id) => { this.heldNewestId = id; }),
      onClock: when((arrivedMs, clock) => this.onClock(clock, arrivedMs)),
      onState: when((_, { state, source, reason }) => {
        this.lastEventMs = performance.now();
        this.view.source(source);
        this.onCaptureState(state, reason);
      }),
      onGap: when((_, gap) => this.onGap(gap)),
      onDisconnect: when((_, closed) => this.onDisconnect(closed)),
      onBadEvent: (err) => console.warn('broadcaster: ignored a malformed event:', err),
    });
  }

  /** @param {import('../link/wire.js').Gap} gap */
  onGap(gap) {
    this.lastEventMs = performance.now();
    // What is buffered, and the arrival times the buffer measured, are from before the skip:
    // start again at the target depth from the live edge, or the latency would jump.
    this.player.reset();
    if (gap.reason === 'restart') {
      // A new server process: other ids, and perhaps another clock.
      this.captureClock?.clear();
      this.offset.clear();
      if (this.configStamp) this.offset.add(this.configStamp.serverMs, this.configStamp.localMs);
    } else {
      this.lostFrames += gap.lost ?? 0;
    }
  }

  /** Once a second: notice frozen audio and a dead connection; report figures when due. */
  tick() {
    if (this.closed) return;
    if (!this.replacing) this.watchAudio();
    if (!this.replacing) this.watchGlitches();
    if (!this.connected) return;
    const now = performance.now();
    if (this.state === 'running' && now - this.lastEventMs > STALL_MS) {
      this.live = false;
      this.view.status('the stream stalled: reconnecting…', 'busy');
      this.openStream();
      return;
    }
    const figures = this.figures();
    if (!figures) return;
    // The first report as soon as the latency is known, then every REPORT_EVERY_MS.
    const sinceMs = now - this.lastReportMs;
    const first = !this.latencyReported && figures.latencyMs !== null;
    if (sinceMs >= REPORT_EVERY_MS || (first && sinceMs >= 2 * TICK_MS)) {
      this.lastReportMs = now;
      this.latencyReported ||= figures.latencyMs !== null;
      this.report(figures);
    }
  }

  /**
   * POST the figures to the server (docs/protocol.md, /audio/telemetry). A refusal is a bug
   * here: said once on the console. An unreachable server is the stream's to report.
   * @param {Figures} figures
   */
  report(figures) {
    fetch(this.urls.telemetry, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(buildReport(figures)),
    }).then(async (response) => {
      if (response.ok || this.reportRefused) return;
      this.reportRefused = true;
      const answer = await response.json().catch(() => ({}));
      console.warn(`broadcaster: the server refused the telemetry report (${response.status}):`,
        answer.error ?? response.statusText);
    }, () => {});
  }

  /** Resume an audio context that stopped, and replace one that stays stopped or frozen. */
  watchAudio() {
    const { ctx } = this.player;
    const verdict = this.watch.check(ctx.state, ctx.currentTime, performance.now());
    if (verdict === 'resume') {
      ctx.resume().catch(() => {}); // still stopped at the next look: replaced then
    } else if (verdict === 'recreate') {
      this.restartOutput('the audio output froze: restarting it…');
    }
  }

  /** Move to a bigger output buffer when the device glitches with the smallest. */
  watchGlitches() {
    if (this.player.outputBuffer !== 'smallest') return;
    if (!this.glitchWatch.check(this.player.glitches, performance.now())) return;
    outputBuffer = 'interactive';
    console.warn('broadcaster: the audio device glitches with the smallest output buffer: ' +
      'moving to a larger one');
    this.restartOutput('the audio output glitched: restarting it with a larger buffer…');
  }

  /** @param {string} text  the status while it restarts */
  restartOutput(text) {
    this.replacePlayer(text).catch((err) => {
      this.view.end(`the audio output failed: ${err.message ?? err}`, 'error');
    });
  }

  /**
   * Close the AudioContext and play on in a new one (with the page's current output buffer
   * size); the stream stays connected.
   * @param {string} text  the status meanwhile
   */
  async replacePlayer(text) {
    this.replacing = true;
    const old = this.player;
    this.live = false;
    this.view.status(text, 'busy');
    this.glitchesBefore += old.glitches ?? 0;
    this.underrunsBefore += old.figures?.underruns ?? 0;
    this.player = new Player(() => this.showFigures(), outputBuffer);
    this.watch = new AudioWatch();
    this.glitchWatch = new GlitchWatch();
    this.view.attach(this.player);
    this.player.ctx.addEventListener('statechange', () => this.checkAudio());
    old.close().catch((err) => console.warn('broadcaster: closing audio failed:', err));
    const check = setTimeout(() => this.checkAudio(), BLOCKED_AFTER_MS);
    try {
      await this.player.load(old.decoderKind);
    } finally {
      clearTimeout(check);
      this.replacing = false;
    }
    if (this.closed) return;
    if (this.config) {
      this.player.configure(this.config.channels, jitterTarget(this.config.frameMs));
      this.decoder.connect(this.player);
    }
    if (this.state) this.onCaptureState(this.state);
    this.checkAudio();
  }

  /** Have the view ask for a tap while the browser keeps the audio context suspended. */
  checkAudio() {
    if (this.closed) return;
    // 'interrupted': Safari's state while a call or another app holds the audio.
    const state = /** @type {string} */ (this.player.ctx.state);
    this.view.blocked(state === 'suspended' || state === 'interrupted');
  }

  /** Resume the audio context: call only inside a tap or click, the one time it may start. */
  unlock() {
    this.player.ctx.resume().catch((err) => {
      this.view.end(`sound is still blocked: ${err.message ?? err}`, 'error');
    });
  }

  /**
   * @param {StreamConfig} config
   * @param {number} localMs  when it arrived (localNowMs)
   */
  onConfig(config, localMs) {
    if (config.sampleRateHz !== SAMPLE_RATE_HZ) {
      this.view.end(`unsupported stream: sample_rate_hz ${config.sampleRateHz}, expected 48000`, 'error');
      return;
    }
    this.lastEventMs = performance.now();
    const previous = this.config;
    this.config = config;
    this.connected = true;
    this.refusals = 0;
    this.connections += 1;
    if (this.connections > 1) {
      this.reconnects += 1;
      this.catchingUp = true;
      this.catchUpStartMs = null;
    }
    this.configStamp = { serverMs: config.serverMs, localMs };
    const liveId = Math.max(config.liveId, (this.heldNewestId ?? -Infinity) + 1);
    this.heldNewestId = null; // only the held connection's config holds through it
    this.offset.add(config.serverMs, localMs);
    this.view.source(config.source);
    if (!previous || previous.channels !== config.channels || previous.frameMs !== config.frameMs) {
      this.captureClock = new CaptureClock(config.frameMs);
      this.player.configure(config.channels, jitterTarget(config.frameMs));
      this.decoder.configure(config.channels, config.frameMs, this.player);
    }
    this.decoder.startConnection(config.nextId, liveId);
    this.onCaptureState(config.state);
  }

  /**
   * When the first sample decoded from packet `id` was captured (server clock), if known:
   * what a decoder puts out is older than its packet by the encoder's lookahead.
   * @param {number} id
   * @returns {number | undefined}
   */
  decodedCaptureMs(id) {
    const packetMs = this.captureClock?.captureMs(id) ?? null;
    return packetMs === null ? undefined : packetMs - (this.config?.codecDelayMs ?? 0);
  }

  /**
   * @param {number} id
   * @param {Uint8Array} packet
   * @param {number} localMs  when it arrived (localNowMs)
   */
  onPacket(id, packet, localMs) {
    this.lastId = id;
    this.lastEventMs = performance.now();
    if (this.closed || !this.config) return;
    const captureMs = this.captureClock?.captureMs(id) ?? null;
    const offsetMs = this.offset.offsetMs;
    const ageMs = captureMs === null || offsetMs === null ? null : localMs + offsetMs - captureMs;
    if (this.catchingUp) {
      // A resumed connection brings what the ring kept since the last packet, in a burst.
      // Played, it would add the outage to the latency, and the burst would look like jitter
      // to the buffer (whose target would jump): skip it, and start again from live.
      this.catchUpStartMs ??= localMs;
      if (ageMs !== null && this.ages.isStale(ageMs, this.config.frameMs) &&
          localMs - this.catchUpStartMs < CATCH_UP_MAX_MS) {
        this.skippedFrames += 1;
        return;
      }
      this.catchingUp = false;
      this.player.reset();
    } else if (ageMs !== null) {
      this.ages.note(ageMs, localMs);
    }
    this.decoder.decode(packet, id);
    // A frame captured just before a stop can arrive after the `stopped` state: not live.
    if (!this.live && this.state === 'running') {
      this.live = true;
      this.view.status('live', 'live');
    }
  }

  /**
   * @param {ClockFrame} clock
   * @param {number} localMs  when it arrived (localNowMs)
   */
  onClock(clock, localMs) {
    this.lastEventMs = performance.now();
    this.captureClock?.add(clock);
    this.offset.add(clock.serverMs, localMs);
  }

  /**
   * @param {import('../link/wire.js').CaptureState} state
   * @param {string | null} [reason]  why the source is offline
   */
  onCaptureState(state, reason = null) {
    this.live = false;
    this.state = state;
    if (state !== 'running') {
      let text = STATE_TEXT[state];
      if (state === 'offline') {
        text += `${reason ? ` (${reason})` : ''}: waiting for it to come back`;
      }
      this.view.status(text, 'warn');
      this.player.expectEnd(true);
      // The worklet posts stats only while audio arrives: fetch them once it has drained.
      setTimeout(() => this.player.requestStats(), 250);
    } else {
      this.player.expectEnd(false);
      this.view.status('waiting for audio…', 'busy');
    }
  }

  /** @param {boolean} closed */
  onDisconnect(closed) {
    if (this.closed) return;
    this.live = false;
    this.connected = false;
    if (closed) {
      this.recover().catch((err) => console.warn('broadcaster: reconnecting failed:', err));
    } else if (this.state === 'shutdown') {
      this.view.status('the broadcaster has shut down: reconnecting…', 'busy');
    } else {
      this.view.status('cannot reach the broadcaster: reconnecting…', 'busy');
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
      this.view.end(`the broadcaster refused the stream: ${refusal}`, 'error');
      return;
    }
    const waitMs = Math.min(REFUSED_MAX_MS, REFUSED_FIRST_MS * 2 ** this.refusals) *
      (0.5 + Math.random() / 2); // spread out, so that refused listeners do not come back at once
    this.refusals += 1;
    const inS = Math.ceil(waitMs / 1000);
    this.view.status(this.state === 'shutdown'
      ? 'the broadcaster has shut down: reconnecting…'
      : `the broadcaster refused the stream (too many listeners?): trying again in ${inS} s…`,
    'busy');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.openStream(), waitMs);
  }

  /**
   * The figures now; null before the player's first stats.
   * @returns {Figures | null}
   */
  figures() {
    const stats = this.player.figures;
    if (!stats) return null;
    const offsetMs = this.offset.offsetMs;
    const path = /** @type {{ path?: unknown }} */ (this.player).path;
    return {
      listener: LISTENER_ID,
      latencyMs: stats.playing && offsetMs !== null ? this.player.latencyMs(offsetMs) : null,
      outputMs: 1000 * (this.player.ctx.outputLatency || 0),
      bufferMs: (1000 * stats.depthSamples) / SAMPLE_RATE_HZ,
      targetMs: (1000 * stats.targetSamples) / SAMPLE_RATE_HZ,
      driftPpm: stats.driftPpm,
      underruns: this.underrunsBefore + stats.underruns,
      glitches: this.glitches(),
      reconnects: this.reconnects,
      path: typeof path === 'string' ? path : null,
      agent: AGENT,
    };
  }

  /** @returns {number | null}  the output device's glitches since Start (output_buffer.js) */
  glitches() {
    const now = this.player.glitches;
    return now === null && this.glitchesBefore === 0 ? null : this.glitchesBefore + (now ?? 0);
  }

  showFigures() {
    const figures = this.figures();
    if (figures) this.view.figures(figures, this.lostFrames);
  }

  async close() {
    this.closed = true;
    clearInterval(this.ticker);
    clearTimeout(this.retryTimer);
    this.stream?.close();
    this.decoder.close();
    prestartDecoderWorker(); // for the next Start
    await this.player.close();
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
