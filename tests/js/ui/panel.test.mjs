// Tests for the pure parts of the listener's panel and media controls: listener_web/ui/level.js,
// graph_points.js, volume.js and media_session.js. Run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { PointRing, axisTopMs, xFor, yFor } from '../../../listener_web/ui/graph_points.js';
import { FLOOR_DBFS, holdPeak, measure, meterFraction } from '../../../listener_web/ui/level.js';
import { MediaControls } from '../../../listener_web/ui/media_session.js';
import { DEFAULT_VOLUME_PERCENT, gainFor, parseVolume } from '../../../listener_web/ui/volume.js';

describe('level', () => {
  test('measure() gives the peak and RMS of a full-scale sine, into the object given', () => {
    const samples = new Float32Array(4800);
    for (let i = 0; i < samples.length; i++) samples[i] = Math.sin((2 * Math.PI * 440 * i) / 48000);
    const out = { peak: 0, rms: 0 };
    assert.equal(measure(samples, out), out);
    assert.ok(Math.abs(out.peak - 1) < 1e-3);
    assert.ok(Math.abs(out.rms - Math.SQRT1_2) < 1e-3);
  });

  test('measure() of silence and of nothing is zero; a negative peak counts', () => {
    assert.deepEqual(measure(new Float32Array(16), { peak: 1, rms: 1 }), { peak: 0, rms: 0 });
    assert.deepEqual(measure(new Float32Array(0), { peak: 1, rms: 1 }), { peak: 0, rms: 0 });
    assert.equal(measure(Float32Array.of(0.1, -0.5), { peak: 0, rms: 0 }).peak, 0.5);
  });

  test('meterFraction() maps the floor to 0 and full scale to 1, in dB', () => {
    assert.equal(meterFraction(1), 1);
    assert.equal(meterFraction(2), 1);
    assert.equal(meterFraction(0), 0);
    assert.equal(meterFraction(10 ** (FLOOR_DBFS / 20)), 0);
    assert.equal(meterFraction(10 ** (-80 / 20)), 0);
    assert.ok(Math.abs(meterFraction(10 ** (-30 / 20)) - 0.5) < 1e-9);
    assert.equal(meterFraction(NaN), 0);
  });

  test('holdPeak() holds a peak and lets it fall slowly', () => {
    assert.equal(holdPeak(0.2, 0.9, 0.1), 0.9);
    assert.ok(Math.abs(holdPeak(0.9, 0.1, 0.2) - 0.8) < 1e-9);
    assert.equal(holdPeak(0.1, 0, 10), 0);
  });
});

describe('PointRing', () => {
  test('keeps the newest points, oldest first, and forgets the oldest when full', () => {
    const ring = new PointRing(3);
    for (let i = 1; i <= 5; i++) ring.push(i * 1000, i === 4 ? null : 10 * i, i);
    assert.equal(ring.length, 3);
    const seen = [];
    for (let i = 0; i < ring.length; i++) {
      const at = ring.index(i);
      seen.push([ring.timesMs[at], ring.latencyMs[at], ring.bufferMs[at]]);
    }
    assert.deepEqual(seen, [[3000, 30, 3], [4000, NaN, 4], [5000, 50, 5]]);
    ring.clear();
    assert.equal(ring.length, 0);
    assert.equal(ring.maxSince(0), 0);
  });

  test('maxSince() is the largest latency or buffer of the window, unknowns left out', () => {
    const ring = new PointRing(10);
    ring.push(0, 900, 10);
    ring.push(1000, null, 70);
    ring.push(2000, 40, 30);
    assert.equal(ring.maxSince(0), 900);
    assert.equal(ring.maxSince(500), 70);
    assert.equal(ring.maxSince(5000), 0);
  });
});

describe('graph scales', () => {
  test('axisTopMs() rounds up to 1, 2 or 5 × 10ⁿ, at least the minimum', () => {
    assert.equal(axisTopMs(0), 50);
    assert.equal(axisTopMs(NaN), 50);
    assert.equal(axisTopMs(51), 100);
    assert.equal(axisTopMs(100), 100);
    assert.equal(axisTopMs(101), 200);
    assert.equal(axisTopMs(230), 500);
    assert.equal(axisTopMs(501), 1000);
    assert.equal(axisTopMs(4000), 5000);
    assert.equal(axisTopMs(3, 1), 5);
  });

  test('xFor() puts now at the right edge and the window start at the left', () => {
    assert.equal(xFor(60000, 60000, 60000, 300), 300);
    assert.equal(xFor(0, 60000, 60000, 300), 0);
    assert.equal(xFor(30000, 60000, 60000, 300), 150);
  });

  test('yFor() puts 0 at the bottom and the top of the axis at the top, clamped', () => {
    assert.equal(yFor(0, 100, 80), 80);
    assert.equal(yFor(100, 100, 80), 0);
    assert.equal(yFor(50, 100, 80), 40);
    assert.equal(yFor(500, 100, 80), 0);
    assert.equal(yFor(-5, 100, 80), 80);
  });
});

describe('volume', () => {
  test('parseVolume() takes a whole percent from 0 to 100, else the default', () => {
    assert.equal(parseVolume(null), DEFAULT_VOLUME_PERCENT);
    assert.equal(parseVolume(''), DEFAULT_VOLUME_PERCENT);
    assert.equal(parseVolume('loud'), DEFAULT_VOLUME_PERCENT);
    assert.equal(parseVolume('42'), 42);
    assert.equal(parseVolume('42.6'), 43);
    assert.equal(parseVolume('-3'), 0);
    assert.equal(parseVolume('250'), 100);
  });

  test('gainFor() is linear: 50 % is −6 dB', () => {
    assert.equal(gainFor(100), 1);
    assert.equal(gainFor(0), 0);
    assert.ok(Math.abs(20 * Math.log10(gainFor(50)) + 6.02) < 0.01);
    assert.equal(gainFor(150), 1);
  });
});

describe('MediaControls', () => {
  function fakeNavigator() {
    const handlers = new Map();
    return {
      handlers,
      mediaSession: {
        metadata: null,
        playbackState: 'none',
        setActionHandler(action, handler) {
          if (action === 'stop') throw new TypeError('unknown action');
          handlers.set(action, handler);
        },
      },
    };
  }

  test('maps play to start and pause to stop, and names the source as the artist', () => {
    const nav = fakeNavigator();
    const calls = [];
    const media = new MediaControls(
      { onPlay: () => calls.push('play'), onStop: () => calls.push('stop') },
      nav, (init) => ({ ...init }));
    nav.handlers.get('play')();
    nav.handlers.get('pause')();
    assert.deepEqual(calls, ['play', 'stop']);
    assert.equal(nav.handlers.has('stop'), false, "an unknown action is left out");
    media.setSource('tone:440');
    assert.deepEqual(nav.mediaSession.metadata, { title: 'Broadcaster', artist: 'tone:440' });
    media.setListening(true);
    assert.equal(nav.mediaSession.playbackState, 'playing');
    media.setListening(false);
    assert.equal(nav.mediaSession.playbackState, 'paused');
  });

  test('does nothing where the browser has no media session', () => {
    const media = new MediaControls({ onPlay() {}, onStop() {} }, {}, () => assert.fail());
    media.setSource('mic');
    media.setListening(true);
  });
});
