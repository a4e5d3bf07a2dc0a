"""The fan-out's direct listeners (written straight to their connections through a
`Sink`), against in-memory sinks: no sockets, no server."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest

from broadcaster.core.state import BroadcastState
from broadcaster.core.wire import HEARTBEAT, gap_event
from broadcaster.stream.fanout import SINK_HIGH_WATER, Fanout


@dataclass
class MemorySink:
    """What a listener's connection was sent; its backlog and whether it has gone are set
    by the test."""

    sent: list[bytes] = field(default_factory=list)
    queued: int = 0
    gone: bool = False

    def send(self, data: bytes) -> None:
        self.sent.append(data)

    def backlog(self) -> int:
        return self.queued

    def closed(self) -> bool:
        return self.gone


STOPPED = BroadcastState("stopped", "tone:440")
SHUTDOWN = BroadcastState("shutdown", "tone:440")


def frame(seq: int) -> bytes:
    return b"id: %d\n\n" % seq


class Served:
    """A direct listener's stream running in the background."""

    def __init__(self, fanout: Fanout, sink: MemorySink | None, start: int,
                 period: int = 1) -> None:
        self.through_asgi: list[bytes] = []  # what the stream's generator yielded
        self.ended = False
        self._stream = fanout.listen(start, b"hello\n\n", sink=sink, period=period)
        self.task = asyncio.ensure_future(self._run(self._stream))

    async def _run(self, stream: AsyncIterator[bytes]) -> None:
        async for out in stream:
            self.through_asgi.append(out)
        self.ended = True


