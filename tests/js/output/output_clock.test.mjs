// Tests for listener_web/output/output_clock.js: what the page believes of the engine's
// output figures, with the values Chromium, WebKitGTK and Firefox give. Run with
// `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  DEVICE_REFRESH_S, MAX_DEVICE_S, OutputClock, stampProblem,
} from '../../../listener_web/output/output_clock.js';

const RATE = 48000;
const QUANTUM_S = 128 / RATE;
// Capture to leaving the worklet: network, jitter buffer and codec delay (all in the capture
// times the page has), and what the device truly adds after it.
const BEFORE_OUTPUT_MS = 52;
const DEVICE_MS = 42;
const START_MS = 3000; // page time at which the context starts

/** Context time at page time `nowMs`: whole render quanta played so far. */
function contextAt(nowMs) {
  const s = (nowMs - START_MS) / 1000;
  return Math.floor(s / QUANTUM_S) * QUANTUM_S;
}

/**
 * What each engine answers at page time `nowMs` (the device plays context time c at page
 * time START_MS + 1000 c + DEVICE_MS).
 */
const ENGINES = {
  // Chromium: the stamp of the last callback, outputLatency and baseLatency that add up.
  chromium: (nowMs) => {
    const currentTime = contextAt(nowMs);
    const contextTime = Math.max(0, currentTime - DEVICE_MS / 1000 - 0.004);
    return {
      currentTime, nowMs, sampleRate: RATE, baseLatency: 0.010, outputLatency: 0.032,
      stamp: { contextTime, performanceTime: START_MS + 1000 * contextTime + DEVICE_MS },
    };
  },
  // WebKitGTK 2.50: performanceTime ≈ performance.now() + contextTime × 1000, no outputLatency.
  webkit: (nowMs) => {
    const currentTime = contextAt(nowMs);
    const contextTime = Math.max(0, currentTime - 0.01);
    return {
      currentTime, nowMs, sampleRate: RATE, baseLatency: 0, outputLatency: 0,
      stamp: { contextTime, performanceTime: nowMs + 1000 * contextTime },
    };
  },
  // Firefox: not asked (player.deviceFiguresAreCheap); its baseLatency is 0.
  firefox: (nowMs) => ({
    currentTime: contextAt(nowMs), nowMs, sampleRate: RATE, baseLatency: 0,
    outputLatency: null, stamp: null,
  }),
};

/** The latency the page showed before the figures were checked: the stamp read and used as is. */
function naiveLatencyMs(look, captureMs) {
  const heardMs = look.stamp.performanceTime + 1000 * (look.currentTime - look.stamp.contextTime);
  return heardMs - captureMs;
}

/**
 * Play `seconds` of an engine, a tick a second as the page does (at uneven moments), and the
 * figure at each tick: the sample leaving the worklet now was captured BEFORE_OUTPUT_MS before
 * it left.
 */
function play(engine, seconds) {
  const clock = new OutputClock();
  const figures = [];
  for (let i = 1; i <= seconds; i++) {
    const nowMs = START_MS + 1000 * i + 7 * Math.sin(i);
    const look = ENGINES[engine](nowMs);
    if (clock.due('running', look.currentTime)) clock.add(look);
    const captureMs = START_MS + 1000 * look.currentTime - BEFORE_OUTPUT_MS;
    const latencyMs = clock.heardMs(look.currentTime, look) - captureMs;
    figures.push({ atS: i, latencyMs, lowerBound: clock.lowerBound, look, captureMs });
  }
  return { clock, figures };
}

