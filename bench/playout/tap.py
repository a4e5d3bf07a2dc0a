"""The page's side of bench.playout: a tap in the listener page that notes when each click
leaves its audio graph, and the page's clock mapped onto this process's time.time().

The tap is an AudioWorkletNode of this module's own, fed by the page's player node (exactly
what reaches the AudioContext destination). AudioContext.getOutputTimestamp() pairs a
context time with the performance.now() at which the output device plays it; page.evaluate
round trips bracketed by time.time() map performance.now() onto Python's clock.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import RECORDER_JS, Evaluates, collect_problems

RATE = 48000
CLICK_LEVEL = 0.25  # a sample this loud (of full scale) after QUIET_S of quiet starts a click
QUIET_S = 0.1
OFFSET_SAMPLES = 40  # page.evaluate round trips per clock-offset measurement

# The tap's AudioWorkletProcessor. It posts the context frame of each click's first loud
# sample; it has no output, so Chromium pulls it on its own every render quantum.
TAP_PROCESSOR_JS = """
class PlayoutTap extends AudioWorkletProcessor {
  constructor() {
    super();
    this.quietFrames = Infinity;
  }

  process(inputs) {
    const channels = inputs[0];
    if (channels.length === 0) {
      this.quietFrames += 128;
      return true;
    }
    const samples = channels[0];
    for (let i = 0; i < samples.length; i++) {
      if (Math.abs(samples[i]) >= __LEVEL__) {
        if (this.quietFrames >= __QUIET_FRAMES__) this.port.postMessage(currentFrame + i);
        this.quietFrames = 0;
      } else {
        this.quietFrames += 1;
      }
    }
    return true;
  }
}
registerProcessor('playout-tap', PlayoutTap);
""".replace("__LEVEL__", str(CLICK_LEVEL)).replace("__QUIET_FRAMES__", str(int(QUIET_S * RATE)))

# Init script: every AudioContext loads the tap's module as soon as it exists; the page's
# 'broadcaster-player' node (the only thing connected to the destination) also feeds a tap.
# For each click the main thread stores the frame with a fresh getOutputTimestamp() (its
# context time <-> performance.now() pairing holds within ~0.2 ms here) and the latencies.
TAP_JS = """
(() => {
  if (window.__playout) return;
  const state = { clicks: [], taps: 0 };
  window.__playout = state;
  const NativeAudioContext = window.AudioContext;
  const NativeWorkletNode = window.AudioWorkletNode;
  const loading = new WeakMap();
  const tapUrl = URL.createObjectURL(
    new Blob([__TAP_PROCESSOR_JS__], { type: 'text/javascript' }));

  window.AudioContext = class extends NativeAudioContext {
    constructor(...args) {
      super(...args);
      loading.set(this, this.audioWorklet.addModule(tapUrl));
    }
  };

  function tap(ctx, node) {
    loading.get(ctx).then(() => {
      const tapNode = new NativeWorkletNode(ctx, 'playout-tap',
        { numberOfInputs: 1, numberOfOutputs: 0 });
      tapNode.port.onmessage = (event) => {
        const stamp = ctx.getOutputTimestamp();
        state.clicks.push({
          frame: event.data,
          sampleRate: ctx.sampleRate,
          contextTime: stamp.contextTime,
          performanceTime: stamp.performanceTime,
          outputLatency: ctx.outputLatency,
          // How far rendering runs ahead of what the device plays: a check on the stamp.
          leadMs: 1000 * ctx.currentTime
            - (1000 * stamp.contextTime + performance.now() - stamp.performanceTime),
        });
      };
      node.connect(tapNode);
      state.taps += 1;
    }).catch((err) => console.error('playout tap:', err));
  }

  window.AudioWorkletNode = class extends NativeWorkletNode {
    constructor(ctx, name, options) {
      super(ctx, name, options);
      if (name === 'broadcaster-player') tap(ctx, this);
    }
  };
})();
""".replace("__TAP_PROCESSOR_JS__", json.dumps(TAP_PROCESSOR_JS))


def count_clicks(samples: npt.NDArray[np.float32]) -> int:
    """Clicks in a recording, found as the tap finds them."""
    loud = np.flatnonzero(np.abs(samples) >= CLICK_LEVEL)
    if len(loud) == 0:
        return 0
    return 1 + int(np.count_nonzero(np.diff(loud) > QUIET_S * RATE))


@dataclass(frozen=True, slots=True)
class ClockOffset:
    """time.time() minus performance.now() (both in s) at `at_s`, within ± `rtt_s` / 2."""

    offset_s: float
    rtt_s: float
    at_s: float
    # offset_s minus performance.timeOrigin: Chromium's own idea of the same offset.
    time_origin_gap_s: float = 0.0


def measure_offset(page: Page) -> ClockOffset:
    """The page.evaluate round trip with the shortest time gives the tightest offset."""
    best: ClockOffset | None = None
    for _ in range(OFFSET_SAMPLES):
        before = time.time()
        now_ms = float(page.evaluate("performance.now()"))
        after = time.time()
        sample = ClockOffset((before + after) / 2 - now_ms / 1000, after - before, before)
        if best is None or sample.rtt_s < best.rtt_s:
            best = sample
    assert best is not None
    origin_s = float(page.evaluate("performance.timeOrigin")) / 1000
    return replace(best, time_origin_gap_s=best.offset_s - origin_s)


def interpolate(first: ClockOffset, last: ClockOffset, at_s: float) -> float:
    """The clock offset at `at_s`, assuming the two clocks drift linearly."""
    if last.at_s == first.at_s:
        return first.offset_s
    share = (at_s - first.at_s) / (last.at_s - first.at_s)
    return first.offset_s + share * (last.offset_s - first.offset_s)


def played_at(click: dict[str, float], first: ClockOffset, last: ClockOffset) -> float:
    """When the output device plays a tapped click's first loud sample, on time.time()."""
    played_ms = (click["performanceTime"]
                 + 1000 * (click["frame"] / click["sampleRate"] - click["contextTime"]))
    return played_ms / 1000 + interpolate(first, last, played_ms / 1000 + first.offset_s)


