"""A source that plays a PCM buffer in a loop, paced in real time (the tone and file sources)."""

from __future__ import annotations

import threading
import time

from broadcaster.reblock import PcmChunk
from broadcaster.sources.pacer import Pacer


class LoopedSource:
    """Plays `pcm` (interleaved s16le) over and over at the pace of a sound card."""

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
        self._pacer: Pacer | None = None
        self._closed = threading.Event()

    def open(self, block_frames: int) -> None:
        """Start a fresh real-time schedule."""
        self._block_bytes = block_frames * self._frame_bytes
        self._pacer = Pacer(block_frames / self.sample_rate_hz)
        self._closed.clear()

    def _take(self, nbytes: int) -> bytes:
        loop, pos = self._loop, self._pos
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
        if self._pacer is None:
            raise RuntimeError(f"{self.name} read before open()")
        deadline, skipped = self._pacer.next_deadline(time.monotonic())
        if skipped:
            self.dropped_frames += skipped * self._block_bytes // self._frame_bytes
            self._pos = (self._pos + skipped * self._block_bytes) % len(self._loop)
        delay = deadline - time.monotonic()
        if delay > 0 and self._closed.wait(delay):
            raise EOFError(f"{self.name} was closed")
        capture_ms = time.time() * 1000.0 - self._pacer.period_s * 1000.0
        return PcmChunk(self._take(self._block_bytes), capture_ms)

    def close(self) -> None:
        """Stop pacing; a blocked read returns at once."""
        self._closed.set()
