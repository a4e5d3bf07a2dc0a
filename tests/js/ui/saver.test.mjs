// Tests for listener_web/ui/saver.js's pure parts: run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { SAVER_BUNDLE_MS, bundleMsFor, parseSaver } from '../../../listener_web/ui/saver.js';

describe('the battery saver', () => {
  test('is remembered on only when stored on; anything else is off', () => {
    assert.equal(parseSaver('{"on":true}'), true);
    for (const stored of [null, '{"on":false}', '{"on":"yes"}', 'true', '[true]', 'null', '{', '']) {
      assert.equal(parseSaver(stored), false, String(stored));
    }
  });

  test('asks for half-second bundles when on, frame by frame when off', () => {
    assert.equal(SAVER_BUNDLE_MS, 500);
    assert.equal(bundleMsFor(true), 500);
    assert.equal(bundleMsFor(false), 0);
  });
});
