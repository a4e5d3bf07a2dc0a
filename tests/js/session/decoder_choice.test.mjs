// Tests for the choice of decoder in listener_web/session/decoder_choice.js, with stand-ins
// for WebCodecs, for the page's <script> loading and for a decoder Worker: run with
// `node --test tests/js/`.
import assert from 'node:assert/strict';
import { afterEach, before, describe, test } from 'node:test';

import { FakeWasmDecoder } from '../decoding/fakes.mjs';

/** @type {typeof import('../../../listener_web/session/decoder_choice.js')} */
let decoder;

/** URL -> what loading it does: define the library, define nothing, or fail (404). */
const served = new Map();
const requested = [];

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
  decoder = await import('../../../listener_web/session/decoder_choice.js');
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

  test('takes WebCodecs in a page that is no secure context where the browser keeps it', async () => {
    globalThis.isSecureContext = false;
    webCodecs(true); // WebKit on plain http: AudioDecoder, but no AudioWorklet
    assert.equal(await decoder.chooseDecoder(2, '/vendor/c.js'), 'webcodecs');
    assert.deepEqual(requested, []);
  });

  test('falls back to WebAssembly where a page that is no secure context has no WebCodecs', async () => {
    globalThis.isSecureContext = false; // Chromium and Firefox hide AudioDecoder there
    served.set('/vendor/c.js', 'library');
    assert.equal(await decoder.chooseDecoder(2, '/vendor/c.js'), 'wasm');
    assert.deepEqual(requested, ['/vendor/c.js']);
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

/** A stand-in decoder Worker: what it was sent, and a way to make it fail as one that cannot load. */
class FakeWorker {
  static made = [];

  constructor(url, options) {
    this.url = String(url);
    this.options = options;
    this.sent = [];
    this.listeners = [];
    this.terminated = false;
    FakeWorker.made.push(this);
  }

  addEventListener(type, listener) {
    this.listeners.push([type, listener]);
  }

  postMessage(msg) {
    this.sent.push(msg.type);
  }

  terminate() {
    this.terminated = true;
  }

  fail() {
    const event = { message: 'could not load it', preventDefault() {} };
    for (const [type, listener] of this.listeners) if (type === 'error') listener(event);
  }
}

/** A stand-in WebCodecs AudioDecoder: each chunk becomes 960 samples of 0.5, soon after. */
class FakeAudioDecoder {
  constructor({ output }) {
    this.output = output;
    this.state = 'unconfigured';
  }

  configure() {
    this.state = 'configured';
  }

  decode() {
    setTimeout(() => this.output({
      numberOfFrames: 960,
      numberOfChannels: 1,
      copyTo: (plane) => plane.fill(0.5),
      close() {},
    }), 0);
  }

  close() {
    this.state = 'closed';
  }
}

/** The player StreamDecoder decodes into: a worklet output, and what reached it. */
function sink() {
  const pushed = [];
  return {
    pushed,
    decoderKind: 'webcodecs',
    outputKind: 'worklet',
    push: (samples, captureMs) => pushed.push([samples.length, captureMs]),
    feedPort: () => ({ name: 'port' }),
  };
}

describe('StreamDecoder', () => {
  test('decodes WebCodecs in a Worker that feeds the worklet, and on the main thread once it fails', async () => {
    globalThis.Worker = FakeWorker;
    globalThis.AudioDecoder = FakeAudioDecoder;
    globalThis.EncodedAudioChunk = class { constructor(init) { Object.assign(this, init); } };
    const warned = [];
    const warn = console.warn;
    console.warn = (...args) => warned.push(args.join(' '));
    try {
      const output = sink();
      const stream = new decoder.StreamDecoder({ captureMsOf: (id) => 20 * id, onError: assert.fail });
      stream.configure(1, 20, output);
      stream.startConnection(100, 102);
      stream.decode(new Uint8Array([1]), 99);
      const [worker] = FakeWorker.made;
      assert.deepEqual(worker.sent, ['configure', 'port', 'prefill', 'packet']);

      worker.fail();
      assert.equal(worker.terminated, true);
      assert.match(warned.join('\n'), /could not load it; decoding on the main thread/);
      // The main thread takes over the output and the connection: its first audio in one piece.
      for (const id of [100, 101, 102]) stream.decode(new Uint8Array([1]), id);
      while (output.pushed.length < 2) await new Promise((resolve) => setTimeout(resolve, 1));
      assert.deepEqual(output.pushed, [[2 * 960, 2000], [960, 2040]]);

      stream.configure(2, 10, output); // a new stream configuration: still no Worker
      assert.equal(FakeWorker.made.length, 1);
      assert.equal(stream.workerFailed, true);
      stream.close();
    } finally {
      console.warn = warn;
      delete globalThis.Worker;
      delete globalThis.EncodedAudioChunk;
    }
  });

  test('decodes on the main thread without a worklet to feed', () => {
    globalThis.Worker = FakeWorker;
    FakeWorker.made.length = 0;
    try {
      const stream = new decoder.StreamDecoder({
        captureMsOf: () => undefined, onError: assert.fail, loadWasm: async () => FakeWasmDecoder,
      });
      stream.configure(1, 20, { ...sink(), decoderKind: 'wasm', outputKind: 'scriptprocessor' });
      assert.equal(FakeWorker.made.length, 0);
      assert.equal(stream.current.codec.kind, 'wasm');
      stream.close();
    } finally {
      delete globalThis.Worker;
    }
  });

  test('decodes WebCodecs on the main thread for a ScriptProcessor output (WebKit on plain http)', async () => {
    globalThis.Worker = FakeWorker;
    globalThis.AudioDecoder = FakeAudioDecoder;
    globalThis.EncodedAudioChunk = class { constructor(init) { Object.assign(this, init); } };
    FakeWorker.made.length = 0;
    try {
      const output = { ...sink(), outputKind: 'scriptprocessor' };
      const stream = new decoder.StreamDecoder({ captureMsOf: (id) => 20 * id, onError: assert.fail });
      stream.configure(1, 20, output);
      assert.equal(FakeWorker.made.length, 0);
      assert.equal(stream.current.codec.kind, 'webcodecs');
      stream.startConnection(100, 100);
      stream.decode(new Uint8Array([1]), 100);
      while (output.pushed.length < 1) await new Promise((resolve) => setTimeout(resolve, 1));
      assert.deepEqual(output.pushed, [[960, 2000]]);
      stream.close();
    } finally {
      delete globalThis.Worker;
      delete globalThis.EncodedAudioChunk;
    }
  });
});
