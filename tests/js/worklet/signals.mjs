// Signals and helpers shared by the jitter buffer's tests (jitter.test.mjs, ring.test.mjs).
import assert from 'node:assert/strict';

import { JitterBuffer } from '../../../listener_web/worklet/jitter.js';

export const RATE = 48000;
export const BLOCK = 128; // AudioWorklet render quantum
export const FRAME = 960; // 20 ms of Opus at 48 kHz

/** A continuous test signal: sample k of a 440 Hz sine at 48 kHz, amplitude 0.5. */
export function sine(k, hz = 440) {
  return 0.5 * Math.sin((2 * Math.PI * hz * k) / RATE);
}

/** Interleaved frames [start, start + count) of a signal, per channel gain. */
export function chunk(start, count, gains = [1], hz = 440) {
  const ch = gains.length;
  const out = new Float32Array(count * ch);
  for (let i = 0; i < count; i++) {
    for (let c = 0; c < ch; c++) out[i * ch + c] = gains[c] * sine(start + i, hz);
  }
  return out;
}

export function block(channels = 1, n = BLOCK) {
  return Array.from({ length: channels }, () => new Float32Array(n));
}

/** Pull `count` blocks and concatenate channel 0 (and all channels in `all`). */
export function pullMany(buf, count, channels = 1) {
  const all = Array.from({ length: channels }, () => new Float32Array(count * BLOCK));
  const out = block(channels);
  for (let b = 0; b < count; b++) {
    buf.pull(out);
    for (let c = 0; c < channels; c++) all[c].set(out[c], b * BLOCK);
  }
  return all;
}

export function maxAbs(a) {
  let m = 0;
  for (const x of a) m = Math.max(m, Math.abs(x));
  return m;
}

/** Largest jump between consecutive samples: a click detector. */
export function maxStep(a) {
  let m = 0;
  for (let i = 1; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - a[i - 1]));
  return m;
}

// A 440 Hz sine at amplitude 0.5 moves at most 2*pi*440/48000*0.5 = 0.029 per sample.
export const SINE_STEP = 0.03;
export const FADE_STEP = 0.5 / 128 + 1e-6;

export function make(extra = {}) {
  return new JitterBuffer({ channels: 1, targetSamples: 2 * FRAME, ...extra });
}

/** Push frames of the sine from `start` until the buffer can start; returns the next start. */
export function fill(buf, start) {
  while (buf.depthSamples < buf.targetSamples) {
    buf.push(chunk(start, FRAME));
    start += FRAME;
  }
  return start;
}

/** Pull until the buffer has run dry and faded out. */
export function drain(buf) {
  for (let i = 0; i < 10000 && buf.playing; i++) pullMany(buf, 1);
  assert.equal(buf.playing, false);
}

/** The random walk of the fuzz tests: floods and droughts of random pushes. */
export function walkPushes(seed) {
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  return (step) => {
    const p = Math.floor(step / 2000) % 2 === 0 ? 0.14 : 0.03;
    return rand() < p ? 1 + Math.floor(rand() * 3000) : 0;
  };
}
