// @ts-check
/**
 * UI wiring of the listener page: the Start/Stop button, the status, source and figures,
 * the "Tap to listen" hint when the browser blocks sound, and the note on plain http.
 *
 * A Session ties one AudioStream (transport), one OpusDecoder (decoding) and one Player
 * (playback) together; this file holds no protocol, codec or audio logic of its own.
 */
import { OpusDecoder, decoderProblem } from './decoder.js';
import { Player, SAMPLE_RATE_HZ, jitterTarget } from './player.js';
import { setUpControls } from './control.js';
import { AudioStream, peekHttpsPort } from './stream.js';

/**
 * @typedef {import('./wire.js').StreamConfig} StreamConfig
 * @typedef {import('./wire.js').ClockFrame} ClockFrame
 * @typedef {import('./player.js').PlayerStats} PlayerStats
 */

// A shared listening link carries the key (?key=...): the stream needs it too.
const LISTEN_KEY = new URLSearchParams(location.search).get('key');
const STREAM_URL = LISTEN_KEY ? `/audio/stream?key=${encodeURIComponent(LISTEN_KEY)}` : '/audio/stream';
const IDLE_FIGURES = 'buffer – · underruns – · latency –';
// A context still suspended this long after Start was not allowed to play by the browser
// (starting one takes a few ms when it is allowed).
const BLOCKED_AFTER_MS = 500;
const BLOCKED_TEXT = 'sound is blocked by this browser until you tap the page';

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
  unlock: /** @type {HTMLDialogElement} */ (element('unlock')),
  unlockButton: element('unlock-button'),
  secureNote: element('secure-note'),
  secureText: element('secure-text'),
  secureLink: /** @type {HTMLAnchorElement} */ (element('secure-link')),
};

/** What each capture state other than `running` means for the listener. */
const STATE_TEXT = {
  stopped: 'the broadcaster stopped the stream: it plays again here when they restart it',
  offline: 'the source is offline',
  shutdown: 'the broadcaster is shutting down: reconnecting…',
};

/** @typedef {'idle' | 'busy' | 'live' | 'warn' | 'error'} StatusTone */

