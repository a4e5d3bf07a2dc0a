// Tests for listener_web/ui/figures.js: run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { figureParts } from '../../../listener_web/ui/figures.js';
import { FIGURES } from '../session/figures.mjs';

describe('figureParts', () => {
  test('shows every figure, with the bare numbers beside', () => {
    const parts = figureParts({ ...FIGURES, lostFrames: 0 });
    assert.deepEqual(parts.map((p) => p.text), [
      'latency ≈ 84 ms', 'buffer 42 ms (target 50)', 'drift -12 ppm', 'underruns 0',
      'reconnects 1', 'path worklet',
    ]);
    assert.deepEqual(parts.map((p) => p.name), [
      'latency', 'buffer', 'drift', 'underruns', 'reconnects', 'path',
    ]);
    assert.equal(parts[0].value, '84.2');
  });

  test('an unknown latency is a dash; glitches and lost frames show when there are any; no path, no part', () => {
    const parts = figureParts({
      ...FIGURES, latencyMs: null, path: null, driftPpm: 0.3, glitches: 2, lostFrames: 37,
    });
    assert.deepEqual(parts.map((p) => p.text), [
      'latency –', 'buffer 42 ms (target 50)', 'drift 0 ppm', 'underruns 0', 'output glitches 2',
      'reconnects 1', 'lost 37 frames',
    ]);
    assert.equal(figureParts({ ...FIGURES, glitches: null, lostFrames: 0 }).length, 6);
    assert.equal(parts[0].value, '');
    assert.equal(figureParts({ ...FIGURES, driftPpm: 7.6, lostFrames: 0 })[2].text, 'drift +8 ppm');
  });

  test("the browser's pauses show when there are any, with the underruns they caused", () => {
    const parts = figureParts({
      ...FIGURES, underruns: 1, pauses: 2, longestPauseMs: 156.4, pauseUnderruns: 1, lostFrames: 0,
    });
    assert.deepEqual(parts[4], {
      name: 'paused', text: 'browser paused 2× (longest 156 ms, 1 of the underruns)', value: '2,1,156',
    });
    const none = figureParts({ ...FIGURES, pauses: 1, longestPauseMs: 120, pauseUnderruns: 0, lostFrames: 0 });
    assert.equal(none[4].text, 'browser paused 1× (longest 120 ms)');
    assert.equal(figureParts({ ...FIGURES, lostFrames: 0 }).some((p) => p.name === 'paused'), false);
  });

  test("the buffer's margin for a browser that pauses whole shows beside its target", () => {
    const parts = figureParts({ ...FIGURES, targetMs: 220, marginMs: 220, lostFrames: 0 });
    assert.equal(parts[1].text, "buffer 42 ms (target 220, at least 220 for this browser's pauses)");
  });

  test('the battery saver says it is on, with its bundles', () => {
    const parts = figureParts({ ...FIGURES, lostFrames: 0, bundleMs: 500 });
    assert.deepEqual(parts.at(-2), { name: 'saver', text: 'battery saver (500 ms bundles)', value: '500' });
    assert.equal(figureParts({ ...FIGURES, lostFrames: 0, bundleMs: 0 }).some((p) => p.name === 'saver'), false);
  });

  test("a latency that leaves out the device's share (not believable here) says it is a lower bound", () => {
    const [part] = figureParts({ ...FIGURES, latencyIsLowerBound: true, lostFrames: 0 });
    assert.deepEqual(part, { name: 'latency', text: 'latency ≥ 84 ms', value: '84.2' });
  });

  test('a replay says so, and how far behind live it plays', () => {
    const [part] = figureParts({ ...FIGURES, latencyMs: 30_412, lostFrames: 0, replaying: true });
    assert.deepEqual(part, { name: 'latency', text: 'replay, 30 s behind live', value: '30412.0' });
    const [unknown] = figureParts({ ...FIGURES, latencyMs: null, lostFrames: 0, replaying: true });
    assert.equal(unknown.text, 'replay');
  });
});
