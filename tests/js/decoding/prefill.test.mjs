// Tests for listener_web/decoding/prefill.js: run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Prefill } from '../../../listener_web/decoding/prefill.js';

const pcm = (/** @type {number} */ value, n = 4) => new Float32Array(n).fill(value);

test('without a backlog every packet passes at once', () => {
  const prefill = new Prefill(100, 100);
  assert.deepEqual(prefill.add(pcm(1), 100, 5), { samples: pcm(1), captureMs: 5 });
  assert.deepEqual(prefill.add(pcm(2), 101, undefined), { samples: pcm(2), captureMs: undefined });
});

test('the backlog is held and handed over in one piece with its first capture time', () => {
  const prefill = new Prefill(100, 103);
  assert.equal(prefill.add(pcm(1), 100, 7), null);
  assert.equal(prefill.add(pcm(2), 101, 27), null);
  const piece = prefill.add(pcm(3), 102, 47);
  assert.deepEqual([...(piece?.samples ?? [])], [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
  assert.equal(piece?.captureMs, 7);
  assert.deepEqual(prefill.add(pcm(4), 103, 67), { samples: pcm(4), captureMs: 67 });
});

test('a live packet ends the backlog even when some of it never came', () => {
  const prefill = new Prefill(100, 103);
  assert.equal(prefill.add(pcm(1), 100, undefined), null);
  const piece = prefill.add(pcm(4), 103, 67); // 101 and 102 were skipped
  assert.deepEqual([...(piece?.samples ?? [])], [1, 1, 1, 1, 4, 4, 4, 4]);
  assert.deepEqual(prefill.add(pcm(5), 104, 87), { samples: pcm(5), captureMs: 87 });
});

test('a packet of an earlier connection still decoding passes through', () => {
  const prefill = new Prefill(100, 103);
  assert.deepEqual(prefill.add(pcm(9), 99, 1), { samples: pcm(9), captureMs: 1 });
  assert.equal(prefill.add(pcm(1), 100, undefined), null);
});

test("a stream from another moment drops the earlier stream's audio still decoding", () => {
  // A replay from 100 (burst to 103) after live 5000..5002: their outputs come first.
  const replay = new Prefill(100, 103, true);
  assert.equal(replay.add(pcm(9), 5001, 1), null);
  assert.equal(replay.add(pcm(9), 5002, 1), null);
  assert.equal(replay.add(pcm(1), 100, 7), null);
  assert.ok(replay.add(pcm(3), 102, 47));
  // Live again from 5100 after the replay's 130: older ids are the replay's.
  const live = new Prefill(5100, 5105, true);
  assert.equal(live.add(pcm(9), 130, 1), null);
  assert.equal(live.add(pcm(1), 5100, 7), null);
  // A few at most: then whatever comes plays (its first packets failed to decode, say).
  const lost = new Prefill(100, 100, true);
  for (let i = 0; i < 8; i++) assert.equal(lost.add(pcm(9), 7000 + i, 1), null);
  assert.ok(lost.add(pcm(1), 105, 1));
});
