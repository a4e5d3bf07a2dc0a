from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcaster.core.standing import StandingQueue


def test_a_queue_left_behind_every_read_is_dropped_once_a_window() -> None:
    standing = StandingQueue(window_reads=4, min_frames=96)
    assert [standing.observe(q) for q in (480, 520, 480, 500)] == [0, 0, 0, 480]
    # the reads are now in step: nothing stands any more
    assert [standing.observe(q) for q in (0, 0, 40, 0)] == [0, 0, 0, 0]


def test_a_queue_that_runs_down_once_in_the_window_stays() -> None:
    standing = StandingQueue(window_reads=4, min_frames=96)
    assert [standing.observe(q) for q in (960, 480, 0, 960)] == [0, 0, 0, 0]


def test_a_small_standing_queue_is_not_worth_a_cut() -> None:
    standing = StandingQueue(window_reads=2, min_frames=96)
    assert [standing.observe(q) for q in (95, 200)] == [0, 0]


def test_reset_starts_a_new_window() -> None:
    standing = StandingQueue(window_reads=3, min_frames=1)
    standing.observe(0)
    standing.reset()
    assert [standing.observe(q) for q in (10, 10, 10)] == [0, 0, 10]


@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=200), st.integers(1, 20))
def test_never_drops_more_than_stood_behind_every_read_of_the_window(
        queued: list[int], window: int) -> None:
    standing = StandingQueue(window_reads=window, min_frames=1)
    for i, q in enumerate(queued):
        cut = standing.observe(q)
        if cut:
            assert (i + 1) % window == 0
            assert cut == min(queued[i + 1 - window:i + 1])


@pytest.mark.parametrize("args", [(0, 1), (1, 0)])
def test_bad_settings_are_refused(args: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="must be at least 1"):
        StandingQueue(*args)
