"""Mouth to ear in Chromium: a click into the microphone, found at the page's audio output.

    .venv/bin/python -m bench.playout [--clicks 100] [--sessions 10]

For 20 ms and 10 ms frames: clicks go into the virtual microphone (bench/latency.py's
clicks, twice as far apart), the real broadcaster reads it through real PyAudio, and the
listener page plays the stream in real headless Chromium (tests/browser.py). Nothing is
subtracted: capture, encoding, the network, decoding, the jitter buffer and Chromium's
output path all count. The clicks are spread over several listening sessions (a fresh page
pressing Start listening): a sample-clocked pipeline delays every sample alike, so the delay
is set when playback starts and moves only as the page's jitter buffer changes depth.

Timing, from the click's side: the virtual mic tells when each click's first sample entered
it, on time.time(). From the page's side: a tap (an AudioWorkletNode of this script's own,
fed by the page's player node, i.e. with exactly what reaches the AudioContext destination)
notes the context frame of each click's first loud sample. AudioContext.getOutputTimestamp()
pairs a context time with the performance.now() at which the output device plays it, so
each click's frame gets a performance.now() time; page.evaluate round trips bracketed by
time.time() map that to Python's clock (the sample with the shortest round trip is kept,
before and after the clicks, and the offset is interpolated between the two). The tap's
module is a blob: URL, so the page runs with its Content-Security-Policy bypassed.

Two figures per click: "to output" is when Chromium expects its output device to play the
sample (with no sound card, a fake device that runs in real time); "to destination" is that
minus AudioContext.outputLatency, the device's share as Chromium reports it, i.e. when the
sample left the AudioContext. The context has the microphone permission, so that Chromium
reports outputLatency to 1 ms instead of rounding it to 8 ms. Below the table, a line per
frame size backs the figures up (clock mapping, cross-checks) and one per session gives its
median and what the page itself showed.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import (
    RECORD_LIMIT_S,
    RECORDER_JS,
    collect_problems,
    launch_chromium,
    recorded_samples,
)
from tests.support.server import no_device_env, start_broadcaster
from tests.support.vmic import VirtualMic

RATE = 48000
# Not a multiple of a frame (clicks land at every phase of one, as in bench/latency.py), and
# twice bench/latency.py's spacing, so that pairing clicks by the gaps between them (see
# `pair`) survives the delay jumping by up to a quarter second between two clicks.
CLICK_EVERY_S = 0.5031
CLICK_LEVEL = 0.25  # a sample this loud (of full scale) after QUIET_S of quiet starts a click
QUIET_S = 0.1
WARM_UP_S = 2.0  # after the page goes live, before the first click
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


def click_pcm() -> bytes:
    """A short loud burst (2 ms at 3 kHz), then silence up to CLICK_EVERY_S (bench/latency.py's)."""
    n = int(RATE * 0.002)
    burst = 0.8 * 32767 * np.sin(2 * np.pi * 3000 * np.arange(n) / RATE)
    silence = np.zeros(int(RATE * CLICK_EVERY_S) - n)
    return np.concatenate([burst, silence]).astype("<i2").tobytes()


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


@dataclass(frozen=True, slots=True)
class Heard:
    """One click found at the page's output."""

    to_destination_ms: float
    to_output_ms: float
    output_latency_ms: float
    lead_ms: float  # rendering ahead of the output when the click was noted


@dataclass(slots=True)
class Tally:
    """What one configuration measured, over all its listening sessions."""

    frame_ms: float
    sent: int = 0
    heard: list[Heard] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)  # a line about each
    unmatched: int = 0  # detections that belong to no click
    recorder_clicks: int | None = 0  # clicks in tests/browser.py's recording, as a check
    underruns: int = 0  # jitter-buffer underruns while the clicks played
    worst_rtt_ms: float = 0.0
    worst_drift_ms: float = 0.0
    worst_time_origin_gap_ms: float = 0.0


