// Tests for listener_web/decoding/decoder.js (the codec by kind, and decoding on the main
// thread): run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { MainThreadDecoder, OpusDecoder } from '../../../listener_web/decoding/decoder.js';
import { WebCodecsOpusDecoder } from '../../../listener_web/decoding/webcodecs_decoder.js';
import { FakeWasmDecoder } from './fakes.mjs';

describe('OpusDecoder', () => {
  test('kind "wasm" decodes through the WebAssembly library with the same callbacks', async () => {
    const got = [];
    const opus = new OpusDecoder({
      kind: 'wasm',
      library: FakeWasmDecoder,
      channels: 1,
      frameMs: 20,
      onPcm: (samples, id) => got.push([samples.length, samples[0], id]),
      onError: (err) => assert.fail(err),
    });
    assert.equal(opus.kind, 'wasm');
    opus.decode(new Uint8Array([0xf8]), 5000);
    while (got.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    assert.deepEqual(got, [[960, 0.25, 5000]]);
    assert.equal(opus.lastId, 5000);
    assert.equal(opus.errors, 0);
    opus.close();
  });

  test('the default kind is WebCodecs', () => {
    const opus = new OpusDecoder({ channels: 1, frameMs: 20, onPcm() {}, onError() {} });
    assert.equal(opus.kind, 'webcodecs');
    assert.ok(opus.impl instanceof WebCodecsOpusDecoder);
  });
});

describe('MainThreadDecoder', () => {
  test("decodes into the output it is connected to, dated, a connection's first audio in one piece", async () => {
    const pushed = [];
    const decoder = new MainThreadDecoder({
      kind: 'wasm',
      library: FakeWasmDecoder,
      channels: 1,
      frameMs: 20,
      captureMsOf: (id) => 20 * id,
      onError: (err) => assert.fail(err),
    });
    decoder.connect({ push: (samples, captureMs) => pushed.push([samples.length, captureMs]), feedPort: () => null });
    decoder.startConnection(50, 52);
    for (const id of [50, 51, 52]) decoder.decode(new Uint8Array([0xf8]), id);
    while (pushed.length < 2) await new Promise((resolve) => setTimeout(resolve, 1));
    assert.deepEqual(pushed, [[2 * 960, 1000], [960, 1040]]);
    decoder.close();
  });
});
