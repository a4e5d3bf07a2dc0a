// Tests for listener_web/worklet/jitter.js, the jitter buffer's policy (when it starts,
// underruns, drops and measures jitter; capture times; limits): run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  BLOCK,
  FADE_STEP,
  FRAME,
  RATE,
  SINE_STEP,
  block,
  chunk,
  drain,
  fill,
  make,
  maxAbs,
  maxStep,
  pullMany,
  sine,
  walkPushes,
} from './signals.mjs';

describe('JitterBuffer', () => {
  test('stays silent until the depth reaches the target, then starts with what piled up', () => {
    const buf = make();
    buf.push(chunk(0, FRAME));
    const [early] = pullMany(buf, 3);
    assert.equal(maxAbs(early), 0);
    assert.equal(buf.playing, false);
    assert.equal(buf.depthSamples, FRAME, 'nothing is consumed while waiting');

    // 3 frames: all kept, since an output that starts late takes the pile back in a burst.
    buf.push(chunk(FRAME, 2 * FRAME));
    const [late] = pullMany(buf, 3);
    assert.equal(buf.playing, true);
    assert.ok(maxAbs(late) > 0.3, 'plays once the target is reached');
    assert.equal(buf.depthSamples, 3 * FRAME - 3 * BLOCK);
    // Audio arriving in time from now on: the extra frame lasts, kept while the target
    // learns (1 s after a settle of 0.25 s), and goes after that.
    let pushed = 3 * FRAME;
    for (let t = 3 * BLOCK; t < 2 * RATE; t += BLOCK) {
      if (pushed < t + 2 * FRAME) {
        buf.push(chunk(pushed, FRAME));
        pushed += FRAME;
      }
      pullMany(buf, 1);
    }
    assert.ok(buf.depthSamples <= buf.targetSamples + 10, `depth ${buf.depthSamples}`);
    assert.equal(buf.underruns, 0);
    assert.equal(buf.drops, 0, 'starting with a little more than the target is no drop');
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

  test('a burst beyond the bound is dropped down to the target with a crossfade once it lasted', () => {
    // A burst also raises the target (what came before looks late): a low ceiling keeps
    // the target from covering this one.
    const buf = make({ ceilingSamples: 4 * FRAME });
    buf.push(chunk(0, 2 * FRAME));
    const [before] = pullMany(buf, 4);
    // A stalled main thread delivers 400 ms at once.
    buf.push(chunk(2 * FRAME, 20 * FRAME));
    assert.ok(buf.depthSamples > buf.maxSamples);
    const target = buf.targetSamples;
    // Then audio comes in time: the excess lasts, and goes within 0.75 s (two windows).
    let pushed = 22 * FRAME;
    const played = [before[before.length - 1]];
    for (let t = 0; t < 0.75 * RATE; t += BLOCK) {
      if (pushed < t + 22 * FRAME) {
        buf.push(chunk(pushed, FRAME));
        pushed += FRAME;
      }
      played.push(...pullMany(buf, 1)[0]);
    }
    const out = new Float32Array(played);
    assert.ok(buf.depthSamples <= target + FRAME, `depth ${buf.depthSamples}`);
    assert.equal(buf.drops, 1);
    assert.ok(buf.droppedSamples > 17 * FRAME);
    assert.equal(buf.underruns, 0);
    assert.ok(maxAbs(out) <= 0.5 + 1e-4);
    // Crossfading two phases of one sine never jumps more than a sample step plus the
    // weight change across the fade.
    assert.ok(maxStep(out) < SINE_STEP + 1 / buf.fadeSamples + 1e-4, `step ${maxStep(out)}`);
  });

  test('a pile left by a late output is kept for the burst that takes it back', () => {
    const buf = make();
    let pushed = fill(buf, 0);
    let played = 0;
    const inStep = (seconds) => {
      for (const end = played + seconds * RATE; played < end; played += BLOCK) {
        if (pushed < played + 2 * FRAME) {
          buf.push(chunk(pushed, FRAME));
          pushed += FRAME;
        }
        pullMany(buf, 1);
      }
    };
    inStep(1);
    // The output stops for 200 ms while audio keeps coming, then catches up in a burst.
    for (let i = 0; i < 10; i++) {
      buf.push(chunk(pushed, FRAME));
      pushed += FRAME;
    }
    pullMany(buf, 75);
    played += 75 * BLOCK;
    inStep(1);
    assert.equal(buf.drops, 0, 'the pile was no excess');
    assert.equal(buf.underruns, 0);
  });

  test('depth stays bounded when pushes outpace pulls for a long time', () => {
    const buf = make();
    let pushed = 0;
    for (let round = 0; round < 2000; round++) {
      buf.push(chunk(pushed, FRAME));
      pushed += FRAME;
      pullMany(buf, 6); // 768 of every 960 samples: 25 % too slow, far beyond 0.1 %
      // Excess goes once it lasted two windows of 0.25 s: 0.75 s at most, growing 25 %.
      assert.ok(buf.depthSamples <= buf.maxSamples + 0.2 * RATE, `round ${round}: ${buf.depthSamples}`);
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
