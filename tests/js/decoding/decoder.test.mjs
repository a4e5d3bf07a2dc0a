// Tests for the choice of decoder in listener_web/decoder.js, with stand-ins for WebCodecs
// and for the page's <script> loading: run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { afterEach, before, describe, test } from 'node:test';

/** @type {typeof import('../../../listener_web/decoding/decoder.js')} */
let decoder;

/** URL -> what loading it does: define the library, define nothing, or fail (404). */
const served = new Map();
const requested = [];

class FakeWasmDecoder {
  constructor(options) {
    this.options = options;
    this.ready = Promise.resolve();
  }

  decodeFrame() {
    return { channelData: [new Float32Array(960).fill(0.25)], samplesDecoded: 960, errors: [] };
  }

  free() {}
}

before(async () => {
  globalThis.document = {
    createElement: () => ({ remove() {} }),
    head: {
      append(script) {
        requested.push(script.src);
        const behaviour = served.get(script.src) ?? 'missing';
        setTimeout(() => {
          if (behaviour === 'missing') {
            script.onerror();
            return;
          }
          if (behaviour === 'library') globalThis['opus-decoder'] = { OpusDecoder: FakeWasmDecoder };
          script.onload();
        }, 0);
      },
    },
  };
  decoder = await import('../../../listener_web/decoding/decoder.js');
});

afterEach(() => {
  delete globalThis.AudioDecoder;
  delete globalThis['opus-decoder'];
  globalThis.isSecureContext = undefined;
  requested.length = 0;
});

/** A WebCodecs AudioDecoder that supports Opus, or says it does not. */
function webCodecs(supported) {
  globalThis.AudioDecoder = { isConfigSupported: async (config) => ({ supported, config }) };
}

describe('chooseDecoder()', () => {
  test('takes WebCodecs where it decodes Opus, without loading the WebAssembly decoder', async () => {
    globalThis.isSecureContext = true;
    webCodecs(true);
    assert.equal(await decoder.chooseDecoder(1, '/vendor/a.js'), 'webcodecs');
    assert.deepEqual(requested, []);
  });

  test('falls back to WebAssembly without WebCodecs Opus', async () => {
    globalThis.isSecureContext = true;
    webCodecs(false);
    served.set('/vendor/b.js', 'library');
    assert.equal(await decoder.chooseDecoder(1, '/vendor/b.js'), 'wasm');
    assert.deepEqual(requested, ['/vendor/b.js']);
  });

  test('falls back to WebAssembly in a page that is no secure context', async () => {
    globalThis.isSecureContext = false;
    webCodecs(true); // a browser would hide it there; the page does not ask
    served.set('/vendor/c.js', 'library');
    assert.equal(await decoder.chooseDecoder(2, '/vendor/c.js'), 'wasm');
  });

  test('loads the script once for every later choice', async () => {
    globalThis.isSecureContext = false;
    served.set('/vendor/d.js', 'library');
    await decoder.chooseDecoder(1, '/vendor/d.js');
    await decoder.chooseDecoder(1, '/vendor/d.js');
    assert.deepEqual(requested, ['/vendor/d.js']);
  });

  test('says why nothing works when the WebAssembly decoder is missing, and retries later', async () => {
    globalThis.isSecureContext = false;
    await assert.rejects(decoder.chooseDecoder(1, '/vendor/e.js'), (err) => {
      assert.ok(err instanceof decoder.DecoderUnavailableError);
      assert.match(err.message, /not a secure context/);
      assert.match(err.message, /fallback Opus decoder did not load/);
      assert.match(err.message, /\/vendor\/e\.js is missing on the server/);
      assert.match(err.message, /scripts\/setup\.sh/);
      return true;
    });
    served.set('/vendor/e.js', 'library'); // installed meanwhile
    assert.equal(await decoder.chooseDecoder(1, '/vendor/e.js'), 'wasm');
  });

  test('a script that defines no decoder is no decoder', async () => {
    globalThis.isSecureContext = true;
    served.set('/vendor/f.js', 'nothing');
    await assert.rejects(decoder.chooseDecoder(1, '/vendor/f.js'), /lacks WebCodecs.*did not define OpusDecoder/);
  });
});

describe('OpusDecoder', () => {
  test('kind "wasm" decodes through the WebAssembly library with the same callbacks', async () => {
    served.set('/vendor/opus-decoder/opus-decoder.min.js', 'library');
    const got = [];
    const opus = new decoder.OpusDecoder({
      kind: 'wasm',
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
    const opus = new decoder.OpusDecoder({ channels: 1, frameMs: 20, onPcm() {}, onError() {} });
    assert.equal(opus.kind, 'webcodecs');
    assert.ok(opus.impl instanceof decoder.WebCodecsOpusDecoder);
  });
});
