// Tests for listener_web/decoding/outlet.js: run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { PcmOutlet } from '../../../listener_web/decoding/outlet.js';

/** An outlet whose packets were captured 20 ms apart, and what it pushed. */
function outlet() {
  const pushed = [];
  const asked = [];
  const out = new PcmOutlet((id) => {
    asked.push(id);
    return 20 * id;
  });
  out.connect((samples, captureMs) => pushed.push([Array.from(samples), captureMs]));
  return { out, pushed, asked };
}

describe('PcmOutlet', () => {
  test('pushes each block on, dated once, before any connection starts', () => {
    const { out, pushed, asked } = outlet();
    out.take(new Float32Array([1, 2]), 7);
    out.take(new Float32Array([3]), 8);
    assert.deepEqual(pushed, [[[1, 2], 140], [[3], 160]]);
    assert.deepEqual(asked, [7, 8]);
  });

  test("holds a connection's first audio and pushes it in one piece", () => {
    const { out, pushed } = outlet();
    out.start(10, 13); // 10, 11 and 12 were captured before the connection
    out.take(new Float32Array([1]), 10);
    out.take(new Float32Array([2]), 11);
    assert.deepEqual(pushed, []);
    out.take(new Float32Array([3]), 12);
    out.take(new Float32Array([4]), 13);
    assert.deepEqual(pushed, [[[1, 2, 3], 200], [[4], 260]]);
  });

  test('drops what comes before it is connected, and a new output takes the rest', () => {
    const pushed = [];
    const out = new PcmOutlet(() => undefined);
    out.take(new Float32Array([1]), 1);
    out.connect((samples, captureMs) => pushed.push([samples[0], captureMs]));
    out.take(new Float32Array([2]), 2);
    assert.deepEqual(pushed, [[2, undefined]]);
  });
});
