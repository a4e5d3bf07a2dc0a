import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { PAUSE_MARGIN_MS, isWebKitEngine, pauseMarginMs } from '../../../listener_web/output/pause_margin.js';

const WEBKIT = {
  'Safari on a Mac': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Safari on an iPhone': 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Chrome on an iPhone (WebKit underneath)': 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1',
  'Firefox on an iPhone (WebKit underneath)': 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15',
  "WebKitGTK's MiniBrowser": 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15',
};
const OTHERS = {
  'Chromium on Linux': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'headless Chromium': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36',
  'Edge': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
  'Chrome on Android': 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
  'Samsung Internet': 'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36',
  'Firefox ESR on Linux': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'Firefox on Android': 'Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0',
};

describe('pause_margin', () => {
  test("WebKit's engine is told by its user agent, wherever it runs", () => {
    for (const [name, agent] of Object.entries(WEBKIT)) assert.equal(isWebKitEngine(agent), true, name);
  });

  test("Chromium's engine names AppleWebKit too, and is not WebKit; nor is Gecko", () => {
    for (const [name, agent] of Object.entries(OTHERS)) assert.equal(isWebKitEngine(agent), false, name);
  });

  test("the margin is the AudioWorklet output's, on WebKit only", () => {
    const safari = WEBKIT['Safari on an iPhone'];
    assert.equal(pauseMarginMs(safari, 'worklet'), PAUSE_MARGIN_MS);
    assert.equal(pauseMarginMs(safari, 'scriptprocessor'), 0);
    assert.equal(pauseMarginMs(OTHERS['Chromium on Linux'], 'worklet'), 0);
    assert.equal(pauseMarginMs(OTHERS['Firefox ESR on Linux'], 'worklet'), 0);
  });

  test('it covers the longest pause measured, a burst just played and a frame due', () => {
    assert.ok(PAUSE_MARGIN_MS >= 156 + 40 + 20);
  });
});
