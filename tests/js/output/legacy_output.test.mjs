// Tests for listener_web/output/legacy_output.js (the ScriptProcessor output) and for how the Player
// picks its output, with stand-ins for the WebAudio nodes: run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

/** @type {typeof import('../../../listener_web/output/legacy_output.js')} */
let legacy;
/** @type {typeof import('../../../listener_web/output/player.js')} */
let player;

class FakeScriptProcessor {
  constructor(bufferSize, inputs, outputs) {
    this.args = [bufferSize, inputs, outputs];
    this.onaudioprocess = null;
    this.connected = [];
  }

  connect(destination) {
    this.connected.push(destination);
  }

  disconnect() {
    this.connected = [];
  }
}

/** A context with no AudioWorklet, as in a page that is no secure context. */
class InsecureContext {
  constructor(options = {}) {
    this.options = options;
    this.sampleRate = options.sampleRate ?? 48000;
    this.state = 'running';
    this.currentTime = 0;
    this.baseLatency = 0.01;
    this.outputLatency = 0.03;
    this.destination = { name: 'destination' };
    this.processors = [];
  }

  // Chromium's: where the page may read the device figures (player.deviceFiguresAreCheap).
  get playbackStats() {
    return { underrunEvents: 0 };
  }

  createScriptProcessor(...args) {
    const node = new FakeScriptProcessor(...args);
    this.processors.push(node);
    return node;
  }

  async close() {
    this.state = 'closed';
  }
}

/**
 * Run `blocks` audioprocess events of the processor; the context's clock is at the start of
 * the block before the one being filled (a browser asks for blocks ahead of time).
 */
function run(ctx, node, blocks, channels = 1) {
  const [size] = node.args;
  const seen = [];
  for (let i = 0; i < blocks; i++) {
    const planes = Array.from({ length: channels }, () => new Float32Array(size));
    const playbackTime = ctx.currentTime + size / ctx.sampleRate;
    node.onaudioprocess({
      playbackTime,
      outputBuffer: { numberOfChannels: channels, getChannelData: (c) => planes[c] },
    });
    seen.push(...planes[0]);
    ctx.currentTime += size / ctx.sampleRate;
  }
  return seen;
}

before(async () => {
  Object.defineProperty(globalThis, 'navigator', {
    value: { audioSession: { type: 'auto' } },
    configurable: true,
    writable: true,
  });
  globalThis.AudioContext = InsecureContext;
  legacy = await import('../../../listener_web/output/legacy_output.js');
  player = await import('../../../listener_web/output/player.js');
});

