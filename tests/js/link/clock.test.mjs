// Tests for listener_web/link/clock.js (and the time window behind it): run with
// `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { CaptureClock, ClockOffset, PacketAge } from '../../../listener_web/link/clock.js';

describe('ClockOffset', () => {
  test('is null before any sample', () => {
    assert.equal(new ClockOffset().offsetMs, null);
  });

  test('keeps the sample delayed least: the largest server − local', () => {
    const offset = new ClockOffset();
    const trueOffsetMs = 5000; // the server's clock is 5 s ahead
    const delaysMs = [3.2, 0.4, 12, 1.1, 40];
    delaysMs.forEach((delay, i) => {
      const sentLocalMs = 1000 * i;
      offset.add(sentLocalMs + trueOffsetMs, sentLocalMs + delay);
    });
    assert.ok(Math.abs(offset.offsetMs - (trueOffsetMs - 0.4)) < 1e-9);
  });

  test('forgets samples older than its window, so it follows a stepped clock', () => {
    const offset = new ClockOffset(30000);
    offset.add(100_000, 0); // offset 100 s, with no delay at all
    for (let t = 1000; t <= 31000; t += 1000) offset.add(t + 2000 - 5, t); // stepped to 2 s
    assert.equal(offset.offsetMs, 1995);
  });

  test('a single old sample is kept until a newer one comes', () => {
    const offset = new ClockOffset(1000);
    offset.add(50, 0);
    assert.equal(offset.offsetMs, 50);
    offset.add(10_050, 10_000);
    assert.equal(offset.offsetMs, 50);
    assert.equal(offset.window.samples.length, 1);
  });

  test('ignores non-finite samples and clears', () => {
    const offset = new ClockOffset();
    offset.add(NaN, 0);
    offset.add(1, Infinity);
    assert.equal(offset.offsetMs, null);
    offset.add(10, 0);
    offset.clear();
    assert.equal(offset.offsetMs, null);
  });
});

describe('PacketAge', () => {
  test('before any live packet, anything over 100 ms + a frame + 40 ms is backlog', () => {
    const ages = new PacketAge();
    assert.equal(ages.freshMs, null);
    assert.equal(ages.isStale(160, 20), false);
    assert.equal(ages.isStale(161, 20), true);
  });

  test('the freshest live packet of the window is the reference', () => {
    const ages = new PacketAge(10000);
    [45, 31, 80, 38].forEach((age, i) => ages.note(age, 20 * i));
    assert.equal(ages.freshMs, 31);
    assert.equal(ages.isStale(90, 20), false); // 31 + 20 + 40 = 91
    assert.equal(ages.isStale(92, 20), true);
    assert.equal(ages.isStale(1500, 10), true); // a second-old packet of a resumed backlog
    ages.note(70, 20_000); // the window has moved on: the route got slower
    assert.equal(ages.freshMs, 70);
  });
});

describe('CaptureClock', () => {
  test('times a packet from the newest clock event at or before it', () => {
    const clock = new CaptureClock(20);
    clock.add({ id: 100, captureMs: 1_000_000 });
    clock.add({ id: 150, captureMs: 1_001_003 }); // a capture restart, say: not 1_001_000
    assert.equal(clock.captureMs(100), 1_000_000);
    assert.equal(clock.captureMs(149), 1_000_000 + 49 * 20);
    assert.equal(clock.captureMs(150), 1_001_003);
    assert.equal(clock.captureMs(160), 1_001_003 + 10 * 20);
  });

  test('does not know packets before its first clock event', () => {
    const clock = new CaptureClock(10);
    assert.equal(clock.captureMs(5), null);
    clock.add({ id: 10, captureMs: 500 });
    assert.equal(clock.captureMs(9), null);
  });

  test('keeps a bounded number of clock events', () => {
    const clock = new CaptureClock(20, 3);
    for (let id = 0; id < 10; id++) clock.add({ id: id * 50, captureMs: id * 1000 });
    assert.deepEqual(clock.anchors.map((a) => a.id), [350, 400, 450]);
    assert.equal(clock.captureMs(100), null);
  });

  test('ids that start again (another stream) replace what came after them', () => {
    const clock = new CaptureClock(20);
    clock.add({ id: 500, captureMs: 9000 });
    clock.add({ id: 300, captureMs: 100 });
    assert.deepEqual(clock.anchors, [{ id: 300, captureMs: 100 }]);
    clock.clear();
    assert.equal(clock.captureMs(300), null);
  });
});
