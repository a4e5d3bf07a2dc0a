// @ts-check
/**
 * The session's audio output, watched: one Player at a time, replaced by a new one (the
 * stream stays connected) when its AudioContext freezes (audio_watch.js) or its device
 * glitches with the smallest output buffer (output_buffer.js); the underruns and glitches
 * are counted since Start across replacements; and the session hears whether the browser
 * keeps the sound blocked until a tap.
 */
import { AudioWatch } from './audio_watch.js';
import { GlitchWatch, firstOutputBuffer } from './output_buffer.js';
import { Player } from './player.js';

// A context still suspended this long after Start was not allowed to play by the browser
// (starting one takes a few ms when it is allowed).
export const BLOCKED_AFTER_MS = 500;

/** @type {import('./output_buffer.js').OutputBuffer} the smallest where it may be, until the
 * device glitches with it: then 'interactive' for as long as the page is open */
let outputBuffer = firstOutputBuffer({
  worklet: typeof AudioWorkletNode === 'function',
  countsGlitches: typeof AudioContext === 'function' && 'playbackStats' in AudioContext.prototype,
});

/**
 * @typedef {object} OutputEvents  what the session does about its output
 * @property {(player: Player) => void} attach  a new player: route its output, measure it
 * @property {() => void} stats  the player posted new figures
 * @property {(blocked: boolean) => void} blocked  whether the browser keeps sound blocked
 * @property {(text: string) => void} restarting  the output is being replaced, and why
 * @property {(player: Player) => void} restarted  the new player has loaded: configure it
 * @property {(text: string) => void} failed  the output cannot go on, and why
 */

/** One Player at a time, and the looks that decide when to replace it. */
export class OutputWatch {
  /**
   * Create it inside the click on Start, where the browser lets its audio start.
   * @param {OutputEvents} events
   */
  constructor(events) {
    this.events = events;
    this.closed = false;
    this.replacing = false;
    /** Glitches of the players this one replaced. */
    this.glitchesBefore = 0;
    /** Underruns of the players this one replaced: the figure counts since Start. */
    this.underrunsBefore = 0;
    /** The engine's pauses in the players this one replaced (worklet/pause_watch.js). */
    this.pausesBefore = { pauses: 0, longestPauseMs: 0, pauseUnderruns: 0 };
    /** Whether the player's audio context froze. */
    this.audioWatch = new AudioWatch();
    /** Whether its device glitches too often for its output buffer. */
    this.glitchWatch = new GlitchWatch();
    this.player = this.newPlayer();
  }

  /** @returns {Player} a player with the page's current output buffer, watched afresh */
  newPlayer() {
    const player = new Player(() => this.events.stats(), outputBuffer);
    this.audioWatch = new AudioWatch();
    this.glitchWatch = new GlitchWatch();
    this.events.attach(player);
    player.ctx.addEventListener('statechange', () => this.checkBlocked());
    return player;
  }

  /** Once a second: look at the context and the device (not while replacing them). */
  tick() {
    if (this.replacing) return;
    this.player.sampleDevice();
    this.watchAudio();
    if (!this.replacing) this.watchGlitches();
  }

  /** Resume an audio context that stopped, and replace one that stays stopped or frozen. */
  watchAudio() {
    const { ctx } = this.player;
    const verdict = this.audioWatch.check(ctx.state, ctx.currentTime, performance.now());
    if (verdict === 'resume') {
      ctx.resume().catch(() => {}); // still stopped at the next look: replaced then
    } else if (verdict === 'recreate') {
      this.restart('the audio output froze: restarting it…');
    }
  }

  /** Move to a bigger output buffer when the device glitches with the smallest. */
  watchGlitches() {
    if (this.player.outputBuffer !== 'smallest') return;
    if (!this.glitchWatch.check(this.player.glitches, performance.now())) return;
    outputBuffer = 'interactive';
    console.warn('broadcaster: the audio device glitches with the smallest output buffer: ' +
      'moving to a larger one');
    this.restart('the audio output glitched: restarting it with a larger buffer…');
  }

  /** @param {string} text  the status while it restarts */
  restart(text) {
    this.replace(text).catch((err) => this.events.failed(`the audio output failed: ${err.message ?? err}`));
  }

  /**
   * Close the AudioContext and play on in a new one (with the page's current output buffer
   * size).
   * @param {string} text  the status meanwhile
   */
  async replace(text) {
    this.replacing = true;
    const old = this.player;
    this.events.restarting(text);
    this.glitchesBefore += old.glitches ?? 0;
    this.underrunsBefore += old.figures?.underruns ?? 0;
    if (old.figures) this.pausesBefore = this.pauses(old.figures);
    this.player = this.newPlayer();
    old.close().catch((err) => console.warn('broadcaster: closing audio failed:', err));
    const check = setTimeout(() => this.checkBlocked(), BLOCKED_AFTER_MS);
    try {
      await this.player.load(old.decoderKind);
    } finally {
      clearTimeout(check);
      this.replacing = false;
    }
    if (this.closed) return;
    this.events.restarted(this.player);
    this.checkBlocked();
  }

  /** Say whether the browser keeps the audio context suspended (until a tap). */
  checkBlocked() {
    if (this.closed) return;
    // 'interrupted': Safari's state while a call or another app holds the audio.
    const state = /** @type {string} */ (this.player.ctx.state);
    this.events.blocked(state === 'suspended' || state === 'interrupted');
  }

  /** Resume the audio context: call only inside a tap or click, the one time it may start. */
  unlock() {
    this.player.ctx.resume().catch((err) => this.events.failed(`sound is still blocked: ${err.message ?? err}`));
  }

  /** @returns {number | null}  the output device's glitches since Start (output_buffer.js) */
  glitches() {
    const now = this.player.glitches;
    return now === null && this.glitchesBefore === 0 ? null : this.glitchesBefore + (now ?? 0);
  }

  /**
   * @param {number} underruns  the current player's
   * @returns {number}  the buffer's underruns since Start
   */
  underruns(underruns) {
    return this.underrunsBefore + underruns;
  }

  /**
   * @param {import('./player.js').PlayerStats} stats  the current player's
   * @returns {{pauses: number, longestPauseMs: number, pauseUnderruns: number}}  the
   *   engine's pauses since Start, and the underruns they caused
   */
  pauses(stats) {
    const before = this.pausesBefore;
    return {
      pauses: before.pauses + (stats.pauses ?? 0),
      longestPauseMs: Math.max(before.longestPauseMs, stats.longestPauseMs ?? 0),
      pauseUnderruns: before.pauseUnderruns + (stats.pauseUnderruns ?? 0),
    };
  }

  /** Stop playing and release the audio device. */
  async close() {
    this.closed = true;
    await this.player.close();
  }
}
