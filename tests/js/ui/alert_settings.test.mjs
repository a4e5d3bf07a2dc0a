// Tests for listener_web/ui/alert_settings.js: run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { AlertSettingsStore, parseSettings } from '../../../listener_web/ui/alert_settings.js';

const DEFAULTS = { alertMe: false, chime: true, alarmDelayS: 5, onlySound: false };

/** A stand-in form control: a checkbox or a select. */
class Control {
  constructor() {
    this.checked = false;
    this.value = '';
    this.listeners = [];
  }

  addEventListener(_type, listener) {
    this.listeners.push(listener);
  }

  change(value) {
    if (typeof value === 'boolean') this.checked = value;
    else this.value = value;
    for (const listener of this.listeners) listener();
  }
}

const controls = () => ({
  alertMe: new Control(), chime: new Control(), alarmDelay: new Control(), onlySound: new Control(),
});

describe('parseSettings', () => {
  test('nothing stored, or garbage: the defaults', () => {
    for (const stored of [null, '', '{', '[]', '7', 'null']) assert.deepEqual(parseSettings(stored), DEFAULTS);
  });

  test('each field is checked on its own', () => {
    assert.deepEqual(parseSettings(JSON.stringify({
      alertMe: true, chime: 'yes', alarmDelayS: 30, onlySound: true,
    })), { alertMe: true, chime: true, alarmDelayS: 30, onlySound: true });
    assert.equal(parseSettings('{"alarmDelayS":7}').alarmDelayS, 5);
    assert.equal(parseSettings('{"alarmDelayS":0}').alarmDelayS, 0);
  });
});

describe('AlertSettingsStore', () => {
  test('shows what was stored, and stores what the listener changes', () => {
    const stored = new Map([['broadcaster.alerts', '{"alertMe":true,"alarmDelayS":10}']]);
    globalThis.window = {
      localStorage: { getItem: (k) => stored.get(k) ?? null, setItem: (k, v) => stored.set(k, v) },
    };
    const c = controls();
    const changes = [];
    const store = new AlertSettingsStore(c, (settings, key) => changes.push([key, settings.onlySound]));
    assert.equal(c.alertMe.checked, true);
    assert.equal(c.alarmDelay.value, '10');
    c.onlySound.change(true);
    assert.deepEqual(changes, [['onlySound', true]]);
    assert.deepEqual(JSON.parse(stored.get('broadcaster.alerts')),
      { alertMe: true, chime: true, alarmDelayS: 10, onlySound: true });
    c.alarmDelay.change('3');
    assert.equal(store.settings.alarmDelayS, 3);
    delete globalThis.window;
  });

  test('storage that throws, or none at all, still applies the settings', () => {
    const boom = () => { throw new Error('SecurityError'); };
    for (const window of [{ localStorage: { getItem: boom, setItem: boom } },
      Object.defineProperty({}, 'localStorage', { get: boom })]) {
      globalThis.window = window;
      const c = controls();
      const store = new AlertSettingsStore(c, () => {});
      assert.deepEqual(store.settings, DEFAULTS);
      c.alertMe.change(true);
      assert.equal(store.settings.alertMe, true);
      delete globalThis.window;
    }
  });
});
