"""Which of the oldest segments the archive's retention deletes (pure)."""

from __future__ import annotations

import pytest

from broadcaster.core.retention import Retention, Usage

HOUR_MS = 3_600_000.0
MB = 1 << 20


def hours(*sizes_mb: int) -> list[Usage]:
    return [Usage(size * MB, HOUR_MS) for size in sizes_mb]


def test_the_audio_held_decides_not_the_wall_clock() -> None:
    keep = Retention(keep_ms=24 * HOUR_MS, max_bytes=10_000 * MB)
    assert keep.expired(hours(*[30] * 24)) == 0
    assert keep.expired(hours(*[30] * 25)) == 1  # the oldest hour is beyond the 24 kept
    assert keep.expired(hours(*[30] * 30)) == 6


def test_bytes_beyond_the_bound_go_oldest_first() -> None:
    keep = Retention(keep_ms=1000 * HOUR_MS, max_bytes=100 * MB)
    assert keep.expired(hours(40, 40, 40)) == 1
    assert keep.expired(hours(90, 20, 5)) == 1


def test_the_segment_being_written_is_never_deleted() -> None:
    keep = Retention(keep_ms=HOUR_MS / 2, max_bytes=MB)
    assert keep.expired(hours(500)) == 0
    assert keep.expired(hours(500, 500)) == 1


def test_free_space_and_a_failed_write_free_more() -> None:
    keep = Retention(keep_ms=1000 * HOUR_MS, max_bytes=10_000 * MB, min_free_bytes=100 * MB)
    assert keep.expired(hours(30, 30, 30, 30), free_bytes=500 * MB) == 0
    assert keep.expired(hours(30, 30, 30, 30), free_bytes=50 * MB) == 2  # 50 + 60 >= 100
    assert keep.expired(hours(30, 30, 30), free_bytes=None, need_bytes=1) == 1


@pytest.mark.parametrize("bounds", [(0.0, MB, 0), (HOUR_MS, 0, 0), (HOUR_MS, MB, -1)])
def test_bounds_must_be_positive(bounds: tuple[float, int, int]) -> None:
    with pytest.raises(ValueError, match="retention bounds"):
        Retention(*bounds)