def shown(page: Evaluates, figure: str) -> str:
    """A number the page shows in its figures line ("buffer 40 ms · underruns 0 · ..."), or -."""
    words = r"\s+".join(re.escape(word) for word in figure.split())
    text = str(page.evaluate("document.getElementById('figures').textContent"))
    found = re.search(rf"{words}\s+(\d+)", text)
    return found.group(1) if found else "-"


def latency_shown(page: Evaluates) -> str:
    """The page's latency figure with its sign ("≈ 61", or "≥ 188" for a lower bound), or -."""
    text = str(page.evaluate("document.getElementById('figures').textContent"))
    found = re.search(r"latency\s+([≈≥])\s+(\d+)", text)
    return f"{found.group(1)} {found.group(2)}" if found else "-"


@contextmanager
def listening_page(browser: Browser, url: str) -> Iterator[Page]:
    """The listener page, recorded (tests/support/browser.py) and tapped, playing from `url`."""
    # The tap's module is a blob: URL, which the page's Content-Security-Policy forbids
    # (Playwright cannot serve worklet modules through page.route).
    context = browser.new_context(permissions=["microphone"], bypass_csp=True)
    problems: list[str] = []
    try:
        context.add_init_script(RECORDER_JS)
        context.add_init_script(TAP_JS)
        page = context.new_page()
        problems = collect_problems(page)
        page.goto(url + "/")
        page.locator("#listen").click()
        try:
            expect(page.locator("#status")).to_have_text("live", timeout=10_000)
            page.wait_for_function("() => window.__playout.taps === 1", timeout=5_000)
        except AssertionError as exc:
            raise AssertionError(f"the page did not start playing: {problems}") from exc
        yield page
        page.locator("#listen").click()
    finally:
        if problems:
            print(f"page problems: {problems}", file=sys.stderr)
        context.close()
