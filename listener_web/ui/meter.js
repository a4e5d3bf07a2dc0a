// @ts-check
/**
 * The live level meter: an AnalyserNode on what plays (after the volume), drawn on a small
 * canvas about 15 times a second with requestAnimationFrame. Nothing is allocated per frame.
 */
import { holdPeak, measure, meterFraction } from './level.js';

const FRAME_MS = 1000 / 15;
const WINDOW_SAMPLES = 2048; // ~43 ms at 48 kHz: a bit less than one meter frame

/** The level meter of the current AudioContext. */
export class Meter {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    this.canvas = canvas;
    const ctx2d = canvas.getContext('2d');
    if (!ctx2d) throw new Error('level meter: no 2d canvas');
    this.g = ctx2d;
    /** @type {AnalyserNode | null} */
    this.analyser = null;
    this.samples = new Float32Array(WINDOW_SAMPLES);
    this.level = { peak: 0, rms: 0 };
    this.heldPeak = 0;
    this.lastDrawMs = 0;
    this.rafId = 0;
    this.colours = { rms: '', peak: '', track: '' };
    this.frame = (/** @type {number} */ nowMs) => this.onFrame(nowMs);
    this.clear();
  }

  /**
   * Measure what `source` plays, and start drawing.
   * @param {BaseAudioContext} ctx
   * @param {AudioNode} source
   */
  attach(ctx, source) {
    this.detach();
    this.analyser = ctx.createAnalyser();
    this.analyser.fftSize = WINDOW_SAMPLES;
    source.connect(this.analyser);
    const style = getComputedStyle(this.canvas);
    this.colours = {
      rms: style.getPropertyValue('--live').trim() || 'green',
      peak: style.getPropertyValue('--fg').trim() || 'black',
      track: style.getPropertyValue('--track').trim() || 'rgb(128 128 128 / 20%)',
    };
    this.rafId = requestAnimationFrame(this.frame);
  }

  /** Stop drawing and show an empty meter. */
  detach() {
    cancelAnimationFrame(this.rafId);
    this.rafId = 0;
    this.analyser?.disconnect();
    this.analyser = null;
    this.heldPeak = 0;
    this.clear();
  }

  /** @param {number} nowMs */
  onFrame(nowMs) {
    if (!this.analyser) return;
    this.rafId = requestAnimationFrame(this.frame);
    const elapsedMs = nowMs - this.lastDrawMs;
    if (elapsedMs < FRAME_MS - 2) return;
    this.lastDrawMs = nowMs;
    this.analyser.getFloatTimeDomainData(this.samples);
    measure(this.samples, this.level);
    this.heldPeak = holdPeak(this.heldPeak, meterFraction(this.level.peak),
      Math.min(elapsedMs, 1000) / 1000);
    this.draw(meterFraction(this.level.rms), this.heldPeak);
  }

  /**
   * @param {number} rms  meter fraction
   * @param {number} peak  meter fraction
   */
  draw(rms, peak) {
    const { canvas, g } = this;
    this.canvas.dataset.rms = rms.toFixed(3);
    const width = canvas.width;
    const height = canvas.height;
    g.clearRect(0, 0, width, height);
    g.fillStyle = this.colours.track;
    g.fillRect(0, 0, width, height);
    g.fillStyle = this.colours.rms;
    g.fillRect(0, 0, Math.round(rms * width), height);
    if (peak > 0) {
      g.fillStyle = this.colours.peak;
      g.fillRect(Math.min(width - 2, Math.round(peak * width)), 0, 2, height);
    }
  }

  clear() {
    const { width, height } = this.canvas;
    this.g.clearRect(0, 0, width, height);
    this.canvas.dataset.rms = '0.000';
  }
}