def pair(entered: list[float], left: list[float]) -> list[tuple[int, int]]:
    """(detection, click) index pairs, given when each click entered the mic and when each
    detection left the graph, both in order.

    Nothing loud goes in for seconds before the first click, so the first detection is the
    first click; after it, the gap to the previous detection, in click spacings, says how
    many clicks on it is (a lost click leaves a double gap). Unlike pairing a detection with
    the click that entered last before it, this holds however long the delay, as long as it
    changes by less than half a spacing between two clicks found.
    """
    pairs: list[tuple[int, int]] = []
    index, previous_s = 0, None
    for found, left_s in enumerate(left):
        if previous_s is not None:
            steps = round((left_s - previous_s) / CLICK_EVERY_S)
            if steps == 0:
                continue  # the same click found twice
            index += steps
        previous_s = left_s
        if index < len(entered) and left_s > entered[index]:
            pairs.append((found, index))
    return pairs


def played_at(click: dict[str, float], first: ClockOffset, last: ClockOffset) -> float:
    """When the output device plays a tapped click's first loud sample, on time.time()."""
    played_ms = (click["performanceTime"]
                 + 1000 * (click["frame"] / click["sampleRate"] - click["contextTime"]))
    return played_ms / 1000 + interpolate(first, last, played_ms / 1000 + first.offset_s)


