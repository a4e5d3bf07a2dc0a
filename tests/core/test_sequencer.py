"""Sequencer: live frames and a backfill merged in order, each once."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from broadcaster.core.sequencer import Sequencer


def test_frames_after_a_hole_wait_for_the_backfill() -> None:
    seq: Sequencer[str] = Sequencer(10)
    assert seq.start(5) == []
    assert seq.offer(5, "a") == [(5, "a")]
    assert seq.offer(8, "d") == []
    assert seq.hole == (6, 8)
    assert seq.offer(6, "b") == [(6, "b")]
    assert seq.offer(7, "c") == [(7, "c"), (8, "d")]
    assert seq.hole is None and seq.next_id == 9
    assert seq.offer(6, "again") == []


def test_skipping_a_hole_counts_what_was_lost() -> None:
    seq: Sequencer[str] = Sequencer(2)
    seq.start(0)
    seq.offer(0, "a")
    for n in (4, 5, 6):
        seq.offer(n, "x")
    assert seq.overfull
    lost, released = seq.skip()
    assert lost == 3 and [n for n, _ in released] == [4, 5, 6]


def test_before_start_everything_is_held_and_start_drops_what_is_older() -> None:
    seq: Sequencer[int] = Sequencer(10)
    assert seq.offer(10, 10) == [] and seq.offer(12, 12) == []
    assert seq.first_held == 10
    assert seq.start(11) == []
    assert seq.offer(11, 11) == [(11, 11), (12, 12)]


@given(st.permutations(list(range(30))), st.sets(st.integers(0, 29)))
def test_any_order_with_repeats_comes_out_in_order_once(order: list[int],
                                                        repeats: set[int]) -> None:
    seq: Sequencer[int] = Sequencer(100)
    seq.start(0)
    out = []
    for n in order + sorted(repeats):
        out += [item for _, item in seq.offer(n, n)]
    assert out == list(range(30))
