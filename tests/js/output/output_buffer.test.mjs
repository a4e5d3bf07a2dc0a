import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  GLITCHES_TO_WIDEN, GLITCH_WINDOW_MS, GlitchWatch, firstOutputBuffer, latencyHint,
  scriptProcessorBlock,
} from '../../../listener_web/output/output_buffer.js';

describe('scriptProcessorBlock', () => {
  test('512 frames on a steady render thread (Chromium), 2048 where it renders in bursts', () => {
    assert.equal(scriptProcessorBlock({ countsGlitches: true }), 512);
    assert.equal(scriptProcessorBlock({ countsGlitches: false }), 2048);
  });
});

describe('firstOutputBuffer', () => {
  test('the smallest only with an AudioWorklet, and where the browser counts glitches', () => {
    assert.equal(firstOutputBuffer({ worklet: true, countsGlitches: true }), 'smallest');
    assert.equal(firstOutputBuffer({ worklet: true, countsGlitches: false }), 'interactive');
    assert.equal(firstOutputBuffer({ worklet: false, countsGlitches: true }), 'interactive');
  });
});

describe('latencyHint', () => {
  test('the smallest buffer asks for 0 s, the other for the platform\'s interactive size', () => {
    assert.equal(latencyHint('smallest'), 0);
    assert.equal(latencyHint('interactive'), 'interactive');
  });
});

describe('GlitchWatch', () => {
  test('a browser that does not count glitches never widens', () => {
    const watch = new GlitchWatch();
    for (let s = 0; s < 100; s++) assert.equal(watch.check(null, s * 1000), false);
  });

  test('glitches before the first look do not count (a context may glitch as it starts)', () => {
    const watch = new GlitchWatch();
    assert.equal(watch.check(50, 0), false);
    assert.equal(watch.check(50, 1000), false);
    assert.equal(watch.check(50 + GLITCHES_TO_WIDEN - 1, 2000), false);
    assert.equal(watch.check(50 + GLITCHES_TO_WIDEN, 3000), true);
  });

  test('a glitch now and then is no reason to widen; that many within the window is', () => {
    const watch = new GlitchWatch();
    let total = 0;
    watch.check(total, 0);
    // One glitch a little less often than once a window: never two within one.
    for (let t = 1000; t < 20 * GLITCH_WINDOW_MS; t += 1000) {
      if (t % (GLITCH_WINDOW_MS + 1000) === 0) total += 1;
      assert.equal(watch.check(total, t), false, `at ${t} ms`);
    }
    // Then a burst of them.
    const at = 20 * GLITCH_WINDOW_MS;
    assert.equal(watch.check(total + GLITCHES_TO_WIDEN, at), true);
  });

  test('glitches age out of the window', () => {
    const watch = new GlitchWatch(3, 10000);
    watch.check(0, 0);
    assert.equal(watch.check(2, 1000), false);
    assert.equal(watch.check(2, 12000), false);
    assert.equal(watch.check(3, 13000), false); // the first two are out of the window
    assert.equal(watch.check(5, 14000), true);
  });
});
