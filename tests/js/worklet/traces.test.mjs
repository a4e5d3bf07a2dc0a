// The jitter buffer against simulated arrival traces, one hour each: a LAN, Wi-Fi that
// delivers in clumps, and a LAN with one 2 s stall, each with the sender's clock 300 ppm
// slow, exact and 300 ppm fast. Run with `node --test tests/js/`.
//
// The output clock is the reference: one render quantum of 128 samples per step. The
// sender finishes 20 ms frame k at (k + 1) * 960 / (1 + skew) output samples; the network
// adds a delay; TCP delivers in order, so a frame never arrives before the one before it.
// Arrivals are handed to the buffer between quanta, as the worklet's message port does.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { JitterBuffer } from '../../../listener_web/worklet/jitter.js';
import { random } from '../random.mjs';

const RATE = 48000;
const FRAME = 960;
const BLOCK = 128;
const MINUTE = 60 * RATE;
const STALL_AT_S = 25 * 60;
const LEARNING_S = 180; // Wi-Fi: the buffer cannot know a clump's size before one comes

/** LAN delay in samples: 1 ms plus an exponential tail (mean 0.5 ms), 1 % spikes of 3-8 ms. */
function lanDelay(rand) {
  let s = 0.001 - Math.log(1 - rand()) * 0.0005;
  if (rand() < 0.01) s += 0.003 + 0.005 * rand();
  return Math.min(s, 0.012) * RATE;
}

/**
 * Arrival time (output samples) of a frame finished at `done`, for each kind of network.
 * Wi-Fi: every 1-10 s the link holds everything for 100-300 ms and then delivers it at once.
 * Stall: at STALL_AT_S nothing gets through for 2 s.
 */
function network(kind, seed) {
  const rand = random(seed);
  let holdFrom = Infinity;
  let holdTo = -Infinity;
  const nextClump = (after) => {
    holdFrom = after + (1 + 9 * rand()) * RATE;
    holdTo = holdFrom + (0.1 + 0.2 * rand()) * RATE;
  };
  if (kind === 'wifi') nextClump(0);
  if (kind === 'stall') {
    holdFrom = STALL_AT_S * RATE;
    holdTo = holdFrom + 2 * RATE;
  }
  return (done) => {
    while (kind === 'wifi' && done >= holdTo) nextClump(holdTo);
    const sent = done >= holdFrom && done < holdTo ? holdTo : done;
    return sent + lanDelay(rand);
  };
}

/** One hour of playback; returns what the assertions need. */
function simulate(kind, skewPpm, seed = 1) {
  const buf = new JitterBuffer({ channels: 1, targetSamples: 2400 });
  const arrival = network(kind, seed);
  const sender = 1 + skewPpm * 1e-6;
  const pcm = new Float32Array(FRAME);
  const minutes = [];
  let sum = { depth: 0, target: 0, peakError: 0, n: 0 };
  const underrunsAt = [];
  const dropsAt = [];
  const worst = { overBoundS: 0, negative: 0, minDepthLater: Infinity, ratioOff: 0 };
  let overSince = -1;
  let k = 0;
  let next = arrival(FRAME / sender);
  for (let q = 0; q < (60 * MINUTE) / BLOCK; q++) {
    const now = q * BLOCK;
    while (next <= now) {
      buf.push(pcm, (k * FRAME * 1000) / RATE); // capture time in the sender's clock
      k++;
      next = Math.max(next, arrival(((k + 1) * FRAME) / sender));
    }
    const { underruns, drops } = buf;
    buf.advance(BLOCK);
    if (buf.underruns !== underruns) underrunsAt.push(now / RATE);
    if (buf.drops !== drops) dropsAt.push(now / RATE);
    const depth = buf.depthSamples;
    if (depth <= buf.maxSamples + 1) overSince = -1;
    else if (overSince < 0) overSince = now;
    if (overSince >= 0) worst.overBoundS = Math.max(worst.overBoundS, (now - overSince) / RATE);
    if (depth < 0) worst.negative++;
    if (now >= 5 * MINUTE) worst.minDepthLater = Math.min(worst.minDepthLater, depth);
    worst.ratioOff = Math.max(worst.ratioOff, Math.abs(buf.control.ratio - 1));
    sum.depth += depth;
    sum.target += buf.targetSamples;
    if (buf.playing) sum.peakError += buf.control.smoothedSamples - buf.targetSamples;
    sum.n++;
    if ((now + BLOCK) % MINUTE === 0) {
      const ms = (x) => (x * 1000) / RATE / sum.n;
      minutes.push({ depthMs: ms(sum.depth), targetMs: ms(sum.target), peakErrorMs: ms(sum.peakError) });
      sum = { depth: 0, target: 0, peakError: 0, n: 0 };
    }
  }
  const endMs = (60 * MINUTE * 1000) / RATE;
  const mean = (from, to, key) => minutes.slice(from, to).reduce((s, m) => s + m[key], 0) / (to - from);
  return {
    buf,
    minutes,
    underrunsAt,
    dropsAt,
    worst,
    early: mean(10, 20, 'depthMs'),
    late: mean(50, 60, 'depthMs'),
    peakErrorMs: mean(50, 60, 'peakErrorMs'),
    // The sample leaving now was captured readHeadMs() ago (in the sender's clock).
    latencyMs: endMs * sender - buf.readHeadMs(),
  };
}

