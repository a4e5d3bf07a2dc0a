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
 * Blocks of 512 frames (10.7 ms at 48 kHz) where the engine renders steadily: in headless
 * Chromium, 256 and 512 both played a tone without a gap through 80 ms main-thread stalls,
 * 512 costing about 10 ms more; 512 leaves a phone's slower, busier main thread twice the
 * margin. 2048 elsewhere (output_buffer.js scriptProcessorBlock): WebKit renders in bursts.
 *
 * The buffer keeps to the clock the output really plays at: blocks the context played on its
 * own, without asking (WebKit's silence when the main thread is late), move it on too
 * (block_clock.js). The context's rate may differ from the stream's 48 kHz (the Playout
 * resamples).
 */
import { Playout } from '../worklet/playout.js';
import { BlockClock } from './block_clock.js';

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
      postMessage: (msg) => this.onMessage(msg),
    };
    this.port = port;
    // A start settles as on a worklet (no settleSamples: 0 here): its first audio comes in
    // one piece, and the page is busiest then, but a late page is no jitter a deeper buffer
    // would cover (its blocks play as silence: BlockClock), so nothing of it is learnt.
    // The target covers a wait for the next block twice (see drift.js TargetTracker): a
    // bigger block than the usual 512 frames starts it that much higher, so the depth need
    // not climb to it slowly (the drift control's 0.05 % while the target rises).
    const bigger = Math.max(0, blockFrames - BLOCK_FRAMES) * (48000 / ctx.sampleRate);
    const targetSamples = options.targetSamples + Math.round(2 * bigger);
    this.playout = new Playout({ ...options, targetSamples }, ctx.sampleRate,
      (msg) => port.onmessage?.({ data: msg }));
    // Buckets of about 85 ms (8 blocks of 512), but at least 4 events: the first window
    // sets the baseline, and until then a late page is not told from jitter.
    this.clock = new BlockClock(blockFrames, Math.max(4, Math.round(4096 / blockFrames)));
    this.blockS = blockFrames / ctx.sampleRate;
    // Between two events the context plays up to a block, and WebKit's times jitter by up to
    // another 512: more than a block or 1024 frames (the less) beyond that, the page was late.
    this.lateFrames = blockFrames + Math.min(blockFrames, 1024);
    this.node.onaudioprocess = (event) => this.process(event);
  }

  /** @param {any} msg  one message from the player, as a worklet's port takes it */
  onMessage(msg) {
    if (msg?.type === 'pcm') {
      // Audio that comes while the context's clock has run blocks ahead of those filled
      // came through a page that was late: its lateness is no jitter a deeper buffer would
      // cover (the output played silence meanwhile), so it is not timed.
      const next = Math.round((this.ctx.currentTime + this.blockS) * this.ctx.sampleRate);
      this.playout.buffer.timeArrivals = this.clock.pendingFrames(next) < this.lateFrames;
    }
    this.playout.onMessage(msg);
  }

  /** @param {AudioProcessingEvent} event */
  process(event) {
    const buffer = event.outputBuffer;
    const out = this.out;
    out.length = 0;
    for (let c = 0; c < buffer.numberOfChannels; c++) out.push(buffer.getChannelData(c));
    this.aheadS = Math.max(0, event.playbackTime - this.ctx.currentTime);
    const frame = Math.round(event.playbackTime * this.ctx.sampleRate);
    this.playout.skip(this.clock.event(frame));
    // No start before the clock has its baseline: an engine's context may run fast for a
    // while at first (WebKit: 0.4 s at 1.4 times real time), eating what a start keeps.
    this.playout.buffer.holdStart = !this.clock.judged;
    // Until a skip is sure and its audio gone, that audio is no depth to steer by.
    const unconfirmed = Math.max(0, this.clock.leadFrames - this.clock.skippedFrames);
    this.playout.buffer.clockLeadSamples = unconfirmed * this.playout.buffer.rateRatio;
    this.playout.render(out, frame, performance.now());
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
