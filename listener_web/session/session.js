// @ts-check
/**
 * One listening session, from the press of Start to the press of Stop. It ties four parts
 * together, each doing one job: the Connection (link/connection.js: the stream, reconnects,
 * catching up with live), the StreamDecoder (decoder_choice.js: which decoder, and its fall
 * back), the OutputWatch (output/output_watch.js: the player, replaced when it freezes or
 * glitches) and the Reporter (reporter.js: the figures to the server). Itself it dates the
 * packets (link/clock.js), and says what happens. It has no DOM of its own: what it shows
 * goes through a SessionView (ui/app.js).
 */
import { prestartDecoderWorker } from '../decoding/direct_decoder.js';
import { CaptureClock, ClockOffset } from '../link/clock.js';
import { Connection } from '../link/connection.js';
import { BLOCKED_AFTER_MS, OutputWatch } from '../output/output_watch.js';
import { SAMPLE_RATE_HZ, jitterTarget } from '../output/player.js';
import { StreamDecoder, chooseDecoder } from './decoder_choice.js';
import { listenerId, shortAgent } from './report.js';
import { Reporter } from './reporter.js';

/**
 * @typedef {import('../link/wire.js').StreamConfig} StreamConfig
 * @typedef {import('../link/wire.js').ClockFrame} ClockFrame
 * @typedef {import('../link/wire.js').StateChange} StateChange
 * @typedef {import('../link/wire.js').Gap} Gap
 * @typedef {import('../link/connection.js').SessionUrls} SessionUrls
 * @typedef {import('../output/player.js').Player} Player
 * @typedef {import('./report.js').Figures} Figures
 * @typedef {import('../link/connection.js').ConnectionEvents} ConnectionEvents
 * @typedef {'idle' | 'busy' | 'live' | 'warn' | 'error'} StatusTone
 *
 * @typedef {object} SessionView  what a session shows, and how it ends itself (ui/app.js)
 * @property {(text: string, tone: StatusTone) => void} status  the connection's state
 * @property {(source: string) => void} source  the source's name
 * @property {(blocked: boolean) => void} blocked  whether the browser keeps sound blocked
 *   until the listener taps the page (then Session.unlock() inside the tap)
 * @property {(player: Player) => void} attach  a new player: route its output, measure it
 * @property {(figures: Figures, lostFrames: number, replaying: boolean, bundleMs: number) => void}
 *   figures  new figures; replaying: the latency is how far behind live a replay plays;
 *   bundleMs: the frames come in bundles (battery saver)
 * @property {(text: string, tone: 'error') => void} end  the session cannot go on, and why
 * @property {(change: import('../link/activity.js').ActivityChange) => void} activity  a sound
 *   episode began or ended
 * @property {(replaying: boolean) => void} replay  a replay plays, or live again
 */

const TICK_MS = 1000;
// The longest frame a stream has (docs/protocol.md, frame_ms).
const MAX_FRAME_MS = 60;
// A replay whose packets arrive this soon after capture has joined the live stream.
const LIVE_AGE_MS = 1000;
// One id per page load for the server's list of listeners (nothing is stored).
const LISTENER_ID = listenerId(crypto.getRandomValues(new Uint8Array(12)));
const AGENT = shortAgent(navigator.userAgent);

/** What each capture state other than `running` means for the listener. */
const STATE_TEXT = {
  stopped: 'the broadcaster stopped the stream: it plays again here when they restart it',
  offline: 'the source is offline',
  shutdown: 'the broadcaster is shutting down: reconnecting…',
};

/**
 * One press of Start until the press of Stop.
 * @implements {ConnectionEvents}
 */
export class Session {
  /**
   * Create it inside the click on Start, where the browser lets its audio start.
   * @param {SessionView} view
   * @param {SessionUrls} urls
   */
  constructor(view, urls) {
    this.view = view;
    this.closed = false;
    /** The status says 'live' (audio arrives while capture runs). */
    this.live = false;
    /** @type {StreamConfig | null} */
    this.config = null;
    /** The server's clock − localNowMs(), from the server_ms stamps. */
    this.offset = new ClockOffset();
    /** @type {CaptureClock | null} capture time of each packet, from the `clock` events */
    this.captureClock = null;
    /** @type {{serverMs: number, localMs: number} | null} the current connection's config */
    this.configStamp = null;
    this.lostFrames = 0;
    /** A seek's stream is coming: what the player holds is from another moment. */
    this.seeking = false;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.ticker = undefined;
    this.connection = new Connection(urls, this);
    this.decoder = new StreamDecoder({
      captureMsOf: (id) => this.decodedCaptureMs(id),
      onError: (err) => this.show(`decoder error: ${err.message}`, 'error'),
    });
    this.reporter = new Reporter(urls.telemetry, TICK_MS);
    // Made synchronously, inside the click, so that the browser lets it play.
    this.output = new OutputWatch({
      attach: (player) => view.attach(player),
      stats: () => this.showFigures(),
      blocked: (blocked) => view.blocked(blocked),
      restarting: (text) => this.show(text, 'busy'),
      restarted: (player) => this.onNewPlayer(player),
      failed: (text) => view.end(text, 'error'),
    });
    // An engine that pauses whole starts as deep as its margin, at once, a frame more.
    const { marginMs } = this.output.player;
    if (marginMs) this.connection.backlogMs = marginMs + MAX_FRAME_MS;
  }

