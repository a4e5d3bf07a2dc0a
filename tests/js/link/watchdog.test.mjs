// Tests for listener_web/link/watchdog.js: run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  DEFAULT_ALARM_DELAY_MS,
  LinkWatchdog,
  PROBE_EVERY_MS,
  alarmDelayS,
} from '../../../listener_web/link/watchdog.js';

const running = (lastArrivalMs, connected = true) => ({ lastArrivalMs, state: 'running', connected });

describe('LinkWatchdog', () => {
  test('audio every frame never alarms, and asks for no probe', () => {
    const dog = new LinkWatchdog(DEFAULT_ALARM_DELAY_MS, 0);
    for (let t = 0; t < 600_000; t += 20) {
      const verdict = dog.decide(t, running(t));
      assert.deepEqual(verdict, { alarm: null, sound: false, probe: false });
    }
  });

  test('nothing arriving alarms once the delay has passed, and not before', () => {
    const dog = new LinkWatchdog(5000, 0);
    assert.equal(dog.decide(4000, running(null, false)).alarm, null, 'armed at Start');
    assert.equal(dog.decide(5000, running(1000)).alarm, null);
    assert.equal(dog.decide(6000, running(1000)).alarm, null);
    const verdict = dog.decide(6001, running(1000));
    assert.equal(verdict.sound, true);
    assert.match(verdict.alarm, /nothing has arrived for 5 s: the link is silent/);
    assert.match(dog.decide(9000, running(1000, false)).alarm, /link to the broadcaster is lost \(nothing for 8 s\)/);
  });

  test('it stops by itself when the stream is back', () => {
    const dog = new LinkWatchdog(3000, 0);
    assert.equal(dog.decide(5000, running(1000)).sound, true);
    assert.deepEqual(dog.decide(5100, running(5050)), { alarm: null, sound: false, probe: false });
  });

  test('a source reported offline alarms at once', () => {
    const dog = new LinkWatchdog(5000, 0);
    const verdict = dog.decide(100, { lastArrivalMs: 90, state: 'offline', connected: true });
    assert.equal(verdict.sound, true);
    assert.match(verdict.alarm, /source is offline/);
  });

  test('silenced, it stays quiet until the link is back and lost again', () => {
    const dog = new LinkWatchdog(3000, 0);
    assert.equal(dog.decide(4000, running(0)).sound, true);
    dog.silence();
    const quiet = dog.decide(5000, running(0));
    assert.equal(quiet.sound, false);
    assert.notEqual(quiet.alarm, null, 'still shown');
    assert.equal(dog.decide(5500, running(5400)).alarm, null);
    assert.equal(dog.decide(9000, running(5400)).sound, true, 'lost again: it sounds');
  });

  test('silencing when nothing sounds silences nothing to come', () => {
    const dog = new LinkWatchdog(3000, 0);
    dog.silence();
    assert.equal(dog.decide(4000, running(0)).sound, true);
  });

  test('a stopped stream is watched through probes: answered, no alarm; unanswered, the alarm', () => {
    const dog = new LinkWatchdog(5000, 0);
    const stopped = { lastArrivalMs: 1000, state: 'stopped', connected: true };
    assert.equal(dog.decide(2000, stopped).probe, false, 'just heard from it');
    let t = 2500;
    assert.equal(dog.decide(t, stopped).probe, true);
    dog.probeSent(t);
    assert.equal(dog.decide(t + 100, stopped).probe, false, 'one at a time');
    // Answered each time: a stopped stream stays quiet for good.
    for (; t < 120_000; t += 250) {
      const verdict = dog.decide(t, stopped);
      assert.equal(verdict.alarm, null, `at ${t}`);
      if (verdict.probe) {
        dog.probeSent(t);
        dog.probeAnswered(t + 30);
      }
    }
    // Then the server stops answering.
    const lastAnswer = dog.answeredMs;
    for (; t < lastAnswer + 5000; t += 250) {
      const verdict = dog.decide(t, stopped);
      assert.equal(verdict.alarm, null);
      if (verdict.probe) dog.probeSent(t);
      assert.ok(t - dog.probedMs < PROBE_EVERY_MS + 250, 'keeps asking');
    }
    t += 250;
    assert.match(dog.decide(t, stopped).alarm, /has not answered for 5 s/);
  });

  test('probe answers do not stand in for audio while capture runs', () => {
    const dog = new LinkWatchdog(3000, 0);
    dog.probeAnswered(3900);
    assert.notEqual(dog.decide(4000, running(0)).alarm, null);
    assert.equal(dog.decide(4000, running(0)).probe, false);
  });

  test('rearmed, it expects nothing before then', () => {
    const dog = new LinkWatchdog(3000, 0);
    assert.equal(dog.decide(4000, running(null, false)).sound, true);
    dog.rearm(10_000);
    assert.equal(dog.decide(12_000, running(null, false)).alarm, null);
    assert.equal(dog.decide(13_001, running(null, false)).sound, true);
  });

  test('a delay of 0 means no alarm at all', () => {
    const dog = new LinkWatchdog(0, 0);
    assert.equal(dog.decide(1e6, running(0)).alarm, null);
    assert.equal(dog.decide(1e6, { lastArrivalMs: 0, state: 'offline', connected: true }).alarm, null);
    assert.equal(dog.decide(1e6, { lastArrivalMs: 0, state: 'stopped', connected: true }).probe, false);
  });
});

describe('alarmDelayS', () => {
  test('one of the choices, else the default', () => {
    assert.equal(alarmDelayS(10), 10);
    assert.equal(alarmDelayS(0), 0);
    for (const bad of [7, -5, '10', null, undefined, Number.NaN]) assert.equal(alarmDelayS(bad), 5);
  });
});
