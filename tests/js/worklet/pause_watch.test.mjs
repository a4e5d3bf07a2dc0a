// Tests for listener_web/worklet/pause_watch.js, and the Playout's pause figures: run with
// `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Playout } from '../../../listener_web/worklet/playout.js';
import { CATCH_UP_MS, PAUSE_MS, PauseWatch } from '../../../listener_web/worklet/pause_watch.js';

const RATE = 48000;
const BLOCK = 128;
const BLOCK_MS = (1000 * BLOCK) / RATE;

describe('PauseWatch', () => {
  test('steady callbacks, or bursts of them, are no pause', () => {
    const watch = new PauseWatch();
    let frame = 0;
    // WebKit's way: 15 blocks at once every 40 ms.
    for (let ms = 0; ms < 2000; ms += 40) {
      for (let i = 0; i < 15; i++, frame += BLOCK) watch.block(ms, frame, BLOCK, RATE, true, false);
    }
    assert.equal(watch.pauses, 0);
  });

  test('a gap longer than the limit while playing is a pause; the longest is kept', () => {
    const watch = new PauseWatch();
    watch.block(0, 0, BLOCK, RATE, true, false);
    watch.block(156, BLOCK, BLOCK, RATE, true, false);
    watch.block(159, 2 * BLOCK, BLOCK, RATE, true, false);
    watch.block(159 + PAUSE_MS + 2 * BLOCK_MS, 3 * BLOCK, BLOCK, RATE, true, false);
    assert.equal(watch.pauses, 2);
    assert.ok(Math.abs(watch.longestMs - 156) < 1e-9);
    // At the limit (plus the block's own length) it is not one yet.
    const edge = new PauseWatch();
    edge.block(0, 0, BLOCK, RATE, true, false);
    edge.block(PAUSE_MS + BLOCK_MS, BLOCK, BLOCK, RATE, true, false);
    assert.equal(edge.pauses, 0);
  });

  test('a gap while idle, or with no clock, is none', () => {
    const watch = new PauseWatch();
    watch.block(0, 0, BLOCK, RATE, false, false);
    watch.block(5000, BLOCK, BLOCK, RATE, false, false);
    watch.block(NaN, 2 * BLOCK, BLOCK, RATE, true, false);
    watch.block(NaN, 3 * BLOCK, BLOCK, RATE, true, false);
    assert.equal(watch.pauses, 0);
  });

  test("an underrun in a pause's catch-up is the pause's; a later one is not", () => {
    const watch = new PauseWatch();
    watch.block(0, 0, BLOCK, RATE, true, false);
    watch.block(200, BLOCK, BLOCK, RATE, true, false); // a pause of 200 ms at frame 128
    const end = BLOCK + ((200 + CATCH_UP_MS) * RATE) / 1000;
    watch.block(201, end - BLOCK, BLOCK, RATE, true, true);
    assert.equal(watch.underruns, 1);
    watch.block(202, end + BLOCK, BLOCK, RATE, true, true);
    assert.equal(watch.underruns, 1);
  });
});

/**
 * A Playout fed 20 ms frames on a wall clock and rendered in 128-frame blocks, as a worklet
 * is; `stall(ms)` stops both (the whole page paused), then renders the lost time at once
 * before the audio that waited comes in, as WebKitGTK did.
 */
function session() {
  const playout = new Playout({ channels: 1, targetSamples: 960 * 3 }, RATE, () => {});
  let wallMs = 0;
  let frame = 0;
  let sent = 0;
  const render = () => {
    playout.render([new Float32Array(BLOCK)], frame, wallMs);
    frame += BLOCK;
  };
  const feed = () => {
    for (; sent * 20 <= wallMs; sent++) {
      playout.onMessage({ type: 'pcm', samples: new Float32Array(960).fill(0.3) });
    }
  };
  return {
    playout,
    /** @param {number} ms  of steady play */
    play(ms) {
      for (const end = wallMs + ms; wallMs < end; wallMs += BLOCK_MS) {
        feed();
        render();
      }
    },
    /** @param {number} ms  the pause: then the catch-up, before the frames that waited */
    stall(ms) {
      wallMs += ms;
      for (let i = 0; i < Math.round(ms / BLOCK_MS); i++) render();
    },
    /** @param {number} ms  frames stop coming (the network), the output plays on */
    starve(ms) {
      for (const end = wallMs + ms; wallMs < end; wallMs += BLOCK_MS) render();
      sent = Math.ceil(wallMs / 20); // what was due meanwhile never comes
    },
  };
}

describe('Playout: the engine pausing', () => {
  test("a pause longer than the margin underruns, and the stats say it was the pause's", () => {
    const s = session();
    s.play(3000);
    assert.equal(s.playout.stats().underruns, 0);
    s.stall(156);
    s.play(1000);
    const stats = s.playout.stats();
    assert.equal(stats.underruns, 1);
    assert.equal(stats.pauses, 1);
    assert.ok(Math.abs(stats.longestPauseMs - 156) < BLOCK_MS, `${stats.longestPauseMs}`);
    assert.equal(stats.pauseUnderruns, 1);
  });

  test("audio that stops coming underruns on its own: no pause, not the engine's", () => {
    const s = session();
    s.play(3000);
    s.starve(300);
    s.play(1000);
    const stats = s.playout.stats();
    assert.equal(stats.underruns, 1);
    assert.equal(stats.pauses, 0);
    assert.equal(stats.pauseUnderruns, 0);
  });
});