describe('ScriptProcessorOutput', () => {
  function make(channels = 1) {
    const ctx = new InsecureContext();
    const out = new legacy.ScriptProcessorOutput(ctx, { channels, targetSamples: 2400 });
    const stats = [];
    out.port.onmessage = (event) => stats.push(event.data);
    out.connect(ctx.destination);
    return { ctx, out, node: ctx.processors[0], stats };
  }

  test('is a ScriptProcessorNode of 512 frames with the stream\'s channels, on the destination', () => {
    const { ctx, node } = make(2);
    assert.deepEqual(node.args, [legacy.BLOCK_FRAMES, 1, 2]);
    assert.equal(legacy.BLOCK_FRAMES, 512);
    assert.deepEqual(node.connected, [ctx.destination]);
  });

  test('plays PCM through the jitter buffer once it holds the target depth', () => {
    const { ctx, out, node } = make();
    assert.ok(run(ctx, node, 2).every((x) => x === 0), 'silence before any PCM');
    for (let i = 0; i < 3; i++) out.port.postMessage({ type: 'pcm', samples: new Float32Array(960).fill(0.5) });
    // No start before the block clock has its baseline: a bucket of 8 events.
    assert.ok(run(ctx, node, 5).every((x) => x === 0), 'silence while the clock settles');
    const seen = run(ctx, node, 4);
    assert.equal(seen.at(-1), 0.5);
  });

  test('answers stats at once, timed at the context frame its next block plays', () => {
    const { ctx, out, node, stats } = make();
    run(ctx, node, 16); // the block clock's baseline, before which nothing starts
    for (let i = 0; i < 3; i++) {
      out.port.postMessage({ type: 'pcm', samples: new Float32Array(960).fill(0.1), captureMs: 1000 + 20 * i });
    }
    run(ctx, node, 3);
    out.port.postMessage({ type: 'stats' });
    const last = stats.at(-1);
    assert.equal(last.type, 'stats');
    // The 19th block played at context time 20 blocks: the next one at 21 blocks.
    assert.equal(last.frame, 20 * 512);
    assert.equal(last.contextTime, (20 * 512) / 48000);
    assert.equal(last.playing, true);
    // Playback started with all 2880 samples (an output may take a pile back in a burst),
    // then 3 blocks were read.
    assert.ok(Math.abs(last.captureMs - (1000 + (3 * 512 * 1000) / 48000)) < 1e-9, `${last.captureMs}`);
    assert.ok(Math.abs(out.aheadS - 512 / 48000) < 1e-9, `${out.aheadS}`);
  });

  test('rejects unknown messages, as the worklet does', () => {
    const { out } = make();
    assert.throws(() => out.port.postMessage({ type: 'bogus' }), /unknown message/);
  });

  test('disconnect() stops the processor', () => {
    const { out, node } = make();
    out.disconnect();
    assert.equal(node.onaudioprocess, null);
    assert.deepEqual(node.connected, []);
  });
});

describe('Player without AudioWorklet', () => {
  test('plays WebAssembly-decoded PCM through a ScriptProcessor and names the path', async () => {
    const stats = [];
    const p = new player.Player((s) => stats.push(s));
    assert.equal(globalThis.navigator.audioSession.type, 'playback', 'iOS plays despite the silent switch');
    await p.load('wasm');
    assert.equal(p.path, 'wasm+scriptprocessor');
    p.configure(1, player.jitterTarget(20));
    assert.ok(p.node instanceof legacy.ScriptProcessorOutput);
    const node = p.ctx.processors[0];
    // An engine that counts its glitches (Chromium) renders steadily: 512-frame blocks.
    assert.equal(node.args[0], 512);
    run(p.ctx, node, 8); // the block clock's baseline, before which nothing starts
    for (let i = 0; i < 3; i++) p.push(new Float32Array(960).fill(0.25));
    const seen = run(p.ctx, node, 4);
    assert.equal(seen.at(-1), 0.25);
    p.requestStats();
    assert.equal(p.figures?.type, 'stats');
    assert.equal(stats.at(-1), p.figures);
    // The device's 40 ms (as sampleDevice() read it, once the output played a while), and
    // the block the processor has taken but not played yet.
    p.ctx.currentTime = 1;
    p.sampleDevice();
    assert.ok(Math.abs(p.outputLatencyMs - (40 + 1000 * 512 / 48000)) < 1e-6, `${p.outputLatencyMs}`);
    await p.close();
    assert.equal(p.node, null);
  });

  test('configure() with the same channels only sends the new target', () => {
    const p = new player.Player(() => {});
    p.configure(1, player.jitterTarget(20));
    const node = p.node;
    p.configure(1, player.jitterTarget(60));
    assert.equal(p.node, node);
    p.requestStats();
    assert.equal(p.figures?.targetSamples, player.jitterTarget(60).targetSamples);
  });

  test('setPlaybackAudioSession() says when the browser has no audio session', () => {
    const saved = globalThis.navigator;
    globalThis.navigator = {};
    try {
      assert.equal(player.setPlaybackAudioSession(), false);
    } finally {
      globalThis.navigator = saved;
    }
    assert.equal(player.setPlaybackAudioSession(), true);
  });
});
