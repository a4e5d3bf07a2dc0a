from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcaster.core.ring import FrameRing


def filled(capacity: int, count: int) -> FrameRing:
    ring = FrameRing(capacity)
    for seq in range(count):
        ring.append(seq, b"<%d>" % seq)
    return ring


def test_read_from_live_edge_is_empty() -> None:
    ring = filled(4, 3)
    batch = ring.read(3)
    assert (batch.data, batch.next_seq, batch.lost) == (b"", 3, 0)


def test_read_joins_pending_frames_in_order() -> None:
    ring = filled(8, 5)
    batch = ring.read(2)
    assert batch.data == b"<2><3><4>"
    assert (batch.next_seq, batch.lost) == (5, 0)


def test_max_frames_limits_a_batch() -> None:
    batch = filled(8, 5).read(1, max_frames=2)
    assert (batch.data, batch.next_seq) == (b"<1><2>", 3)


def test_reader_behind_the_ring_jumps_to_live_edge_and_counts_the_skip() -> None:
    ring = filled(4, 10)  # holds 6..9
    assert ring.oldest_seq == 6
    batch = ring.read(2)
    assert (batch.data, batch.next_seq, batch.lost) == (b"", 10, 8)


def test_reader_from_the_future_is_clamped_to_live_edge() -> None:
    batch = filled(4, 3).read(1000)
    assert (batch.data, batch.next_seq, batch.lost) == (b"", 3, 0)


def test_out_of_order_append_is_refused() -> None:
    ring = filled(4, 2)
    with pytest.raises(ValueError, match="expected 2"):
        ring.append(3, b"x")


@pytest.mark.parametrize("capacity", [0, -1])
def test_capacity_must_be_positive(capacity: int) -> None:
    with pytest.raises(ValueError, match="capacity"):
        FrameRing(capacity)


def test_first_seq_offsets_the_numbering() -> None:
    ring = FrameRing(4, first_seq=100)
    assert (ring.next_seq, ring.oldest_seq, len(ring)) == (100, 100, 0)
    ring.append(100, b"a")
    assert ring.read(99).lost == 2  # 99 never existed; the reader jumps to the edge


@given(capacity=st.integers(1, 16), count=st.integers(0, 60), start=st.integers(0, 80))
def test_read_invariants(capacity: int, count: int, start: int) -> None:
    ring = filled(capacity, count)
    batch = ring.read(start)
    assert batch.next_seq == count
    assert len(ring) == min(count, capacity)
    if start >= count:
        assert (batch.data, batch.lost) == (b"", 0)
    elif start < count - capacity:
        assert (batch.data, batch.lost) == (b"", count - start)
    else:
        assert batch.lost == 0
        assert batch.data == b"".join(b"<%d>" % s for s in range(start, count))


@given(st.lists(st.integers(1, 5), min_size=1, max_size=30), st.integers(2, 12))
def test_a_reader_keeping_up_sees_every_frame_once(bursts: list[int], capacity: int) -> None:
    ring = FrameRing(capacity)
    seq, got = 0, b""
    pos = 0
    for burst in bursts:
        for _ in range(min(burst, capacity)):
            ring.append(seq, b"<%d>" % seq)
            seq += 1
        batch = ring.read(pos)
        assert batch.lost == 0
        got += batch.data
        pos = batch.next_seq
    assert got == b"".join(b"<%d>" % s for s in range(seq))


def test_a_ring_joining_an_epoch_late_holds_only_what_it_was_given() -> None:
    ring = FrameRing(8, first_seq=100, start_seq=105)
    assert (ring.first_seq, ring.next_seq, len(ring)) == (100, 105, 0)
    ring.append(105, b"<105>")
    assert ring.read(105).data == b"<105>"
    batch = ring.read(102)  # in this epoch, but before this copy started
    assert (batch.data, batch.next_seq, batch.lost) == (b"", 106, 4)


def test_a_ring_cannot_start_before_its_epoch() -> None:
    with pytest.raises(ValueError, match="before the epoch"):
        FrameRing(8, first_seq=100, start_seq=99)


def test_a_skipped_stretch_reads_as_nothing_never_as_older_frames() -> None:
    ring = FrameRing(4, first_seq=10)
    for seq in range(10, 14):
        ring.append(seq, b"%d;" % seq)
    ring.skip_to(16)
    ring.append(16, b"16;")
    assert ring.read(14).data == b"16;" and ring.read(14).lost == 0
    assert ring.read(13).data == b"13;16;"
    ring.skip_to(1000)  # far past the ring: nothing of before is read again
    ring.append(1000, b"1000;")
    assert ring.read(997).data == b"1000;"
    with pytest.raises(ValueError, match="skip back"):
        ring.skip_to(5)
