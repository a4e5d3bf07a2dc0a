"""The archive served: a listener's stream from a past moment, through the same event
stream as live (see docs/protocol.md, "Going back in time").

Two ways back in time, one wire format:
- **resume** (`Last-Event-ID` older than the ring): the frames the listener missed, from
  the archive as fast as its connection takes them, then the ring, then live: it catches up.
- **replay** (`from_ms` or `behind_ms`): the audio from that moment at its own pace, so the
  listener stays the same time behind live, hearing everything in order, until it asks for
  live again. Catching up would mean playing faster or skipping, which a person who went
  back to hear something does not want. Pauses in the capture are not waited through: the
  next audio follows at once, and a replay that comes that close to live joins it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from broadcaster.archive.store import ArchiveStore, Chunk
from broadcaster.core.wire import HEARTBEAT, audio_event, clock_event, gap_event

READ_PAGES = 8  # pages read at a time (up to 8 s of audio; about 4 s as the recorder writes)
LEAD_MS = 300.0  # a replay starts with this much at once: the page can start playing
TICK_S = 0.02  # a replay sends what is due this often
WAIT_FOR_DISK_S = 0.25  # a replay ahead of the disk (the recorder writes twice a second)
MAX_WAIT_FOR_DISK_S = 3.0  # longer: the recorder has stopped writing (paused, dropping)

Live = Callable[[int], AsyncIterator[bytes]]  # a live stream resuming after an id


class Archive:
    """The archive's store, kept fresh, as the app reads it (any process)."""

    def __init__(self, root: Path) -> None:
        self.store = ArchiveStore(root)
        self._refreshed = 0.0

    async def refresh(self) -> ArchiveStore:
        """The store, with what was written up to now (read from disk at most 4 times a
        second, off the event loop)."""
        now = time.monotonic()
        if now - self._refreshed >= 0.25:
            self._refreshed = now
            await asyncio.to_thread(self.store.refresh)
        return self.store

    async def read(self, seq: int, pages: int = READ_PAGES) -> Chunk | None:
        """Pages from id `seq` (see ArchiveStore.read), off the event loop."""
        return await asyncio.to_thread(self.store.read, seq, pages)


def _frames(chunk: Chunk, expected: int) -> Iterator[_Frame]:
    """The chunk's frames, each with the `gap` that goes before it when ids jump."""
    seq = expected
    for (packet_id, packet), capture_ms in zip(chunk.packets, chunk.capture_ms, strict=True):
        gap = _gap(seq, packet_id, chunk.header.epoch) if packet_id != seq else b""
        yield _Frame(packet_id, packet, capture_ms, gap, chunk.header.frame_ms)
        seq = packet_id + 1


class _Frame(NamedTuple):
    seq: int
    packet: bytes
    capture_ms: float
    gap: bytes
    frame_ms: float

    def wire(self, first: bool) -> bytes:
        """Its bytes: the gap, a clock event about once a second (sent now), the audio."""
        clock = b""
        if first or self.seq % max(1, round(1000 / self.frame_ms)) == 0:
            clock = clock_event(self.seq, self.capture_ms, time.time() * 1000.0)
        return self.gap + clock + audio_event(self.seq, self.packet)


def _gap(expected: int, got: int, epoch: int) -> bytes:
    """A hole in the archive: frames of a killed or paused writer (`missing`, counted), or a
    restart (`restart`: the ids of another process, their number unknown)."""
    if got >= epoch > expected:
        return gap_event(None, got, "restart")
    return gap_event(got - expected, got, "missing")


def after_config(hello: bytes) -> bytes:
    """A live stream's first bytes without its `config` event (a replay sent its own)."""
    end = hello.find(b"\n\n")
    return hello[end + 2:] if end >= 0 else hello


async def _join(live: Live, last_id: int) -> AsyncIterator[bytes]:
    """The live stream after `last_id`, without its `config` event."""
    first = True
    async for data in live(last_id):
        yield after_config(data) if first else data
        first = False


async def resume(archive: Archive, hello: bytes, start: int, live: Live) -> AsyncIterator[bytes]:
    """`hello`, the archive's frames from `start` on as fast as they are taken, then live."""
    yield hello
    seq, first = start, True
    while (chunk := await archive.read(seq)) is not None:
        out = bytearray()
        for frame in _frames(chunk, seq):
            out += frame.wire(first)
            first = False
        seq = chunk.next_id
        if out:
            yield bytes(out)
    async for data in _join(live, seq - 1):
        yield data


async def replay(archive: Archive, hello: bytes, start: int, heartbeat_s: float,
                 live: Live, ring_oldest: Callable[[], int]) -> AsyncIterator[bytes]:
    """`hello`, then the archive's frames from `start` at the pace of their audio (LEAD_MS
    at once first), heartbeats while there is nothing to send; live once it reaches frames
    the archive has not written yet but the live ring holds (`ring_oldest()`), or when the
    archive has stopped writing (the live stream then says what was lost)."""
    yield hello
    seq = start
    began = quiet_since = time.monotonic()
    waiting_since: float | None = None
    sent_ms = 0.0
    pending: deque[_Frame] = deque()
    while True:
        now = time.monotonic()
        if not pending:
            chunk = await archive.read(seq)
            if chunk is None:
                await archive.refresh()
                chunk = await archive.read(seq)
            if chunk is None:
                waiting_since = now if waiting_since is None else waiting_since
                if seq >= ring_oldest() or now - waiting_since > MAX_WAIT_FOR_DISK_S:
                    break
            else:
                waiting_since = None
                pending.extend(_frames(chunk, seq))
                seq = chunk.next_id
        due = bytearray()
        while pending and sent_ms - LEAD_MS <= (now - began) * 1000.0:
            frame = pending.popleft()
            due += frame.wire(sent_ms == 0.0)
            sent_ms += frame.frame_ms
        if due:
            yield bytes(due)
            quiet_since = now
        elif now - quiet_since >= heartbeat_s / 2:
            yield HEARTBEAT
            quiet_since = now
        await asyncio.sleep(TICK_S if waiting_since is None else WAIT_FOR_DISK_S)
    async for data in _join(live, seq - 1):
        yield data
