"""A source whose tone steps through frequencies (a WAV file the broadcaster loops), and how
to tell from what a page played which step it was and when it began: for the tests and
the benchmark of the page's rewind."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tests.support.signal_tools import RATE_HZ, dominant_frequency

STEPS_HZ = (400, 600, 800, 1000, 1200)
STEP_MS = 3000
WINDOW_MS = 20  # one frame: short enough to time a change, long enough to count crossings


def write_steps_wav(path: Path) -> Path:
    """16-bit 48 kHz mono: each of STEPS_HZ for STEP_MS, at -9 dBFS."""
    step = np.arange(RATE_HZ * STEP_MS // 1000) / RATE_HZ
    tone = np.concatenate([0.35 * np.sin(2 * np.pi * hz * step) for hz in STEPS_HZ])
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE_HZ)
        wav.writeframes((tone * 32767).astype("<i2").tobytes())
    return path


def step_at(offset_ms: float) -> int:
    """The frequency playing `offset_ms` after the file began (it loops)."""
    return STEPS_HZ[int(offset_ms // STEP_MS) % len(STEPS_HZ)]


def nearest_step(hz: float) -> int:
    """The step frequency closest to `hz`."""
    return min(STEPS_HZ, key=lambda step: abs(step - hz))


def played_step(samples: npt.NDArray[np.float32]) -> int:
    """The step the samples play (their dominant frequency, to the nearest step)."""
    return nearest_step(dominant_frequency(samples, RATE_HZ))


def window_steps(samples: npt.NDArray[np.float32]) -> list[int | None]:
    """The step of each WINDOW_MS window by its zero crossings; None where it is silent."""
    size = RATE_HZ * WINDOW_MS // 1000
    out: list[int | None] = []
    for start in range(0, len(samples) - size + 1, size):
        window = samples[start:start + size]
        if float(np.sqrt(np.mean(window.astype(np.float64) ** 2))) < 0.02:
            out.append(None)
            continue
        crossings = int(np.count_nonzero(np.diff(np.signbit(window))))
        out.append(nearest_step(crossings * 1000 / (2 * WINDOW_MS)))
    return out


def first_window_of(steps: list[int | None], hz: int, hold: int = 3) -> int | None:
    """Index of the first window from which `hz` plays for `hold` windows in a row."""
    for i in range(len(steps) - hold + 1):
        if all(step == hz for step in steps[i:i + hold]):
            return i
    return None
