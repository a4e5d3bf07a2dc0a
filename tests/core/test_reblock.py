from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcaster.core.reblock import PcmChunk, Reblocker


def test_whole_frames_pass_through_untouched() -> None:
    chunk = PcmChunk(b"abcd", 5.0)
    assert Reblocker(4, 1000).feed(chunk) == [chunk]


def test_blocks_carry_the_capture_time_of_their_first_byte() -> None:
    reblocker = Reblocker(4, bytes_per_second=1000)  # 1 ms per byte
    assert reblocker.feed(PcmChunk(b"abc", 100.0)) == []
    out = reblocker.feed(PcmChunk(b"defghij", 103.0))
    assert out == [PcmChunk(b"abcd", 100.0), PcmChunk(b"efgh", 104.0)]
    assert reblocker.pending_bytes == 2


def test_reset_drops_the_partial_block() -> None:
    reblocker = Reblocker(4, 1000)
    reblocker.feed(PcmChunk(b"ab", 0.0))
    reblocker.reset()
    assert reblocker.feed(PcmChunk(b"wxyz", 50.0)) == [PcmChunk(b"wxyz", 50.0)]


@pytest.mark.parametrize("args", [(0, 1000), (4, 0)])
def test_bad_sizes_are_refused(args: tuple[int, int]) -> None:
    with pytest.raises(ValueError):
        Reblocker(*args)


@given(st.lists(st.binary(max_size=40), max_size=30), st.integers(1, 16))
def test_bytes_are_preserved_in_order(chunks: list[bytes], size: int) -> None:
    reblocker = Reblocker(size, 1000)
    out = []
    t = 0.0
    for data in chunks:
        out += reblocker.feed(PcmChunk(data, t))
        t += len(data)
    joined = b"".join(block.pcm for block in out)
    assert joined == b"".join(chunks)[: len(joined)]
    assert all(len(block.pcm) == size for block in out)
    assert len(joined) + reblocker.pending_bytes == sum(map(len, chunks))
    assert [block.capture_ms for block in out] == pytest.approx(
        [float(i * size) for i in range(len(out))])
