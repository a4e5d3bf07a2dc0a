"""How loud a frame of 16-bit PCM is, in dBFS, for sound activity (core/activity.py).

It runs on the capture thread for every frame, so it must cost next to nothing: Python's
`audioop` computes the RMS in C in about a microsecond a frame, against 30-40 µs for the
same sum in Python (0.2 % of a Pi's core at 20 ms frames). `audioop` is in the standard
library up to Python 3.12 (deprecated there: the warning is silenced here, on purpose) and
the maintained `audioop-lts` package provides it from 3.13 (pyproject.toml asks for it).
"""

from __future__ import annotations

import warnings

from broadcaster.core.activity import level_dbfs

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

SAMPLE_BYTES = 2


def pcm_level_dbfs(pcm: bytes) -> float:
    """The RMS level of interleaved signed 16-bit PCM (every channel together), in dBFS."""
    return level_dbfs(float(audioop.rms(pcm, SAMPLE_BYTES)))
