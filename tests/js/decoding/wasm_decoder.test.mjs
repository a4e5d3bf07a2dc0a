// Tests for listener_web/decoding/wasm_decoder.js, with a stand-in decoder library and, when
// `npm ci` has installed it, the real opus-decoder (libopus in WebAssembly): run with
// `node --test tests/js/`.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';

import { WasmOpusDecoder } from '../../../listener_web/decoding/wasm_decoder.js';

const REAL_LIBRARY = new URL('../../../node_modules/opus-decoder/index.js', import.meta.url);
// A TOC byte alone: CELT fullband 20 ms, one frame of no data (the encoder's DTX), which
// libopus decodes to 20 ms of concealment.
const EMPTY_20MS = new Uint8Array([0xf8]);

/** A stand-in for opus-decoder's OpusDecoder: each packet's first byte is its PCM value. */
function fakeLibrary() {
  const made = [];
  let release;
  const ready = new Promise((resolve) => { release = resolve; });
  class Fake {
    constructor(options) {
      this.options = options;
      this.ready = ready;
      this.freed = false;
      made.push(this);
    }

    decodeFrame(packet) {
      if (packet[0] === 255) {
        return { channelData: [], samplesDecoded: 0, errors: [{ message: 'libopus -4 OPUS_INVALID_PACKET' }] };
      }
      const planes = Array.from({ length: this.options.channels },
        (_, c) => new Float32Array(4).fill(packet[0] + c / 10));
      return { channelData: planes, samplesDecoded: 4, errors: [] };
    }

    free() {
      this.freed = true;
    }
  }
  return { Fake, made, release: () => release() };
}

function collector(channels = 1) {
  const pcm = [];
  const errors = [];
  return {
    pcm,
    errors,
    options: {
      channels,
      onPcm: (samples, id) => pcm.push([Array.from(samples, (x) => Math.round(x * 10) / 10), id]),
      onError: (err) => errors.push(err.message),
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('WasmOpusDecoder', () => {
  test('holds packets until the decoder is ready, then decodes them in order with their ids', async () => {
    const { Fake, made, release } = fakeLibrary();
    const { pcm, errors, options } = collector();
    const decoder = new WasmOpusDecoder(Promise.resolve(Fake), options);
    decoder.decode(new Uint8Array([1]), 100);
    decoder.decode(new Uint8Array([2]), 101);
    await settle();
    assert.deepEqual(made[0].options, { channels: 1, sampleRate: 48000 });
    assert.deepEqual(pcm, [], 'nothing before ready');
    release();
    await settle();
    decoder.decode(new Uint8Array([3]), 102);
    assert.deepEqual(pcm.map(([, id]) => id), [100, 101, 102]);
    assert.deepEqual(pcm[0][0], [1, 1, 1, 1]);
    assert.equal(decoder.lastId, 102);
    assert.deepEqual(errors, []);
  });

  test('interleaves stereo', async () => {
    const { Fake, release } = fakeLibrary();
    const { pcm, options } = collector(2);
    const decoder = new WasmOpusDecoder(Fake, options);
    release();
    await settle();
    decoder.decode(new Uint8Array([2]), 7);
    assert.deepEqual(pcm[0][0], [2, 2.1, 2, 2.1, 2, 2.1, 2, 2.1]);
  });

  test('a packet that fails is reported and skipped; the next one plays', async () => {
    const { Fake, release } = fakeLibrary();
    const { pcm, errors, options } = collector();
    const decoder = new WasmOpusDecoder(Fake, options);
    release();
    await settle();
    decoder.decode(new Uint8Array([255]), 1);
    decoder.decode(new Uint8Array([4]), 2);
    assert.deepEqual(errors, ['libopus -4 OPUS_INVALID_PACKET']);
    assert.equal(decoder.errors, 1);
    assert.deepEqual(pcm.map(([, id]) => id), [2]);
  });

  test('close() drops waiting packets and frees the decoder, even one not ready yet', async () => {
    const { Fake, made, release } = fakeLibrary();
    const { pcm, options } = collector();
    const decoder = new WasmOpusDecoder(Fake, options);
    decoder.decode(new Uint8Array([1]), 1);
    decoder.close();
    release();
    await settle();
    assert.equal(made[0].freed, true);
    decoder.decode(new Uint8Array([1]), 2);
    assert.deepEqual(pcm, []);
  });

  test('a library that fails to load is reported', async () => {
    const { errors, options } = collector();
    new WasmOpusDecoder(Promise.reject(new Error('no WebAssembly here')), options);
    await settle();
    assert.deepEqual(errors, ['no WebAssembly here']);
  });

  test('decodes with the real libopus', { skip: !existsSync(REAL_LIBRARY) && 'npm ci has not run' }, async () => {
    const { OpusDecoder } = await import(REAL_LIBRARY.href);
    for (const channels of [1, 2]) {
      const got = [];
      const decoder = new WasmOpusDecoder(OpusDecoder, {
        channels,
        onPcm: (samples, id) => got.push({ samples, id }),
        onError: (err) => assert.fail(err),
      });
      decoder.decode(EMPTY_20MS, 41);
      decoder.decode(EMPTY_20MS, 42);
      while (got.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
      decoder.close();
      assert.deepEqual(got.map(({ id }) => id), [41, 42]);
      assert.ok(got[0].samples instanceof Float32Array);
      assert.equal(got[0].samples.length, 960 * channels, '20 ms at 48 kHz per channel');
      assert.ok(got[0].samples.every((x) => Math.abs(x) < 1e-3), 'concealment of nothing is silence');
    }
  });
});
