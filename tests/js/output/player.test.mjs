// Tests for listener_web/output/player.js with stand-ins for AudioContext and AudioWorkletNode:
// run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

/** @type {typeof import('../../../listener_web/output/player.js')} */
let player;

class FakeContext {
  constructor(options) {
    this.options = options;
    this.state = 'running';
    this.currentTime = 0;
    this.baseLatency = 0.01;
    this.outputLatency = 0.03;
    this.destination = {};
    this.audioWorklet = { addModule: async () => {} };
    /** @type {{contextTime: number, performanceTime: number} | undefined} */
    this.timestamp = undefined;
  }

  getOutputTimestamp() {
    return this.timestamp ?? { contextTime: 0, performanceTime: 0 };
  }

  async close() {
    this.state = 'closed';
  }
}

class FakeNode {
  constructor(ctx, name, options) {
    this.name = name;
    this.options = options;
    this.posted = [];
    this.port = {
      onmessage: null,
      postMessage: (msg, transfer) => this.posted.push({ msg, transfer }),
    };
  }

  connect() {}

  disconnect() {}
}

before(async () => {
  globalThis.AudioContext = FakeContext;
  globalThis.AudioWorkletNode = FakeNode;
  player = await import('../../../listener_web/output/player.js');
});

/** A configured Player and its node; `stats` collects what reached onStats. */
function makePlayer() {
  const stats = [];
  const p = new player.Player((s) => stats.push(s));
  p.configure(1, player.jitterTarget(20));
  return { p, node: /** @type {FakeNode} */ (p.node), stats };
}

describe('Player', () => {
  test('jitterTarget() gives the worklet where the adaptive target starts and its limits', () => {
    assert.deepEqual(player.jitterTarget(20), {
      targetSamples: 2400,
      floorSamples: 960,
      ceilingSamples: 24000,
    });
    assert.equal(player.jitterTarget(60).floorSamples, 2880, 'never below one packet');
  });

  test('configure() hands the limits to the worklet', () => {
    const { node } = makePlayer();
    assert.equal(node.name, 'broadcaster-player');
    assert.deepEqual(node.options.processorOptions, {
      channels: 1,
      targetSamples: 2400,
      floorSamples: 960,
      ceilingSamples: 24000,
    });
  });

  test('push() sends the capture time along and transfers the samples', () => {
    const { p, node } = makePlayer();
    const samples = new Float32Array(960);
    p.push(samples, 1234.5);
    const { msg, transfer } = node.posted.at(-1);
    assert.deepEqual(msg, { type: 'pcm', samples, captureMs: 1234.5 });
    assert.deepEqual(transfer, [samples.buffer]);
  });

  test('keeps the latest figures for the UI', () => {
    const { p, node, stats } = makePlayer();
    assert.equal(p.figures, null);
    const figures = { type: 'stats', depthSamples: 2000, captureMs: null, contextTime: 1 };
    node.port.onmessage({ data: figures });
    node.port.onmessage({ data: { type: 'other' } });
    assert.equal(p.figures, figures);
    assert.deepEqual(stats, [figures]);
  });

  test('latencyMs() is when the named sample is heard minus when it was captured', () => {
    const { p, node } = makePlayer();
    node.port.onmessage({ data: { type: 'stats', captureMs: null, contextTime: 5 } });
    assert.equal(p.latencyMs(0), null, 'no capture times yet');
    // The sample leaving the worklet at context time 5.0 s was captured at wall time T.
    const T = performance.timeOrigin + 150;
    node.port.onmessage({ data: { type: 'stats', captureMs: T, contextTime: 5 } });
    // The device plays context time 4.9 s at page time 100 ms: 5.0 s is heard at 200 ms.
    p.ctx.timestamp = { contextTime: 4.9, performanceTime: 100 };
    assert.ok(Math.abs(p.latencyMs(0) - 50) < 1e-6, `${p.latencyMs(0)}`);
    // With the server's clock 20 ms ahead of ours, the capture was 20 ms earlier for us.
    assert.ok(Math.abs(p.latencyMs(20) - 70) < 1e-6);
    // Without an output timestamp: now, plus what is left before contextTime, plus latency.
    p.ctx.timestamp = undefined;
    p.ctx.currentTime = 4.99;
    const expected = Date.now() + 10 + 40 - T;
    assert.ok(Math.abs(p.latencyMs(0) - expected) < 50, `${p.latencyMs(0)} vs ${expected}`);
  });
});
