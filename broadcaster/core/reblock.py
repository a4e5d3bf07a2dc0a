"""Cut timestamped PCM of any chunk size into exact frames (pure)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PcmChunk:
    """Interleaved s16le PCM and the wall-clock time (Unix ms) its first sample was captured."""

    pcm: bytes
    capture_ms: float


class Reblocker:
    """Accumulates PCM chunks and hands out whole blocks of `block_bytes`, each with the
    capture time of its first sample; keeps the remainder for the next chunk."""

    __slots__ = ("_block_bytes", "_ms_per_byte", "_pending", "_pending_ms")

    def __init__(self, block_bytes: int, bytes_per_second: int) -> None:
        if block_bytes < 1:
            raise ValueError(f"block size must be at least 1 byte, got {block_bytes}")
        if bytes_per_second < 1:
            raise ValueError(f"byte rate must be at least 1 byte/s, got {bytes_per_second}")
        self._block_bytes = block_bytes
        self._ms_per_byte = 1000.0 / bytes_per_second
        self._pending = bytearray()
        self._pending_ms = 0.0  # capture time of the first pending byte

    @property
    def pending_bytes(self) -> int:
        """Bytes held back until the next block completes."""
        return len(self._pending)

    def feed(self, chunk: PcmChunk) -> list[PcmChunk]:
        """Add a chunk; return the blocks it completed, oldest first."""
        size = self._block_bytes
        if not self._pending:
            if len(chunk.pcm) == size:
                return [chunk]  # the common case: the device already reads whole frames
            self._pending_ms = chunk.capture_ms
        self._pending += chunk.pcm
        whole = len(self._pending) // size * size
        blocks = [
            PcmChunk(bytes(self._pending[i:i + size]), self._pending_ms + i * self._ms_per_byte)
            for i in range(0, whole, size)
        ]
        if whole:
            del self._pending[:whole]
            self._pending_ms += whole * self._ms_per_byte
        return blocks

    def reset(self) -> None:
        """Forget a partial block (after a discontinuity such as a device reopen)."""
        self._pending.clear()
