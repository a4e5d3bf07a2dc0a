// Tests for listener_web/worklet.js in a stand-in AudioWorkletGlobalScope: run with
// `node --test tests/js/`.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

/** @type {Map<string, any>} */
const registered = new Map();

before(async () => {
  globalThis.sampleRate = 48000;
  globalThis.currentFrame = 0;
  globalThis.AudioWorkletProcessor = class {
    constructor() {
      this.posted = [];
      this.port = { onmessage: null, postMessage: (msg) => this.posted.push(msg) };
    }
  };
  globalThis.registerProcessor = (name, cls) => registered.set(name, cls);
  await import('../../listener_web/worklet.js');
});

function makeProcessor(channels = 1) {
  const Player = registered.get('broadcaster-player');
  const proc = new Player({ processorOptions: { channels, targetSamples: 960, maxSamples: 4800 } });
  const send = (data) => proc.port.onmessage({ data });
  return { proc, send };
}

function render(proc, channels, blocks) {
  const out = [Array.from({ length: channels }, () => new Float32Array(128))];
  const seen = [];
  for (let i = 0; i < blocks; i++) {
    assert.equal(proc.process([], out), true, 'keeps the processor alive');
    globalThis.currentFrame += 128;
    seen.push(...out[0][0]);
  }
  return { out, seen };
}

describe('broadcaster-player worklet', () => {
  test('registers under its documented name', () => {
    assert.ok(registered.has('broadcaster-player'));
  });

  test('plays PCM messages after the target depth', () => {
    const { proc, send } = makeProcessor();
    send({ type: 'pcm', samples: new Float32Array(960).fill(0.5) });
    const { seen } = render(proc, 1, 4);
    assert.equal(seen.at(-1), 0.5);
  });

  test('posts stats while PCM arrives, at most four times a second', () => {
    const { proc, send } = makeProcessor();
    for (let i = 0; i < 50; i++) {
      send({ type: 'pcm', samples: new Float32Array(960).fill(0.1) });
      render(proc, 1, 7); // ~20 ms per packet: one second in all
    }
    const stats = proc.posted.filter((m) => m.type === 'stats');
    assert.ok(stats.length >= 3 && stats.length <= 5, `${stats.length} stats messages`);
    const last = stats.at(-1);
    assert.equal(last.underruns, 0);
    assert.equal(typeof last.depthSamples, 'number');
    assert.equal(last.playing, true);
  });

  test('answers a stats request and counts an underrun, not an expected end', () => {
    const { proc, send } = makeProcessor(2);
    send({ type: 'pcm', samples: new Float32Array(2 * 960).fill(0.2) });
    send({ type: 'end', expected: true });
    render(proc, 2, 20);
    send({ type: 'pcm', samples: new Float32Array(2 * 960).fill(0.2) });
    send({ type: 'end', expected: false });
    const { out } = render(proc, 2, 20);
    assert.equal(out[0][1][127], 0, 'silent once drained');
    send({ type: 'stats' });
    const stats = proc.posted.at(-1);
    assert.equal(stats.type, 'stats');
    assert.equal(stats.underruns, 1);
    assert.equal(stats.depthSamples, 0);
  });

  test('rejects unknown messages', () => {
    const { send } = makeProcessor();
    assert.throws(() => send({ type: 'bogus' }), /unknown message/);
  });
});
