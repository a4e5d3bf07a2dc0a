"""Ogg Opus files from real libopus packets, read back by independent decoders from Debian
(ffprobe and ffmpeg, opus-tools' opusinfo and opusdec), and the pure parts alone."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcaster.audio.encoder import EncoderSettings, OpusEncoder
from broadcaster.core.ogg import OggOpusWriter, ogg_crc, opus_head, page
from broadcaster.core.opus import PacketError, packet_samples
from tests.support.signal_tools import dominant_frequency, sine_s16le

TOOLS = ("ffprobe", "ffmpeg", "opusinfo", "opusdec")


def encode(pcm: bytes, frame_ms: float = 20.0, application: str = "restricted_lowdelay",
           channels: int = 1) -> tuple[list[bytes], int]:
    encoder = OpusEncoder(EncoderSettings(48000, channels, frame_ms, 64000, application, 5))
    size = encoder.settings.frame_bytes
    packets = [encoder.encode(pcm[i:i + size]) for i in range(0, len(pcm) - size + 1, size)]
    return packets, encoder.lookahead_samples


def write_file(path: Path, packets: list[bytes], pre_skip: int, channels: int = 1) -> Path:
    writer = OggOpusWriter(0x1234ABCD, channels, pre_skip,
                           comments=("TITLE=test tone", "ENCODER=broadcaster"))
    data = writer.start() + b"".join(writer.add(p) for p in packets) + writer.finish()
    path.write_bytes(data)
    return path


def test_the_crc_is_ogg_s() -> None:
    assert ogg_crc(b"") == 0
    assert ogg_crc(b"123456789") == 0x89A1897F  # CRC-32/MPEG-2's check value, unreflected


def test_packet_durations_follow_the_toc() -> None:
    assert packet_samples(bytes([0b11111_0_00])) == 960  # CELT 20 ms, one frame
    assert packet_samples(bytes([0b10000_0_01])) == 240  # CELT 2.5 ms, two frames
    assert packet_samples(bytes([0b00011_0_11, 2])) == 2 * 2880  # SILK 60 ms, two
    for bad in (b"", bytes([0b00011_0_11]), bytes([0b00011_0_11, 0]),
                bytes([0b00011_0_11, 3])):  # none, or 180 ms: more than a packet may hold
        with pytest.raises(PacketError):
            packet_samples(bad)


def test_a_page_holds_long_packets_with_their_lacing() -> None:
    data = page(7, 3, 960, [b"x" * 255, b"y" * 10], 0)
    assert data[26] == 3 and data[27:30] == bytes([255, 0, 10])  # 255 needs a 0 after it
    assert data.startswith(b"OggS") and len(data) == 27 + 3 + 265


def test_the_head_says_what_rfc_7845_asks() -> None:
    head = opus_head(2, 312, 44100)
    assert head[:8] == b"OpusHead" and head[8:12] == bytes([1, 2, 0x38, 0x01])


@pytest.mark.parametrize(("frame_ms", "application", "channels"),
                         [(20.0, "restricted_lowdelay", 1), (10.0, "audio", 2),
                          (2.5, "restricted_lowdelay", 1)])
def test_independent_decoders_read_what_it_writes(tmp_path: Path, frame_ms: float,
                                                  application: str, channels: int) -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    assert not missing, f"scripts/setup.sh --dev installs ffmpeg and opus-tools: {missing}"
    pcm = sine_s16le(440, 2.5, channels=channels)
    packets, pre_skip = encode(pcm, frame_ms, application, channels)
    path = write_file(tmp_path / "tone.opus", packets, pre_skip, channels)

    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True, text=True, check=True).stdout)
    [stream] = probe["streams"]
    assert (stream["codec_name"], stream["channels"]) == ("opus", channels)
    expected_s = (len(packets) * frame_ms * 48 - pre_skip) / 48000
    assert float(probe["format"]["duration"]) == pytest.approx(expected_s, abs=0.03)

    info = subprocess.run(["opusinfo", str(path)], capture_output=True, text=True)
    assert info.returncode == 0, info.stdout + info.stderr
    assert "WARNING" not in info.stdout + info.stderr and "ERROR" not in info.stdout
    assert "TITLE=test tone" in info.stdout

    for command in (["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1",
                     "-ar", "48000", "-"],
                    ["opusdec", "--quiet", "--rate", "48000", "--force-wav", str(path), "-"]):
        decoded = subprocess.run(command, capture_output=True, check=True).stdout
        samples = np.frombuffer(decoded[44:] if command[0] == "opusdec" else decoded,
                                dtype="<i2")
        if command[0] == "opusdec" and channels == 2:
            samples = samples[::2]
        assert len(samples) == pytest.approx(expected_s * 48000, abs=48 * 30)
        middle = samples[len(samples) // 4: 3 * len(samples) // 4].astype(np.float64)
        assert dominant_frequency(middle) == pytest.approx(440, abs=3)


def read_pages(data: bytes) -> list[tuple[int, int, list[bytes], bool]]:
    """(flags, granule, packets ending on the page, CRC right) of every page."""
    pages, at = [], 0
    while at < len(data):
        assert data[at:at + 4] == b"OggS"
        flags, granule = data[at + 5], int.from_bytes(data[at + 6:at + 14], "little",
                                                      signed=True)
        count = data[at + 26]
        lacing = data[at + 27:at + 27 + count]
        body_at = at + 27 + count
        end = body_at + sum(lacing)
        raw = bytearray(data[at:end])
        crc = int.from_bytes(raw[22:26], "little")
        raw[22:26] = bytes(4)
        packets, current, offset = [], b"", body_at
        for value in lacing:
            current += data[offset:offset + value]
            offset += value
            if value < 255:
                packets.append(current)
                current = b""
        assert current == b""  # the writer never splits a packet across pages
        pages.append((flags, granule, packets, ogg_crc(bytes(raw)) == crc))
        at = end
    return pages


@given(st.lists(st.integers(1, 1500), min_size=1, max_size=120))
def test_pages_give_back_every_packet_with_rising_granules(sizes: list[int]) -> None:
    toc = bytes([0b11111_0_00])  # CELT 20 ms
    packets = [toc + bytes([n % 256]) * (size - 1) for n, size in enumerate(sizes)]
    writer = OggOpusWriter(1, 1, 120)
    data = writer.start() + b"".join(writer.add(p) for p in packets) + writer.finish()
    pages = read_pages(data)
    assert all(ok for *_, ok in pages)
    assert pages[0][0] == 0x02 and pages[-1][0] & 0x04
    assert [p for _, _, page_packets, _ in pages[2:] for p in page_packets] == packets
    granules = [granule for _, granule, _, _ in pages[2:]]
    assert granules == sorted(granules) and granules[-1] == 960 * len(packets)