function describeRun(r) {
  const ms = (x) => `${((x * 1000) / RATE).toFixed(1)} ms`;
  return (
    `depth ${r.early.toFixed(1)} ms (min 10-20) / ${r.late.toFixed(1)} ms (min 50-60), ` +
    `target ${ms(r.buf.targetSamples)}, smoothed peak ${ms(r.buf.control.smoothedSamples)}, ` +
    `drift ${r.buf.control.driftPpm.toFixed(1)} ppm, |ratio - 1| <= ${(r.worst.ratioOff * 1e6).toFixed(0)} ppm, ` +
    `underruns ${r.buf.underruns} [${r.underrunsAt.map((s) => s.toFixed(1)).join(', ')} s], ` +
    `drops ${r.buf.drops}, min depth after 5 min ${ms(r.worst.minDepthLater)}, ` +
    `latency at the end ${r.latencyMs.toFixed(1)} ms`
  );
}

/** What every trace must show. */
function assertCommon(r, skewPpm, clumpMs = 0) {
  // Depth beyond the bound goes once it lasted two windows of 0.25 s.
  assert.ok(r.worst.overBoundS <= 0.8, `depth above the bound for ${r.worst.overBoundS} s`);
  assert.equal(r.worst.negative, 0);
  assert.ok(r.worst.ratioOff <= 0.001 + 1e-12, `ratio off by ${r.worst.ratioOff}`);
  // Latency does not creep: the depth at the end is on target, as early on.
  assert.ok(Math.abs(r.peakErrorMs) < 1, `peak depth off target by ${r.peakErrorMs} ms`);
  assert.ok(
    Math.abs(r.late - r.early) < Math.max(2, 0.1 * r.early),
    `mean depth ${r.early} ms -> ${r.late} ms`,
  );
  assert.ok(Math.abs(r.buf.control.driftPpm - skewPpm) < 10, `drift estimate ${r.buf.control.driftPpm} ppm`);
  // Capture to output = depth + the age of the newest frame: a frame, the network delay,
  // a clump in progress.
  const beyond = r.latencyMs - (r.buf.depthSamples * 1000) / RATE;
  assert.ok(beyond >= 0 && beyond < 35 + clumpMs, `latency ${r.latencyMs} ms`);
}

describe('one hour of arrival traces', () => {
  for (const skewPpm of [-300, 0, 300]) {
    test(`LAN, sender clock ${skewPpm} ppm: no underrun, no drop`, (t) => {
      const r = simulate('lan', skewPpm);
      t.diagnostic(describeRun(r));
      assertCommon(r, skewPpm);
      assert.deepEqual(r.underrunsAt, []);
      assert.deepEqual(r.dropsAt, []);
      assert.ok(r.late < 40, `a LAN needs no more than ${r.late} ms`);
    });

    test(`Wi-Fi clumps, sender clock ${skewPpm} ppm: underruns only while learning`, (t) => {
      const r = simulate('wifi', skewPpm);
      t.diagnostic(describeRun(r));
      assertCommon(r, skewPpm, 300);
      assert.ok(r.underrunsAt.length <= 6, `${r.underrunsAt.length} underruns`);
      assert.ok(r.underrunsAt.every((s) => s < LEARNING_S), `underruns at ${r.underrunsAt}`);
      assert.deepEqual(r.dropsAt, [], 'late audio is never too much audio');
      assert.ok(r.late > 300 && r.late < 400, `depth ${r.late} ms for 300 ms clumps`);
    });

    test(`a 2 s stall, sender clock ${skewPpm} ppm: one underrun, then back to the LAN depth`, (t) => {
      const r = simulate('stall', skewPpm);
      t.diagnostic(describeRun(r));
      assertCommon(r, skewPpm);
      assert.equal(r.underrunsAt.length, 1);
      assert.ok(r.underrunsAt[0] >= STALL_AT_S && r.underrunsAt[0] < STALL_AT_S + 2);
      // The backlog arrives at once: what exceeds the bound (at the new, high target) goes
      // once it lasted (an output's burst would have taken it back by then).
      assert.ok(r.dropsAt.length >= 1);
      assert.ok(r.dropsAt.every((s) => s >= STALL_AT_S + 2 && s < STALL_AT_S + 2.8), `${r.dropsAt}`);
      const after = r.minutes[STALL_AT_S / 60 + 1];
      assert.ok(after.targetMs > 400, `target ${after.targetMs} ms after the stall`);
      assert.ok(r.late < 40, `back to ${r.late} ms`);
    });
  }

  test('other seeds keep the Wi-Fi promises', () => {
    for (const seed of [2, 3, 4]) {
      const r = simulate('wifi', 0, seed);
      assert.ok(r.underrunsAt.every((s) => s < LEARNING_S), `seed ${seed}: underruns at ${r.underrunsAt}`);
      assert.deepEqual(r.dropsAt, []);
    }
  });
});
