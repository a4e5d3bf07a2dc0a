// The ScriptProcessor output (listener_web/output/legacy_output.js) against a simulated
// engine, a minute each: a context at 48 or 44.1 kHz that plays blocks of 512, 2048 or 4096
// frames in real time and asks the main thread for each one ahead of time. The main thread
// stalls now and then (30-120 ms); a block whose request is still waiting when its turn
// comes plays as silence and is never asked for (WebKit). playbackTime is computed when the
// event is dispatched, from the context's frame rounded to a render quantum (WebKit), or
// exact per block (Chromium). The sender's clock runs 300 ppm slow, exact or 300 ppm fast.
// The buffer must keep to the context's clock: no underrun after the first second, no drop,
// and no pitch error (the stream plays at the rate it is captured).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import { BlockClock } from '../../../listener_web/output/block_clock.js';
import { ScriptProcessorOutput } from '../../../listener_web/output/legacy_output.js';
import { random } from '../random.mjs';

const FRAME = 960; // 20 ms at 48 kHz
const QUANTUM = 128;

/** A context at `rate` whose ScriptProcessor the simulation drives. */
function fakeContext(rate) {
  const ctx = {
    sampleRate: rate,
    currentTime: 0,
    node: null,
    createScriptProcessor(size, inputs, outputs) {
      ctx.node = { args: [size, inputs, outputs], onaudioprocess: null, connect() {}, disconnect() {} };
      return ctx.node;
    },
  };
  return ctx;
}

/**
 * One minute; returns the figures the assertions need.
 * @param {{rate: number, block: number, skewPpm: number, webkit: boolean, seed?: number}} o
 */
function simulate({ rate, block, skewPpm, webkit, seed = 1, seconds = 60, stalls = 0.01 }) {
  const rand = random(seed);
  const ctx = fakeContext(rate);
  const stats = [];
  const out = new ScriptProcessorOutput(ctx, {
    channels: 1, targetSamples: 2400, floorSamples: 960, ceilingSamples: 24000,
  }, block);
  out.port.onmessage = (e) => stats.push(e.data);
  const buf = out.playout.buffer;
  const blockS = block / rate;
  const sender = 1 + skewPpm * 1e-6;
  let k = 0; // next frame to arrive
  let mainFree = 0; // when the main thread is free again
  let skipped = 0;
  const under = [];
  let ratioSum = 0; // of the drift ratio, over the events of the last half
  let ratioEvents = 0;
  const plane = new Float32Array(block);
  const event = { playbackTime: 0, outputBuffer: { numberOfChannels: 1, getChannelData: () => plane } };
  // The context's clock as the main thread reads it at `t`: in render quanta.
  const contextTime = (t) => Math.floor((t * rate) / QUANTUM) * QUANTUM / rate;
  const arrive = (until) => {
    // Frame k is captured by (k + 1) * 20 ms on the sender's clock, and arrives 1-3 ms later;
    // the main thread hands it over at `until`.
    ctx.currentTime = contextTime(until);
    while ((k + 1) * 0.02 / sender + 0.001 + 0.002 * rand() <= until) {
      out.port.postMessage({ type: 'pcm', samples: new Float32Array(FRAME).fill(0.1), captureMs: 20 * k });
      k++;
    }
  };
  for (let j = 0; j * blockS < seconds; j++) {
    const due = j * blockS; // the block boundary at which this block is asked for
    if (rand() < stalls * (block / 512)) mainFree = Math.max(mainFree, due) + 0.03 + 0.09 * rand(); // a stall
    const dispatch = Math.max(due, mainFree) + 0.0005;
    if (dispatch > due + blockS) {
      skipped++; // still busy when the block's turn came: silence, and no event for it
      arrive(due + blockS);
      continue;
    }
    arrive(dispatch);
    ctx.currentTime = contextTime(dispatch);
    event.playbackTime = webkit ? ctx.currentTime + blockS : (j + 1) * blockS;
    const { underruns } = buf;
    ctx.node.onaudioprocess(event);
    if (buf.underruns !== underruns) under.push(dispatch);
    mainFree = dispatch + 0.001;
    if (dispatch > seconds / 2) {
      ratioSum += buf.control.ratio;
      ratioEvents++;
    }
  }
  out.port.postMessage({ type: 'stats' });
  // Pitch over the last half: how much faster than the sender's clock the audio plays.
  const pitchPpm = ((ratioSum / ratioEvents) / sender - 1) * 1e6;
  const last = stats.at(-1);
  return { under, skipped, pitchPpm, depthMs: last.depthSamples / 48, targetMs: last.targetSamples / 48,
    drops: buf.drops, driftPpm: buf.control.driftPpm, clock: out.clock };
}