  /** @param {number | null} [behindMs]  start with a replay this far behind live */
  async start(behindMs = null) {
    this.show('connecting…', 'busy');
    this.connection.behindMs = behindMs;
    this.view.replay(behindMs !== null);
    // Connect at once, while the decoder and the worklet load: what arrives meanwhile is held
    // (with its arrival time) and handled, in order, once they are ready.
    this.connection.hold();
    this.connection.open();
    // A browser that blocks sound leaves the context suspended (and load() waiting for it
    // until a tap): then hold no audio that would be stale by then, and connect afresh.
    const check = setTimeout(() => {
      this.output.checkBlocked();
      this.connection.drop();
    }, BLOCKED_AFTER_MS);
    try {
      await this.output.player.load(await chooseDecoder(1));
    } finally {
      clearTimeout(check);
    }
    if (this.closed) return;
    this.output.checkBlocked();
    this.connection.release();
    this.ticker = setInterval(() => this.tick(), TICK_MS);
  }

  /**
   * Show the session's state; 'live' only while audio arrives.
   * @param {string} text
   * @param {StatusTone} tone
   */
  show(text, tone) {
    this.live = tone === 'live';
    this.view.status(text, tone);
  }

  /** Once a second: notice frozen audio and a dead connection; report figures when due. */
  tick() {
    if (this.closed) return;
    this.output.tick();
    const now = performance.now();
    if (!this.connection.connected || this.connection.checkStall(now)) return;
    const figures = this.figures();
    // A replay's latency is how far behind it plays, no figure of the link's.
    if (figures && !this.replaying) this.reporter.offer(figures, now);
  }

  /**
   * Listen from another moment: a replay `behindMs` behind live, or live (null), through
   * the same decoder and player.
   * @param {number | null} behindMs
   */
  seek(behindMs) {
    if (this.closed) return;
    this.seeking = true;
    this.show('connecting…', 'busy');
    this.view.replay(behindMs !== null);
    // Live again: start with as much audio as the buffer aims for, a frame more.
    const stats = this.output.player.figures;
    const targetMs = stats ? (1000 * stats.targetSamples) / SAMPLE_RATE_HZ : 0;
    this.connection.seek(behindMs, targetMs + (this.config?.frameMs ?? 0));
  }

  /** Whether a replay plays (not the live stream). */
  get replaying() {
    return this.connection.behindMs !== null;
  }

  /**
   * How far behind live what plays now is: null when live; a replay's latency once
   * known (it says how far behind it plays), else the distance it asked for.
   * @returns {number | null}
   */
  behindMs() {
    if (!this.replaying) return null;
    if (this.seeking) return this.connection.behindMs; // the figures are the stream before's
    const offsetMs = this.offset.offsetMs;
    const { player } = this.output;
    const latency = player.figures?.playing && offsetMs !== null ? player.latencyMs(offsetMs) : null;
    return latency ?? this.connection.behindMs;
  }

  /**
   * The server's clock now (Unix ms), when known.
   * @param {number} localMs  localNowMs()
   * @returns {number | null}
   */
  serverNowMs(localMs) {
    const offsetMs = this.offset.offsetMs;
    return offsetMs === null ? null : localMs + offsetMs;
  }

  /**
   * A new player replaced one that froze or glitched: it plays the same stream.
   * @param {Player} player
   */
  onNewPlayer(player) {
    if (this.config) {
      const { channels, frameMs, bundleMs } = this.config;
      player.configure(channels, jitterTarget(frameMs, bundleMs, player.marginMs));
      this.decoder.connect(player);
    }
    const state = this.connection.captureState;
    if (state) this.onCaptureState(state);
  }

