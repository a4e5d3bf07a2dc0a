// Tests for listener_web/jitter.js: run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { JitterBuffer } from '../../listener_web/jitter.js';

const BLOCK = 128; // AudioWorklet render quantum
const FRAME = 960; // 20 ms of Opus at 48 kHz

/** A continuous test signal: sample k of a 440 Hz sine at 48 kHz, amplitude 0.5. */
function sine(k) {
  return 0.5 * Math.sin((2 * Math.PI * 440 * k) / 48000);
}

/** Interleaved frames [start, start + count) of a signal, per channel gain. */
function chunk(start, count, gains = [1]) {
  const ch = gains.length;
  const out = new Float32Array(count * ch);
  for (let i = 0; i < count; i++) {
    for (let c = 0; c < ch; c++) out[i * ch + c] = gains[c] * sine(start + i);
  }
  return out;
}

function block(channels = 1, n = BLOCK) {
  return Array.from({ length: channels }, () => new Float32Array(n));
}

/** Pull `count` blocks and concatenate channel 0 (and all channels in `all`). */
function pullMany(buf, count, channels = 1) {
  const all = Array.from({ length: channels }, () => new Float32Array(count * BLOCK));
  const out = block(channels);
  for (let b = 0; b < count; b++) {
    buf.pull(out);
    for (let c = 0; c < channels; c++) all[c].set(out[c], b * BLOCK);
  }
  return all;
}

function maxAbs(a) {
  let m = 0;
  for (const x of a) m = Math.max(m, Math.abs(x));
  return m;
}

/** Largest jump between consecutive samples: a click detector. */
function maxStep(a) {
  let m = 0;
  for (let i = 1; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - a[i - 1]));
  return m;
}

// A 440 Hz sine at amplitude 0.5 moves at most 2*pi*440/48000*0.5 = 0.029 per sample.
const SINE_STEP = 0.03;

function make(extra = {}) {
  return new JitterBuffer({ channels: 1, targetSamples: 2 * FRAME, maxSamples: 6 * FRAME, ...extra });
}

