"""The page's own latency figure: what the listener page measures and reports, at steady state.

    .venv/bin/python -m bench.page_latency [--seconds 300] [--warm-up 10] [--sessions 1]
                                           [--frame-ms 20 10]

For 20 ms and 10 ms frames (the default config otherwise, the built-in tone as the source),
the real broadcaster serves the listener page to real headless Chromium (tests/browser.py),
which presses Start listening and plays. Nothing outside the page measures anything here:
the figures are the page's own (docs/protocol.md, "How the listener page uses it").

- first sound: from the page getting the click on Start listening (`--press-after` seconds
  after it loaded) to the first audible sample at the AudioContext destination (the
  recorder of tests/browser.py, stopped then; an upper bound by the few ms its callback
  waits for the page's main thread). Add the output device's latency (outputLatency, the
  "output" column) for when it is heard.
- latency: the page's figure, capture to heard (the output device included), read from the
  page once a second after `--warm-up` seconds, for `--seconds`.
- minus output: the same from the page's reports in /status (every 5 s), each less its
  `output_ms` (AudioContext.outputLatency): when the sample left the AudioContext.
- underruns: the page's count during the steady-state window (and in all, since Start).
- glitches: times the output device got no audio in time (AudioContext.playbackStats), since
  Start; a device that glitches makes the page move from the smallest output buffer to a
  larger one (listener_web/output/output_buffer.js).

With no sound card Chromium plays to a fake output device that runs in real time and
reports an outputLatency of about 30 ms. Prints one table, then the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import launch_chromium, new_recording_page
from tests.support.server import start_broadcaster

FRAME_SIZES_MS = (20.0, 10.0)
REPORT_EVERY_S = 5.0


@dataclass
class Tally:
    """What the sessions of one frame size measured."""

    frame_ms: float
    first_sound_ms: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)  # the page's figure, 1/s
    reported_ms: list[float] = field(default_factory=list)  # reports' latency_ms
    left_context_ms: list[float] = field(default_factory=list)  # reports: latency minus output
    output_ms: list[float] = field(default_factory=list)
    underruns_steady: int = 0
    underruns_total: int = 0
    glitches: int = 0
    reconnects: int = 0
    unknown: int = 0  # seconds the page showed no latency


def figure(page: Page, name: str) -> str:
    """The bare value of one of the page's figures ('' when unknown or not shown)."""
    found = page.locator(f'#figures [data-figure="{name}"]')
    return (found.get_attribute("data-value") or "") if found.count() else ""


def reports(url: str) -> list[dict[str, Any]]:
    response = httpx.get(url + "/status", timeout=5)
    response.raise_for_status()
    return list(response.json()["listeners_detail"])


def session(browser: Browser, url: str, args: argparse.Namespace, tally: Tally) -> None:
    """One press of Start listening on a fresh page, measured for warm-up + seconds."""
    page = new_recording_page(browser)
    try:
        page.goto(url + "/")
        # As a person does: press once the page is up, not while it is still loading.
        page.wait_for_timeout(args.press_after * 1000)
        page.locator("#listen").click()
        expect(page.locator("#status")).to_have_text("live", timeout=15_000)
        page.wait_for_function("() => window.__firstSoundMs !== undefined", timeout=10_000)
        tally.first_sound_ms.append(
            float(page.evaluate("window.__firstSoundMs - window.__pressedMs")))
        # The recorder found the first sound: it is the test's, and costs the audio output.
        page.evaluate("window.__stopRecording()")
        page.wait_for_timeout(args.warm_up * 1000)
        underruns_before = int(figure(page, "underruns") or 0)
        seen: set[tuple[Any, ...]] = set()
        end = time.monotonic() + args.seconds
        next_report = time.monotonic()
        while time.monotonic() < end:
            page.wait_for_timeout(1000)
            text = figure(page, "latency")
            if text:
                tally.latency_ms.append(float(text))
            else:
                tally.unknown += 1
            if time.monotonic() >= next_report:
                next_report += REPORT_EVERY_S
                for report in reports(url):
                    # Each report once (a report stays listed until the next replaces it).
                    key = tuple(report[k] for k in ("listener", "latency_ms", "buffer_ms",
                                                    "drift_ppm", "underruns"))
                    if key in seen or report["latency_ms"] is None:
                        continue
                    seen.add(key)
                    tally.reported_ms.append(report["latency_ms"])
                    if report["output_ms"] is not None:
                        tally.output_ms.append(report["output_ms"])
                        tally.left_context_ms.append(report["latency_ms"] - report["output_ms"])
        underruns = int(figure(page, "underruns") or 0)
        tally.underruns_steady += underruns - underruns_before
        tally.underruns_total += underruns
        tally.glitches += int(figure(page, "glitches") or 0)  # shown only when there are some
        tally.reconnects += int(figure(page, "reconnects") or 0)
    finally:
        page.context.close()


def measure(browser: Browser, frame_ms: float, args: argparse.Namespace, tmp: Path) -> Tally:
    tally = Tally(frame_ms)
    proc = start_broadcaster(tmp, "--source", "tone:440",
                             config=f"[audio]\nframe_ms = {frame_ms}\n")
    try:
        for _ in range(args.sessions):
            session(browser, proc.url, args, tally)
    finally:
        proc.stop()
    return tally


def pick(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.1f} ms"


def median(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ms" if values else "-"


def table(tallies: list[Tally], args: argparse.Namespace) -> str:
    minutes = args.seconds / 60
    rows = [
        "| frame | first sound p50 | latency p50 | p90 | max | reported p50 "
        "| minus output p50 | output | underruns | glitches | reconnects |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for t in tallies:
        rows.append(
            f"| {t.frame_ms:g} ms | {median(t.first_sound_ms)} | {median(t.latency_ms)} "
            f"| {pick(t.latency_ms, 0.9)} | {pick(t.latency_ms, 1.0)} | {median(t.reported_ms)} "
            f"| {median(t.left_context_ms)} | {median(t.output_ms)} "
            f"| {t.underruns_steady} in {minutes * args.sessions:.3g} min "
            f"({t.underruns_total} since Start) | {t.glitches} | {t.reconnects} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0,
                        help="steady-state seconds measured per session (default 300)")
    parser.add_argument("--warm-up", type=float, default=10.0,
                        help="seconds after the first sound before measuring (default 10)")
    parser.add_argument("--press-after", type=float, default=1.0,
                        help="seconds between the page loading and the press (default 1)")
    parser.add_argument("--sessions", type=int, default=1,
                        help="listening sessions (fresh pages) per frame size (default 1)")
    parser.add_argument("--frame-ms", type=float, nargs="+", default=list(FRAME_SIZES_MS),
                        help="the frame sizes to measure (default 20 10)")
    args = parser.parse_args()
    tallies = []
    with tempfile.TemporaryDirectory() as tmp, launch_chromium() as browser:
        for frame_ms in args.frame_ms:
            tally = measure(browser, frame_ms, args, Path(tmp))
            print(f"{frame_ms:g} ms frames: {len(tally.latency_ms)} page readings, "
                  f"{len(tally.reported_ms)} reports, {tally.unknown} s without a figure",
                  flush=True)
            tallies.append(tally)
    print()
    print(table(tallies, args))
    print(f"\nload average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