  /** Resume the audio context: call only inside a tap or click, the one time it may start. */
  unlock() {
    this.output.unlock();
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
    const previous = this.config;
    this.config = config;
    this.configStamp = { serverMs: config.serverMs, localMs };
    this.offset.add(config.serverMs, localMs);
    this.view.source(config.source);
    if (!previous || previous.channels !== config.channels || previous.frameMs !== config.frameMs
      || previous.bundleMs !== config.bundleMs) {
      const { player } = this.output;
      // Bundles on or off: the arrivals measured are the other cadence's (forget them first).
      if (previous && previous.bundleMs !== config.bundleMs) player.reset();
      this.captureClock = new CaptureClock(config.frameMs);
      player.configure(config.channels, jitterTarget(config.frameMs, config.bundleMs, player.marginMs));
      this.decoder.configure(config.channels, config.frameMs, player);
    }
    const fresh = this.seeking;
    if (fresh) {
      // Another moment: drop what plays, and the capture times of the stream before.
      this.seeking = false;
      this.output.player.reset();
      this.captureClock?.clear();
    }
    this.decoder.startConnection(config.nextId, config.liveId, fresh);
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
    if (this.closed || !this.config) return;
    const captureMs = this.captureClock?.captureMs(id) ?? null;
    const offsetMs = this.offset.offsetMs;
    const ageMs = captureMs === null || offsetMs === null ? null : localMs + offsetMs - captureMs;
    const verdict = this.connection.catchUp.check(ageMs, localMs, this.config.frameMs);
    if (verdict === 'skip') return;
    if (verdict === 'live again') this.output.player.reset();
    // A replay that reached live joins it (docs/protocol.md): live from here, reconnects too.
    if (this.replaying && ageMs !== null && ageMs < LIVE_AGE_MS) {
      this.connection.behindMs = null;
      this.view.replay(false);
      this.live = false; // said again below
    }
    this.decoder.decode(packet, id);
    // A frame captured just before a stop can arrive after the `stopped` state: not live.
    if (!this.live && this.connection.captureState === 'running') {
      this.show(this.replaying ? 'replay' : 'live', 'live');
    }
  }

  /**
   * @param {ClockFrame} clock
   * @param {number} localMs  when it arrived (localNowMs)
   */
  onClock(clock, localMs) {
    this.captureClock?.add(clock);
    this.offset.add(clock.serverMs, localMs);
  }

  /** @param {StateChange} change */
  onState({ state, source, reason }) {
    this.view.source(source);
    this.onCaptureState(state, reason);
  }

  /** @param {Gap} gap */
  onGap(gap) {
    // What is buffered, and the arrival times the buffer measured, are from before the skip:
    // start again at the target depth from the live edge, or the latency would jump.
    this.output.player.reset();
    if (gap.reason === 'restart') {
      // A new server process: other ids, and perhaps another clock.
      this.captureClock?.clear();
      this.offset.clear();
      if (this.configStamp) this.offset.add(this.configStamp.serverMs, this.configStamp.localMs);
    } else {
      this.lostFrames += gap.lost ?? 0;
    }
  }

  /** @param {import('../link/activity.js').ActivityChange} change */
  onActivity(change) {
    if (!this.closed) this.view.activity(change);
  }

  /** @param {string} text  why the stream is down */
  onReconnecting(text) {
    this.show(text, 'busy');
  }

  /** @param {string} text  why the server refuses this page */
  onRefused(text) {
    this.view.end(text, 'error');
  }

  /**
   * @param {import('../link/wire.js').CaptureState} state
   * @param {string | null} [reason]  why the source is offline
   */
  onCaptureState(state, reason = null) {
    const { player } = this.output;
    if (state !== 'running') {
      let text = STATE_TEXT[state];
      if (state === 'offline') {
        text += `${reason ? ` (${reason})` : ''}: waiting for it to come back`;
      }
      this.show(text, 'warn');
      player.expectEnd(true);
      // The worklet posts stats only while audio arrives: fetch them once it has drained.
      setTimeout(() => player.requestStats(), 250);
    } else {
      player.expectEnd(false);
      this.show('waiting for audio…', 'busy');
    }
  }

  /**
   * The figures now; null before the player's first stats.
   * @returns {Figures | null}
   */
  figures() {
    const { player } = this.output;
    const stats = player.figures;
    if (!stats) return null;
    const offsetMs = this.offset.offsetMs;
    const path = /** @type {{ path?: unknown }} */ (player).path;
    return {
      listener: LISTENER_ID,
      latencyMs: stats.playing && offsetMs !== null ? player.latencyMs(offsetMs) : null,
      latencyIsLowerBound: player.latencyIsLowerBound,
      outputMs: player.deviceOutputMs,
      outputSettled: player.deviceSettled,
      bufferMs: (1000 * stats.depthSamples) / SAMPLE_RATE_HZ,
      targetMs: (1000 * stats.targetSamples) / SAMPLE_RATE_HZ,
      driftPpm: stats.driftPpm,
      underruns: this.output.underruns(stats.underruns),
      ...this.output.pauses(stats),
      marginMs: player.marginMs,
      glitches: this.output.glitches(),
      reconnects: this.connection.reconnects,
      path: typeof path === 'string' ? path : null,
      agent: AGENT,
    };
  }

  showFigures() {
    const figures = this.figures();
    if (figures) this.view.figures(figures, this.lostFrames, this.replaying, this.config?.bundleMs ?? 0);
  }

  async close() {
    this.closed = true;
    clearInterval(this.ticker);
    this.connection.close();
    this.decoder.close();
    prestartDecoderWorker(); // for the next Start
    await this.output.close();
  }
}
