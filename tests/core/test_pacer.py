from __future__ import annotations

import pytest

from broadcaster.core.pacer import Pacer


def test_deadlines_follow_an_absolute_schedule() -> None:
    pacer = Pacer(0.02)
    first, _ = pacer.next_deadline(100.0)
    # a caller that wakes a little late each time does not push the schedule back
    deadlines = [pacer.next_deadline(first + 0.02 * i + 0.005)[0] for i in range(1, 500)]
    assert deadlines[-1] == pytest.approx(first + 0.02 * 499)


def test_a_caller_far_behind_skips_blocks_instead_of_bursting() -> None:
    pacer = Pacer(0.02, max_late_s=0.1)
    start, _ = pacer.next_deadline(0.0)
    deadline, skipped = pacer.next_deadline(start + 1.0)
    assert skipped == 48
    assert deadline == pytest.approx(start + 0.02 * 49)


def test_reset_starts_a_new_schedule() -> None:
    pacer = Pacer(0.02)
    pacer.next_deadline(0.0)
    pacer.reset()
    assert pacer.next_deadline(50.0) == (pytest.approx(50.02), 0)


def test_period_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Pacer(0)
