"""The archive's index format, its names, and finding ids and times in it (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcaster.core.archive_index import (
    HEADER_BYTES,
    RECORD_BYTES,
    ArchiveIndexError,
    Record,
    SegmentHeader,
    find_id,
    find_time,
    index_name,
    parse_records,
    parse_segment_name,
    segment_name,
)


def records(starts: list[int], packets: int = 50, frame_ms: float = 20.0) -> list[Record]:
    return [Record(first, i * 1000, 1000, packets, 1_000_000.0 + (first - starts[0]) * frame_ms,
                   -30.0) for i, first in enumerate(starts)]


def test_header_and_records_read_back_as_written() -> None:
    header = SegmentHeader(2, 312, 1_765_000_000_000, 0xDEADBEEF, 20.0, 1.765e12)
    assert SegmentHeader.parse(header.pack()) == header
    assert len(header.pack()) == HEADER_BYTES
    record = Record(1_765_000_000_123, 4096, 8000, 50, 1.765e12 + 0.5, -12.5)
    assert parse_records(record.pack() * 3) == [record] * 3
    assert len(record.pack()) == RECORD_BYTES


def test_a_torn_last_record_is_left_out() -> None:
    record = Record(5, 0, 100, 50, 1.0, -20.0)
    data = record.pack() * 2
    assert parse_records(data[:-1]) == [record]


@pytest.mark.parametrize("data", [b"", b"x" * HEADER_BYTES,
                                  SegmentHeader(1, 0, 0, 0, 20.0, 0.0).pack()[:-1]])
def test_a_header_that_is_not_one_is_refused(data: bytes) -> None:
    with pytest.raises(ArchiveIndexError):
        SegmentHeader.parse(data)


def test_names_carry_the_local_time_and_the_first_id() -> None:
    name = segment_name((2026, 12, 6, 9, 5, 7), 1_765_011_907_000)
    assert name == "2026-12-06_09-05-07_1765011907000.opus"
    assert parse_segment_name(name) == 1_765_011_907_000
    assert index_name(name) == "2026-12-06_09-05-07_1765011907000.idx"
    for other in ("notes.txt", "../2026-12-06_09-05-07_1.opus", "2026-12-06_09-05-07_.opus",
                  "2026-12-06_09-05-07_1.opus.part", ".lock"):
        assert parse_segment_name(other) is None


def test_ids_are_found_in_pages_and_in_holes() -> None:
    held = records([100, 150, 300])  # 200..299 were never written
    assert find_id(held, 100) == 0
    assert find_id(held, 149) == 0
    assert find_id(held, 150) == 1
    assert find_id(held, 250) == 2  # in the hole: the first page after it
    assert find_id(held, 50) == 0  # before them all
    assert find_id(held, 350) is None


@given(st.lists(st.integers(1, 60), min_size=1, max_size=30), st.data())
def test_every_held_id_is_found_in_its_page(sizes: list[int], data: st.DataObject) -> None:
    held, first = [], 1000
    for i, size in enumerate(sizes):
        held.append(Record(first, i, 1, size, float(first), 0.0))
        first += size + data.draw(st.integers(0, 3))
    seq = data.draw(st.integers(held[0].first_id, held[-1].end_id - 1))
    position = find_id(held, seq)
    assert position is not None
    record = held[position]
    assert seq < record.end_id and (record.first_id <= seq or
                                    held[position - 1].end_id <= seq)


def test_times_are_found_in_their_page() -> None:
    held = records([0, 50, 100])  # pages of 1 s from 1,000,000 ms
    assert find_time(held, 1_000_000.0, 20.0) == 0
    assert find_time(held, 1_001_500.0, 20.0) == 1
    assert find_time(held, 999_000.0, 20.0) == 0  # before them: the first
    assert find_time(held, 1_002_999.0, 20.0) == 2
    assert find_time(held, 1_003_000.0, 20.0) is None  # after the last page's audio
