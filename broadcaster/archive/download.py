"""A span of the archive as one Ogg Opus file, streamed as it is read (never built in memory):
the packets as they were encoded, in new pages, so that the file starts at 0 s."""

from __future__ import annotations

from collections.abc import AsyncIterator

from broadcaster.archive.replay import Archive
from broadcaster.core.ogg import OggOpusWriter
from broadcaster.core.opus import packet_samples

PRE_ROLL_FRAMES_MS = 80.0  # decoded and dropped before the span (RFC 7845, 4.6: seeking)


async def ogg_span(archive: Archive, from_id: int, to_id: int) -> AsyncIterator[bytes]:
    """The packets with ids from `from_id` to `to_id` (inclusive) as an Ogg Opus file. A
    change of channel count (the config changed between two runs) starts a chained stream."""
    store = await archive.refresh()
    place = store.locate(from_id)
    if place is None:
        return
    frame_ms = store.segments[place[0]].header.frame_ms
    pre_roll = int(PRE_ROLL_FRAMES_MS // frame_ms)
    seq = max(store.segments[place[0]].first_id, from_id - pre_roll)
    writer: OggOpusWriter | None = None
    channels = 0
    skip = 0
    while seq <= to_id and (chunk := await archive.read(seq, 64)) is not None:
        out = bytearray()
        header = chunk.header
        for packet_id, packet in chunk.packets:
            if packet_id > to_id:
                break
            if writer is None or header.channels != channels:
                if writer is not None:
                    out += writer.finish()
                if writer is None:
                    skip = sum(packet_samples(p) for i, p in chunk.packets if i < from_id)
                writer = OggOpusWriter(header.serial ^ packet_id, header.channels,
                                       header.pre_skip + skip,
                                       comments=("ENCODER=broadcaster",
                                                 f"BROADCASTER_FIRST_ID={packet_id}"))
                channels = header.channels
                out += writer.start()
            out += writer.add(packet)
        seq = chunk.next_id
        if out:
            yield bytes(out)
    if writer is not None:
        yield writer.finish()
