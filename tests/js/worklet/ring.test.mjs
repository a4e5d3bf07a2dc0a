// Tests for what the jitter buffer plays (listener_web/worklet/ring.js: interpolation,
// resampling, fades, channels), through the JitterBuffer that drives it: run with
// `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { JitterBuffer } from '../../../listener_web/worklet/jitter.js';
import { IDLE, SampleRing, cubic } from '../../../listener_web/worklet/ring.js';
import {
  BLOCK,
  FADE_STEP,
  FRAME,
  RATE,
  SINE_STEP,
  block,
  chunk,
  make,
  maxStep,
  pullMany,
  sine,
  walkPushes,
} from './signals.mjs';

/**
 * Amplitude of the best-fitting sine of `hz` and the RMS of what is left (least squares
 * on sin, cos and a constant).
 */
function fitSine(x, hz) {
  const w = (2 * Math.PI * hz) / RATE;
  const m = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  const v = [0, 0, 0];
  for (let i = 0; i < x.length; i++) {
    const b = [Math.sin(w * i), Math.cos(w * i), 1];
    for (let r = 0; r < 3; r++) {
      v[r] += b[r] * x[i];
      for (let c = 0; c < 3; c++) m[r][c] += b[r] * b[c];
    }
  }
  // Gaussian elimination, 3 x 3.
  for (let p = 0; p < 3; p++) {
    for (let r = p + 1; r < 3; r++) {
      const f = m[r][p] / m[p][p];
      for (let c = p; c < 3; c++) m[r][c] -= f * m[p][c];
      v[r] -= f * v[p];
    }
  }
  const k = [0, 0, 0];
  for (let r = 2; r >= 0; r--) {
    let s = v[r];
    for (let c = r + 1; c < 3; c++) s -= m[r][c] * k[c];
    k[r] = s / m[r][r];
  }
  let err = 0;
  for (let i = 0; i < x.length; i++) {
    const e = x[i] - (k[0] * Math.sin(w * i) + k[1] * Math.cos(w * i) + k[2]);
    err += e * e;
  }
  return { amplitude: Math.hypot(k[0], k[1]), residualRms: Math.sqrt(err / x.length) };
}

