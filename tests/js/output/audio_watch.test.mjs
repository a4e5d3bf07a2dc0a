// Tests for listener_web/output/audio_watch.js: run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { AudioWatch } from '../../../listener_web/output/audio_watch.js';

describe('AudioWatch', () => {
  test('a running context whose clock advances is fine', () => {
    const watch = new AudioWatch(2000);
    for (let s = 0; s < 10; s++) assert.equal(watch.check('running', s, 1000 * s), 'ok');
  });

  test('a running context whose clock stands still over 2 s is recreated', () => {
    const watch = new AudioWatch(2000);
    watch.check('running', 0, 0);
    watch.check('running', 1, 1000);
    assert.equal(watch.check('running', 1, 2000), 'ok');
    assert.equal(watch.check('running', 1, 3000), 'ok');
    assert.equal(watch.check('running', 1, 3001), 'recreate');
  });

  test('a context that ran and stopped is resumed once, then recreated if it stays stopped', () => {
    const watch = new AudioWatch(2000);
    watch.check('running', 0, 0);
    watch.check('running', 1, 1000);
    assert.equal(watch.check('interrupted', 1, 2000), 'resume');
    assert.equal(watch.check('interrupted', 1, 3000), 'ok');
    assert.equal(watch.check('suspended', 1, 4001), 'recreate');
  });

  test('one look at a running clock past 0 is enough to know the context played', () => {
    const watch = new AudioWatch(2000);
    assert.equal(watch.check('running', 0.4, 0), 'ok');
    assert.equal(watch.check('suspended', 0.4, 1000), 'resume');
  });

  test('a resumed context that runs again is fine, and its clock is timed afresh', () => {
    const watch = new AudioWatch(2000);
    watch.check('running', 0, 0);
    watch.check('running', 1, 1000);
    assert.equal(watch.check('suspended', 1, 2000), 'resume');
    assert.equal(watch.check('running', 1, 9000), 'ok'); // stood still while suspended
    assert.equal(watch.check('running', 2, 10000), 'ok');
    assert.equal(watch.check('suspended', 2, 11000), 'resume');
  });

  test('a context that never ran is the browser blocking sound: left to the tap', () => {
    const watch = new AudioWatch(2000);
    for (let t = 0; t < 10000; t += 1000) assert.equal(watch.check('suspended', 0, t), 'ok');
    assert.equal(watch.check('closed', 0, 10000), 'ok');
  });
});
