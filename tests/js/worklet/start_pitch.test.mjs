// How a start reaches the target it learns (jitter.js, Start): an output that takes
// 2048-frame blocks (a ScriptProcessor where the engine renders in bursts, WebKit on plain
// http) from a page whose main thread hands audio over in clumps, 35-65 ms apart. The
// target starts at 114 ms and learns about 160 ms within the first second. The start keeps
// the connection's first burst (200 ms) until then, and trims it to the learnt target at
// the peaks the drift control steers by, so the control starts on its target instead of
// reading 0.1 % off for tens of seconds. Run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { JitterBuffer } from '../../../listener_web/worklet/jitter.js';
import { random } from '../random.mjs';

const RATE = 48000;
const FRAME = 960;
const BLOCK = 2048;

/**
 * Play 12 s; the depth error the drift control sees over its first 4 s (ms, signed mean).
 * @param {number} seed
 */
function startError(seed) {
  const rand = random(seed);
  const buf = new JitterBuffer({ channels: 1, targetSamples: 114 * 48, floorSamples: FRAME,
    ceilingSamples: 0.5 * RATE });
  const frame = new Float32Array(FRAME).fill(0.1);
  const backlog = Math.round((200 * 48) / FRAME); // frames already sent when the page starts
  let k = 0; // frame k of the sender is done at (k + 1 - backlog) * FRAME
  let free = 0; // when the page's main thread next hands over what came
  const errors = [];
  for (let t = 0; t < 12 * RATE; t += BLOCK) {
    while (free <= t + BLOCK) {
      for (; (k + 1 - backlog) * FRAME <= free; k++) buf.push(frame);
      free += (0.035 + 0.03 * rand()) * RATE;
    }
    buf.advance(BLOCK);
    const c = buf.control;
    if (!Number.isNaN(c.smoothedSamples)) errors.push((c.smoothedSamples - c.setpointSamples) / 48);
  }
  assert.equal(buf.underruns, 0);
  assert.ok(buf.targetSamples / 48 > 150, `the target learnt ${buf.targetSamples / 48} ms`);
  const first = errors.slice(0, Math.round((4 * RATE) / BLOCK));
  return first.reduce((a, b) => a + b, 0) / first.length;
}

describe('a start in an engine that takes big blocks from a clumpy page', () => {
  test('the drift control starts on the learnt target, from the start\'s pile', () => {
    const errors = [1, 2, 3, 4, 5, 6].map(startError);
    const mean = errors.reduce((a, b) => a + Math.abs(b), 0) / errors.length;
    // Trimmed to the target before it learnt: 30 ms off at worst, 12 ms on average, which
    // the control reads at its 0.1 % limit (1 ms a second).
    assert.ok(mean < 6, `off by ${errors.map((e) => e.toFixed(1)).join(', ')} ms`);
  });
});
