"""Driving the listener page's rewind panel against a broadcaster that loops the stepped tone
(stepped_tone.py) and archives it: where a moment is on the timeline, what the page should
play at a given distance behind live, and how long after a press the page played it."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from playwright.sync_api import Page

from tests.support.browser import recorded_rate
from tests.support.server import Broadcaster, start_broadcaster, wait_until
from tests.support.stepped_tone import (
    STEP_MS,
    WINDOW_MS,
    first_window_of,
    step_at,
    window_steps,
    write_steps_wav,
)

BOUNDARY_MS = 300  # this close to a step's change, either step may be heard


def start_stepped_broadcaster(tmp: Path) -> Broadcaster:
    """A broadcaster looping the stepped tone, archiving into `tmp`/archive."""
    archive = tmp / "archive"
    archive.mkdir()
    wav = write_steps_wav(tmp / "steps.wav")
    return start_broadcaster(tmp, "--source", f"file:{wav}", config=(
        f'[archive]\ndir = "{archive}"\nmin_free_mb = 0\n'))


@dataclass(frozen=True)
class Run:
    """When the file began to play: the capture time of the archive's first frame."""

    began_ms: float

    @classmethod
    def of(cls, url: str, held_s: float = 10.0) -> Run:
        """Wait until the archive holds `held_s` seconds, and read when it began."""
        def summary() -> dict[str, float]:
            answer: dict[str, float] = httpx.get(f"{url}/archive", timeout=2).json()
            return answer

        wait_until(lambda: float(summary().get("audio_s") or 0) >= held_s, held_s + 15,
                   f"{held_s} s in the archive")
        return cls(float(summary()["from_ms"]))

    def offset_ms(self, capture_ms: float) -> float:
        """How far into the (looping) file a capture time is."""
        return capture_ms - self.began_ms

    def steps_for(self, capture_ms: float) -> set[int]:
        """The steps that may be heard for audio captured at `capture_ms`."""
        offset = self.offset_ms(capture_ms)
        return {step_at(offset + d) for d in (-BOUNDARY_MS, 0, BOUNDARY_MS)}

    def mid_step_before(self, capture_ms: float) -> float:
        """The middle of the latest whole step that began at or before `capture_ms`."""
        steps = (self.offset_ms(capture_ms) - STEP_MS / 2) // STEP_MS
        return self.began_ms + steps * STEP_MS + STEP_MS / 2


def now_ms() -> float:
    """The server's clock (the same machine's)."""
    return time.time() * 1000.0


def latency_ms(page: Page) -> float | None:
    """The latency figure (in a replay: how far behind live it plays); None when unknown."""
    value = page.locator('#figures [data-figure="latency"]').get_attribute("data-value")
    return float(value) if value else None


def tap_timeline_at(page: Page, capture_ms: float) -> None:
    """Tap (a touch) the timeline where audio captured at `capture_ms` is drawn."""
    canvas = page.locator("#timeline")
    from_ms = float(canvas.get_attribute("data-from-ms") or "nan")
    to_ms = float(canvas.get_attribute("data-to-ms") or "nan")
    box = canvas.bounding_box()
    assert box is not None
    x = (capture_ms - from_ms) / (to_ms - from_ms) * box["width"]
    assert 0 <= x <= box["width"], f"{capture_ms} is not on the timeline ({from_ms}..{to_ms})"
    page.touchscreen.tap(box["x"] + x, box["y"] + box["height"] / 2)


def first_sound_of(page: Page, hz: int, seconds: float = 3.0) -> float | None:
    """How long after the latest press the page's output first played `hz` (ms, an upper
    bound by the recorder's callback delay); None when it did not within the recording."""
    text, end_ms, pressed_ms = page.evaluate(
        f"() => [window.__recordedTail({seconds}), window.__recordedEndMs, window.__pressedMs]")
    samples = np.frombuffer(base64.b64decode(text), dtype="<f4")
    rate = recorded_rate(page)
    start_ms = end_ms - 1000 * len(samples) / rate
    skip = max(0, int((pressed_ms - start_ms) * rate / 1000))
    steps = window_steps(samples[skip:])
    first = first_window_of(steps, hz)
    if first is None:
        return None
    return float(skip * 1000 / rate + first * WINDOW_MS - (pressed_ms - start_ms))

