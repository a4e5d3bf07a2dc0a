// @ts-check
/**
 * UI wiring of the listener page: the Start/Stop button, the status, source and figures.
 *
 * A Session ties one AudioStream (transport), one OpusDecoder (decoding) and one Player
 * (playback) together; this file holds no protocol, codec or audio logic of its own.
 */
import { OpusDecoder, decoderProblem } from './decoder.js';
import { Player, SAMPLE_RATE_HZ, jitterTarget } from './player.js';
import { setUpControls } from './control.js';
import { AudioStream } from './stream.js';

/**
 * @typedef {import('./wire.js').StreamConfig} StreamConfig
 * @typedef {import('./wire.js').ClockFrame} ClockFrame
 * @typedef {import('./player.js').PlayerStats} PlayerStats
 */

// A shared listening link carries the key (?key=...): the stream needs it too.
const LISTEN_KEY = new URLSearchParams(location.search).get('key');
const STREAM_URL = LISTEN_KEY ? `/audio/stream?key=${encodeURIComponent(LISTEN_KEY)}` : '/audio/stream';
const IDLE_FIGURES = 'buffer – · underruns – · latency –';

/** @param {string} id */
function element(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`listener page: #${id} is missing`);
  return el;
}

const ui = {
  button: /** @type {HTMLButtonElement} */ (element('listen')),
  status: element('status'),
  source: element('source'),
  figures: element('figures'),
};

/**
 * @param {string} text
 * @param {'idle' | 'busy' | 'live' | 'warn' | 'error'} tone
 */
function setStatus(text, tone) {
  ui.status.textContent = text;
  ui.status.dataset.tone = tone;
}

/** @param {boolean} listening */
function setButton(listening) {
  ui.button.textContent = listening ? 'Stop listening' : 'Start listening';
  ui.button.setAttribute('aria-pressed', String(listening));
}

/** One press of Start until the press of Stop. */
class Session {
  constructor() {
    this.closed = false;
    this.live = false;
    /** @type {StreamConfig | null} */
    this.config = null;
    /** Estimate of server clock − Date.now(), in ms. */
    this.offsetMs = 0;
    /** @type {ClockFrame | null} */
    this.clock = null;
    /** Id of the newest packet whose PCM went to the player. */
    this.newestId = -1;
    this.lostFrames = 0;
    /** @type {OpusDecoder | null} */
    this.decoder = null;
    /** @type {AudioStream | null} */
    this.stream = null;
    // Created synchronously, inside the click, so that the browser lets it play.
    this.player = new Player((stats) => this.showFigures(stats));
  }

  async start() {
    setStatus('connecting…', 'busy');
    const problem = await decoderProblem(1);
    if (problem) throw new Error(problem);
    await this.player.load();
    if (this.closed) return;
    this.stream = new AudioStream(STREAM_URL, {
      onConfig: (config) => this.onConfig(config),
      onPacket: (id, packet) => this.onPacket(id, packet),
      onClock: (clock) => this.onClock(clock),
      onState: ({ state, source, reason }) => {
        ui.source.textContent = source;
        this.onCaptureState(state, reason);
      },
      onGap: (gap) => {
        if (gap.reason === 'restart') {
          // A new server process: what is buffered belongs to the old stream.
          this.player.reset();
          this.clock = null;
        } else {
          this.lostFrames += gap.lost ?? 0;
        }
      },
      onDisconnect: (closed) => this.onDisconnect(closed),
      onBadEvent: (err) => console.warn('broadcaster: ignored a malformed event:', err),
    });
  }

  /** @param {StreamConfig} config */
  onConfig(config) {
    if (config.sampleRateHz !== SAMPLE_RATE_HZ) {
      stop(`unsupported stream: sample_rate_hz ${config.sampleRateHz}, expected 48000`, 'error');
      return;
    }
    const previous = this.config;
    this.config = config;
    // Delivery on a LAN takes well under a millisecond: good enough for a first estimate.
    this.offsetMs = config.serverMs - Date.now();
    this.clock = null;
    ui.source.textContent = config.source;
    if (!previous || previous.channels !== config.channels || previous.frameMs !== config.frameMs) {
      this.decoder?.close();
      this.decoder = new OpusDecoder({
        channels: config.channels,
        frameMs: config.frameMs,
        onPcm: (samples, id) => {
          this.newestId = id;
          this.player.push(samples);
        },
        onError: (err) => {
          this.live = false;
          setStatus(`decoder error: ${err.message}`, 'error');
        },
      });
      this.player.configure(config.channels, jitterTarget(config.frameMs));
    }
    this.onCaptureState(config.state);
  }

