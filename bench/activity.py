"""Sound activity's cost per frame: the level of the PCM (capture thread) and the detector
(event loop), against encoding the same frame, in one run.

    python -m bench.activity [--frames 20000]

The issue's budget is 0.05 % of a core at 20 ms frames, i.e. 10 µs a frame.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from broadcaster.audio.encoder import EncoderSettings, OpusEncoder
from broadcaster.audio.level import pcm_level_dbfs
from broadcaster.core.activity import ActivityDetector, ActivityPolicy

RATE_HZ = 48000


def frames_of(frame_ms: float, count: int) -> list[bytes]:
    """Speech-like PCM: a quiet room with a loud stretch every few seconds."""
    samples = int(RATE_HZ * frame_ms / 1000)
    rng = np.random.default_rng(7)
    out = []
    for n in range(count):
        loud = (n * frame_ms // 1000) % 5 == 0
        level = 0.1 if loud else 0.001
        out.append(np.round(rng.normal(0, 32768 * level, samples)).astype("<i2").tobytes())
    return out


def per_frame_us(work: Callable[[Any], object], items: Sequence[Any]) -> float:
    """Mean µs of `work(item)` over `items`."""
    started = time.perf_counter()
    for item in items:
        work(item)
    return (time.perf_counter() - started) / len(items) * 1e6


def measure(frame_ms: float, count: int) -> dict[str, float]:
    frames = frames_of(frame_ms, count)
    levels = [pcm_level_dbfs(pcm) for pcm in frames]
    detector = ActivityDetector(ActivityPolicy(), frame_ms)
    times = iter(range(0, 10**12, int(frame_ms)))
    encoder = OpusEncoder(EncoderSettings(RATE_HZ, 1, frame_ms, 64000, "restricted_lowdelay",
                                          5))
    level_us = per_frame_us(pcm_level_dbfs, frames)
    detect_us = per_frame_us(lambda level: detector.feed(level, next(times)), levels)
    encode_us = per_frame_us(encoder.encode, frames[: count // 4])
    total_us = level_us + detect_us
    return {"frame_ms": frame_ms, "level_us": round(level_us, 2),
            "detector_us": round(detect_us, 2), "activity_us": round(total_us, 2),
            "core_percent": round(total_us / (frame_ms * 1000) * 100, 4),
            "encode_us": round(encode_us, 1),
            "activity_vs_encode": round(total_us / encode_us, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20000)
    args = parser.parse_args()
    print(f"{'frame':>6} {'level µs':>9} {'detector µs':>12} {'together':>9} "
          f"{'% of a core':>12} {'encode µs':>10} {'÷ encode':>9}")
    results = []
    for frame_ms in (20.0, 10.0):
        r = measure(frame_ms, args.frames)
        results.append(r)
        print(f"{frame_ms:>4g}ms {r['level_us']:>9.2f} {r['detector_us']:>12.2f} "
              f"{r['activity_us']:>9.2f} {r['core_percent']:>11.4f}% {r['encode_us']:>10.1f} "
              f"{r['activity_vs_encode']:>9.3f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
