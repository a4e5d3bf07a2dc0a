"""The fan-out's pure decisions: where a new listener starts."""

from __future__ import annotations

import time

from broadcaster.stream.fanout import MAX_BACKLOG_MS, Fanout


def fanout_with(frames: int, frame_ms: float = 20.0, capacity: int = 100) -> Fanout:
    fanout = Fanout(capacity, first_seq=1000, heartbeat_s=15.0, frame_ms=frame_ms)
    for seq in range(1000, 1000 + frames):
        fanout.publish(seq, b"frame %d\n" % seq)
    return fanout


def test_without_a_backlog_a_listener_starts_at_the_live_edge() -> None:
    fanout = fanout_with(10)
    assert fanout.start_seq(None) == fanout.ring.next_seq == 1010


def test_a_backlog_is_whole_frames_that_cover_it() -> None:
    fanout = fanout_with(10)
    assert fanout.start_seq(None, backlog_ms=50) == 1010 - 3  # 60 ms of 20 ms frames
    assert fanout.start_seq(None, backlog_ms=60) == 1010 - 3
    assert fanout.start_seq(None, backlog_ms=1) == 1010 - 1


def test_a_backlog_is_never_more_than_the_ring_holds() -> None:
    fanout = fanout_with(30, capacity=8)
    assert fanout.start_seq(None, backlog_ms=MAX_BACKLOG_MS) == fanout.ring.oldest_seq


def test_a_backlog_is_never_audio_from_before_a_pause() -> None:
    fanout = fanout_with(10)
    # 60 ms of frames asked for, but the newest frame is a second old: capture stopped.
    assert fanout.fresh_frames(60, now=time.monotonic() + 1.0) == 0
    # Just within the window the frames cover (plus two frames' slack), they still count.
    assert fanout.fresh_frames(60, now=time.monotonic()) == 3


def test_a_resume_ignores_the_backlog() -> None:
    fanout = fanout_with(10)
    assert fanout.start_seq(1004, backlog_ms=100) == 1005
    assert fanout.start_seq(10**9, backlog_ms=100) == 1010
