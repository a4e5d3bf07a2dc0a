// @ts-check
/**
 * The sounds the page makes by itself, needing nothing from the server: the link-loss
 * alarm (a siren) and the chime of a sound alert. Both play straight into the context's
 * destination, past the volume: a listener who turned the stream down or muted it is
 * still alarmed.
 *
 * The siren is built from oscillators only, its pattern made by low-frequency square waves
 * on the audio thread: once started it needs no timer, so a background tab (whose timers
 * run at most once a second) sounds it as steadily as a visible one.
 */

/** The siren's two tones (Hz), alternating every half second. */
export const SIREN_HZ = Object.freeze([660, 880]);
/** It beeps this many times a second (on half the time). */
const BEEPS_PER_S = 4;
const SIREN_GAIN = 0.35;
const CHIME_GAIN = 0.3;
/** The chime's two notes (Hz): a falling major third, E6 then C6. */
export const CHIME_HZ = Object.freeze([1318.5, 1046.5]);

/** The link-loss alarm: start() and stop() as often as needed. */
export class Siren {
  constructor() {
    /** @type {{ ctx: BaseAudioContext, nodes: AudioScheduledSourceNode[], out: GainNode } | null} */
    this.playing = null;
  }

  /** Whether it sounds now. */
  get sounding() {
    return this.playing !== null;
  }

  /**
   * Sound it in `ctx` (again in a new context, when the player's was replaced).
   * @param {BaseAudioContext} ctx
   */
  start(ctx) {
    if (this.playing?.ctx === ctx) return;
    this.stop();
    const t = ctx.currentTime;
    const tone = ctx.createOscillator();
    tone.type = 'triangle';
    const [low, high] = SIREN_HZ;
    tone.frequency.value = (low + high) / 2;
    // A square wave at 1 Hz, scaled, moves the tone between its two pitches.
    const pitch = ctx.createOscillator();
    pitch.type = 'square';
    pitch.frequency.value = 1;
    const pitchDepth = ctx.createGain();
    pitchDepth.gain.value = (high - low) / 2;
    pitch.connect(pitchDepth).connect(tone.frequency);
    // Another at BEEPS_PER_S turns it on and off: gain 0.5 ± 0.5.
    const beep = ctx.createOscillator();
    beep.type = 'square';
    beep.frequency.value = BEEPS_PER_S;
    const beepDepth = ctx.createGain();
    beepDepth.gain.value = 0.5;
    const gate = ctx.createGain();
    gate.gain.value = 0.5;
    beep.connect(beepDepth).connect(gate.gain);
    const out = ctx.createGain();
    out.gain.setValueAtTime(0, t);
    out.gain.linearRampToValueAtTime(SIREN_GAIN, t + 0.02);
    tone.connect(gate).connect(out).connect(ctx.destination);
    const nodes = [tone, pitch, beep];
    for (const node of nodes) node.start(t);
    this.playing = { ctx, nodes, out };
  }

  /** Silence it, with a short fade (a cut would click). */
  stop() {
    const playing = this.playing;
    if (!playing) return;
    this.playing = null;
    const { ctx, nodes, out } = playing;
    if (ctx.state === 'closed') return;
    const t = ctx.currentTime;
    out.gain.cancelScheduledValues(t);
    out.gain.setTargetAtTime(0, t, 0.015);
    for (const node of nodes) node.stop(t + 0.15);
    setTimeout(() => out.disconnect(), 300);
  }
}

/**
 * Play the alert's chime once: two bell-like notes, about a second in all.
 * @param {BaseAudioContext} ctx
 */
export function playChime(ctx) {
  if (ctx.state === 'closed') return;
  const t = ctx.currentTime + 0.02;
  CHIME_HZ.forEach((hz, i) => {
    const start = t + i * 0.35;
    const note = ctx.createOscillator();
    note.type = 'sine';
    note.frequency.value = hz;
    const envelope = ctx.createGain();
    envelope.gain.setValueAtTime(0, start);
    envelope.gain.linearRampToValueAtTime(CHIME_GAIN, start + 0.01);
    envelope.gain.setTargetAtTime(0, start + 0.01, 0.18);
    note.connect(envelope).connect(ctx.destination);
    note.start(start);
    note.stop(start + 1.2);
    note.onended = () => envelope.disconnect();
  });
}