describe('ScriptProcessor output against a simulated engine', () => {
  // The page's 512-frame blocks: two minutes with a stall every second or so.
  for (const [rate, webkit] of [[44100, true], [48000, true], [48000, false]]) {
    for (const skewPpm of [-300, 0, 300]) {
      const name = `${rate / 1000} kHz, 512-frame blocks, ${webkit ? 'WebKit' : 'Chromium'}, sender ${skewPpm} ppm`;
      test(name, (t) => {
        const r = simulate({ rate, block: 512, skewPpm, webkit, seconds: 120 });
        t.diagnostic(describeRun(r));
        assert.ok(r.skipped > 100, 'the main thread was late');
        assertSeen(r, 512);
        assert.ok(r.under.every((s) => s < 1), `underruns at ${r.under}`);
        assert.equal(r.drops, 0);
        // The stalls are no jitter a deeper buffer would cover: the target stays low.
        assert.ok(r.targetMs < 80, `target ${r.targetMs} ms`);
        assert.ok(Math.abs(r.pitchPpm) < 100, `pitch off by ${r.pitchPpm} ppm`);
        assert.ok(Math.abs(r.driftPpm - skewPpm) < 75, `drift ${r.driftPpm} ppm`);
      });
    }
  }

  // Bigger blocks, as a browser might choose: no underrun, no drop, every skip seen.
  for (const [rate, block] of [[44100, 2048], [48000, 4096]]) {
    test(`${rate / 1000} kHz, ${block}-frame blocks, WebKit`, (t) => {
      const r = simulate({ rate, block, skewPpm: 300, webkit: true });
      t.diagnostic(describeRun(r));
      assert.ok(r.skipped > 10, 'the main thread was late');
      assertSeen(r, block);
      assert.ok(r.under.every((s) => s < 1), `underruns at ${r.under}`);
      assert.equal(r.drops, 0);
    });
  }

  test('without a stall, a 4096-frame block plays at the right pitch', () => {
    const r = simulate({ rate: 48000, block: 4096, skewPpm: -300, webkit: true, stalls: 0, seconds: 120 });
    assert.deepEqual(r.under, []);
    assert.ok(Math.abs(r.pitchPpm) < 100, `pitch off by ${r.pitchPpm} ppm`);
  });
});

/** Every block played unasked was seen, but for the last window's (not sure yet). */
function assertSeen(r, block) {
  const unseen = r.skipped - r.clock.skippedFrames / block;
  assert.ok(unseen >= 0 && unseen <= 16, `${unseen} of ${r.skipped} skipped blocks unseen`);
}

function describeRun(r) {
  return `skipped ${r.skipped} blocks (clock saw ${r.clock.skippedFrames / (r.clock.blockFrames)}), ` +
    `underruns at ${r.under.map((s) => s.toFixed(1))}, drops ${r.drops}, depth ${r.depthMs.toFixed(1)} ms ` +
    `(target ${r.targetMs.toFixed(1)}), drift ${r.driftPpm.toFixed(0)} ppm, pitch ${r.pitchPpm.toFixed(0)} ppm`;
}

describe('BlockClock', () => {
  test('exact block times (Chromium) report nothing', () => {
    const clock = new BlockClock(512);
    let reported = 0;
    for (let j = 0; j < 1000; j++) reported += clock.event(1024 + 512 * j);
    assert.equal(reported, 0);
  });

  test('reports skipped blocks once they last, not a few events dispatched together', () => {
    const clock = new BlockClock(512);
    const frames = [];
    let at = 1536;
    for (let j = 0; j < 200; j++) {
      if (j === 50) at += 3 * 512; // three blocks of silence
      // Events 100-103 dispatched together after a stall: one time for all four.
      frames.push(j >= 100 && j < 104 ? 1536 + 3 * 512 + 512 * 103 + 128 : at + (j % 3) * 128);
      at += 512;
    }
    let reported = 0;
    for (const f of frames) reported += clock.event(f);
    assert.equal(reported, 3 * 512);
  });

  test("WebKitGTK's recorded event times: the blocks it played unasked, in whole blocks", () => {
    // 1500 events at 44.1 kHz, whose times ended 27776 frames ahead of the blocks filled:
    // 54 blocks of silence, and a few events dispatched late together along the way.
    const { frames } = JSON.parse(
      readFileSync(new URL('./webkit_playback_times.json', import.meta.url), 'utf8'));
    const clock = new BlockClock(512);
    let at = 0;
    let reported = 0;
    for (const delta of frames) {
      at += delta;
      const skipped = clock.event(at);
      assert.equal(skipped % 512, 0);
      reported += skipped;
    }
    assert.equal(reported, clock.skippedFrames);
    assert.ok(Math.abs(reported - 27776) <= 512, `${reported}`);
  });
});
