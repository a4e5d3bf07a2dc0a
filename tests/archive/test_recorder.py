"""The recorder on a real disk: real libopus packets in, files that ffprobe, opusinfo and
ffmpeg read; a clock that steps; a writer killed mid-page; retention."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from broadcaster.archive.store import ArchiveStore
from tests.support.archive_tools import DAY_MS, FRAME_MS, feed, open_recorder, tone_packets
from tests.support.ogg_check import decode_mono, duration_s, opusinfo_clean
from tests.support.signal_tools import dominant_frequency

T0_MS = 1_796_000_000_000.0  # 2026-12-01, local time whatever the zone
EPOCH = 1_796_000_000_000


def test_files_hold_the_audio_and_decoders_read_them(tmp_path: Path) -> None:
    rec = open_recorder(tmp_path)
    rec.start(EPOCH)
    end = feed(rec, EPOCH, tone_packets(440, 3.0), T0_MS)
    end = feed(rec, end, tone_packets(880, 3.0), T0_MS + 3000)
    rec.close()
    [ogg] = sorted(tmp_path.glob("*.opus"))
    assert duration_s(ogg) == pytest.approx(6.0 - 120 / 48000, abs=0.03)
    opusinfo_clean(ogg)
    samples = decode_mono(ogg)
    assert dominant_frequency(samples[48000:96000]) == pytest.approx(440, abs=3)
    assert dominant_frequency(samples[200000:260000]) == pytest.approx(880, abs=3)

    store = ArchiveStore(tmp_path)
    store.scan()
    assert (store.first_id, store.end_id) == (EPOCH, end)
    chunk = store.read(EPOCH + 160, 2)
    assert chunk is not None and chunk.packets[0][0] == EPOCH + 160
    assert chunk.capture_ms[0] == pytest.approx(T0_MS + 160 * FRAME_MS)
    assert store.id_at(T0_MS + 4000) == EPOCH + 200
    assert rec.counters()["archive_write_errors"] == 0


def test_a_clock_that_steps_loses_misorders_and_overwrites_nothing(tmp_path: Path) -> None:
    """No real-time clock: a month back (a Pi before NTP), then two months ahead."""
    rec = open_recorder(tmp_path)
    rec.start(EPOCH)
    tone = tone_packets(440, 2.0)
    seq = feed(rec, EPOCH, tone, T0_MS)
    seq = feed(rec, seq, tone, T0_MS + 2000 - 30 * DAY_MS)
    seq = feed(rec, seq, tone, T0_MS + 4000 + 30 * DAY_MS)
    rec.close()
    names = sorted(p.name for p in tmp_path.glob("*.opus"))
    assert len(names) == 3  # each step starts a file named by its own local time
    store = ArchiveStore(tmp_path)
    store.scan()
    ids = []
    at = EPOCH
    while (chunk := store.read(at, 50)) is not None:
        ids += [packet_id for packet_id, _ in chunk.packets]
        at = chunk.next_id
    assert ids == list(range(EPOCH, seq))  # every id, in order, once
    for path in tmp_path.glob("*.opus"):
        opusinfo_clean(path)


def test_a_writer_killed_mid_page_leaves_a_cut_nothing_corrupt(tmp_path: Path) -> None:
    rec = open_recorder(tmp_path)
    rec.start(EPOCH)
    end = feed(rec, EPOCH, tone_packets(440, 5.0), T0_MS)
    rec.close()
    [ogg] = tmp_path.glob("*.opus")
    index = ogg.with_suffix(".idx")
    # What a kill -9 can leave: the end-of-stream page never written, half a page after the
    # last whole one, half a record after the last whole one.
    data = ogg.read_bytes()
    last_page = data.rindex(b"OggS")
    ogg.write_bytes(data[:last_page] + data[last_page - 900:last_page - 300])
    index.write_bytes(index.read_bytes()[:-10])

    rec = open_recorder(tmp_path)  # a new run: it repairs before it writes
    store = ArchiveStore(tmp_path)
    store.scan()
    assert store.end_id is not None and end - store.end_id <= 100  # at most 2 s lost
    opusinfo_clean(ogg)
    assert len(decode_mono(ogg)) > 48000 * 3
    rec.start(end + 1000)
    feed(rec, end + 1000, tone_packets(440, 1.0), T0_MS + 60_000)
    rec.close()
    store.scan()
    assert len(store.segments) == 2


def test_retention_deletes_whole_segments_oldest_first(tmp_path: Path) -> None:
    rec = open_recorder(tmp_path, keep_ms=2500.0, file_minutes=1.0)
    rec.start(EPOCH)
    seq = EPOCH
    tone = tone_packets(440, 1.0)
    for minute in range(5):
        seq = feed(rec, seq, tone, T0_MS + minute * 60_000)
    rec.close()  # retention runs at the writer's first tick and every 30 s after
    store = ArchiveStore(tmp_path)
    store.scan()
    assert len(store.segments) == 3
    rec = open_recorder(tmp_path, keep_ms=2500.0, file_minutes=1.0)
    rec.start(seq)
    feed(rec, seq, tone, T0_MS + 10 * 60_000)
    rec.close()
    store.scan()
    # 2.5 s kept: whole 1 s segments, the fewest newest that hold at least that much.
    assert [s.first_id for s in store.segments] == [EPOCH + 150, EPOCH + 200, seq]
    assert rec.counters()["archive_files_deleted"] == 1


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    first = open_recorder(tmp_path)
    with pytest.raises(OSError, match="another broadcaster records"):
        open_recorder(tmp_path)
    first.close()
    open_recorder(tmp_path).close()


def test_a_missing_or_read_only_folder_is_said(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="does not exist"):
        open_recorder(tmp_path / "unmounted")
    if os.geteuid() != 0:  # root writes anywhere
        tmp_path.chmod(0o500)
        with pytest.raises(OSError):
            open_recorder(tmp_path)
