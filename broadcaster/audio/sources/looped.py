"""A source that plays a PCM buffer in a loop, paced in real time (the tone and file sources)."""

from __future__ import annotations

import time

from broadcaster.core.pacer import Pacer
from broadcaster.core.reblock import PcmChunk


class LoopedSource:
    """Plays `pcm` (interleaved s16le) over and over at the pace of a sound card.

    Each read sleeps once, until its block's deadline, in a plain `time.sleep`: this runs
    50 times a second or more, and a wait that close() could interrupt (`Event.wait`, a
    timed lock) costs 30 to 65 % more CPU per wait. close() is therefore seen when the
    sleep ends: within one block.
    """

    def __init__(self, name: str, pcm: bytes, sample_rate_hz: int, channels: int) -> None:
        frame_bytes = 2 * channels
        if not pcm or len(pcm) % frame_bytes:
            raise ValueError(f"looped PCM must hold whole {channels}-channel frames")
        self.name = name
        self.sample_rate_hz = sample_rate_hz
        self.channels = channels
        self.overflows = 0  # a synthetic source never overruns
        self.dropped_frames = 0  # skipped because the reader was later than the pacer allows
        self._loop = pcm
        self._frame_bytes = frame_bytes
        self._pos = 0
        self._block_bytes = 0
        self._period_ms = 0.0
        self._pacer: Pacer | None = None
        self._closed = False

    def open(self, block_frames: int) -> None:
        """Start a fresh real-time schedule."""
        self._block_bytes = block_frames * self._frame_bytes
        self._pacer = Pacer(block_frames / self.sample_rate_hz)
        self._period_ms = 1000.0 * self._pacer.period_s
        self._closed = False

    def _take(self, nbytes: int) -> bytes:
        loop, pos = self._loop, self._pos
        if pos + nbytes <= len(loop):  # the common case: no wrap-around, one slice
            self._pos = (pos + nbytes) % len(loop)
            return loop[pos:pos + nbytes]
        out = bytearray()
        while nbytes:
            piece = loop[pos:pos + nbytes]
            out += piece
            nbytes -= len(piece)
            pos = (pos + len(piece)) % len(loop)
        self._pos = pos
        return bytes(out)

    def read(self) -> PcmChunk:
        """Wait until the next block is due, then return it."""
        pacer = self._pacer
        if pacer is None:
            raise RuntimeError(f"{self.name} read before open()")
        now = time.monotonic()
        deadline, skipped = pacer.next_deadline(now)
        if skipped:
            self.dropped_frames += skipped * self._block_bytes // self._frame_bytes
            self._pos = (self._pos + skipped * self._block_bytes) % len(self._loop)
        if deadline > now:
            time.sleep(deadline - now)
        if self._closed:
            raise EOFError(f"{self.name} was closed")
        return PcmChunk(self._take(self._block_bytes), time.time() * 1000.0 - self._period_ms)

    def close(self) -> None:
        """Stop pacing: a read in progress raises EOFError when its block is due, and so
        does any later read until the source is opened again."""
        self._closed = True
