// Tests for listener_web/output/alert_sounds.js, with a stand-in AudioContext: run with
// `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { CHIME_HZ, SIREN_HZ, Siren, playChime } from '../../../listener_web/output/alert_sounds.js';

/** An AudioParam that writes down its automation. */
class Param {
  constructor(value = 0) {
    this.value = value;
    this.events = [];
  }

  setValueAtTime(v, t) { this.events.push(['set', v, t]); }

  linearRampToValueAtTime(v, t) { this.events.push(['ramp', v, t]); }

  setTargetAtTime(v, t, c) { this.events.push(['target', v, t, c]); }

  cancelScheduledValues(t) { this.events.push(['cancel', t]); }
}

/** A node that knows what it is connected to. */
class Node {
  constructor(ctx, kind) {
    this.ctx = ctx;
    this.kind = kind;
    this.outputs = [];
    this.gain = new Param(1);
    this.frequency = new Param(440);
    this.type = 'sine';
    this.started = null;
    this.stopped = null;
    ctx.nodes.push(this);
  }

  connect(to) {
    this.outputs.push(to);
    return to;
  }

  disconnect() { this.outputs = []; }

  start(t) { this.started = t; }

  stop(t) { this.stopped = t; }
}

class FakeContext {
  constructor() {
    this.currentTime = 10;
    this.state = 'running';
    this.nodes = [];
    this.destination = { kind: 'destination' };
  }

  createOscillator() { return new Node(this, 'oscillator'); }

  createGain() { return new Node(this, 'gain'); }
}

const intoDestination = (ctx) => ctx.nodes.filter((n) => n.outputs.includes(ctx.destination));

describe('Siren', () => {
  test('sounds its two tones straight into the destination, once, and stops with a fade', () => {
    const ctx = new FakeContext();
    const siren = new Siren();
    siren.start(ctx);
    siren.start(ctx); // again: nothing more
    assert.equal(siren.sounding, true);
    const oscillators = ctx.nodes.filter((n) => n.kind === 'oscillator');
    assert.equal(oscillators.length, 3);
    assert.ok(oscillators.every((o) => o.started === 10));
    const tone = oscillators.find((o) => o.type === 'triangle');
    const depth = ctx.nodes.find((n) => n.outputs.includes(tone.frequency));
    assert.equal(tone.frequency.value - depth.gain.value, SIREN_HZ[0]);
    assert.equal(tone.frequency.value + depth.gain.value, SIREN_HZ[1]);
    const [out] = intoDestination(ctx);
    assert.ok(out, 'past any volume: straight into the destination');
    siren.stop();
    assert.equal(siren.sounding, false);
    assert.deepEqual(out.gain.events.at(-1), ['target', 0, 10, 0.015]);
    assert.ok(oscillators.every((o) => o.stopped > 10 && o.stopped < 10.5));
  });

  test('moves to a new context when the player was replaced', () => {
    const first = new FakeContext();
    const second = new FakeContext();
    const siren = new Siren();
    siren.start(first);
    siren.start(second);
    assert.ok(first.nodes.filter((n) => n.kind === 'oscillator').every((o) => o.stopped !== null));
    assert.equal(intoDestination(second).length, 1);
    siren.stop();
  });
});

describe('playChime', () => {
  test('two notes, one after the other, each fading out', () => {
    const ctx = new FakeContext();
    playChime(ctx);
    const notes = ctx.nodes.filter((n) => n.kind === 'oscillator');
    assert.deepEqual(notes.map((n) => n.frequency.value), [...CHIME_HZ]);
    assert.ok(notes[1].started > notes[0].started);
    assert.equal(intoDestination(ctx).length, 2);
  });

  test('a closed context plays nothing', () => {
    const ctx = new FakeContext();
    ctx.state = 'closed';
    playChime(ctx);
    assert.equal(ctx.nodes.length, 0);
  });
});