describe('JitterBuffer', () => {
  test('stays silent until the depth reaches the target', () => {
    const buf = make();
    buf.push(chunk(0, FRAME));
    const [early] = pullMany(buf, 3);
    assert.equal(maxAbs(early), 0);
    assert.equal(buf.playing, false);
    assert.equal(buf.depthSamples, FRAME, 'nothing is consumed while waiting');

    buf.push(chunk(FRAME, FRAME));
    const [late] = pullMany(buf, 3);
    assert.equal(buf.playing, true);
    assert.ok(maxAbs(late) > 0.3, 'plays once the target is reached');
    assert.equal(buf.depthSamples, 2 * FRAME - 3 * BLOCK);
    assert.equal(buf.underruns, 0);
  });

  test('fades in from silence instead of starting with a step', () => {
    const buf = make();
    buf.push(chunk(12000, 2 * FRAME)); // starts at the sine's peak
    const [out] = pullMany(buf, 4);
    assert.ok(Math.abs(out[0]) < 0.01, `first sample ${out[0]}`);
    assert.ok(maxStep(out) < SINE_STEP + 0.5 / 128 + 1e-6);
  });

  test('in steady state the output is the input, delayed, sample for sample', () => {
    const buf = make();
    let pushed = 0;
    let pulled = 0;
    let start = -1;
    const out = block();
    const fade = buf.fadeSamples;
    // 10 s of real-time-like interleaving: a 960-sample frame per 7.5 blocks of 128.
    for (let t = 0; t < 48000 * 10; t += BLOCK) {
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
    assert.ok(start >= 0 && start < 2 * FRAME, `started at ${start}`);
    assert.equal(buf.underruns, 0);
    assert.equal(buf.droppedSamples, 0);
    assert.ok(buf.depthSamples <= 3 * FRAME);
  });

  test('an underrun fades out within fadeSamples, stays silent, then recovers', () => {
    const buf = make();
    buf.push(chunk(0, 2 * FRAME));
    const [played] = pullMany(buf, 14); // 1792 of 1920 samples
    assert.equal(buf.underruns, 0);
    assert.ok(maxAbs(played.subarray(BLOCK)) > 0.4);

    const [tail] = pullMany(buf, 3); // 128 left: one full block, then it runs dry
    assert.equal(buf.underruns, 1);
    assert.ok(maxAbs(tail.subarray(0, BLOCK)) > 0.4, 'the last full block plays as is');
    assert.ok(maxStep(tail) < SINE_STEP + 0.5 / 128 + 1e-6, 'no click on the way out');
    const fade = buf.fadeSamples;
    assert.equal(maxAbs(tail.subarray(BLOCK + fade)), 0, 'silent after the fade');
    assert.equal(buf.playing, false);

    const [idle] = pullMany(buf, 10);
    assert.equal(maxAbs(idle), 0);
    assert.equal(buf.underruns, 1, 'one underrun, not one per silent block');

    buf.push(chunk(2 * FRAME, FRAME));
    assert.equal(maxAbs(pullMany(buf, 4)[0]), 0, 'waits for the full target again');
    buf.push(chunk(3 * FRAME, FRAME));
    const [back] = pullMany(buf, 8);
    assert.equal(buf.playing, true);
    assert.ok(Math.abs(back[0]) < 0.01, 'fades back in');
    assert.ok(maxAbs(back.subarray(BLOCK)) > 0.4);
    assert.ok(maxStep(back) < SINE_STEP + 0.5 / 128 + 1e-6);
  });

  test('an expected end plays out and fades without counting an underrun', () => {
    const buf = make();
    buf.push(chunk(0, 2 * FRAME));
    pullMany(buf, 4);
    buf.expectEnd();
    const [tail] = pullMany(buf, 20);
    assert.equal(buf.playing, false);
    assert.equal(buf.underruns, 0);
    assert.ok(maxStep(tail) < SINE_STEP + 0.5 / 128 + 1e-6);
    // The expectation is used up: the next dry spell counts again.
    buf.push(chunk(0, 2 * FRAME));
    pullMany(buf, 20);
    assert.equal(buf.underruns, 1);
    // And it can be withdrawn.
    buf.push(chunk(0, 2 * FRAME));
    buf.expectEnd();
    buf.expectEnd(false);
    pullMany(buf, 20);
    assert.equal(buf.underruns, 2);
  });

  test('a burst beyond maxSamples is dropped down to the target with a crossfade', () => {
    const buf = make();
    buf.push(chunk(0, 2 * FRAME));
    const [before] = pullMany(buf, 4);
    // A stalled connection delivers 400 ms at once.
    buf.push(chunk(2 * FRAME, 20 * FRAME));
    assert.ok(buf.depthSamples > buf.maxSamples);
    const [after] = pullMany(buf, 8);
    const out = new Float32Array([before[before.length - 1], ...after]);
    assert.ok(buf.depthSamples <= buf.targetSamples, `depth ${buf.depthSamples}`);
    assert.ok(buf.droppedSamples > 0);
    assert.equal(buf.underruns, 0);
    assert.ok(maxAbs(out) <= 0.5 + 1e-6);
    // Crossfading two phases of one sine never jumps more than a sample step plus the
    // weight change across the fade.
    assert.ok(maxStep(out) < SINE_STEP + 1 / buf.fadeSamples + 1e-6, `step ${maxStep(out)}`);
  });

  test('depth stays bounded when pushes outpace pulls for a long time', () => {
    const buf = make();
    let pushed = 0;
    for (let round = 0; round < 2000; round++) {
      buf.push(chunk(pushed, FRAME));
      pushed += FRAME;
      pullMany(buf, 6); // 768 of every 960 samples: 25 % too slow
      assert.ok(buf.depthSamples <= buf.maxSamples + FRAME, `round ${round}: ${buf.depthSamples}`);
    }
    assert.ok(buf.droppedSamples > 0);
    assert.equal(buf.underruns, 0);
  });

  test('a ring nobody pulls keeps only the newest capacity', () => {
    const buf = make({ capacitySamples: 8 * FRAME });
    for (let i = 0; i < 20; i++) buf.push(chunk(i * FRAME, FRAME));
    assert.equal(buf.depthSamples, 8 * FRAME);
    assert.equal(buf.droppedSamples, 12 * FRAME);
    buf.push(chunk(0, 30 * FRAME)); // one push larger than the ring
    assert.equal(buf.depthSamples, 8 * FRAME);
  });

  test('random pushes and pulls never produce NaN or exceed the input range', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const buf = make({ channels: 2, fadeSamples: 64 });
    const out = block(2);
    let pushed = 0;
    for (let step = 0; step < 20000; step++) {
      if (rand() < 0.14) {
        const n = 1 + Math.floor(rand() * 3000);
        buf.push(chunk(pushed, n, [1, -1]));
        pushed += n;
      }
      buf.pull(out);
      for (const channel of out) {
        for (const x of channel) {
          assert.ok(Number.isFinite(x) && Math.abs(x) <= 0.5 + 1e-6, `bad sample ${x}`);
        }
      }
      assert.ok(buf.depthSamples >= 0 && buf.depthSamples <= buf.capacitySamples);
    }
    assert.ok(buf.underruns > 0 && buf.droppedSamples > 0, 'the walk hit both edges');
  });

  test('stereo input is de-interleaved onto two outputs', () => {
    const buf = new JitterBuffer({ channels: 2, targetSamples: 256, maxSamples: 1024 });
    const data = new Float32Array(512 * 2);
    for (let i = 0; i < 512; i++) {
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
    const buf = new JitterBuffer({ channels: 1, targetSamples: 256, maxSamples: 1024 });
    buf.push(new Float32Array(512).fill(0.25));
    const [left, right] = pullMany(buf, 3, 2);
    assert.deepEqual(left, right);
    assert.equal(left[left.length - 1], 0.25);
  });

  test('reset forgets the audio and waits for the target again', () => {
    const buf = make();
    buf.push(chunk(0, 3 * FRAME));
    pullMany(buf, 2);
    buf.reset();
    assert.equal(buf.depthSamples, 0);
    assert.equal(buf.playing, false);
    assert.equal(maxAbs(pullMany(buf, 2)[0]), 0);
  });

  test('rejects bad options and bad pushes', () => {
    assert.throws(() => make({ channels: 0 }), /channels/);
    assert.throws(() => make({ channels: 1.5 }), /channels/);
    assert.throws(() => make({ targetSamples: 0 }), /targetSamples/);
    assert.throws(() => make({ maxSamples: 2 * FRAME }), /maxSamples/);
    assert.throws(() => make({ capacitySamples: 4 * FRAME }), /maxSamples/);
    assert.throws(() => make({ fadeSamples: 0 }), /fadeSamples/);
    const stereo = make({ channels: 2 });
    assert.throws(() => stereo.push(new Float32Array(3)), /multiple of 2/);
  });
});
