"""How much of the archive to keep (pure): which of the oldest segments go.

Retention counts the audio the archive holds, not the age on the wall clock: a Raspberry Pi
has no real-time clock, and a clock that jumps months ahead when NTP syncs must not make
the whole archive look expired. Whole segments go, oldest first, never the one being
written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Usage:
    """One segment: its bytes on disk (both files) and how much audio it holds."""

    bytes: int
    audio_ms: float


@dataclass(frozen=True, slots=True)
class Retention:
    """The bounds: audio to keep, bytes at most, and free space to leave on the disk."""

    keep_ms: float
    max_bytes: int
    min_free_bytes: int = 0

    def __post_init__(self) -> None:
        if self.keep_ms <= 0 or self.max_bytes <= 0 or self.min_free_bytes < 0:
            raise ValueError(f"retention bounds must be positive: {self}")

    def expired(self, segments: Sequence[Usage], free_bytes: int | None = None,
                need_bytes: int = 0) -> int:
        """How many of the oldest `segments` (oldest first; the last is being written) to
        delete so that the rest stay within the bounds, with `free_bytes` free on the disk
        (None: unknown) and `need_bytes` more to free (a write that failed for space)."""
        held_ms = sum(usage.audio_ms for usage in segments)
        held_bytes = sum(usage.bytes for usage in segments)
        short = need_bytes
        if free_bytes is not None:
            short = max(short, self.min_free_bytes - free_bytes)
        count = 0
        for usage in segments[:-1]:
            over_time = held_ms - usage.audio_ms >= self.keep_ms
            if not (over_time or held_bytes > self.max_bytes or short > 0):
                break
            count += 1
            held_ms -= usage.audio_ms
            held_bytes -= usage.bytes
            short -= usage.bytes
        return count
