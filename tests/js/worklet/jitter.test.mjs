// Tests for listener_web/jitter.js: run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { JitterBuffer, cubic } from '../../../listener_web/worklet/jitter.js';

const RATE = 48000;
const BLOCK = 128; // AudioWorklet render quantum
const FRAME = 960; // 20 ms of Opus at 48 kHz

/** A continuous test signal: sample k of a 440 Hz sine at 48 kHz, amplitude 0.5. */
function sine(k, hz = 440) {
  return 0.5 * Math.sin((2 * Math.PI * hz * k) / RATE);
}

/** Interleaved frames [start, start + count) of a signal, per channel gain. */
function chunk(start, count, gains = [1], hz = 440) {
  const ch = gains.length;
  const out = new Float32Array(count * ch);
  for (let i = 0; i < count; i++) {
    for (let c = 0; c < ch; c++) out[i * ch + c] = gains[c] * sine(start + i, hz);
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
const FADE_STEP = 0.5 / 128 + 1e-6;

function make(extra = {}) {
  return new JitterBuffer({ channels: 1, targetSamples: 2 * FRAME, ...extra });
}

/** Push frames of the sine from `start` until the buffer can start; returns the next start. */
function fill(buf, start) {
  while (buf.depthSamples < buf.targetSamples) {
    buf.push(chunk(start, FRAME));
    start += FRAME;
  }
  return start;
}

/** Pull until the buffer has run dry and faded out. */
function drain(buf) {
  for (let i = 0; i < 10000 && buf.playing; i++) pullMany(buf, 1);
  assert.equal(buf.playing, false);
}

/** The random walk of the fuzz tests: floods and droughts of random pushes. */
function walkPushes(seed) {
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  return (step) => {
    const p = Math.floor(step / 2000) % 2 === 0 ? 0.14 : 0.03;
    return rand() < p ? 1 + Math.floor(rand() * 3000) : 0;
  };
}

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

describe('JitterBuffer', () => {
  test('stays silent until the depth reaches the target, then starts at the target', () => {
    const buf = make();
    buf.push(chunk(0, FRAME));
    const [early] = pullMany(buf, 3);
    assert.equal(maxAbs(early), 0);
    assert.equal(buf.playing, false);
    assert.equal(buf.depthSamples, FRAME, 'nothing is consumed while waiting');

    buf.push(chunk(FRAME, 2 * FRAME)); // 3 frames: the oldest is skipped, silently
    const [late] = pullMany(buf, 3);
    assert.equal(buf.playing, true);
    assert.ok(maxAbs(late) > 0.3, 'plays once the target is reached');
    assert.equal(buf.depthSamples, 2 * FRAME - 3 * BLOCK);
    assert.equal(buf.underruns, 0);
    assert.equal(buf.drops, 0, 'starting at the target is no drop');
  });

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
    const seconds = 2;
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
    const steady = played.subarray(RATE / 2); // well after the fade-in
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

  test('an underrun fades out within fadeSamples, stays silent, then refills and fades in', () => {
    const buf = make();
    buf.push(chunk(0, 2 * FRAME));
    const [played] = pullMany(buf, 14); // 1792 of 1920 samples
    assert.equal(buf.underruns, 0);
    assert.ok(maxAbs(played.subarray(BLOCK)) > 0.4);

    const [tail] = pullMany(buf, 3); // 128 left: too few for a block, it runs dry
    assert.equal(buf.underruns, 1);
    assert.ok(maxStep(tail) < SINE_STEP + FADE_STEP, 'no click on the way out');
    const fade = buf.fadeSamples;
    assert.equal(maxAbs(tail.subarray(fade)), 0, 'silent after the fade');
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
    assert.ok(maxStep(back) < SINE_STEP + FADE_STEP);
  });

  test('an expected end plays out and fades without counting an underrun', () => {
    const buf = make();
    buf.push(chunk(0, 2 * FRAME));
    pullMany(buf, 4);
    buf.expectEnd();
    const [tail] = pullMany(buf, 20);
    assert.equal(buf.playing, false);
    assert.equal(buf.underruns, 0);
    assert.ok(maxStep(tail) < SINE_STEP + FADE_STEP);
    // The expectation is used up: the next dry spell counts again.
    fill(buf, 0);
    pullMany(buf, 1);
    drain(buf);
    assert.equal(buf.underruns, 1);
    // And it can be withdrawn.
    fill(buf, 0);
    buf.expectEnd();
    buf.expectEnd(false);
    pullMany(buf, 1);
    drain(buf);
    assert.equal(buf.underruns, 2);
  });

  test('the pause after an expected end is not taken for jitter', () => {
    const buf = make();
    buf.push(chunk(0, 2 * FRAME));
    pullMany(buf, 4);
    buf.push(chunk(0, FRAME));
    const target = buf.targetSamples;
    buf.expectEnd();
    pullMany(buf, 375); // capture stopped for 1 s
    for (let i = 0; i < 5; i++) {
      buf.push(chunk(0, FRAME));
      pullMany(buf, 7);
    }
    assert.ok(buf.playing);
    assert.ok(buf.targetSamples <= target, `${buf.targetSamples} > ${target}`);
    assert.ok(buf.tracker.jitterSamples < 2 * FRAME, `jitter ${buf.tracker.jitterSamples}`);
  });

  test('the burst right after a start is not taken for jitter, a late arrival after it is', () => {
    const buf = make();
    let at = fill(buf, 0);
    pullMany(buf, 1); // playing, at the target
    const target = buf.targetSamples;
    for (let i = 0; i < 3; i++) { // the rest of a connection's first audio, decoded at once
      buf.push(chunk(at, FRAME));
      at += FRAME;
    }
    assert.equal(buf.targetSamples, target);
    // Steady arrivals for a second, then one 60 ms late: that is jitter, and it counts.
    for (let i = 0; i < 50; i++) {
      pullMany(buf, i % 2 ? 8 : 7); // 7.5 blocks a frame
      buf.push(chunk(at, FRAME));
      at += FRAME;
    }
    pullMany(buf, 30 + 7); // 4 frames' time and a little: the next frame comes 60 ms late
    buf.push(chunk(at, FRAME));
    assert.ok(buf.targetSamples > target, `${buf.targetSamples} <= ${target}`);
  });

  for (const skewPpm of [-300, 0, 300]) {
    test(`a depth of the spread is enough for the worst arrival already seen (${skewPpm} ppm)`, () => {
      // 10 ms frames, and every 1.5 s one comes 8 ms late (those behind it wait for it).
      // Without the margins (the target is the spread plus a block) only the first late
      // frame, which nothing had shown yet, may underrun: the margins are for worse.
      const frame = FRAME / 2;
      const buf = make({
        targetSamples: 2 * frame, floorSamples: 1, tracking: { marginSamples: 0, marginFraction: 0 },
      });
      const pcm = new Float32Array(frame);
      const sender = 1 + skewPpm * 1e-6;
      const arrival = (k) => ((k + 1) * frame) / sender + (k % 150 === 149 ? 0.008 * RATE : 0);
      let k = 0;
      let next = arrival(0);
      const underrunsAt = [];
      for (let q = 0; q < (600 * RATE) / BLOCK; q++) {
        while (next <= q * BLOCK) {
          buf.push(pcm);
          k++;
          next = Math.max(next, arrival(k));
        }
        const before = buf.underruns;
        buf.advance(BLOCK);
        if (buf.underruns !== before) underrunsAt.push((q * BLOCK) / RATE);
      }
      assert.ok(underrunsAt.length <= 1 && underrunsAt.every((s) => s < 2), `underruns at ${underrunsAt} s`);
      assert.ok(buf.targetSamples < 0.025 * RATE, `target ${buf.targetSamples}`);
    });
  }

  test('a burst beyond the bound is dropped down to the target with a crossfade', () => {
    // A burst also raises the target (what came before looks late): a low ceiling keeps
    // the target from covering this one.
    const buf = make({ ceilingSamples: 4 * FRAME });
    buf.push(chunk(0, 2 * FRAME));
    const [before] = pullMany(buf, 4);
    // A stalled main thread delivers 400 ms at once.
    buf.push(chunk(2 * FRAME, 20 * FRAME));
    assert.ok(buf.depthSamples > buf.maxSamples);
    const target = buf.targetSamples;
    const [after] = pullMany(buf, 8);
    const out = new Float32Array([before[before.length - 1], ...after]);
    assert.ok(buf.depthSamples <= target, `depth ${buf.depthSamples}`);
    assert.equal(buf.drops, 1);
    assert.ok(buf.droppedSamples > 17 * FRAME);
    assert.equal(buf.underruns, 0);
    assert.ok(maxAbs(out) <= 0.5 + 1e-4);
    // Crossfading two phases of one sine never jumps more than a sample step plus the
    // weight change across the fade.
    assert.ok(maxStep(out) < SINE_STEP + 1 / buf.fadeSamples + 1e-4, `step ${maxStep(out)}`);
  });

  test('depth stays bounded when pushes outpace pulls for a long time', () => {
    const buf = make();
    let pushed = 0;
    for (let round = 0; round < 2000; round++) {
      buf.push(chunk(pushed, FRAME));
      pushed += FRAME;
      pullMany(buf, 6); // 768 of every 960 samples: 25 % too slow, far beyond 0.1 %
      assert.ok(buf.depthSamples <= buf.maxSamples + FRAME, `round ${round}: ${buf.depthSamples}`);
    }
    assert.ok(buf.drops > 0);
    assert.equal(buf.underruns, 0);
    assert.ok(Math.abs(buf.control.ratio - 1) <= 0.001 + 1e-12);
  });

  test('a ring nobody pulls keeps only its newest audio', () => {
    const buf = make({ ceilingSamples: 2 * FRAME, capacitySamples: 8 * FRAME });
    for (let i = 0; i < 20; i++) buf.push(chunk(i * FRAME, FRAME));
    assert.equal(buf.depthSamples, 8 * FRAME - 2);
    assert.equal(buf.droppedSamples, 12 * FRAME + 2);
    buf.push(chunk(0, 30 * FRAME)); // one push larger than the ring
    assert.equal(buf.depthSamples, 8 * FRAME - 2);
  });

  test('readHeadMs() tells when the next sample out was captured', () => {
    const ms = (samples) => (samples * 1000) / RATE;
    const buf = make({ settleSamples: 0 }); // bursts of pushes here, kept whole
    assert.ok(Number.isNaN(buf.readHeadMs()));
    buf.push(chunk(0, FRAME), 1000);
    buf.push(chunk(FRAME, FRAME), 1020);
    assert.equal(buf.readHeadMs(), 1000);
    pullMany(buf, 1);
    assert.equal(buf.readHeadMs(), 1000 + ms(BLOCK));
    pullMany(buf, 7); // 1024 samples: 64 into the second frame
    assert.ok(Math.abs(buf.readHeadMs() - (1020 + ms(64))) < 1e-9);
    buf.push(chunk(2 * FRAME, FRAME)); // no capture time known
    buf.push(chunk(3 * FRAME, FRAME), 1060);
    pullMany(buf, 8); // 2048: 128 into the third
    assert.ok(Number.isNaN(buf.readHeadMs()));
    pullMany(buf, 8); // 3072: 192 into the fourth
    assert.ok(Math.abs(buf.readHeadMs() - (1060 + ms(192))) < 1e-9);
    assert.equal(buf.control.ratio, 1, 'the controller has not started: positions are exact');
    buf.reset();
    assert.ok(Number.isNaN(buf.readHeadMs()));
  });

  test('readHeadMs() follows the read head across a drop', () => {
    const buf = make({ ceilingSamples: 4 * FRAME });
    for (let i = 0; i < 4; i++) buf.push(chunk(i * FRAME, FRAME), 20 * i);
    pullMany(buf, 1);
    for (let i = 4; i < 24; i++) buf.push(chunk(i * FRAME, FRAME), 20 * i);
    pullMany(buf, 2); // the crossfade is over: the read head is at the target again
    const depthMs = (buf.depthSamples * 1000) / RATE;
    assert.ok(Math.abs(buf.readHeadMs() - (24 * 20 - depthMs)) < 0.01, `${buf.readHeadMs()}`);
  });

  test('advance() changes the state exactly as pull() does', () => {
    const pulled = make();
    const advanced = make();
    const next = walkPushes(7);
    const out = block();
    let pushed = 0;
    for (let step = 0; step < 40000; step++) {
      const n = next(step);
      if (n > 0) {
        const data = chunk(pushed, n);
        pulled.push(data, pushed);
        advanced.push(data, pushed);
        pushed += n;
      }
      pulled.pull(out);
      advanced.advance(BLOCK);
    }
    for (const key of ['depthSamples', 'targetSamples', 'underruns', 'drops', 'droppedSamples', 'playing']) {
      assert.equal(advanced[key], pulled[key], key);
    }
    assert.equal(advanced.control.ratio, pulled.control.ratio);
    assert.notEqual(pulled.control.ratio, 1, 'the controller took part');
    assert.equal(advanced.readHeadMs(), pulled.readHeadMs());
    assert.ok(pulled.underruns > 0 && pulled.drops > 0, 'the walk hit both edges');
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

  test('reset forgets the audio and waits for the target again', () => {
    const buf = make();
    buf.push(chunk(0, 3 * FRAME));
    pullMany(buf, 2);
    buf.reset();
    assert.equal(buf.depthSamples, 0);
    assert.equal(buf.playing, false);
    assert.equal(maxAbs(pullMany(buf, 2)[0]), 0);
  });

  test('setLimits() moves the target within new limits', () => {
    const buf = make();
    buf.setLimits({ floorSamples: 4800, ceilingSamples: 9600, targetSamples: 100 });
    assert.equal(buf.targetSamples, 4800);
    assert.equal(buf.maxSamples, 4800 + 3840);
    assert.throws(() => buf.setLimits({ floorSamples: 960, ceilingSamples: 1e7, targetSamples: 960 }), /ceilingSamples/);
  });

  test('rejects bad options and bad pushes', () => {
    assert.throws(() => make({ channels: 0 }), /channels/);
    assert.throws(() => make({ channels: 1.5 }), /channels/);
    assert.throws(() => make({ targetSamples: 0 }), /initialSamples/);
    assert.throws(() => make({ floorSamples: 0 }), /floorSamples/);
    assert.throws(() => make({ ceilingSamples: 10 }), /ceilingSamples/);
    assert.throws(() => make({ capacitySamples: 4 * FRAME }), /capacitySamples/);
    assert.throws(() => make({ fadeSamples: 0 }), /fadeSamples/);
    assert.throws(() => make({ headroomSamples: 10 }), /headroomSamples/);
    const stereo = make({ channels: 2 });
    assert.throws(() => stereo.push(new Float32Array(3)), /multiple of 2/);
  });
});