def in_a_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test in a fresh event loop (the fan-out needs one for its futures)."""
    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))
    return run


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def fanout_at(seq: int, frames: int = 0, capacity: int = 50, max_stride: int = 1) -> Fanout:
    fanout = Fanout(capacity, first_seq=seq, heartbeat_s=10.0, max_stride=max_stride)
    for s in range(seq, seq + frames):
        fanout.publish(s, frame(s))
    return fanout


async def one_listener(capacity: int = 50) -> tuple[Fanout, MemorySink, Served]:
    """A fan-out that has published frame 0, and a direct listener waiting for frame 1."""
    fanout, sink = fanout_at(0, frames=1, capacity=capacity), MemorySink()
    served = Served(fanout, sink, start=1)
    await settle()
    return fanout, sink, served


@in_a_loop
async def test_after_the_hello_frames_go_to_the_sink_as_they_are_published() -> None:
    fanout, sink = fanout_at(100, frames=3), MemorySink()
    served = Served(fanout, sink, start=101)  # a resume: 101 and 102 are owed
    await settle()
    assert served.through_asgi == [b"hello\n\n"]
    assert sink.sent == [frame(101) + frame(102)]  # what it was owed, in one write
    assert fanout.direct_listeners == 1
    fanout.publish(103, frame(103))  # written from publish itself: no task runs
    assert sink.sent[-1] == frame(103)
    served.task.cancel()  # the client hangs up
    await settle()
    assert fanout.direct_listeners == 0 and fanout.listeners == 0


@in_a_loop
async def test_taps_get_a_frame_before_this_process_writes_it_to_its_listeners() -> None:
    fanout, sink, served = await one_listener()
    order: list[str] = []
    fanout.frame_taps.append(lambda seq, _: order.append(f"tap {seq} ({len(sink.sent)} sent)"))
    fanout.publish(1, frame(1))
    assert order == ["tap 1 (0 sent)"] and sink.sent == [frame(1)]
    served.task.cancel()


@in_a_loop
async def test_a_connection_that_stopped_taking_is_skipped_then_caught_up_in_one_write(
) -> None:
    fanout, sink, served = await one_listener()
    sink.queued = SINK_HIGH_WATER + 1
    for seq in range(1, 6):
        fanout.publish(seq, frame(seq))
    assert sink.sent == []
    sink.queued = 0
    fanout.publish(6, frame(6))
    assert sink.sent == [b"".join(frame(s) for s in range(1, 7))]
    served.task.cancel()


@in_a_loop
async def test_a_listener_that_falls_off_the_ring_is_told_and_moved_to_the_live_edge() -> None:
    fanout, sink, served = await one_listener(capacity=4)
    sink.queued = SINK_HIGH_WATER + 1
    for seq in range(1, 10):
        fanout.publish(seq, frame(seq))
    sink.queued = 0
    fanout.publish(10, frame(10))
    assert sink.sent == [gap_event(10, 11, "behind")]
    assert fanout.skips == 10
    fanout.publish(11, frame(11))
    assert sink.sent[-1] == frame(11)
    served.task.cancel()


@in_a_loop
async def test_a_gone_connection_is_not_written_to() -> None:
    fanout, sink, served = await one_listener()
    sink.gone = True
    fanout.publish(1, frame(1))
    assert sink.sent == []
    served.task.cancel()


class BrokenSink(MemorySink):
    def send(self, data: bytes) -> None:
        raise OSError("the connection broke in a way nobody expected")


@in_a_loop
async def test_a_write_that_fails_ends_that_stream_and_the_round_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    fanout = fanout_at(0, frames=1)
    broken, healthy = BrokenSink(), MemorySink()
    served = [Served(fanout, sink, start=1) for sink in (broken, healthy)]
    await settle()
    fanout.publish(1, frame(1))
    fanout.publish(2, frame(2))
    await settle()
    assert healthy.sent == [frame(1), frame(2)]
    assert served[0].ended and not served[1].ended
    assert "writing to a listener failed" in caplog.text
    served[1].task.cancel()


@in_a_loop
async def test_state_changes_and_heartbeats_go_to_the_sink() -> None:
    fanout, sink, served = await one_listener()
    fanout.heartbeat_s = 0.0  # from now on a wake-up of a quiet listener is a heartbeat
    fanout.set_state(STOPPED)  # every listener is woken with it
    assert sink.sent == [STOPPED.event()]
    fanout.wake()
    assert sink.sent[-1] == HEARTBEAT
    served.task.cancel()


@in_a_loop
async def test_closing_ends_the_stream_through_asgi_with_the_final_state() -> None:
    fanout, sink, served = await one_listener()
    fanout.close(SHUTDOWN)
    await settle()
    assert served.ended
    assert served.through_asgi == [b"hello\n\n", SHUTDOWN.event()]
    assert sink.sent == [] and fanout.listeners == 0


@in_a_loop
async def test_direct_listeners_are_served_in_staggered_groups_too() -> None:
    fanout = fanout_at(0, frames=1, max_stride=2)
    fanout.stride = 2
    sinks = [MemorySink(), MemorySink()]
    served = [Served(fanout, sink, start=1) for sink in sinks]
    await settle()
    fanout.publish(1, frame(1))  # group 1 (slot 1) is due
    assert (sinks[0].sent, sinks[1].sent) == ([], [frame(1)])
    fanout.publish(2, frame(2))  # group 0 gets both of its frames in one write
    assert sinks[0].sent == [frame(1) + frame(2)]
    for one in served:
        one.task.cancel()




def frames(first: int, last: int) -> bytes:
    return b"".join(frame(s) for s in range(first, last + 1))


@in_a_loop
async def test_beside_a_per_frame_listener_bundles_go_out_in_staggered_phases() -> None:
    fanout = fanout_at(0, frames=1)
    per_frame = Served(fanout, MemorySink(), start=1)
    sinks = [MemorySink() for _ in range(5)]
    served = [Served(fanout, sink, start=1, period=5) for sink in sinks]
    await settle()
    assert fanout.frames_until_wanted(1) == 1  # every frame is wanted at once
    for seq in range(1, 21):
        fanout.publish(seq, frame(seq))
    for slot, sink in enumerate(sinks, start=1):  # slot k: the frames where seq % 5 == k % 5
        assert b"".join(sink.sent) == frames(1, 20 - (20 - slot) % 5)
        assert all(write.count(b"id: ") == 5 for write in sink.sent[1:])
    assert fanout.direct_listeners == 6
    for one in [per_frame, *served]:
        one.task.cancel()
    await settle()
    assert fanout.direct_listeners == 0


@in_a_loop
async def test_when_every_listener_takes_bundles_they_all_go_out_on_the_frame_ending_one(
) -> None:
    fanout = fanout_at(0, frames=1)
    assert fanout.frames_until_wanted(1) == 0  # nobody listens
    sinks = [MemorySink() for _ in range(3)]
    served = [Served(fanout, sink, start=1, period=5) for sink in sinks]
    await settle()
    # Frame 4 ends the first bundle (seq % 5 == 4): four frames from 1 until then.
    assert [fanout.frames_until_wanted(n) for n in (1, 4, 5, 9)] == [4, 1, 5, 1]
    for seq in range(1, 15):
        fanout.publish(seq, frame(seq))
    for sink in sinks:
        assert sink.sent == [frames(1, 4), frames(5, 9), frames(10, 14)]
    one_more = Served(fanout, None, start=15, period=2)  # through ASGI: counted as well
    await settle()
    assert fanout.frames_until_wanted(15) == 1  # 15 ends a bundle of two
    assert fanout.frames_until_wanted(16) == 2
    for one in [*served, one_more]:
        one.task.cancel()
    await settle()
    assert fanout.frames_until_wanted(15) == 0


@in_a_loop
async def test_a_heartbeat_tick_never_cuts_a_bundle_short() -> None:
    fanout = fanout_at(0, frames=1)
    sink = MemorySink()
    served = Served(fanout, sink, start=1, period=5)
    await settle()
    for seq in range(1, 7):
        fanout.publish(seq, frame(seq))
    assert sink.sent == [frames(1, 4)]
    fanout.wake(quiet_only=True)  # it had a write just now: nothing
    assert sink.sent == [frames(1, 4)]
    fanout.wake()  # a change of state, say: it gets what it is owed at once
    assert sink.sent == [frames(1, 4), frames(5, 6)]
    served.task.cancel()


@in_a_loop
async def test_a_bundled_listener_through_its_coroutine_gets_bundles_too() -> None:
    fanout = fanout_at(0, frames=1)
    served = Served(fanout, None, start=1, period=4)
    await settle()
    for seq in range(1, 13):
        fanout.publish(seq, frame(seq))
        await settle()
    assert served.through_asgi[0] == b"hello\n\n"
    # The only listener: its bundles end on the frames where seq % 4 == 3.
    assert served.through_asgi[1:] == [frames(1, 3), frames(4, 7), frames(8, 11)]
    fanout.close()
    await settle()
    assert served.ended