def pick(values: list[float], q: float) -> float:
    """The q-quantile of `values` (nearest rank, as bench/latency.py)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def shown(page: Page, figure: str) -> str:
    """A number the page shows in its figures line ("buffer 40 ms · underruns 0 · ..."), or -."""
    words = r"\s+".join(re.escape(word) for word in figure.split())
    found = re.search(rf"{words}\s+(\d+)", page.locator("#figures").inner_text())
    return found.group(1) if found else "-"


@contextmanager
def listening_page(browser: Browser, url: str) -> Iterator[Page]:
    """The listener page, recorded (tests/browser.py) and tapped, playing from `url`."""
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


def play_clicks(page: Page, mic: VirtualMic, clicks: int) -> list[float]:
    """Queue the clicks; return when each one's first sample entered the mic (time.time()).

    The mic remembers only its latest writes, so ask about each click while it is recent.
    """
    block = click_pcm()
    positions = [mic.play(block) for _ in range(clicks)]
    entered: list[float] = []
    deadline = time.monotonic() + clicks * CLICK_EVERY_S + 10
    while len(entered) < clicks and time.monotonic() < deadline:
        page.wait_for_timeout(200)
        while len(entered) < clicks:
            at = mic.entered_at(positions[len(entered)])
            if at is None:
                break
            entered.append(at)
    mic.clear()
    return entered


def listen(browser: Browser, url: str, mic: VirtualMic, clicks: int, tally: Tally) -> None:
    """One listening session: open the page, play `clicks` clicks, add what it heard."""
    with listening_page(browser, url) as page:
        page.wait_for_timeout(WARM_UP_S * 1000)
        page.evaluate("window.__playout.clicks.length = 0")
        underruns_before = shown(page, "underruns")
        first = measure_offset(page)
        entered = play_clicks(page, mic, clicks)
        page.wait_for_timeout(1000)  # the last click's way through the page
        last = measure_offset(page)
        found: list[dict[str, float]] = page.evaluate("window.__playout.clicks")
        heard_s = clicks * CLICK_EVERY_S + WARM_UP_S  # no click before: the start can be early
        if tally.recorder_clicks is not None and heard_s < RECORD_LIMIT_S:
            tally.recorder_clicks += count_clicks(recorded_samples(page, heard_s))
        else:
            tally.recorder_clicks = None
        underruns_after = shown(page, "underruns")
        if "-" not in (underruns_before, underruns_after):
            tally.underruns += int(underruns_after) - int(underruns_before)
        page_figures = f"buffer {shown(page, 'buffer')} ms, latency ≈ {shown(page, 'latency ≈')} ms"

    ordered = sorted(found, key=lambda click: click["frame"])
    out_s = [played_at(click, first, last) for click in ordered]
    left_s = [out - click["outputLatency"] for out, click in zip(out_s, ordered, strict=True)]
    heard = [Heard(1000 * (left_s[j] - entered[i]), 1000 * (out_s[j] - entered[i]),
                   1000 * ordered[j]["outputLatency"], ordered[j]["leadMs"])
             for j, i in pair(entered, left_s)]
    tally.sent += len(entered)
    tally.heard += heard
    tally.unmatched += len(found) - len(heard)
    median = f"{statistics.median(h.to_output_ms for h in heard):.1f} ms" if heard else "-"
    tally.sessions.append(f"{len(heard)}/{len(entered)} clicks, to output {median}; "
                          f"the page showed {page_figures}")
    tally.worst_rtt_ms = max(tally.worst_rtt_ms, 1000 * first.rtt_s, 1000 * last.rtt_s)
    drift_ms = 1000 * (last.offset_s - first.offset_s)
    tally.worst_drift_ms = max(tally.worst_drift_ms, abs(drift_ms))
    tally.worst_time_origin_gap_ms = max(tally.worst_time_origin_gap_ms,
                                         *(1000 * abs(o.time_origin_gap_s) for o in (first, last)))


def measure(browser: Browser, mic: VirtualMic, frame_ms: float, clicks: int,
            sessions: int) -> Tally:
    """Run the broadcaster with `frame_ms` frames; spread the clicks over the sessions."""
    work = Path(tempfile.mkdtemp(prefix="playout-"))
    proc = start_broadcaster(work, "--source", "mic", "--log-level", "warning",
                             env=no_device_env() | mic.env,
                             config=f"[audio]\nframe_ms = {frame_ms}\n")
    tally = Tally(frame_ms)
    try:
        for session in range(sessions):
            share = clicks // sessions + (1 if session < clicks % sessions else 0)
            listen(browser, proc.url, mic, share, tally)
    finally:
        proc.stop()
    return tally


def report(tally: Tally) -> None:
    """One row of the table."""
    dest = [h.to_destination_ms for h in tally.heard]
    out = [h.to_output_ms for h in tally.heard]
    found = f"{len(out):>5}/{tally.sent:<5}"
    if not out:
        print(f"{tally.frame_ms:>6g} ms {found} no click found", flush=True)
        return
    latency = statistics.median(h.output_latency_ms for h in tally.heard)
    print(f"{tally.frame_ms:>6g} ms {found} {pick(dest, 0.5):>8.1f} {pick(dest, 0.99):>8.1f} "
          f"{pick(out, 0.5):>8.1f} {pick(out, 0.99):>8.1f} {max(out):>8.1f} {latency:>9.0f} "
          f"{tally.underruns:>9}", flush=True)


def check(tally: Tally) -> None:
    """What backs a row up: the clock mapping, cross-checks and each session."""
    leads = [h.lead_ms for h in tally.heard]
    lead = f"{min(leads):.1f}-{max(leads):.1f} ms" if leads else "-"
    recorder = "-" if tally.recorder_clicks is None else str(tally.recorder_clicks)
    print(f"{tally.frame_ms:g} ms frames: clock offset within ±{tally.worst_rtt_ms / 2:.2f} ms "
          f"(drift up to {tally.worst_drift_ms:.2f} ms, performance.timeOrigin agrees within "
          f"{tally.worst_time_origin_gap_ms:.2f} ms); rendering {lead} ahead of the output; "
          f"{tally.unmatched} detections matched no click; the recorder heard {recorder} clicks")
    for number, line in enumerate(tally.sessions, 1):
        print(f"  session {number}: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=100, help="clicks per frame size")
    parser.add_argument("--sessions", type=int, default=10,
                        help="listening sessions (Start listening on a fresh page) to spread "
                             "each frame size's clicks over")
    args = parser.parse_args()
    if args.clicks < 1 or not 1 <= args.sessions <= args.clicks:
        parser.error("need --clicks >= 1 and 1 <= --sessions <= --clicks")
    print(f"{'':>9} {'clicks':>11} {'to destination':>17} {'to output':>26} {'output':>9}")
    print(f"{'frame':>9} {'found/sent':>11} {'p50 ms':>8} {'p99 ms':>8} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'max ms':>8} {'lat. ms':>9} {'underruns':>9}", flush=True)
    tallies = []
    with VirtualMic(Path(tempfile.mkdtemp(prefix="playout-vmic-")), chunk_ms=10) as mic, \
            launch_chromium() as browser:
        for frame_ms in (20.0, 10.0):
            tally = measure(browser, mic, frame_ms, args.clicks, args.sessions)
            report(tally)
            tallies.append(tally)
    print()
    for tally in tallies:
        check(tally)


if __name__ == "__main__":
    main()
