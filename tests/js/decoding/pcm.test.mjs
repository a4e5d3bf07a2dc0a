// Tests for listener_web/decoding/pcm.js: run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { interleave } from '../../../listener_web/decoding/pcm.js';

describe('interleave()', () => {
  test('passes one channel through and interleaves two', () => {
    const mono = new Float32Array([1, 2, 3]);
    assert.equal(interleave([mono], 1, 3), mono);
    const stereo = interleave([new Float32Array([1, 2]), new Float32Array([5, 6])], 2, 2);
    assert.deepEqual(Array.from(stereo), [1, 5, 2, 6]);
  });

  test('repeats the last plane when the decoder gave fewer channels', () => {
    assert.deepEqual(Array.from(interleave([new Float32Array([1, 2])], 2, 2)), [1, 1, 2, 2]);
  });
});
