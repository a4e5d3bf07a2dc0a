"""The listener page's audio output in real headless Chromium, against a real broadcaster
playing tone:440: a context that freezes or a device that glitches is replaced while the
stream plays on, and sound the browser blocks is unblocked by a tap."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.page.listening import listen_and_wait_for_sound
from tests.support.browser import (
    collect_problems,
    launch_chromium,
    new_recording_page,
    recorded_samples,
)
from tests.support.signal_tools import dominant_frequency, rms_dbfs

pytestmark = pytest.mark.browser

# Headless Chromium lets every AudioContext play, whatever --autoplay-policy says. This
# init script applies the policy of a browser that blocks sound: a context created or resumed
# outside the handling of a real click stays suspended, and resume() either waits for such a
# click (Chromium, "pending") or fails with NotAllowedError (WebKit, "reject"). It looks at
# the click event itself, not at navigator.userActivation: Playwright's evaluate() lends the
# page a user activation.
BLOCK_SOUND_JS = """
(() => {
  const mode = '__MODE__';
  let inRealClick = false;
  window.addEventListener('click', (event) => {
    inRealClick = event.isTrusted;
    setTimeout(() => { inRealClick = false; });
  }, true);
  window.addEventListener('click', () => { inRealClick = false; });
  const Native = window.AudioContext;
  const nativeResume = Native.prototype.resume;
  const nativeState = Object.getOwnPropertyDescriptor(BaseAudioContext.prototype, 'state').get;
  const blocked = new WeakSet();
  const waiting = [];
  window.AudioContext = class extends Native {
    constructor(...args) {
      super(...args);
      if (!inRealClick) {
        blocked.add(this);
        this.suspend();
      }
    }
  };
  Object.defineProperty(BaseAudioContext.prototype, 'state', {
    get() { return blocked.has(this) ? 'suspended' : nativeState.call(this); },
  });
  Native.prototype.resume = function () {
    if (inRealClick) {
      blocked.delete(this);
      const started = nativeResume.call(this);
      started.then(() => waiting.splice(0).forEach((wake) => wake()));
      return started;
    }
    if (mode === 'reject') {
      return Promise.reject(new DOMException('no user gesture', 'NotAllowedError'));
    }
    return new Promise((wake) => waiting.push(wake));
  };
})();
"""


def assert_plays_on_in_the_new_context(page: Page) -> None:
    """After the page replaced its AudioContext: the tone plays again, and the same
    connection carried on (no reconnect)."""
    page.wait_for_timeout(1_000)
    samples = recorded_samples(page, 0.5)
    assert dominant_frequency(samples, 48_000) == pytest.approx(440, abs=5)
    assert rms_dbfs(samples, full_scale=1.0) > -30
    expect(page.locator('#figures [data-figure="reconnects"]')).to_have_attribute(
        "data-value", "0")


def test_a_frozen_audio_context_is_replaced_and_the_stream_plays_on(tone_server: str) -> None:
    with launch_chromium() as browser:
        page = new_recording_page(browser)
        # Keep every AudioContext the page makes, to freeze one as iOS does after a call.
        page.add_init_script("""(() => {
          const Native = window.AudioContext;
          window.__contexts = [];
          window.AudioContext = class extends Native {
            constructor(...args) { super(...args); window.__contexts.push(this); }
          };
        })();""")
        problems = collect_problems(page)
        page.goto(f"{tone_server}/")
        listen_and_wait_for_sound(page)
        page.wait_for_timeout(1_000)
        # Stopped, and deaf to resume(): only a new context plays again.
        page.evaluate("""() => {
          const ctx = window.__contexts[0];
          ctx.resume = () => Promise.resolve();
          return ctx.suspend();
        }""")
        status = page.locator("#status")
        page.wait_for_function("() => window.__contexts.length === 2", timeout=10_000)
        expect(status).to_have_text("live", timeout=10_000)
        assert page.evaluate("window.__contexts[0].state") == "closed"
        assert page.evaluate("window.__contexts[1].state") == "running"
        assert_plays_on_in_the_new_context(page)
        expect(page.locator("#unlock")).to_be_hidden()
        assert problems == []


def test_an_output_device_that_glitches_gets_a_larger_buffer(tone_server: str) -> None:
    with launch_chromium() as browser:
        page = new_recording_page(browser)
        # Keep every AudioContext and the latencyHint it was made with. Headless Chromium's
        # output never glitches, so the first context's glitch count (playbackStats) is
        # the test's to set, in window.__glitches.
        page.add_init_script("""(() => {
          const Native = window.AudioContext;
          window.__contexts = [];
          window.__hints = [];
          window.__glitches = 0;
          window.AudioContext = class extends Native {
            constructor(options) {
              super(options);
              window.__hints.push(options?.latencyHint);
              if (window.__contexts.push(this) === 1) {
                Object.defineProperty(this, 'playbackStats', {
                  get: () => ({ underrunEvents: window.__glitches }),
                });
              }
            }
          };
        })();""")
        problems = collect_problems(page)
        page.goto(f"{tone_server}/")
        listen_and_wait_for_sound(page)
        assert page.evaluate("window.__hints") == [0]  # the smallest buffer first
        expect(page.locator("#figures")).not_to_contain_text("glitches")
        page.evaluate("window.__glitches = 1")
        page.wait_for_timeout(1_500)
        assert page.evaluate("window.__contexts.length") == 1, "one glitch is no reason"
        page.evaluate("window.__glitches = 4")
        page.wait_for_function("() => window.__contexts.length === 2", timeout=5_000)
        assert page.evaluate("window.__hints") == [0, "interactive"]
        expect(page.locator("#status")).to_have_text("live", timeout=10_000)
        assert page.evaluate("window.__contexts[0].state") == "closed"
        assert_plays_on_in_the_new_context(page)
        # The glitches stay counted after the switch.
        expect(page.locator('#figures [data-figure="glitches"]')).to_have_attribute(
            "data-value", "4")
        # Stop and Start again: the page remembers that this device needs the larger buffer.
        page.locator("#listen").click()
        listen_and_wait_for_sound(page)
        assert page.evaluate("window.__hints") == [0, "interactive", "interactive"]
        assert [p for p in problems if "smallest output buffer" not in p] == []
        assert len(problems) == 1, problems


@pytest.mark.parametrize("refusal", ["pending", "reject"])
def test_blocked_sound_shows_tap_to_listen_and_the_tap_plays(
    tone_server: str, refusal: str
) -> None:
    with launch_chromium() as browser:
        page = new_recording_page(browser)
        page.add_init_script(BLOCK_SOUND_JS.replace("__MODE__", refusal))
        problems = collect_problems(page)
        page.goto(f"{tone_server}/")
        # A start without a real click: the browser keeps the sound blocked.
        page.evaluate("() => document.getElementById('listen').click()")
        hint = page.locator("#unlock")
        expect(hint).to_be_visible()
        expect(page.locator("#status")).to_contain_text("sound is blocked")
        page.wait_for_timeout(300)
        assert page.evaluate("() => window.__firstSoundMs") is None
        page.locator("#unlock-button").click()  # a real tap
        expect(hint).to_be_hidden()
        expect(page.locator("#status")).to_have_text("live", timeout=10_000)
        page.wait_for_function("() => window.__firstSoundMs !== undefined", timeout=5_000)
        expect(page.locator("#listen")).to_have_text("Stop listening")
        assert problems == []
