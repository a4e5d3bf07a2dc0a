"""Input audio that waits behind every read: latency and nothing else (pure).

A device or sound server can hand audio over in pieces out of step with the reader's
blocks: through PulseAudio, 20 ms fragments against 20 ms reads that started half a
fragment later leave 10 ms queued after every read, for as long as the stream runs, and
every frame goes out that much later. What stays queued after *every* read of a window
never helped any read: dropping it once puts the reads in step and takes it off the latency
for good. A queue that ever runs down to nothing is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class StandingQueue:
    """Watches the frames queued right after each read; says when and how many to drop."""

    window_reads: int  # reads per verdict (about a second's worth)
    min_frames: int  # a standing queue smaller than this is not worth a cut in the audio
    _lowest: int = -1
    _reads: int = 0

    def __post_init__(self) -> None:
        if self.window_reads < 1:
            raise ValueError(f"window_reads must be at least 1, got {self.window_reads}")
        if self.min_frames < 1:
            raise ValueError(f"min_frames must be at least 1, got {self.min_frames}")

    def observe(self, queued_frames: int) -> int:
        """Take what is queued right after a read; return how many of the oldest queued
        frames to drop now (0 but at the end of a window where the queue never ran down)."""
        if self._lowest < 0 or queued_frames < self._lowest:
            self._lowest = queued_frames
        self._reads += 1
        if self._reads < self.window_reads:
            return 0
        standing = self._lowest
        self.reset()
        return standing if standing >= self.min_frames else 0

    def reset(self) -> None:
        """Start a new window (after a reopen, or after audio was dropped for another reason)."""
        self._lowest = -1
        self._reads = 0
