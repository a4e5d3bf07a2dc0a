"""One archive segment's bytes (pure): packets in, Ogg pages and their index records out.

The Ogg file is a standard Ogg Opus file (RFC 7845) from its first page: a segment a
writer leaves at any point is playable up to its last whole page. A page closes after a
second of audio, when the writer flushes (the recorder does after every batch: twice a
second), or when the next packet does not follow on (its id is not the
next one, or it was captured well after: capture stopped and started again), so that every
record's packets have consecutive ids and evenly spaced capture times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from broadcaster.core.archive_index import Record, SegmentHeader
from broadcaster.core.ogg import OggOpusWriter

# A packet captured this many frames later than the one before it starts a new page.
MAX_LATE_FRAMES = 3.0


@dataclass(frozen=True, slots=True)
class Written:
    """Bytes to append: to the Ogg file, and (for a page of packets) to the index."""

    ogg: bytes
    index: bytes = b""
    record: Record | None = None


@dataclass(slots=True)
class _OpenPage:
    first_id: int = -1
    packets: int = 0
    capture_ms: float = 0.0
    last_ms: float = 0.0
    level_dbfs: float = -1e9


@dataclass(slots=True)
class SegmentWriter:
    """Builds one segment: `start()`, then `add()` per packet, then `finish()`."""

    header: SegmentHeader
    comments: tuple[str, ...] = ()
    size: int = 0  # bytes of the Ogg file so far
    samples: int = 0  # 48 kHz samples of audio in it so far
    first_id: int | None = None
    next_id: int | None = None  # the id that would follow on
    _ogg: OggOpusWriter = field(init=False)
    _page: _OpenPage = field(default_factory=_OpenPage)

    def __post_init__(self) -> None:
        header = self.header
        self._ogg = OggOpusWriter(header.serial, header.channels, header.pre_skip,
                                  comments=self.comments)

    def start(self) -> Written:
        """The Ogg headers and the index's header."""
        ogg = self._ogg.start()
        self.size = len(ogg)
        return Written(ogg, self.header.pack())

    def add(self, seq: int, packet: bytes, capture_ms: float, level_dbfs: float) -> list[Written]:
        """Add one packet; what it completed (a page, sometimes none)."""
        out: list[Written] = []
        page = self._page
        frame_ms = self.header.frame_ms
        if page.packets and (seq != self.next_id or not self._ogg.fits(packet)
                             or capture_ms - page.last_ms > MAX_LATE_FRAMES * frame_ms
                             or capture_ms < page.last_ms - frame_ms):
            out.append(self._close_page())
            page = self._page
        before = self._ogg.granule
        self._ogg.push(packet)
        self.samples += self._ogg.granule - before
        if not page.packets:
            page.first_id, page.capture_ms = seq, capture_ms
        page.packets += 1
        page.last_ms = capture_ms
        page.level_dbfs = max(page.level_dbfs, level_dbfs)
        if self.first_id is None:
            self.first_id = seq
        self.next_id = seq + 1
        if self._ogg.page_samples >= 48000:
            out.append(self._close_page())
        return out

    def flush(self) -> list[Written]:
        """Close the page being filled (the writer is going to sleep)."""
        return [self._close_page()] if self._page.packets else []

    def finish(self) -> list[Written]:
        """The rest: the last page, marked as the end of the stream (empty when the page
        being filled is)."""
        if self._page.packets:
            return [self._close_page(last=True)]
        end = self._ogg.finish()
        self.size += len(end)
        return [Written(end)]

    def _close_page(self, last: bool = False) -> Written:
        page = self._page
        data = self._ogg.finish() if last else self._ogg.flush()
        record = Record(page.first_id, self.size, len(data), page.packets, page.capture_ms,
                        page.level_dbfs)
        self.size += len(data)
        self._page = _OpenPage()
        return Written(data, record.pack(), record)
