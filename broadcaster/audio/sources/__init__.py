"""PCM sources: the microphone, a test tone and a looped WAV file, behind one interface."""

from __future__ import annotations

from typing import Protocol

from broadcaster.core.reblock import PcmChunk


class SourceError(RuntimeError):
    """A source that cannot be opened or read; the message says why and what to do."""


class PcmSource(Protocol):
    """Blocking source of interleaved s16le PCM, read from one capture thread."""

    @property
    def name(self) -> str:
        """What listeners are told is live, e.g. `tone:440` or `mic:USB Audio Device`."""

    @property
    def sample_rate_hz(self) -> int:
        """The PCM's sample rate (one Opus can encode: 8, 12, 16, 24 or 48 kHz)."""

    @property
    def channels(self) -> int:
        """Interleaved channels in the PCM."""

    @property
    def overflows(self) -> int:
        """Times audio was lost before it could be read (device overruns)."""

    @property
    def dropped_frames(self) -> int:
        """Sample frames thrown away to stay live after the reader fell behind."""

    def open(self, block_frames: int) -> None:
        """Acquire the device; `block_frames` is the read size the caller prefers."""

    def read(self) -> PcmChunk:
        """Block until the next chunk of PCM is available and return it."""

    def close(self) -> None:
        """Release the device; the source may be opened again."""
