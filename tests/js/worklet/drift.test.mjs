// Tests for listener_web/worklet/drift.js (target adaptation and the drift controller): run with
// `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { DriftController, TargetTracker } from '../../../listener_web/worklet/drift.js';

const RATE = 48000;
const FRAME = 960; // 20 ms
const BLOCK = 128;

function tracker(extra = {}) {
  return new TargetTracker({ floorSamples: 960, ceilingSamples: 24000, initialSamples: 2400, ...extra });
}

/**
 * A sender of 20 ms frames whose frame k is due `delay(k)` output samples late (TCP: never
 * before the previous one), feeding a tracker that ticks in blocks of 128.
 */
function sender(t, { skewPpm = 0 } = {}) {
  const rate = 1 + skewPpm * 1e-6;
  let k = 0;
  let arrival = -Infinity;
  let now = 0;
  let delay = (/** @type {number} */ _k) => 0;
  return {
    /** Run `seconds` with frame delays `d` (default: none). */
    run(seconds, d = (/** @type {number} */ _k) => 0) {
      delay = d;
      const end = now + seconds * RATE;
      for (; now < end; now += BLOCK) {
        for (;;) {
          arrival = Math.max(arrival, ((k + 1) * FRAME) / rate + delay(k));
          if (arrival > now) break;
          t.arrive(now - k * FRAME, now - (k + 1) * FRAME);
          k++;
        }
        t.tick(BLOCK);
      }
    },
    get frame() {
      return k;
    },
  };
}

describe('TargetTracker', () => {
  test('with regular arrivals the target settles on one frame plus margins', () => {
    const t = tracker();
    sender(t).run(60);
    // spread = a frame + up to a block of quantisation; target = 1.1 spread + block + 2 ms
    assert.ok(t.jitterSamples >= FRAME && t.jitterSamples <= FRAME + BLOCK, `${t.jitterSamples}`);
    const want = t.jitterSamples * 1.1 + BLOCK + 96;
    assert.ok(Math.abs(t.targetSamples - want) < 1, `${t.targetSamples} vs ${want}`);
  });

  test('rises at once on a late clump, holds for the memory, then falls slowly', () => {
    const t = tracker();
    const s = sender(t);
    s.run(60);
    const before = t.targetSamples;
    // A 200 ms clump: ten frames arrive together, 200 ms after the first was due.
    const first = s.frame;
    s.run(1, (k) => (k >= first && k < first + 10 ? (first + 10 - k) * FRAME : 0));
    const risen = t.targetSamples;
    assert.ok(risen >= before + 0.2 * RATE, `rose from ${before} to ${risen}`);
    s.run(280);
    assert.equal(t.targetSamples, risen, 'held while the clump is in memory');
    s.run(30);
    const fell = risen - t.targetSamples;
    assert.ok(fell > 0 && fell <= 0.0005 * 30 * RATE + 1, `fell ${fell} in 30 s`);
    s.run(600);
    assert.ok(Math.abs(t.targetSamples - before) < 2, `back to ${t.targetSamples} from ${before}`);
  });

  test('stays within the floor and the ceiling', () => {
    const low = tracker({ floorSamples: 4800, initialSamples: 100 });
    assert.equal(low.targetSamples, 4800);
    sender(low).run(10);
    assert.equal(low.targetSamples, 4800);
    const high = tracker();
    sender(high).run(10, (k) => (k === 300 ? 3 * RATE : 0)); // a 3 s stall
    assert.equal(high.targetSamples, 24000);
    assert.ok(high.jitterSamples > 3 * RATE);
  });

  test('clock drift of ±300 ppm is not taken for jitter', () => {
    for (const skewPpm of [-300, 300]) {
      const t = tracker();
      sender(t, { skewPpm }).run(600);
      // 300 ppm over the 5 s of a pair of bins is 72 samples.
      assert.ok(t.jitterSamples < FRAME + BLOCK + 80, `${skewPpm} ppm: jitter ${t.jitterSamples}`);
    }
  });

  test('forget() drops what was measured and keeps the target', () => {
    const t = tracker();
    sender(t).run(10, (k) => (k === 100 ? 0.3 * RATE : 0));
    const target = t.targetSamples;
    t.forget();
    assert.equal(t.jitterSamples, 0);
    assert.equal(t.targetSamples, target);
    t.tick(BLOCK);
    assert.equal(t.targetSamples, target, 'nothing measured: nothing to fall towards');
  });

  test('rejects bad limits', () => {
    assert.throws(() => tracker({ floorSamples: 0 }), /floorSamples/);
    assert.throws(() => tracker({ ceilingSamples: 500 }), /ceilingSamples/);
    assert.throws(() => tracker({ initialSamples: NaN }), /initialSamples/);
    assert.throws(() => tracker({ fallPerSample: -1 }), /fallPerSample/);
  });
});

