"""Archives made in the test's own process: real libopus packets through the real recorder."""

from __future__ import annotations

from pathlib import Path

from broadcaster.archive.recorder import ArchiveRecorder, RecorderSettings
from broadcaster.audio.encoder import EncoderSettings, OpusEncoder
from broadcaster.core.retention import Retention
from tests.support.signal_tools import sine_s16le

FRAME_MS = 20.0
DAY_MS = 86_400_000.0


def tone_packets(freq_hz: float, seconds: float) -> list[bytes]:
    """A tone, encoded as the broadcaster encodes (64 kbit/s, 20 ms)."""
    encoder = OpusEncoder(EncoderSettings(48000, 1, FRAME_MS, 64000, "restricted_lowdelay", 5))
    pcm = sine_s16le(freq_hz, seconds)
    size = encoder.settings.frame_bytes
    return [encoder.encode(pcm[i:i + size]) for i in range(0, len(pcm) - size + 1, size)]


def open_recorder(root: Path, keep_ms: float = DAY_MS, max_bytes: int = 1 << 30,
                  file_minutes: float = 60.0) -> ArchiveRecorder:
    """A recorder for `root`, opened (locked, repaired), not started."""
    settings = RecorderSettings(root, Retention(keep_ms, max_bytes), file_minutes, 1, 120,
                                FRAME_MS)
    rec = ArchiveRecorder(settings)
    rec.next_id = rec.open()
    return rec


def feed(rec: ArchiveRecorder, first_id: int, data: list[bytes], start_ms: float) -> int:
    """Tap `data` in as consecutive frames from `first_id`; the id after them."""
    for n, packet in enumerate(data):
        rec.tap(first_id + n, packet, start_ms + n * FRAME_MS, -12.0)
    return first_id + len(data)