describe('OutputClock with what the engines answer', () => {
  test("WebKitGTK's clock is not believed: a steady lower bound instead of a rising line", () => {
    const { clock, figures } = play('webkit', 300);
    // Read as is, its figures are the issue's: about a second more each second.
    const naive = (s) => naiveLatencyMs(figures[s - 1].look, figures[s - 1].captureMs);
    assert.ok(naive(1) > 800 && naive(1) < 1100, `${naive(1)}`);
    assert.ok(Math.abs(naive(8) - 8000) < 100, `${naive(8)}`);
    assert.ok(Math.abs(naive(13) - 13000) < 100, `${naive(13)}`);
    // Checked: never believed, and the figure counts what the page knows, for 5 minutes.
    assert.match(clock.distrust ?? '', /ms ahead of now/);
    assert.equal(clock.stamp, null);
    assert.equal(clock.outputLatencyS, null, 'an outputLatency of 0 is no figure');
    const shown = figures.map((f) => f.latencyMs);
    assert.ok(figures.every((f) => f.lowerBound));
    const low = BEFORE_OUTPUT_MS + 1000 * QUANTUM_S;
    assert.ok(Math.min(...shown) >= low - 1e-6, `${Math.min(...shown)}`);
    assert.ok(Math.max(...shown) <= low + 1000 * QUANTUM_S + 1e-6, `${Math.max(...shown)}`);
    assert.ok(Math.max(...shown) <= BEFORE_OUTPUT_MS + DEVICE_MS, 'a lower bound indeed');
  });

  test("Chromium's consistent figures are believed and unchanged", () => {
    const { clock, figures } = play('chromium', 300);
    assert.equal(clock.distrust, null);
    assert.ok(clock.stamp);
    assert.ok(Math.abs(clock.outputLatencyS - 0.032) < 1e-12);
    // From the second look (1.5 s), the true latency: what the stamp as read said too.
    for (const f of figures.slice(2)) {
      assert.equal(f.lowerBound, false);
      assert.ok(Math.abs(f.latencyMs - (BEFORE_OUTPUT_MS + DEVICE_MS)) < 1e-6, `${f.atS}: ${f.latencyMs}`);
      assert.ok(Math.abs(f.latencyMs - naiveLatencyMs(f.look, f.captureMs)) < 1e-6);
    }
    // Before it: outputLatency and baseLatency, close and no lower bound.
    assert.equal(figures[0].lowerBound, false);
    assert.ok(Math.abs(figures[0].latencyMs - (BEFORE_OUTPUT_MS + DEVICE_MS)) < 10, `${figures[0].latencyMs}`);
    // Looked at seldom once it agrees: gaps that double up to DEVICE_REFRESH_S.
    assert.ok(clock.looks < 300 / DEVICE_REFRESH_S + 6, `${clock.looks} looks`);
  });

  test('Firefox is not read: the lower bound, from the start', () => {
    const { clock, figures } = play('firefox', 300);
    assert.equal(clock.stamp, null);
    assert.equal(clock.distrust, null);
    assert.ok(figures.every((f) => f.lowerBound));
    assert.ok(figures.every((f) => Math.abs(f.latencyMs - BEFORE_OUTPUT_MS - 1000 * QUANTUM_S) <= 1000 * QUANTUM_S));
  });

  test('a stamp that disagrees with the last one is doubted until two looks agree again', () => {
    const clock = new OutputClock();
    let lostMs = 0;
    const look = (s) => {
      const l = ENGINES.chromium(START_MS + 1000 * s);
      l.stamp.contextTime -= lostMs / 1000; // what plays now was rendered earlier
      return l;
    };
    clock.add(look(0.5));
    clock.add(look(1.5));
    assert.ok(clock.stamp, 'two looks agree');
    lostMs = 30; // the device lost 30 ms (a glitch): it plays each context time later
    clock.add(look(3.5));
    assert.equal(clock.stamp, null);
    assert.ok(Math.abs(clock.dueS - 4.5) < 0.01, 'looked at again a second later');
    assert.equal(clock.lowerBound, false, 'outputLatency still counts');
    clock.add(look(4.5));
    assert.ok(clock.stamp);
    assert.equal(clock.distrust, null, 'a glitch is no broken clock');
  });
});

describe('stampProblem', () => {
  const look = { currentTime: 10, nowMs: 20000, sampleRate: RATE };
  const cases = [
    [{ contextTime: 9.96, performanceTime: 19995 }, null],
    [{ contextTime: 9.96, performanceTime: 0 }, 'no output timestamp'],
    [undefined, 'no output timestamp'],
    [{ contextTime: 9.96, performanceTime: 29955 }, 'ahead of now'],
    [{ contextTime: 10.5, performanceTime: 19995 }, 'context time is 500 ms ahead'],
    [{ contextTime: 8, performanceTime: 17000 }, 'old'],
    [{ contextTime: 9, performanceTime: 20015 }, 'holds 1015 ms'],
    [{ contextTime: 9.96, performanceTime: 19900 }, 'holds -60 ms'],
  ];
  for (const [stamp, expected] of cases) {
    test(`${JSON.stringify(stamp)}: ${expected ?? 'believable'}`, () => {
      const problem = stampProblem(stamp, look);
      if (expected === null) assert.equal(problem, null);
      else assert.match(problem?.text ?? '', new RegExp(expected));
    });
  }

  test('only a moment or a context time not yet come is impossible (the engine is distrusted)', () => {
    assert.equal(stampProblem({ contextTime: 9.96, performanceTime: 29955 }, look)?.impossible, true);
    assert.equal(stampProblem({ contextTime: 8, performanceTime: 17000 }, look)?.impossible, false);
  });
});

describe('latencies', () => {
  test('only plausible latencies are kept; an outputLatency of 0 is unknown', () => {
    const clock = new OutputClock();
    for (const value of [NaN, -0.01, MAX_DEVICE_S, 5, '0.02', 0]) {
      clock.add({ currentTime: 1, nowMs: 1000, sampleRate: RATE, baseLatency: value, outputLatency: value, stamp: null });
    }
    assert.equal(clock.outputLatencyS, null);
    assert.equal(clock.baseLatencyS, 0);
    assert.ok(Math.abs(clock.knownOutputS(RATE) - QUANTUM_S) < 1e-12, 'at least a render quantum');
    clock.add({ currentTime: 2, nowMs: 2000, sampleRate: RATE, baseLatency: 0.01, outputLatency: 0.03, stamp: null });
    assert.ok(Math.abs(clock.knownOutputS(RATE) - 0.04) < 1e-12);
    assert.equal(clock.lowerBound, false);
  });
});
