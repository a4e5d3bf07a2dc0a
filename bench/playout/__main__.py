"""Mouth to ear: a click into the microphone, found at the page's audio output.

    .venv/bin/python -m bench.playout [--clicks 100] [--sessions 10]
        [--browser chromium|firefox|webkit] [--origin secure|plain-http] [--frame-ms 20 10]

For 20 ms and 10 ms frames: clicks go into the virtual microphone (bench/latency.py's
clicks, twice as far apart), the real broadcaster reads it through real PyAudio, and the
listener page plays the stream in real headless Chromium (tests/support/browser.py). Nothing is
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
median and what the page itself showed. The page's side (the tap, the clock mapping) is in
tap.py; this module plays the clicks, pairs them and reports.

Firefox and WebKit (`--browser`) play into a PulseAudio null sink, a sound card that plays
in real time: there the clicks are found in what that card plays (speaker.py), the ear
itself, since neither engine's output timestamp can be used. One figure per click, "to
output": when the speaker played it. `--origin plain-http` opens the page from a LAN name
(no secure context: the ScriptProcessor output; Firefox and WebKit only).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from playwright.sync_api import Browser, Page

from bench.playout.speaker import SpeakerTap
from bench.playout.tap import (
    RATE,
    count_clicks,
    latency_shown,
    listening_page,
    measure_offset,
    played_at,
    shown,
)
from tests.support.browser import RECORD_LIMIT_S, launch_chromium, recorded_samples
from tests.support.engines import LAN_NAME, EngineBrowser, launch, speakers, wait_for
from tests.support.server import no_device_env, start_broadcaster
from tests.support.vmic import VirtualMic

# Not a multiple of a frame (clicks land at every phase of one, as in bench/latency.py), and
# twice bench/latency.py's spacing, so that pairing clicks by the gaps between them (see
# `pair`) survives the delay jumping by up to a quarter second between two clicks.
CLICK_EVERY_S = 0.5031
WARM_UP_S = 2.0  # after the page goes live, before the first click


def click_pcm() -> bytes:
    """A short loud burst (2 ms at 3 kHz), then silence up to CLICK_EVERY_S (bench/latency.py's)."""
    n = int(RATE * 0.002)
    burst = 0.8 * 32767 * np.sin(2 * np.pi * 3000 * np.arange(n) / RATE)
    silence = np.zeros(int(RATE * CLICK_EVERY_S) - n)
    return np.concatenate([burst, silence]).astype("<i2").tobytes()


@dataclass(frozen=True, slots=True)
class Heard:
    """One click found at the page's output (the speaker's, Firefox and WebKit: no more)."""

    to_output_ms: float
    to_destination_ms: float | None = None
    output_latency_ms: float | None = None
    lead_ms: float | None = None  # rendering ahead of the output when the click was noted


@dataclass(slots=True)
class Tally:
    """What one configuration measured, over all its listening sessions."""

    frame_ms: float
    sent: int = 0
    heard: list[Heard] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)  # a line about each
    unmatched: int = 0  # detections that belong to no click
    recorder_clicks: int | None = 0  # clicks in the page's recording, as a check
    underruns: int = 0  # jitter-buffer underruns while the clicks played
    worst_rtt_ms: float = 0.0
    worst_drift_ms: float = 0.0
    worst_time_origin_gap_ms: float = 0.0

    def add(self, heard: list[Heard], clicks: int, found: int, where: str,
            page_figures: str) -> None:
        """One session's clicks: `clicks` went in, `found` detections came out `where`, and
        `heard` are those paired with a click."""
        self.sent += clicks
        self.heard += heard
        self.unmatched += found - len(heard)
        median = f"{statistics.median(h.to_output_ms for h in heard):.1f} ms" if heard else "-"
        self.sessions.append(f"{len(heard)}/{clicks} clicks, {where} {median}; "
                             f"the page showed {page_figures}")


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


