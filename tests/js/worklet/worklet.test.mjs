// Tests for listener_web/worklet/worklet.js in a stand-in AudioWorkletGlobalScope: run with
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
  await import('../../../listener_web/worklet/worklet.js');
});

function makeProcessor(channels = 1) {
  const Player = registered.get('broadcaster-player');
  const proc = new Player({ processorOptions: { channels, targetSamples: 960 } });
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
    send({ type: 'target', targetSamples: 1920 }); // two packets: room for the 7/8 cadence
    for (let i = 0; i < 50; i++) {
      send({ type: 'pcm', samples: new Float32Array(960).fill(0.1) });
      render(proc, 1, i % 2 ? 7 : 8); // 20 ms per packet: one second in all
    }
    const stats = proc.posted.filter((m) => m.type === 'stats');
    assert.ok(stats.length >= 3 && stats.length <= 5, `${stats.length} stats messages`);
    const last = stats.at(-1);
    assert.equal(last.underruns, 0);
    assert.equal(last.drops, 0);
    for (const key of ['depthSamples', 'targetSamples', 'maxSamples', 'jitterSamples', 'ratio', 'driftPpm']) {
      assert.ok(Number.isFinite(last[key]), `${key}: ${last[key]}`);
    }
    assert.ok(last.targetSamples >= 960 && last.maxSamples > last.targetSamples);
    assert.ok(Math.abs(last.ratio - 1) <= 0.001);
    assert.equal(last.playing, true);
    assert.equal(last.captureMs, null, 'no capture times were given');
  });

  test('reports the capture time of the sample at the read head, with its context time', () => {
    const { proc, send } = makeProcessor();
    render(proc, 1, 3); // the context has been running for a while
    send({ type: 'pcm', samples: new Float32Array(960).fill(0.1), captureMs: 5000 });
    send({ type: 'pcm', samples: new Float32Array(960).fill(0.1), captureMs: 5020 });
    render(proc, 1, 2);
    send({ type: 'stats' });
    const stats = proc.posted.at(-1);
    assert.equal(stats.frame, globalThis.currentFrame, 'the next quantum starts there');
    assert.equal(stats.contextTime, globalThis.currentFrame / 48000);
    // Playback started with what had piled up (both packets: an output that starts late
    // takes it back in a burst), with the first quantum after the PCM; 256 samples since.
    assert.equal(stats.captureMs, 5000 + (256 * 1000) / 48000);
  });

  test('takes new limits for the target', () => {
    const { proc, send } = makeProcessor();
    send({ type: 'target', targetSamples: 4800, floorSamples: 2400, ceilingSamples: 9600 });
    send({ type: 'stats' });
    assert.equal(proc.posted.at(-1).targetSamples, 4800);
    send({ type: 'target', targetSamples: 100 });
    send({ type: 'stats' });
    assert.equal(proc.posted.at(-1).targetSamples, 2400, 'the floor stays');
  });

  test('answers a stats request and counts an underrun, not an expected end', () => {
    const { proc, send } = makeProcessor(2);
    send({ type: 'pcm', samples: new Float32Array(2 * 960).fill(0.2) });
    send({ type: 'end', expected: true });
    render(proc, 2, 20);
    send({ type: 'pcm', samples: new Float32Array(2 * 960).fill(0.2) });
    send({ type: 'end', expected: false });
    const { out } = render(proc, 2, 40);
    assert.equal(out[0][1][127], 0, 'silent once drained');
    send({ type: 'stats' });
    const stats = proc.posted.at(-1);
    assert.equal(stats.type, 'stats');
    assert.equal(stats.underruns, 1);
    assert.ok(stats.depthSamples < 3, `left ${stats.depthSamples}`); // the interpolator's lookahead
  });

  test('rejects unknown messages', () => {
    const { send } = makeProcessor();
    assert.throws(() => send({ type: 'bogus' }), /unknown message/);
  });
});
