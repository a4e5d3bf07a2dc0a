"""Headless Chromium for tests: launch it safely and record what a page plays.

Chromium has no sound card here, so the only way to prove a page made sound is to record
what reaches its AudioContext destination from inside the page. RECORDER_JS, installed as
an init script, wraps `AudioNode.prototype.connect`: every node connected to an
AudioDestinationNode is also connected to a ScriptProcessorNode that appends channel 0 to
`window.__recorded` (a list of Float32Array chunks, the last RECORD_LIMIT_S seconds), and
notes when the first audible sample got there (`window.__firstSoundMs`) and when the page
got its latest click (`window.__pressedMs`), both on the page's `performance.now()` clock.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, sync_playwright

from tests.support.signal_tools import dominant_frequency, rms_dbfs

CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
)
# Never play into a PulseAudio daemon (its clock stalls for seconds at start): with no
# reachable server Chromium uses a fake output that runs in real time.
CHROMIUM_ENV = {"PULSE_SERVER": "unix:/nonexistent"}
RECORD_LIMIT_S = 60


class Evaluates(Protocol):
    """A page of any engine (Playwright's Page, or tests/support/engines.py's)."""

    def evaluate(self, expression: str, arg: Any = None) -> Any:
        """The value of a JS expression; a function expression is called with `arg`."""


RECORDER_JS = """
(() => {
  if (window.__recorded) return;
  const LIMIT_S = __LIMIT_S__;
  window.__recorded = [];
  // When the page got the latest click (a test's press of a button).
  addEventListener('click', () => { window.__pressedMs = performance.now(); }, true);
  window.__recordedRate = 0;
  window.__recordedFrames = 0;
  const recorders = new WeakMap();
  const all = [];
  const connect = AudioNode.prototype.connect;
  // Stop recording, for good: a ScriptProcessorNode costs the audio output (its main-thread
  // round trips make a small output buffer glitch now and then), which benchmarks leave out.
  window.__stopRecording = () => {
    for (const rec of all) { rec.onaudioprocess = null; rec.disconnect(); }
    window.__recordingStopped = true;
  };

  function recorderFor(ctx) {
    let rec = recorders.get(ctx);
    if (rec) return rec;
    // 2 inputs, explicit: a mono source is up-mixed, so channel 0 is what the left speaker gets.
    rec = ctx.createScriptProcessor(4096, 2, 1);
    rec.onaudioprocess = (event) => {
      const input = event.inputBuffer;
      const samples = new Float32Array(input.getChannelData(0));
      // When the first audible sample reached the destination: the chunk ends now (or a
      // little before, as this callback waits for the main thread), that sample `after`
      // samples before its end. An upper bound, close to the truth on an idle main thread.
      if (window.__firstSoundMs === undefined) {
        const first = samples.findIndex((x) => Math.abs(x) > 0.01);
        if (first >= 0) {
          const after = samples.length - first;
          window.__firstSoundMs = performance.now() - (1000 * after) / input.sampleRate;
        }
      }
      window.__recorded.push(samples);
      window.__recordedEndMs = performance.now(); // when the newest recorded sample got there
      window.__recordedRate = input.sampleRate;
      window.__recordedFrames += input.length;
      let kept = 0;
      for (const chunk of window.__recorded) kept += chunk.length;
      while (kept - window.__recorded[0].length > LIMIT_S * input.sampleRate) {
        kept -= window.__recorded.shift().length;
      }
    };
    recorders.set(ctx, rec);
    all.push(rec);
    // A ScriptProcessorNode only runs when it reaches the destination; its output is silent.
    connect.call(rec, ctx.destination);
    return rec;
  }

  AudioNode.prototype.connect = function (destination, output = 0, input = 0) {
    // An AudioParam (a modulation) takes no input index, and is never the destination.
    if (!(destination instanceof AudioNode)) return connect.call(this, destination, output);
    const result = connect.call(this, destination, output, input);
    if (destination instanceof AudioDestinationNode && this !== recorders.get(this.context) &&
        !window.__recordingStopped) {
      connect.call(this, recorderFor(destination.context), output, 0);
    }
    return result;
  };

  // The last `seconds` of channel 0 as base64 little-endian float32 (exact and compact).
  window.__recordedTail = (seconds) => {
    const want = Math.round(seconds * window.__recordedRate);
    const parts = [];
    let have = 0;
    for (let i = window.__recorded.length - 1; i >= 0 && have < want; i--) {
      parts.unshift(window.__recorded[i]);
      have += window.__recorded[i].length;
    }
    const all = new Float32Array(have);
    let at = 0;
    for (const part of parts) { all.set(part, at); at += part.length; }
    const bytes = new Uint8Array(all.buffer, Math.max(0, have - want) * 4);
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  };
})();
""".replace("__LIMIT_S__", str(RECORD_LIMIT_S))


@contextmanager
def launch_chromium(extra_args: Sequence[str] = ()) -> Iterator[Browser]:
    """Launch Debian's headless Chromium (never a Playwright download); close it on exit."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM_PATH,
            headless=True,
            args=[*CHROMIUM_ARGS, *extra_args],
            env={**os.environ, **CHROMIUM_ENV},
        )
        try:
            yield browser
        finally:
            browser.close()


