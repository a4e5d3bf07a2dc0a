"""What independent decoders from Debian make of an Ogg Opus file: ffprobe's duration,
opusinfo's verdict, and the PCM ffmpeg decodes from it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np


def duration_s(path: Path) -> float:
    """ffprobe's duration of the file."""
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True, text=True, check=True).stdout)
    assert [s["codec_name"] for s in probe["streams"]] == ["opus"], probe
    return float(probe["format"]["duration"])


def opusinfo_clean(path: Path) -> str:
    """opusinfo's report; fails when it warns or finds an error."""
    info = subprocess.run(["opusinfo", str(path)], capture_output=True, text=True)
    text = info.stdout + info.stderr
    assert info.returncode == 0 and "WARNING" not in text and "ERROR" not in text, text
    return text


def decode_mono(path: Path | bytes) -> np.ndarray:
    """The file (a path, or its bytes) decoded by ffmpeg to 48 kHz mono s16 samples; fails on
    any decoding error."""
    data = path if isinstance(path, bytes) else None
    source = "pipe:0" if data is not None else str(path)
    done = subprocess.run(["ffmpeg", "-v", "error", "-i", source, "-f", "s16le", "-ac", "1",
                           "-ar", "48000", "-"], input=data, capture_output=True)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr.decode()
    return np.frombuffer(done.stdout, dtype="<i2").astype(np.float64)
