// Tests for listener_web/ui/timeline_scale.js: run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  LIVE_EDGE_MS,
  TimeScale,
  behindFor,
  behindText,
  columnHeights,
  dragSpan,
  durationText,
  episodeBehind,
  episodeMarks,
  stepBack,
} from '../../../listener_web/ui/timeline_scale.js';

const T0 = 1_764_064_000_000;

describe('TimeScale', () => {
  test('maps capture times to pixels and back, clamping taps to the axis', () => {
    const scale = new TimeScale(T0, T0 + 600_000, 300);
    assert.equal(scale.x(T0), 0);
    assert.equal(scale.x(T0 + 300_000), 150);
    assert.equal(scale.ms(150), T0 + 300_000);
    assert.equal(scale.ms(-20), T0);
    assert.equal(scale.ms(400), T0 + 600_000);
  });

  test('an empty span or a zero width does not divide by zero', () => {
    const scale = new TimeScale(T0, T0, 0);
    assert.ok(Number.isFinite(scale.x(T0 + 5)));
    assert.ok(Number.isFinite(scale.ms(3)));
  });
});

describe('columnHeights', () => {
  test('each column shows the loudest step in it; no audio is NaN', () => {
    // 6 steps of 10 s on 3 columns: two steps per column.
    const levels = { fromMs: T0, toMs: T0 + 60_000, stepMs: 10_000,
      levels: [-70, -35, null, null, 0, -60] };
    const columns = columnHeights(levels, new TimeScale(T0, T0 + 60_000, 3));
    assert.equal(columns.length, 3);
    assert.equal(columns[0], 0.5);
    assert.ok(Number.isNaN(columns[1]));
    assert.equal(columns[2], 1);
  });

  test('a step wider than a column fills every column it covers; levels are clamped', () => {
    const levels = { fromMs: T0, toMs: T0 + 20_000, stepMs: 10_000, levels: [-100, 6] };
    const columns = columnHeights(levels, new TimeScale(T0, T0 + 20_000, 10));
    assert.deepEqual(Array.from(columns), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  });
});

describe('episodeMarks', () => {
  test('clips episodes to the axis and keeps a short one visible', () => {
    const scale = new TimeScale(T0, T0 + 100_000, 100);
    const marks = episodeMarks([
      { startMs: T0 - 5_000, endMs: T0 + 10_000, alerted: true },
      { startMs: T0 + 50_000, endMs: T0 + 50_100, alerted: false },
      { startMs: T0 + 99_900, endMs: T0 + 99_950, alerted: true },
      { startMs: T0 + 200_000, endMs: T0 + 201_000, alerted: true },
    ], scale);
    assert.deepEqual(marks, [
      { x: 0, width: 10, alerted: true },
      { x: 50, width: 3, alerted: false },
      { x: 97, width: 3, alerted: true },
    ]);
  });
});

describe('where a replay starts', () => {
  test('a tap near the live edge is live; further back, how far behind', () => {
    const now = T0 + 100_000;
    assert.equal(behindFor(now - LIVE_EDGE_MS + 1, now), null);
    assert.equal(behindFor(now - 30_000.4, now), 30_000);
  });

  test('"−10 s" goes back from what plays now, never past the oldest audio', () => {
    assert.equal(stepBack(null, 10_000, 3_600_000), 10_000);
    assert.equal(stepBack(25_300, 30_000, 3_600_000), 55_300);
    assert.equal(stepBack(20_000, 30_000, 42_000.7), 42_000);
    assert.equal(stepBack(null, 10_000, null), 10_000);
  });

  test("an episode's play button replays from a second before its onset, within what is held", () => {
    const now = T0 + 100_000;
    assert.equal(episodeBehind(now - 30_000, now, T0), 31_000);
    assert.equal(episodeBehind(now - 30_000, now, null), 31_000);
    // Its onset is the oldest audio held: from there.
    assert.equal(episodeBehind(T0 + 200, now, T0), 100_000);
    // Just begun: the live stream has it (the archive has not written it yet).
    assert.equal(episodeBehind(now - 200, now, T0), null);
  });

  test('a drag is a span, whichever way; a short one is a tap', () => {
    const scale = new TimeScale(T0, T0 + 100_000, 100);
    assert.equal(dragSpan(40, 45, scale), null);
    assert.deepEqual(dragSpan(60, 20, scale), { fromMs: T0 + 20_000, toMs: T0 + 60_000 });
  });
});

describe('behindText', () => {
  test('says live, seconds, minutes and hours', () => {
    assert.equal(behindText(null), 'live');
    assert.equal(behindText(9_600), '10 s behind live');
    assert.equal(durationText(125_000), '2 min 5 s');
    assert.equal(durationText(300_000), '5 min');
    assert.equal(durationText(3_780_000), '1 h 3 min');
    assert.equal(durationText(7_200_000), '2 h');
  });
});
