"""A WAV file played in a loop (for demos and tests)."""

from __future__ import annotations

import wave
from array import array
from pathlib import Path

from broadcaster.audio.sources import SourceError
from broadcaster.audio.sources.looped import LoopedSource
from broadcaster.core import opus

MAX_FILE_BYTES = 200 * 1024 * 1024


def _convert_channels(pcm: bytes, have: int, want: int) -> bytes:
    if have == want:
        return pcm
    samples = array("h", pcm)
    if have == 1 and want == 2:
        out = array("h", [0]) * (2 * len(samples))
        out[0::2] = samples
        out[1::2] = samples
        return out.tobytes()
    if have == 2 and want == 1:
        mono = array("h", ((a + b) // 2 for a, b in zip(samples[0::2], samples[1::2],
                                                         strict=True)))
        return mono.tobytes()
    raise SourceError(f"cannot turn {have} channels into {want}")


def load_wav(path: Path, channels: int) -> tuple[bytes, int]:
    """Read a 16-bit PCM WAV file as interleaved s16le with `channels`; returns (pcm, rate)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SourceError(f"{path} is larger than {MAX_FILE_BYTES // 2**20} MiB")
        with wave.open(str(path), "rb") as wav:
            width, have, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            pcm = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise SourceError(f"cannot read WAV file {path}: {exc}") from exc
    if width != 2:
        raise SourceError(f"{path} has {8 * width}-bit samples; only 16-bit PCM WAV is supported "
                          f"(convert it: sox {path} -b 16 out.wav)")
    if rate not in opus.RATES_HZ:
        rates = ", ".join(map(str, opus.RATES_HZ))
        raise SourceError(f"{path} is {rate} Hz; Opus takes {rates} Hz "
                          f"(convert it: sox {path} -r 48000 out.wav)")
    if have not in (1, 2):
        raise SourceError(f"{path} has {have} channels; only mono and stereo are supported")
    if not pcm:
        raise SourceError(f"{path} holds no audio")
    if array("h", [1]).tobytes() != b"\x01\x00":
        raise SourceError("WAV playback needs a little-endian machine")
    return _convert_channels(pcm, have, channels), rate


def file_source(path: Path, channels: int) -> LoopedSource:
    """A paced source that loops a WAV file, named `file:NAME`."""
    pcm, rate = load_wav(path, channels)
    return LoopedSource(f"file:{path.name}", pcm, rate, channels)
