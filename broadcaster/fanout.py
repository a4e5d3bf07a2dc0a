"""The ring and its listeners: frames go in once, every listener reads them by number."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from broadcaster.ring import FrameRing
from broadcaster.stride import StrideController
from broadcaster.wire import HEARTBEAT, gap_event

MAX_BACKLOG_MS = 1000  # the most a new listener may ask to start behind the live edge


class StateView(Protocol):
    """What a listener needs to know about the broadcast's state."""

    @property
    def state_version(self) -> int:
        """Bumped whenever the state event would change."""

    def state_event(self) -> bytes:
        """The current `state` event."""


class Fanout:
    """Holds the framed frames and wakes listeners; never waits on any of them.

    Listeners wait on shared events and, when woken, send everything they have not sent
    yet in one write, so a frame costs one append however many listen. A listener that
    falls behind the ring jumps to the live edge and is told what it lost. When the event
    loop gets busy, listeners are woken every `stride` frames, in staggered groups (see
    stride.py), so that each write carries more.
    """

    def __init__(self, capacity_frames: int, first_seq: int, heartbeat_s: float,
                 start_seq: int | None = None, max_stride: int = 1,
                 frame_ms: float = 20.0) -> None:
        self.ring = FrameRing(capacity_frames, first_seq, start_seq)
        self.heartbeat_s = heartbeat_s
        self.listeners = 0
        self.skips = 0  # frames listeners skipped: they fell behind, or resumed too late
        self.closing = False
        self.stride = 1
        self._stride_control = StrideController(max_stride)
        self._groups = [asyncio.Event() for _ in range(max_stride)]
        self._joined = 0
        self._frame_s = frame_ms / 1000
        self._published_at = time.monotonic()
        # When each of the newest frames was published, newest last: a backlog is only ever
        # audio that is still fresh, never what the ring kept from before a stop.
        self._recent: deque[tuple[int, float]] = deque(
            maxlen=min(capacity_frames, math.ceil(MAX_BACKLOG_MS / frame_ms)))
        self._wake_delay_s = 0.0  # summed over the wake-ups since the last pace()
        self._wakeups = 0

    def publish(self, seq: int, wire: bytes) -> None:
        """Append one framed frame and wake the listeners whose turn it is."""
        self.ring.append(seq, wire)
        self._published_at = now = time.monotonic()
        self._recent.append((seq, now))
        news = self._groups[seq % self.stride]
        news.set()
        news.clear()

    def wake(self) -> None:
        """Wake every listener (a state change, a heartbeat tick, shutdown)."""
        for news in self._groups:
            news.set()
            news.clear()

    async def pace(self, period_s: float = 1.0) -> None:
        """Keep the stride suited to how busy this thread's event loop is (runs forever).

        Busy is the larger of the loop's CPU share and how long a round of wake-ups takes
        against the frame duration (twice the mean delay from a frame to a listener's
        wake-up): the second also sees a process that other processes crowd out.
        """
        cpu, wall = time.thread_time(), time.monotonic()
        while True:
            await asyncio.sleep(period_s)
            cpu_now, wall_now = time.thread_time(), time.monotonic()
            busy = (cpu_now - cpu) / max(wall_now - wall, 1e-3)
            if self._wakeups:
                busy = max(busy, 2 * self._wake_delay_s / self._wakeups / self._frame_s)
            self._wake_delay_s, self._wakeups = 0.0, 0
            stride = self._stride_control.update(busy)
            cpu, wall = cpu_now, wall_now
            if stride != self.stride:
                self.stride = stride
                self.wake()  # listeners move to their group for the new stride

    def close(self) -> None:
        """Make every listener's stream end after its final events."""
        self.closing = True
        self.wake()

    def start_seq(self, last_id: int | None, backlog_ms: float = 0.0) -> int:
        """Where a connection starts: right after `last_id` when given, else the live edge,
        or up to `backlog_ms` of fresh audio before it."""
        if last_id is None:
            return self.ring.next_seq - self.fresh_frames(backlog_ms)
        return min(last_id + 1, self.ring.next_seq)

    def fresh_frames(self, backlog_ms: float, now: float | None = None) -> int:
        """How many of the newest frames make up to `backlog_ms` of audio captured just now:
        consecutive, still in the ring, and each published within the time it covers (plus
        two frames of slack for an uneven capture), so never audio from before a pause."""
        wanted = min(math.ceil(min(backlog_ms, MAX_BACKLOG_MS) / (self._frame_s * 1000)),
                     len(self.ring))
        if wanted <= 0:
            return 0
        now = time.monotonic() if now is None else now
        newest = self.ring.next_seq - 1
        window_s = backlog_ms / 1000 + 2 * self._frame_s
        count = 0
        for seq, published in reversed(self._recent):
            if count == wanted or seq != newest - count or now - published > window_s:
                break
            count += 1
        return count

    def next_id(self, start_seq: int) -> int:
        """The id of the first frame a listener starting at `start_seq` will get."""
        return start_seq if self.ring.holds(start_seq) else self.ring.next_seq

    async def listen(self, start_seq: int, hello: bytes, state: StateView,
                     on_end: Callable[[], None] | None = None) -> AsyncIterator[bytes]:
        """One listener's stream: `hello`, then state changes and frames from `start_seq`;
        `on_end` runs when the stream ends, however it ends."""
        ring = self.ring
        seq = start_seq
        seen_state = state.state_version
        last_sent = time.monotonic()
        slot = self._joined
        self._joined += 1
        self.listeners += 1
        try:
            out = hello
            if seq < ring.first_seq:  # an id from before this process started
                seq = ring.next_seq
                out += gap_event(None, seq, "restart")
            yield out
            while True:
                out = b""
                if state.state_version != seen_state:
                    seen_state = state.state_version
                    out = state.state_event()
                if self.closing:
                    if out:
                        yield out
                    return
                batch = ring.read(seq)
                if batch.lost:
                    self.skips += batch.lost
                    out += gap_event(batch.lost, batch.next_seq, "behind")
                seq = batch.next_seq
                out += batch.data
                now = time.monotonic()
                if batch.data:
                    self._wake_delay_s += now - self._published_at
                    self._wakeups += 1
                if out:
                    last_sent = now
                    yield out
                elif now - last_sent >= self.heartbeat_s / 2:
                    last_sent = now
                    yield HEARTBEAT
                else:
                    await self._groups[slot % self.stride].wait()
        finally:
            self.listeners -= 1
            if on_end is not None:
                on_end()