/**
 * Closed loop with an ideal buffer: the sender adds (1 + skew) samples per output sample,
 * the reader removes `ratio`; the depth peaks right after each 20 ms frame.
 */
function loop(ctl, { seconds, skewPpm = 0, target = () => 2400, depth = 2400 }) {
  const sender = 1 + skewPpm * 1e-6;
  let time = 0;
  let nextFrame = FRAME / sender;
  let minRatio = Infinity;
  let maxRatio = -Infinity;
  let minPeak = Infinity;
  for (let b = 0; b < (seconds * RATE) / BLOCK; b++) {
    let arrived = false;
    while (nextFrame <= time) {
      depth += FRAME;
      nextFrame += FRAME / sender;
      arrived = true;
    }
    ctl.observe(depth, BLOCK, arrived, target(time));
    depth -= BLOCK * ctl.ratio;
    time += BLOCK;
    minRatio = Math.min(minRatio, ctl.ratio);
    maxRatio = Math.max(maxRatio, ctl.ratio);
    if (ctl.smoothedSamples < minPeak) minPeak = ctl.smoothedSamples;
  }
  return { depth, minRatio, maxRatio, minPeak };
}

describe('DriftController', () => {
  for (const skewPpm of [-300, 0, 300]) {
    test(`its integral converges to a sender skew of ${skewPpm} ppm`, () => {
      const ctl = new DriftController();
      loop(ctl, { seconds: 600, skewPpm });
      assert.ok(Math.abs(ctl.driftPpm - skewPpm) < 1, `estimate ${ctl.driftPpm}`);
      // Arrivals and blocks beat: the measured peak wobbles by up to a third of a block.
      assert.ok(Math.abs(ctl.ratio - 1 - skewPpm * 1e-6) < 100e-6, `ratio ${ctl.ratio}`);
      assert.ok(Math.abs(ctl.smoothedSamples - 2400) < 50, `peak depth ${ctl.smoothedSamples}`);
    });
  }

  test('never resamples by more than ±0.1 %, and does not wind up', () => {
    const ctl = new DriftController();
    // 100 ms too deep: the controller saturates, then settles without a big undershoot.
    const { minRatio, maxRatio, minPeak } = loop(ctl, { seconds: 900, depth: 2400 + 4800 });
    assert.ok(maxRatio <= 1.001 && minRatio >= 0.999, `${minRatio}..${maxRatio}`);
    assert.equal(maxRatio, 1.001, 'it used its full range');
    assert.ok(minPeak > 2400 - 240, `undershoot to ${minPeak}`);
    assert.ok(Math.abs(ctl.driftPpm) < 2, `integral ${ctl.driftPpm}`);
    assert.ok(Math.abs(ctl.smoothedSamples - 2400) < 50);
    const far = new DriftController();
    loop(far, { seconds: 60, skewPpm: 5000 }); // a sender far beyond the range
    assert.ok(Math.abs(far.driftPpm) <= 1000 && Math.abs(far.ratio - 1) <= 0.001 + 1e-12);
  });

  test('follows a new target along its slew without disturbing the drift estimate', () => {
    const ctl = new DriftController();
    loop(ctl, { seconds: 300, skewPpm: 200 });
    // The target jumps up by 100 ms; the setpoint follows at 0.5 ms a second.
    loop(ctl, { seconds: 400, skewPpm: 200, target: () => 2400 + 4800, depth: ctl.smoothedSamples });
    assert.ok(Math.abs(ctl.smoothedSamples - 7200) < 50, `depth ${ctl.smoothedSamples}`);
    assert.ok(Math.abs(ctl.driftPpm - 200) < 10, `estimate ${ctl.driftPpm}`);
  });

  test('windows that saw a jump or no arrival change nothing', () => {
    const ctl = new DriftController();
    for (let i = 0; i < 200; i++) {
      ctl.skipWindow();
      ctl.observe(9999, BLOCK, true, 2400); // jumps: invalid windows
    }
    for (let i = 0; i < 200; i++) ctl.observe(9999, BLOCK, false, 2400); // no arrivals
    assert.equal(ctl.ratio, 1);
    assert.ok(Number.isNaN(ctl.smoothedSamples));
  });

  test('restart() forgets the depth and keeps the drift estimate', () => {
    const ctl = new DriftController();
    loop(ctl, { seconds: 300, skewPpm: -250 });
    ctl.restart();
    assert.ok(Number.isNaN(ctl.smoothedSamples));
    assert.ok(Math.abs(ctl.ratio - (1 - 250e-6)) < 2e-6, `ratio ${ctl.ratio}`);
  });

  test('rejects bad options', () => {
    assert.throws(() => new DriftController({ maxPpm: 0 }), /maxPpm/);
    assert.throws(() => new DriftController({ responseS: -1 }), /responseS/);
    assert.throws(() => new DriftController({ windowSamples: Infinity }), /windowSamples/);
  });
});