def new_recording_page(browser: Browser) -> Page:
    """A page in a fresh context whose audio output is recorded into `window.__recorded`."""
    context = browser.new_context()
    context.add_init_script(RECORDER_JS)
    return context.new_page()


def collect_problems(page: Page) -> list[str]:
    """A list that fills with the page's uncaught errors, console errors and warnings, and
    failed requests, so a test can assert it stays empty. The recorder's own ScriptProcessorNode
    deprecation warning is left out."""
    problems: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type in ("error", "warning") and "ScriptProcessorNode" not in msg.text:
            problems.append(f"console {msg.type}: {msg.text} ({msg.location.get('url')})")

    def on_response(response: Response) -> None:
        if response.status >= 400:
            problems.append(f"HTTP {response.status}: {response.url}")

    page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    page.on("console", on_console)
    page.on("response", on_response)

    def on_request_failed(request: Request) -> None:
        # ERR_ABORTED is the page's own doing, e.g. closing an EventSource.
        if request.failure != "net::ERR_ABORTED":
            problems.append(f"request failed: {request.url} ({request.failure})")

    page.on("requestfailed", on_request_failed)
    return problems


def recorded_rate(page: Evaluates) -> int:
    """Sample rate of the recording (that of the page's AudioContext); 0 before any audio."""
    return int(page.evaluate("window.__recordedRate"))


def recorded_frames(page: Evaluates) -> int:
    """How many frames the recorder has captured since the page loaded."""
    return int(page.evaluate("window.__recordedFrames"))


def recorded_samples(page: Evaluates, seconds: float) -> npt.NDArray[np.float32]:
    """The last `seconds` of what the page played (channel 0); raises if not recorded yet."""
    rate = recorded_rate(page)
    if rate == 0:
        raise AssertionError("the page has not played anything to its AudioContext destination")
    text = page.evaluate("(s) => window.__recordedTail(s)", seconds)
    samples = np.frombuffer(base64.b64decode(text), dtype="<f4")
    want = round(seconds * rate)
    if len(samples) < want:
        raise AssertionError(f"recorded only {len(samples) / rate:.2f} s of {seconds} s")
    return samples


def assert_plays_the_tone(page: Evaluates, seconds: float = 1.0) -> None:
    """The last `seconds` the page played are the 440 Hz tone, with no dropout."""
    rate = recorded_rate(page)
    assert rate == 48_000
    samples = recorded_samples(page, seconds)
    assert np.all(np.isfinite(samples))
    assert dominant_frequency(samples, rate) == pytest.approx(440, abs=5)
    level = rms_dbfs(samples, full_scale=1.0)
    assert level > -30
    windows = samples[: len(samples) // 480 * 480].reshape(-1, 480)
    levels = [rms_dbfs(w, full_scale=1.0) for w in windows]
    quietest = min(levels)
    at_ms = 10 * levels.index(quietest) - 1000 * seconds
    assert quietest > level - 6, (
        f"a 10 ms window at {quietest:.1f} dBFS vs {level:.1f}, {at_ms:.0f} ms from the end")
