"""The built-in test signal: a sine tone."""

from __future__ import annotations

import math
from array import array

from broadcaster.audio.sources.looped import LoopedSource


def tone_pcm(freq_hz: float, level_dbfs: float, sample_rate_hz: int, channels: int) -> bytes:
    """One seamless loop of a sine (whole cycles), as interleaved s16le.

    The frequency is rounded to a whole number of cycles per loop, so the loop is at most
    one second long and joins without a click.
    """
    cycles_per_s = max(1, round(freq_hz))
    loop_frames = sample_rate_hz // math.gcd(sample_rate_hz, cycles_per_s)
    cycles = cycles_per_s * loop_frames // sample_rate_hz
    amplitude = 32767 * 10 ** (level_dbfs / 20)
    step = 2 * math.pi * cycles / loop_frames
    samples = array("h")
    for i in range(loop_frames):
        value = round(amplitude * math.sin(step * i))
        samples.extend([value] * channels)
    if array("h", [1]).tobytes() != b"\x01\x00":  # big-endian host: PCM is little-endian
        samples.byteswap()
    return samples.tobytes()


def tone_source(
    freq_hz: float, level_dbfs: float, sample_rate_hz: int, channels: int
) -> LoopedSource:
    """A paced sine source named `tone:HZ`."""
    pcm = tone_pcm(freq_hz, level_dbfs, sample_rate_hz, channels)
    return LoopedSource(f"tone:{freq_hz:g}", pcm, sample_rate_hz, channels)
