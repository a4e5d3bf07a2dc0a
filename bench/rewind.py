"""Tap on the timeline to first sound, and "Live" to first sound, in the listener page.

    .venv/bin/python -m bench.rewind [--taps 8] [--path webcodecs|wasm|scriptprocessor]

The real broadcaster loops a tone that steps through five frequencies every 3 s
(tests/support/stepped_tone.py) and archives it; real headless Chromium, on a phone-sized
screen, listens live. Each round taps the timeline in the middle of a step 6 to 12 s back,
then, once the live tone is in the middle of a step, presses "Live". The figure is from the
page getting the tap (its click) to the first 20 ms of its output that play the frequency
asked for (the recorder of tests/support/browser.py; an upper bound by the few ms its
callback waits for the main thread, to a 20 ms window). Add the output device's latency for
when it is heard. Prints one line per round, then the median and the worst.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.page.listening import listen_and_wait_for_sound
from tests.support.browser import RECORDER_JS, launch_chromium
from tests.support.rewind import (
    Run,
    first_sound_of,
    latency_ms,
    now_ms,
    start_stepped_broadcaster,
    tap_timeline_at,
)
from tests.support.stepped_tone import STEP_MS, step_at

LAN_NAME = "pi.test"  # loopback, but no secure context: the ScriptProcessor path
PATHS = {
    "webcodecs": ("127.0.0.1", None),
    "wasm": ("127.0.0.1", "delete window.AudioDecoder; delete window.EncodedAudioChunk;"),
    "scriptprocessor": (LAN_NAME, None),
}


def wait_for_mid_step(run: Run, behind_ms: float) -> None:
    """Wait until what plays `behind_ms` behind live is 0.8 to 1.6 s into a step."""
    while not 800 <= run.offset_ms(now_ms() - behind_ms) % STEP_MS <= 1600:
        time.sleep(0.05)


def round_trip(page: Page, run: Run) -> tuple[float | None, float | None]:
    """One tap back and one press of Live: their times to first sound (ms)."""
    moment = run.mid_step_before(now_ms() - 6000)
    tap_timeline_at(page, moment)
    expect(page.locator("#status")).to_have_text("replay", timeout=5_000)
    page.wait_for_timeout(800)
    tapped = first_sound_of(page, step_at(run.offset_ms(moment)))
    page.wait_for_timeout(1000)
    wait_for_mid_step(run, 150)
    live_step = step_at(run.offset_ms(now_ms() - 150) + 300)
    page.locator("#go-live").tap()
    expect(page.locator("#status")).to_have_text("live", timeout=5_000)
    page.wait_for_timeout(800)
    back = first_sound_of(page, live_step)
    page.wait_for_timeout(1000)
    return tapped, back


def shown(ms: float | None) -> str:
    """A figure in ms, or 'never' when the sound asked for was not heard."""
    return "never" if ms is None else f"{ms:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=8)
    parser.add_argument("--path", choices=sorted(PATHS), default="webcodecs")
    args = parser.parse_args()
    host, init_js = PATHS[args.path]
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_stepped_broadcaster(Path(tmp))
        try:
            run = Run.of(proc.url, held_s=14)
            port = proc.url.rsplit(":", 1)[1]
            with launch_chromium([f"--host-resolver-rules=MAP {LAN_NAME} 127.0.0.1"]) as browser:
                context = browser.new_context(viewport={"width": 360, "height": 740},
                                              has_touch=True, is_mobile=True)
                context.add_init_script(RECORDER_JS)
                if init_js:
                    context.add_init_script(init_js)
                page = context.new_page()
                page.goto(f"http://{host}:{port}/")
                listen_and_wait_for_sound(page)
                page.wait_for_function("() => document.querySelector('#timeline').dataset.toMs")
                page.wait_for_timeout(1500)
                taps: list[float] = []
                lives: list[float] = []
                for i in range(args.taps):
                    tapped, back = round_trip(page, run)
                    print(f"round {i + 1}: tap to first sound {shown(tapped)}, Live to first "
                          f"sound {shown(back)} (latency live "
                          f"{latency_ms(page) or float('nan'):.0f} ms)")
                    taps += [] if tapped is None else [tapped]
                    lives += [] if back is None else [back]
        finally:
            proc.stop()
    for name, figures in (("tap on the timeline", taps), ("Live", lives)):
        if figures:
            print(f"{name} to first sound ({args.path}): median "
                  f"{statistics.median(figures):.0f} ms, worst {max(figures):.0f} ms, "
                  f"{len(figures)} of {args.taps} rounds")
        else:
            print(f"{name} to first sound ({args.path}): never heard")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
