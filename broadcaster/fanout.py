"""The ring and its listeners: frames go in once, every listener reads them by number."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from broadcaster.ring import FrameRing
from broadcaster.wire import HEARTBEAT, gap_event


class StateView(Protocol):
    """What a listener needs to know about the broadcast's state."""

    @property
    def state_version(self) -> int:
        """Bumped whenever the state event would change."""

    def state_event(self) -> bytes:
        """The current `state` event."""


class Fanout:
    """Holds the framed frames and wakes listeners; never waits on any of them.

    Every listener waits on one shared event and, when woken, sends everything it has not
    sent yet in one write, so a frame costs one append however many listen. A listener that
    falls behind the ring jumps to the live edge and is told what it lost.
    """

    def __init__(self, capacity_frames: int, first_seq: int, heartbeat_s: float,
                 start_seq: int | None = None) -> None:
        self.ring = FrameRing(capacity_frames, first_seq, start_seq)
        self.heartbeat_s = heartbeat_s
        self.listeners = 0
        self.skips = 0  # frames listeners skipped: they fell behind, or resumed too late
        self.closing = False
        self._news = asyncio.Event()

    def publish(self, seq: int, wire: bytes) -> None:
        """Append one framed frame and wake the listeners."""
        self.ring.append(seq, wire)
        self.wake()

    def wake(self) -> None:
        """Wake every listener (a frame, a state change, a heartbeat tick, shutdown)."""
        self._news.set()
        self._news.clear()

    def close(self) -> None:
        """Make every listener's stream end after its final events."""
        self.closing = True
        self.wake()

    def start_seq(self, last_id: int | None) -> int:
        """Where a connection starts: right after `last_id` when given, else the live edge."""
        if last_id is None:
            return self.ring.next_seq
        return min(last_id + 1, self.ring.next_seq)

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
                if out:
                    last_sent = now
                    yield out
                elif now - last_sent >= self.heartbeat_s / 2:
                    last_sent = now
                    yield HEARTBEAT
                else:
                    await self._news.wait()
        finally:
            self.listeners -= 1
            if on_end is not None:
                on_end()