  /**
   * @param {number} id
   * @param {Uint8Array} packet
   */
  onPacket(id, packet) {
    if (!this.decoder || this.closed) return;
    this.decoder.decode(packet, id);
    if (!this.live) {
      this.live = true;
      setStatus('live', 'live');
    }
  }

  /** @param {ClockFrame} clock */
  onClock(clock) {
    this.clock = clock;
    // Each sample underestimates the offset by its delivery delay: keep the largest.
    this.offsetMs = Math.max(this.offsetMs, clock.serverMs - Date.now());
  }

  /**
   * @param {import('./wire.js').CaptureState} state
   * @param {string | null} [reason]  why the source is offline
   */
  onCaptureState(state, reason = null) {
    this.live = false;
    if (state !== 'running') {
      const text = {
        stopped: 'capture stopped by broadcaster',
        offline: `source offline${reason ? ` (${reason})` : ''}: waiting for it to come back`,
        shutdown: 'the broadcaster is restarting…',
      }[state];
      setStatus(text, 'warn');
      this.player.expectEnd(true);
      // The worklet posts stats only while audio arrives: fetch them once it has drained.
      setTimeout(() => this.player.requestStats(), 250);
    } else {
      this.player.expectEnd(false);
      setStatus('waiting for audio…', 'busy');
    }
  }

  /** @param {boolean} closed */
  onDisconnect(closed) {
    if (this.closed) return;
    this.live = false;
    if (closed) {
      stop('connection to the broadcaster failed', 'error');
    } else {
      setStatus('reconnecting…', 'busy');
    }
  }

  /** @param {PlayerStats} stats */
  showFigures(stats) {
    const bufferMs = (1000 * stats.depthSamples) / SAMPLE_RATE_HZ;
    const parts = [`buffer ${bufferMs.toFixed(0)} ms`, `underruns ${stats.underruns}`];
    const latency = stats.playing ? this.latencyMs(bufferMs) : null;
    parts.push(latency === null ? 'latency –' : `latency ≈ ${latency.toFixed(0)} ms`);
    if (this.lostFrames > 0) parts.push(`lost ${this.lostFrames} frames`);
    ui.figures.textContent = parts.join(' · ');
  }

  /**
   * Capture-to-ear latency: the sample now leaving the worklet was captured `bufferMs`
   * before the end of the newest decoded packet, and is heard after the output latency.
   * @param {number} bufferMs
   * @returns {number | null}
   */
  latencyMs(bufferMs) {
    const { config, clock } = this;
    if (!config || !clock || this.newestId < 0) return null;
    const newestCaptureMs = clock.captureMs + (this.newestId - clock.id) * config.frameMs;
    const playingCaptureMs = newestCaptureMs + config.frameMs - bufferMs;
    const heardServerMs = Date.now() + this.offsetMs + this.player.outputLatencyMs;
    return heardServerMs - playingCaptureMs;
  }

  async close() {
    this.closed = true;
    this.stream?.close();
    this.decoder?.close();
    await this.player.close();
  }
}

/** @type {Session | null} */
let session = null;

/**
 * End the current session and show why.
 * @param {string} text
 * @param {'idle' | 'warn' | 'error'} tone
 */
function stop(text, tone) {
  const ending = session;
  session = null;
  setButton(false);
  setStatus(text, tone);
  ui.figures.textContent = IDLE_FIGURES;
  ending?.close().catch((err) => console.warn('broadcaster: closing audio failed:', err));
}

ui.button.addEventListener('click', () => {
  if (session) {
    stop('stopped', 'idle');
    return;
  }
  const current = new Session();
  session = current;
  setButton(true);
  current.start().catch((err) => {
    if (session === current) stop(err instanceof Error ? err.message : String(err), 'error');
  });
});

setButton(false);
setStatus('stopped', 'idle');
setUpControls(element('controls'), (text, ok) => {
  if (!session) setStatus(text, ok ? 'idle' : 'error');
});