describe('what the JitterBuffer plays', () => {
  test('fades in from silence instead of starting with a step', () => {
    const buf = make();
    buf.push(chunk(12000, 2 * FRAME)); // starts at the sine's peak
    const [out] = pullMany(buf, 4);
    assert.ok(Math.abs(out[0]) < 0.01, `first sample ${out[0]}`);
    assert.ok(maxStep(out) < SINE_STEP + FADE_STEP);
  });

  test('at ratio 1 the output is the input, delayed, sample for sample', () => {
    const buf = make();
    let pushed = 0;
    let pulled = 0;
    let start = -1;
    const out = block();
    const fade = buf.fadeSamples;
    // 0.2 s: the controller has not changed the ratio yet.
    for (let t = 0; t < RATE * 0.2; t += BLOCK) {
      while (pushed <= t) {
        buf.push(chunk(pushed, FRAME));
        pushed += FRAME;
      }
      const wasPlaying = buf.playing;
      buf.pull(out);
      if (!wasPlaying && buf.playing) start = pulled;
      for (let i = 0; i < BLOCK; i++, pulled++) {
        if (start < 0) {
          assert.equal(out[0][i], 0);
          continue;
        }
        const k = pulled - start; // output sample k is input sample k, after the fade-in
        if (k >= fade) {
          assert.ok(Math.abs(out[0][i] - sine(k)) < 1e-6, `sample ${k}: ${out[0][i]}`);
        }
      }
    }
    assert.equal(buf.control.ratio, 1);
    assert.ok(start >= 0 && start < 2 * FRAME, `started at ${start}`);
    assert.equal(buf.underruns, 0);
    assert.equal(buf.droppedSamples, 0);
  });

  test('resampling a 1 kHz sine at ratio 1.0005 yields a clean sine', () => {
    // The controller is frozen (its window never ends) with a drift estimate of +500 ppm.
    const buf = make({ drift: { windowSamples: 1e12 } });
    buf.control.integral = 500e-6;
    let pushed = 0;
    const seconds = 3;
    const played = new Float32Array(seconds * RATE);
    const out = block();
    for (let t = 0; t < played.length; t += BLOCK) {
      while (pushed <= t * 1.0005 + 2 * FRAME) {
        buf.push(chunk(pushed, FRAME, [1], 1000));
        pushed += FRAME;
      }
      buf.pull(out);
      played.set(out[0], t);
    }
    assert.equal(buf.control.ratio, 1.0005);
    assert.equal(buf.underruns, 0);
    // Well after the fade-in, and after the start's extra frame is trimmed (at 1.5 s).
    const steady = played.subarray(2 * RATE);
    const { amplitude, residualRms } = fitSine(steady, 1000 * 1.0005);
    assert.ok(Math.abs(amplitude - 0.5) < 1e-4, `amplitude ${amplitude}`);
    const snrDb = 20 * Math.log10(amplitude / Math.SQRT2 / residualRms);
    assert.ok(snrDb > 80, `SNR ${snrDb.toFixed(1)} dB`);
  });

  test('cubic() is exact at whole positions and close to a sine in between', () => {
    const cap = 4800;
    const ring = new Float32Array(cap);
    for (let i = 0; i < cap; i++) ring[i] = sine(i, 1000);
    let worst = 0;
    for (let p = 10; p < cap - 10; p += 0.37) {
      worst = Math.max(worst, Math.abs(cubic(ring, cap, 1, 0, p) - sine(p, 1000)));
    }
    assert.ok(worst < 1e-4, `worst error ${worst}`);
    assert.equal(cubic(ring, cap, 1, 0, 100), ring[100]);
    // Wrapping around the end of the ring.
    assert.equal(cubic(ring, cap, 1, 0, cap + 5), ring[5]);
  });

  test('random pushes and pulls never produce NaN or exceed the input range', () => {
    const next = walkPushes(12345);
    const buf = make({ channels: 2, fadeSamples: 64 });
    const out = block(2);
    let pushed = 0;
    for (let step = 0; step < 20000; step++) {
      const n = next(step);
      if (n > 0) {
        buf.push(chunk(pushed, n, [1, -1]));
        pushed += n;
      }
      buf.pull(out);
      for (const channel of out) {
        for (const x of channel) {
          assert.ok(Number.isFinite(x) && Math.abs(x) <= 0.5 + 1e-3, `bad sample ${x}`);
        }
      }
      assert.ok(buf.depthSamples >= 0 && buf.depthSamples <= buf.capacitySamples);
    }
    assert.ok(buf.underruns > 0 && buf.drops > 0, 'the walk hit both edges');
  });

  test('stereo input is de-interleaved onto two outputs', () => {
    const buf = new JitterBuffer({ channels: 2, targetSamples: 960 });
    const data = new Float32Array(1200 * 2);
    for (let i = 0; i < 1200; i++) {
      data[2 * i] = 0.5;
      data[2 * i + 1] = -0.25;
    }
    buf.push(data);
    const [left, right] = pullMany(buf, 3, 2);
    const fade = buf.fadeSamples;
    assert.ok(left.subarray(fade).every((x) => x === 0.5));
    assert.ok(right.subarray(fade).every((x) => x === -0.25));
  });

  test('a mono buffer feeds every output channel', () => {
    const buf = new JitterBuffer({ channels: 1, targetSamples: 960 });
    buf.push(new Float32Array(1200).fill(0.25));
    const [left, right] = pullMany(buf, 3, 2);
    assert.deepEqual(left, right);
    assert.equal(left[left.length - 1], 0.25);
  });
});

describe('SampleRing', () => {
  test('writes across the end of the ring; a write larger than the ring keeps its end', () => {
    const ring = new SampleRing(4, 2, 1);
    ring.write(new Float32Array([1, -1, 2, -2, 3, -3]), 3); // positions 3, 4, 5: slots 3, 0, 1
    assert.deepEqual(Array.from(ring.data), [2, -2, 3, -3, 0, 0, 1, -1]);
    ring.write(new Float32Array([5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10]), 10);
    assert.deepEqual(Array.from(ring.data), [7, 7, 8, 8, 9, 9, 10, 10]);
  });

  test('an idle block is silence on every output channel', () => {
    const ring = new SampleRing(16, 1, 4);
    ring.write(new Float32Array(16).fill(0.5), 0);
    const out = [new Float32Array(8).fill(1), new Float32Array(8).fill(1)];
    ring.render(out, 8, { mode: IDLE, base: 4, ratio: 1, reads: 8, gainSteps: 4, xfadeLeft: 0, xfadeOffset: 0 });
    assert.ok(out.every((channel) => channel.every((x) => x === 0)));
  });
});