/**
 * @param {string} text
 * @param {StatusTone} tone
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
    /** @type {{ text: string, tone: string | undefined } | null} status the hint replaced */
    this.statusBeforeBlock = null;
    /** The last capture state the server announced. */
    this.state = /** @type {import('./wire.js').CaptureState | null} */ (null);
    // Created synchronously, inside the click, so that the browser lets it play.
    this.player = new Player((stats) => this.showFigures(stats));
  }

  async start() {
    setStatus('connecting…', 'busy');
    const problem = await decoderProblem(1);
    if (problem) throw new Error(problem);
    const { ctx } = this.player;
    ctx.addEventListener('statechange', () => this.checkAudio());
    // A browser that blocks sound leaves the context suspended (and load() waiting for it).
    const check = setTimeout(() => this.checkAudio(), BLOCKED_AFTER_MS);
    try {
      await this.player.load();
    } finally {
      clearTimeout(check);
    }
    if (this.closed) return;
    this.checkAudio();
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

  /** Show the "Tap to listen" hint while the browser keeps the audio context suspended. */
  checkAudio() {
    if (this.closed) return;
    // 'interrupted': Safari's state while a call or another app holds the audio.
    const state = /** @type {string} */ (this.player.ctx.state);
    if (state === 'suspended' || state === 'interrupted') {
      if (ui.status.textContent !== BLOCKED_TEXT) {
        this.statusBeforeBlock = { text: ui.status.textContent ?? '', tone: ui.status.dataset.tone };
      }
      setStatus(BLOCKED_TEXT, 'warn');
      showUnlock();
    } else {
      hideUnlock();
      // Put back what the stream said meanwhile, unless something newer replaced the hint.
      const before = this.statusBeforeBlock;
      this.statusBeforeBlock = null;
      if (before && ui.status.textContent === BLOCKED_TEXT) {
        setStatus(before.text, /** @type {StatusTone} */ (before.tone));
      }
    }
  }

  /** Resume the audio context: call only inside a tap or click, the one time it may start. */
  unlock() {
    this.player.ctx.resume().catch((err) => {
      if (session === this) stop(`sound is still blocked: ${err.message ?? err}`, 'error');
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
    // A frame captured just before a stop can arrive after the `stopped` state: not live.
    if (!this.live && this.state === 'running') {
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
    this.state = state;
    if (state !== 'running') {
      let text = STATE_TEXT[state];
      if (state === 'offline') {
        text += `${reason ? ` (${reason})` : ''}: waiting for it to come back`;
      }
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
      // EventSource gives up only on an answer other than a stream: a full server, say.
      stop('the broadcaster refused the stream (too many listeners, or a key is needed): ' +
        'press Start listening to try again', 'error');
    } else if (this.state === 'shutdown') {
      setStatus('the broadcaster has shut down: reconnecting…', 'busy');
    } else {
      setStatus('cannot reach the broadcaster: reconnecting…', 'busy');
    }
  }

  /** @param {PlayerStats} stats */
  showFigures(stats) {
    const bufferMs = (1000 * stats.depthSamples) / SAMPLE_RATE_HZ;
    const parts = [`buffer ${bufferMs.toFixed(0)} ms`, `underruns ${stats.underruns}`];
    const latency = stats.playing ? this.latencyMs(bufferMs) : null;
    parts.push(latency === null ? 'latency –' : `latency ≈ ${latency.toFixed(0)} ms`);
    if (this.lostFrames > 0) parts.push(`lost ${this.lostFrames} frames`);
    // No-break spaces inside each figure: a phone's narrow line wraps only between figures.
    ui.figures.textContent = parts.map((part) => part.replaceAll(' ', '\u00a0')).join(' · ');
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
  hideUnlock();
  ui.figures.textContent = IDLE_FIGURES;
  ending?.close().catch((err) => console.warn('broadcaster: closing audio failed:', err));
}

function showUnlock() {
  if (!ui.unlock.open) ui.unlock.showModal();
}

function hideUnlock() {
  if (ui.unlock.open) ui.unlock.close();
}

/**
 * Start a session; call inside a click, where the browser lets its audio start.
 * @returns {void}
 */
function listen() {
  /** @param {unknown} err */
  const failed = (err) => {
    if (err instanceof DOMException && err.name === 'NotAllowedError') {
      // Some browsers refuse to start audio outright instead of leaving it suspended.
      stop(BLOCKED_TEXT, 'warn');
      showUnlock();
    } else {
      stop(err instanceof Error ? err.message : String(err), 'error');
    }
  };
  let current;
  try {
    current = new Session();
  } catch (err) {
    failed(err);
    return;
  }
  session = current;
  setButton(true);
  current.start().catch((err) => {
    if (session === current) failed(err);
  });
}

/**
 * On plain http (not a secure context) the player's WebCodecs and AudioWorklet are missing:
 * say so at once, and link to the https page when the server has one.
 */
async function explainInsecurePage() {
  if (window.isSecureContext) return;
  ui.secureText.textContent =
    "This page can't play here: on plain http from another device, browsers turn off " +
    'WebCodecs and AudioWorklet, which the player needs (a player that works here comes later).';
  ui.secureNote.hidden = false;
  const port = await peekHttpsPort(STREAM_URL);
  if (port === null) return;
  const origin = `https://${location.hostname}:${port}`;
  ui.secureText.textContent =
    "This page can't play on plain http: browsers turn off WebCodecs and AudioWorklet " +
    'there. The https page has them, and plays with the lowest latency:';
  ui.secureLink.href = `${origin}${location.pathname}${location.search}${location.hash}`;
  ui.secureLink.textContent = `${origin}/`;
  ui.secureLink.hidden = false;
}

ui.button.addEventListener('click', () => {
  if (session) {
    stop('stopped', 'idle');
  } else {
    listen();
  }
});

ui.unlockButton.addEventListener('click', () => {
  hideUnlock();
  if (session) {
    session.unlock();
  } else {
    listen();
  }
});

// Escape closes the hint: the listener chose not to listen.
ui.unlock.addEventListener('cancel', () => {
  if (session) stop('stopped', 'idle');
});

setButton(false);
setStatus('stopped', 'idle');
explainInsecurePage().catch((err) => console.warn('broadcaster: https link failed:', err));
setUpControls(element('controls'), (text, ok) => {
  if (!session) setStatus(text, ok ? 'idle' : 'error');
});
