"""One contract for every PCM source: the tone, a WAV file and the real microphone."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from broadcaster.audio.sources import PcmSource, SourceError
from broadcaster.audio.sources.mic import MicSource
from broadcaster.audio.sources.tone import tone_pcm, tone_source
from broadcaster.audio.sources.wavfile import file_source, load_wav
from tests.support.signal_tools import dominant_frequency, rms_dbfs, sine_s16le, write_wav
from tests.support.vmic import VirtualMic

BLOCK = 960  # 20 ms at 48 kHz


@pytest.fixture(params=["tone", "file", "mic"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PcmSource]:
    """Each kind of source, playing a 1 kHz sine."""
    if request.param == "tone":
        yield tone_source(1000, -6.0, 48000, 1)
    elif request.param == "file":
        yield file_source(write_wav(tmp_path / "a.wav", sine_s16le(1000, 0.5)), 1)
    else:
        with VirtualMic(tmp_path / "vmic") as mic, pytest.MonkeyPatch.context() as patch:
            for key, value in mic.env.items():
                patch.setenv(key, value)
            mic.play(sine_s16le(1000, 3.0))
            source = MicSource("", 1, max_backlog_ms=100)
            source.probe()
            yield source


def read_for(source: PcmSource, seconds: float) -> tuple[bytes, list[float], float]:
    chunks, stamps = [], []
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        chunk = source.read()
        chunks.append(chunk.pcm)
        stamps.append(chunk.capture_ms)
    return b"".join(chunks), stamps, time.monotonic() - start


def test_source_contract(source: PcmSource) -> None:
    assert source.sample_rate_hz in (8000, 12000, 16000, 24000, 48000)
    assert source.channels == 1
    assert source.name
    for _ in range(2):  # a source can be opened again after close
        source.open(BLOCK)
        try:
            read_for(source, 0.1)  # settle
            opened_ms = time.time() * 1000
            pcm, stamps, elapsed = read_for(source, 0.6)
        finally:
            source.close()
        assert len(pcm) % (2 * source.channels) == 0
        frames = len(pcm) // 2
        # paced like a sound card: about real time, neither bursting nor starving
        assert 0.75 < frames / source.sample_rate_hz / elapsed < 1.3
        # capture stamps are wall-clock ms, rising, and close to when we read
        assert all(b > a for a, b in itertools.pairwise(stamps))
        assert opened_ms - 300 < stamps[0] < opened_ms + 300
        samples = np.frombuffer(pcm, dtype="<i2")
        assert dominant_frequency(samples, source.sample_rate_hz) == pytest.approx(1000, abs=5)
        assert rms_dbfs(samples) > -20
    assert source.overflows >= 0 and source.dropped_frames >= 0


def test_closing_a_looped_source_ends_a_read_within_a_block() -> None:
    source = tone_source(440, -6.0, 48000, 1)
    source.open(BLOCK)
    source.read()
    ended: list[EOFError] = []

    def read_until_closed() -> None:
        try:
            while True:
                source.read()
        except EOFError as exc:
            ended.append(exc)

    reader = threading.Thread(target=read_until_closed)
    reader.start()
    time.sleep(0.05)
    closed = time.monotonic()
    source.close()
    reader.join(1.0)
    assert ended and time.monotonic() - closed < 0.1  # a block is 20 ms
    with pytest.raises(EOFError):
        source.read()
    source.open(BLOCK)
    assert len(source.read().pcm) == 2 * BLOCK  # open again: reads go on


def test_tone_loop_is_seamless_and_at_the_asked_level() -> None:
    pcm = np.frombuffer(tone_pcm(440, -12.0, 48000, 1), dtype="<i2")
    assert len(pcm) == 1200  # 48000 / gcd(48000, 440): eleven whole cycles
    looped = np.concatenate([pcm, pcm])
    assert np.max(np.abs(np.diff(looped.astype(np.int32)))) < 32768 * 0.05
    assert rms_dbfs(pcm) == pytest.approx(-15.01, abs=0.05)


def test_stereo_tone_has_both_channels() -> None:
    pcm = np.frombuffer(tone_pcm(440, -6.0, 48000, 2), dtype="<i2")
    assert np.array_equal(pcm[0::2], pcm[1::2])


def test_wav_channels_are_converted(tmp_path: Path) -> None:
    mono = sine_s16le(500, 0.1)
    stereo_pcm, rate = load_wav(write_wav(tmp_path / "m.wav", mono), 2)
    assert rate == 48000
    stereo = np.frombuffer(stereo_pcm, dtype="<i2")
    assert np.array_equal(stereo[0::2], np.frombuffer(mono, dtype="<i2"))
    back, _ = load_wav(write_wav(tmp_path / "s.wav", stereo_pcm, channels=2), 1)
    assert back == mono


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"rate": 44100}, "44100 Hz; Opus takes"),
    ({"width": 1}, "8-bit samples; only 16-bit"),
    ({"channels": 3}, "3 channels"),
])
def test_unusable_wav_files_are_explained(
    tmp_path: Path, kwargs: dict[str, int], message: str
) -> None:
    channels = kwargs.get("channels", 1)
    pcm = b"\0" * (12 * channels)
    path = write_wav(tmp_path / "x.wav", pcm, **kwargs)
    with pytest.raises(SourceError, match=message):
        load_wav(path, 1)


def test_a_file_that_is_not_wav_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(b"ID3 this is an mp3")
    with pytest.raises(SourceError, match="cannot read WAV file"):
        load_wav(path, 1)


