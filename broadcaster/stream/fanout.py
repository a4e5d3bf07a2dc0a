"""The ring and its listeners: frames go in once, every listener reads them by number; the
broadcast's state and the heartbeat reach every listener from here too."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from broadcaster.config import Config
from broadcaster.core.ring import Batch, FrameRing
from broadcaster.core.state import STARTING, BroadcastState
from broadcaster.core.stride import StrideController, max_stride
from broadcaster.core.wire import HEARTBEAT, gap_event
from broadcaster.stream.bundles import Bundles

logger = logging.getLogger(__name__)

MAX_BACKLOG_MS = 1000  # the most a new listener may ask to start behind the live edge
# A sink holding more unsent bytes than this is not written to: its listener has stopped
# reading. It catches up in one write once it reads again, or falls off the ring.
SINK_HIGH_WATER = 64 * 1024


class Sink(Protocol):
    """A listener's connection, written to directly once its response has begun (direct.py):
    no coroutine is woken, and no HTTP layer is crossed, per write."""

    def send(self, data: bytes) -> None:
        """Queue `data` for the listener at once (never blocks)."""

    def backlog(self) -> int:
        """Bytes queued that the connection has not taken yet."""

    def closed(self) -> bool:
        """Whether the connection has gone (its stream is about to be cancelled)."""


FrameTap = Callable[[int, bytes], None]  # gets every framed frame, as the ring does
StateTap = Callable[[BroadcastState], None]  # gets every change of state


@dataclass(slots=True, eq=False)
class _Listener:
    """Where one listener is: the next frame it gets, the state it was last told."""

    seq: int
    seen_state: int  # the state version it was last told
    slot: int  # joining order: which staggered group it is woken with
    last_sent: float
    period: int = 1  # frames per write it asked for (bundles.py); 1: as they come
    sink: Sink | None = None  # written to directly (else its coroutine is woken)
    ended: asyncio.Future[bytes] | None = None  # a direct stream's end, with its last bytes


class Fanout:
    """Holds the framed frames and wakes listeners; never waits on any of them.

    A listener gets everything it has not had yet in one write, so a frame costs one
    append however many listen. Listeners with a sink (a plain HTTP/1.1 connection) are
    written to straight from `publish`, in one loop; the others' coroutines wait on shared
    events. A listener that falls behind the ring jumps to the live edge and is told what
    it lost. When the event loop gets busy, listeners are served every `stride` frames, in
    staggered groups (see stride.py), so that each write carries more. A change of state
    reaches every listener as a `state` event; a listener with nothing to get for half the
    heartbeat period gets a heartbeat comment (`run()` keeps both going).
    """

    def __init__(self, capacity_frames: int, first_seq: int, heartbeat_s: float,
                 start_seq: int | None = None, max_stride: int = 1,
                 frame_ms: float = 20.0,
                 state: BroadcastState = STARTING) -> None:
        self.ring = FrameRing(capacity_frames, first_seq, start_seq)
        self.heartbeat_s = heartbeat_s
        self._state = state
        self._state_event = state.event()
        self._state_version = 0
        self.frame_taps: list[FrameTap] = []
        self.state_taps: list[StateTap] = []
        self.listeners = 0
        self.skips = 0  # frames listeners skipped: they fell behind, or resumed too late
        self.closing = False
        self.stride = 1
        self._stride_control = StrideController(max_stride)
        self._groups = [asyncio.Event() for _ in range(max_stride)]
        self._direct: list[dict[_Listener, None]] = [{} for _ in range(max_stride)]
        self._bundles: Bundles[_Listener] = Bundles()
        # What the ring gives a reader at each position, until the next frame: listeners
        # at the same place (most are at the live edge) share one read and one join.
        self._reads: dict[int, Batch] = {}
        self._joined = 0
        self._frame_s = frame_ms / 1000
        self._published_at = time.monotonic()
        # When each of the newest frames was published, newest last: a backlog is only ever
        # audio that is still fresh, never what the ring kept from before a stop.
        self._recent: deque[tuple[int, float]] = deque(
            maxlen=min(capacity_frames, math.ceil(MAX_BACKLOG_MS / frame_ms)))
        self._wake_delay_s = 0.0  # summed over the wake-ups since the last pace()
        self._wakeups = 0

    @classmethod
    def for_config(cls, config: Config, first_seq: int, start_seq: int | None = None,
                   state: BroadcastState = STARTING) -> Fanout:
        """The ring and its listeners as the config sizes them (a copy of another process's
        ring starts at `start_seq`)."""
        frame_ms = config.audio.frame_ms
        return cls(max(1, round(config.ring.capacity_s * 1000 / frame_ms)), first_seq,
                   config.server.heartbeat_s, start_seq=start_seq,
                   max_stride=max_stride(frame_ms, config.server.max_bundle_ms),
                   frame_ms=frame_ms, state=state)

    @property
    def state(self) -> BroadcastState:
        """The broadcast's state, as listeners were last told it."""
        return self._state

    def set_state(self, state: BroadcastState) -> None:
        """Tell every listener (and the state taps) a new state; nothing when unchanged."""
        if self._record(state):
            self.wake()

    def _record(self, state: BroadcastState) -> bool:
        """Make `state` the one listeners are owed and tell the taps; False if unchanged."""
        if state == self._state:
            return False
        self._state, self._state_event = state, state.event()
        self._state_version += 1
        for tap in self.state_taps:
            tap(state)
        return True

    @property
    def direct_listeners(self) -> int:
        """Listeners written to directly (the rest are served through ASGI)."""
        return sum(len(group) for group in self._direct) + len(self._bundles)

    def publish(self, seq: int, wire: bytes) -> None:
        """Append one framed frame, hand it to the taps, and wake the listeners whose turn
        it is. The taps go first: they feed other processes and machines (which serve
        listeners of their own), and only hand the frame over."""
        self.ring.append(seq, wire)
        self._reads.clear()
        self._published_at = now = time.monotonic()
        self._recent.append((seq, now))
        for tap in self.frame_taps:
            tap(seq, wire)
        group = seq % self.stride
        news = self._groups[group]
        news.set()
        news.clear()
        for listener in self._direct[group]:
            self._serve(listener)
        aligned = self.listeners == self._bundles.listeners  # nobody takes every frame
        for listener in self._bundles.due(seq, aligned):
            self._serve(listener)

    def frames_until_wanted(self, next_seq: int) -> int:
        """How many frames from `next_seq` on the listeners need before they are served: 1
        while anyone takes every frame, the first bundle's length while everyone takes
        bundles (bundles.py), 0 with nobody listening."""
        if self.listeners > self._bundles.listeners:
            return 1
        return self._bundles.frames_until_due(next_seq)

    def skip_to(self, seq: int) -> None:
        """Frames up to `seq` will never come: the next one published is `seq`."""
        self.ring.skip_to(seq)
        self._reads.clear()

    def wake(self, quiet_only: bool = False) -> None:
        """Serve every listener (a state change, shutdown); with `quiet_only` (a heartbeat
        tick), only the direct ones that have had nothing for half the heartbeat period, so
        that a bundle is never cut short by it."""
        for news in self._groups:
            news.set()
            news.clear()
        direct = [listener for group in self._direct for listener in group]
        quiet_since = time.monotonic() - self.heartbeat_s / 2
        for listener in direct + list(self._bundles.wake_all()):
            if self.closing:
                if listener.ended is not None and not listener.ended.done():
                    listener.ended.set_result(self._state_news(listener))
            elif not quiet_only or listener.last_sent <= quiet_since:
                self._serve(listener, timed=False)

    async def run(self) -> None:
        """Keep the heartbeat and the stride going (runs until cancelled)."""
        await asyncio.gather(self._heartbeat(), self.pace())

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s / 2)
            self.wake(quiet_only=True)

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
                direct = [listener for group in self._direct for listener in group]
                for group in self._direct:
                    group.clear()
                for listener in direct:
                    self._direct[listener.slot % stride][listener] = None
                for news in self._groups:  # coroutines move to their group's event
                    news.set()
                    news.clear()

    def close(self, final: BroadcastState | None = None) -> None:
        """Make every listener's stream end after its final events: `final`, when given,
        is the last state they are told (through the HTTP layers, which then close)."""
        if final is not None:
            self._record(final)
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

    async def listen(self, start_seq: int, hello: bytes,
                     on_end: Callable[[], None] | None = None,
                     sink: Sink | None = None, period: int = 1) -> AsyncIterator[bytes]:
        """One listener's stream: `hello`, then state changes and frames from `start_seq`;
        `on_end` runs when the stream ends, however it ends. With a `sink`, everything
        after `hello` but the final state goes to it directly. `period` > 1: frames come in
        bundles of that many (bundles.py)."""
        ring = self.ring
        listener = _Listener(start_seq, self._state_version, self._joined, time.monotonic(),
                             max(1, period))
        self._joined += 1
        self.listeners += 1
        if listener.period > 1:
            self._bundles.join(listener.period)
        try:
            if start_seq < ring.first_seq:  # an id from before this process started
                listener.seq = ring.next_seq
                hello += gap_event(None, listener.seq, "restart")
            yield hello
            if sink is not None:
                final = await self._direct_stream(listener, sink)
            else:
                while not self.closing:
                    out = self._take(listener)
                    if out:
                        yield out
                    elif listener.period > 1:
                        await self._bundles.event(listener.period, listener.slot).wait()
                    else:
                        await self._groups[listener.slot % self.stride].wait()
                final = self._state_news(listener)
            if final:
                yield final
        finally:
            self.listeners -= 1
            if listener.period > 1:
                self._bundles.leave(listener.period)
            if on_end is not None:
                on_end()

    async def _direct_stream(self, listener: _Listener, sink: Sink) -> bytes:
        """Serve `listener` through `sink` until the fan-out closes; the final bytes."""
        if self.closing:
            return self._state_news(listener)
        listener.sink = sink
        listener.ended = asyncio.get_running_loop().create_future()
        if listener.period > 1:
            self._bundles.add(listener, listener.period, listener.slot)
        else:
            self._direct[listener.slot % self.stride][listener] = None
        try:
            self._serve(listener, timed=False)  # what it is owed already: a backlog, a resume
            return await listener.ended
        finally:
            for group in self._direct:
                group.pop(listener, None)
            self._bundles.remove(listener)

    def _serve(self, listener: _Listener, timed: bool = True) -> None:
        """Write what a direct listener is owed, unless its connection has stopped taking.
        A connection that fails the write ends its stream, never the round. `timed`: the
        write answers a frame (its delay counts in how busy the loop is)."""
        sink = listener.sink
        try:
            if sink is None or sink.closed() or sink.backlog() > SINK_HIGH_WATER:
                return
            out = self._take(listener, timed)
            if out:
                sink.send(out)
        except Exception:  # one listener's connection, whatever broke it
            logger.exception("writing to a listener failed: ending its stream")
            if listener.ended is not None and not listener.ended.done():
                listener.ended.set_result(b"")
            listener.sink = None

    def _state_news(self, listener: _Listener) -> bytes:
        """The state event, if the state changed since `listener` was last told."""
        if listener.seen_state == self._state_version:
            return b""
        listener.seen_state = self._state_version
        return self._state_event

    def _take(self, listener: _Listener, timed: bool = True) -> bytes:
        """Everything `listener` is owed now (a heartbeat if it has been quiet), or b"".
        `timed`: it was woken by a frame (see pace())."""
        out = self._state_news(listener)
        batch = self._reads.get(listener.seq)
        if batch is None:
            batch = self._reads[listener.seq] = self.ring.read(listener.seq)
        if batch.lost:
            self.skips += batch.lost
            out += gap_event(batch.lost, batch.next_seq, "behind")
        listener.seq = batch.next_seq
        out += batch.data
        now = time.monotonic()
        if batch.data and timed:
            self._wake_delay_s += now - self._published_at
            self._wakeups += 1
        if out:
            listener.last_sent = now
        elif now - listener.last_sent >= self.heartbeat_s / 2:
            listener.last_sent = now
            out = HEARTBEAT
        return out
