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
    this.sampleRate = 48000;
    this.baseLatency = 0.01;
    this.outputLatency = 0.03;
    this.destination = {};
    this.audioWorklet = { addModule: async () => {} };
    /** @type {{contextTime: number, performanceTime: number} | undefined} */
    this.timestamp = undefined;
  }

  // Chromium's: where the page may read the device figures (player.deviceFiguresAreCheap).
  get playbackStats() {
    return { underrunEvents: 0 };
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
    // Frames in 500 ms bundles arrive up to 500 ms apart: a bundle more to start and at most.
    assert.deepEqual(player.jitterTarget(20, 500), {
      targetSamples: 26400,
      floorSamples: 960,
      ceilingSamples: 48000,
    });
    // On an engine that pauses whole (pause_margin.js): never below its margin.
    assert.deepEqual(player.jitterTarget(20, 0, 220), {
      targetSamples: 10560,
      floorSamples: 10560,
      ceilingSamples: 24000,
    });
    assert.equal(player.jitterTarget(20, 500, 220).targetSamples, 34560, 'a bundle more');
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
    // The sample leaving the worklet at context time 5.0 s was captured at page time 100 ms.
    const T = performance.timeOrigin + 100;
    node.port.onmessage({ data: { type: 'stats', captureMs: T, contextTime: 5 } });
    // Before the device's clock is believed: now (120 ms), plus what is left before 5.0 s
    // (10 ms), plus what the context and the device add (baseLatency and outputLatency).
    p.ctx.currentTime = 4.99;
    p.ctx.timestamp = { contextTime: 4.95, performanceTime: 115 };
    p.sampleDevice(120);
    assert.ok(Math.abs(p.latencyMs(0, 120) - (20 + 10 + 40)) < 1e-6, `${p.latencyMs(0, 120)}`);
    assert.equal(p.latencyIsLowerBound, false, 'outputLatency is known');
    // Two looks that agree: the device plays context time 5.95 s at 1115 ms, so 5.0 s at
    // 165 ms, whenever the figure is asked for.
    p.ctx.currentTime = 5.99;
    p.ctx.timestamp = { contextTime: 5.95, performanceTime: 1115 };
    p.sampleDevice(1120);
    assert.ok(Math.abs(p.latencyMs(0, 5000) - 65) < 1e-6, `${p.latencyMs(0, 5000)}`);
    // With the server's clock 20 ms ahead of ours, the capture was 20 ms earlier for us.
    assert.ok(Math.abs(p.latencyMs(20) - 85) < 1e-6);
    assert.equal(p.deviceOutputMs, 30);
  });

  test('the device is asked only by sampleDevice(), once the output played, then seldom', () => {
    const { p, node } = makePlayer();
    let reads = 0;
    const ctx = /** @type {FakeContext} */ (/** @type {unknown} */ (p.ctx));
    Object.defineProperty(ctx, 'outputLatency', { get: () => { reads += 1; return 0.03; } });
    const stamp = ctx.getOutputTimestamp.bind(ctx);
    ctx.getOutputTimestamp = () => { reads += 1; return stamp(); };
    // The figures' path never touches the device; nor does sampleDevice() before it played.
    node.port.onmessage({ data: { type: 'stats', captureMs: performance.timeOrigin, contextTime: 0.1 } });
    p.latencyMs(0);
    void p.deviceLatencyMs;
    ctx.currentTime = 0.2;
    p.sampleDevice();
    assert.equal(reads, 0);
    assert.equal(p.deviceSettled, false, 'the first report waits for the device');
    const looks = [];
    for (let t = 0.5; t <= 40; t += 0.5) {
      ctx.currentTime = t;
      const before = reads;
      p.sampleDevice();
      if (reads > before) looks.push(t);
    }
    // A timestamp never agrees with itself here (the fake's is zero): looked at every second.
    assert.equal(looks[0], 0.5);
    assert.equal(reads, 2 * looks.length, 'outputLatency and getOutputTimestamp() once a look');
    assert.equal(p.deviceSettled, true);
    ctx.state = 'suspended';
    ctx.currentTime += 100;
    p.sampleDevice();
    assert.equal(reads, 2 * looks.length, 'not while the context does not run');
  });

  test('where reading the device may block (no playbackStats: Firefox), it is never read', () => {
    const saved = Object.getOwnPropertyDescriptor(FakeContext.prototype, 'playbackStats');
    delete FakeContext.prototype.playbackStats;
    try {
      assert.equal(player.deviceFiguresAreCheap(), false);
      const { p, node } = makePlayer();
      let reads = 0;
      Object.defineProperty(p.ctx, 'outputLatency', { get: () => { reads += 1; return 0.03; } });
      p.ctx.getOutputTimestamp = () => { reads += 1; return { contextTime: 1, performanceTime: 1 }; };
      assert.equal(p.deviceSettled, true, 'nothing to wait for');
      node.port.onmessage({ data: { type: 'stats', captureMs: performance.timeOrigin, contextTime: 59 } });
      for (let t = 0; t < 60; t += 1) {
        p.ctx.currentTime = t;
        p.sampleDevice();
        p.latencyMs(0);
      }
      assert.equal(reads, 0);
      assert.equal(p.deviceOutputMs, null);
      assert.equal(p.deviceLatencyMs, 10, 'baseLatency only');
      assert.equal(p.latencyIsLowerBound, true);
    } finally {
      Object.defineProperty(FakeContext.prototype, 'playbackStats', saved);
    }
    assert.equal(player.deviceFiguresAreCheap(), true);
  });
});
