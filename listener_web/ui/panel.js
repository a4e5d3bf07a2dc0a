// @ts-check
/**
 * The listener's panel under the button: the volume, the level meter and the graph of the
 * last minute's latency and buffer. It holds no stream or playback logic: the session hands
 * it each new player and each set of figures.
 */
import { Graph } from './graph.js';
import { Meter } from './meter.js';
import { Volume } from './volume.js';

/** @returns {Storage | null} */
function localStore() {
  try {
    return window.localStorage;
  } catch {
    return null; // some browsers throw when storage is blocked
  }
}

/** Volume, meter and graph. */
export class Panel {
  /**
   * @param {{ volume: HTMLInputElement, volumeValue: HTMLOutputElement,
   *   meter: HTMLCanvasElement, graph: HTMLCanvasElement }} elements
   */
  constructor(elements) {
    this.volume = new Volume(elements.volume, elements.volumeValue, localStore());
    this.meter = new Meter(elements.meter);
    this.graph = new Graph(elements.graph);
  }

  /**
   * Route a new player's output through the volume, and measure it.
   * @param {{ ctx: BaseAudioContext, outputTo: AudioNode }} player
   */
  attach(player) {
    const gain = this.volume.attach(player.ctx);
    this.meter.attach(player.ctx, gain);
    player.outputTo = gain;
  }

  /**
   * The figures now, for the graph.
   * @param {{ latencyMs: number | null, bufferMs: number }} figures
   */
  show(figures) {
    this.graph.add(figures.latencyMs, figures.bufferMs);
  }

  /** Listening stopped: an empty meter and graph. */
  clear() {
    this.meter.detach();
    this.graph.clear();
  }
}
