// @ts-check
/**
 * AudioWorkletProcessor 'broadcaster-player': plays decoded PCM through a Playout (the
 * jitter buffer and its message protocol, see playout.js) on the audio thread.
 *
 * processorOptions: {channels, targetSamples, floorSamples?, ceilingSamples?, fadeSamples?}.
 * Messages in and out of the port: those of playout.js ('pcm' transfers its buffer), and
 * 'feed' {port}: a MessagePort on which a decoder Worker sends 'pcm' directly. The stats'
 * contextTime is when the sample at the read head leaves the worklet. The engine's pauses
 * are timed on Date.now(): a worklet's scope has no `performance`.
 */
import { Playout } from './playout.js';

/* global AudioWorkletProcessor, registerProcessor, currentFrame, sampleRate */

// @ts-ignore: AudioWorkletProcessor exists only in the AudioWorkletGlobalScope.
class BroadcasterPlayer extends AudioWorkletProcessor {
  /** @param {{processorOptions: import('./playout.js').PlayoutOptions}} options */
  constructor(options) {
    super();
    /** @type {MessagePort} */
    // @ts-ignore: port is declared by AudioWorkletProcessor.
    const port = this.port;
    // @ts-ignore: sampleRate is a global of the AudioWorkletGlobalScope.
    this.playout = new Playout(options.processorOptions, sampleRate, (msg) => port.postMessage(msg));
    port.onmessage = (event) => {
      // 'feed': a second port that brings PCM from a decoder Worker (direct_decoder.js).
      if (event.data?.type === 'feed') {
        event.data.port.onmessage = (/** @type {MessageEvent} */ fed) => this.playout.onMessage(fed.data);
      } else {
        this.playout.onMessage(event.data);
      }
    };
  }

  /**
   * @param {Float32Array[][]} _inputs
   * @param {Float32Array[][]} outputs
   */
  process(_inputs, outputs) {
    // @ts-ignore: currentFrame is a global of the AudioWorkletGlobalScope.
    this.playout.render(outputs[0], currentFrame, Date.now());
    return true;
  }
}

// @ts-ignore: registerProcessor is a global of the AudioWorkletGlobalScope.
registerProcessor('broadcaster-player', BroadcasterPlayer);