def pick(values: list[float], q: float) -> float:
    """The q-quantile of `values` (nearest rank, as bench/latency.py)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def play_clicks(page: Page | None, mic: VirtualMic, clicks: int) -> list[float]:
    """Queue the clicks; return when each one's first sample entered the mic (time.time()).

    The mic remembers only its latest writes, so ask about each click while it is recent.
    """
    block = click_pcm()
    positions = [mic.play(block) for _ in range(clicks)]
    entered: list[float] = []
    deadline = time.monotonic() + clicks * CLICK_EVERY_S + 10
    while len(entered) < clicks and time.monotonic() < deadline:
        if page is None:
            time.sleep(0.2)
        else:
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
        page_figures = f"buffer {shown(page, 'buffer')} ms, latency {latency_shown(page)} ms"

    ordered = sorted(found, key=lambda click: click["frame"])
    out_s = [played_at(click, first, last) for click in ordered]
    left_s = [out - click["outputLatency"] for out, click in zip(out_s, ordered, strict=True)]
    heard = [Heard(1000 * (out_s[j] - entered[i]), 1000 * (left_s[j] - entered[i]),
                   1000 * ordered[j]["outputLatency"], ordered[j]["leadMs"])
             for j, i in pair(entered, left_s)]
    tally.add(heard, len(entered), len(found), "to output", page_figures)
    tally.worst_rtt_ms = max(tally.worst_rtt_ms, 1000 * first.rtt_s, 1000 * last.rtt_s)
    drift_ms = 1000 * (last.offset_s - first.offset_s)
    tally.worst_drift_ms = max(tally.worst_drift_ms, abs(drift_ms))
    tally.worst_time_origin_gap_ms = max(tally.worst_time_origin_gap_ms,
                                         *(1000 * abs(o.time_origin_gap_s) for o in (first, last)))


def listen_at_speaker(browser: EngineBrowser, url: str, mic: VirtualMic, speaker: SpeakerTap,
                      clicks: int, tally: Tally) -> None:
    """One listening session in Firefox or WebKit, the clicks found at the speaker."""
    page = browser.new_page()
    try:
        page.goto(url + "/")
        page.click("#listen")
        wait_for(page, "document.getElementById('status').textContent === 'live'", 10)
        time.sleep(WARM_UP_S)
        underruns_before = shown(page, "underruns")
        mark = speaker.mark()
        entered = play_clicks(None, mic, clicks)
        time.sleep(1.0)  # the last click's way through the page
        out_s = speaker.clicks_since(mark)
        sink_ms = speaker.sink_latency_ms()
        underruns_after = shown(page, "underruns")
        if "-" not in (underruns_before, underruns_after):
            tally.underruns += int(underruns_after) - int(underruns_before)
        path = str(page.evaluate(
            "document.querySelector('#figures [data-figure=\"path\"]')?.dataset.value || '-'"))
        page_figures = (f"buffer {shown(page, 'buffer')} ms, latency {latency_shown(page)} ms, "
                        f"path {path}; the sink's latency {sink_ms[0]:.1f} ms "
                        f"(configured {sink_ms[1]:.1f})")
    finally:
        page.close()
    heard = [Heard(1000 * (out_s[j] - entered[i])) for j, i in pair(entered, out_s)]
    tally.recorder_clicks = None
    tally.add(heard, len(entered), len(out_s), "to the speaker", page_figures)


def measure(browser: Browser | EngineBrowser, mic: VirtualMic, frame_ms: float, clicks: int,
            sessions: int, speaker: SpeakerTap | None = None, host: str = "127.0.0.1") -> Tally:
    """Run the broadcaster with `frame_ms` frames; spread the clicks over the sessions."""
    work = Path(tempfile.mkdtemp(prefix="playout-"))
    proc = start_broadcaster(work, "--source", "mic", "--log-level", "warning",
                             env=no_device_env() | mic.env,
                             config=f"[audio]\nframe_ms = {frame_ms}\n")
    tally = Tally(frame_ms)
    try:
        for session in range(sessions):
            share = clicks // sessions + (1 if session < clicks % sessions else 0)
            url = proc.url.replace("127.0.0.1", host)
            if speaker is None:
                assert isinstance(browser, Browser)
                listen(browser, url, mic, share, tally)
            else:
                listen_at_speaker(browser, url, mic, speaker, share, tally)
    finally:
        proc.stop()
    return tally


def report(tally: Tally) -> None:
    """One row of the table."""
    dest = [h.to_destination_ms for h in tally.heard if h.to_destination_ms is not None]
    out = [h.to_output_ms for h in tally.heard]
    found = f"{len(out):>5}/{tally.sent:<5}"
    if not out:
        print(f"{tally.frame_ms:>6g} ms {found} no click found", flush=True)
        return
    lat = [h.output_latency_ms for h in tally.heard if h.output_latency_ms is not None]
    latency = f"{statistics.median(lat):>9.0f}" if lat else f"{'-':>9}"
    to_dest = (f"{pick(dest, 0.5):>8.1f} {pick(dest, 0.99):>8.1f}" if dest
               else f"{'-':>8} {'-':>8}")
    print(f"{tally.frame_ms:>6g} ms {found} {to_dest} "
          f"{pick(out, 0.5):>8.1f} {pick(out, 0.99):>8.1f} {max(out):>8.1f} {latency} "
          f"{tally.underruns:>9}", flush=True)


def check(tally: Tally) -> None:
    """What backs a row up: the clock mapping, cross-checks and each session."""
    leads = [h.lead_ms for h in tally.heard if h.lead_ms is not None]
    if not leads:  # found at the speaker
        print(f"{tally.frame_ms:g} ms frames, found at the speaker (its monitor, read in "
              f"5 ms pieces: up to the sink's configured latency early); "
              f"{tally.unmatched} detections matched no click")
        for number, line in enumerate(tally.sessions, 1):
            print(f"  session {number}: {line}")
        return
    lead = f"{min(leads):.1f}-{max(leads):.1f} ms"
    recorder = "-" if tally.recorder_clicks is None else str(tally.recorder_clicks)
    print(f"{tally.frame_ms:g} ms frames: clock offset within ±{tally.worst_rtt_ms / 2:.2f} ms "
          f"(drift up to {tally.worst_drift_ms:.2f} ms, performance.timeOrigin agrees within "
          f"{tally.worst_time_origin_gap_ms:.2f} ms); rendering {lead} ahead of the output; "
          f"{tally.unmatched} detections matched no click; the recorder heard {recorder} clicks")
    for number, line in enumerate(tally.sessions, 1):
        print(f"  session {number}: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.playout",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=100, help="clicks per frame size")
    parser.add_argument("--sessions", type=int, default=10,
                        help="listening sessions (Start listening on a fresh page) to spread "
                             "each frame size's clicks over")
    parser.add_argument("--browser", choices=("chromium", "firefox", "webkit"),
                        default="chromium")
    parser.add_argument("--origin", choices=("secure", "plain-http"), default="secure",
                        help="plain-http: the page from a LAN name (Firefox and WebKit)")
    parser.add_argument("--frame-ms", type=float, nargs="+", default=[20.0, 10.0])
    args = parser.parse_args()
    if args.clicks < 1 or not 1 <= args.sessions <= args.clicks:
        parser.error("need --clicks >= 1 and 1 <= --sessions <= --clicks")
    if args.browser == "chromium" and args.origin != "secure":
        parser.error("Chromium is measured on the secure origin only (its tap is a worklet)")
    print(f"{'':>9} {'clicks':>11} {'to destination':>17} {'to output':>26} {'output':>9}")
    print(f"{'frame':>9} {'found/sent':>11} {'p50 ms':>8} {'p99 ms':>8} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'max ms':>8} {'lat. ms':>9} {'underruns':>9}", flush=True)
    tallies = []
    with VirtualMic(Path(tempfile.mkdtemp(prefix="playout-vmic-")), chunk_ms=10) as mic:
        if args.browser == "chromium":
            with launch_chromium() as browser:
                for frame_ms in args.frame_ms:
                    tally = measure(browser, mic, frame_ms, args.clicks, args.sessions)
                    report(tally)
                    tallies.append(tally)
        else:
            work = Path(tempfile.mkdtemp(prefix="playout-engine-"))
            host = "127.0.0.1" if args.origin == "secure" else LAN_NAME
            with speakers(work / "speakers") as env, SpeakerTap(env) as speaker, \
                    launch(args.browser, work / "browser", env) as engine:
                for frame_ms in args.frame_ms:
                    tally = measure(engine, mic, frame_ms, args.clicks, args.sessions,
                                    speaker, host)
                    report(tally)
                    tallies.append(tally)
    print()
    for tally in tallies:
        check(tally)


if __name__ == "__main__":
    main()
