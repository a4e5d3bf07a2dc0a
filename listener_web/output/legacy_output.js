// @ts-check
/**
 * The output for pages without AudioWorklet (plain http on a LAN, which is no secure context):
 * a ScriptProcessorNode that pulls its blocks from the same Playout as the worklet, so the
 * jitter buffer, the drift control and the stats are exactly the worklet's.
 *
 * It stands in for the AudioWorkletNode towards the Player: messages go in through
 * `port.postMessage()` and stats come out through `port.onmessage`, synchronously.
 *
 * A ScriptProcessor runs on the page's main thread and is asked for each block ahead of
 * time: it adds one to two blocks of latency, and a main thread stalled too long makes a gap.
 * Blocks of 512 frames (10.7 ms at 48 kHz): in headless Chromium, 256 and 512 both played a
 * tone without a gap through 80 ms main-thread stalls, 512 costing about 10 ms more; 512
 * leaves a phone's slower, busier main thread twice the margin.
 */
import { Playout } from '../worklet/playout.js';

export const BLOCK_FRAMES = 512;

/** A ScriptProcessorNode playing a Playout; the player's stand-in for an AudioWorkletNode. */
export class ScriptProcessorOutput {
  /**
   * @param {BaseAudioContext} ctx
   * @param {import('../worklet/playout.js').PlayoutOptions} options
   * @param {number} [blockFrames]  256 to 16384, a power of two
   */
  constructor(ctx, options, blockFrames = BLOCK_FRAMES) {
    this.ctx = ctx;
    /** How far ahead of the context's clock the newest block plays (s): latency this adds. */
    this.aheadS = (2 * blockFrames) / ctx.sampleRate;
    // One unconnected input: some browsers never call a processor that has none.
    this.node = ctx.createScriptProcessor(blockFrames, 1, options.channels);
    /** @type {Float32Array[]} the output block's channels, reused */
    this.out = [];
    const port = {
      /** @type {((event: {data: any}) => void) | null} */
      onmessage: null,
      /** @param {any} msg */
      postMessage: (msg) => this.playout.onMessage(msg),
    };
    this.port = port;
    // Blocks are played from the page's main thread, whose delays are real jitter from the
    // start on (busiest at the start): the buffer learns from them at once.
    this.playout = new Playout({ settleSamples: 0, ...options }, ctx.sampleRate,
      (msg) => port.onmessage?.({ data: msg }));
    this.node.onaudioprocess = (event) => this.process(event);
  }

  /** @param {AudioProcessingEvent} event */
  process(event) {
    const buffer = event.outputBuffer;
    const out = this.out;
    out.length = 0;
    for (let c = 0; c < buffer.numberOfChannels; c++) out.push(buffer.getChannelData(c));
    this.aheadS = Math.max(0, event.playbackTime - this.ctx.currentTime);
    this.playout.render(out, Math.round(event.playbackTime * this.ctx.sampleRate));
  }

  /** @param {AudioNode} destination */
  connect(destination) {
    this.node.connect(destination);
  }

  disconnect() {
    this.node.onaudioprocess = null;
    this.node.disconnect();
  }
}
