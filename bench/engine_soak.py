"""Five minutes of the tone in each browser engine: underruns after the first second, and
whether the page's latency figure stays plausible.

    .venv/bin/python -m bench.engine_soak [--browser chromium firefox webkit]
                                          [--origin secure plain-http] [--seconds 300]

For each engine and origin in turn (one browser at a time), the real broadcaster plays
tone:440 and the listener page (tests/support/engines.py) presses Start listening. Once the
first sound reached the AudioContext destination the page's recorder stops (it costs the
main thread), and for `--seconds` the page's figures are read once a second:

- underruns: the page's count, from one second after the first sound (the start's own
  settling excluded), with the second each one was seen in, and the page's buffer depth
  (read once a second) in the 5 s before each;
- browser pauses: the times the engine rendered nothing for over 100 ms (its render
  callbacks stopped, then caught up at once: listener_web/worklet/pause_watch.js), the
  longest, and how many of the underruns began in a pause's catch-up: those the engine
  made, which only a buffer deeper than the pause would have covered;
- at the speaker (Firefox and WebKit, which play into a PulseAudio null sink): every 10 ms
  of what that card played (its monitor, bench/playout/speaker.py) from one second after
  the first sound, a window more than 6 dB below the tone's level is a dropout, whoever
  made it (the page's buffer, or the engine playing silence on its own);
- latency: the page's figure (≈, or ≥ where the engine's output figures are not believed),
  its range and its slope over the second half of the run; plausible: between 0 and 1.5 s
  (the buffer's 500 ms ceiling and a device's 1 s). And the figure minus the buffer's depth
  (shown beside it): what the page counts after its buffer, which the buffer's own changes
  do not move. WebKit's figure once rose by a second a second; here it would rise too.

With `--floor`, each engine that plays into the speaker also plays a bare page for as long
(after the page's rows): the page's own AudioWorklet player (worklet/worklet.js, its jitter
buffer and pause watch) in an AudioContext made as the page makes its own (48 kHz,
'interactive'), started by a click, fed 20 ms of a 440 Hz tone from a main-thread timer
each time one is due. No network, no decoder, no page around it: what that row counts (its
underruns, the engine's pauses, the speaker's dropouts) is the engine's own floor for the
worklet path, measured in the same run. Its timer also counts its own gaps of over 100 ms:
a pause that stopped the main thread too is the whole engine's, not the audio thread's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.playout.speaker import SpeakerTap
from tests.support.engines import LAN_NAME, EngineBrowser, launch, speakers, wait_for
from tests.support.server import start_broadcaster

PLAUSIBLE_MS = (0.0, 1500.0)
SETTLE_S = 1.0
# The speaker's monitor read in 50 ms pieces: the null sink's latency follows the smallest a
# client asks for, and nothing here needs the playout bench's 5 ms timing.
SPEAKER_READ_MS = 50
FIGURES_JS = """(() => {
  const out = {};
  for (const span of document.querySelectorAll('#figures [data-figure]')) {
    out[span.dataset.figure] = span.dataset.value ?? '';
  }
  out.text = document.getElementById('figures').textContent;
  out.status = document.getElementById('status').textContent;
  return out;
})()"""


@dataclass(slots=True)
class Run:
    """What one engine and origin measured."""

    engine: str
    origin: str
    path: str = "-"
    underruns: int = 0  # after the first second
    underrun_at_s: list[float] = field(default_factory=list)  # since the first sound, if known
    speaker_dropouts_at_s: list[float] | None = None
    latency_ms: list[tuple[float, float]] = field(default_factory=list)  # (s, ms)
    beyond_buffer_ms: list[float] = field(default_factory=list)  # latency minus buffer
    lower_bound: bool = False
    reconnects: int = 0
    buffer_ms: list[tuple[float, float]] = field(default_factory=list)  # (s, ms), each second
    pauses: int = 0  # the engine rendered nothing for over 100 ms
    pause_underruns: int = 0  # underruns that began in a pause's catch-up
    longest_pause_ms: float = 0.0
    main_pauses: int | None = None  # the floor's: its main thread's timer stopped > 100 ms


def dropouts(samples: npt.NDArray[np.float32], rate: int) -> list[float]:
    """Where (s from the start of `samples`) a 10 ms window is 6 dB below the tone's level."""
    n = rate // 100
    windows = samples[: len(samples) // n * n].reshape(-1, n)
    rms = np.sqrt(np.mean(windows.astype(np.float64) ** 2, axis=1)) + 1e-12
    level = np.sqrt(np.mean(samples.astype(np.float64) ** 2))
    quiet = np.flatnonzero(20 * np.log10(rms / level) < -6)
    return [float(i) / 100 for i in quiet]


def quiet_since(speaker: SpeakerTap, mark: int) -> list[float]:
    """The dropouts at the speaker since `mark` (taken SETTLE_S after the first sound), in s
    from the first sound."""
    return [SETTLE_S + s for s in dropouts(speaker.samples_since(mark), 48000)]


def spells(quiet_at_s: list[float]) -> list[float]:
    """Where each spell of quiet 10 ms windows began (windows at most 30 ms apart are one
    spell: one dropout, heard as one)."""
    return [at for i, at in enumerate(quiet_at_s)
            if i == 0 or at - quiet_at_s[i - 1] > 0.035]


def soak(browser: EngineBrowser, url: str, run: Run, seconds: float,
         speaker: SpeakerTap | None) -> None:
    """One listening session of `seconds` after the first second."""
    page = browser.new_page()
    try:
        page.goto(url + "/")
        page.click("#listen")
        wait_for(page, "document.getElementById('status').textContent === 'live'", 15)
        wait_for(page, "window.__firstSoundMs !== undefined", 10)
        page.evaluate("window.__stopRecording()")
        since_sound_s = float(page.evaluate("(performance.now() - window.__firstSoundMs) / 1000"))
        time.sleep(max(0.0, SETTLE_S - since_sound_s))
        mark = speaker.mark() if speaker else 0
        start = time.monotonic()
        first = page.evaluate(FIGURES_JS)
        seen = int(first.get("underruns") or 0)
        paused_before = pause_figures(first)
        while (now := time.monotonic() - start) < seconds:
            time.sleep(1.0)
            figures = page.evaluate(FIGURES_JS)
            count = int(figures.get("underruns") or 0)
            run.underruns += count - seen
            run.underrun_at_s += [SETTLE_S + now] * (count - seen)
            seen = count
            if figures.get("buffer"):
                run.buffer_ms.append((SETTLE_S + now, float(figures["buffer"])))
            if figures.get("latency"):
                run.latency_ms.append((now, float(figures["latency"])))
                if figures.get("buffer"):
                    run.beyond_buffer_ms.append(float(figures["latency"])
                                                - float(figures["buffer"]))
                run.lower_bound = run.lower_bound or "≥" in figures["text"]
            run.path = figures.get("path") or run.path
            run.reconnects = int(figures.get("reconnects") or 0)
            paused = pause_figures(figures)
            run.pauses, run.pause_underruns = (paused[0] - paused_before[0],
                                               paused[1] - paused_before[1])
            run.longest_pause_ms = paused[2]
        if speaker:
            run.speaker_dropouts_at_s = quiet_since(speaker, mark)
    finally:
        page.close()


def pause_figures(figures: dict[str, str]) -> tuple[int, int, float]:
    """The page's `paused` figure: pauses, the underruns they caused, the longest (ms)."""
    pauses, underruns, longest = (figures.get("paused") or "0,0,0").split(",")
    return int(pauses), int(underruns), float(longest)


FLOOR_JS = """(() => {
  const button = document.createElement('button');
  button.id = 'floor';
  button.textContent = 'floor';
  button.style.cssText = 'position:fixed;top:0;left:0;width:200px;height:100px;z-index:9';
  button.onclick = async () => {
    const ctx = new AudioContext({ sampleRate: 48000, latencyHint: 'interactive' });
    window.__floor = ctx;
    await ctx.audioWorklet.addModule('/static/worklet/worklet.js');
    const node = new AudioWorkletNode(ctx, 'broadcaster-player', {
      outputChannelCount: [1], processorOptions: { channels: 1, targetSamples: 1920 } });
    node.port.onmessage = (event) => { window.__floorStats = event.data; };
    node.connect(ctx.destination);
    // 20 ms of a 440 Hz tone each time one is due on the wall clock, as a network would bring.
    const start = performance.now();
    let sent = 0;
    let last = start;
    window.__floorMainPauses = 0;
    setInterval(() => {
      const now = performance.now();
      if (now - last > 105) window.__floorMainPauses++;
      last = now;
      for (; sent * 20 <= performance.now() - start; sent++) {
        const samples = new Float32Array(960);
        for (let i = 0; i < 960; i++) {
          samples[i] = 0.3 * Math.sin((2 * Math.PI * 440 * (sent * 960 + i)) / 48000);
        }
        node.port.postMessage({ type: 'pcm', samples }, [samples.buffer]);
      }
    }, 5);
  };
  document.body.append(button);
})()"""
FLOOR_STATS_JS = "({...(window.__floorStats ?? {}), main: window.__floorMainPauses})"


def soak_floor(browser: EngineBrowser, url: str, run: Run, seconds: float,
               speaker: SpeakerTap) -> None:
    """The engine alone: the page's worklet fed a tone for `seconds` after its first second."""
    page = browser.new_page()
    try:
        page.goto(url + "/")
        page.evaluate(FLOOR_JS)
        page.click("#floor")
        wait_for(page, "(window.__floorStats ?? {}).playing === true", 10)
        time.sleep(SETTLE_S)
        mark = speaker.mark()
        first = page.evaluate(FLOOR_STATS_JS)
        time.sleep(seconds)
        last = page.evaluate(FLOOR_STATS_JS)
        run.path = f"the page's worklet fed a tone, {page.evaluate('window.__floor.sampleRate')} Hz"
        run.underruns = last["underruns"] - first["underruns"]  # when, the floor does not say
        run.pauses = last["pauses"] - first["pauses"]
        run.pause_underruns = last["pauseUnderruns"] - first["pauseUnderruns"]
        run.longest_pause_ms = last["longestPauseMs"]
        run.main_pauses = last["main"] - first["main"]
        run.speaker_dropouts_at_s = quiet_since(speaker, mark)
    finally:
        page.close()


@contextlib.contextmanager
def engine(name: str, work: Path) -> Iterator[tuple[EngineBrowser, SpeakerTap | None]]:
    """A browser of `name`; for Firefox and WebKit also the speaker they play into."""
    with speakers(work / "speakers") as env:
        if name == "chromium":
            with launch(name, work / "browser", env) as browser:
                yield browser, None
        else:
            with SpeakerTap(env, SPEAKER_READ_MS) as speaker, \
                    launch(name, work / "browser", env) as browser:
                yield browser, speaker


def before_underruns(run: Run, seconds: float = 5.0) -> list[str]:
    """For each underrun, the page's buffer depth in the seconds before it (read once a
    second): a buffer that fell at once points at the engine (it rendered to catch up after
    a stall), one that ran down slowly at the audio's arrival (decoding, the network)."""
    lines = []
    for at in run.underrun_at_s:
        depths = [f"{ms:.0f}" for s, ms in run.buffer_ms if at - seconds <= s <= at]
        lines.append(f"  buffer (ms) up to the underrun at {at:.0f} s: {', '.join(depths)}")
    return lines


def describe(run: Run) -> str:
    """The row of the table for one run."""
    values = [ms for _, ms in run.latency_ms]
    if values:
        # The slope over the second half: a start's settling is no rising line.
        half = run.latency_ms[len(run.latency_ms) // 2:]
        minutes = np.array([s / 60 for s, _ in half])
        slope = (float(np.polyfit(minutes, [ms for _, ms in half], 1)[0]) if len(half) > 2
                 else 0.0)
        low, high = min(values), max(values)
        plausible = PLAUSIBLE_MS[0] <= low and high <= PLAUSIBLE_MS[1]
        beyond = run.beyond_buffer_ms
        steady = (f"; beyond the buffer {min(beyond):.0f}-{max(beyond):.0f} ms"
                  if beyond else "")
        sign = "≥" if run.lower_bound else "≈"
        latency = (f"{sign} {np.median(values):.0f} ms ({low:.0f}-{high:.0f}, "
                   f"{slope:+.1f} ms/min{steady}) {'plausible' if plausible else 'IMPLAUSIBLE'}")
    else:
        latency = "no figure"
    at = ", ".join(f"{s:.0f} s" for s in run.underrun_at_s)
    at = f"at {at}" if at else ""
    if run.pause_underruns:
        at += f"{'; ' if at else ''}{run.pause_underruns} in a pause's catch-up"
    pauses = (f"{run.pauses} (longest {run.longest_pause_ms:.0f} ms)" if run.pauses
              else "0")
    if run.main_pauses is not None:
        pauses += f"; main thread {run.main_pauses}"
    quiet = run.speaker_dropouts_at_s
    speaker = "-" if quiet is None else (
        f"{len(spells(quiet))} spells, {len(quiet)} windows"
        + (f" (at {', '.join(f'{s:.2f} s' for s in spells(quiet)[:10])})" if quiet else ""))
    underruns = f"{run.underruns}{f' ({at})' if at else ''}"
    return (f"| {run.engine} | {run.origin} | {run.path} | {underruns} | {pauses} | {speaker} "
            f"| {latency} | {run.reconnects} |")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.engine_soak",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--browser", nargs="+", default=["chromium", "firefox", "webkit"],
                        choices=("chromium", "firefox", "webkit"))
    parser.add_argument("--origin", nargs="+", default=["secure", "plain-http"],
                        choices=("secure", "plain-http"))
    parser.add_argument("--seconds", type=float, default=300.0,
                        help="measured after the first second of sound (default 300)")
    parser.add_argument("--floor", action="store_true",
                        help="also a bare oscillator in each engine that plays into the "
                             "speaker: the engine's own dropouts")
    args = parser.parse_args()
    rows = []
    work = Path(tempfile.mkdtemp(prefix="engine-soak-"))
    proc = start_broadcaster(work, "--source", "tone:440", "--log-level", "warning")
    try:
        for name in args.browser:
            with engine(name, work / name) as (browser, speaker):
                for origin in args.origin:
                    host = "127.0.0.1" if origin == "secure" else LAN_NAME
                    run = Run(name, origin)
                    soak(browser, proc.url.replace("127.0.0.1", host), run, args.seconds,
                         speaker)
                    rows.append(describe(run))
                    print(rows[-1], *before_underruns(run), sep="\n", flush=True)
                if args.floor and speaker is not None:
                    run = Run(name, "floor")
                    soak_floor(browser, proc.url, run, args.seconds, speaker)
                    rows.append(describe(run))
                    print(rows[-1], flush=True)
    finally:
        proc.stop()
    print(f"\n{args.seconds:g} s per row, from one second after the first sound\n")
    print("| engine | origin | path | underruns | browser pauses | dropouts at the speaker "
          "| latency figure | reconnects |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print(f"\nload average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
