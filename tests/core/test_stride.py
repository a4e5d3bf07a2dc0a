"""The stride controller: bundling grows under load, shrinks without swinging."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcaster.core.stride import BUSY_HIGH, StrideController, max_stride


def test_max_stride_keeps_the_extra_wait_bounded() -> None:
    assert max_stride(20.0, 40.0) == 3  # waits of 0, 20 or 40 ms
    assert max_stride(20.0, 30.0) == 2
    assert max_stride(10.0, 40.0) == 5
    assert max_stride(20.0, 0.0) == 1


def test_light_load_keeps_every_frame_immediate() -> None:
    control = StrideController(limit=3)
    assert [control.update(0.3) for _ in range(10)] == [1] * 10


def test_heavy_load_raises_the_stride_up_to_the_limit() -> None:
    control = StrideController(limit=3)
    assert [control.update(0.9) for _ in range(5)] == [2, 3, 3, 3, 3]


def test_it_settles_instead_of_swinging() -> None:
    """A loop whose busy share is `work / stride`: the stride settles and stays."""
    for work in (0.5, 0.7, 1.0, 1.5):
        control = StrideController(limit=4)
        strides = []
        for _ in range(30):
            strides.append(control.update(work / control.stride))
        assert len(set(strides[-10:])) == 1, (work, strides)
        settled = strides[-1]
        assert work / settled <= BUSY_HIGH or settled == 4


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        StrideController(limit=0)


@given(st.lists(st.floats(0.0, 2.0), max_size=50), st.integers(1, 8))
def test_the_stride_stays_within_one_and_the_limit(loads: list[float], limit: int) -> None:
    control = StrideController(limit=limit)
    for busy in loads:
        assert 1 <= control.update(busy) <= limit
